"""Property tests: the engine's NPV is numpy_financial.npv on yearly sums; zero rate gives the net benefit."""

from __future__ import annotations

import os

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi.metrics import engine

MAX_EXAMPLES = int(os.environ.get("KPI_HYPOTHESIS_EXAMPLES", "60"))

money = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
monthly = st.lists(st.tuples(st.floats(0, 1e5), st.floats(0, 1e5)), min_size=1, max_size=60)
rates = st.floats(min_value=0.0, max_value=0.2)


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(st.lists(money, min_size=1, max_size=30), rates)
def test_npv_equals_numpy_financial(flows, rate):
    assert np.isclose(engine.npv(rate, flows), npf.npv(rate, flows), rtol=1e-12, atol=1e-6)


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(monthly, st.integers(2015 * 12, 2030 * 12), rates)
def test_cashflow_npv_is_npv_of_yearly_sums(values, first_month, rate):
    costs = np.array([c for c, _ in values])
    benefits = np.array([b for _, b in values])
    months = np.arange(first_month, first_month + len(values))
    cf = engine.cashflow(months, costs, benefits, rate)
    if cf.first_year is None:
        assert not costs.any() and not benefits.any()
        return
    years = months // 12
    active = (costs != 0) | (benefits != 0)
    t0 = years[active].min()
    yearly = [float((benefits - costs)[years == y].sum()) for y in range(t0, years.max() + 1)]
    scale = max(1.0, float(np.abs(costs).sum() + np.abs(benefits).sum()))
    assert np.isclose(cf.npv, npf.npv(rate, yearly), atol=1e-9 * scale)
    # the monthly discounted series ends at the NPV (the documented monthly convention)
    assert np.isclose(cf.cum_net_discounted[-1], cf.npv, atol=1e-9 * scale)
    # payback exists exactly when the NPV is not negative
    assert (cf.payback_month is not None) == (cf.npv >= -1e-9)


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(monthly, st.integers(2015 * 12, 2030 * 12))
def test_zero_rate_npv_is_net_benefit(values, first_month):
    costs = np.array([c for c, _ in values])
    benefits = np.array([b for _, b in values])
    months = np.arange(first_month, first_month + len(values))
    cf = engine.cashflow(months, costs, benefits, 0.0)
    scale = max(1.0, float(costs.sum() + benefits.sum()))
    if cf.first_year is not None:
        assert np.isclose(cf.npv, benefits.sum() - costs.sum(), atol=1e-9 * scale)
        assert np.isclose(cf.pv_benefits - cf.pv_costs, cf.npv, atol=1e-9 * scale)


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(st.lists(st.integers(-10**6, 10**6).map(float), min_size=2, max_size=15))
def test_irr_is_none_without_sign_change_and_zeroes_npv_otherwise(flows):
    value = engine.irr(flows)
    arr = np.array(flows)
    if not (np.any(arr > 0) and np.any(arr < 0)):
        assert value is None
    elif value is not None and value > -0.5:  # near −100 % the discount factors explode
        assert np.isclose(npf.npv(value, flows), 0, atol=1e-6 * max(1.0, np.abs(arr).sum()))


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(st.lists(money, min_size=1, max_size=30), rates)
def test_npv_has_the_very_bits_of_numpy_financial(flows, rate):
    assert engine.npv(rate, flows) == float(npf.npv(rate, np.array(flows)))


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(st.lists(st.lists(money, min_size=1, max_size=15) | st.none(), min_size=1, max_size=40))
def test_irr_many_gives_each_flow_the_very_value_of_irr(flows):
    def one(f):
        try:
            return None if f is None else engine.irr(f)
        except np.linalg.LinAlgError:  # e.g. subnormal flows overflow np.roots' companion matrix
            return "LinAlgError"

    expected = [one(f) for f in flows]
    if "LinAlgError" in expected:  # irr_many raises as irr() does
        with pytest.raises(np.linalg.LinAlgError):
            engine.irr_many(flows)
    else:
        assert engine.irr_many(flows) == expected


