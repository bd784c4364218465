"""Dashboard series in DuckDB: aggregation rules per KPI checked against hand-computed figures."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from kpi import queries, store
from kpi.filters import Filters
from tests.conftest import frame


@pytest.fixture
def tiny_db(fresh_db):
    """Two Kommunen; A has Maßnahmen M1 (go-live 2024-03) and M2, B has M3. Values Jan–Apr 2024."""
    rows = [
        # Kommune A, M1: fallzahl 10/30/20/40, minutes 60/40/50/20
        ("A", "M1", "fallzahl", "2024-01", 10.0), ("A", "M1", "fallzahl", "2024-02", 30.0),
        ("A", "M1", "fallzahl", "2024-03", 20.0), ("A", "M1", "fallzahl", "2024-04", 40.0),
        ("A", "M1", "bearbeitungszeit_min", "2024-01", 60.0), ("A", "M1", "bearbeitungszeit_min", "2024-02", 40.0),
        ("A", "M1", "bearbeitungszeit_min", "2024-03", 50.0), ("A", "M1", "bearbeitungszeit_min", "2024-04", 20.0),
        ("A", "M1", "online_faelle", "2024-01", 0.0), ("A", "M1", "online_faelle", "2024-02", 3.0),
        ("A", "M1", "online_faelle", "2024-03", 10.0),  # April: no online count reported
        ("A", "M1", "bitv_score", "2024-01", 70.0), ("A", "M1", "bitv_score", "2024-03", 80.0),
        # Kommune A, M2: one month, fallzahl 100, minutes 10
        ("A", "M2", "fallzahl", "2024-01", 100.0), ("A", "M2", "bearbeitungszeit_min", "2024-01", 10.0),
        ("A", "M2", "bitv_score", "2024-02", 90.0),
        # Kommune B, M3
        ("B", "M3", "fallzahl", "2024-01", 5.0), ("B", "M3", "zufriedenheit", "2024-01", 4.0),
        ("B", "M3", "zufriedenheit", "2024-02", 3.0),
    ]
    payload = store.Payload(
        measurements=frame(rows),
        kommunen=pd.DataFrame({"name": ["A", "B"], "ags": [None, None], "einwohner": [10_000, 3_000]}),
        massnahmen=pd.DataFrame({
            "kommune": ["A", "A", "B"], "name": ["M1", "M2", "M3"], "handlungsfeld": ["Verwaltung"] * 3,
            "start_date": [date(2023, 6, 1)] * 3,
            "golive_date": [date(2024, 3, 1), date(2025, 1, 1), date(2024, 2, 1)],
            "laufbahn": ["gehoben"] * 3, "planned_npv_eur": [None] * 3}),
        targets=pd.DataFrame({"kommune": ["A"], "massnahme": ["M1"], "kpi": ["bearbeitungszeit_min"],
                              "target_value": [25.0], "target_date": [date(2024, 12, 31)],
                              "start_value": [None]}),
    )
    store.apply_payload(fresh_db, payload, file_name="tiny", user="test")
    return fresh_db


def values(df: pd.DataFrame, **where) -> list[float]:
    for col, v in where.items():
        df = df[df[col] == v]
    return [round(x, 6) for x in df.sort_values("period")["value"]]


def test_quarter_mean_of_processing_time_is_weighted_by_case_count(tiny_db):
    df = queries.kpi_series(tiny_db, Filters(kommune=("A",)), "bearbeitungszeit_min", by="massnahme",
                            granularity="quarter")
    # M1, Q1 2024: (60·10 + 40·30 + 50·20) / (10 + 30 + 20) = 2800 / 60
    assert values(df, series="M1", period=pd.Timestamp("2024-01-01")) == [round(2800 / 60, 6)]
    # M1, Q2 2024: only April: 20
    assert values(df, series="M1", period=pd.Timestamp("2024-04-01")) == [20.0]
    # total Kommune A, Q1: (2800 + 10·100) / (60 + 100) = 3800 / 160 = 23.75
    assert values(df[df["is_total"]], period=pd.Timestamp("2024-01-01")) == [23.75]


def test_sums_add_up_over_months_and_maßnahmen(tiny_db):
    df = queries.kpi_series(tiny_db, Filters(), "fallzahl", by="kommune", granularity="year")
    # A: 10 + 30 + 20 + 40 + 100 = 200; B: 5; total 205; 4 distinct months for A
    assert values(df, series="A") == [200.0]
    assert values(df, series="B") == [5.0]
    assert values(df[df["is_total"]]) == [205.0]
    assert int(df[df["series"] == "A"]["months"].iloc[0]) == 4


def test_mean_kpi_is_a_plain_mean(tiny_db):
    df = queries.kpi_series(tiny_db, Filters(), "zufriedenheit", by="total", granularity="quarter")
    assert values(df) == [3.5]  # (4 + 3) / 2


def test_last_kpi_takes_newest_value_per_maßnahme_then_mean(tiny_db):
    df = queries.kpi_series(tiny_db, Filters(kommune=("A",)), "bitv_score", by="total", granularity="quarter")
    # Q1: M1 newest = 80 (March), M2 newest = 90 (Feb) → (80 + 90) / 2 = 85
    assert values(df) == [85.0]
    monthly = queries.kpi_series(tiny_db, Filters(kommune=("A",)), "bitv_score", by="total", granularity="month")
    assert values(monthly) == [70.0, 90.0, 80.0]


def test_period_filter_and_kpi_filter_of_other_pages_are_respected_or_ignored(tiny_db):
    f = Filters(period_from=date(2024, 2, 1), period_to=date(2024, 3, 1), kpi=("papier_seiten",))
    df = queries.kpi_series(tiny_db, f, "fallzahl", by="total", granularity="month")
    assert values(df) == [30.0, 20.0]  # Feb, Mar only; the page's KPI wins over a stale KPI filter


def test_online_share_counts_only_months_with_both_values(tiny_db):
    df = queries.ratio_series(tiny_db, Filters(massnahme=("M1",)), "online_faelle", "fallzahl",
                              granularity="quarter")
    # Q1: (0 + 3 + 10) / (10 + 30 + 20) = 13 / 60; Q2: April lacks online_faelle → no value
    assert values(df) == [round(13 / 60, 6)]


def test_selection_splits_by_maßnahme_within_one_kommune_and_by_kommune_otherwise(tiny_db):
    assert queries.selection(tiny_db, Filters(kommune=("A",))).split == "massnahme"
    assert queries.selection(tiny_db, Filters()).split == "kommune"
    one = queries.selection(tiny_db, Filters(massnahme=("M1",)))
    assert (one.split, one.single) == ("total", ("A", "M1"))


def test_golive_marks_inside_the_period_only(tiny_db):
    marks = queries.golive_marks(tiny_db, Filters(period_to=date(2024, 12, 1)))
    assert list(marks["label"]) == ["M3", "M1"]  # M2 goes live in 2025


def test_baseline_is_the_weighted_mean_of_the_months_before_golive(tiny_db):
    b = queries.baseline(tiny_db, "A", "M1", "bearbeitungszeit_min")
    # Jan, Feb before go-live in March: (60·10 + 40·30) / 40 = 45
    assert b.value == pytest.approx(45.0)
    assert (b.window_from, b.window_to, b.source) == (date(2024, 1, 1), date(2024, 2, 1), "measured")
    # sums: the monthly mean, scaled to the chart's period length
    f = queries.baseline(tiny_db, "A", "M1", "fallzahl")
    assert f.value == pytest.approx(20.0) and f.per_bucket("quarter", "sum") == pytest.approx(60.0)


def test_targets_of_the_selected_maßnahme(tiny_db):
    t = queries.targets(tiny_db, Filters(massnahme=("M1",)), "bearbeitungszeit_min")
    assert list(t["target_value"]) == [25.0]
    assert queries.targets(tiny_db, Filters(kommune=("B",)), "bearbeitungszeit_min").empty


def test_unknown_granularity_is_rejected(tiny_db):
    with pytest.raises(ValueError):
        queries.kpi_series(tiny_db, Filters(), "fallzahl", granularity="week")
