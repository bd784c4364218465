"""KPI over time: lines per series with go-live marks, target rule and baseline band.

Builders take data (DataFrames) and return Vega-Lite dicts with `base.german`'s config (see spec.py);
`summary_sentence` and `series_table` give the chart's text alternative (BITV 2.0).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from kpi import fmt
from kpi.charts import spec
from kpi.charts.base import BENEFIT_COLOR, MUTED, TARGET_COLOR
from kpi.queries import MONTHS_PER_BUCKET, Baseline

# d3 formats per unit for axes and tooltips (German locale in the spec: 1.234,5)
_AXIS_FORMAT = {"€": "$,.0f", "%": ",.0f", "1–5": ",.1f", "Stufe": ",.0f", "Anteil": ".0%"}
_TOOLTIP_FORMAT = {"€": "$,.2f", "%": ",.1f", "1–5": ",.2f", "Stufe": ",.1f", "Minuten": ",.1f",
                   "Tage": ",.1f", "Punkte": ",.1f", "Anteil": ".1%"}
_DECIMALS = {"€": 0, "%": 1, "1–5": 1, "Stufe": 1, "Minuten": 0, "Tage": 1, "Punkte": 0, "Anteil": 1}
_X_AXIS = {
    "month": {"format": "%b %Y", "tickCount": {"interval": "month", "step": 6}},
    "quarter": {"format": "%b %Y", "tickCount": {"interval": "month", "step": 6}},
    "year": {"format": "%Y", "tickCount": {"interval": "year", "step": 1}},
}
# Bounded scales show their whole range, so a move from 4,1 to 4,3 of 5 is not blown up.
_Y_SCALE = {"1–5": {"domain": [1, 5]}, "Punkte": {"domain": [0, 100]}, "%": {"domain": [0, 100]}}
SPLIT_TITLE = {"total": "Reihe", "kommune": "Kommune", "massnahme": "Maßnahme"}


_DATIVE = {"Tage": "Tagen", "Punkte": "Punkten"}


def format_value(value: float | None, unit: str, decimals: int | None = None, dative: bool = False) -> str:
    """A value with its unit in German: '62 Minuten', '1.234 €', '55,0 %', '4,3 von 5'; '–' if missing.

    dative=True inflects the unit after 'von' ('von 21 Tagen').
    """
    if value is None or pd.isna(value):
        return "–"
    d = _DECIMALS.get(unit, 0) if decimals is None else decimals
    if unit == "€":
        return fmt.eur_de(value, d)
    if unit == "Anteil":
        return fmt.pct_de(value, d)
    if unit == "%":
        return fmt.number_de(value, d) + "\u00a0%"
    if unit == "1–5":
        return fmt.number_de(value, d) + " von 5"
    if unit == "Stufe":
        return "Stufe " + fmt.number_de(value, d)
    if unit in ("Anzahl", ""):
        return fmt.number_de(value, d)
    return f"{fmt.number_de(value, d)}\u00a0{_DATIVE.get(unit, unit) if dative else unit}"


def _period_labels(periods: pd.Series, granularity: str) -> list[str]:
    return [fmt.period_de(p.date() if hasattr(p, "date") else p, granularity) for p in periods.tolist()]


def kpi_over_time(
    series: pd.DataFrame,
    *,
    label: str,
    unit: str,
    granularity: str,
    split: str = "total",
    golive: pd.DataFrame | None = None,
    target: pd.DataFrame | None = None,
    baseline: float | None = None,
    baseline_spread: float | None = None,
    references: tuple[tuple[float, str], ...] = (),
    height: int = 380,
) -> dict:
    """Vega-Lite spec: lines of `value` per `series` over `period`; go-live rules, target rules, baseline band.

    series: columns period (datetime64), series, value, months; total rows (is_total) are left out
    when other series exist. golive: golive (datetime64), label. target: target_value, target_date.
    references: fixed thresholds such as ((90, "ab 90: gut zugänglich"),), drawn as thin grey rules.
    Layers: reference_rules, baseline_band, lines, golive_marks, target_rule (each only when given).
    """
    data = _plot_rows(series)
    n_series = data["series"].nunique()
    split_title = SPLIT_TITLE.get(split, "Reihe")
    colour = (
        {"field": "series", "type": "nominal", "title": split_title, "sort": list(dict.fromkeys(data["series"])),
         "legend": {"orient": "top", "columns": min(n_series, 4), "symbolStrokeWidth": 4, "symbolSize": 200,
                    "labelFontSize": 14, "titleFontSize": 14, "labelLimit": 360}}
        if n_series > 1 else {"value": BENEFIT_COLOR}
    )
    show_points = len(data) / max(n_series, 1) <= 60
    lines = {
        "name": "lines",
        "data": {"name": "series"},
        "mark": {"type": "line", "strokeWidth": 3, "point": show_points},
        "encoding": {
            "x": {"field": "period", "type": "temporal", "title": None,
                  "axis": {**_X_AXIS[granularity], "labelAngle": 0}},
            "y": {"field": "value", "type": "quantitative", "title": unit_title(unit),
                  "axis": {"format": _AXIS_FORMAT.get(unit, ",.0f")}, "scale": _Y_SCALE.get(unit, {"zero": True})},
            "color": colour,
            "tooltip": [
                {"field": "period_label", "type": "nominal", "title": "Zeitraum"},
                {"field": "series", "type": "nominal", "title": split_title},
                {"field": "value", "type": "quantitative", "title": label,
                 "format": _TOOLTIP_FORMAT.get(unit, ",.0f")},
                {"field": "months", "type": "quantitative", "title": "Monate mit Werten", "format": ",.0f"},
            ],
        },
    }
    rows = spec.records(data[["period", "series", "value", "months"]])
    for row, text in zip(rows, _period_labels(data["period"], granularity), strict=True):
        row["period_label"] = text
    datasets = {"series": rows}
    layers: list[dict] = []
    if references:
        datasets["references"] = [{"value": v, "text": t} for v, t in references]
        layers += reference_rules()
    if baseline is not None:
        datasets["baseline"] = spec.records(pd.DataFrame({
            "value": [baseline], "low": [baseline - (baseline_spread or 0)],
            "high": [baseline + (baseline_spread or 0)],
            "text": [f"Ausgangswert: {format_value(baseline, unit)}"]}))
        layers += baseline_band(has_spread=bool(baseline_spread))
    layers.append(lines)
    if golive is not None and len(golive):
        frame = golive[["golive", "label"]].assign(when=golive["golive"].map(fmt.month_de))
        datasets["golive"] = spec.records(frame)
        layers += golive_marks()
    if target is not None and len(target):
        frame = target[["target_value", "target_date"]].assign(text=[
            f"Ziel: {format_value(v, unit)} bis {fmt.month_de(d)}"
            for v, d in zip(target["target_value"], target["target_date"], strict=True)])
        datasets["target"] = spec.records(frame)
        layers += target_rule()
    return spec.top_level(layers, datasets, height=height)


def unit_title(unit: str) -> str:
    """Axis title for a unit ('Anteil' for shares, 'Punkte', '€')."""
    return {"1–5": "Note 1–5", "%": "Prozent"}.get(unit, unit)


def _plot_rows(series: pd.DataFrame) -> pd.DataFrame:
    """The rows a chart draws: the split series, or the total when there is no split."""
    cols = ["period", "series", "value", "months"]
    if "is_total" in series and (~series["is_total"]).any():
        return series.loc[~series["is_total"], cols].reset_index(drop=True)
    return series[cols].reset_index(drop=True)


def baseline_band(has_spread: bool) -> list[dict]:
    """Layers on dataset 'baseline': shaded band ± one standard deviation, a dotted rule and its label."""
    tip = [{"field": "text", "type": "nominal", "title": "Ausgangswert"}]
    out = []
    if has_spread:
        out.append({"name": "baseline_band", "data": {"name": "baseline"},
                    "mark": {"type": "rect", "color": MUTED, "opacity": 0.15},
                    "encoding": {"y": {"field": "low", "type": "quantitative"},
                                 "y2": {"field": "high"}, "tooltip": tip}})
    out.append({"name": "baseline_rule", "data": {"name": "baseline"},
                "mark": {"type": "rule", "color": MUTED, "strokeDash": [2, 3], "size": 2},
                "encoding": {"y": {"field": "value", "type": "quantitative"}, "tooltip": tip}})
    out += spec.halo_text("baseline", {"y": {"field": "value", "type": "quantitative"}, "x": {"value": 0},
                                       "text": {"field": "text"}},
                          {"align": "left", "baseline": "bottom", "dx": 4, "dy": -4, "fontSize": 14,
                           "color": "#1a1a1a"})
    return out


def reference_rules() -> list[dict]:
    """Layers on dataset 'references': thin grey horizontal rules for fixed thresholds, labelled at the left."""
    rule = {"name": "reference_rules", "data": {"name": "references"},
            "mark": {"type": "rule", "color": MUTED, "size": 1},
            "encoding": {"y": {"field": "value", "type": "quantitative"},
                         "tooltip": [{"field": "text", "type": "nominal", "title": "Schwelle"}]}}
    # at the right end, below the rule: go-live names occupy the left, values usually sit above
    text = spec.halo_text("references", {"y": {"field": "value", "type": "quantitative"},
                                         "x": {"value": {"expr": "width"}}, "text": {"field": "text"}},
                          {"align": "right", "baseline": "top", "dx": -4, "dy": 3, "fontSize": 12, "color": "#1a1a1a"})
    return [rule, *text]


def golive_marks() -> list[dict]:
    """Layers on dataset 'golive': dashed vertical rules with the Maßnahme's name written along them."""
    rules = {"name": "golive_marks", "data": {"name": "golive"},
             "mark": {"type": "rule", "color": MUTED, "strokeDash": [6, 4], "size": 1.5},
             "encoding": {"x": {"field": "golive", "type": "temporal"},
                          "tooltip": [{"field": "label", "type": "nominal", "title": "Inbetriebnahme"},
                                      {"field": "when", "type": "nominal", "title": "Monat"}]}}
    # no white halo here: it would cut gaps into the lines the names cross
    names = {"name": "golive_names", "data": {"name": "golive"},
             "mark": {"type": "text", "angle": 270, "align": "right", "baseline": "bottom", "dx": -4, "dy": -3,
                      "fontSize": 12, "color": "#1a1a1a"},
             "encoding": {"x": {"field": "golive", "type": "temporal"}, "y": {"value": 0},
                          "text": {"field": "label"}}}
    return [rules, names]


