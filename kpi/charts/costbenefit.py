"""Cost-benefit charts: cumulative costs vs. benefits with break-even, NPV and plan-vs-actual bars,
tornado, sparkline. Data in, German-locale Altair chart out; plus one-sentence summaries."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd

from kpi import fmt
from kpi.charts.base import (
    BENEFIT_COLOR,
    COST_COLOR,
    FMT_EUR,
    FMT_MONTH,
    FMT_MONTH_SHORT,
    MUTED,
    NET_COLOR,
    german,
)
from kpi.charts.spec import records, top_level

COSTS_LABEL = "Kosten (kumuliert)"
BENEFITS_LABEL = "Nutzen (kumuliert)"
MAX_POINTS = 600  # monthly points per line kept in a chart (50 years); older ones are thinned


def _month_ts(d) -> pd.Timestamp:
    return pd.Timestamp(d).normalize()


def _thin(frame: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """Keep at most max_rows rows, always including the last one (aggregates, never raw points)."""
    if len(frame) <= max_rows:
        return frame
    step = -(-len(frame) // max_rows)
    idx = list(range(0, len(frame), step))
    if idx[-1] != len(frame) - 1:
        idx.append(len(frame) - 1)
    return frame.iloc[idx]


def cumulative_frame(series: pd.DataFrame) -> pd.DataFrame:
    """Long frame (month, kind, eur) of cumulative costs and benefits from columns
    month, cum_costs_eur, cum_benefits_eur (missing columns raise KeyError)."""
    s = _thin(series.sort_values("month"), MAX_POINTS)
    month = pd.to_datetime(s["month"])
    costs = pd.DataFrame({"month": month, "kind": COSTS_LABEL, "eur": s["cum_costs_eur"].astype(float)})
    benefits = pd.DataFrame({"month": month, "kind": BENEFITS_LABEL,
                             "eur": s["cum_benefits_eur"].astype(float)})
    return pd.concat([costs, benefits], ignore_index=True)


def cumulative_chart(series: pd.DataFrame, break_even: date | None = None, *,
                     height: int = 340, font_size: int = 13) -> dict:
    """Vega-Lite dict: lines of cumulative costs and benefits per month (told apart by colour AND dash);
    a rule and label at the break-even month (if any). A plain dict, not Altair: this chart is on the
    Überblick, the drill-down and every meeting, and Altair's build and validation cost ~100× more."""
    data = records(cumulative_frame(series))
    kinds = [COSTS_LABEL, BENEFITS_LABEL]
    lines = {
        "data": {"name": "kumuliert"},
        "mark": {"type": "line", "strokeWidth": 3},
        "encoding": {
            "x": {"field": "month", "type": "temporal", "title": None,
                  "axis": {"format": "%Y", "tickCount": "year"}},
            "y": {"field": "eur", "type": "quantitative", "title": "Euro (kumuliert)",
                  "axis": {"format": FMT_EUR}},
            "color": {"field": "kind", "type": "nominal", "title": None,
                      "scale": {"domain": kinds, "range": [COST_COLOR, BENEFIT_COLOR]}},
            # same field, same title: Vega-Lite merges both into one legend showing colour AND dash
            "strokeDash": {"field": "kind", "type": "nominal", "title": None,
                           "scale": {"domain": kinds, "range": [[6, 3], [1, 0]]}},
            "tooltip": [{"field": "month", "type": "temporal", "title": "Monat", "format": FMT_MONTH},
                        {"field": "kind", "type": "nominal", "title": "Reihe"},
                        {"field": "eur", "type": "quantitative", "title": "Betrag", "format": FMT_EUR}],
        },
    }
    layers = [lines]
    datasets = {"kumuliert": data}
    if break_even is not None:
        datasets["gewinnschwelle"] = [{"month": _month_ts(break_even).strftime("%Y-%m-%dT00:00:00"),
                                       "label": f"Gewinnschwelle: {fmt.month_de(break_even)}"}]
        x = {"field": "month", "type": "temporal"}
        layers.append({"data": {"name": "gewinnschwelle"},
                       "mark": {"type": "rule", "color": NET_COLOR, "strokeWidth": 2},
                       "encoding": {"x": x, "tooltip": [{"field": "label", "type": "nominal",
                                                          "title": "Amortisation"}]}})
        layers.append({"data": {"name": "gewinnschwelle"},
                       "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 6, "dy": 4,
                                "fontSize": font_size, "fontWeight": "bold", "color": "#00704f"},
                       "encoding": {"x": x, "y": {"value": 0},
                                    "text": {"field": "label", "type": "nominal"}}})
    return _with_font(top_level(layers, datasets, height=height), font_size)


