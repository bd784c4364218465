"""Cost-benefit engine: hand-computed worked examples for every formula, plus edge cases."""

from __future__ import annotations

from datetime import date

import numpy_financial as npf
import pandas as pd
import pytest

from kpi import store
from kpi.metrics import engine
from tests.conftest import frame
from tests.metrics_helpers import load

A = "Amtsdorf"

# Worked example 1 ("E-Akte"): weighted baseline, pages × cost per page, a wage rate that changes
# on 01.01.2024, data gaps, other savings, t = 0 in 2022.
EXAMPLE_1 = [
    # before go-live (2023-03): 2 months
    (A, "E-Akte", "fallzahl", "2023-01", 100.0), (A, "E-Akte", "bearbeitungszeit_min", "2023-01", 30.0),
    (A, "E-Akte", "fallzahl", "2023-02", 300.0), (A, "E-Akte", "bearbeitungszeit_min", "2023-02", 40.0),
    (A, "E-Akte", "papier_seiten", "2023-01", 1000.0), (A, "E-Akte", "papier_seiten", "2023-02", 800.0),
    # after go-live; 2023-04 … 2023-12 have no case data (gap)
    (A, "E-Akte", "fallzahl", "2023-03", 200.0), (A, "E-Akte", "bearbeitungszeit_min", "2023-03", 25.5),
    (A, "E-Akte", "papier_seiten", "2023-03", 500.0),
    (A, "E-Akte", "fallzahl", "2024-01", 100.0), (A, "E-Akte", "bearbeitungszeit_min", "2024-01", 31.5),
    (A, "E-Akte", "papier_seiten", "2024-01", 700.0),
    # costs and other documented savings
    (A, "E-Akte", "kosten_investition_eur", "2022-12", 5000.0),
    (A, "E-Akte", "kosten_betrieb_eur", "2023-06", 1000.0),
    (A, "E-Akte", "kosten_betrieb_eur", "2024-01", 500.0),
    (A, "E-Akte", "einsparung_sonstige_eur", "2024-02", 300.0),
]
PARAMS_1 = [("wage_rate_gehoben", 60.0, "2000-01-01"), ("wage_rate_gehoben", 80.0, "2024-01-01"),
            ("cost_per_page_eur", 0.5, "2000-01-01"), ("discount_rate", 0.05, "2000-01-01")]


@pytest.fixture
def example_1(fresh_db):
    load(fresh_db, [(A, "E-Akte", "2023-03", "gehoben")], EXAMPLE_1, parameters=PARAMS_1)
    return engine.compute_massnahme(fresh_db, A, "E-Akte")


def test_baseline_of_processing_time_is_weighted_by_cases(example_1):
    # (30 × 100 + 40 × 300) / (100 + 300) = 15000 / 400 = 37.5 (the plain mean would be 35)
    b = example_1.baseline["bearbeitungszeit_min"]
    assert b.value == pytest.approx(37.5)
    assert (b.method, b.months, b.first_month, b.last_month) == ("vorher", 2, date(2023, 1, 1),
                                                                 date(2023, 2, 1))
    # pages are a sum KPI: monthly mean (1000 + 800) / 2 = 900
    assert example_1.baseline["papier_seiten"].value == pytest.approx(900)
    assert "2 Monate vor dem Go-live" in b.text_de


def test_time_saving_uses_wage_rate_in_force_each_month(example_1):
    # 2023-03: 200 × (37.5 − 25.5) / 60 = 40 h × 60 €/h = 2400 €
    # 2024-01: 100 × (37.5 − 31.5) / 60 = 10 h × 80 €/h (new version from 01.01.2024) = 800 €
    assert example_1.hours_saved == pytest.approx(50)
    assert example_1.time_saving_eur == pytest.approx(2400 + 800)
    assert len(example_1.parameter_versions["wage_rate_gehoben"]) == 2


def test_paper_saving_by_pages_times_cost_per_page(example_1):
    # (900 − 500) × 0.5 + (900 − 700) × 0.5 = 200 + 100 = 300 €
    assert example_1.paper_saving_eur == pytest.approx(300)
    assert "cost_per_page_eur" in example_1.parameter_versions


