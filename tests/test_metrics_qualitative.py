"""Nutzwertanalyse: weight validation, weighted score, ranking, ranking sensitivity (−10 points rule)."""

from __future__ import annotations

import pandas as pd
import pytest

from kpi.metrics import qualitative as q
from tests.metrics_helpers import load

A = "Amtsdorf"
CRITERIA = [("Bürgerfreundlichkeit", 50.0), ("Barrierefreiheit", 30.0), ("Datenschutz", 20.0)]


def scored_db(db, m1=(10, 1, 0)):
    names = [c for c, _ in CRITERIA]
    scores = []
    for m, pts in (("M1", m1), ("M2", (4, 8, 8)), ("M3", (6, 6, 2))):
        scores += [(A, m, c, float(p)) for c, p in zip(names, pts, strict=True)]
    load(db, [(A, "M1", None, "mittel"), (A, "M2", None, "mittel"), (A, "M3", None, "mittel")], [],
         criteria=CRITERIA, scores=scores)
    return db


def test_weighted_score_and_rank(fresh_db):
    r = q.utility_ranking(scored_db(fresh_db)).set_index("massnahme")
    # M1: 0.5 × 10 + 0.3 × 1 + 0.2 × 0 = 5.3; M2: 0.5 × 4 + 0.3 × 8 + 0.2 × 8 = 6.0;
    # M3: 0.5 × 6 + 0.3 × 6 + 0.2 × 2 = 5.2
    assert r["score"].to_dict() == pytest.approx({"M1": 5.3, "M2": 6.0, "M3": 5.2})
    assert r["rank"].to_dict() == {"M2": 1, "M1": 2, "M3": 3}


def test_ranking_sensitivity_detects_a_change(fresh_db):
    res = q.ranking_sensitivity(scored_db(fresh_db))
    # heaviest 50 → 40; the 10 points go 30:20 to the others → 36 and 24
    # M1: 0.4 × 10 + 0.36 × 1 = 4.36; M2: 1.6 + 2.88 + 1.92 = 6.4; M3: 2.4 + 2.16 + 0.48 = 5.04
    assert res.holds is False
    ch = res.changed.set_index("massnahme")
    assert ch.loc["M1", "rank_after"] == 3 and ch.loc["M3", "rank_after"] == 2
    assert ch.loc["M1", "score_after"] == pytest.approx(4.36)
    assert "„Bürgerfreundlichkeit“ sinkt um 10 Prozentpunkte" in res.text_de


def test_ranking_sensitivity_holds(fresh_db):
    res = q.ranking_sensitivity(scored_db(fresh_db, m1=(10, 0, 0)))
    # before: M2 6.0, M3 5.2, M1 5.0; after: M2 6.4, M3 5.04, M1 4.0 → unchanged
    assert res.holds is True and res.changed.empty
    assert res.text_de.startswith("Die Rangfolge bleibt unverändert.")


def test_shifted_weights_rule():
    heaviest, w = q.shifted_weights({"a": 50.0, "b": 30.0, "c": 20.0})
    assert heaviest == "a" and w == pytest.approx({"a": 40.0, "b": 36.0, "c": 24.0})
    assert sum(w.values()) == pytest.approx(100)


def test_missing_score_gives_no_score_not_zero(fresh_db):
    load(fresh_db, [(A, "M1", None, "mittel")], [], criteria=CRITERIA,
         scores=[(A, "M1", "Bürgerfreundlichkeit", 10.0)])
    r = q.utility_ranking(fresh_db).iloc[0]
    assert pd.isna(r["score"]) and "Barrierefreiheit" in r["missing_de"]


@pytest.mark.parametrize("rows, message", [
    ([("a", 50), ("b", 40)], "ergeben zusammen 90,0 %"),
    ([("a", 50), ("a", 50)], "mehrfach"),
    ([("a", 120), ("b", -20)], "nicht zwischen 0 und 100"),
    ([("a", "viel"), ("b", 100)], "keine Zahl"),
    ([("", 100)], "Name des Kriteriums fehlt"),
])
def test_validate_weights_rejects(rows, message):
    errors = q.validate_weights(pd.DataFrame(rows, columns=["name", "weight_pct"]))
    assert any(message in e for e in errors)


def test_validate_weights_accepts_sum_of_100():
    assert q.validate_weights(pd.DataFrame([("a", 33.33), ("b", 33.33), ("c", 33.34)],
                                           columns=["name", "weight_pct"])) == []


def test_save_weights_validates_and_audits(fresh_db):
    with pytest.raises(q.QualitativeError, match="100 %"):
        q.save_weights(fresh_db, pd.DataFrame([("a", 10)], columns=["name", "weight_pct"]), "anna")
    q.save_weights(fresh_db, pd.DataFrame([("a", 60), ("b", 40)], columns=["name", "weight_pct"]), "anna")
    assert q.weights(fresh_db).values.tolist() == [["a", 60.0], ["b", 40.0]]
    assert fresh_db.query("SELECT user_name, action FROM audit WHERE action = 'weights'") == [("anna", "weights")]


def test_save_scores(fresh_db):
    scored_db(fresh_db)
    n = q.save_scores(fresh_db, pd.DataFrame([(A, "M1", "Datenschutz", 7.0)],
                                             columns=["kommune", "massnahme", "criterion", "score"]), "anna")
    assert n == 1
    assert q.utility_ranking(fresh_db).set_index("massnahme").loc["M1", "score"] == pytest.approx(5.3 + 1.4)
    with pytest.raises(q.QualitativeError, match="zwischen 0 und 10"):
        q.save_scores(fresh_db, pd.DataFrame([(A, "M1", "Datenschutz", 11.0)],
                                             columns=["kommune", "massnahme", "criterion", "score"]), "anna")