def cumulative_summary_de(series: pd.DataFrame, break_even: date | None, scope: str) -> str:
    """One sentence: costs and benefits so far and whether (when) the break-even was reached."""
    if series.empty:
        return f"Für {scope} liegen noch keine Kosten- oder Nutzenwerte vor."
    last = series.sort_values("month").iloc[-1]
    text = (f"{scope}: bis {fmt.month_de(pd.Timestamp(last['month']))} kumuliert "
            f"{fmt.eur_short_de(last['cum_costs_eur'])} Kosten und "
            f"{fmt.eur_short_de(last['cum_benefits_eur'])} Nutzen")
    if break_even is not None:
        return text + f"; die Gewinnschwelle wurde im {fmt.month_de(break_even)} erreicht."
    return text + "; die Gewinnschwelle ist noch nicht erreicht."


def cumulative_table(series: pd.DataFrame) -> pd.DataFrame:
    """The data-table alternative: one row per year end (last month of each year) in German formats."""
    if series.empty:
        return pd.DataFrame(columns=["Monat", "Kosten kumuliert", "Nutzen kumuliert", "Netto kumuliert"])
    s = series.sort_values("month").copy()
    s["year"] = pd.to_datetime(s["month"]).dt.year
    s = s.groupby("year", as_index=False).tail(1)
    return pd.DataFrame({
        "Monat": [fmt.month_de(pd.Timestamp(m)) for m in s["month"]],
        "Kosten kumuliert": [fmt.eur_de(v) for v in s["cum_costs_eur"]],
        "Nutzen kumuliert": [fmt.eur_de(v) for v in s["cum_benefits_eur"]],
        "Netto kumuliert": [fmt.eur_de(b - c) for b, c in zip(s["cum_benefits_eur"], s["cum_costs_eur"],
                                                             strict=True)],
    })


def _with_font(spec: dict, font_size: int) -> dict:
    if font_size != 13:
        cfg = spec["config"]
        spec["config"] = {**cfg, "axis": {**cfg.get("axis", {}), "labelFontSize": font_size,
                                          "titleFontSize": font_size},
                          "legend": {**cfg.get("legend", {}), "labelFontSize": font_size,
                                     "titleFontSize": font_size}}
    return spec


def _q(field: str, title: str | None = None, fmt_: str | None = None, **extra) -> dict:
    out = {"field": field, "type": "quantitative", **extra}
    if title is not None:
        out["title"] = title
    if fmt_ is not None:
        out["format"] = fmt_
    return out


def _n(field: str, title: str | None = None, **extra) -> dict:
    # title always written: without it Vega-Lite shows the raw field name ("massnahme")
    return {"field": field, "type": "nominal", "title": title, **extra}