def test_costs_benefits_net_and_roi(example_1):
    r = example_1
    assert r.costs_eur == pytest.approx(5000 + 1000 + 500)  # 6500
    assert r.other_saving_eur == pytest.approx(300)
    assert r.benefits_eur == pytest.approx(3200 + 300 + 300)  # time + paper + other = 3800
    assert r.benefits_budget_eur == pytest.approx(300 + 300)  # paper + other; time is not budget-effective
    assert r.net_benefit_eur == pytest.approx(3800 - 6500)  # −2700
    assert r.roi == pytest.approx(-2700 / 6500)  # −0.41538
    assert r.net_benefit_budget_eur == pytest.approx(600 - 6500)


def test_npv_yearly_sums_with_t0_first_year_with_a_cost(example_1):
    r = example_1
    # 2022: K 5000, N 0 | 2023: K 1000, N 2400 + 200 = 2600 | 2024: K 500, N 800 + 100 + 300 = 1200
    assert [(y["year"], y["t"], y["costs_eur"], y["benefits_eur"]) for y in r.yearly] == [
        (2022, 0, 5000, 0), (2023, 1, 1000, pytest.approx(2600)), (2024, 2, 500, pytest.approx(1200))]
    # NPV = −5000 + 1600 / 1.05 + 700 / 1.05² = −5000 + 1523.8095 + 634.9206 = −2841.2698
    assert r.first_year == 2022 and r.discount_rate == 0.05
    assert r.npv_eur == pytest.approx(-2841.2698, abs=1e-3)
    assert r.npv_eur == pytest.approx(npf.npv(0.05, [-5000, 1600, 700]))
    # BCR = PV(N) / PV(K) = (2600/1.05 + 1200/1.1025) / (5000 + 1000/1.05 + 500/1.1025)
    #     = (2476.1905 + 1088.4354) / (5000 + 952.3810 + 453.5147) = 3564.6259 / 6405.8957 = 0.55646
    assert r.bcr == pytest.approx(3564.6259 / 6405.8957, rel=1e-6)
    assert r.payback_month is None and r.payback_text_de == "noch nicht amortisiert"
    # budget NPV: yearly net −5000, 200 − 1000 = −800, 400 − 500 = −100
    assert r.npv_budget_eur == pytest.approx(npf.npv(0.05, [-5000, -800, -100]))


def test_data_gaps_are_noted_not_filled(example_1):
    # after go-live 2023-03 … 2024-02 = 12 months; case data only in 2023-03 and 2024-01
    assert any("10 Monate nach dem Go-live ohne Fallzahl" in n for n in example_1.notes)
    assert example_1.not_computable == []


def test_static_payback_and_fte(example_1):
    # after go-live: 12 months; benefits 3800, running costs 1000 + 500 = 1500
    # mean annual net saving = (3800 − 1500) / 12 × 12 = 2300 → 5000 / 2300 = 2.1739 years
    assert example_1.static_payback_years == pytest.approx(5000 / 2300)
    # hours per year = 50 / 12 × 12 = 50; VZÄ = 50 / 1600 (default net annual hours)
    assert example_1.fte_saved == pytest.approx(50 / 1600)


def test_explanations_name_sources_and_parameter_versions(example_1):
    ex = example_1.explanations
    assert set(engine.FIGURES_DE) <= set(ex)
    npv_inputs = {label: (value, source) for label, value, _, source in ex["npv_eur"].inputs}
    assert npv_inputs["Kalkulationszinssatz i"][0] == 0.05
    assert "Parameter discount_rate" in npv_inputs["Kalkulationszinssatz i"][1]
    assert "Upload 1" in " ".join(src for *_, src in ex["costs_eur"].inputs)
    assert ex["benefits_eur"].parameter_versions["wage_rate_gehoben"] == \
        example_1.parameter_versions["wage_rate_gehoben"]
    assert ex["npv_eur"].to_json()["inputs"][0]["label"] == "Kalkulationszinssatz i"


