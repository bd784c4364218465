"""Sensitivity: break-even values (NPV = 0) by bisection and tornado data at ±20 %, worked by hand."""

from __future__ import annotations

import pytest

from kpi.metrics import engine, sensitivity
from tests.metrics_helpers import load

A = "Amtsdorf"
# 24 months × 120 cases, 60 → 45 minutes (explicit baseline), 60 €/h, investment 10000 in 2023-01
ROWS = ([(A, "W", "fallzahl", f"{y}-{m:02d}", 120.0) for y in (2023, 2024) for m in range(1, 13)]
        + [(A, "W", "bearbeitungszeit_min", f"{y}-{m:02d}", 45.0) for y in (2023, 2024) for m in range(1, 13)]
        + [(A, "W", "kosten_investition_eur", "2023-01", 10000.0)])


@pytest.fixture
def result(fresh_db):
    load(fresh_db, [(A, "W", "2023-01", "gehoben")], ROWS,
         parameters=[("wage_rate_gehoben", 60.0, "2000-01-01"), ("discount_rate", 0.05, "2000-01-01")],
         baselines=[(A, "W", "bearbeitungszeit_min", 60.0, "OU 2022")])
    return engine.compute_massnahme(fresh_db, A, "W")


def test_break_even_of_cases_minutes_and_wage(result):
    # yearly time saving 12 × 1800 = 21600 (t = 0 and t = 1); NPV(f) = f × (21600 + 21600 / 1.05) − 10000
    # = 42171.4286 f − 10000 → f* = 0.2371274
    f_star = 10000 / (21600 + 21600 / 1.05)
    be = {b.key: b for b in sensitivity.break_even(result)}
    assert be["cases"].current == pytest.approx(1440)  # 120 per month × 12
    assert be["cases"].break_even_value == pytest.approx(1440 * f_star, rel=1e-6)  # 341.46 per year
    assert be["minutes"].current == pytest.approx(15)
    assert be["minutes"].break_even_value == pytest.approx(15 * f_star, rel=1e-6)  # 3.56 minutes
    assert be["wage"].break_even_value == pytest.approx(60 * f_star, rel=1e-6)  # 14.23 €/h
    assert be["cases"].sentence_de == ("Die Maßnahme bleibt wirtschaftlich, solange die Fallzahl über "
                                       "341 pro Jahr liegt (derzeit 1.440 pro Jahr).")
    # NPV(i) = 11600 + 21600 / (1 + i) > 0 for every rate: no break-even rate
    assert be["rate"].break_even_value is None and "bei jedem Kalkulationszinssatz" in be["rate"].sentence_de


def test_break_even_discount_rate(fresh_db):
    # investment 12000 in 2022 (t = 0), other savings 13200 in 2023 (t = 1): NPV(i) = −12000 + 13200 / (1 + i)
    # → NPV = 0 at i = 13200 / 12000 − 1 = 10 %
    rows = [(A, "Q", "kosten_investition_eur", "2022-12", 12000.0)] + \
        [(A, "Q", "einsparung_sonstige_eur", f"2023-{m:02d}", 1100.0) for m in range(1, 13)]
    load(fresh_db, [(A, "Q", "2023-01", "mittel")], rows)
    r = engine.compute_massnahme(fresh_db, A, "Q", discount_rate=0.05)
    be = {b.key: b for b in sensitivity.break_even(r)}
    assert be["rate"].break_even_value == pytest.approx(0.10, abs=1e-8)
    assert be["rate"].sentence_de == ("Die Maßnahme bleibt wirtschaftlich, solange der Kalkulationszinssatz "
                                      "unter 10,00\u00a0% liegt (derzeit 5,00\u00a0%).")
    # no time saving: cases, minutes and wage do not matter
    assert be["cases"].break_even_value is None and "keine Zeitersparnis" in be["cases"].sentence_de


def test_not_economic_sentence(fresh_db):
    # the same time saving but an investment of 50000: NPV = 42171.43 − 50000 < 0
    rows = [r for r in ROWS if r[2] != "kosten_investition_eur"] + [(A, "W", "kosten_investition_eur", "2023-01", 50000.0)]
    load(fresh_db, [(A, "W", "2023-01", "gehoben")], rows,
         parameters=[("wage_rate_gehoben", 60.0, "2000-01-01"), ("discount_rate", 0.05, "2000-01-01")],
         baselines=[(A, "W", "bearbeitungszeit_min", 60.0, "OU 2022")])
    be = {b.key: b for b in sensitivity.break_even(engine.compute_massnahme(fresh_db, A, "W"))}
    # f* = 50000 / 42171.4286 = 1.18564 → 1707.3 cases per year
    assert be["cases"].break_even_value == pytest.approx(1440 * 50000 / (21600 + 21600 / 1.05), rel=1e-6)
    assert be["cases"].sentence_de.startswith("Die Maßnahme ist derzeit nicht wirtschaftlich; sie würde es")


def test_tornado_at_plus_minus_20_percent(result):
    t = sensitivity.tornado(result).set_index("key")
    k = 21600 + 21600 / 1.05  # PV of the time saving at 100 %
    base = k - 10000
    assert t.loc["cases", "base_npv"] == pytest.approx(base)
    assert t.loc["cases", "low_npv"] == pytest.approx(0.8 * k - 10000)
    assert t.loc["cases", "high_npv"] == pytest.approx(1.2 * k - 10000)
    assert t.loc["costs", "high_npv"] == pytest.approx(k - 12000)
    # rate 4 % and 6 %: 11600 + 21600 / 1.04 and 11600 + 21600 / 1.06
    assert t.loc["rate", "low_npv"] == pytest.approx(11600 + 21600 / 1.04)
    assert t.loc["rate", "high_npv"] == pytest.approx(11600 + 21600 / 1.06)
    assert list(t["swing_eur"]) == sorted(t["swing_eur"], reverse=True)


def test_bisect_root():
    assert sensitivity.bisect_root(lambda x: x * x - 2, 0, 2) == pytest.approx(2 ** 0.5)
    assert sensitivity.bisect_root(lambda x: x + 1, 0, 2) is None


def test_sensitivity_refuses_when_npv_not_computable(fresh_db):
    load(fresh_db, [(A, "N", "2024-01", "mittel")],
         [(A, "N", "fallzahl", "2024-01", 5.0), (A, "N", "bearbeitungszeit_min", "2024-01", 5.0)])
    with pytest.raises(engine.MetricsError, match="nicht berechenbar"):
        sensitivity.break_even(fresh_db, A, "N")
