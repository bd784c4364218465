"""Accessibility (BITV/WCAG/Lighthouse) and OZG maturity summaries per Maßnahme (online service)."""

from __future__ import annotations

import pandas as pd

from kpi.db import Database
from kpi.metrics.engine import _SEL_SQL

A11Y_KPIS = ("bitv_score", "bitv_pruefschritte_pct", "wcag_verstoesse", "lighthouse_a11y")

OZG_MODELS = {
    "ozg_reifegrad": ("1.1", 4),
    "ozg_reifegrad_2": ("2.0", 7),
}
OZG_LEVELS_11 = {0: "Offline", 1: "Information", 2: "Formular-Assistent", 3: "Online-Leistung",
                 4: "Online-Transaktion (Once-only)"}

NOTE_AUTOMATIC_DE = "automatischer Test – findet nur einen Teil der Barrieren"

_LATEST_SQL = """
    WITH sel AS (""" + _SEL_SQL + """),
    ranked AS (
        SELECT me.massnahme_id, me.kpi, me.period_start, me.value, me.upload_id,
               row_number() OVER (PARTITION BY me.massnahme_id, me.kpi
                                  ORDER BY me.period_start DESC, me.granularity) AS rn
        FROM measurement me JOIN sel USING (massnahme_id)
        WHERE list_contains($kpis, me.kpi)
    )
    SELECT s.kommune, s.massnahme, r.kpi, c.label AS kpi_label, c.unit, c.polarity,
           max(r.period_start) FILTER (WHERE r.rn = 1) AS period,
           max(r.value) FILTER (WHERE r.rn = 1) AS value,
           max(r.upload_id) FILTER (WHERE r.rn = 1) AS upload_id,
           max(r.period_start) FILTER (WHERE r.rn = 2) AS previous_period,
           max(r.value) FILTER (WHERE r.rn = 2) AS previous_value
    FROM ranked r JOIN sel s USING (massnahme_id) JOIN kpi c ON c.key = r.kpi
    WHERE r.rn <= 2
    GROUP BY ALL
    ORDER BY s.kommune, s.massnahme, r.kpi
"""


def bitv_rating_de(score: float | None) -> str:
    """Return the BIK BITV-Test verdict of the 100-point scale: ≥ 95 sehr gut, ≥ 90 gut zugänglich."""
    if score is None or pd.isna(score):
        return ""
    if score >= 95:
        return "sehr gut zugänglich"
    if score >= 90:
        return "gut zugänglich"
    return "nicht gut zugänglich (unter 90 Punkten)"


def _trend(change, polarity: str) -> str | None:
    if change is None or pd.isna(change):
        return None
    if change == 0:
        return "unverändert"
    better = change > 0 if polarity == "higher" else change < 0
    return "besser" if better else "schlechter"


def accessibility_summary(db: Database, kommune: str | None = None) -> pd.DataFrame:
    """Return per Maßnahme and accessibility KPI the latest and previous value with trend.

    Columns: kommune, massnahme, kpi, kpi_label, unit, period, value, previous_period, previous_value,
    change, trend ('besser'|'schlechter'|'unverändert'|None), rating_de, note_de, upload_id.
    """
    df = db.df(_LATEST_SQL, {"kommune": kommune, "massnahme": None, "kpis": list(A11Y_KPIS)})
    df["change"] = df["value"] - df["previous_value"]
    df["trend"] = [_trend(c, p) for c, p in zip(df["change"], df["polarity"], strict=True)]
    df["rating_de"] = [bitv_rating_de(v) if k == "bitv_score" else "" for k, v in
                       zip(df["kpi"], df["value"], strict=True)]
    df["note_de"] = [NOTE_AUTOMATIC_DE if k == "lighthouse_a11y" else "" for k in df["kpi"]]
    cols = ["kommune", "massnahme", "kpi", "kpi_label", "unit", "period", "value", "previous_period",
            "previous_value", "change", "trend", "rating_de", "note_de", "upload_id"]
    return df[cols]


def ozg_level_de(model: str, level: int) -> str:
    """Return the German name of an OZG maturity level ('3 – Online-Leistung'; model 2.0: 'Stufe 5')."""
    if model == "1.1" and level in OZG_LEVELS_11:
        return f"{level} – {OZG_LEVELS_11[level]}"
    return f"Stufe {level}"


def ozg_distribution(db: Database, kommune: str | None = None) -> pd.DataFrame:
    """Return the latest OZG maturity level per Maßnahme counted per model and level (all levels listed).

    Columns: model ('1.1'|'2.0'), level, level_de, count, ozg_met (model 1.1: level ≥ 3).
    Only models with at least one value appear.
    """
    latest = db.df(_LATEST_SQL, {"kommune": kommune, "massnahme": None, "kpis": list(OZG_MODELS)})
    rows = []
    for kpi, (model, top) in OZG_MODELS.items():
        vals = latest.loc[latest["kpi"] == kpi, "value"].round().astype(int).tolist()
        if not vals:
            continue
        for level in range(top + 1):
            rows.append({"model": model, "level": level, "level_de": ozg_level_de(model, level),
                         "count": vals.count(level), "ozg_met": (level >= 3) if model == "1.1" else None})
    return pd.DataFrame(rows, columns=["model", "level", "level_de", "count", "ozg_met"])