# Worked example 2 ("Wohngeld"): explicit baseline, go-live in the first month of data, payback month.
EXAMPLE_2 = (
    [(A, "Wohngeld", "fallzahl", f"{y}-{m:02d}", 120.0) for y in (2023, 2024) for m in range(1, 13)]
    + [(A, "Wohngeld", "bearbeitungszeit_min", f"{y}-{m:02d}", 45.0) for y in (2023, 2024) for m in range(1, 13)]
    + [(A, "Wohngeld", "kosten_investition_eur", "2023-01", 10000.0)]
)


@pytest.fixture
def example_2(fresh_db):
    load(fresh_db, [(A, "Wohngeld", "2023-01", "gehoben")], EXAMPLE_2,
         parameters=[("wage_rate_gehoben", 60.0, "2000-01-01"), ("discount_rate", 0.05, "2000-01-01")],
         baselines=[(A, "Wohngeld", "bearbeitungszeit_min", 60.0, "Organisationsuntersuchung 2022")])
    return engine.compute_massnahme(fresh_db, A, "Wohngeld")


def test_explicit_baseline_when_go_live_is_first_month_of_data(example_2):
    b = example_2.baseline["bearbeitungszeit_min"]
    assert (b.value, b.method, b.source) == (60.0, "explizit", "Organisationsuntersuchung 2022")
    # each month 120 × (60 − 45) / 60 = 30 h × 60 €/h = 1800 €; 24 months
    assert example_2.time_saving_eur == pytest.approx(24 * 1800)
    assert example_2.hours_saved == pytest.approx(24 * 30)


def test_dynamic_payback_month(example_2):
    # cumulative 2023 (t = 0, factor 1): Jan 1800 − 10000 = −8200, Feb −6400, Mar −4600, Apr −2800,
    # May −1000, Jun +800 → amortised in June 2023
    assert example_2.payback_month == date(2023, 6, 1)
    assert example_2.payback_text_de == "amortisiert im Juni 2023"
    # NPV = (12 × 1800 − 10000) + 12 × 1800 / 1.05 = 11600 + 20571.4286 = 32171.4286
    assert example_2.npv_eur == pytest.approx(32171.4286, abs=1e-3)
    # static: 10000 / (43200 / 24 × 12) = 10000 / 21600 years
    assert example_2.static_payback_years == pytest.approx(10000 / 21600)
    assert example_2.irr is None  # yearly net 11600, 21600: no sign change


def test_payback_month_depends_on_discounting(fresh_db):
    # investment 12000 in 2022 (t = 0); from 2023 (t = 1) other savings 1100 €/month
    rows = [(A, "Q", "kosten_investition_eur", "2022-12", 12000.0)] + \
        [(A, "Q", "einsparung_sonstige_eur", f"2023-{m:02d}", 1100.0) for m in range(1, 13)]
    load(fresh_db, [(A, "Q", "2023-01", "mittel")], rows)
    # rate 0: 11 × 1100 = 12100 ≥ 12000 → November 2023
    assert engine.compute_massnahme(fresh_db, A, "Q", discount_rate=0.0).payback_month == date(2023, 11, 1)
    # rate 5 %: each 2023 month counts 1100 / 1.05 = 1047.62; 11 × = 11523.8 < 12000, 12 × = 12571.4
    r = engine.compute_massnahme(fresh_db, A, "Q", discount_rate=0.05)
    assert r.payback_month == date(2023, 12, 1)
    assert r.payback_month_budget == date(2023, 12, 1)  # other savings are budget-effective
    # IRR: yearly net −12000, 13200 → 13200 / 12000 − 1 = 10 %
    assert r.irr == pytest.approx(0.10)


