"""Quantitative success: change vs. baseline, progress to target (clamped), status by rule and polarity."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from kpi.metrics import success
from tests.metrics_helpers import load

A = "Amtsdorf"
ROWS = [
    # before go-live (2024-01): Ø Bearbeitungszeit weighted by Fallzahl
    (A, "S", "fallzahl", "2023-11", 100.0), (A, "S", "bearbeitungszeit_min", "2023-11", 60.0),
    (A, "S", "fallzahl", "2023-12", 300.0), (A, "S", "bearbeitungszeit_min", "2023-12", 40.0),
    (A, "S", "papier_seiten", "2023-11", 1000.0), (A, "S", "papier_seiten", "2023-12", 1000.0),
    # after go-live
    (A, "S", "fallzahl", "2024-01", 100.0), (A, "S", "bearbeitungszeit_min", "2024-01", 30.0),
    (A, "S", "fallzahl", "2024-02", 200.0), (A, "S", "bearbeitungszeit_min", "2024-02", 36.0),
    (A, "S", "fallzahl", "2024-03", 100.0), (A, "S", "bearbeitungszeit_min", "2024-03", 33.0),
    (A, "S", "papier_seiten", "2024-01", 1100.0), (A, "S", "papier_seiten", "2024-02", 1000.0),
    (A, "S", "papier_seiten", "2024-03", 1060.0),
    (A, "S", "zufriedenheit", "2024-01", 3.2), (A, "S", "zufriedenheit", "2024-02", 3.3),
    (A, "S", "zufriedenheit", "2024-03", 3.4),
    (A, "S", "kosten_betrieb_eur", "2024-01", 100.0),
]
TARGETS = [(A, "S", "bearbeitungszeit_min", 30.0, "2024-12-31", None),
           (A, "S", "zufriedenheit", 4.5, "2024-06-30", 3.0)]


@pytest.fixture
def table(fresh_db):
    load(fresh_db, [(A, "S", "2024-01", "mittel")], ROWS, targets=TARGETS)
    return success.kpi_success(fresh_db, kommune=A).set_index("kpi")


def test_processing_time_change_progress_and_status(table):
    r = table.loc["bearbeitungszeit_min"]
    # baseline (60 × 100 + 40 × 300) / 400 = 45; current = last 3 months weighted by cases:
    # (30 × 100 + 36 × 200 + 33 × 100) / 400 = 13500 / 400 = 33.75
    assert r["baseline"] == pytest.approx(45) and r["current"] == pytest.approx(33.75)
    assert r["change_abs"] == pytest.approx(-11.25) and r["change_pct"] == pytest.approx(-0.25)
    # start = baseline 45 (no start value): progress (33.75 − 45) / (30 − 45) = 0.75
    assert r["start"] == 45 and r["progress"] == pytest.approx(0.75)
    # expected: 01.01.2024 → 31.12.2024 is 365 days, 60 days passed by 01.03.2024 → 0.1644
    assert r["expected_progress"] == pytest.approx(60 / 365)
    assert (r["status"], r["status_text_de"]) == ("gruen", "✓ im Plan")
    assert r["rule_de"] == success.RULE_TARGET_DE


def test_kpi_without_target_uses_polarity(table):
    r = table.loc["papier_seiten"]
    # baseline 1000; current (1100 + 1000 + 1060) / 3 = 1053.33: +5.33 % more pages, lower is better
    assert r["current"] == pytest.approx(3160 / 3)
    assert r["change_pct"] == pytest.approx(160 / 3 / 1000)
    assert (r["status"], r["status_text_de"]) == ("rot", "✗ verschlechtert")
    assert "Ohne Zielwert" in r["rule_de"]
    assert pd.isna(table.loc["fallzahl", "status"])  # no direction: no verdict
    assert "kosten_betrieb_eur" not in table.index  # costs are judged by the cost-benefit figures


def test_target_with_start_value_and_amber_status(table):
    r = table.loc["zufriedenheit"]
    # no baseline (no values before go-live); start value 3.0; current (3.2 + 3.3 + 3.4) / 3 = 3.3
    # progress (3.3 − 3.0) / (4.5 − 3.0) = 0.2; expected 60 / 181 days = 0.3315; 0.2 ≥ 0.3315 − 0.2
    assert r["baseline"] != r["baseline"]  # NaN: no baseline
    assert "kein Ausgangswert" in r["baseline_source"]
    assert r["progress"] == pytest.approx(0.2)
    assert r["expected_progress"] == pytest.approx(60 / 181)
    assert (r["status"], r["status_text_de"]) == ("gelb", "! leicht hinter Plan")


@pytest.mark.parametrize("current, start, target, expected", [
    (50, 0, 40, 1.0),     # beyond the target: clamped to 100 %
    (-5, 0, 40, 0.0),     # wrong direction: clamped to 0 %
    (20, 0, 40, 0.5),     # (20 − 0) / (40 − 0)
    (70, 100, 40, 0.5),   # lower is better: (70 − 100) / (40 − 100) = 0.5
    (1, 1, 1, None),      # target equals start: undefined
])
def test_progress_is_clamped(current, start, target, expected):
    assert success.progress(current, start, target) == expected


@pytest.mark.parametrize("prog, expected, status", [
    (1.0, 0.2, "gruen"), (0.5, 0.5, "gruen"), (0.35, 0.5, "gelb"), (0.25, 0.5, "rot"),
])
def test_status_with_target_rule(prog, expected, status):
    assert success.status_with_target(prog, expected)[0] == status


@pytest.mark.parametrize("change, baseline, polarity, status", [
    (-10, 100, "lower", "gruen"), (10, 100, "lower", "rot"), (4, 100, "higher", "gelb"),
    (6, 100, "higher", "gruen"), (5, 100, "none", None),
])
def test_status_without_target_rule(change, baseline, polarity, status):
    st, text = success.status_without_target(change, baseline, polarity)
    assert st == status and text  # always a text, never colour alone


def test_expected_progress():
    assert success.expected_progress(date(2024, 1, 1), date(2024, 12, 31), date(2025, 6, 1)) == 1.0
    assert success.expected_progress(date(2024, 1, 1), date(2024, 1, 1), date(2024, 1, 1)) == 1.0