def target_rule() -> list[dict]:
    """Layers on dataset 'target': a dashed black rule per target, labelled 'Ziel: 59 Minuten bis Dezember 2025'."""
    rule = {"name": "target_rule", "data": {"name": "target"},
            "mark": {"type": "rule", "color": TARGET_COLOR, "strokeDash": [10, 4], "size": 2},
            "encoding": {"y": {"field": "target_value", "type": "quantitative"},
                         "tooltip": [{"field": "text", "type": "nominal", "title": "Zielwert"}]}}
    text = spec.halo_text("target", {"y": {"field": "target_value", "type": "quantitative"},
                                     "x": {"value": {"expr": "width"}}, "text": {"field": "text"}},
                          {"align": "right", "baseline": "top", "dy": 5, "fontSize": 14,
                           "color": TARGET_COLOR, "fontWeight": "bold"})
    return [rule, *text]


def _last_complete(rows: pd.DataFrame, granularity: str, aggregation: str) -> pd.Series | None:
    """The newest period of a series; for sums the newest *complete* one (a half year is no year)."""
    if rows.empty:
        return None
    rows = rows.sort_values("period")
    if aggregation == "sum":
        full = rows[rows["months"] >= MONTHS_PER_BUCKET[granularity]]
        if len(full):
            return full.iloc[-1]
    return rows.iloc[-1]