def test_no_baseline_is_not_computable_not_zero(fresh_db):
    rows = [(A, "Neu", "fallzahl", "2024-01", 50.0), (A, "Neu", "bearbeitungszeit_min", "2024-01", 20.0),
            (A, "Neu", "kosten_betrieb_eur", "2024-01", 100.0)]
    load(fresh_db, [(A, "Neu", "2024-01", "mittel")], rows)
    r = engine.compute_massnahme(fresh_db, A, "Neu")
    assert r.time_saving_eur is None and r.benefits_eur is None
    assert r.net_benefit_eur is None and r.npv_eur is None and r.roi is None and r.bcr is None
    assert r.payback_text_de == "nicht berechenbar"
    assert r.costs_eur == 100.0
    assert any("kein Ausgangswert" in x for x in r.not_computable)
    assert r.baseline["bearbeitungszeit_min"].value is None
    assert "keine Werte in den 12 Monaten vor dem Go-live" in r.baseline["bearbeitungszeit_min"].text_de
    assert r.to_json()["npv_eur"] is None


def test_no_golive_date_is_not_computable(fresh_db):
    rows = [(A, "X", "fallzahl", "2024-01", 50.0), (A, "X", "bearbeitungszeit_min", "2024-01", 20.0)]
    load(fresh_db, [(A, "X", None, "mittel")], rows)
    r = engine.compute_massnahme(fresh_db, A, "X")
    assert r.benefits_eur is None and any("Kein Go-live-Datum" in x for x in r.not_computable)


def test_no_costs(fresh_db):
    rows = [(A, "Gratis", "einsparung_sonstige_eur", "2024-01", 100.0),
            (A, "Gratis", "einsparung_sonstige_eur", "2024-02", 100.0)]
    load(fresh_db, [(A, "Gratis", "2024-01", "mittel")], rows)
    r = engine.compute_massnahme(fresh_db, A, "Gratis")
    assert r.costs_eur == 0 and r.benefits_eur == 200
    assert r.roi is None and r.bcr is None  # division by zero costs
    assert r.npv_eur == pytest.approx(100 + 100)  # both months in t = 0
    assert r.payback_month == date(2024, 1, 1)  # never below zero: the first active month
    assert any("Keine Kosten" in n for n in r.notes)


def test_no_benefits_and_negative_net_forever(fresh_db):
    rows = [(A, "Teuer", "kosten_betrieb_eur", f"{y}-{m:02d}", 1000.0) for y in (2023, 2024)
            for m in range(1, 13)]
    load(fresh_db, [(A, "Teuer", "2023-01", "mittel")], rows,
         parameters=[("discount_rate", 0.05, "2000-01-01")])
    r = engine.compute_massnahme(fresh_db, A, "Teuer")
    assert r.benefits_eur == 0.0 and r.costs_eur == 24000
    assert r.roi == pytest.approx(-1.0)
    # NPV = −12000 − 12000 / 1.05 = −23428.5714
    assert r.npv_eur == pytest.approx(-12000 - 12000 / 1.05)
    assert r.payback_month is None and r.payback_text_de == "noch nicht amortisiert"
    assert r.static_payback_years is None and r.irr is None


def test_quarterly_values_are_spread_over_months(fresh_db):
    # a quarterly cost of 3000 (Q1 2024) = 1000 in Jan, Feb, Mar; monthly Jan value wins over the quarter
    f = pd.concat([
        frame([(A, "Q", "kosten_betrieb_eur", "2024-01", 500.0)]),
        pd.DataFrame([{"kommune": A, "massnahme": "Q", "kpi": "kosten_betrieb_eur",
                       "period_start": date(2024, 1, 1), "granularity": "quarter", "value": 3000.0,
                       "note": None}]),
    ])
    load(fresh_db, [(A, "Q", "2024-01", "mittel")], [])
    store.apply(fresh_db, f, file_name="q.xlsx")
    r = engine.compute_massnahme(fresh_db, A, "Q")
    assert r.costs_eur == pytest.approx(500 + 1000 + 1000)


def test_discount_rate_argument_changes_npv_not_net(example_1, fresh_db):
    r0 = engine.compute_massnahme(fresh_db, A, "E-Akte", discount_rate=0.0)
    assert r0.npv_eur == pytest.approx(r0.net_benefit_eur)  # zero rate: NPV = NB
    assert r0.net_benefit_eur == pytest.approx(example_1.net_benefit_eur)
    assert r0.npv_eur != pytest.approx(example_1.npv_eur)
    assert "discount_rate" not in r0.parameter_versions  # given by the caller, not a stored version


