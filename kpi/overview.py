"""The Überblick's headline tiles and Maßnahmen status table for a Kommune (or all) and a period.

Pure: takes a Database (or the small frames read from it) and returns plain dataclasses.
Cost-benefit figures come from kpi.metrics.engine; the KPI tiles (processing time, paper,
accessibility, online share) are aggregated in one set-based DuckDB query per selection.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from kpi import fmt
from kpi.background import in_background
from kpi.db import Database

# Status words and symbols match kpi.charts.base.STATUS; repeated here to keep kpi/ free of altair.
STATUS_TEXT = {"gruen": ("✔", "im Plan"), "gelb": ("▲", "gefährdet"), "rot": ("✖", "nicht im Plan"),
               None: ("–", "ohne Bewertung")}

BITV_GOOD = 90.0  # BIK BITV-Test: ≥ 90 "gut zugänglich"
BITV_AMBER = 80.0
ONLINE_GREEN = 0.5
ONLINE_AMBER = 0.25
TIME_GREEN = -0.10  # processing time at least 10 % below the baseline
TIME_AMBER = 0.0


@dataclass(frozen=True)
class Tile:
    """One headline figure: value, change vs. the previous year, sparkline, status with its rule."""

    key: str
    label: str
    value: float | None
    value_text: str
    delta: float | None = None
    delta_text: str | None = None
    delta_good: str = "normal"  # st.metric delta_color: normal (up is good) | inverse | off
    delta_desc: str = "ggü. Vorjahr"  # what the delta compares
    sparkline: list[float] = field(default_factory=list)
    status: str | None = None  # gruen | gelb | rot | None
    rule_de: str = ""
    note_de: str = ""  # the baseline/comparison in words (shown below the tile)

    @property
    def status_text(self) -> str:
        """'✔ im Plan' — status never by colour alone."""
        symbol, word = STATUS_TEXT[self.status]
        return f"{symbol} {word}"


def _months_back(d: date, n: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - n, 12)
    return date(y, m + 1, 1)


def _selection(kommunen: tuple[str, ...] | list[str] | None) -> dict:
    names = list(kommunen or [])
    return {"all_k": not names, "kommunen": names or [""]}


# One row per month: the sums every KPI tile needs, for Maßnahmen of the selected Kommunen.
# Baselines per Maßnahme: the (case-weighted) mean of the up to 12 months before go-live.
_KPI_MONTHLY_SQL = """
WITH sel AS (
    SELECT m.massnahme_id, m.golive_date
    FROM massnahme m JOIN kommune k USING (kommune_id)
    WHERE $all_k OR list_contains($kommunen, k.name)
), wide AS (
    SELECT me.massnahme_id, me.period_start AS month,
           max(me.value) FILTER (WHERE me.kpi = 'fallzahl') AS cases,
           max(me.value) FILTER (WHERE me.kpi = 'bearbeitungszeit_min') AS minutes,
           max(me.value) FILTER (WHERE me.kpi = 'online_faelle') AS online,
           max(me.value) FILTER (WHERE me.kpi = 'papier_kosten_eur') AS paper,
           max(me.value) FILTER (WHERE me.kpi = 'bitv_score') AS bitv
    FROM measurement me JOIN sel USING (massnahme_id)
    WHERE me.kpi IN ('fallzahl', 'bearbeitungszeit_min', 'online_faelle', 'papier_kosten_eur', 'bitv_score')
    GROUP BY ALL
), base AS (
    SELECT w.massnahme_id,
           sum(w.minutes * w.cases) / nullif(sum(w.cases) FILTER (WHERE w.minutes IS NOT NULL), 0)
               AS base_minutes,
           avg(w.paper) AS base_paper
    FROM wide w JOIN sel s USING (massnahme_id)
    WHERE s.golive_date IS NOT NULL AND w.month < s.golive_date
      AND w.month >= s.golive_date - INTERVAL 12 MONTH
    GROUP BY ALL
), joined AS (
    SELECT w.*, b.base_minutes, b.base_paper,
           s.golive_date IS NOT NULL AND w.month >= s.golive_date AS live
    FROM wide w JOIN sel s USING (massnahme_id) LEFT JOIN base b USING (massnahme_id)
)
SELECT month,
       sum(minutes * cases) FILTER (WHERE live AND base_minutes IS NOT NULL) AS minutes_x_cases,
       sum(base_minutes * cases) FILTER (WHERE live AND base_minutes IS NOT NULL AND minutes IS NOT NULL)
           AS base_minutes_x_cases,
       sum(cases) FILTER (WHERE live AND base_minutes IS NOT NULL AND minutes IS NOT NULL) AS minute_cases,
       sum(online) AS online_cases,
       sum(cases) FILTER (WHERE online IS NOT NULL) AS cases_with_online,
       sum(base_paper - paper) FILTER (WHERE live AND base_paper IS NOT NULL AND paper IS NOT NULL)
           AS paper_saved_eur,
       avg(bitv) AS bitv_mean,
       count(bitv) AS bitv_n
FROM joined
GROUP BY month
ORDER BY month
"""


def kpi_monthly(db: Database, kommunen: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Monthly sums behind the KPI tiles for the selected Kommunen (all when empty); one row per month."""
    df = db.df(_KPI_MONTHLY_SQL, _selection(kommunen))
    df["month"] = pd.to_datetime(df["month"]).dt.date
    df["month_idx"] = [month_index(d) for d in df["month"]]
    return df


