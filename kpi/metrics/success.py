"""Quantitative success per Maßnahme and KPI: change vs. baseline, progress to target, status with its rule.

* current value: the last 3 months with data, aggregated by the KPI's type (sums and means: mean;
  Ø Bearbeitungs-/Durchlaufzeit: mean weighted by Fallzahl; Stichtagswerte: the last value);
* baseline: engine.baselines (12 months before go-live, else explicit);
* progress = (current − start) / (target − start), clamped to 0…1; start = the target's start
  value, else the baseline, else the first value measured;
* status: see RULE_TARGET_DE and RULE_NO_TARGET_DE — always with a text and a symbol, never colour alone.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd

from kpi.db import Database
from kpi.metrics.engine import _EXPANDED_SQL, _SEL_SQL, baselines

CURRENT_MONTHS = 3
BEHIND_TOLERANCE = 0.20  # progress may lag the elapsed time by 20 points before it turns red
NO_TARGET_TOLERANCE = 0.05  # ±5 % around the baseline counts as unchanged

RULE_TARGET_DE = (
    "Mit Zielwert: grün = Ziel erreicht oder Fortschritt mindestens so groß wie der verstrichene Anteil "
    "der Zeit bis zum Zieldatum („im Plan“); gelb = bis zu 20 Prozentpunkte dahinter; rot = mehr als "
    "20 Prozentpunkte dahinter."
)
RULE_NO_TARGET_DE = (
    "Ohne Zielwert: Vergleich mit dem Ausgangswert unter Beachtung der Richtung der Kennzahl; grün = um "
    "mehr als 5 % verbessert, gelb = innerhalb von ±5 %, rot = um mehr als 5 % verschlechtert."
)
STATUS_SYMBOL = {"gruen": "✓", "gelb": "!", "rot": "✗"}

_CURRENT_SQL = """
    WITH sel AS (""" + _SEL_SQL + """),
    expanded AS MATERIALIZED (""" + _EXPANDED_SQL + """),
    numbered AS (
        SELECT e.massnahme_id, e.kpi, e.month, e.value,
               row_number() OVER (PARTITION BY e.massnahme_id, e.kpi ORDER BY e.month DESC) AS rn_desc,
               row_number() OVER (PARTITION BY e.massnahme_id, e.kpi ORDER BY e.month) AS rn_asc,
               min(e.month) OVER (PARTITION BY e.massnahme_id, e.kpi) AS first_month_all
        FROM expanded e
    ),
    -- only the rows needed (last n months, first value) get their Fallzahl weight
    ranked AS (
        SELECT r.*, c.aggregation, w.value AS weight
        FROM numbered r
        JOIN kpi c ON c.key = r.kpi
        LEFT JOIN expanded w ON w.massnahme_id = r.massnahme_id AND w.month = r.month AND w.kpi = 'fallzahl'
        WHERE r.rn_desc <= $n OR r.rn_asc = 1
    )
    SELECT massnahme_id, kpi,
           CASE any_value(aggregation)
               WHEN 'last' THEN max(value) FILTER (WHERE rn_desc = 1)
               WHEN 'wmean_fallzahl' THEN coalesce(
                   sum(value * weight) FILTER (WHERE rn_desc <= $n)
                       / nullif(sum(weight) FILTER (WHERE rn_desc <= $n), 0),
                   avg(value) FILTER (WHERE rn_desc <= $n))
               ELSE avg(value) FILTER (WHERE rn_desc <= $n) END AS current,
           max(month) AS current_month,
           max(value) FILTER (WHERE rn_asc = 1) AS first_value,
           min(first_month_all) AS first_month
    FROM ranked GROUP BY massnahme_id, kpi
"""

_TARGET_SQL = """
    WITH sel AS (""" + _SEL_SQL + """)
    SELECT t.massnahme_id, t.kpi, t.target_value, t.target_date, t.start_value
    FROM target t JOIN sel USING (massnahme_id)
    ORDER BY t.massnahme_id, t.kpi, t.target_date
"""


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT


def _d(x) -> date | None:
    if _nan(x):
        return None
    return x.date() if isinstance(x, pd.Timestamp) else x


def progress(current: float, start: float, target: float) -> float | None:
    """Return (current − start) / (target − start) clamped to 0…1; None when target equals start."""
    if target == start:
        return None
    return min(1.0, max(0.0, (current - start) / (target - start)))


def expected_progress(start_month: date, target_date: date, as_of: date) -> float:
    """Return the share of the time from start to target date that has passed on `as_of` (0…1)."""
    total = (target_date - start_month).days
    if total <= 0:
        return 1.0
    return min(1.0, max(0.0, (as_of - start_month).days / total))


def status_with_target(prog: float, expected: float) -> tuple[str, str]:
    """Return (status, German text) from progress and expected progress (RULE_TARGET_DE)."""
    if prog >= 1.0:
        return "gruen", "✓ Ziel erreicht"
    if prog >= expected - 1e-12:
        return "gruen", "✓ im Plan"
    if prog >= expected - BEHIND_TOLERANCE:
        return "gelb", "! leicht hinter Plan"
    return "rot", "✗ deutlich hinter Plan"


def status_without_target(change_abs: float, baseline: float, polarity: str) -> tuple[str | None, str]:
    """Return (status, German text) from the change vs. baseline and the KPI's polarity (RULE_NO_TARGET_DE)."""
    if polarity not in ("higher", "lower"):
        return None, "keine Wertung (Kennzahl ohne Richtung)"
    better = change_abs if polarity == "higher" else -change_abs
    rel = better / abs(baseline) if baseline != 0 else (math.copysign(math.inf, better) if better else 0.0)
    if rel > NO_TARGET_TOLERANCE:
        return "gruen", "✓ verbessert"
    if rel < -NO_TARGET_TOLERANCE:
        return "rot", "✗ verschlechtert"
    return "gelb", "! etwa unverändert"