def test_discount_rate_version_by_as_of(fresh_db):
    load(fresh_db, [(A, "E-Akte", "2023-03", "gehoben")], EXAMPLE_1,
         parameters=PARAMS_1 + [("discount_rate", 0.02, "2025-01-01")])
    assert engine.compute_massnahme(fresh_db, A, "E-Akte", as_of=date(2024, 6, 1)).discount_rate == 0.05
    assert engine.compute_massnahme(fresh_db, A, "E-Akte", as_of=date(2025, 6, 1)).discount_rate == 0.02


def test_unknown_massnahme_raises_german_error(fresh_db):
    with pytest.raises(engine.MetricsError, match="gibt es nicht"):
        engine.compute_massnahme(fresh_db, A, "Fehlt")


def test_aggregate_recomputes_npv_on_combined_cash_flow(fresh_db):
    load(fresh_db, [(A, "E-Akte", "2023-03", "gehoben"), (A, "Wohngeld", "2023-01", "gehoben")],
         EXAMPLE_1 + EXAMPLE_2, parameters=PARAMS_1,
         baselines=[(A, "Wohngeld", "bearbeitungszeit_min", 60.0, "OU")])
    results = engine.compute_all(fresh_db)
    (agg,) = engine.aggregate(results, "kommune")
    (overall,) = engine.aggregate(results, "overall")
    assert agg.kommune == A and agg.n_massnahmen == 2 and overall.kommune is None
    # Wohngeld at 60 €/h in 2023 and 80 €/h in 2024 (the dated version applies to it too):
    # 2023: 12 × 1800 = 21600; 2024: 12 × 120 × 15 / 60 × 80 = 28800
    # combined yearly: 2022 K 5000 | 2023 K 1000 + 10000, N 2600 + 21600 | 2024 K 500, N 1200 + 28800
    net = [-5000, 2600 + 21600 - 11000, 1200 + 28800 - 500]
    assert agg.npv_eur == pytest.approx(npf.npv(0.05, net))
    assert agg.costs_eur == pytest.approx(6500 + 10000)
    assert agg.benefits_eur == pytest.approx(3800 + 21600 + 28800)
    assert agg.roi == pytest.approx(agg.net_benefit_eur / agg.costs_eur)
    assert overall.npv_eur == pytest.approx(agg.npv_eur)


def test_monthly_series_cumulative_columns(fresh_db):
    load(fresh_db, [(A, "E-Akte", "2023-03", "gehoben")], EXAMPLE_1, parameters=PARAMS_1)
    s = engine.monthly_series(fresh_db, kommune=A)
    r = engine.compute_massnahme(fresh_db, A, "E-Akte")
    # dense months 2022-12 … 2024-02 = 15 rows, gaps included
    assert len(s) == 15 and s["month"].iloc[0] == date(2022, 12, 1)
    assert set(engine.SERIES_COLUMNS) <= set(s.columns)
    assert s["cum_net_eur"].iloc[-1] == pytest.approx(r.net_benefit_eur)
    assert s["cum_net_discounted_eur"].iloc[-1] == pytest.approx(r.npv_eur)
    march = s[s["month"] == date(2023, 3, 1)].iloc[0]
    assert march["time_saving_eur"] == pytest.approx(2400) and march["paper_saving_eur"] == pytest.approx(200)
    assert march["hours_saved"] == pytest.approx(40)


