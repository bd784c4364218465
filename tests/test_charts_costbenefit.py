"""Cost-benefit chart builders: specs compared as plain dicts (layers, encodings, German locale)."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd

from kpi.charts import costbenefit as cb
from kpi.charts.base import BENEFIT_COLOR, COST_COLOR


def _series() -> pd.DataFrame:
    # costs 100 per month for 3 months, benefits 60 per month from month 2: break-even in month 6
    months = [date(2024, m, 1) for m in range(1, 8)]
    costs = [100, 200, 300, 300, 300, 300, 300]
    benefits = [0, 60, 120, 180, 240, 300, 360]
    return pd.DataFrame({"month": months, "cum_costs_eur": costs, "cum_benefits_eur": benefits})


def _layer_marks(spec: dict) -> list[str]:
    return [(lyr["mark"]["type"] if isinstance(lyr["mark"], dict) else lyr["mark"]) for lyr in spec["layer"]]


def test_cumulative_chart_has_german_locale_and_two_coloured_lines():
    spec = cb.cumulative_chart(_series())
    alt.LayerChart.from_dict(spec)  # a valid Vega-Lite spec (raises otherwise)
    assert spec["config"]["locale"]["number"]["decimal"] == ","
    assert spec["config"]["locale"]["number"]["thousands"] == "."
    assert spec["config"]["locale"]["time"]["months"][2] == "März"
    line = spec["layer"][0]
    assert line["encoding"]["x"] == {"field": "month", "type": "temporal", "title": None,
                                     "axis": {"format": "%Y", "tickCount": "year"}}
    assert line["encoding"]["y"]["axis"]["format"] == "$,.0f"
    assert line["encoding"]["color"]["scale"] == {"domain": [cb.COSTS_LABEL, cb.BENEFITS_LABEL],
                                                  "range": [COST_COLOR, BENEFIT_COLOR]}
    # lines also differ by dash, so they are told apart without colour; one merged legend shows both
    assert line["encoding"]["strokeDash"]["field"] == "kind"
    assert "legend" not in line["encoding"]["strokeDash"]
    assert line["encoding"]["strokeDash"]["title"] == line["encoding"]["color"]["title"]
    assert _layer_marks(spec) == ["line"]


def test_cumulative_chart_marks_break_even_with_rule_and_german_label():
    spec = cb.cumulative_chart(_series(), break_even=date(2024, 6, 1))
    alt.LayerChart.from_dict(spec)
    assert _layer_marks(spec) == ["line", "rule", "text"]
    assert spec["layer"][1]["encoding"]["x"] == {"field": "month", "type": "temporal"}
    datasets = spec["datasets"]
    marker = [rows for rows in datasets.values() if rows and "label" in rows[0]]
    assert marker == [[{"month": "2024-06-01T00:00:00", "label": "Gewinnschwelle: Juni 2024"}]]


def test_cumulative_frame_is_long_and_thinned_to_the_point_cap():
    long = cb.cumulative_frame(_series())
    assert len(long) == 14
    assert long[long["kind"] == cb.BENEFITS_LABEL]["eur"].tolist() == [0, 60, 120, 180, 240, 300, 360]
    big = pd.DataFrame({"month": pd.date_range("1900-01-01", periods=2000, freq="MS"),
                        "cum_costs_eur": range(2000), "cum_benefits_eur": range(2000)})
    thinned = cb.cumulative_frame(big)
    per_line = thinned[thinned["kind"] == cb.COSTS_LABEL]
    assert len(per_line) <= cb.MAX_POINTS + 1
    assert per_line["eur"].iloc[-1] == 1999  # the newest month is always kept


def test_cumulative_summary_and_table_in_german():
    s = _series()
    text = cb.cumulative_summary_de(s, date(2024, 6, 1), "Musterstadt")
    assert text == ("Musterstadt: bis Juli 2024 kumuliert 300\u00a0€ Kosten und 360\u00a0€ Nutzen; "
                    "die Gewinnschwelle wurde im Juni 2024 erreicht.")
    assert cb.cumulative_summary_de(s, None, "X").endswith("noch nicht erreicht.")
    table = cb.cumulative_table(s)
    # one row per year end: July 2024 is the last month; net 360 − 300 = 60
    assert table.to_dict("records") == [{"Monat": "Juli 2024", "Kosten kumuliert": "300\u00a0€",
                                         "Nutzen kumuliert": "360\u00a0€", "Netto kumuliert": "60\u00a0€"}]


def test_npv_bars_sorted_signed_and_rate_in_axis_title():
    frame = pd.DataFrame({"massnahme": ["A", "B", "C"], "npv_eur": [-5_000.0, 120_000.0, 30_000.0]})
    spec = cb.npv_bars(frame, discount_rate=0.03)
    alt.LayerChart.from_dict(spec)
    bars = spec["layer"][0]
    assert bars["encoding"]["x"]["title"] == "Kapitalwert (Zinssatz 3,0\u00a0%)"
    assert bars["encoding"]["y"]["sort"] == ["B", "C", "A"]
    assert bars["encoding"]["y"]["title"] is None  # no raw field name as axis title
    assert bars["encoding"]["color"]["scale"]["range"] == [BENEFIT_COLOR, COST_COLOR]
    rows = spec["datasets"][bars["data"]["name"]]
    assert {r["massnahme"]: r["vorzeichen"] for r in rows} == {"A": "negativ", "B": "positiv", "C": "positiv"}
    assert _layer_marks(spec) == ["bar", "text", "rule"]


def test_plan_vs_actual_groups_plan_and_actual_per_year():
    frame = pd.DataFrame({"year": [2023, 2024], "plan_eur": [-10_000.0, 20_000.0], "actual_eur": [-12_000.0, None]})
    spec = cb.plan_vs_actual_chart(frame)
    alt.LayerChart.from_dict(spec)
    bars = spec["layer"][0]
    assert bars["encoding"]["xOffset"]["field"] == "art"
    rows = next(r for r in spec["datasets"].values() if r and "art" in r[0])
    # the missing actual of 2024 is left out, not drawn as zero
    assert rows == [{"year": "2023", "art": "Plan", "eur": -10_000.0},
                    {"year": "2023", "art": "Ist", "eur": -12_000.0},
                    {"year": "2024", "art": "Plan", "eur": 20_000.0}]


def test_tornado_orders_by_swing_and_bars_start_at_base_npv():
    frame = pd.DataFrame({"input_de": ["Fallzahl", "Zinssatz"], "low_npv": [80.0, 95.0],
                          "high_npv": [120.0, 104.0]})
    spec = cb.tornado_chart(frame, base_npv=100.0)
    alt.LayerChart.from_dict(spec)
    bars = spec["layer"][0]
    assert bars["encoding"]["y"]["sort"] == ["Fallzahl", "Zinssatz"]
    assert bars["encoding"]["x2"] == {"field": "base"}
    assert _layer_marks(spec) == ["bar", "rule", "rule"]
    text = cb.tornado_summary_de(frame, 100.0)
    assert "„Fallzahl“" in text and "80\u00a0€" in text and "120\u00a0€" in text


def test_sparkline_has_no_axes():
    spec = cb.sparkline([1.0, 2.0, 3.0]).to_dict()
    assert spec["encoding"]["x"]["axis"] is None and spec["encoding"]["y"]["axis"] is None


def test_cumulative_chart_for_slides_has_large_type():
    spec = cb.cumulative_chart(_series(), font_size=18, height=380)
    assert spec["config"]["axis"]["labelFontSize"] == 18
    assert spec["config"]["legend"]["labelFontSize"] == 18
    assert spec["height"] == 380