def test_irr_many_on_zeros_at_both_ends_and_mixed_lengths():
    flows = [[0.0, 0.0, -5.0, 3.0, 0.0, 0.0], [-1.0, 1.0], [-100.0, 39.0, 59.0, 55.0, 20.0],
             [-5.0, 10.5, 1.0, -8.0, 1.0], [1.0, 2.0], [-100.0, 0.0, 0.0, 74.0], [0.0, 0.0]]
    assert engine.irr_many(flows) == [engine.irr(f) for f in flows]
    assert engine.irr_many([[-100.0, 39.0, 59.0, 55.0, 20.0]])[0] == float(npf.irr([-100, 39, 59, 55, 20]))


segment = st.lists(st.tuples(st.sampled_from([0.0, 0.0, 1.5, 250.0, 1e5]), st.sampled_from([0.0, 0.0, 3.25, 900.0])),
                   min_size=1, max_size=40)


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(st.lists(st.tuples(segment, st.integers(2015 * 12, 2030 * 12)), min_size=1, max_size=12), rates)
def test_cashflows_of_many_segments_are_cashflow_of_each_bit_for_bit(segments, rate):
    """compute_all takes every Maßnahme's cash flow from one vectorised call: the same figures, to the bit,
    as cashflow() of each Maßnahme alone (all-zero segments, months before the first cost, relapses)."""
    months = np.concatenate([np.arange(m0, m0 + len(vals)) for vals, m0 in segments])
    costs = np.array([c for vals, _ in segments for c, _ in vals])
    benefits = np.array([b for vals, _ in segments for _, b in vals])
    lengths = np.array([len(vals) for vals, _ in segments])
    ends = np.cumsum(lengths)
    starts = ends - lengths
    many = engine.cashflows(starts, ends, months, costs, benefits, rate)
    for j, (s, e) in enumerate(zip(starts, ends, strict=True)):
        one, got = engine.cashflow(months[s:e], costs[s:e], benefits[s:e], rate), many.get(j)
        assert (got.first_year, got.npv, got.pv_costs, got.pv_benefits, got.payback_month) == \
            (one.first_year, one.npv, one.pv_costs, one.pv_benefits, one.payback_month)
        assert got.years.tolist() == one.years.tolist()
        assert got.costs.tolist() == one.costs.tolist() and got.benefits.tolist() == one.benefits.tolist()


def test_compute_all_figures_are_the_scalar_formulas_on_each_series(demo_db):
    """The per-Maßnahme sums and cash flows of compute_all (vectorised over Maßnahmen) recomputed
    from each result's own monthly series, one Maßnahme at a time."""
    results = engine.compute_all(demo_db)
    assert len(results) >= 5
    for r in results:
        s = r.series
        after = s["after"]
        assert r.costs_eur == pytest.approx(float(np.sum(s["costs"])), rel=1e-12, abs=1e-9)
        assert r.other_saving_eur == pytest.approx(float(np.sum(s["other"])), rel=1e-12, abs=1e-9)
        assert r.investment_eur == pytest.approx(
            float(np.sum(s["costs"][~after])) + float(np.sum(s["invest"][after])), rel=1e-12, abs=1e-9)
        if r.paper_saving_eur is not None:
            assert r.paper_saving_eur == pytest.approx(float(np.sum(s["paper"])), rel=1e-12, abs=1e-9)
        if r.time_saving_eur is not None:
            time = s["time_wage"] + s["time_material"]
            assert r.time_saving_eur == pytest.approx(float(np.sum(time)), rel=1e-12, abs=1e-9)
        for total, key, npv_v, payback in ((r.benefits_eur, "benefits", r.npv_eur, r.payback_month),
                                           (r.benefits_budget_eur, "benefits_budget", r.npv_budget_eur,
                                            r.payback_month_budget)):
            if total is None:
                continue
            cf = engine.cashflow(s["month_idx"], s["costs"], s[key], r.discount_rate)
            assert (npv_v, payback) == (cf.npv if cf.npv is not None else 0.0, cf.payback_month)
        if r.benefits_eur is not None and r.first_year is not None:
            cf = engine.cashflow(s["month_idx"], s["costs"], s["benefits"], r.discount_rate)
            assert [y["benefits_eur"] for y in r.yearly] == cf.benefits.tolist()
            assert [y["costs_eur"] for y in r.yearly] == cf.costs.tolist()