def _change_words(old: float, new: float, polarity: str) -> tuple[str, str]:
    """('gesunken', ' (−35 %, eine Verbesserung)') for a change from old to new."""
    if old == 0:
        return ("gestiegen" if new > 0 else "unverändert geblieben", "")
    rel = (new - old) / abs(old)
    if abs(rel) < 0.005:
        return "nahezu unverändert geblieben", ""
    verb = "gestiegen" if rel > 0 else "gesunken"
    better = (rel > 0) == (polarity == "higher")
    verdict = "" if polarity not in ("higher", "lower") else (", eine Verbesserung" if better else
                                                              ", eine Verschlechterung")
    pct = fmt.number_de(rel * 100, 0)
    pct = pct if pct.startswith("−") else "+" + pct
    return verb, f" ({pct}\u00a0%{verdict})"


def summary_sentence(
    series: pd.DataFrame,
    *,
    label: str,
    unit: str,
    polarity: str,
    aggregation: str,
    granularity: str,
    baseline: Baseline | None = None,
) -> str:
    """One German sentence on the chart's total: baseline → newest value, or first → newest period.

    Uses the newest complete period for sums; says so when there are no values. The baseline is
    used only when the newest period lies on or after go-live.
    """
    total = series[series["is_total"]] if "is_total" in series else series
    total = total.dropna(subset=["value"]).sort_values("period")
    if total.empty:
        return f"{label}: Für die Auswahl liegen keine Werte vor."
    last = _last_complete(total, granularity, aggregation)
    when = fmt.period_de(last["period"].date(), granularity)
    when = f"im Jahr {when}" if granularity == "year" else f"im {when}" if granularity == "quarter" else f"im {when}"
    if baseline is not None and baseline.golive is not None and last["period"].date() < baseline.golive:
        baseline = None  # a view that ends before go-live cannot be judged against the Ausgangswert
    if baseline is not None:
        old = baseline.per_bucket(granularity, aggregation)
        if baseline.source == "measured" and baseline.window_from is not None:
            since = (f"vor der Inbetriebnahme (Mittel {fmt.month_de(baseline.window_from)} bis "
                     f"{fmt.month_de(baseline.window_to)})")
        else:
            since = "als Ausgangswert angegeben"
        verb, change = _change_words(old, last["value"], polarity)
        return (f"{label}: von {format_value(old, unit, dative=True)} {since} auf {format_value(last['value'], unit)} "
                f"{when} {verb}{change}.")
    first = total.iloc[0]
    if first["period"] == last["period"]:
        return f"{label}: {format_value(last['value'], unit)} {when}."
    first_when = fmt.period_de(first["period"].date(), granularity)
    verb, change = _change_words(first["value"], last["value"], polarity)
    scope = "insgesamt " if ("is_total" in series and (~series["is_total"]).any()) else ""
    return (f"{label}: {scope}von {format_value(first['value'], unit, dative=True)} ({first_when}) auf "
            f"{format_value(last['value'], unit)} {when} {verb}{change}.")


