"""Accessibility/OZG summaries and peer comparison within size classes, worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from kpi.metrics import accessibility, peers
from tests.metrics_helpers import load


def test_latest_value_previous_value_and_trend(fresh_db):
    rows = [("A", "Portal", "bitv_score", "2024-03", 88.0), ("A", "Portal", "bitv_score", "2024-06", 92.0),
            ("A", "Portal", "wcag_verstoesse", "2024-03", 10.0), ("A", "Portal", "wcag_verstoesse", "2024-06", 12.0),
            ("A", "Portal", "lighthouse_a11y", "2024-06", 97.0)]
    load(fresh_db, [("A", "Portal", "2024-01", "mittel")], rows)
    s = accessibility.accessibility_summary(fresh_db).set_index("kpi")
    assert (s.loc["bitv_score", "value"], s.loc["bitv_score", "previous_value"]) == (92.0, 88.0)
    assert s.loc["bitv_score", "trend"] == "besser" and s.loc["bitv_score", "rating_de"] == "gut zugänglich"
    # +2 open barriers: lower is better
    assert s.loc["wcag_verstoesse", "change"] == 2 and s.loc["wcag_verstoesse", "trend"] == "schlechter"
    assert pd.isna(s.loc["lighthouse_a11y", "previous_value"])
    assert "nur einen Teil der Barrieren" in s.loc["lighthouse_a11y", "note_de"]


@pytest.mark.parametrize("score, text", [(96, "sehr gut zugänglich"), (90, "gut zugänglich"),
                                         (89.5, "nicht gut zugänglich (unter 90 Punkten)")])
def test_bitv_rating(score, text):
    assert accessibility.bitv_rating_de(score) == text


def test_ozg_distribution_counts_latest_level_per_model(fresh_db):
    rows = [("A", "M1", "ozg_reifegrad", "2024-01", 1.0), ("A", "M1", "ozg_reifegrad", "2024-06", 3.0),
            ("A", "M2", "ozg_reifegrad", "2024-06", 3.0), ("A", "M3", "ozg_reifegrad", "2024-06", 4.0),
            ("A", "M3", "ozg_reifegrad_2", "2025-06", 5.0)]
    load(fresh_db, [("A", m, "2024-01", "mittel") for m in ("M1", "M2", "M3")], rows)
    d = accessibility.ozg_distribution(fresh_db)
    v11 = d[d["model"] == "1.1"].set_index("level")["count"].to_dict()
    assert v11 == {0: 0, 1: 0, 2: 0, 3: 2, 4: 1}  # M1's older level 1 does not count
    v20 = d[d["model"] == "2.0"]
    assert len(v20) == 8 and v20.set_index("level").loc[5, "count"] == 1
    assert d[(d["model"] == "1.1") & (d["level"] == 3)]["level_de"].iloc[0] == "3 – Online-Leistung"


def test_peer_comparison_per_inhabitant_within_size_class(fresh_db):
    costs = {"A": 10000.0, "B": 30000.0, "C": 12000.0, "D": 100000.0}
    load(fresh_db, [(k, "M", "2024-01", "mittel") for k in costs],
         [(k, "M", "kosten_betrieb_eur", "2024-01", v) for k, v in costs.items()],
         kommunen=[("A", 10000), ("B", 15000), ("C", 8000), ("D", 50000)])
    df = peers.peer_comparison(fresh_db, "costs_per_inhabitant").set_index("kommune")
    # class 5.000–20.000: A 1.00 €, B 2.00 €, C 1.50 € per inhabitant
    assert df.loc[["A", "B", "C"], "value"].tolist() == pytest.approx([1.0, 2.0, 1.5])
    assert df.loc["A", "median"] == pytest.approx(1.5)
    assert (df.loc["A", "q1"], df.loc["A", "q3"]) == (pytest.approx(1.25), pytest.approx(1.75))
    assert (df.loc["A", "min"], df.loc["A", "max"]) == (1.0, 2.0)
    # costs: lower is better
    assert df.loc[["A", "C", "B"], "rank"].tolist() == [1, 2, 3]
    assert df.loc[["A", "C", "B"], "score_0_100"].tolist() == pytest.approx([100, 50, 0])
    # D is alone in 20.000–100.000
    assert df.loc["D", "size_class"] == "20.000 bis 100.000" and df.loc["D", "rank"] == 1
    assert df.loc["D", "n_in_class"] == 1


def test_peer_comparison_without_population(fresh_db):
    load(fresh_db, [("X", "M", "2024-01", "mittel")], [("X", "M", "kosten_betrieb_eur", "2024-01", 5.0)])
    df = peers.peer_comparison(fresh_db)
    assert pd.isna(df.loc[0, "value"]) and df.loc[0, "size_class"] is None
    with pytest.raises(ValueError, match="Unbekannte Vergleichsgröße"):
        peers.peer_comparison(fresh_db, "foo")
