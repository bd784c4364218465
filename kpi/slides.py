"""Sitzungsmodus: slides for the council, one question each, frozen to a data snapshot.

`take_snapshot` computes everything the slides show at the moment the meeting starts and
returns immutable values only (strings, tuples, a chart spec as JSON text). An upload during
the meeting therefore cannot change a figure on screen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from kpi import fmt, overview
from kpi.charts import costbenefit
from kpi.db import Database, latest_upload_time

SLIDE_FONT = 18
SLIDE_HEIGHT = 380


@dataclass(frozen=True)
class Figure:
    """One big number on a slide."""

    label: str
    value: str
    note: str = ""
    status: str | None = None  # gruen | gelb | rot | None
    status_text: str = ""


@dataclass(frozen=True)
class Slide:
    """One question with its answer: big figures, optional chart (Vega-Lite JSON), summary, small table."""

    question: str
    figures: tuple[Figure, ...]
    summary: str
    chart_json: str | None = None
    table: tuple[tuple[str, ...], ...] = ()  # first row = header

    def chart_spec(self) -> dict | None:
        """A fresh dict of the frozen chart spec (callers may not alter the snapshot)."""
        return None if self.chart_json is None else json.loads(self.chart_json)


@dataclass(frozen=True)
class Snapshot:
    """Everything a meeting shows, computed once."""

    scope: str
    stand: str  # "Stand: 31.03.2026"
    taken_at: datetime
    data_version: int
    slides: tuple[Slide, ...]


def _figure(t: overview.Tile) -> Figure:
    note = t.note_de
    if t.delta_text:
        note = f"{t.delta_text} {t.delta_desc}" + (f" · {note}" if note else "")
    return Figure(t.label, t.value_text, note, t.status, t.status_text)


def _spec_json(chart) -> str:
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    return json.dumps(spec, sort_keys=True, default=str)


def _trend_frame(monthly: pd.DataFrame, num: str, den: str | None, as_of: date, months: int,
                 scale: float = 1.0) -> pd.DataFrame:
    rows = monthly[monthly["month_idx"] <= overview.month_index(as_of)].tail(months)
    values = rows[num] if den is None else rows[num] / rows[den].where(rows[den] > 0)
    return pd.DataFrame({"month": pd.to_datetime(rows["month"]), "value": values * scale}).dropna()


def take_snapshot(db: Database, kommune: str | None = None, now: datetime | None = None) -> Snapshot:
    """Compute all slides for one Kommune (None: all) from the current data."""
    from kpi.metrics import success

    c = overview.cockpit(db, kommune)
    ts = latest_upload_time(db)
    stand = f"Stand: {fmt.date_de(ts)}" if ts else "Stand: noch keine Daten"
    tiles = {t.key: t for t in c.tiles}
    slides: list[Slide] = []
    if c.as_of is None:
        return Snapshot(c.scope, stand, now or datetime.now(), db.data_version(), ())

    # 1 — costs and benefits
    m = c.cost_benefit.months
    last = m.iloc[-1]
    cb_figures = (
        Figure("Kosten bisher", fmt.eur_short_de(last["cum_costs_eur"])),
        Figure("Nutzen bisher", fmt.eur_short_de(last["cum_benefits_eur"])),
        _figure(tiles["netto"]),
        _figure(tiles["amortisation"]),
    )
    chart = costbenefit.cumulative_chart(m, c.cost_benefit.break_even, height=SLIDE_HEIGHT, font_size=SLIDE_FONT)
    slides.append(Slide("Was hat die Digitalisierung gekostet und gebracht?", cb_figures,
                        costbenefit.cumulative_summary_de(m, c.cost_benefit.break_even, c.scope),
                        _spec_json(chart)))

    # 2 — targets
    s = success.kpi_success(db, kommune)
    judged = s[s["status"].notna()]
    with_target = judged[judged["target"].notna()]
    counts = with_target["status"].value_counts()
    n = len(with_target)
    target_figures = (
        Figure("Ziele im Plan", f"{int(counts.get('gruen', 0))} von {n}", status="gruen", status_text="✔ im Plan"),
        Figure("Ziele gefährdet", f"{int(counts.get('gelb', 0))} von {n}", status="gelb", status_text="▲ gefährdet"),
        Figure("Ziele nicht im Plan", f"{int(counts.get('rot', 0))} von {n}", status="rot",
               status_text="✖ nicht im Plan"),
    )
    order = {"rot": 0, "gelb": 1, "gruen": 2}
    worst = with_target.assign(_o=with_target["status"].map(order)).sort_values(["_o", "progress"]).head(8)
    table = (("Maßnahme", "Kennzahl", "Ziel", "Fortschritt", "Status"),) + tuple(
        (r.massnahme if kommune else f"{r.massnahme} ({r.kommune})", r.kpi_label,
         f"{overview.value_de(r.target, '' if r.unit == 'Anzahl' else r.unit)} bis {fmt.date_de(r.target_date)}",
         "–" if pd.isna(r.progress) else fmt.pct_de(r.progress, 0), r.status_text_de)
        for r in worst.itertuples(index=False))
    slides.append(Slide(
        "Wo stehen wir bei den Zielen?", target_figures,
        f"Von {n} Zielen sind {int(counts.get('gruen', 0))} im Plan, {int(counts.get('gelb', 0))} gefährdet und "
        f"{int(counts.get('rot', 0))} nicht im Plan; die Tabelle zeigt die kritischsten zuerst.",
        None, table if n else ()))

    # 3 — processing times
    monthly = overview.kpi_monthly(db, (kommune,) if kommune else None)
    t = tiles["bearbeitungszeit"]
    trend = _trend_frame(monthly, "minutes_x_cases", "minute_cases", c.as_of, 24)
    chart_json = None
    if not trend.empty:
        chart_json = _spec_json(costbenefit.trend_line(trend, "Minuten je Fall", font_size=SLIDE_FONT,
                                                       height=SLIDE_HEIGHT))
    slides.append(Slide("Wie schnell werden Anträge bearbeitet?", (_figure(t), _figure(tiles["online"])),
                        f"Ø Bearbeitungszeit in den letzten 12 Monaten: {t.value_text}"
                        + (f" ({t.note_de})." if t.value is not None else "."), chart_json))

    # 4 — accessibility
    b = tiles["bitv"]
    trend = _trend_frame(monthly[monthly["bitv_n"] > 0], "bitv_mean", None, c.as_of, 12)
    chart_json = None
    if not trend.empty:
        chart_json = _spec_json(costbenefit.trend_line(trend, "BITV-Punkte (Ø)", font_size=SLIDE_FONT,
                                                       height=SLIDE_HEIGHT, rule_at=overview.BITV_GOOD,
                                                       rule_label="90 = gut zugänglich"))
    slides.append(Slide("Wie barrierefrei sind unsere Online-Dienste?", (_figure(b),),
                        f"BITV-Test: {b.value_text} im Durchschnitt ({b.status_text}). Automatische Prüfwerkzeuge "
                        "finden nur einen Teil der Barrieren.", chart_json))

    # 5 — paper
    p = tiles["papier"]
    slides.append(Slide("Wie viel Papier und Porto sparen wir?", (_figure(p),),
                        f"Eingesparte Papier-, Druck- und Portokosten seit der Einführung: {p.value_text}."))
    return Snapshot(c.scope, stand, now or datetime.now(), db.data_version(), tuple(slides))