def test_plan_vs_actual(fresh_db):
    load(fresh_db, [(A, "E-Akte", "2023-03", "gehoben")], EXAMPLE_1, parameters=PARAMS_1,
         plans=[(A, "E-Akte", 2023, 2000.0, 2000.0), (A, "E-Akte", 2024, 500.0, 1500.0),
                (A, "E-Akte", 2025, 500.0, 1500.0)])
    rows = engine.compute_massnahme(fresh_db, A, "E-Akte").plan_vs_actual
    y2023, y2024, y2025, total = rows
    # 2023: actual costs 1000 vs plan 2000 → −1000 (−50 %); benefits 2600 vs 2000 → +600 (+30 %)
    assert (y2023["dev_costs_eur"], y2023["dev_costs_pct"]) == (pytest.approx(-1000), pytest.approx(-0.5))
    assert (y2023["dev_benefits_eur"], y2023["dev_benefits_pct"]) == (pytest.approx(600), pytest.approx(0.3))
    assert y2024["note_de"] == "Jahr unvollständig (2 von 12 Monaten)"
    assert y2025["actual_costs_eur"] is None and y2025["note_de"] == "noch keine Ist-Werte"
    # total over 2023 + 2024: plan net (2000 + 1500) − (2000 + 500) = 1000; actual (2600 + 1200) − 1500 = 2300
    assert total["year"] is None
    assert total["plan_net_eur"] == pytest.approx(1000) and total["actual_net_eur"] == pytest.approx(2300)
    assert total["dev_net_pct"] == pytest.approx(1.3)


def test_json_has_required_keys(example_1):
    j = example_1.to_json()
    for key in ("kommune", "massnahme", "costs_eur", "benefits_eur", "benefits_budget_eur", "net_benefit_eur",
                "roi", "npv_eur", "bcr", "payback_month", "discount_rate", "baseline"):
        assert key in j
    assert j["baseline"]["bearbeitungszeit_min"]["method"] == "vorher"


def test_table_de_is_german(example_1):
    text = engine.table_de([example_1])
    assert "−2.700\u00a0€" in text and "Kapitalwert" in text and "noch nicht amortisiert" in text


def test_material_cost_difference_per_case(fresh_db):
    # Sachkosten je Fall 2.00 € until 2023, 0.50 € from 01.01.2024 (the go-live month): 1.50 € per case saved
    rows = [(A, "M", "fallzahl", "2023-12", 100.0), (A, "M", "bearbeitungszeit_min", "2023-12", 30.0),
            (A, "M", "fallzahl", "2024-01", 100.0), (A, "M", "bearbeitungszeit_min", "2024-01", 24.0)]
    load(fresh_db, [(A, "M", "2024-01", "einfach")], rows,
         parameters=[("wage_rate_einfach", 40.0, "2000-01-01"), ("material_cost_per_case_eur", 2.0, "2000-01-01"),
                     ("material_cost_per_case_eur", 0.5, "2024-01-01")])
    r = engine.compute_massnahme(fresh_db, A, "M")
    # 100 × (30 − 24) / 60 × 40 = 400 € time + 100 × (2.00 − 0.50) = 150 € material
    assert r.time_saving_eur == pytest.approx(400 + 150)
    assert len(r.parameter_versions["material_cost_per_case_eur"]) == 2


def test_massnahme_without_any_values(fresh_db):
    load(fresh_db, [(A, "Leer", "2024-01", "mittel"), (A, "Voll", "2024-01", "mittel")],
         [(A, "Voll", "kosten_betrieb_eur", "2024-01", 10.0)])
    leer, voll = engine.compute_all(fresh_db)
    assert leer.massnahme == "Leer" and leer.costs_eur == 0 and leer.benefits_eur == 0
    assert leer.payback_month is None and leer.yearly == []
    (agg,) = engine.aggregate([leer, voll], "overall")
    assert agg.costs_eur == 10 and agg.npv_eur == pytest.approx(-10)
    assert len(engine.series_frame([leer, voll])) == 1


def test_partly_computable_benefits_are_flagged(fresh_db):
    # paper has a baseline (Dec 2023), processing time has none: benefits = paper only, with a reason
    rows = [(A, "T", "papier_kosten_eur", "2023-12", 500.0), (A, "T", "papier_kosten_eur", "2024-01", 200.0),
            (A, "T", "fallzahl", "2024-01", 10.0), (A, "T", "bearbeitungszeit_min", "2024-01", 20.0)]
    load(fresh_db, [(A, "T", "2024-01", "mittel")], rows)
    r = engine.compute_massnahme(fresh_db, A, "T")
    assert r.paper_saving_eur == pytest.approx(500 - 200) and r.time_saving_eur is None
    assert r.benefits_eur == pytest.approx(300) and r.benefits_budget_eur == pytest.approx(300)
    assert not r.complete and any("Zeitersparnis nicht berechenbar" in x for x in r.not_computable)
    assert "Hinweis Amtsdorf – T: Zeitersparnis nicht berechenbar" in engine.table_de([r])