def npv_bars(frame: pd.DataFrame, *, discount_rate: float | None = None, height: int | None = None,
             font_size: int = 13) -> dict:
    """Vega-Lite dict: horizontal NPV bars per Maßnahme (columns massnahme, npv_eur), largest first;
    the sign is shown by colour AND by the printed amount."""
    data = frame[["massnahme", "npv_eur"]].dropna().copy()
    data["vorzeichen"] = ["positiv" if v >= 0 else "negativ" for v in data["npv_eur"]]
    data["label"] = [fmt.eur_short_de(v) for v in data["npv_eur"]]
    title = "Kapitalwert"
    if discount_rate is not None:
        title += f" (Zinssatz {fmt.pct_de(discount_rate, 1)})"
    order = data.sort_values("npv_eur", ascending=False)["massnahme"].tolist()
    y = _n("massnahme", None, sort=order, axis={"labelLimit": 260})
    x = _q("npv_eur", title, axis={"format": FMT_EUR})
    bars = {"data": {"name": "kapitalwert"}, "mark": {"type": "bar"},
            "encoding": {"x": x, "y": y,
                         "color": _n("vorzeichen", "Kapitalwert",
                                     scale={"domain": ["positiv", "negativ"], "range": [BENEFIT_COLOR, COST_COLOR]}),
                         "tooltip": [_n("massnahme", "Maßnahme"), _q("npv_eur", "Kapitalwert", FMT_EUR)]}}
    labels = {"data": {"name": "kapitalwert"},
              "mark": {"type": "text", "align": "left", "dx": 4, "color": "#1a1a1a", "fontSize": font_size},
              "encoding": {"x": x, "y": y, "text": _n("label")}}
    zero_rule = {"data": {"values": [{"x": 0}]}, "mark": {"type": "rule", "color": MUTED},
                 "encoding": {"x": _q("x")}}
    h = height or max(120, 40 * len(data))
    return _with_font(top_level([bars, labels, zero_rule], {"kapitalwert": records(data)}, height=h), font_size)


PLAN_LABEL = "Plan"
ACTUAL_LABEL = "Ist"


def plan_vs_actual_chart(frame: pd.DataFrame, *, font_size: int = 13) -> dict:
    """Vega-Lite dict: grouped bars per year, planned vs. actual net benefit (columns year, plan_eur,
    actual_eur); a missing actual is left out, not drawn as zero."""
    rows = []
    for r in frame.itertuples(index=False):
        rows.append({"year": str(int(r.year)), "art": PLAN_LABEL, "eur": r.plan_eur})
        rows.append({"year": str(int(r.year)), "art": ACTUAL_LABEL, "eur": r.actual_eur})
    data = pd.DataFrame(rows, columns=["year", "art", "eur"]).dropna()
    bars = {"data": {"name": "plan_ist"}, "mark": {"type": "bar"},
            "encoding": {"x": _n("year", "Jahr"), "xOffset": _n("art", sort=[PLAN_LABEL, ACTUAL_LABEL]),
                         "y": _q("eur", "Nettonutzen je Jahr", axis={"format": FMT_EUR}),
                         "color": _n("art", None, scale={"domain": [PLAN_LABEL, ACTUAL_LABEL],
                                                         "range": ["#56B4E9", BENEFIT_COLOR]}),
                         "tooltip": [_n("year", "Jahr"), _n("art", "Art"), _q("eur", "Nettonutzen", FMT_EUR)]}}
    zero_rule = {"data": {"values": [{"y": 0}]}, "mark": {"type": "rule", "color": MUTED},
                 "encoding": {"y": _q("y")}}
    return _with_font(top_level([bars, zero_rule], {"plan_ist": records(data)}, height=300), font_size)


LOW_LABEL = "Eingabe −20 %"
HIGH_LABEL = "Eingabe +20 %"