def kpi_success(db: Database, kommune: str | None = None, massnahme: str | None = None) -> pd.DataFrame:
    """Return one row per (kommune, massnahme, kpi) with data: baseline, current, change, target, progress, status.

    Cost KPIs (family 'kosten') are left out: the cost-benefit figures judge them.

    Columns: kommune, massnahme, kpi, kpi_label, unit, polarity, baseline, baseline_source, current,
    current_month, change_abs, change_pct, target, target_date, start, progress, expected_progress,
    status ('gruen'|'gelb'|'rot'|None), status_text_de, rule_de.
    """
    bind = {"kommune": kommune, "massnahme": massnahme}
    # costs and documented savings are judged by the cost-benefit figures, not here
    kpis = {r[0]: r for r in db.query("SELECT key, label, unit, polarity FROM kpi WHERE family <> 'kosten'")}
    sel = {int(r["massnahme_id"]): r for r in db.df(_SEL_SQL, bind).to_dict("records")}
    cur = db.df(_CURRENT_SQL, {**bind, "kpis": list(kpis), "n": CURRENT_MONTHS})
    base = baselines(db, kommune, massnahme)
    base_by = {(int(r.massnahme_id), r.kpi): r for r in base.itertuples()}
    tgts = db.df(_TARGET_SQL, bind)
    tgt_by: dict[tuple[int, str], list] = {}
    for t in tgts.itertuples():
        tgt_by.setdefault((int(t.massnahme_id), t.kpi), []).append(t)

    rows = []
    for c in cur.itertuples():
        mid = int(c.massnahme_id)
        m = sel[mid]
        _, k_label, k_unit, k_polarity = kpis[c.kpi]
        b = base_by.get((mid, c.kpi))
        baseline = None if b is None or _nan(b.value) else float(b.value)
        if b is None or baseline is None:
            b_src = "kein Ausgangswert (keine Werte in den 12 Monaten vor dem Go-live, kein ausdrücklicher Wert)"
        elif b.method == "vorher":
            b_src = (f"Ø der {int(b.months)} Monate vor dem Go-live "
                     f"({_d(b.first_month):%m/%Y}–{_d(b.last_month):%m/%Y})")
        else:
            b_src = "ausdrücklich angegeben" + (f" ({b.source})" if isinstance(b.source, str) else "")
        current = None if _nan(c.current) else float(c.current)
        cur_month = _d(c.current_month)
        change_abs = change_pct = None
        if baseline is not None and current is not None:
            change_abs = current - baseline
            change_pct = change_abs / abs(baseline) if baseline != 0 else None
        # the target to judge: the first one not yet due at the last data month, else the latest one
        target = tdate = start = prog = exp = None
        tl = tgt_by.get((mid, c.kpi), [])
        if tl:
            due = [t for t in tl if _d(t.target_date) >= cur_month] if cur_month else []
            t = due[0] if due else tl[-1]
            target, tdate = float(t.target_value), _d(t.target_date)
            start = (float(t.start_value) if not _nan(t.start_value) else
                     baseline if baseline is not None else
                     None if _nan(c.first_value) else float(c.first_value))
        status, text, rule = None, "keine Bewertung möglich (kein Ausgangswert und kein Zielwert)", ""
        if target is not None and current is not None and start is not None:
            prog = progress(current, start, target)
            rule = RULE_TARGET_DE
            if prog is None:
                reached = (current >= target) if k_polarity != "lower" else (current <= target)
                status, text = ("gruen", "✓ Ziel erreicht") if reached else ("rot", "✗ Ziel nicht erreicht")
            else:
                golive = _d(m["golive_m"])
                start_month = golive or _d(c.first_month)
                exp = expected_progress(start_month, tdate, cur_month)
                status, text = status_with_target(prog, exp)
                if prog < 1.0 and cur_month is not None and cur_month > tdate:
                    text = {"gelb": "! Zieldatum überschritten, Ziel knapp verfehlt",
                            "rot": "✗ Zieldatum überschritten, Ziel verfehlt"}.get(status, text)
        elif change_abs is not None:
            rule = RULE_NO_TARGET_DE
            status, text = status_without_target(change_abs, baseline, k_polarity)
        rows.append({
            "kommune": m["kommune"], "massnahme": m["massnahme"], "kpi": c.kpi, "kpi_label": k_label,
            "unit": k_unit, "polarity": k_polarity, "baseline": baseline, "baseline_source": b_src,
            "current": current, "current_month": cur_month, "change_abs": change_abs,
            "change_pct": change_pct, "target": target, "target_date": tdate, "start": start,
            "progress": prog, "expected_progress": exp, "status": status, "status_text_de": text,
            "rule_de": rule,
        })
    cols = ["kommune", "massnahme", "kpi", "kpi_label", "unit", "polarity", "baseline", "baseline_source",
            "current", "current_month", "change_abs", "change_pct", "target", "target_date", "start",
            "progress", "expected_progress", "status", "status_text_de", "rule_de"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["kommune", "massnahme", "kpi"], kind="stable").reset_index(drop=True)