def test_static_payback_counts_project_costs_before_golive_as_investment(fresh_db):
    rows = [(A, "S", "kosten_investition_eur", "2023-11", 4000.0), (A, "S", "kosten_personal_eur", "2023-12", 1000.0)]
    rows += [(A, "S", "kosten_betrieb_eur", f"2024-{m:02d}", 100.0) for m in range(1, 13)]
    rows += [(A, "S", "einsparung_sonstige_eur", f"2024-{m:02d}", 1100.0) for m in range(1, 13)]
    load(fresh_db, [(A, "S", "2024-01", "mittel")], rows)
    r = engine.compute_massnahme(fresh_db, A, "S")
    # investment 4000 + 1000 (project staff before go-live) = 5000
    # annual net saving (12 × 1100 − 12 × 100) / 12 months × 12 = 12000 → 5000 / 12000 = 0.4167 years
    assert r.investment_eur == 5000
    assert r.static_payback_years == pytest.approx(5000 / 12000)


def test_a_pickled_result_keeps_its_explanations_but_not_the_shared_context(demo_db):
    import pickle

    results = engine.compute_all(demo_db)
    r = next(x for x in results if x.massnahme == "Online-Antrag Wohngeld")
    copy = pickle.loads(pickle.dumps(r))
    assert copy._explain_ctx is None and copy._plan is None  # st.cache_data stores no other Maßnahme's sources
    assert copy.to_json(detail=True) == r.to_json(detail=True)


def test_budget_figures_from_other_savings_when_paper_is_not_computable(fresh_db):
    # "P": paper pages after go-live but no paper baseline → paper saving not computable; the
    # budget-effective figures then rest on the other savings alone (and one Maßnahme without any
    # values is computed in the same run, between the others)
    rows = [(A, "P", "kosten_investition_eur", "2023-12", 1000.0),
            (A, "P", "papier_seiten", "2024-01", 400.0), (A, "P", "papier_seiten", "2024-02", 300.0),
            (A, "P", "einsparung_sonstige_eur", "2024-01", 200.0),
            (A, "P", "einsparung_sonstige_eur", "2025-03", 900.0),
            (A, "Z", "kosten_betrieb_eur", "2024-05", 50.0)]
    load(fresh_db, [(A, "P", "2024-01", "mittel"), (A, "Ohne Werte", "2024-01", "mittel"),
                    (A, "Z", "2024-01", "mittel")], rows)
    by = {r.massnahme: r for r in engine.compute_all(fresh_db, discount_rate=0.05)}
    p = by["P"]
    assert p.paper_saving_eur is None and any("Papierersparnis nicht berechenbar" in x for x in p.not_computable)
    assert p.benefits_budget_eur == 1100.0  # 200 + 900, other savings only
    # yearly budget net: 2023: −1000 | 2024: 200 | 2025: 900 → −1000 + 200/1.05 + 900/1.05² = −1000 + 190.4762 + 816.3265
    assert p.npv_budget_eur == pytest.approx(6.8027, abs=1e-4)
    assert p.npv_budget_eur == pytest.approx(npf.npv(0.05, [-1000, 200, 900]))
    # cumulative discounted net: −1000 (12/2023), −809.52 (01/2024) … +6.80 from 03/2025 on
    assert p.payback_month_budget == date(2025, 3, 1)
    # the total counts what is computable: no processing-time data (0), other savings 1100
    assert (p.benefits_eur, p.npv_eur) == (1100.0, p.npv_budget_eur)
    empty = by["Ohne Werte"]
    assert (empty.costs_eur, empty.first_year, empty.yearly, empty.npv_budget_eur) == (0.0, None, [], 0.0)
    z = by["Z"]
    assert (z.costs_eur, z.npv_eur, z.net_benefit_eur) == (50.0, -50.0, -50.0)


