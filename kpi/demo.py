"""Demo and benchmark data: fictional Kommunen with Maßnahmen whose go-live shows a visible before/after.

Everything is drawn from a seeded generator, so the same call always yields the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from kpi import store
from kpi.db import Database


@dataclass(frozen=True)
class DemoMassnahme:
    kommune: str
    name: str
    handlungsfeld: str
    start: date
    golive: date
    laufbahn: str
    cases_per_month: float  # typical monthly case count
    minutes_before: float  # processing minutes per case before go-live
    minutes_after: float  # ... after the ramp-up
    pages_per_case: float  # printed/sent pages per case before go-live
    investment_eur: float  # one-off, spread over the months from start to go-live
    running_eur_month: float  # licences and operation after go-live
    online_share_after: float  # share of online cases after ramp-up
    other_savings_eur_month: float = 0.0


DEMO_KOMMUNEN: tuple[tuple[str, str | None, int], ...] = (
    ("Musterstadt", "09999001", 85_400),
    ("Neustadt am Beispiel", "09999002", 61_200),
    ("Musterhausen", "09999003", 12_480),
    ("Beispielingen", "09999004", 8_150),
)

DEMO_MASSNAHMEN: tuple[DemoMassnahme, ...] = (
    DemoMassnahme("Musterstadt", "E-Akte Bauamt", "Verwaltung", date(2022, 9, 1), date(2023, 7, 1),
                  "gehoben", 420, 95, 62, 14, 180_000, 2_400, 0.55),
    DemoMassnahme("Musterstadt", "Online-Antrag Wohngeld", "Verwaltung", date(2022, 6, 1), date(2023, 1, 1),
                  "mittel", 610, 70, 48, 9, 65_000, 1_100, 0.72),
    DemoMassnahme("Musterstadt", "Digitaler Bauantrag", "Verwaltung", date(2023, 6, 1), date(2024, 4, 1),
                  "gehoben", 95, 240, 205, 60, 240_000, 3_900, 0.64),
    DemoMassnahme("Neustadt am Beispiel", "Online-Anmeldung Kita", "Bildung", date(2022, 11, 1),
                  date(2023, 9, 1), "mittel", 160, 45, 25, 6, 38_000, 650, 0.85),
    DemoMassnahme("Neustadt am Beispiel", "E-Rechnung", "Verwaltung", date(2022, 5, 1), date(2023, 3, 1),
                  "mittel", 2_100, 12, 6, 3, 95_000, 1_500, 0.9, 600.0),
    DemoMassnahme("Musterhausen", "Digitale Ratsarbeit", "Bürgerbeteiligung", date(2022, 10, 1),
                  date(2023, 5, 1), "gehoben", 40, 60, 35, 180, 22_000, 480, 0.95),
    DemoMassnahme("Musterhausen", "Online-Antrag Wohngeld", "Verwaltung", date(2023, 7, 1), date(2024, 1, 1),
                  "mittel", 85, 70, 52, 9, 18_000, 300, 0.58),
    DemoMassnahme("Beispielingen", "Online-Gewerbeanmeldung", "Wirtschaft/Tourismus", date(2023, 10, 1),
                  date(2024, 6, 1), "mittel", 30, 40, 30, 5, 26_000, 420, 0.5),
)

DEMO_FIRST = date(2022, 1, 1)
DEMO_LAST = date(2026, 9, 1)


def _months(first: date, last: date) -> pd.DatetimeIndex:
    return pd.date_range(first, last, freq="MS")


def _series_rows(m: DemoMassnahme, months: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    """Monthly KPI values of one Maßnahme as long rows (kpi, period_start, value)."""
    n = len(months)
    golive = pd.Timestamp(m.golive)
    start = pd.Timestamp(m.start)
    after = np.asarray(months >= golive)
    # months since go-live (0 in the go-live month), ramp-up over 9 months
    since = np.array([(t.year - golive.year) * 12 + t.month - golive.month for t in months])
    ramp = np.clip((since + 1) / 9.0, 0, 1) * after
    season = 1 + 0.12 * np.sin(2 * np.pi * (months.month.to_numpy() - 3) / 12)
    cases = np.round(m.cases_per_month * season * rng.normal(1, 0.06, n)).clip(1)
    minutes = (m.minutes_before + (m.minutes_after - m.minutes_before) * ramp) * rng.normal(1, 0.03, n)
    online = np.round(cases * m.online_share_after * ramp * rng.normal(1, 0.05, n)).clip(0, cases)
    pages = np.round(cases * m.pages_per_case * (1 - 0.8 * ramp) * rng.normal(1, 0.05, n)).clip(0)
    paper_cost = np.round(pages * 0.95 * rng.normal(1, 0.02, n), 2)
    lead_days = (21 - 9 * ramp) * rng.normal(1, 0.05, n)

    project = np.asarray((months >= start) & (months < golive))
    n_project = max(int(project.sum()), 1)
    invest = np.where(project, m.investment_eur / n_project, 0.0)
    invest = np.round(invest * rng.normal(1, 0.1, n).clip(0.5), 2)
    personal = np.round(np.where(project, m.investment_eur * 0.25 / n_project, 0.0), 2)
    running = np.round(np.where(after, m.running_eur_month * rng.normal(1, 0.03, n), 0.0), 2)
    other = np.round(np.where(after, m.other_savings_eur_month * ramp, 0.0), 2)

    frames = {
        "fallzahl": cases,
        "online_faelle": online,
        "bearbeitungszeit_min": np.round(minutes, 1),
        "durchlaufzeit_tage": np.round(lead_days, 1),
        "papier_seiten": pages,
        "papier_kosten_eur": paper_cost,
    }
    rows = [pd.DataFrame({"kpi": k, "period_start": months, "value": v}) for k, v in frames.items()]
    money = {
        "kosten_investition_eur": invest,
        "kosten_personal_eur": personal,
        "kosten_betrieb_eur": running,
        "einsparung_sonstige_eur": other,
    }
    for k, v in money.items():
        mask = v > 0
        rows.append(pd.DataFrame({"kpi": k, "period_start": months[mask], "value": v[mask]}))
    # satisfaction and accessibility exist only once the online service is live
    live = months[after]
    if len(live):
        sat = np.round(np.clip(3.4 + 0.9 * ramp[after] + rng.normal(0, 0.12, len(live)), 1, 5), 2)
        rows.append(pd.DataFrame({"kpi": "zufriedenheit", "period_start": live, "value": sat}))
        quarterly = live[live.month.isin([3, 6, 9, 12])]
        q = np.arange(len(quarterly))
        bitv = np.clip(78 + 3.2 * q + rng.normal(0, 1.5, len(q)), 0, 100).round(1)
        rows.append(pd.DataFrame({"kpi": "bitv_score", "period_start": quarterly, "value": bitv}))
        rows.append(pd.DataFrame({"kpi": "bitv_pruefschritte_pct", "period_start": quarterly,
                                  "value": np.clip(bitv - 4 + rng.normal(0, 1, len(q)), 0, 100).round(1)}))
        rows.append(pd.DataFrame({"kpi": "wcag_verstoesse", "period_start": quarterly,
                                  "value": np.clip(np.round(24 - 2.5 * q + rng.normal(0, 1, len(q))), 0, None)}))
        rows.append(pd.DataFrame({"kpi": "lighthouse_a11y", "period_start": quarterly,
                                  "value": np.clip(np.round(84 + 2 * q + rng.normal(0, 1, len(q))), 0, 100)}))
        level = np.minimum(2 + (q >= 2) + (q >= 6), 4)
        rows.append(pd.DataFrame({"kpi": "ozg_reifegrad", "period_start": quarterly, "value": level.astype(float)}))
    out = pd.concat(rows, ignore_index=True)
    out["kommune"] = m.kommune
    out["massnahme"] = m.name
    out["granularity"] = "month"
    out["note"] = None
    out["period_start"] = pd.to_datetime(out["period_start"]).dt.date
    return out


def demo_payload(
    massnahmen: tuple[DemoMassnahme, ...] = DEMO_MASSNAHMEN,
    kommunen: tuple[tuple[str, str | None, int], ...] = DEMO_KOMMUNEN,
    first: date = DEMO_FIRST,
    last: date = DEMO_LAST,
    seed: int = 42,
) -> store.Payload:
    """Build the whole demo workbook content (master data, values, targets, plans, scores)."""
    rng = np.random.default_rng(seed)
    months = _months(first, last)
    values = pd.concat([_series_rows(m, months, rng) for m in massnahmen], ignore_index=True)
    kommunen_df = pd.DataFrame(kommunen, columns=["name", "ags", "einwohner"])
    massnahmen_df = pd.DataFrame(
        {
            "kommune": [m.kommune for m in massnahmen],
            "name": [m.name for m in massnahmen],
            "handlungsfeld": [m.handlungsfeld for m in massnahmen],
            "start_date": [m.start for m in massnahmen],
            "golive_date": [m.golive for m in massnahmen],
            "laufbahn": [m.laufbahn for m in massnahmen],
            "planned_npv_eur": [None] * len(massnahmen),
        }
    )
    targets = []
    plans = []
    for m in massnahmen:
        target_year = m.golive.year + 2
        targets += [
            (m.kommune, m.name, "bearbeitungszeit_min", round(m.minutes_after * 0.95, 1),
             date(target_year, 12, 31), m.minutes_before),
            (m.kommune, m.name, "bitv_score", 95.0, date(target_year, 12, 31), None),
            (m.kommune, m.name, "zufriedenheit", 4.3, date(target_year, 12, 31), None),
        ]
        for year in range(m.start.year, m.golive.year + 5):
            invest = m.investment_eur * 1.25 if year == m.start.year else 0.0
            running = m.running_eur_month * 12 if year >= m.golive.year else 0.0
            saving = (
                m.cases_per_month * 12 * (m.minutes_before - m.minutes_after) / 60 * 45
                + m.cases_per_month * 12 * m.pages_per_case * 0.8 * 0.95
                if year > m.golive.year else 0.0
            )
            plans.append((m.kommune, m.name, year, round(invest + running, 2), round(saving, 2)))
    criteria = ["Bürgerfreundlichkeit", "Barrierefreiheit", "Mitarbeiterzufriedenheit",
                "Datenschutz/IT-Sicherheit", "Strategische Bedeutung", "Externe Effekte"]
    scores = [
        (m.kommune, m.name, c, float(rng.integers(3, 10)))
        for m in massnahmen for c in criteria
    ]
    return store.Payload(
        measurements=values,
        kommunen=kommunen_df,
        massnahmen=massnahmen_df,
        targets=pd.DataFrame(targets, columns=["kommune", "massnahme", "kpi", "target_value",
                                               "target_date", "start_value"]),
        plans=pd.DataFrame(plans, columns=["kommune", "massnahme", "year", "costs_eur", "benefits_eur"]),
        scores=pd.DataFrame(scores, columns=["kommune", "massnahme", "criterion", "score"]),
    )


def load_demo(db: Database, user: str = "demo") -> store.LoadCounts:
    """Load the demo data into `db` as one upload."""
    return store.apply_payload(db, demo_payload(), file_name="Demodaten (fiktiv)", user=user, kind="demo")


def synthetic_massnahmen(n_kommunen: int, per_kommune: int, first_year: int, seed: int = 7):
    """Return generated Kommunen and Maßnahmen for benchmarks (names 'Kommune 001', …)."""
    rng = np.random.default_rng(seed)
    kommunen = []
    massnahmen = []
    years = 10
    for k in range(n_kommunen):
        name = f"Kommune {k + 1:03d}"
        kommunen.append((name, None, int(rng.integers(2_000, 400_000))))
        for j in range(per_kommune):
            start_m = int(rng.integers(0, 36))
            start = date(first_year + start_m // 12, start_m % 12 + 1, 1)
            g = start_m + int(rng.integers(4, 18))
            golive = date(first_year + g // 12, g % 12 + 1, 1)
            before = float(rng.uniform(20, 200))
            massnahmen.append(DemoMassnahme(
                name, f"Maßnahme {j + 1:02d}", "Verwaltung", start, golive,
                ["einfach", "mittel", "gehoben", "hoeher"][int(rng.integers(0, 4))],
                float(rng.uniform(20, 1500)), before, before * float(rng.uniform(0.4, 0.95)),
                float(rng.uniform(1, 30)), float(rng.uniform(10_000, 300_000)),
                float(rng.uniform(100, 4000)), float(rng.uniform(0.3, 0.9)),
            ))
    _ = years
    return tuple(kommunen), tuple(massnahmen)


def load_synthetic(db: Database, n_kommunen: int, per_kommune: int, years: int = 10,
                   first_year: int = 2016, seed: int = 7) -> store.LoadCounts:
    """Load generated data of the given size (for benchmarks) as one upload."""
    kommunen, massnahmen = synthetic_massnahmen(n_kommunen, per_kommune, first_year, seed)
    payload = demo_payload(massnahmen, kommunen, date(first_year, 1, 1),
                           date(first_year + years - 1, 12, 1), seed)
    return store.apply_payload(db, payload, file_name=f"Synthetisch {n_kommunen}x{per_kommune}x{years}",
                               user="bench", kind="demo")
