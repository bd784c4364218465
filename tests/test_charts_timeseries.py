"""Chart builders (Vega-Lite dicts): encodings, German locale, annotations; summary sentences and tables."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from kpi.charts import bars, panels, timeseries
from kpi.filters import Filters
from kpi.queries import Baseline


def series_frame(values: list[float], start: str = "2024-01-01", series: str = "Gesamt", months: int = 1,
                 is_total: bool = True) -> pd.DataFrame:
    periods = pd.date_range(start, periods=len(values), freq="MS" if months == 1 else "QS")
    return pd.DataFrame({"period": periods, "kommune": None, "massnahme": None, "series": series,
                         "is_total": is_total, "value": values, "months": months})


def layer_names(spec: dict) -> list[str]:
    return [layer.get("name") for layer in spec["layer"] if layer.get("name")]


def lines_layer(spec: dict) -> dict:
    return next(layer for layer in spec["layer"] if layer.get("name") == "lines")


def test_spec_carries_german_locale_and_typed_encodings():
    spec = timeseries.kpi_over_time(series_frame([10.0, 12.0]), label="Fälle", unit="€", granularity="month")
    locale = spec["config"]["locale"]
    assert locale["number"]["decimal"] == "," and locale["number"]["thousands"] == "."
    assert locale["number"]["currency"] == ["", "\u00a0€"]
    assert "März" in locale["time"]["months"]
    enc = lines_layer(spec)["encoding"]
    assert (enc["x"]["field"], enc["x"]["type"]) == ("period", "temporal")
    assert (enc["y"]["field"], enc["y"]["type"]) == ("value", "quantitative")
    assert enc["y"]["axis"]["format"] == "$,.0f"  # renders as 1.234 € with the locale
    assert [t["title"] for t in enc["tooltip"]][:3] == ["Zeitraum", "Reihe", "Fälle"]
    assert spec["datasets"]["series"][0]["period_label"] == "Januar 2024"
    assert spec["datasets"]["series"][0]["period"] == "2024-01-01T00:00:00"  # local time, no 'Z'


def test_quarter_labels_in_tooltips_are_german():
    spec = timeseries.kpi_over_time(series_frame([1.0, 2.0], months=3), label="x", unit="Anzahl",
                                    granularity="quarter")
    assert [r["period_label"] for r in spec["datasets"]["series"]] == ["1. Quartal 2024", "2. Quartal 2024"]


def test_golive_target_and_baseline_layers_are_present_when_given():
    golive = pd.DataFrame({"golive": [pd.Timestamp("2024-03-01")], "label": ["E-Akte Bauamt"]})
    target = pd.DataFrame({"target_value": [59.0], "target_date": [pd.Timestamp("2025-12-31")]})
    spec = timeseries.kpi_over_time(series_frame([95.0, 90.0, 70.0, 62.0]), label="Ø Bearbeitungszeit",
                                    unit="Minuten", granularity="month", golive=golive, target=target,
                                    baseline=95.0, baseline_spread=2.0)
    assert layer_names(spec) == ["baseline_band", "baseline_rule", "lines", "golive_marks", "golive_names",
                                "target_rule"]
    golive_layer = next(x for x in spec["layer"] if x.get("name") == "golive_marks")
    assert golive_layer["mark"]["type"] == "rule" and golive_layer["encoding"]["x"]["type"] == "temporal"
    assert spec["datasets"]["golive"][0]["label"] == "E-Akte Bauamt"
    assert spec["datasets"]["target"][0]["text"] == "Ziel: 59\u00a0Minuten bis Dezember 2025"
    assert spec["datasets"]["baseline"][0] == {"value": 95.0, "low": 93.0, "high": 97.0,
                                                "text": "Ausgangswert: 95\u00a0Minuten"}
    # labels are written on the chart (text layers), not left to colour
    texts = [x["encoding"]["text"]["field"] for x in spec["layer"] if x["mark"]["type"] == "text"]
    assert texts.count("label") == 1 and texts.count("text") == 4  # names; halo + text for target, baseline


def test_without_annotations_only_lines_are_drawn():
    spec = timeseries.kpi_over_time(series_frame([1.0]), label="x", unit="Anzahl", granularity="year")
    assert layer_names(spec) == ["lines"]
    assert lines_layer(spec)["encoding"]["color"] == {"value": timeseries.BENEFIT_COLOR}


def test_split_series_get_a_legend_and_leave_the_total_out():
    df = pd.concat([series_frame([1.0, 2.0], series="A", is_total=False),
                    series_frame([5.0, 6.0], series="B", is_total=False), series_frame([6.0, 8.0])])
    spec = timeseries.kpi_over_time(df, label="x", unit="Anzahl", granularity="month", split="kommune")
    color = lines_layer(spec)["encoding"]["color"]
    assert color["field"] == "series" and color["title"] == "Kommune"
    assert {r["series"] for r in spec["datasets"]["series"]} == {"A", "B"}


def test_reference_rules_for_bitv_thresholds():
    spec = timeseries.kpi_over_time(series_frame([80.0]), label="BITV", unit="Punkte", granularity="month",
                                    references=panels.REFERENCES["bitv_score"])
    assert layer_names(spec)[0] == "reference_rules"
    assert [r["value"] for r in spec["datasets"]["references"]] == [90.0, 95.0]


def test_summary_sentence_against_baseline():
    df = series_frame([95.0, 80.0, 62.0], start="2026-07-01")
    b = Baseline("E-Akte Bauamt", "Musterstadt", 95.0, 2.0, date(2022, 7, 1), date(2023, 6, 1),
                 date(2023, 7, 1), "measured")
    text = timeseries.summary_sentence(df, label="Ø Bearbeitungszeit", unit="Minuten", polarity="lower",
                                       aggregation="wmean_fallzahl", granularity="month", baseline=b)
    # (62 − 95) / 95 = −34,7 % → −35 %
    assert text == ("Ø Bearbeitungszeit: von 95\u00a0Minuten vor der Inbetriebnahme (Mittel Juli 2022 bis "
                    "Juni 2023) auf 62\u00a0Minuten im September 2026 gesunken (−35\u00a0%, eine Verbesserung).")


def test_summary_sentence_first_to_last_and_dative_unit():
    df = series_frame([20.0, 21.0, 12.0])
    text = timeseries.summary_sentence(df, label="Ø Durchlaufzeit", unit="Tage", polarity="lower",
                                       aggregation="wmean_fallzahl", granularity="month")
    # (12 − 20) / 20 = −40 %
    assert text == ("Ø Durchlaufzeit: von 20,0\u00a0Tagen (Januar 2024) auf 12,0\u00a0Tage im März 2024 "
                    "gesunken (−40\u00a0%, eine Verbesserung).")


def test_summary_sentence_uses_last_complete_period_for_sums():
    df = pd.DataFrame({"period": pd.to_datetime(["2024-01-01", "2025-01-01", "2026-01-01"]), "series": "Gesamt",
                       "is_total": True, "value": [1000.0, 1100.0, 600.0], "months": [12, 12, 6]})
    text = timeseries.summary_sentence(df, label="Fälle", unit="Anzahl", polarity="none", aggregation="sum",
                                       granularity="year")
    # 2026 holds only 6 months: compare 2024 with 2025, +10 %, polarity none → no verdict
    assert text == "Fälle: von 1.000 (2024) auf 1.100 im Jahr 2025 gestiegen (+10\u00a0%)."


def test_summary_sentence_without_values():
    text = timeseries.summary_sentence(series_frame([]), label="Fälle", unit="Anzahl", polarity="none",
                                       aggregation="sum", granularity="month")
    assert text == "Fälle: Für die Auswahl liegen keine Werte vor."


def test_series_table_is_wide_and_german():
    df = pd.concat([series_frame([1234.6, 2.0], series="A", is_total=False), series_frame([1234.6, 2.0])])
    table = timeseries.series_table(df, unit="€", granularity="month", split="kommune")
    assert list(table.columns) == ["Zeitraum", "A", "Gesamt"]
    assert table.iloc[0].tolist() == ["Januar 2024", "1.235\u00a0€", "1.235\u00a0€"]


@pytest.mark.parametrize("value, unit, text", [
    (62.4, "Minuten", "62\u00a0Minuten"), (1234.6, "€", "1.235\u00a0€"), (0.553, "Anteil", "55,3\u00a0%"),
    (4.26, "1–5", "4,3 von 5"), (None, "€", "–"), (1200.0, "Anzahl", "1.200"),
])
def test_format_value(value, unit, text):
    assert timeseries.format_value(value, unit) == text


def test_ozg_bars_write_the_level_and_duty_in_words():
    dist = pd.DataFrame({"level": [2, 3], "level_de": ["2 – Formular-Assistent", "3 – Online-Leistung"],
                         "count": [1, 4], "ozg_met": [False, True]})
    spec = bars.ozg_levels(dist)
    assert [x["name"] for x in spec["layer"]] == ["bars", "bar_labels"]
    assert [r["label"] for r in spec["datasets"]["levels"]] == ["1 (OZG-Pflicht nicht erfüllt)",
                                                                "4 (OZG-Pflicht erfüllt)"]
    assert spec["config"]["locale"]["number"]["decimal"] == ","


def test_ranking_bars_leave_out_incomplete_maßnahmen():
    ranking = pd.DataFrame({"kommune": ["A", "A"], "massnahme": ["M1", "M2"], "score": [7.26, None],
                            "rank": [1, None]})
    spec = bars.ranking_bars(ranking)
    assert [r["text"] for r in spec["datasets"]["ranking"]] == ["Rang 1: 7,3"]
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, 10]


def test_panels_on_demo_data_have_summary_table_and_spec(demo_db):
    f = Filters(massnahme=("E-Akte Bauamt",), granularity="quarter")
    (panel,) = panels.kpi_panels(demo_db, f, ("bearbeitungszeit_min",))
    assert {"baseline_rule", "lines", "golive_marks", "target_rule"} <= set(layer_names(panel.spec))
    assert panel.summary.startswith("Ø Bearbeitungszeit je Fall (Arbeitszeit): von 95\u00a0Minuten vor der "
                                    "Inbetriebnahme")
    assert panel.table.columns[0] == "Zeitraum" and panel.note is None
    assert len(panel.spec["datasets"]["series"]) == 19  # Q1 2022 … Q3 2026
    everything = panels.kpi_panels(demo_db, Filters(), ("fallzahl",))[0]
    assert "genau eine Maßnahme" in everything.note
    assert len({r["series"] for r in everything.spec["datasets"]["series"]}) == 4  # one line per Kommune


def test_accessibility_table_lists_weakest_bitv_first_when_long(fresh_db):
    from kpi import demo

    demo.load_synthetic(fresh_db, n_kommunen=2, per_kommune=20, years=5, first_year=2021)  # 40 Maßnahmen
    table = panels.accessibility_table(fresh_db)
    assert len(table) == panels.ACCESSIBILITY_ROWS
    scores = [float(t.split("\u00a0")[0].replace(".", "").replace(",", ".")) for t in table["BITV-Test"]
              if t != "–"]
    assert scores == sorted(scores)
    assert list(table.columns[:3]) == ["Kommune", "Maßnahme", "Stand"]


def test_accessibility_table_follows_the_maßnahme_filter(demo_db):
    table = panels.accessibility_table(demo_db, None, ("E-Akte Bauamt",))
    assert list(table["Maßnahme"]) == ["E-Akte Bauamt"]
    assert "gut zugänglich" in table["BITV-Test"].iloc[0] and table["Stand"].iloc[0] == "September 2026"


def test_summary_sentence_ignores_baseline_for_a_view_before_golive():
    df = series_frame([42.0, 44.0], start="2022-02-01")
    b = Baseline("M", "K", 40.0, None, date(2023, 6, 1), date(2024, 5, 1), date(2024, 6, 1), "measured")
    text = timeseries.summary_sentence(df, label="Ø Bearbeitungszeit", unit="Minuten", polarity="lower",
                                       aggregation="wmean_fallzahl", granularity="month", baseline=b)
    # (44 − 42) / 42 = +4,8 % → +5 %
    assert text == ("Ø Bearbeitungszeit: von 42\u00a0Minuten (Februar 2022) auf 44\u00a0Minuten im März 2022 "
                    "gestiegen (+5\u00a0%, eine Verschlechterung).")


def test_series_table_without_pivot_matches_the_pivot():
    # series start and end in different months; 'B' misses March; Gesamt is last in the data
    a = series_frame([1.0, 2.5, 3.0, 4.0], series="A", is_total=False)
    b = series_frame([10.0, 20.0], start="2024-02-01", series="B", is_total=False)
    b = pd.concat([b, series_frame([40.0], start="2024-04-01", series="B", is_total=False)])
    total = series_frame([11.0, 22.5, 3.0, 44.0])
    for df, split in ((pd.concat([a, b, total]), "massnahme"), (pd.concat([total, b]), "kommune"),
                      (total, "total"), (a, "total"), (total, "kommune")):
        fast = timeseries.series_table(df, unit="Minuten", granularity="month", split=split)
        pivot = timeseries._series_table_pivot(df.sort_values("period"), unit="Minuten", granularity="month",
                                               split=split)
        pd.testing.assert_frame_equal(fast, pivot)


def test_series_table_with_a_missing_value_keeps_the_pivots_rules():
    df = pd.concat([series_frame([1.0, None], series="A", is_total=False), series_frame([1.0, 2.0])])
    table = timeseries.series_table(df, unit="€", granularity="month", split="kommune")
    assert table["A"].tolist() == ["1\u00a0€", "–"]


def test_records_match_the_json_value_of_every_cell():
    from kpi.charts import spec

    frame = pd.DataFrame({
        "period": pd.to_datetime(["2024-01-01", "1969-12-31 23:59:59.5", "2024-03-01"], format="ISO8601"),
        "day": [date(2024, 1, 1), None, date(2024, 2, 1)], "text": ["a", None, "c"],
        "value": [1.5, float("nan"), float("inf")], "n": [1, 2, 3], "flag": [True, False, True],
        "count": pd.array([1, None, 3], dtype="Int64"),
    })
    expected = [{c: spec._json_value(v) for c, v in zip(frame.columns, row, strict=True)}
                for row in frame.itertuples(index=False, name=None)]
    got = spec.records(frame)
    assert [[type(v) for v in r.values()] for r in got] == [[type(v) for v in r.values()] for r in expected]
    assert repr(got) == repr(expected)
    assert got[1]["period"] == "1969-12-31T23:59:59" and got[1]["value"] is None