def tornado_chart(frame: pd.DataFrame, base_npv: float, *, font_size: int = 13) -> dict:
    """Vega-Lite dict: per input the NPV at −20 % and +20 % as bars from the base NPV
    (columns input_de, low_npv, high_npv as from sensitivity.tornado); widest swing on top."""
    data = frame.copy()
    data["swing"] = (data["high_npv"] - data["low_npv"]).abs()
    order = data.sort_values("swing", ascending=False)["input_de"].tolist()
    rows = []
    for r in data.itertuples(index=False):
        rows.append({"input_de": r.input_de, "fall": LOW_LABEL, "npv": r.low_npv, "base": base_npv})
        rows.append({"input_de": r.input_de, "fall": HIGH_LABEL, "npv": r.high_npv, "base": base_npv})
    long = pd.DataFrame(rows, columns=["input_de", "fall", "npv", "base"])
    bars = {"data": {"name": "tornado"}, "mark": {"type": "bar", "height": {"band": 0.7}},
            "encoding": {"y": _n("input_de", None, sort=order, axis={"labelLimit": 260}),
                         "x": _q("npv", "Kapitalwert", axis={"format": FMT_EUR}), "x2": {"field": "base"},
                         "color": _n("fall", None, scale={"domain": [LOW_LABEL, HIGH_LABEL],
                                                          "range": [COST_COLOR, BENEFIT_COLOR]}),
                         "tooltip": [_n("input_de", "Eingangsgröße"), _n("fall", "Fall"),
                                     _q("npv", "Kapitalwert", FMT_EUR)]}}
    base_rule = {"data": {"values": [{"x": base_npv}]}, "mark": {"type": "rule", "color": "#1a1a1a", "strokeWidth": 2},
                 "encoding": {"x": _q("x"), "tooltip": [_q("x", "Kapitalwert (Basis)", FMT_EUR)]}}
    zero_rule = {"data": {"values": [{"x": 0}]}, "mark": {"type": "rule", "color": MUTED, "strokeDash": [4, 3]},
                 "encoding": {"x": _q("x")}}
    h = max(120, 44 * len(order))
    return _with_font(top_level([bars, base_rule, zero_rule], {"tornado": records(long)}, height=h), font_size)


def tornado_summary_de(frame: pd.DataFrame, base_npv: float) -> str:
    """One sentence naming the input whose ±20 % moves the NPV most."""
    if frame.empty:
        return "Für diese Maßnahme ist keine Sensitivitätsanalyse möglich."
    swing = (frame["high_npv"] - frame["low_npv"]).abs()
    top = frame.loc[swing.idxmax()]
    return (f"Kapitalwert {fmt.eur_de(base_npv)}; am stärksten wirkt „{top['input_de']}“: bei ±20 % liegt der "
            f"Kapitalwert zwischen {fmt.eur_de(min(top['low_npv'], top['high_npv']))} und "
            f"{fmt.eur_de(max(top['low_npv'], top['high_npv']))}.")


def sparkline(values: list[float], *, color: str = BENEFIT_COLOR, height: int = 60) -> alt.TopLevelMixin:
    """A tiny line without axes for tiles and slides (values in time order)."""
    data = pd.DataFrame({"i": range(len(values)), "v": values})
    line = alt.Chart(data).mark_line(strokeWidth=3, color=color).encode(
        x=alt.X("i:Q", axis=None), y=alt.Y("v:Q", axis=None, scale=alt.Scale(zero=False)))
    return german(line.properties(height=height, width="container"))


def cockpit_with_chart(db, kommune: str | None = None, period_from: date | None = None,
                       period_to: date | None = None) -> tuple:
    """The Überblick in one call: overview.cockpit and its main chart as a finished Vega-Lite dict with
    summary sentence and data table, from one computation of the figures (the cockpit of all Kommunen
    takes ~100 ms at 1.000 Maßnahmen; pages cache the pair by data version)."""
    from kpi import overview

    c = overview.cockpit(db, kommune, period_from, period_to)
    return c, _cockpit_chart(c, period_from)


def _cockpit_chart(c, period_from: date | None) -> tuple[dict, str, pd.DataFrame]:
    """The cockpit's cumulative chart, its summary sentence and table."""
    be = c.cost_benefit.break_even
    if be is not None and period_from is not None and be < period_from:
        be_marker = None  # outside the shown window; the summary still names it
    else:
        be_marker = be
    spec = cumulative_chart(c.chart_months, be_marker)
    return spec, cumulative_summary_de(c.cost_benefit.months, be, c.scope), cumulative_table(c.chart_months)


def tornado_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The tornado's data-table alternative in German formats."""
    return pd.DataFrame({
        "Eingangsgröße": frame["input_de"],
        "Kapitalwert bei −20 %": [fmt.eur_de(v) for v in frame["low_npv"]],
        "Kapitalwert bei +20 %": [fmt.eur_de(v) for v in frame["high_npv"]],
    })