def series_table(series: pd.DataFrame, *, unit: str, granularity: str, split: str = "total") -> pd.DataFrame:
    """Table alternative: one row per period, one column per series (plus 'Gesamt'), German strings."""
    if series.empty:
        return pd.DataFrame({"Zeitraum": []})
    rows = series.sort_values("period")
    periods, labels, values = rows["period"].tolist(), rows["series"].tolist(), rows["value"].tolist()
    cells = dict(zip(zip(periods, labels, strict=True), values, strict=True))
    if len(cells) < len(values) or pd.isna(pd.Series(periods + labels + values, dtype=object)).any():
        return _series_table_pivot(rows, unit=unit, granularity=granularity, split=split)
    # one value per period and series, none missing: the pivot built from plain dicts (a pandas
    # pivot_table costs ~8 ms per chart, more than the chart itself)
    order = _table_columns(labels, "Gesamt" in labels, split)
    index = sorted(set(periods))
    out = pd.DataFrame({"Zeitraum": [fmt.period_de(p.date(), granularity) for p in index]})
    missing = float("nan")
    for col in order:
        out[col] = [format_value(cells.get((p, col), missing), unit) for p in index]
    return out


def _table_columns(labels, has_total: bool, split: str) -> list[str]:
    """Series columns in order of appearance, 'Gesamt' last (alone only for the total view)."""
    order = [c for c in dict.fromkeys(labels) if c != "Gesamt"]
    if has_total and (order or split == "total"):
        order.append("Gesamt")
    return order


def _series_table_pivot(rows: pd.DataFrame, *, unit: str, granularity: str, split: str) -> pd.DataFrame:
    """series_table through pandas' pivot_table: for missing values or repeated (period, series) pairs."""
    wide = rows.pivot_table(index="period", columns="series", values="value", aggfunc="first", sort=False)
    order = _table_columns(rows["series"], "Gesamt" in wide.columns, split)
    wide = wide[order].sort_index()
    out = pd.DataFrame({"Zeitraum": [fmt.period_de(p.date(), granularity) for p in wide.index]})
    for col in order:
        out[col] = [format_value(v, unit) for v in wide[col]]
    return out


def period_start(value) -> date:
    """A period start as a date (pandas Timestamp or date)."""
    return value.date() if hasattr(value, "date") and callable(value.date) else value
