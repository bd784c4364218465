"""Überblick tiles and Maßnahmen table against hand-computed values on a tiny database."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from kpi import overview
from kpi.background import in_background
from kpi.metrics import engine
from tests.metrics_helpers import load

# One Maßnahme, go-live March 2024, gehobener Dienst (example wage rate 51,30 €/h), rate 3 %.
ROWS = [
    ("A", "M", "fallzahl", "2024-01", 100), ("A", "M", "bearbeitungszeit_min", "2024-01", 60),
    ("A", "M", "papier_kosten_eur", "2024-01", 500), ("A", "M", "online_faelle", "2024-01", 0),
    ("A", "M", "kosten_investition_eur", "2024-01", 3000),
    ("A", "M", "fallzahl", "2024-02", 100), ("A", "M", "bearbeitungszeit_min", "2024-02", 60),
    ("A", "M", "papier_kosten_eur", "2024-02", 500), ("A", "M", "online_faelle", "2024-02", 0),
    ("A", "M", "fallzahl", "2024-03", 100), ("A", "M", "bearbeitungszeit_min", "2024-03", 30),
    ("A", "M", "papier_kosten_eur", "2024-03", 300), ("A", "M", "online_faelle", "2024-03", 50),
    ("A", "M", "bitv_score", "2024-03", 85),
    ("A", "M", "fallzahl", "2024-04", 200), ("A", "M", "bearbeitungszeit_min", "2024-04", 45),
    ("A", "M", "papier_kosten_eur", "2024-04", 200), ("A", "M", "online_faelle", "2024-04", 150),
    ("A", "M", "bitv_score", "2024-04", 92),
]


@pytest.fixture
def tiny_db(fresh_db):
    load(fresh_db, [("A", "M", "2024-03", "gehoben")], ROWS)
    overview._MEMO.clear()
    return fresh_db


def _tiles(c: overview.Cockpit) -> dict[str, overview.Tile]:
    return {t.key: t for t in c.tiles}


def test_six_tiles_as_of_newest_month(tiny_db):
    c = overview.cockpit(tiny_db, "A")
    assert c.as_of == date(2024, 4, 1)
    assert [t.key for t in c.tiles] == ["netto", "amortisation", "bearbeitungszeit", "papier", "bitv", "online"]
    assert c.discount_rate == pytest.approx(0.03)


def test_net_benefit_and_payback_tiles(tiny_db):
    t = _tiles(overview.cockpit(tiny_db, "A"))
    # time saving: Mar 100 × (60 − 30)/60 × 51,30 = 2.565; Apr 200 × (60 − 45)/60 × 51,30 = 2.565
    # paper saving: (500 − 300) + (500 − 200) = 500  → benefits 5.630; costs 3.000 → net 2.630
    assert t["netto"].value == pytest.approx(2630.0)
    assert t["netto"].value_text == "2.630\u00a0€"
    assert t["netto"].status == "gruen" and t["netto"].status_text == "✔ im Plan"
    # a year earlier there was nothing yet: the whole 2.630 € was added in the last 12 months
    assert t["netto"].delta == pytest.approx(2630.0)
    # cumulative (all 2024, t = 0, factor 1): Jan −3.000, Feb −3.000, Mar −235, Apr +2.630 → April 2024
    assert t["amortisation"].value_text == "April 2024"
    assert t["amortisation"].status == "gruen"
    assert "3,0\u00a0%" in t["amortisation"].rule_de


def test_tiles_as_of_an_earlier_period_end(tiny_db):
    t = _tiles(overview.cockpit(tiny_db, "A", period_to=date(2024, 3, 1)))
    # up to March: −3.000 + 2.565 + 200 = −235; it fell since a year ago (0) → red
    assert t["netto"].value == pytest.approx(-235.0)
    assert t["netto"].status == "rot"
    assert t["amortisation"].value_text == "noch nicht"
    assert t["amortisation"].status == "rot"
    assert "235" in t["amortisation"].note_de


def test_processing_time_tile_against_baseline(tiny_db):
    t = _tiles(overview.cockpit(tiny_db, "A"))["bearbeitungszeit"]
    # now: (30·100 + 45·200) / 300 = 40 min; baseline 60 min (Jan/Feb) → −33 % → green (≤ −10 %)
    assert t.value == pytest.approx(40.0)
    assert t.value_text == "40,0 Min."
    assert t.note_de == "Ausgangswert 60,0 Min. (−33\u00a0%)"
    assert t.status == "gruen"
    assert t.delta is None  # no data in the 12 months before
    assert t.delta_good == "inverse"  # fewer minutes is better


def test_paper_online_and_bitv_tiles(tiny_db):
    t = _tiles(overview.cockpit(tiny_db, "A"))
    # paper: baseline 500 €/month; saved 200 (Mar) + 300 (Apr) = 500 €
    assert t["papier"].value == pytest.approx(500.0)
    assert t["papier"].status == "gruen"
    # online: (0 + 0 + 50 + 150) / (100 + 100 + 100 + 200) = 200 / 500 = 40 % → amber (25–50 %)
    assert t["online"].value == pytest.approx(0.4)
    assert t["online"].value_text == "40\u00a0%"
    assert t["online"].status == "gelb" and t["online"].status_text == "▲ gefährdet"
    # BITV: the latest test (April) 92 points → green (≥ 90)
    assert t["bitv"].value == pytest.approx(92.0)
    assert t["bitv"].status == "gruen"
    assert t["bitv"].sparkline == [85.0, 92.0]


def test_massnahmen_table_row(tiny_db):
    table = overview.cockpit(tiny_db, "A").massnahmen
    row = table.iloc[0].to_dict()
    assert row["Kosten bisher"] == pytest.approx(3000.0)
    assert row["Nutzen bisher"] == pytest.approx(5630.0)
    assert row["Nettonutzen bisher"] == pytest.approx(2630.0)
    assert row["Inbetriebnahme"] == "März 2024"
    assert row["Amortisation"] == "April 2024"
    assert row["Status"] == "✔ im Plan"


def test_cost_benefit_series_and_break_even(tiny_db):
    c = overview.cockpit(tiny_db, "A")
    assert c.cost_benefit.months["cum_costs_eur"].tolist() == [3000.0] * 4
    assert c.cost_benefit.months["cum_net_eur"].round(2).tolist() == [-3000.0, -3000.0, -235.0, 2630.0]
    assert c.cost_benefit.break_even == date(2024, 4, 1)
    # period_from only cuts the chart; the cumulated values still include the January investment
    c2 = overview.cockpit(tiny_db, "A", period_from=date(2024, 3, 1))
    assert c2.chart_months["cum_costs_eur"].tolist() == [3000.0, 3000.0]


def test_empty_database_gives_no_tiles(fresh_db):
    overview._MEMO.clear()
    c = overview.cockpit(fresh_db)
    assert c.tiles == [] and c.as_of is None and c.massnahmen.empty


def test_lean_payback_agrees_with_engine_cashflow(demo_db):
    for r in engine.compute_all(demo_db):
        s = r.series
        for cut in (len(s["month_idx"]), 30, 12):
            mi, c, b = s["month_idx"][:cut], s["costs"][:cut], s["benefits"][:cut]
            expected = engine.cashflow(mi, c, b, r.discount_rate).payback_month
            assert overview.payback_month_of(mi, c, b, r.discount_rate) == expected


def test_switching_kommune_reuses_all_kommunen_results(demo_db):
    overview._MEMO.clear()
    everything = overview.engine_results(demo_db)
    one = overview.engine_results(demo_db, "Musterhausen")
    assert {r.massnahme for r in one} == {"Digitale Ratsarbeit", "Online-Antrag Wohngeld"}
    assert all(any(r is e for e in everything) for r in one)
    direct = engine.compute_all(demo_db, kommune="Musterhausen")
    assert [r.npv_eur for r in one] == pytest.approx([r.npv_eur for r in direct])
    assert np.isfinite([r.costs_eur for r in one]).all()


def test_slides_snapshot_stays_frozen_after_a_new_upload(tiny_db):
    import copy
    import dataclasses

    from kpi import slides

    snap = slides.take_snapshot(tiny_db, "A")
    before = copy.deepcopy(dataclasses.asdict(snap))
    assert [s.question for s in snap.slides][:2] == ["Was hat die Digitalisierung gekostet und gebracht?",
                                                      "Wo stehen wir bei den Zielen?"]
    net = next(f for f in snap.slides[0].figures if f.label == "Nettonutzen bisher")
    assert net.value == "2.630\u00a0€"
    assert snap.stand.startswith("Stand: ")

    # someone uploads during the meeting: 10.000 € more running costs in April
    load(tiny_db, [("A", "M", "2024-03", "gehoben")], [("A", "M", "kosten_betrieb_eur", "2024-04", 10_000)],
         file_name="nachtrag.xlsx")
    fresh = slides.take_snapshot(tiny_db, "A")
    fresh_net = next(f for f in fresh.slides[0].figures if f.label == "Nettonutzen bisher")
    assert fresh_net.value == "−7.370\u00a0€"  # 2.630 − 10.000: the data did change …
    assert dataclasses.asdict(snap) == before  # … the meeting's snapshot did not
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.slides[0].figures[0].value = "0 €"  # type: ignore[misc]
    spec = snap.slides[0].chart_spec()
    spec["layer"].clear()  # a caller altering its copy leaves the snapshot intact
    assert snap.slides[0].chart_spec()["layer"]


def test_combined_monthly_sums_massnahmen_per_month_benefits_only_where_computable():
    from types import SimpleNamespace

    def result(first, costs, benefits, budget, computable=True):
        n = len(costs)
        return SimpleNamespace(
            benefits_eur=1.0 if computable else None, benefits_budget_eur=1.0,
            series={"month_idx": np.arange(first, first + n), "costs": np.array(costs, dtype=float),
                    "benefits": np.array(benefits, dtype=float), "benefits_budget": np.array(budget, dtype=float)})

    jan24 = 2024 * 12
    a = result(jan24, [100, 0, 50], [0, 10, 20], [0, 5, 5])
    b = result(jan24 + 1, [7, np.nan], [1000, 1000], [3, 4], computable=False)  # its benefits do not count
    empty = SimpleNamespace(benefits_eur=None, benefits_budget_eur=None, series={})
    df = overview.combined_monthly([a, empty, b])
    assert df["month"].tolist() == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    assert df["costs_eur"].tolist() == [100, 7, 50]  # NaN counts as 0
    assert df["benefits_eur"].tolist() == [0, 10, 20]
    assert df["benefits_budget_eur"].tolist() == [0, 5 + 3, 5 + 4]
    assert overview.combined_monthly([a, b], as_of=date(2024, 2, 15))["costs_eur"].tolist() == [100, 7]
    assert overview.combined_monthly([empty]).empty


def test_in_background_returns_the_value_or_raises_the_error_of_its_thread():
    import threading

    names = []
    done = in_background(lambda: names.append(threading.current_thread().name) or 42)
    assert done() == 42 and names == ["kpi-side"]

    def fails():
        raise ValueError("kaputt")

    with pytest.raises(ValueError, match="kaputt"):
        in_background(fails)()