def test_explanations_name_the_uploads_of_the_data_they_were_computed_from(fresh_db):
    load(fresh_db, [(A, "E-Akte", "2023-03", "gehoben")], EXAMPLE_1, parameters=PARAMS_1)
    current = engine.compute_massnahme(fresh_db, A, "E-Akte")
    earlier = engine.compute_massnahme(fresh_db, A, "E-Akte")
    assert "Upload 1" in " ".join(src for *_, src in current.explanations["costs_eur"].inputs)
    # a second upload after `earlier` was computed: its uploads are no longer knowable, and it says so
    load(fresh_db, [], [(A, "E-Akte", "kosten_betrieb_eur", "2024-02", 10.0)], file_name="zwei.xlsx")
    texts = " ".join(src for *_, src in earlier.explanations["costs_eur"].inputs)
    assert "Upload" not in texts and "nicht mehr bestimmbar (die Daten wurden seit der Berechnung geändert)" in texts
    fresh = engine.compute_massnahme(fresh_db, A, "E-Akte")
    assert "Uploads 1, 2" in " ".join(src for *_, src in fresh.explanations["costs_eur"].inputs)


def test_results_do_not_keep_their_database_open_and_give_each_irr_on_demand():
    import gc
    import pickle
    import weakref

    from kpi.db import open_database

    db = open_database(":memory:")
    rows = [(A, "Q", "kosten_investition_eur", "2022-12", 12000.0)] + \
        [(A, "Q", "einsparung_sonstige_eur", f"2023-{m:02d}", 1100.0) for m in range(1, 13)] + \
        [(A, "R", "kosten_betrieb_eur", "2023-01", 10.0)]
    load(db, [(A, "Q", "2023-01", "mittel"), (A, "R", "2023-01", "mittel")], rows)
    q, r = engine.compute_all(db, discount_rate=0.05)
    closed = engine.compute_all(db)[1]
    # IRR of Q: yearly net −12000, 13200 → 10 %; R has no sign change → None
    assert (q.irr, r.irr) == (pytest.approx(0.10), None)
    # memoised results must not hold a database open (the same file could then not be opened again)
    ref = weakref.ref(db)
    db.close()
    assert "nicht mehr bestimmbar" in " ".join(src for *_, src in closed.explanations["costs_eur"].inputs)
    del db
    gc.collect()
    assert ref() is None
    assert "nicht mehr bestimmbar" in " ".join(src for *_, src in r.explanations["costs_eur"].inputs)
    assert pickle.loads(pickle.dumps(q)).irr == q.irr  # a pickled copy (st.cache_data) keeps its IRR


def test_compute_all_resumes_garbage_collection_even_when_it_fails(fresh_db, monkeypatch):
    import gc

    load(fresh_db, [(A, "E-Akte", "2023-03", "gehoben")], EXAMPLE_1, parameters=PARAMS_1)
    assert gc.isenabled()
    engine.compute_all(fresh_db)
    assert gc.isenabled()

    def broken(*args, **kwargs):
        raise RuntimeError("kaputt")

    monkeypatch.setattr(engine, "_one_result", broken)
    with pytest.raises(RuntimeError, match="kaputt"):
        engine.compute_all(fresh_db)
    assert gc.isenabled()


def test_results_are_freed_without_the_cyclic_collector(fresh_db):
    """A dropped list of results (a data change replaces the memoised ones) is freed at once, IRR read
    or not: no reference cycle keeps 1.000 results and their monthly arrays alive."""
    import gc
    import weakref

    load(fresh_db, [(A, "E-Akte", "2023-03", "gehoben")], EXAMPLE_1, parameters=PARAMS_1)
    gc.disable()
    try:
        for read_irr in (False, True):
            results = engine.compute_all(fresh_db)
            if read_irr:
                assert results[0].irr is None or isinstance(results[0].irr, float)
            ref = weakref.ref(results[0])
            del results
            assert ref() is None, read_irr
    finally:
        gc.enable()