def trend_line(frame: pd.DataFrame, title: str, *, font_size: int = 13, height: int = 300,
               rule_at: float | None = None, rule_label: str | None = None) -> alt.TopLevelMixin:
    """A monthly line (columns month, value) with points; an optional labelled reference rule."""
    line = alt.Chart(frame).mark_line(strokeWidth=4, color=BENEFIT_COLOR, point=alt.OverlayMarkDef(size=80)).encode(
        x=alt.X("month:T", title=None, axis=alt.Axis(format=FMT_MONTH_SHORT)),
        y=alt.Y("value:Q", title=title, scale=alt.Scale(zero=False), axis=alt.Axis(format=",.1f")),
        tooltip=[alt.Tooltip("month:T", title="Monat", format=FMT_MONTH),
                 alt.Tooltip("value:Q", title=title, format=",.1f")],
    )
    layers = [line]
    if rule_at is not None:
        ref = pd.DataFrame({"y": [rule_at], "label": [rule_label or fmt.number_de(rule_at)]})
        layers.append(alt.Chart(ref).mark_rule(color="#1a1a1a", strokeDash=[6, 4], strokeWidth=2).encode(y="y:Q"))
        layers.append(alt.Chart(ref).mark_text(align="left", dy=-8, x=4, fontSize=font_size, color="#1a1a1a")
                      .encode(y="y:Q", text="label:N"))
    return german(alt.layer(*layers).properties(height=height, width="container"), font_size=font_size)


# ---------------------------------------------------------------------------------------------
# finished chart blocks for the pages (data → spec dict, summary, table), cached there by data version


def wibe_npv_block(db, kommune: str | None = None) -> tuple[dict | None, str, pd.DataFrame, str]:
    """NPV bars of a selection as a spec dict with summary, table and a note (spec None without NPVs)."""
    from kpi import overview

    view = overview.wibe(db, kommune)
    npv = view.npv.dropna()
    if npv.empty:
        return None, "", npv, view.npv_note
    rate = fmt.pct_de(view.discount_rate, 1)
    best = npv.loc[npv["npv_eur"].idxmax()]
    summary = (f"Den höchsten Kapitalwert hat {best['massnahme']} mit {fmt.eur_de(best['npv_eur'])} "
               f"(Zinssatz {rate}); {int((npv['npv_eur'] < 0).sum())} von {len(npv)} sind negativ.")
    table = pd.DataFrame({"Maßnahme": npv["massnahme"], f"Kapitalwert ({rate})": [fmt.eur_de(v) for v in npv["npv_eur"]]})
    return npv_bars(npv, discount_rate=view.discount_rate), summary, table, view.npv_note


def plan_block(db, kommune: str, massnahme: str) -> tuple[dict | None, str, pd.DataFrame]:
    """Plan vs. actual of one Maßnahme as a spec dict, summary and table (spec None without a plan)."""
    from kpi import overview

    result = overview.find_result(db, kommune, massnahme)
    plan = overview.plan_actual_frame(result)
    table = overview.plan_actual_table(result)
    if plan.empty:
        return None, "", table
    total = table.iloc[-1]
    summary = (f"Plan/Ist {massnahme}: geplant {total['Plan Nettonutzen']}, erreicht {total['Ist Nettonutzen']} "
               f"Nettonutzen in den Planjahren mit Ist-Werten (Abweichung {total['Abweichung']}).")
    return plan_vs_actual_chart(plan), summary, table


def sensitivity_block(db, kommune: str, massnahme: str) -> tuple[dict | None, str, pd.DataFrame, list[str]]:
    """Tornado spec, summary, table and the break-even sentences of one Maßnahme (spec None: no NPV)."""
    from kpi import overview
    from kpi.metrics import sensitivity

    result = overview.find_result(db, kommune, massnahme)
    if result.npv_eur is None:
        return None, "Der Kapitalwert ist nicht berechenbar: " + "; ".join(result.not_computable), \
            pd.DataFrame(), []
    frame = sensitivity.tornado(result)
    sentences = [b.sentence_de for b in sensitivity.break_even(result)]
    return (tornado_chart(frame, result.npv_eur), tornado_summary_de(frame, result.npv_eur),
            tornado_table(frame), sentences)