def bitv_history(db: Database, kommunen: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every BITV-Test score of the selection's Maßnahmen: massnahme_id, month, value (small: quarterly)."""
    df = db.df(
        "SELECT me.massnahme_id, me.period_start AS month, me.value "
        "FROM measurement me JOIN kommune k USING (kommune_id) "
        "WHERE me.kpi = 'bitv_score' AND me.massnahme_id IS NOT NULL "
        "AND ($all_k OR list_contains($kommunen, k.name)) ORDER BY me.massnahme_id, me.period_start",
        _selection(kommunen))
    m = pd.to_datetime(df["month"])
    df["month_idx"] = (m.dt.year * 12 + m.dt.month - 1).astype("int64")  # vectorised: ~40k rows at 1M
    return df


def _latest_mean(history: pd.DataFrame, as_of: date) -> tuple[float | None, int]:
    rows = history[history["month_idx"] <= month_index(as_of)]
    if rows.empty:
        return None, 0
    latest = rows.groupby("massnahme_id")["value"].last()
    return float(latest.mean()), len(latest)


def _window(df: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    return df[(df["month_idx"] >= month_index(first)) & (df["month_idx"] <= month_index(last))]


def _upto(df: pd.DataFrame, last: date) -> pd.DataFrame:
    return df[df["month_idx"] <= month_index(last)]


def _ratio(a: float, b: float) -> float | None:
    return None if b is None or b == 0 or pd.isna(b) or pd.isna(a) else float(a) / float(b)


def processing_time_tile(monthly: pd.DataFrame, as_of: date) -> Tile:
    """Ø processing minutes per case in the 12 months to as_of vs. the Maßnahmen's baselines (same cases)."""
    cur = _window(monthly, _months_back(as_of, 11), as_of)
    prev = _window(monthly, _months_back(as_of, 23), _months_back(as_of, 12))
    now = _ratio(cur["minutes_x_cases"].sum(), cur["minute_cases"].sum())
    base = _ratio(cur["base_minutes_x_cases"].sum(), cur["minute_cases"].sum())
    before = _ratio(prev["minutes_x_cases"].sum(), prev["minute_cases"].sum())
    rule = ("grün: mindestens 10 % unter dem Ausgangswert; gelb: unter dem Ausgangswert, aber weniger "
            "als 10 %; rot: nicht darunter. Ausgangswert: Ø der bis zu 12 Monate vor der Inbetriebnahme, "
            "gewichtet mit denselben Fallzahlen.")
    spark_rows = _upto(monthly, as_of).tail(24)
    spark = [round(float(a) / float(b), 1) for a, b in zip(spark_rows["minutes_x_cases"],
                                                         spark_rows["minute_cases"], strict=True)
             if not pd.isna(a) and not pd.isna(b) and b]
    if now is None or base is None:
        return Tile("bearbeitungszeit", "Ø Bearbeitungszeit je Fall", None, "–", rule_de=rule,
                    note_de="Keine Bearbeitungszeiten nach einer Inbetriebnahme mit Ausgangswert.")
    change = now / base - 1
    status = "gruen" if change <= TIME_GREEN else "gelb" if change < TIME_AMBER else "rot"
    delta = None if before is None else now - before
    return Tile(
        "bearbeitungszeit", "Ø Bearbeitungszeit je Fall", now, f"{fmt.number_de(now, 1)} Min.",
        delta=delta,
        delta_text=None if delta is None else f"{_signed(delta, 1)} Min.",
        delta_good="inverse", sparkline=spark, status=status, rule_de=rule,
        note_de=f"Ausgangswert {fmt.number_de(base, 1)} Min. ({_signed_pct(change)})",
    )


def paper_tile(monthly: pd.DataFrame, as_of: date, since: date | None) -> Tile:
    """Paper, print and postage costs saved (Ausgangswert − Ist, from go-live) from `since` to as_of."""
    rows = _upto(monthly, as_of)
    if since is not None:
        rows = rows[rows["month_idx"] >= month_index(since)]
    saved = rows["paper_saved_eur"].fillna(0)
    total = float(saved.sum())
    m = rows["month_idx"]
    year_ago = float(saved[m <= month_index(as_of) - 12].sum())
    last12 = total - year_ago
    prev12 = float(saved[(m <= month_index(as_of) - 12) & (m > month_index(as_of) - 24)].sum())
    rule = ("grün: in den letzten 12 Monaten mindestens so viel gespart wie in den 12 Monaten davor; "
            "gelb: weniger, aber mehr als null; rot: keine Einsparung. Einsparung je Monat: "
            "Ausgangswert (Ø der 12 Monate vor Inbetriebnahme) minus Ist.")
    has_data = rows["paper_saved_eur"].notna().any()
    if not has_data:
        return Tile("papier", "Eingesparte Papierkosten", None, "–", rule_de=rule,
                    note_de="Keine Papierkosten vor und nach einer Inbetriebnahme erfasst.")
    status = "gruen" if last12 >= prev12 and last12 > 0 else "gelb" if last12 > 0 else "rot"
    spark = list(saved.cumsum().tail(24).round(0).astype(float))
    return Tile(
        "papier", "Eingesparte Papierkosten", total, fmt.eur_short_de(total),
        delta=last12, delta_text=_signed_eur(last12), delta_desc="in den letzten 12 Monaten", sparkline=spark,
        status=status, rule_de=rule,
        note_de=f"Papier, Druck, Porto und Archiv; davor 12 Monate: {fmt.eur_short_de(prev12)}",
    )


def online_tile(monthly: pd.DataFrame, as_of: date) -> Tile:
    """Share of cases received online in the 12 months to as_of; delta in percentage points."""
    cur = _window(monthly, _months_back(as_of, 11), as_of)
    prev = _window(monthly, _months_back(as_of, 23), _months_back(as_of, 12))
    now = _ratio(cur["online_cases"].sum(), cur["cases_with_online"].sum())
    before = _ratio(prev["online_cases"].sum(), prev["cases_with_online"].sum())
    rule = (f"grün: ab {fmt.pct_de(ONLINE_GREEN, 0)} der Fälle online; gelb: ab "
            f"{fmt.pct_de(ONLINE_AMBER, 0)}; rot: darunter (Richtwerte).")
    rows = _upto(monthly, as_of).tail(24)
    spark = [round(float(a) / float(b) * 100, 1) for a, b in zip(rows["online_cases"], rows["cases_with_online"],
                                                                 strict=True)
             if not pd.isna(a) and not pd.isna(b) and b]
    if now is None:
        return Tile("online", "Online-Quote", None, "–", rule_de=rule, note_de="Keine Online-Fallzahlen erfasst.")
    status = "gruen" if now >= ONLINE_GREEN else "gelb" if now >= ONLINE_AMBER else "rot"
    delta = None if before is None else (now - before) * 100
    return Tile("online", "Online-Quote", now, fmt.pct_de(now, 0),
                delta=delta, delta_text=None if delta is None else f"{_signed(delta, 1)} Prozentpunkte",
                sparkline=spark, status=status, rule_de=rule,
                note_de="Anteil online eingegangener Fälle, letzte 12 Monate")


def bitv_tile(history: pd.DataFrame, monthly: pd.DataFrame, as_of: date) -> Tile:
    """Mean of each online service's latest BITV-Test score up to as_of; delta vs. one year earlier."""
    now, n = _latest_mean(history, as_of)
    before, _ = _latest_mean(history, _months_back(as_of, 12))
    rule = (f"grün: ab {fmt.number_de(BITV_GOOD)} Punkten („gut zugänglich“ nach BIK BITV-Test); gelb: ab "
            f"{fmt.number_de(BITV_AMBER)}; rot: darunter.")
    spark_rows = _upto(monthly[monthly["bitv_n"] > 0], as_of).tail(12)
    spark = [round(float(v), 1) for v in spark_rows["bitv_mean"]]
    if now is None:
        return Tile("bitv", "BITV-Ergebnis", None, "–", rule_de=rule, note_de="Noch kein BITV-Test erfasst.")
    now = float(now)
    status = "gruen" if now >= BITV_GOOD else "gelb" if now >= BITV_AMBER else "rot"
    delta = None if before is None else now - float(before)
    return Tile("bitv", "BITV-Ergebnis", now, f"{fmt.number_de(now, 1)} Punkte",
                delta=delta, delta_text=None if delta is None else f"{_signed(delta, 1)} Punkte",
                sparkline=spark, status=status, rule_de=rule,
                note_de=f"Ø des jeweils letzten Tests von {n} Online-Diensten (0–100 Punkte)")


def _signed(x: float, decimals: int = 0) -> str:
    return ("+" if x > 0 else "") + fmt.number_de(x, decimals)


def _signed_eur(x: float) -> str:
    return ("+" if x > 0 else "") + fmt.eur_short_de(x)


def _signed_pct(fraction: float) -> str:
    return ("+" if fraction > 0 else "") + fmt.pct_de(fraction, 0)




# ---------------------------------------------------------------------------------------------
# cost-benefit tiles, main chart series and the Maßnahmen table (figures from kpi.metrics.engine)

_MEMO: dict[tuple, object] = {}
_MEMO_MAX = 64
_MEMO_LOCK = threading.Lock()
_FLIGHTS: dict[tuple, _Flight] = {}  # key -> the computation under way (single flight)
_MISSING = object()


class _Flight:
    """One computation under way; callers asking for the same key wait for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: object = _MISSING
        self.error: BaseException | None = None

    def result(self):
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


def _key(db: Database, name: str, arg) -> tuple:
    return (id(db), db.path, db.data_version(), name, arg)


def _memo(db: Database, name: str, arg, compute):
    """Process-wide memo keyed by database, data version, name and argument; thread-safe, single flight.

    The Überblick recomputes tiles for every period choice; these period-independent parts must
    not be paid for again (and st.cache_data would unpickle large results on every hit). A caller
    asking while another thread (a page, or the warm-up) computes the same key waits for that
    result instead of computing it a second time. A result whose data changed while it was being
    computed is handed to the callers that asked for it but not kept; storing a result of new data
    drops those of older data.
    """
    key = _key(db, name, arg)
    with _MEMO_LOCK:
        if key in _MEMO:
            return _MEMO[key]
        flight = _FLIGHTS.get(key)
        owner = flight is None
        if owner:
            flight = _FLIGHTS[key] = _Flight()
    if not owner:
        return flight.result()
    try:
        value = compute()
    except BaseException as exc:
        flight.error = exc
        raise
    else:
        flight.value = value
        with _MEMO_LOCK:
            if db.data_version() == key[2]:
                for old in [k for k in _MEMO if k[:2] == key[:2] and k[2] != key[2]]:
                    del _MEMO[old]  # results of older data no page asks for again (~15 MB each at 1M)
                if len(_MEMO) >= _MEMO_MAX:
                    _MEMO.pop(next(iter(_MEMO)))
                _MEMO[key] = value
        return value
    finally:
        with _MEMO_LOCK:
            _FLIGHTS.pop(key, None)
        flight.done.set()


def memoised(db: Database, name: str, arg, compute):
    """Memoise compute() per database and data version under (name, arg) (see _memo); for other kpi
    modules whose results derive from the engine results."""
    return _memo(db, name, arg, compute)


def _memoised(db: Database, name: str, arg):
    """The memoised value (waiting for it while it is being computed), or _MISSING."""
    key = _key(db, name, arg)
    with _MEMO_LOCK:
        if key in _MEMO:
            return _MEMO[key]
        flight = _FLIGHTS.get(key)
    if flight is None:
        return _MISSING
    try:
        return flight.result()
    except Exception:  # the other caller's failure is reported to it; compute afresh
        return _MISSING


def engine_results(db: Database, kommune: str | None = None) -> list:
    """engine.compute_all(db, kommune), memoised; a Kommune's results are taken from the
    all-Kommunen results when those exist already or are being computed (the warm-up computes
    them), so switching Kommune is then free."""
    from kpi.metrics import engine

    if kommune is not None:
        everything = _memoised(db, "results", None)
        if everything is not _MISSING:
            return _memo(db, "results", kommune, lambda: [r for r in everything if r.kommune == kommune])
    return _memo(db, "results", kommune, lambda: engine.compute_all(db, kommune=kommune))


def warm_up(db: Database) -> None:
    """Compute what the dashboards' first render needs (all Kommunen, all months) into the memo.

    Run in a background thread at start and after each data change (views/_ops.py), so the first
    visitor does not pay for the cost-benefit engine.
    """
    results = cockpit_parts(db, None)[0]  # also for Kosten & Nutzen, Vergleich, Daten & Export, Maßnahme
    if results:
        # what the engine leaves to first use, for all results at once: the IRRs and the uploads
        # behind the explanations (the Maßnahme page shows both)
        _ = results[0].irr, results[0].explanations


def find_result(db: Database, kommune: str, massnahme: str):
    """One Maßnahme's engine result, from the memoised results (computed for its Kommune if needed)."""
    from kpi.metrics import engine

    for r in engine_results(db, kommune):
        if r.massnahme == massnahme:
            return r
    raise engine.MetricsError(f"Die Maßnahme „{massnahme}“ der Kommune „{kommune}“ gibt es nicht.")


def month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def index_month(i: int) -> date:
    return date(int(i) // 12, int(i) % 12 + 1, 1)


def combined_monthly(results: list, as_of: date | None = None) -> pd.DataFrame:
    """Monthly costs and benefits summed over Maßnahmen up to as_of (benefits only where computable,
    as in engine.aggregate); columns month_idx, month, costs_eur, benefits_eur, benefits_budget_eur."""
    from kpi.metrics.engine import month_span, monthly_sum

    cols = ["month_idx", "month", "costs_eur", "benefits_eur", "benefits_budget_eur"]
    span = month_span(results)
    if span is None:
        return pd.DataFrame(columns=cols)
    lo, n = span[0], span[1] - span[0] + 1
    costs = monthly_sum(results, "costs", lo, n)
    benefits = monthly_sum([r for r in results if r.benefits_eur is not None], "benefits", lo, n)
    budget = monthly_sum([r for r in results if r.benefits_budget_eur is not None], "benefits_budget", lo, n)
    if as_of is not None:
        n = max(0, min(n, month_index(as_of) - lo + 1))
    months = np.arange(lo, lo + n)
    return pd.DataFrame({"month_idx": months, "month": [index_month(i) for i in months],
                         "costs_eur": costs[:n], "benefits_eur": benefits[:n], "benefits_budget_eur": budget[:n]},
                        columns=cols)


@dataclass(frozen=True)
class CostBenefit:
    """Cumulative cost-benefit picture of a selection up to as_of."""

    months: pd.DataFrame  # month, cum_costs_eur, cum_benefits_eur, cum_net_eur, cum_net_discounted_eur
    payback_month: date | None  # dynamic (discounted), engine convention
    break_even: date | None  # undiscounted: where the two cumulative lines cross (chart marker)
    npv_eur: float | None
    discount_rate: float


def cost_benefit(combined: pd.DataFrame, as_of: date | None, rate: float) -> CostBenefit:
    """Cumulate a combined monthly cash flow (see combined_monthly) up to as_of with engine.cashflow."""
    from kpi.metrics import engine

    df = combined if as_of is None else combined[combined["month_idx"] <= month_index(as_of)]
    if df.empty:
        return CostBenefit(pd.DataFrame(columns=["month", "cum_costs_eur", "cum_benefits_eur", "cum_net_eur",
                                                 "cum_net_discounted_eur"]), None, None, None, rate)
    idx = df["month_idx"].to_numpy()
    cf = engine.cashflow(idx, df["costs_eur"].to_numpy(), df["benefits_eur"].to_numpy(), rate)
    plain = engine.cashflow(idx, df["costs_eur"].to_numpy(), df["benefits_eur"].to_numpy(), 0.0)
    months = pd.DataFrame({
        "month": df["month"],
        "cum_costs_eur": df["costs_eur"].cumsum(),
        "cum_benefits_eur": df["benefits_eur"].cumsum(),
        "cum_net_eur": cf.cum_net,
        "cum_net_discounted_eur": cf.cum_net_discounted,
    })
    return CostBenefit(months, cf.payback_month, plain.payback_month, cf.npv, rate)


def net_benefit_tile(cb: CostBenefit, as_of: date) -> Tile:
    """Cumulative net benefit (benefits − costs, undiscounted) up to as_of; delta = growth in 12 months."""
    rule = ("grün: Nutzen hat die Kosten bereits gedeckt (≥ 0 €); gelb: noch negativ, aber in den letzten "
            "12 Monaten gestiegen; rot: noch negativ und nicht gestiegen.")
    m = cb.months
    if m.empty:
        return Tile("netto", "Nettonutzen bisher", None, "–", rule_de=rule,
                    note_de="Noch keine Kosten oder Nutzen erfasst.")
    now = float(m["cum_net_eur"].iloc[-1])
    earlier = m[m["month"] <= _months_back(as_of, 12)]
    before = float(earlier["cum_net_eur"].iloc[-1]) if len(earlier) else 0.0
    delta = now - before
    status = "gruen" if now >= 0 else "gelb" if delta > 0 else "rot"
    spark = [round(float(v)) for v in m["cum_net_eur"].tail(24)]
    last = m.iloc[-1]
    return Tile("netto", "Nettonutzen bisher", now, fmt.eur_short_de(now), delta=delta,
                delta_text=_signed_eur(delta), delta_desc="in den letzten 12 Monaten", sparkline=spark, status=status, rule_de=rule,
                note_de=f"Nutzen {fmt.eur_short_de(last['cum_benefits_eur'])} − Kosten "
                        f"{fmt.eur_short_de(last['cum_costs_eur'])}, nicht abgezinst")


def payback_tile(cb: CostBenefit, as_of: date) -> Tile:
    """Dynamic payback month (cumulative discounted net ≥ 0 and staying so) up to as_of."""
    rate_text = fmt.pct_de(cb.discount_rate, 1)
    rule = ("grün: amortisiert (abgezinster kumulierter Nettonutzen ≥ 0 und seitdem nicht mehr darunter); "
            "gelb: noch nicht, aber in den letzten 12 Monaten Überschuss; rot: noch nicht und kein Überschuss. "
            f"Kalkulationszinssatz {rate_text}.")
    m = cb.months
    if m.empty:
        return Tile("amortisation", "Amortisation", None, "–", rule_de=rule, note_de="Keine Kosten erfasst.")
    spark = [round(float(v)) for v in m["cum_net_discounted_eur"].tail(24)]
    if cb.payback_month is not None:
        return Tile("amortisation", "Amortisation", float(month_index(cb.payback_month)),
                    fmt.month_de(cb.payback_month), sparkline=spark, status="gruen", rule_de=rule,
                    note_de=f"amortisiert (abgezinst mit {rate_text})")
    disc = m["cum_net_discounted_eur"].to_numpy()
    gap = -float(disc[-1])
    last12 = float(disc[-1] - (disc[-13] if len(disc) > 12 else 0.0))
    if last12 > 0:
        months_left = math.ceil(gap / (last12 / 12))
        return Tile("amortisation", "Amortisation", None, "noch nicht", sparkline=spark, status="gelb",
                    rule_de=rule,
                    note_de=f"Es fehlen {fmt.eur_short_de(gap)}; beim Tempo der letzten 12 Monate "
                            f"in etwa {fmt.number_de(months_left)} Monaten (Schätzung)")
    return Tile("amortisation", "Amortisation", None, "noch nicht", sparkline=spark, status="rot", rule_de=rule,
                note_de=f"Es fehlen {fmt.eur_short_de(gap)}; zuletzt kein Überschuss")


def payback_month_of(month_idx: np.ndarray, costs: np.ndarray, benefits: np.ndarray, rate: float) -> date | None:
    """engine.cashflow's dynamic payback month without its other figures (used per Maßnahme when a
    period cuts the series: 1000 Maßnahmen must stay fast); tests check both agree."""
    c = np.nan_to_num(np.asarray(costs, dtype=float))
    b = np.nan_to_num(np.asarray(benefits, dtype=float))
    active = (c != 0) | (b != 0)
    if not active.any():
        return None
    years = np.asarray(month_idx) // 12
    t = (years - years[active].min()).astype(float)
    cum = np.cumsum((b - c) * (1.0 + rate) ** -t)
    if cum[-1] < -1e-9:
        return None
    negative = np.nonzero(cum < -1e-9)[0]
    idx = int(negative[-1]) + 1 if len(negative) else int(np.nonzero(active)[0][0])
    return index_month(int(month_idx[idx]))


def massnahmen_table(results: list, as_of: date | None) -> pd.DataFrame:
    """One row per Maßnahme: costs, benefits and net up to as_of, NPV (all data), payback up to as_of, status.

    Numbers stay numeric (the page formats them with column_config); status is symbol + word.
    """
    rows = []
    limit = month_index(as_of) if as_of is not None else None
    for r in results:
        s = r.series
        mi = s.get("month_idx")
        costs = benefits = 0.0
        payback = None
        net_last12 = None
        if mi is not None and len(mi):
            keep = mi <= limit if limit is not None else np.ones(len(mi), dtype=bool)
            c = s["costs"][keep]
            b = s["benefits"][keep] if r.benefits_eur is not None else np.zeros(int(keep.sum()))
            costs, benefits = float(np.nansum(c)), float(np.nansum(b))
            if keep.all():
                payback = r.payback_month  # nothing cut off: the engine's own figure
            elif keep.any():
                payback = payback_month_of(mi[keep], c, b, r.discount_rate)
                net_last12 = float(np.nansum(b[-12:]) - np.nansum(c[-12:]))
        computable = r.benefits_eur is not None
        net = benefits - costs if computable else None
        if not computable:
            status = None
        elif payback is not None:
            status = "gruen"
        elif net_last12 is not None and net_last12 > 0:
            status = "gelb"
        else:
            status = "rot"
        symbol, word = STATUS_TEXT[status]
        rows.append({
            "Kommune": r.kommune,
            "Maßnahme": r.massnahme,
            "Handlungsfeld": r.handlungsfeld,
            "Inbetriebnahme": fmt.month_de(r.golive) if r.golive else "–",
            "Kosten bisher": costs,
            "Nutzen bisher": benefits if computable else None,
            "Nettonutzen bisher": net,
            "Kapitalwert": r.npv_eur,
            "Amortisation": (f"{fmt.month_de(payback)}" if payback else
                             "nicht berechenbar" if not computable else "noch nicht"),
            "Status": f"{symbol} {word}",
            "Hinweis": "; ".join(r.not_computable),
        })
    # what the council asks first (status, payback, net) comes first; details to the right
    return pd.DataFrame(rows, columns=["Maßnahme", "Kommune", "Status", "Amortisation", "Nettonutzen bisher",
                                       "Kosten bisher", "Nutzen bisher", "Kapitalwert", "Inbetriebnahme",
                                       "Handlungsfeld", "Hinweis"])


# ---------------------------------------------------------------------------------------------
# everything the Überblick shows, in one call


@dataclass(frozen=True)
class Cockpit:
    """The Überblick of a selection: tiles, cumulative series (display window), Maßnahmen table."""

    scope: str
    as_of: date | None
    discount_rate: float
    tiles: list[Tile]
    cost_benefit: CostBenefit
    chart_months: pd.DataFrame  # cum columns from period_from on (cumulated from the very beginning)
    massnahmen: pd.DataFrame
    massnahmen_text: pd.DataFrame | None = None  # the same, money as German text (display_table)


def last_data_month(db: Database, kommunen: tuple[str, ...] | None) -> date | None:
    """Newest month with any value for the selection."""
    row = db.query(
        "SELECT max(me.period_start) FROM measurement me JOIN kommune k USING (kommune_id) "
        "WHERE $all_k OR list_contains($kommunen, k.name)", _selection(kommunen))
    return row[0][0] if row and row[0][0] is not None else None


def scope_de(kommune: str | None) -> str:
    return kommune if kommune else "alle Kommunen"


def cockpit_parts(db: Database, kommune: str | None) -> tuple[list, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The period-independent parts of the Überblick (memoised): engine results, combined monthly
    cash flow, KPI tile sums per month, BITV history."""
    kommunen = (kommune,) if kommune else None

    def tile_sums():
        return (_memo(db, "kpi_monthly", kommune, lambda: kpi_monthly(db, kommunen)),
                _memo(db, "bitv", kommune, lambda: bitv_history(db, kommunen)))

    # the engine is mostly Python, the tile sums mostly DuckDB (which releases the GIL): while the
    # engine runs, DuckDB computes the tile sums on the other core
    side = in_background(tile_sums) if _memoised(db, "results", kommune) is _MISSING else tile_sums
    results = engine_results(db, kommune)
    combined = _memo(db, "combined", kommune, lambda: combined_monthly(results))
    monthly, history = side()
    return results, combined, monthly, history


def cockpit(db: Database, kommune: str | None = None, period_from: date | None = None,
            period_to: date | None = None) -> Cockpit:
    """Compute the Überblick for one Kommune (None: all) with figures as of period_to (default: newest data).

    Cumulative figures always start at the first month with data (investments count even if the
    period starts later); period_from only sets where the chart and the paper sum begin.
    """
    last = last_data_month(db, (kommune,) if kommune else None)
    as_of = min(period_to, last) if (period_to and last) else last
    results, combined, monthly, history = cockpit_parts(db, kommune)
    rate = results[0].discount_rate if results else _discount_rate(db)
    if as_of is None:
        empty = cost_benefit(combined_monthly([]), None, rate)
        table = massnahmen_table([], None)
        return Cockpit(scope_de(kommune), None, rate, [], empty, empty.months, table, display_table(table))
    cb = cost_benefit(combined, as_of, rate)
    tiles = [
        net_benefit_tile(cb, as_of),
        payback_tile(cb, as_of),
        processing_time_tile(monthly, as_of),
        paper_tile(monthly, as_of, period_from),
        bitv_tile(history, monthly, as_of),
        online_tile(monthly, as_of),
    ]
    chart = cb.months
    if period_from is not None and not chart.empty:
        chart = chart[chart["month"] >= period_from].reset_index(drop=True)
    table = massnahmen_table(results, as_of)
    return Cockpit(scope_de(kommune), as_of, rate, tiles, cb, chart, table, display_table(table))


def _discount_rate(db: Database) -> float:
    from kpi.metrics import parameters

    v = parameters.current_parameters(db).get("discount_rate")
    return v.value if v else float("nan")


MONEY_COLUMNS = ("Kosten bisher", "Nutzen bisher", "Nettonutzen bisher", "Kapitalwert")


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The Maßnahmen table with money as German text ('1.234 €', '–' where not computable).

    German formats must not depend on the viewer's browser locale, so the Überblick shows text;
    the export page offers the numbers.
    """
    out = table.copy()
    for col in MONEY_COLUMNS:
        out[col] = [fmt.eur_de(v) for v in table[col]]
    return out


# ---------------------------------------------------------------------------------------------
# drill-down helpers (Maßnahme → KPI → raw values)


def value_de(value, unit: str = "") -> str:
    """Format an explanation input by its unit: '1.234,56 €', '3,0 %', '12,5 Minuten', text as is."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, date):
        return fmt.month_de(value)
    if unit == "€":
        return fmt.eur_de(value, 2)
    if unit == "Anteil":
        return fmt.pct_de(value, 2)
    if isinstance(value, int):
        return fmt.number_de(value) + (f" {unit}" if unit else "")
    return fmt.number_de(value, 2) + (f" {unit}" if unit else "")


def explanation_rows(explanation) -> pd.DataFrame:
    """An engine Explanation's inputs as a German table (Eingangsgröße, Wert, Herkunft)."""
    return pd.DataFrame(
        [{"Eingangsgröße": label, "Wert": value_de(value, unit), "Herkunft": source or "–"}
         for label, value, unit, source in explanation.inputs],
        columns=["Eingangsgröße", "Wert", "Herkunft"],
    )


def success_display(success: pd.DataFrame) -> pd.DataFrame:
    """kpi_success rows of one Maßnahme as a German table; status as symbol + words."""
    rows = []
    for r in success.itertuples(index=False):
        unit = "" if r.unit in ("Anzahl",) else r.unit
        rows.append({
            "Kennzahl": r.kpi_label,
            "Ausgangswert": value_de(r.baseline, unit),
            "Aktuell": value_de(r.current, unit),
            "Veränderung": "–" if r.change_pct is None or pd.isna(r.change_pct) else _signed_pct(r.change_pct),
            "Ziel": "–" if r.target is None or pd.isna(r.target) else
                    f"{value_de(r.target, unit)} bis {fmt.date_de(r.target_date)}",
            "Fortschritt": "–" if r.progress is None or pd.isna(r.progress) else fmt.pct_de(r.progress, 0),
            "Status": r.status_text_de,
            "kpi": r.kpi,
        })
    return pd.DataFrame(rows, columns=["Kennzahl", "Ausgangswert", "Aktuell", "Veränderung", "Ziel", "Fortschritt",
                                       "Status", "kpi"])


def raw_measurements(db: Database, kommune: str, massnahme: str, kpi: str) -> pd.DataFrame:
    """The stored values of one KPI of one Maßnahme with the upload each came from (newest first)."""
    df = db.df(
        """
        SELECT v.period, v.granularity, v.value, v.unit, v.upload_id, u.file_name, u.uploaded_by,
               u.uploaded_at, v.note
        FROM v_measurement v JOIN upload u USING (upload_id)
        WHERE v.kommune = $k AND v.massnahme = $m AND v.kpi = $kpi
        ORDER BY v.period DESC
        """, {"k": kommune, "m": massnahme, "kpi": kpi})
    return pd.DataFrame({
        "Zeitraum": [fmt.period_de(pd.Timestamp(p).date(), g) for p, g in zip(df["period"], df["granularity"],
                                                                               strict=True)],
        "Wert": [fmt.number_de(v, 2) + ("" if u in ("Anzahl",) else f" {u}") for v, u in zip(df["value"], df["unit"],
                                                                                            strict=True)],
        "Upload": [f"Nr. {int(i)}" for i in df["upload_id"]],
        "Datei": df["file_name"],
        "Hochgeladen von": df["uploaded_by"],
        "Hochgeladen am": [fmt.datetime_de(pd.Timestamp(t).to_pydatetime()) for t in df["uploaded_at"]],
        "Notiz": df["note"].fillna(""),
    })


def break_even_of(result) -> date | None:
    """The month from which a Maßnahme's cumulative (undiscounted) benefits cover its costs, or None."""
    s = result.series
    mi = s.get("month_idx")
    if mi is None or not len(mi) or result.benefits_eur is None:
        return None
    return payback_month_of(mi, s["costs"], s["benefits"], 0.0)


# ---------------------------------------------------------------------------------------------
# Kosten & Nutzen (WiBe view)


MAX_BARS = 30


@dataclass(frozen=True)
class Wibe:
    """Cost-benefit of a selection: the aggregate, one row per Maßnahme, and the NPV bars' data."""

    scope: str
    total: object  # engine.AggregateResult (None without Maßnahmen)
    table: pd.DataFrame
    npv: pd.DataFrame  # massnahme (a Maßnahme's or a Kommune's name), npv_eur
    discount_rate: float
    npv_note: str = ""  # what the bars show when there are too many Maßnahmen for one chart


def wibe(db: Database, kommune: str | None = None) -> Wibe:
    """The WiBe view for one Kommune (None: all): totals, per-Maßnahme figures as German text, NPV data.

    Memoised (the page's table and its NPV chart both read it); shared: read it, do not change it."""
    return _memo(db, "wibe", kommune, lambda: _wibe(db, kommune))


def _wibe(db: Database, kommune: str | None) -> Wibe:
    from kpi.metrics import engine

    results = engine_results(db, kommune)
    rate = results[0].discount_rate if results else _discount_rate(db)
    total = engine.aggregate(results, "overall")[0] if results else None
    rows = []
    for r in results:
        rows.append({
            "Kommune": r.kommune, "Maßnahme": r.massnahme,
            "Kosten": fmt.eur_de(r.costs_eur), "Nutzen gesamt": fmt.eur_de(r.benefits_eur),
            "davon haushaltswirksam": fmt.eur_de(r.benefits_budget_eur),
            "Nettonutzen": fmt.eur_de(r.net_benefit_eur),
            "ROI": fmt.pct_de(r.roi, 0),
            f"Kapitalwert ({fmt.pct_de(r.discount_rate, 1)})": fmt.eur_de(r.npv_eur),
            "Kapitalwert haushaltswirksam": fmt.eur_de(r.npv_budget_eur),
            "Nutzen-Kosten-Verhältnis": fmt.number_de(r.bcr, 2),
            "Amortisation": r.payback_text_de,
            "Statische Amortisation": "–" if r.static_payback_years is None
            else f"{fmt.number_de(r.static_payback_years, 1)} Jahre",
        })
    multi_kommune = len({r.kommune for r in results}) > 1
    note = ""
    if len(results) <= MAX_BARS:
        npv = pd.DataFrame({
            "massnahme": [f"{r.massnahme} ({r.kommune})" if multi_kommune else r.massnahme for r in results],
            "npv_eur": [r.npv_eur for r in results]}, columns=["massnahme", "npv_eur"])
    else:  # too many bars to read: one per Kommune, the largest |NPV| first
        per = engine.aggregate(results, "kommune")
        npv = pd.DataFrame({"massnahme": [a.kommune for a in per], "npv_eur": [a.npv_eur for a in per]})
        npv = npv.reindex(npv["npv_eur"].abs().sort_values(ascending=False).index).head(MAX_BARS)
        note = (f"{len(results)} Maßnahmen sind zu viele für ein Diagramm: gezeigt wird der Kapitalwert je Kommune"
                + (f" (die {MAX_BARS} mit dem größten Betrag)." if len(per) > MAX_BARS else "."))
    return Wibe(scope_de(kommune), total, pd.DataFrame(rows), npv, rate, note)


def plan_actual_frame(result) -> pd.DataFrame:
    """Yearly planned vs. actual net benefit of a Maßnahme (years with a plan; actual None if no data yet)."""
    rows = [{"year": int(r["year"]), "plan_eur": r["plan_net_eur"], "actual_eur": r["actual_net_eur"]}
            for r in result.plan_vs_actual if r.get("year") is not None]
    return pd.DataFrame(rows, columns=["year", "plan_eur", "actual_eur"])


def plan_actual_table(result) -> pd.DataFrame:
    """Plan vs. actual per year and in total, as German text with the deviation."""
    rows = []
    for r in result.plan_vs_actual:
        rows.append({
            "Jahr": str(r["year"]) if r.get("year") is not None else "gesamt",
            "Plan Nettonutzen": fmt.eur_de(r.get("plan_net_eur")),
            "Ist Nettonutzen": fmt.eur_de(r.get("actual_net_eur")),
            "Abweichung": fmt.eur_de(r.get("dev_net_eur")),
            "Abweichung %": fmt.pct_de(r.get("dev_net_pct"), 0),
            "Hinweis": r.get("note_de") or "",
        })
    return pd.DataFrame(rows, columns=["Jahr", "Plan Nettonutzen", "Ist Nettonutzen", "Abweichung", "Abweichung %",
                                       "Hinweis"])


@dataclass(frozen=True)
class Drill:
    """Everything the Maßnahme page shows, computed once per data version."""

    result: object  # engine.MassnahmeResult
    chart: dict | None  # cumulative costs vs. benefits (Vega-Lite dict)
    chart_summary: str
    chart_table: pd.DataFrame
    success: pd.DataFrame  # success_display rows (with the kpi key column)


def drilldown(db: Database, kommune: str, massnahme: str) -> Drill:
    """The drill-down of one Maßnahme: engine result, cumulative chart, KPI success table."""
    from kpi.charts import costbenefit
    from kpi.metrics import engine, success

    kpis = in_background(lambda: success.kpi_success(db, kommune, massnahme))  # DuckDB, beside the engine
    result = find_result(db, kommune, massnahme)
    series = engine.series_frame([result])
    chart, summary, table = None, "", pd.DataFrame()
    if not series.empty:
        be = break_even_of(result)
        chart = costbenefit.cumulative_chart(series, be)
        summary = costbenefit.cumulative_summary_de(series, be, massnahme)
        table = costbenefit.cumulative_table(series)
    return Drill(result, chart, summary, table, success_display(kpis()))
