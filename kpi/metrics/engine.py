"""Cost-benefit engine (WiBe-style): baselines, monetised monthly benefits, NPV, ROI, BCR, payback.

How the numbers are made (DOMAIN.md §4):

* Monthly values per Maßnahme come from `measurement` in one set-based DuckDB query. Quarterly and
  yearly values are spread over their months (sums split evenly, means repeated); where a month has
  values of several granularities the finest wins. Months between the first and last month with
  data are filled in (a data gap is a month without values: it contributes nothing).
* Baseline (Ausgangswert) per KPI: the mean of the up to 12 months before the go-live month
  (sums: monthly mean; Ø Bearbeitungszeit: mean weighted by Fallzahl; last-value KPIs: the last
  value). Without such months the explicit value of table `baseline` is used. Without either the
  saving is "nicht berechenbar" (None, with a German reason), never zero.
* Benefits count from the go-live month on: paper (`Ausgangswert € − €`, or
  `(Ausgangswert Seiten − Seiten) × Kosten je Seite`), processing time
  (`Fälle × (Ausgangs-Minuten − Minuten) / 60 × Lohnsatz der Laufbahn` plus
  `Fälle × (Sachkosten je Fall vor Go-live − Sachkosten je Fall)`), and other documented savings
  (`einsparung_sonstige_eur`, counted in every month they are recorded). Paper and other savings
  are haushaltswirksam, freed working time is not.
* Every monthly value uses the parameter version in force in that month; the discount rate and the
  FTE hours use the version in force on `as_of` (default today) unless a rate is given.
* Yearly sums: t = 0 is the first calendar year with a cost or a benefit;
  NPV = Σ (N_t − K_t)/(1+i)^t = numpy_financial.npv(i, yearly_net).
* Monthly discounting convention (dynamic payback, cumulative discounted series): a month is
  discounted with the factor of its calendar year, 1/(1+i)^t, so the sum of the discounted
  monthly values equals the yearly NPV exactly.
* Static payback = investment / mean annual net saving after go-live, where investment = every
  cost before the go-live month + investment costs from it on, and the annual net saving =
  (benefits − running costs) per month since go-live × 12; None when that saving is not positive.
* Dynamic payback month: the first month from which the cumulative discounted net benefit is ≥ 0
  and stays ≥ 0 up to the last month with data (a later relapse below zero moves the month); None
  ("noch nicht amortisiert") when the final cumulative value is below zero.
"""

from __future__ import annotations

import gc
import math
import threading
import weakref
from collections import namedtuple
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import numpy_financial as npf
import pandas as pd

from kpi.background import in_background
from kpi.db import Database
from kpi.fmt import eur_de, month_de, number_de, pct_de
from kpi.metrics import parameters as params_mod

# KPIs the cost-benefit calculation reads (fixed allow-list, bound as a list parameter).
COST_KPIS = ("kosten_investition_eur", "kosten_betrieb_eur", "kosten_personal_eur")
BENEFIT_KPIS = ("fallzahl", "bearbeitungszeit_min", "papier_seiten", "papier_kosten_eur",
                "einsparung_sonstige_eur")
ENGINE_KPIS = COST_KPIS + BENEFIT_KPIS
BASELINE_KPIS = ("bearbeitungszeit_min", "papier_seiten", "papier_kosten_eur", "fallzahl")

BASELINE_METHOD_DE = {
    "vorher": "Mittelwert der bis zu 12 Monate vor dem Go-live",
    "explizit": "ausdrücklich angegebener Ausgangswert",
}

FIGURES_DE = {
    "costs_eur": "Kosten",
    "benefits_eur": "Nutzen (gesamt)",
    "benefits_budget_eur": "Nutzen, haushaltswirksam",
    "net_benefit_eur": "Nettonutzen",
    "net_benefit_budget_eur": "Nettonutzen, haushaltswirksam",
    "roi": "Rendite (ROI)",
    "npv_eur": "Kapitalwert",
    "npv_budget_eur": "Kapitalwert, haushaltswirksam",
    "bcr": "Nutzen-Kosten-Verhältnis",
    "irr": "Interner Zinsfuß",
    "static_payback_years": "Statische Amortisationsdauer",
    "payback_month": "Amortisation (dynamisch)",
    "hours_saved": "Eingesparte Arbeitsstunden",
    "fte_saved": "Eingesparte Vollzeitstellen (VZÄ)",
}


class MetricsError(ValueError):
    """A metric request that cannot be served (German message), e.g. an unknown Maßnahme."""


@dataclass
class BaselineInfo:
    """How the baseline of one KPI was set (or why there is none)."""

    kpi: str
    value: float | None
    method: str | None  # 'vorher' | 'explizit' | None
    months: int = 0  # months of pre-go-live data used
    first_month: date | None = None
    last_month: date | None = None
    source: str | None = None  # the explicit baseline's source text
    reason_de: str | None = None  # why there is none

    @property
    def text_de(self) -> str:
        """Return a German sentence: which baseline was used, or why none exists."""
        if self.method == "vorher":
            return (f"Ø {month_de(self.first_month)} – {month_de(self.last_month)} "
                    f"({self.months} Monat{'e' if self.months != 1 else ''} vor dem Go-live)")
        if self.method == "explizit":
            return "ausdrücklich angegebener Ausgangswert" + (f" ({self.source})" if self.source else "")
        return self.reason_de or "kein Ausgangswert"

    def to_json(self) -> dict:
        return {
            "value": _r(self.value, 4), "method": self.method,
            "method_de": BASELINE_METHOD_DE.get(self.method or "", None), "months": self.months,
            "first_month": _ym(self.first_month), "last_month": _ym(self.last_month),
            "source": self.source, "text_de": self.text_de,
        }


@dataclass
class Explanation:
    """How one headline figure was computed: formula in words, inputs with sources, parameter versions."""

    figure: str  # German name
    formula_de: str
    inputs: list[tuple[str, object, str, str]] = field(default_factory=list)  # (label_de, value, unit, source)
    parameter_versions: dict[str, list[int]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "figure": self.figure, "formula_de": self.formula_de,
            "inputs": [{"label": a, "value": _jsonable(b), "unit": c, "source": d} for a, b, c, d in self.inputs],
            "parameter_versions": self.parameter_versions,
        }


@dataclass
class MassnahmeResult:
    """Cost-benefit figures of one Maßnahme; None means "nicht berechenbar" (see not_computable)."""

    kommune: str
    massnahme: str
    handlungsfeld: str | None
    golive: date | None
    costs_eur: float
    benefits_eur: float | None
    benefits_budget_eur: float | None
    net_benefit_eur: float | None
    net_benefit_budget_eur: float | None
    roi: float | None
    roi_budget: float | None
    npv_eur: float | None
    npv_budget_eur: float | None
    bcr: float | None
    irr: float | None
    static_payback_years: float | None
    payback_month: date | None
    payback_month_budget: date | None
    discount_rate: float
    hours_saved: float | None
    fte_saved: float | None
    baseline: dict[str, BaselineInfo] = field(default_factory=dict)
    parameter_versions: dict[str, list[int]] = field(default_factory=dict)  # key -> parameter_ids used
    not_computable: list[str] = field(default_factory=list)  # German reasons
    # components and details
    paper_saving_eur: float | None = None
    time_saving_eur: float | None = None
    other_saving_eur: float = 0.0
    investment_eur: float = 0.0  # static payback's investment: costs before go-live + investment costs after
    first_year: int | None = None  # t = 0
    yearly: list[dict] = field(default_factory=list)  # year, t, costs_eur, benefits_eur, ...
    planned_npv_eur: float | None = None
    notes: list[str] = field(default_factory=list)  # German hints (data gaps, …)
    kommune_id: int | None = None
    massnahme_id: int | None = None
    # monthly arrays for aggregation and sensitivity (not part of the JSON), aligned and dense:
    # month_idx (year × 12 + month − 1), costs, benefits, benefits_budget, running, invest, paper, other,
    # time_wage, time_material, hours (NaN-free); cases, minutes, wage (NaN = no value); after (bool);
    # benefits_computable / budget_computable (one-element bool arrays)
    series: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    # explanations are built on first access (cheap results for thousands of Maßnahmen)
    _explanations: dict | None = field(default=None, repr=False)
    _explain_ctx: tuple | None = field(default=None, repr=False)
    # plan vs. actual likewise (only the drill-down and detailed exports read it)
    _plan: list[dict] | None = field(default=None, repr=False)
    _plan_vs_actual: list[dict] | None = field(default=None, repr=False)

    @property
    def explanations(self) -> dict[str, Explanation]:
        """Return figure key -> Explanation ('Wie berechnet?') of every headline figure."""
        if self._explanations is None:
            self._explanations = _explain(self, *self._explain_ctx) if self._explain_ctx else {}
        return self._explanations

    def __getstate__(self) -> dict:
        """Pickle (st.cache_data) with explanations and plan rows built, without the context they are
        built from: it holds the upload ids and parameter versions of every Maßnahme computed together."""
        state = self.__dict__.copy()
        state.update(_explanations=self.explanations, _explain_ctx=None,
                     _plan_vs_actual=self.plan_vs_actual, _plan=None, _irr=self.irr)
        return state

    def figures_json(self, keys) -> dict:
        """The given entries of to_json(), computed alone (tables of many Maßnahmen need a few)."""
        return {key: _JSON_FIGURES[key](self) for key in keys}

    @property
    def plan_vs_actual(self) -> list[dict]:
        """Return the yearly plan vs. actual rows plus a 'gesamt' row (empty without a plan)."""
        if self._plan_vs_actual is None:
            self._plan_vs_actual = _plan_vs_actual(self, self._plan)
        return self._plan_vs_actual

    @property
    def payback_text_de(self) -> str:
        """Return 'amortisiert im März 2026' or 'noch nicht amortisiert' (or 'nicht berechenbar')."""
        return _payback_text(self.payback_month, self.npv_eur)

    @property
    def complete(self) -> bool:
        """True when every benefit component could be computed."""
        return not self.not_computable

    def to_json(self, detail: bool = True) -> dict:
        """Return a JSON-ready dict (money rounded to cents, months as 'YYYY-MM').

        detail=False leaves out the yearly series, plan vs. actual and the explanations (tables
        with one row per Maßnahme need none of them, and building them dominates at scale).
        """
        out = {key: get(self) for key, get in _JSON_FIGURES.items()}
        if detail:
            out["yearly"] = [{k: _jsonable(v) for k, v in row.items()} for row in self.yearly]
            out["plan_vs_actual"] = [{k: _jsonable(v) for k, v in row.items()}
                                     for row in self.plan_vs_actual]
            out["explanations"] = {k: v.to_json() for k, v in self.explanations.items()}
        return out


# to_json's entries without the detail parts; figures_json() reads single ones
_JSON_FIGURES = {
    "kommune": lambda r: r.kommune,
    "massnahme": lambda r: r.massnahme,
    "handlungsfeld": lambda r: r.handlungsfeld,
    "golive": lambda r: r.golive.isoformat() if r.golive else None,
    "costs_eur": lambda r: _r(r.costs_eur),
    "benefits_eur": lambda r: _r(r.benefits_eur),
    "benefits_budget_eur": lambda r: _r(r.benefits_budget_eur),
    "paper_saving_eur": lambda r: _r(r.paper_saving_eur),
    "time_saving_eur": lambda r: _r(r.time_saving_eur),
    "other_saving_eur": lambda r: _r(r.other_saving_eur),
    "net_benefit_eur": lambda r: _r(r.net_benefit_eur),
    "net_benefit_budget_eur": lambda r: _r(r.net_benefit_budget_eur),
    "roi": lambda r: _r(r.roi, 6),
    "roi_budget": lambda r: _r(r.roi_budget, 6),
    "npv_eur": lambda r: _r(r.npv_eur),
    "npv_budget_eur": lambda r: _r(r.npv_budget_eur),
    "bcr": lambda r: _r(r.bcr, 6),
    "irr": lambda r: _r(r.irr, 6),
    "static_payback_years": lambda r: _r(r.static_payback_years, 4),
    "payback_month": lambda r: _ym(r.payback_month),
    "payback_month_budget": lambda r: _ym(r.payback_month_budget),
    "payback_text_de": lambda r: r.payback_text_de,
    "discount_rate": lambda r: r.discount_rate,
    "first_year": lambda r: r.first_year,
    "hours_saved": lambda r: _r(r.hours_saved, 1),
    "fte_saved": lambda r: _r(r.fte_saved, 3),
    "investment_eur": lambda r: _r(r.investment_eur),
    "planned_npv_eur": lambda r: _r(r.planned_npv_eur),
    "baseline": lambda r: {k: v.to_json() for k, v in r.baseline.items()},
    "parameter_versions": lambda r: r.parameter_versions,
    "not_computable": lambda r: r.not_computable,
    "notes": lambda r: r.notes,
}


@dataclass
class AggregateResult:
    """Cost-benefit figures summed over several Maßnahmen (one Kommune, or overall)."""

    level: str  # 'kommune' | 'overall'
    kommune: str | None
    n_massnahmen: int
    costs_eur: float
    benefits_eur: float
    benefits_budget_eur: float
    net_benefit_eur: float
    net_benefit_budget_eur: float
    roi: float | None
    roi_budget: float | None
    npv_eur: float | None
    npv_budget_eur: float | None
    bcr: float | None
    irr: float | None
    payback_month: date | None
    payback_month_budget: date | None
    discount_rate: float
    hours_saved: float
    fte_saved: float | None
    first_year: int | None
    incomplete: list[str] = field(default_factory=list)  # "Maßnahme: reason" of incomplete members
    yearly: list[dict] = field(default_factory=list)

    @property
    def payback_text_de(self) -> str:
        return _payback_text(self.payback_month, self.npv_eur)

    def to_json(self) -> dict:
        return {
            "level": self.level, "kommune": self.kommune, "n_massnahmen": self.n_massnahmen,
            "costs_eur": _r(self.costs_eur), "benefits_eur": _r(self.benefits_eur),
            "benefits_budget_eur": _r(self.benefits_budget_eur),
            "net_benefit_eur": _r(self.net_benefit_eur),
            "net_benefit_budget_eur": _r(self.net_benefit_budget_eur),
            "roi": _r(self.roi, 6), "roi_budget": _r(self.roi_budget, 6), "npv_eur": _r(self.npv_eur),
            "npv_budget_eur": _r(self.npv_budget_eur), "bcr": _r(self.bcr, 6), "irr": _r(self.irr, 6),
            "payback_month": _ym(self.payback_month), "payback_month_budget": _ym(self.payback_month_budget),
            "payback_text_de": self.payback_text_de, "discount_rate": self.discount_rate,
            "hours_saved": _r(self.hours_saved, 1), "fte_saved": _r(self.fte_saved, 3),
            "first_year": self.first_year, "incomplete": self.incomplete,
            "yearly": [{k: _jsonable(v) for k, v in row.items()} for row in self.yearly],
        }


# ---------------------------------------------------------------------------------------------
# small helpers


def _r(x, nd: int = 2):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else round(x, nd)


def _ym(d: date | None) -> str | None:
    return None if d is None else f"{d.year:04d}-{d.month:02d}"


def _jsonable(v):
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return _r(v, 6)
    return v


def _payback_text(month: date | None, npv: float | None) -> str:
    if month is not None:
        return f"amortisiert im {month_de(month)}"
    if npv is None:
        return "nicht berechenbar"
    return "noch nicht amortisiert"


def _month_to_int(d) -> int:
    return d.year * 12 + d.month - 1


def _int_to_month(i: int) -> date:
    return date(int(i) // 12, int(i) % 12 + 1, 1)


# ---------------------------------------------------------------------------------------------
# pure cash-flow functions (scalar work, used by the engine, aggregates and sensitivity)


def npv(rate: float, yearly_net) -> float:
    """Return Σ net_t / (1+rate)^t with t = 0 the first element (numpy_financial.npv convention)."""
    values = np.asarray(yearly_net, dtype=float)
    return float((values / _discount_divisors(rate, len(values))).sum(axis=0))


def _discount_divisors(rate: float, n: int) -> np.ndarray:
    """(1+rate)^t for t = 0 … n−1: the divisors numpy_financial.npv uses (same operations, same bits)."""
    return (1 + rate) ** np.arange(0, n)


def irr(yearly_net) -> float | None:
    """Return the internal rate of return; None when the cash flow never changes sign or IRR is undefined."""
    arr = np.asarray(yearly_net, dtype=float)
    if not (np.any(arr > 0) and np.any(arr < 0)):
        return None
    value = float(npf.irr(arr))
    return None if math.isnan(value) else value


def irr_many(flows: list) -> list[float | None]:
    """Return irr() of each yearly cash flow (None entries stay None), with the same bits, faster.

    numpy_financial.irr finds the roots of the cash-flow polynomial as eigenvalues of np.roots'
    companion matrix; here the matrices of equal size are stacked and solved in one
    np.linalg.eigvals call, and each flow's root is then picked exactly as numpy_financial does.
    """
    out: list[float | None] = [None] * len(flows)
    by_size: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i, f in enumerate(flows):
        if f is None:
            continue
        arr = np.asarray(f, dtype=float)
        if not (np.any(arr > 0) and np.any(arr < 0)):
            continue
        p = arr[::-1]  # np.roots(values[::-1]): strip leading and trailing zeros (roots at 0 never count)
        nz = np.flatnonzero(p)
        p = p[int(nz[0]):int(nz[-1]) + 1]
        companion = np.diag(np.ones((len(p) - 2,), p.dtype), -1)
        companion[0, :] = -p[1:] / p[0]
        by_size.setdefault(len(p) - 1, []).append((i, companion))
    for items in by_size.values():
        try:
            roots = np.linalg.eigvals(np.stack([a for _, a in items]))
        except np.linalg.LinAlgError:  # one bad matrix fails the stack: solve one by one, as irr() does
            for i, _ in items:
                out[i] = irr(flows[i])
            continue
        for (i, _), res in zip(items, roots, strict=True):
            mask = (res.imag == 0) & (res.real > 0)
            if not mask.any():
                continue
            rate = 1 / res[mask].real - 1
            value = float(rate.item(np.argmin(np.abs(rate))))
            out[i] = None if math.isnan(value) else value
    return out


@dataclass
class Cashflow:
    """Yearly and cumulative figures of one monthly cash flow (costs, benefits) at one rate."""

    first_year: int | None
    years: np.ndarray
    costs: np.ndarray  # yearly K_t
    benefits: np.ndarray  # yearly N_t
    npv: float | None
    pv_costs: float
    pv_benefits: float
    payback_month: date | None
    cum_net: np.ndarray | None  # monthly, undiscounted (None from cashflows())
    cum_net_discounted: np.ndarray | None  # monthly, discounted by the year factor (None from cashflows())


def cashflow(month_idx: np.ndarray, costs: np.ndarray, benefits: np.ndarray, rate: float) -> Cashflow:
    """Compute yearly sums, NPV, PVs and the dynamic payback month from monthly arrays (sorted by month).

    None NPV/payback when there is neither a cost nor a benefit in any month.
    """
    costs = np.asarray(costs, dtype=float)
    benefits = np.asarray(benefits, dtype=float)
    if np.isnan(costs).any() or np.isnan(benefits).any():
        costs, benefits = np.nan_to_num(costs), np.nan_to_num(benefits)
    net = benefits - costs
    active = (costs != 0) | (benefits != 0)
    years_m = np.asarray(month_idx) // 12
    if not active.any():
        z = np.zeros(len(net))
        return Cashflow(None, np.array([], dtype=int), np.array([]), np.array([]), None, 0.0, 0.0,
                        None, z, z)
    first_year = int(years_m[active].min())
    last_year = int(years_m.max())
    t = years_m - first_year
    n_years = last_year - first_year + 1
    keep = t >= 0
    yearly_costs = np.bincount(t[keep], weights=costs[keep], minlength=n_years)
    yearly_benefits = np.bincount(t[keep], weights=benefits[keep], minlength=n_years)
    factor = (1.0 + rate) ** (-t.astype(float))
    cum_net = np.cumsum(net)
    cum_disc = np.cumsum(net * factor)
    divisors = _discount_divisors(rate, n_years)  # once for the three present values (as npv())
    payback = None
    if cum_disc[-1] >= -1e-9:
        negative = np.nonzero(cum_disc < -1e-9)[0]
        first_active = int(np.nonzero(active)[0][0])
        idx = int(negative[-1]) + 1 if len(negative) else first_active
        payback = _int_to_month(int(month_idx[idx]))
    return Cashflow(
        first_year=first_year,
        years=np.arange(first_year, last_year + 1),
        costs=yearly_costs,
        benefits=yearly_benefits,
        npv=float(((yearly_benefits - yearly_costs) / divisors).sum(axis=0)),
        pv_costs=float((yearly_costs / divisors).sum(axis=0)),
        pv_benefits=float((yearly_benefits / divisors).sum(axis=0)),
        payback_month=payback,
        cum_net=cum_net,
        cum_net_discounted=cum_disc,
    )


_NO_CASHFLOW = Cashflow(None, np.array([], dtype=int), np.array([]), np.array([]), None, 0.0, 0.0, None,
                        np.array([]), np.array([]))


@dataclass
class _Cashflows:
    """cashflow() of many cash flows at once, stored flat; one segment per Maßnahme (see cashflows())."""

    active: list[bool]
    first_year: list[int]
    year_off: list[int]  # where each segment's yearly sums start in costs / benefits
    n_years: list[int]
    costs: np.ndarray  # yearly K_t of all segments, one after the other
    benefits: np.ndarray
    npv: list[float]
    pv_costs: list[float]
    pv_benefits: list[float]
    payback: list[int]  # month index, −1: not paid back

    def get(self, j: int) -> Cashflow:
        """Segment j's Cashflow (without the monthly cumulative series, which nothing reads here)."""
        if not self.active[j]:
            return _NO_CASHFLOW
        o, n, y0 = self.year_off[j], self.n_years[j], self.first_year[j]
        pb = self.payback[j]
        return Cashflow(y0, np.arange(y0, y0 + n), self.costs[o:o + n], self.benefits[o:o + n], self.npv[j],
                        self.pv_costs[j], self.pv_benefits[j], None if pb < 0 else _int_to_month(pb),
                        None, None)


def cashflows(starts: np.ndarray, ends: np.ndarray, month_idx: np.ndarray, costs: np.ndarray,
              benefits: np.ndarray, rate: float) -> _Cashflows:
    """cashflow() of each segment [starts[j], ends[j]) of the monthly arrays, vectorised over segments.

    The segments are consecutive, non-empty and cover the arrays; within a segment the months ascend.
    Every figure is the result of the same operations on the same values as in cashflow(), so the
    same bits: yearly sums by one bincount over all segments (sequential per year, as per segment),
    the running sums and present values per segment (np.add.reduceat groups its sums differently
    from ndarray.sum and would change the last bit).
    """
    costs = np.nan_to_num(np.asarray(costs, dtype=float))
    benefits = np.nan_to_num(np.asarray(benefits, dtype=float))
    month_idx = np.asarray(month_idx, dtype=np.int64)
    n_rows, n_seg = len(month_idx), len(starts)
    if n_seg == 0:
        e: list = []
        return _Cashflows(e, e, e, e, np.array([]), np.array([]), e, e, e, e)
    seg = np.repeat(np.arange(n_seg), ends - starts)
    pos = np.arange(n_rows)
    active = (costs != 0) | (benefits != 0)
    none = np.iinfo(np.int64).max
    first_active = np.minimum.reduceat(np.where(active, pos, none), starts)
    seg_active = first_active != none
    years_m = month_idx // 12
    first_year = np.where(seg_active, years_m[np.where(seg_active, first_active, 0)], 0)
    n_years = np.where(seg_active, years_m[ends - 1] - first_year + 1, 0)
    year_off = np.cumsum(n_years) - n_years
    t = years_m - first_year[seg]
    keep = (t >= 0) & seg_active[seg]
    slot = year_off[seg[keep]] + t[keep]
    total_years = int(n_years.sum())
    yearly_costs = np.bincount(slot, weights=costs[keep], minlength=total_years)
    yearly_benefits = np.bincount(slot, weights=benefits[keep], minlength=total_years)
    # dynamic payback: the month after the last one with a negative cumulative discounted net
    t_lo = int(t.min())  # the factor of each distinct t once (t ranges over a few dozen years)
    discounted = (benefits - costs) * ((1.0 + rate) ** (-np.arange(t_lo, int(t.max()) + 1).astype(float)))[t - t_lo]
    cum = np.empty(n_rows)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        np.cumsum(discounted[s:e], out=cum[s:e])  # one running sum per segment, as cashflow() does
    last_negative = np.maximum.reduceat(np.where(cum < -1e-9, pos, -1), starts)
    paid = seg_active & (cum[ends - 1] >= -1e-9)
    at = np.where(last_negative >= 0, last_negative + 1, np.where(seg_active, first_active, 0))
    payback = np.where(paid, month_idx[np.minimum(at, n_rows - 1)], -1)
    # present values per segment
    t_year = np.arange(total_years) - np.repeat(year_off, n_years)
    divisors = (1 + rate) ** t_year
    net_pv, costs_pv, benefits_pv = ((yearly_benefits - yearly_costs) / divisors, yearly_costs / divisors,
                                     yearly_benefits / divisors)
    npv_, pv_c, pv_b = [0.0] * n_seg, [0.0] * n_seg, [0.0] * n_seg
    offsets, lengths = year_off.tolist(), n_years.tolist()
    for j in np.flatnonzero(seg_active).tolist():  # ndarray.sum per segment: the bits of cashflow()
        sl = slice(offsets[j], offsets[j] + lengths[j])
        npv_[j] = float(net_pv[sl].sum(axis=0))
        pv_c[j] = float(costs_pv[sl].sum(axis=0))
        pv_b[j] = float(benefits_pv[sl].sum(axis=0))
    return _Cashflows(seg_active.tolist(), first_year.tolist(), offsets, lengths, yearly_costs, yearly_benefits,
                      npv_, pv_c, pv_b, payback.tolist())


# ---------------------------------------------------------------------------------------------
# set-based loading


_SEL_SQL = """
    SELECT m.massnahme_id, m.kommune_id, k.name AS kommune, m.name AS massnahme, m.handlungsfeld,
           m.golive_date, CAST(date_trunc('month', m.golive_date) AS DATE) AS golive_m, m.laufbahn,
           m.planned_npv_eur, k.einwohner
    FROM massnahme m JOIN kommune k USING (kommune_id)
    WHERE (CAST($kommune AS VARCHAR) IS NULL OR k.name = $kommune)
      AND (CAST($massnahme AS VARCHAR) IS NULL OR m.name = $massnahme)
"""

# One value per (Maßnahme, KPI, month): monthly values as they are; quarter/year values spread over
# their months (sums split evenly, other aggregations repeated) where no finer value exists.
_EXPANDED_SQL = """
    SELECT me.massnahme_id, me.kpi, me.upload_id, me.period_start AS month, me.value
    FROM measurement me JOIN sel USING (massnahme_id)
    WHERE me.granularity = 'month' AND me.kpi IN (SELECT unnest($kpis))
    UNION ALL
    SELECT * FROM (
        SELECT me.massnahme_id, me.kpi, me.upload_id,
               CAST(me.period_start + to_months(o.off) AS DATE) AS month,
               CASE WHEN c.aggregation = 'sum' THEN me.value / g.n ELSE me.value END AS value
        FROM measurement me
        JOIN sel USING (massnahme_id)
        JOIN kpi c ON c.key = me.kpi
        JOIN (SELECT 'quarter' AS granularity, 3 AS n UNION ALL SELECT 'year', 12) g
             ON g.granularity = me.granularity
        JOIN (SELECT range AS off FROM range(12)) o ON o.off < g.n
        WHERE me.kpi IN (SELECT unnest($kpis))
        QUALIFY row_number() OVER (PARTITION BY me.massnahme_id, me.kpi, month ORDER BY g.n) = 1
    ) coarse
    WHERE NOT EXISTS (
        SELECT 1 FROM measurement f
        WHERE f.granularity = 'month' AND f.massnahme_id = coarse.massnahme_id AND f.kpi = coarse.kpi
          AND f.period_start = coarse.month)
"""

# Baselines per (Maßnahme, KPI): the up to 12 months before the go-live month (aggregation-aware),
# otherwise the explicit value of table `baseline`.
_BASELINE_SQL = """
    WITH sel AS (""" + _SEL_SQL + """),
    expanded AS (""" + _EXPANDED_SQL + """),
    window_rows AS MATERIALIZED (
        SELECT e.massnahme_id, e.kpi, e.month, e.value
        FROM expanded e JOIN sel s USING (massnahme_id)
        WHERE e.month < s.golive_m AND e.month >= CAST(s.golive_m - INTERVAL 12 MONTH AS DATE)
    ),
    pre AS (
        SELECT e.massnahme_id, e.kpi, e.month, e.value, c.aggregation, w.value AS weight
        FROM window_rows e
        JOIN kpi c ON c.key = e.kpi
        LEFT JOIN window_rows w ON w.massnahme_id = e.massnahme_id AND w.month = e.month
                                AND w.kpi = 'fallzahl'
    ),
    from_data AS (
        SELECT massnahme_id, kpi,
               CASE any_value(aggregation)
                   WHEN 'wmean_fallzahl' THEN coalesce(sum(value * weight) / nullif(sum(weight), 0),
                                                       avg(value))
                   WHEN 'last' THEN arg_max(value, month)
                   ELSE avg(value) END AS value,
               count(*) AS months, min(month) AS first_month, max(month) AS last_month
        FROM pre GROUP BY massnahme_id, kpi
    ),
    explicit AS (
        SELECT b.massnahme_id, b.kpi, b.value, b.source
        FROM baseline b JOIN sel USING (massnahme_id)
        WHERE b.kpi IN (SELECT unnest($kpis))
    )
    SELECT coalesce(d.massnahme_id, x.massnahme_id) AS massnahme_id, coalesce(d.kpi, x.kpi) AS kpi,
           CASE WHEN d.months > 0 THEN d.value ELSE x.value END AS value,
           CASE WHEN d.months > 0 THEN 'vorher' ELSE 'explizit' END AS method,
           coalesce(d.months, 0) AS months, d.first_month, d.last_month,
           CASE WHEN d.months > 0 THEN NULL ELSE x.source END AS source
    FROM from_data d FULL JOIN explicit x USING (massnahme_id, kpi)
"""

# Long monthly values of the engine's KPIs: kpi as its position in $kpis, month as month index.
_LONG_SQL = """
    WITH sel AS (""" + _SEL_SQL + """),
    expanded AS (""" + _EXPANDED_SQL + """)
    SELECT massnahme_id, CAST(list_position($kpis, kpi) - 1 AS INTEGER) AS k,
           CAST(year(month) * 12 + month(month) - 1 AS INTEGER) AS month_idx, value
    FROM expanded
"""

# Parameter versions; per (key, valid_from) the newest parameter_id.
_PARAMS_SQL = """
    SELECT key, valid_from, value, parameter_id FROM parameter
    QUALIFY row_number() OVER (PARTITION BY key, valid_from ORDER BY parameter_id DESC) = 1
    ORDER BY key, valid_from
"""

_SOURCES_SQL = """
    WITH sel AS (""" + _SEL_SQL + """)
    SELECT me.massnahme_id, me.kpi, list(DISTINCT me.upload_id ORDER BY me.upload_id) AS uploads
    FROM measurement me JOIN sel USING (massnahme_id)
    WHERE me.kpi IN (SELECT unnest($kpis))
    GROUP BY me.massnahme_id, me.kpi
"""


def _bind(kommune, massnahme, kpis) -> dict:
    return {"kommune": kommune, "massnahme": massnahme, "kpis": list(kpis)}


def baselines(db: Database, kommune: str | None = None, massnahme: str | None = None,
              kpis: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Return baselines per (massnahme_id, kpi): value, method 'vorher'|'explizit', months, first/last month, source.

    Only KPIs with a baseline appear; all catalog KPIs unless `kpis` is given.
    """
    if kpis is None:
        kpis = tuple(r[0] for r in db.query("SELECT key FROM kpi"))
    return db.df(_BASELINE_SQL, _bind(kommune, massnahme, kpis))


def _selection(db: Database, kommune, massnahme) -> pd.DataFrame:
    return db.df(_SEL_SQL + " ORDER BY k.name, m.name", {"kommune": kommune, "massnahme": massnahme})


def _month_start(month_idx: np.ndarray) -> np.ndarray:
    """Month index (year × 12 + month − 1) -> datetime64[D] of the month's first day."""
    return (np.asarray(month_idx, dtype=np.int64) - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]")


def _lookup(params: pd.DataFrame, keys, key_index: np.ndarray | None, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (value, parameter_id) of the version in force on `day` per row (NaN where none is).

    Row i asks for parameter keys[key_index[i]] (key_index None: every row asks for keys[0]);
    integer codes, because comparing 100.000s of key strings per parameter costs more than the lookup.
    """
    value = np.full(len(day), np.nan)
    pid = np.full(len(day), np.nan)
    keys = list(keys)
    for key, g in params.groupby("key", sort=False):
        codes = [j for j, k in enumerate(keys) if k == key]
        if not codes:
            continue
        if key_index is None:
            rows = np.arange(len(day))
        else:
            rows = np.flatnonzero(np.isin(key_index, codes))
        if not len(rows):
            continue
        vf = g["valid_from"].to_numpy().astype("datetime64[D]")
        pos = np.searchsorted(vf, day[rows], side="right") - 1
        ok = pos >= 0
        value[rows[ok]] = g["value"].to_numpy(dtype=float)[pos[ok]]
        pid[rows[ok]] = g["parameter_id"].to_numpy(dtype=float)[pos[ok]]
    return value, pid


_LONG_COLS = ("invest", "running", "personnel", "cases", "minutes", "pages", "paper_eur", "other")  # = ENGINE_KPIS


_BaselineRow = namedtuple("_BaselineRow", "massnahme_id kpi value method months first_month last_month source")


def _monthly_frame(db: Database, kommune, massnahme) -> tuple[pd.DataFrame, dict[str, np.ndarray], list]:
    """Return (selection, dense monthly columns with savings, baseline rows) for the selected Maßnahmen.

    DuckDB delivers the long monthly values (spread, de-duplicated); numpy pivots them onto a dense
    month axis per Maßnahme (first to last month with data; Maßnahmen by ascending id, one segment
    each) and looks up the parameter version in force in each month. The columns are numpy arrays
    of equal length ("massnahme_id", "month_idx", the KPI columns of _LONG_COLS, parameters,
    baselines and the savings of _add_savings).
    """
    sel = _selection(db, kommune, massnahme)
    # baselines as plain rows (dates as dates; 4.000 rows at 1M: no DataFrame to iterate), queried on
    # a side thread while this one pivots the monthly values
    base_rows = in_background(lambda: db.query(_BASELINE_SQL, _bind(kommune, massnahme, BASELINE_KPIS)))
    cur = db.cursor()
    try:
        long = cur.execute(_LONG_SQL, _bind(kommune, massnahme, ENGINE_KPIS)).fetchnumpy()
    finally:
        cur.close()
    mid = np.asarray(long["massnahme_id"], dtype=np.int64)
    kk = np.asarray(long["k"], dtype=np.int64)
    mi = np.asarray(long["month_idx"], dtype=np.int64)
    val = np.asarray(long["value"], dtype=float)
    if len(mid) and int(mid.max()) <= 4 * len(mid) + 100_000:
        # group by Maßnahme through a table over the ids (a sequence): no sort, no hashing of 1M rows
        present = np.bincount(mid) > 0
        ids = np.flatnonzero(present)
        pos = (np.cumsum(present) - 1)[mid]
    else:
        ids, pos = np.unique(mid, return_inverse=True)
    lo = np.full(len(ids), np.iinfo(np.int64).max)
    hi = np.full(len(ids), np.iinfo(np.int64).min)
    np.minimum.at(lo, pos, mi)
    np.maximum.at(hi, pos, mi)
    length = hi - lo + 1
    offset = (np.cumsum(length) - length).astype(np.int64)
    total = int(length.sum()) if len(ids) else 0
    matrix = np.full((len(ENGINE_KPIS), total), np.nan)
    matrix[kk, offset[pos] + (mi - lo[pos])] = val
    row_mid = np.repeat(ids, length)
    row_mi = (np.repeat(lo, length) + np.arange(total) - np.repeat(offset, length)).astype(np.int64)
    mon: dict[str, np.ndarray] = {"massnahme_id": row_mid, "month_idx": row_mi}
    mon.update(zip(_LONG_COLS, matrix, strict=True))
    # per-row Maßnahme attributes
    s_ids = sel["massnahme_id"].to_numpy()
    order = np.argsort(s_ids)
    spos = order[np.searchsorted(s_ids[order], row_mid)] if len(s_ids) and total else np.array([], dtype=int)
    golive_sel = pd.to_datetime(sel["golive_m"], errors="coerce")  # per Maßnahme, then per row
    golive_sel = (golive_sel.dt.year * 12 + golive_sel.dt.month - 1).to_numpy(dtype=float, na_value=np.nan)
    golive_idx = golive_sel[spos] if total else np.array([])
    mon["after"] = ~np.isnan(golive_idx) & (row_mi >= np.nan_to_num(golive_idx, nan=np.inf))
    # parameter versions in force in each month (the material cost also in the month before go-live)
    params = db.df(_PARAMS_SQL)
    day = _month_start(row_mi)
    wage_keys, wage_code = np.unique(np.array(["wage_rate_" + str(x) for x in sel["laufbahn"]], dtype=object),
                                     return_inverse=True)
    wage_index = wage_code[spos] if total else np.array([], dtype=np.int64)
    mon["wage"], mon["wage_pid"] = _lookup(params, wage_keys, wage_index, day)
    mon["cost_per_page"], mon["cpp_pid"] = _lookup(params, ["cost_per_page_eur"], None, day)
    mon["material"], mon["material_pid"] = _lookup(params, ["material_cost_per_case_eur"], None, day)
    pre_day = _month_start(np.nan_to_num(golive_idx, nan=0).astype(np.int64) - 1)
    pre_index = (~np.isnan(golive_idx)).astype(np.int64)  # no go-live: no material cost before it
    mon["material_before"], mon["material_before_pid"] = _lookup(params, ["", "material_cost_per_case_eur"],
                                                                 pre_index, pre_day)
    # baselines: per Maßnahme (ids ascend), then per row
    base = [_BaselineRow(*r) for r in base_rows()]
    b_kpi = np.array([b.kpi for b in base], dtype=object)
    b_mid = np.array([b.massnahme_id for b in base], dtype=np.int64)
    b_val = np.array([np.nan if b.value is None else b.value for b in base], dtype=float)
    for kpi, col in (("bearbeitungszeit_min", "b_minutes"), ("papier_seiten", "b_pages"),
                     ("papier_kosten_eur", "b_paper_eur")):
        per_id = np.full(len(ids), np.nan)
        hit = (b_kpi == kpi) & np.isin(b_mid, ids)
        per_id[np.searchsorted(ids, b_mid[hit])] = b_val[hit]
        mon[col] = np.repeat(per_id, length)
    _add_savings(mon)
    return sel, mon, base


def _add_savings(mon: dict[str, np.ndarray]) -> None:
    """Add the monetised monthly benefit and cost columns (vectorised over all Maßnahmen)."""
    after = mon["after"]
    cases, minutes = mon["cases"], mon["minutes"]
    b_min, wage = mon["b_minutes"], mon["wage"]
    material = np.nan_to_num(mon["material"])
    material_before = np.nan_to_num(mon["material_before"])
    hours = np.where(after, cases * (b_min - minutes) / 60.0, np.nan)
    wage_part = hours * wage
    material_part = np.where(after, cases * (material_before - material), np.nan)
    time_saving = wage_part + np.nan_to_num(material_part)  # NaN where a factor is missing
    # paper: € method when a € baseline exists, else pages × cost per page
    b_eur, b_pages = mon["b_paper_eur"], mon["b_pages"]
    paper_eur_saving = b_eur - mon["paper_eur"]
    pages_saving = (b_pages - mon["pages"]) * mon["cost_per_page"]
    paper = np.where(after, np.where(~np.isnan(b_eur), paper_eur_saving, pages_saving), np.nan)
    other = np.nan_to_num(mon["other"])
    mon["hours_saved"] = hours
    mon["time_wage_part_eur"] = wage_part
    mon["time_material_part_eur"] = material_part
    mon["time_saving_eur"] = time_saving
    mon["paper_saving_eur"] = paper
    mon["other_saving_eur"] = other
    mon["invest_eur"] = np.nan_to_num(mon["invest"])
    mon["running_eur"] = np.nan_to_num(mon["running"]) + np.nan_to_num(mon["personnel"])
    mon["costs_eur"] = mon["invest_eur"] + mon["running_eur"]
    # NaN-free copies for the cash flow (NaN = no saving that month)
    mon["paper0"] = np.nan_to_num(paper)
    mon["time_wage0"] = np.nan_to_num(wage_part)
    mon["time_material0"] = np.nan_to_num(material_part)
    mon["hours0"] = np.nan_to_num(hours)
    mon["benefits_all"] = mon["paper0"] + np.nan_to_num(time_saving) + other
    mon["benefits_budget"] = mon["paper0"] + other


# ---------------------------------------------------------------------------------------------
# per-Maßnahme results


def compute_all(db: Database, kommune: str | None = None, discount_rate: float | None = None,
                as_of: date | None = None, massnahme: str | None = None) -> list[MassnahmeResult]:
    """Compute the cost-benefit figures of every Maßnahme (optionally of one Kommune), sorted by name."""
    as_of = as_of or date.today()
    current = params_mod.current_parameters(db, as_of)
    versions = params_mod.versions_by_id(db)
    rate_version = current.get("discount_rate")
    if discount_rate is None:
        if rate_version is None:
            raise MetricsError("Es ist kein Kalkulationszinssatz hinterlegt (Parameter „discount_rate“).")
        rate = rate_version.value
    else:
        rate, rate_version = float(discount_rate), None
    fte_version = current.get("fte_hours_per_year")
    sel, mon, base = _monthly_frame(db, kommune, massnahme)
    src = _Sources(db, kommune, massnahme)
    base_by = {(r.massnahme_id, r.kpi): r for r in base}
    plans = db.df(
        "WITH sel AS (" + _SEL_SQL + ") SELECT p.* FROM plan p JOIN sel USING (massnahme_id) ORDER BY year",
        {"kommune": kommune, "massnahme": massnahme},
    )
    plan_by: dict[int, list[dict]] = {}
    plan_cols = {c: plans[c].tolist() for c in plans.columns}  # python values, as to_dict("records") gives
    for i in range(len(plans)):
        plan_by.setdefault(int(plan_cols["massnahme_id"][i]), []).append({c: v[i] for c, v in plan_cols.items()})

    ids = mon["massnahme_id"]
    bounds = np.flatnonzero(np.diff(ids)) + 1
    starts = np.concatenate([[0], bounds]).astype(np.int64) if len(ids) else np.array([], dtype=np.int64)
    ends = np.concatenate([bounds, [len(ids)]]).astype(np.int64) if len(ids) else np.array([], dtype=np.int64)
    segment = {int(m): j for j, m in enumerate(ids[starts].tolist())}
    cols = {c: mon[c] for c in (
        "month_idx", "cases", "minutes", "pages", "paper_eur", "time_saving_eur", "paper_saving_eur",
        "other_saving_eur", "invest_eur", "running_eur", "costs_eur", "wage", "wage_pid", "cpp_pid",
        "material_pid", "material_before_pid", "paper0", "time_wage0", "time_material0", "hours0",
        "benefits_all", "benefits_budget")}
    cols["after"] = mon["after"]
    stats = _segment_stats(cols, starts)
    used_time = ~np.isnan(cols["time_saving_eur"])
    used_pages = ~np.isnan(cols["paper_saving_eur"])
    pids = {c: _ids_per_segment(ids, cols[c], used) for c, used in (
        ("wage_pid", used_time), ("material_pid", used_time), ("material_before_pid", used_time),
        ("cpp_pid", used_pages))}
    months = cols["month_idx"].astype(np.int64)
    flows = {name: cashflows(starts, ends, months, cols["costs_eur"], cols[col], rate)
             for name, col in (("all", "benefits_all"), ("budget", "benefits_budget"))}
    series_cols = ("costs_eur", "benefits_all", "benefits_budget", "running_eur", "invest_eur", "paper0",
                   "other_saving_eur", "time_wage0", "time_material0", "hours0", "cases", "minutes", "wage",
                   "after")
    starts_l, ends_l = starts.tolist(), ends.tolist()

    results, irr_flows = [], []
    with _paused_gc():  # ~100.000 small objects, no garbage cycles
        for row in sel.itertuples():
            mid = int(row.massnahme_id)
            j = segment.get(mid)
            if j is None:  # no monthly values at all
                arrays = {c: cols[c][:0] for c in series_cols}
                seg_stats, seg_flows = _NO_STATS, dict.fromkeys(flows, _NO_CASHFLOW)
                arrays["month_idx"] = months[:0]
            else:
                s, e = starts_l[j], ends_l[j]
                arrays = {c: cols[c][s:e] for c in series_cols}
                arrays["month_idx"] = months[s:e]
                seg_stats = {k: v[j] for k, v in stats.items()}
                seg_flows = {name: f.get(j) for name, f in flows.items()}
            res, flow = _one_result(row, arrays, seg_stats, seg_flows, rate, rate_version, fte_version, versions,
                                    base_by, src, plan_by.get(mid), {c: p.get(mid, []) for c, p in pids.items()})
            results.append(res)
            irr_flows.append(flow)
    batch = _IrrBatch(results, irr_flows)  # the IRR of all of them on first use (few pages show it)
    for res in results:
        res.irr = batch
    return results


@contextmanager
def _paused_gc():
    """Pause the cyclic garbage collector while the results are built.

    Building 1.000 results allocates some 100.000 small objects and no garbage cycles; every 700
    allocations the collector would run, and in a server process holding millions of objects its
    full collections cost 0,1 s and more per compute_all. Collection resumes afterwards (the
    collector is process-wide: a concurrent caller that paused it first resumes it).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _IrrBatch:
    """The IRRs of one compute_all run, computed together (irr_many) when the first is read.

    It holds its results weakly: results hold their batch until it has run, and a cycle would keep
    1.000 results (and the monthly arrays they share) alive until the cyclic collector comes by."""

    def __init__(self, results: list, flows: list) -> None:
        self._results: list | None = [weakref.ref(r) for r in results]
        self._flows = flows
        self._lock = threading.Lock()

    def resolve(self) -> None:
        with self._lock:
            if self._results is None:
                return
            for ref, value in zip(self._results, irr_many(self._flows), strict=True):
                res = ref()
                if res is not None and res.__dict__.get("_irr") is self:
                    res.__dict__["_irr"] = value
            self._results = self._flows = None


def _get_irr(self) -> float | None:
    value = self.__dict__.get("_irr")
    if isinstance(value, _IrrBatch):
        value.resolve()
        value = self.__dict__["_irr"]
    return value


def _set_irr(self, value) -> None:
    self.__dict__["_irr"] = value


# MassnahmeResult.irr: a dataclass field whose value may arrive later (set after the class is built,
# so that the dataclass still takes `irr` as an ordinary __init__ argument)
MassnahmeResult.irr = property(_get_irr, _set_irr, doc="Interner Zinsfuß; None wenn nicht definiert.")


# per-segment counts and sums that _one_result reads (see _segment_stats)
_NO_STATS = {"n": 0, "n_after": 0, "any_value": 0, "time_after": 0, "time_cases": 0, "time_wage": 0,
             "time_gaps": 0, "paper_after": 0, "paper_gaps": 0, "time_saving": 0.0, "hours": 0.0,
             "paper_saving": 0.0, "other_saving": 0.0, "costs": 0.0, "investment": 0.0,
             "benefits_after": 0.0, "running_after": 0.0}


def _segment_stats(a: dict[str, np.ndarray], starts: np.ndarray) -> dict[str, list]:
    """Counts and sums per Maßnahme (segment) over the dense monthly columns, in one pass per column.

    np.add.reduceat sums each segment; its pairwise grouping can differ from np.sum's in the last
    bit (relative 1e-16), far below a cent. `after` is a suffix of each segment (months ascend).
    """
    if not len(starts):
        return {k: [] for k in _NO_STATS}
    after = a["after"]
    has = {c: ~np.isnan(a[c]) for c in ("minutes", "cases", "wage", "pages", "paper_eur")}
    time_after = after & has["minutes"]
    paper_after = after & (has["pages"] | has["paper_eur"])

    def count(mask: np.ndarray) -> list[int]:
        return np.add.reduceat(mask, starts, dtype=np.int64).tolist()

    def total(x: np.ndarray) -> list[float]:
        return np.add.reduceat(x, starts).tolist()

    def nz(x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), 0.0, x)

    costs = a["costs_eur"]
    n = np.diff(np.append(starts, len(after))).tolist()
    return {
        "n": n,
        "n_after": count(after),
        "any_value": count(has["minutes"] | has["pages"] | has["paper_eur"]),
        "time_after": count(time_after),
        "time_cases": count(time_after & has["cases"]),
        "time_wage": count(time_after & has["wage"]),
        "time_gaps": count(after & np.isnan(a["time_saving_eur"])),
        "paper_after": count(paper_after),
        "paper_gaps": count((paper_after & np.isnan(a["paper_saving_eur"])) | (after & ~paper_after)),
        "time_saving": total(nz(a["time_saving_eur"])),
        "hours": total(a["hours0"]),
        "paper_saving": total(a["paper0"]),
        "other_saving": total(a["other_saving_eur"]),
        "costs": total(costs),
        # one-off investment for the static payback: every cost before the go-live month plus
        # investment costs from it on (project staff before go-live is part of the investment)
        "investment": total(np.where(after, a["invest_eur"], costs)),
        "benefits_after": total(np.where(after, a["benefits_all"], 0.0)),
        "running_after": total(np.where(after, a["running_eur"], 0.0)),
    }


def _ids_per_segment(mids: np.ndarray, pid: np.ndarray, used: np.ndarray) -> dict[int, list[int]]:
    """Return massnahme_id -> sorted distinct parameter ids (non-NaN, where `used`) of its rows."""
    keep = used & ~np.isnan(pid)
    pairs = np.unique(mids[keep].astype(np.int64) * (1 << 32) + pid[keep].astype(np.int64))  # ids are int32
    out: dict[int, list[int]] = {}
    for m, i in zip((pairs >> 32).tolist(), (pairs & 0xFFFFFFFF).tolist(), strict=True):
        out.setdefault(m, []).append(i)
    return out


def compute_massnahme(db: Database, kommune: str, massnahme: str, discount_rate: float | None = None,
                      as_of: date | None = None) -> MassnahmeResult:
    """Compute one Maßnahme's figures; MetricsError (German) when it does not exist."""
    res = compute_all(db, kommune=kommune, discount_rate=discount_rate, as_of=as_of, massnahme=massnahme)
    if not res:
        raise MetricsError(f"Die Maßnahme „{massnahme}“ der Kommune „{kommune}“ gibt es nicht.")
    return res[0]


def _date(x) -> date | None:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT:
        return None
    if isinstance(x, pd.Timestamp):
        return x.date()
    return x


class _Sources:
    """(massnahme_id, kpi) -> ids of the uploads with measurements, for the explanations of one
    compute_all run. Queried on first use: only "Wie berechnet?" reads it, and the query costs as
    much as a tenth of the computation at 1M measurements. None when the data has changed since
    the computation (the uploads read now need not be those the figures came from), or when the
    database is gone or closed (a weak reference: results kept in a memo must not keep a database
    open)."""

    def __init__(self, db: Database, kommune, massnahme) -> None:
        self._db: weakref.ref | None = weakref.ref(db)
        self._bind = _bind(kommune, massnahme, ENGINE_KPIS)
        self._version = db.data_version()
        self._lock = threading.Lock()
        self._data: dict | None = None

    def _load(self) -> dict | None:
        with self._lock:
            if self._data is None and self._db is not None:
                db, self._db = self._db(), None
                try:
                    if db is None or db.data_version() != self._version:
                        return None
                    df = db.df(_SOURCES_SQL, self._bind)
                except duckdb.ConnectionException:  # closed since
                    return None
                self._data = {(int(m), k): list(u) for m, k, u in zip(
                    *(df[c].tolist() for c in ("massnahme_id", "kpi", "uploads")), strict=True)}
            return self._data

    def uploads(self, mid: int, kpis: tuple[str, ...]) -> list[int] | None:
        data = self._load()
        return None if data is None else sorted({u for k in kpis for u in data.get((mid, k), [])})


def _uploads_de(src: _Sources, mid: int, kpis: tuple[str, ...]) -> str:
    ids = src.uploads(mid, kpis)
    if ids is None:
        return "nicht mehr bestimmbar (die Daten wurden seit der Berechnung geändert)"
    if not ids:
        return "keine Werte"
    return ("Upload " if len(ids) == 1 else "Uploads ") + ", ".join(str(i) for i in ids)


def _versions_de(versions: dict[int, params_mod.ParameterVersion], ids: list[int]) -> str:
    return "; ".join(versions[i].source_de for i in ids if i in versions) or "kein Parameter"


def _one_result(row, a: dict[str, np.ndarray], st: dict, flows: dict[str, Cashflow], rate: float, rate_version,
                fte_version, versions, base_by: dict, src: _Sources, plan: list[dict] | None,
                pids: dict[str, list[int]]) -> tuple[MassnahmeResult, np.ndarray | None]:
    """One Maßnahme's result from its monthly arrays `a`, its counts and sums `st` (_segment_stats) and
    its cash flows over all benefits ('all') and the budget-effective ones ('budget')."""
    mid = int(row.massnahme_id)
    golive = _date(row.golive_date)
    after = a["after"]
    n = st["n"]
    reasons: list[str] = []
    notes: list[str] = []

    # baselines (BaselineInfo per KPI)
    binfo: dict[str, BaselineInfo] = {}
    for kpi in BASELINE_KPIS:
        b = base_by.get((mid, kpi))
        if b is not None and b.value is not None and not (isinstance(b.value, float) and math.isnan(b.value)):
            binfo[kpi] = BaselineInfo(kpi, float(b.value), b.method, int(b.months), _date(b.first_month),
                                      _date(b.last_month), b.source if isinstance(b.source, str) else None)
        elif golive is None:
            binfo[kpi] = BaselineInfo(kpi, None, None, reason_de="kein Go-live-Datum hinterlegt")
        else:
            binfo[kpi] = BaselineInfo(
                kpi, None, None,
                reason_de=(f"keine Werte in den 12 Monaten vor dem Go-live ({month_de(golive)}) "
                           "und kein ausdrücklicher Ausgangswert"))

    # components: None = not computable (with a reason), 0.0 = nothing to claim
    if golive is None:
        time_saving = paper_saving = None
        hours = None
        if st["any_value"]:
            reasons.append("Kein Go-live-Datum hinterlegt: Papier- und Zeitersparnis sind nicht "
                           "berechenbar (es ist unklar, welche Monate „vorher“ und „nachher“ sind).")
    else:
        # processing time
        if not st["time_after"]:
            time_saving, hours = 0.0, 0.0
        elif binfo["bearbeitungszeit_min"].value is None:
            time_saving = hours = None
            reasons.append("Zeitersparnis nicht berechenbar: kein Ausgangswert der Bearbeitungszeit ("
                           + binfo["bearbeitungszeit_min"].reason_de + ").")
        elif not st["time_cases"]:
            time_saving = hours = None
            reasons.append("Zeitersparnis nicht berechenbar: nach dem Go-live sind keine Fallzahlen erfasst.")
        elif not st["time_wage"]:
            time_saving = hours = None
            reasons.append("Zeitersparnis nicht berechenbar: für die Laufbahn ist kein Lohnkostensatz "
                           "hinterlegt.")
        else:
            time_saving, hours = st["time_saving"], st["hours"]
            gaps = st["time_gaps"]
            if gaps:
                notes.append(f"Zeitersparnis: {gaps} Monat{'e' if gaps != 1 else ''} nach dem Go-live ohne "
                             "Fallzahl oder Bearbeitungszeit – dort ist keine Ersparnis angesetzt.")
        # paper
        if not st["paper_after"]:
            paper_saving = 0.0
        elif binfo["papier_kosten_eur"].value is None and binfo["papier_seiten"].value is None:
            paper_saving = None
            reasons.append("Papierersparnis nicht berechenbar: kein Ausgangswert für Papierkosten oder "
                           "Seiten (" + binfo["papier_seiten"].reason_de + ").")
        else:
            paper_saving = st["paper_saving"]
            gaps = st["paper_gaps"]
            if gaps:
                notes.append(f"Papierersparnis: {gaps} Monat{'e' if gaps != 1 else ''} nach dem Go-live ohne "
                             "passenden Papierwert – dort ist keine Ersparnis angesetzt.")
    other_saving = st["other_saving"]

    costs_m = a["costs_eur"]
    costs = st["costs"]
    investment = st["investment"]
    budget_parts = [paper_saving, other_saving]
    all_parts = [paper_saving, time_saving, other_saving]
    # a total exists when at least one component is computable or nothing was to be claimed
    benefits = None if (None in all_parts and all(p in (None, 0.0) for p in all_parts)) else \
        float(sum(p for p in all_parts if p is not None))
    benefits_budget = None if (paper_saving is None and other_saving == 0.0) else \
        float(sum(p for p in budget_parts if p is not None))

    # (where the paper saving is not computable, its monthly values are all NaN, so the budget
    # column holds the other savings alone)
    m_all = a["benefits_all"]
    m_budget = a["benefits_budget"]
    months = a["month_idx"]

    def metrics(total, cf):
        if total is None:
            return None, None, None, None, None, None
        net_b = total - costs
        roi_v = net_b / costs if costs > 0 else None
        bcr_v = cf.pv_benefits / cf.pv_costs if cf.pv_costs > 0 else None
        return cf, net_b, roi_v, (cf.npv if cf.npv is not None else 0.0), bcr_v, cf.payback_month

    cf, net, roi_v, npv_v, bcr_v, payback = metrics(benefits, flows["all"])
    cfb, net_b, roi_b, npv_b, _, payback_b = metrics(benefits_budget, flows["budget"])
    if costs == 0:
        notes.append("Keine Kosten erfasst: ROI und Nutzen-Kosten-Verhältnis sind nicht berechenbar "
                     "(Division durch null).")
    # the IRR is filled in by compute_all, for all Maßnahmen at once (irr_many)
    irr_flows = cf.benefits - cf.costs if cf is not None and cf.first_year is not None else None

    # static payback: investment / mean annual net saving after go-live
    static_pb = None
    n_after = st["n_after"]
    if benefits is not None and n_after > 0:
        annual_net = (st["benefits_after"] - st["running_after"]) / n_after * 12
        if annual_net > 0:
            static_pb = investment / annual_net
    fte = None
    if hours is not None and n_after > 0 and fte_version is not None:
        fte = hours / n_after * 12 / fte_version.value

    # parameter versions used (pids: the distinct ids in the months with a time / paper saving)
    pv: dict[str, list[int]] = {}

    def record(key_prefix, pid_col):
        ids = pids[pid_col]
        if ids:
            key = key_prefix if key_prefix != "wage_rate" else versions[ids[0]].key
            pv[key] = list(ids)

    if time_saving is not None:
        record("wage_rate", "wage_pid")
        record("material_cost_per_case_eur", "material_pid")
        before_ids = pids["material_before_pid"]
        if before_ids:
            pv["material_cost_per_case_eur"] = sorted(set(pv.get("material_cost_per_case_eur", [])) | set(before_ids))
    if paper_saving is not None and binfo["papier_kosten_eur"].value is None:
        record("cost_per_page_eur", "cpp_pid")
    if rate_version is not None:
        pv["discount_rate"] = [rate_version.parameter_id]
    if fte is not None:
        pv["fte_hours_per_year"] = [fte_version.parameter_id]

    years_m = months // 12  # ascending, like the months
    month_count = np.bincount(years_m - years_m[0]).tolist() if n else []

    def months_in(y: int) -> int:
        k = y - int(years_m[0]) if n else -1
        return month_count[k] if 0 <= k < len(month_count) else 0

    yearly = []
    if cf is not None and cf.first_year is not None:
        yb = {}
        if cfb is not None and cfb.first_year is not None:
            yb = dict(zip(cfb.years.tolist(), cfb.benefits.tolist(), strict=True))
        for i, (y, c, b) in enumerate(zip(cf.years.tolist(), cf.costs.tolist(), cf.benefits.tolist(),
                                          strict=True)):
            yearly.append({
                "year": y, "t": i, "costs_eur": c, "benefits_eur": b,
                "benefits_budget_eur": float(yb.get(y, 0.0)),
                "net_eur": b - c,
                "discount_factor": float((1 + rate) ** -i),
                "months": months_in(y),
            })
    elif n:
        # benefits not computable: still show the yearly costs
        for y in sorted(set(years_m.tolist())):
            yearly.append({"year": y, "t": None, "costs_eur": float(np.sum(costs_m[years_m == y])),
                           "benefits_eur": None, "benefits_budget_eur": None, "net_eur": None,
                           "discount_factor": None, "months": months_in(y)})

    res = MassnahmeResult(
        kommune=row.kommune, massnahme=row.massnahme,
        handlungsfeld=row.handlungsfeld if isinstance(row.handlungsfeld, str) else None,
        golive=golive, costs_eur=costs, benefits_eur=benefits, benefits_budget_eur=benefits_budget,
        net_benefit_eur=net, net_benefit_budget_eur=net_b, roi=roi_v, roi_budget=roi_b,
        npv_eur=npv_v, npv_budget_eur=npv_b, bcr=bcr_v, irr=None, static_payback_years=static_pb,
        payback_month=payback, payback_month_budget=payback_b, discount_rate=rate,
        hours_saved=hours, fte_saved=fte, baseline=binfo, parameter_versions=pv,
        not_computable=reasons, paper_saving_eur=paper_saving, time_saving_eur=time_saving,
        other_saving_eur=other_saving, investment_eur=investment,
        first_year=cf.first_year if cf is not None else None, yearly=yearly,
        planned_npv_eur=None if row.planned_npv_eur is None or (isinstance(row.planned_npv_eur, float)
                                                                and math.isnan(row.planned_npv_eur))
        else float(row.planned_npv_eur),
        notes=notes, kommune_id=int(row.kommune_id), massnahme_id=mid,
        series={
            "month_idx": months, "costs": costs_m, "benefits": m_all, "benefits_budget": m_budget,
            "running": a["running_eur"], "invest": a["invest_eur"],
            "paper": a["paper0"], "other": a["other_saving_eur"],
            "time_wage": a["time_wage0"], "time_material": a["time_material0"],
            "hours": a["hours0"], "cases": a["cases"], "minutes": a["minutes"],
            "wage": a["wage"], "after": after,
            "benefits_computable": np.array([benefits is not None]),
            "budget_computable": np.array([benefits_budget is not None]),
        },
    )
    res._plan = plan
    res._explain_ctx = (rate_version, fte_version, versions, src)
    return res, irr_flows


def _dev(plan_v, actual_v):
    if plan_v is None or actual_v is None:
        return None, None
    d = actual_v - plan_v
    return d, (d / abs(plan_v) if plan_v != 0 else None)


def _plan_vs_actual(res: MassnahmeResult, plan: list[dict] | None) -> list[dict]:
    """Return per plan year: plan, actual and deviation (abs, %) of costs, benefits, net; plus a 'gesamt' row.

    The 'gesamt' row covers the plan years that have measured values; partial years are flagged.
    """
    if not plan:
        return []
    actual = {r["year"]: r for r in res.yearly}
    rows = []
    tot = {"plan_costs_eur": 0.0, "plan_benefits_eur": 0.0, "actual_costs_eur": 0.0, "actual_benefits_eur": 0.0}
    n_compared = 0
    for p in plan:
        a = actual.get(int(p["year"]))
        ac = a["costs_eur"] if a else None
        ab = a["benefits_eur"] if a else None
        row = {"year": int(p["year"]), "months_actual": a["months"] if a else 0,
               "plan_costs_eur": float(p["costs_eur"]), "actual_costs_eur": ac,
               "plan_benefits_eur": float(p["benefits_eur"]), "actual_benefits_eur": ab,
               "plan_net_eur": float(p["benefits_eur"] - p["costs_eur"]),
               "actual_net_eur": (ab - ac) if (ab is not None and ac is not None) else None}
        row["dev_costs_eur"], row["dev_costs_pct"] = _dev(row["plan_costs_eur"], ac)
        row["dev_benefits_eur"], row["dev_benefits_pct"] = _dev(row["plan_benefits_eur"], ab)
        row["dev_net_eur"], row["dev_net_pct"] = _dev(row["plan_net_eur"], row["actual_net_eur"])
        row["note_de"] = ("noch keine Ist-Werte" if not a else
                          (f"Jahr unvollständig ({a['months']} von 12 Monaten)" if a["months"] < 12 else ""))
        if a and ab is not None:
            n_compared += 1
            tot["plan_costs_eur"] += row["plan_costs_eur"]
            tot["plan_benefits_eur"] += row["plan_benefits_eur"]
            tot["actual_costs_eur"] += ac
            tot["actual_benefits_eur"] += ab
        rows.append(row)
    if n_compared:
        g = {"year": None, "months_actual": None, **tot,
             "plan_net_eur": tot["plan_benefits_eur"] - tot["plan_costs_eur"],
             "actual_net_eur": tot["actual_benefits_eur"] - tot["actual_costs_eur"]}
        g["dev_costs_eur"], g["dev_costs_pct"] = _dev(g["plan_costs_eur"], g["actual_costs_eur"])
        g["dev_benefits_eur"], g["dev_benefits_pct"] = _dev(g["plan_benefits_eur"], g["actual_benefits_eur"])
        g["dev_net_eur"], g["dev_net_pct"] = _dev(g["plan_net_eur"], g["actual_net_eur"])
        g["note_de"] = f"gesamt über {n_compared} Planjahr{'e' if n_compared != 1 else ''} mit Ist-Werten"
        rows.append(g)
    if res.planned_npv_eur is not None and res.npv_eur is not None:
        d, pct = _dev(res.planned_npv_eur, res.npv_eur)
        rows.append({"year": None, "note_de": "Kapitalwert Plan gegenüber Ist",
                     "plan_npv_eur": res.planned_npv_eur, "actual_npv_eur": res.npv_eur,
                     "dev_npv_eur": d, "dev_npv_pct": pct})
    return rows


def _explain(res: MassnahmeResult, rate_version, fte_version, versions, src) -> dict[str, Explanation]:
    """Build the 'Wie berechnet?' explanation of every headline figure."""
    mid = res.massnahme_id
    pv = res.parameter_versions
    rate_src = rate_version.source_de if rate_version else "beim Aufruf vorgegeben (kein gespeicherter Parameter)"
    cost_src = {k: _uploads_de(src, mid, (k,)) for k in COST_KPIS}
    s = res.series
    golive_txt = month_de(res.golive) if res.golive else "–"
    ex: dict[str, Explanation] = {}
    ex["costs_eur"] = Explanation(
        FIGURES_DE["costs_eur"],
        "Summe aller Kosten über alle Monate: Investitionskosten + Betriebs- und Lizenzkosten + "
        "Personalkosten des Vorhabens.",
        [("Investitionskosten", float(np.sum(s["invest"])), "€", cost_src["kosten_investition_eur"]),
         ("Betriebs-, Lizenz- und Personalkosten", float(np.sum(s["running"])), "€",
          cost_src["kosten_betrieb_eur"] + " / " + cost_src["kosten_personal_eur"])],
    )
    bl_inputs = []
    for kpi, label, unit in (("bearbeitungszeit_min", "Ausgangswert Bearbeitungszeit je Fall", "Minuten"),
                             ("papier_kosten_eur", "Ausgangswert Papierkosten je Monat", "€"),
                             ("papier_seiten", "Ausgangswert Seiten je Monat", "Seiten")):
        b = res.baseline.get(kpi)
        if b is not None:
            bl_inputs.append((label, b.value, unit, b.text_de + "; " + _uploads_de(src, mid, (kpi,))))
    wage_ids = next((v for k, v in pv.items() if k.startswith("wage_rate_")), [])
    ex["benefits_eur"] = Explanation(
        FIGURES_DE["benefits_eur"],
        f"Ab dem Go-live-Monat ({golive_txt}) je Monat: Papierersparnis (Ausgangswert € − €, sonst "
        "(Ausgangswert Seiten − Seiten) × Kosten je Seite) + Zeitersparnis (Fälle × (Ausgangs-Minuten − "
        "Minuten) / 60 × Lohnkostensatz der Laufbahn, zzgl. Fälle × Differenz der Sachkosten je Fall) + "
        "sonstige belegte Einsparungen; summiert über alle Monate.",
        [("Papierersparnis", res.paper_saving_eur, "€",
          _uploads_de(src, mid, ("papier_kosten_eur", "papier_seiten"))),
         ("Zeitersparnis", res.time_saving_eur, "€",
          _uploads_de(src, mid, ("fallzahl", "bearbeitungszeit_min"))),
         ("sonstige belegte Einsparungen", res.other_saving_eur, "€",
          _uploads_de(src, mid, ("einsparung_sonstige_eur",))),
         *bl_inputs,
         ("Lohnkostensatz", float(np.nanmax(s["wage"])) if np.any(~np.isnan(s["wage"])) else None,
          "€/Stunde", _versions_de(versions, wage_ids)),
         ("Kosten je Seite", None if "cost_per_page_eur" not in pv else
          versions[pv["cost_per_page_eur"][-1]].value, "€/Seite",
          _versions_de(versions, pv.get("cost_per_page_eur", [])) if "cost_per_page_eur" in pv
          else "nicht verwendet (Papierkosten in € erfasst)")],
        {k: v for k, v in pv.items() if k.startswith("wage_rate_") or k in ("cost_per_page_eur",
                                                                               "material_cost_per_case_eur")},
    )
    ex["benefits_budget_eur"] = Explanation(
        FIGURES_DE["benefits_budget_eur"],
        "Nur haushaltswirksame Einsparungen: Papierersparnis + sonstige belegte Einsparungen. "
        "Freigewordene Arbeitszeit ist nicht haushaltswirksam, solange keine Stellen entfallen.",
        [("Papierersparnis", res.paper_saving_eur, "€",
          _uploads_de(src, mid, ("papier_kosten_eur", "papier_seiten"))),
         ("sonstige belegte Einsparungen", res.other_saving_eur, "€",
          _uploads_de(src, mid, ("einsparung_sonstige_eur",)))],
    )
    ex["net_benefit_eur"] = Explanation(
        FIGURES_DE["net_benefit_eur"], "Nutzen − Kosten (Summe über alle Jahre, nicht abgezinst).",
        [("Nutzen", res.benefits_eur, "€", "siehe Nutzen"), ("Kosten", res.costs_eur, "€", "siehe Kosten")],
    )
    ex["net_benefit_budget_eur"] = Explanation(
        FIGURES_DE["net_benefit_budget_eur"], "Haushaltswirksamer Nutzen − Kosten (nicht abgezinst).",
        [("Nutzen, haushaltswirksam", res.benefits_budget_eur, "€", "siehe Nutzen, haushaltswirksam"),
         ("Kosten", res.costs_eur, "€", "siehe Kosten")],
    )
    ex["roi"] = Explanation(
        FIGURES_DE["roi"], "Nettonutzen / Kosten.",
        [("Nettonutzen", res.net_benefit_eur, "€", "siehe Nettonutzen"),
         ("Kosten", res.costs_eur, "€", "siehe Kosten")],
    )
    year_inputs = [(f"Nettonutzen {r['year']} (t = {r['t']})", r["net_eur"], "€",
                    f"Abzinsungsfaktor {number_de(r['discount_factor'], 4)}") for r in res.yearly
                   if r["t"] is not None]
    rate_pv = {"discount_rate": pv["discount_rate"]} if "discount_rate" in pv else {}
    ex["npv_eur"] = Explanation(
        FIGURES_DE["npv_eur"],
        "Kapitalwert = Σ (Nutzen_t − Kosten_t) / (1 + i)^t; t = 0 ist das erste Kalenderjahr mit Kosten "
        f"oder Nutzen ({res.first_year if res.first_year else '–'}); i = Kalkulationszinssatz.",
        [("Kalkulationszinssatz i", res.discount_rate, "Anteil", rate_src), *year_inputs],
        rate_pv,
    )
    ex["npv_budget_eur"] = Explanation(
        FIGURES_DE["npv_budget_eur"],
        "Wie der Kapitalwert, aber nur mit haushaltswirksamem Nutzen (Papier + sonstige Einsparungen).",
        [("Kalkulationszinssatz i", res.discount_rate, "Anteil", rate_src),
         ("Nutzen, haushaltswirksam", res.benefits_budget_eur, "€", "siehe Nutzen, haushaltswirksam")],
        rate_pv,
    )
    pv_n = npv(res.discount_rate, [r["benefits_eur"] for r in res.yearly]) if res.npv_eur is not None else None
    pv_k = npv(res.discount_rate, [r["costs_eur"] for r in res.yearly]) if res.npv_eur is not None else None
    ex["bcr"] = Explanation(
        FIGURES_DE["bcr"], "Barwert des Nutzens / Barwert der Kosten (gleicher Zins, gleiches t = 0).",
        [("Barwert Nutzen", pv_n, "€", "Jahresnutzen abgezinst"),
         ("Barwert Kosten", pv_k, "€", "Jahreskosten abgezinst"),
         ("Kalkulationszinssatz i", res.discount_rate, "Anteil", rate_src)], rate_pv,
    )
    ex["irr"] = Explanation(
        FIGURES_DE["irr"], "Der Zins, bei dem der Kapitalwert null ist (nur definiert, wenn die jährlichen "
        "Nettowerte das Vorzeichen wechseln).", year_inputs,
    )
    ex["static_payback_years"] = Explanation(
        FIGURES_DE["static_payback_years"],
        "Investition / durchschnittlicher jährlicher Nettonutzen nach dem Go-live (Nutzen − laufende "
        "Kosten, je Monat seit Go-live × 12). Investition = alle Kosten vor dem Go-live-Monat + "
        "Investitionskosten ab dem Go-live.",
        [("Investition", res.investment_eur, "€", cost_src["kosten_investition_eur"] + " / "
          + cost_src["kosten_personal_eur"]),
         ("Monate seit Go-live", int(np.sum(s["after"])), "Monate", "Zeitraum der Daten")],
    )
    ex["payback_month"] = Explanation(
        FIGURES_DE["payback_month"],
        "Erster Monat, ab dem der kumulierte abgezinste Nettonutzen ≥ 0 ist und bis zum letzten Datenmonat "
        "≥ 0 bleibt; jeder Monat wird mit dem Faktor 1/(1 + i)^t seines Kalenderjahres abgezinst.",
        [("Kalkulationszinssatz i", res.discount_rate, "Anteil", rate_src),
         ("Ergebnis", res.payback_text_de, "", "")], rate_pv,
    )
    ex["hours_saved"] = Explanation(
        FIGURES_DE["hours_saved"],
        "Ab dem Go-live je Monat: Fälle × (Ausgangs-Minuten − Minuten) / 60; summiert.",
        [("Ausgangswert Bearbeitungszeit", res.baseline["bearbeitungszeit_min"].value, "Minuten",
          res.baseline["bearbeitungszeit_min"].text_de),
         ("Fälle seit Go-live", float(np.nansum(s["cases"][s["after"]])), "Fälle",
          _uploads_de(src, mid, ("fallzahl",)))],
    )
    ex["fte_saved"] = Explanation(
        FIGURES_DE["fte_saved"],
        "Eingesparte Stunden je Jahr (Durchschnitt seit Go-live) / Netto-Jahresarbeitszeit je Vollzeitstelle.",
        [("Eingesparte Stunden", res.hours_saved, "Stunden", "siehe Arbeitsstunden"),
         ("Netto-Jahresarbeitszeit", fte_version.value if fte_version else None, "Stunden",
          fte_version.source_de if fte_version else "kein Parameter")],
        {"fte_hours_per_year": [fte_version.parameter_id]} if fte_version else {},
    )
    return ex


# ---------------------------------------------------------------------------------------------
# aggregation and series


def aggregate(results: list[MassnahmeResult], level: str = "kommune") -> list[AggregateResult]:
    """Sum Maßnahmen per Kommune ('kommune') or over all ('overall') and recompute NPV etc. on the sums.

    Costs of every Maßnahme count; benefits only where computable (incomplete ones are listed).
    """
    if level not in ("kommune", "overall"):
        raise ValueError("level must be 'kommune' or 'overall'")
    groups: dict[str | None, list[MassnahmeResult]] = {}
    for r in results:
        groups.setdefault(r.kommune if level == "kommune" else None, []).append(r)
    out = []
    for kommune, members in groups.items():
        out.append(_aggregate_group(level, kommune, members))
    return out


def month_span(members: list) -> tuple[int, int] | None:
    """(first, last) month index over the members' monthly series; None when none has a month."""
    idx = [m.series["month_idx"] for m in members if len(m.series.get("month_idx", ()))]
    if not idx:
        return None
    return min(int(i[0]) for i in idx), max(int(i[-1]) for i in idx)  # each series' months ascend


def monthly_sum(members: list, key: str, lo: int, n: int) -> np.ndarray:
    """Σ over members of series[key] per month (month index lo … lo + n − 1; NaN counts as 0).

    One bincount over the series one after the other: per month the same additions in the same
    order as adding them member by member (np.add.at), so the same bits, without a call per member.
    """
    parts = [m.series for m in members if len(m.series.get("month_idx", ()))]
    if not parts:
        return np.zeros(n)
    months = np.concatenate([p["month_idx"] for p in parts]) - lo
    values = np.nan_to_num(np.concatenate([p[key] for p in parts]))
    return np.bincount(months, weights=values, minlength=n)[:n]


def _aggregate_group(level, kommune, members: list[MassnahmeResult]) -> AggregateResult:
    rate = members[0].discount_rate
    ok = [m for m in members if m.benefits_eur is not None]
    ok_b = [m for m in members if m.benefits_budget_eur is not None]
    span = month_span(members)
    lo, n = (span[0], span[1] - span[0] + 1) if span else (0, 0)
    months = np.arange(lo, lo + n)
    costs = monthly_sum(members, "costs", lo, n)
    benefits = monthly_sum(ok, "benefits", lo, n)
    budget = monthly_sum(ok_b, "benefits_budget", lo, n)
    c_total = float(costs.sum())
    b_total = float(benefits.sum())
    bb_total = float(budget.sum())
    cf = cashflow(months, costs, benefits, rate) if len(months) else None
    cfb = cashflow(months, costs, budget, rate) if len(months) else None
    hours = float(sum(m.hours_saved for m in members if m.hours_saved is not None))
    fte = sum(m.fte_saved for m in members if m.fte_saved is not None)
    yearly = []
    if cf is not None and cf.first_year is not None:
        for i, y in enumerate(cf.years.tolist()):
            yearly.append({"year": y, "t": i, "costs_eur": float(cf.costs[i]),
                           "benefits_eur": float(cf.benefits[i]),
                           "benefits_budget_eur": float(cfb.benefits[i]) if cfb.first_year == cf.first_year
                           else None,
                           "net_eur": float(cf.benefits[i] - cf.costs[i])})
    return AggregateResult(
        level=level, kommune=kommune, n_massnahmen=len(members), costs_eur=c_total, benefits_eur=b_total,
        benefits_budget_eur=bb_total, net_benefit_eur=b_total - c_total,
        net_benefit_budget_eur=bb_total - c_total,
        roi=(b_total - c_total) / c_total if c_total > 0 else None,
        roi_budget=(bb_total - c_total) / c_total if c_total > 0 else None,
        npv_eur=cf.npv if cf else None, npv_budget_eur=cfb.npv if cfb else None,
        bcr=cf.pv_benefits / cf.pv_costs if cf and cf.pv_costs > 0 else None,
        irr=irr(cf.benefits - cf.costs) if cf and cf.first_year is not None else None,
        payback_month=cf.payback_month if cf else None,
        payback_month_budget=cfb.payback_month if cfb else None,
        discount_rate=rate, hours_saved=hours, fte_saved=fte if any(m.fte_saved is not None for m in members)
        else None,
        first_year=cf.first_year if cf else None,
        incomplete=[f"{m.kommune} – {m.massnahme}: {r}" for m in members for r in m.not_computable],
        yearly=yearly,
    )


SERIES_COLUMNS = ("costs_eur", "benefits_eur", "benefits_budget_eur", "paper_saving_eur", "time_saving_eur",
                  "other_saving_eur", "hours_saved", "net_eur", "cum_costs_eur", "cum_benefits_eur",
                  "cum_net_eur", "cum_net_discounted_eur", "cum_net_budget_eur",
                  "cum_net_budget_discounted_eur")


def series_frame(results: list[MassnahmeResult]) -> pd.DataFrame:
    """Return the monthly series (one row per Kommune, Maßnahme, month) of already computed results."""
    frames = []
    for r in results:
        s = r.series
        mi = s.get("month_idx", np.array([], dtype=int))
        if not len(mi):
            continue
        ok = bool(s["benefits_computable"][0])
        okb = bool(s["budget_computable"][0])
        ben = s["benefits"] if ok else np.full(len(mi), np.nan)
        bud = s["benefits_budget"] if okb else np.full(len(mi), np.nan)
        cf = cashflow(mi, s["costs"], s["benefits"], r.discount_rate) if ok else None
        cfb = cashflow(mi, s["costs"], s["benefits_budget"], r.discount_rate) if okb else None
        frames.append(pd.DataFrame({
            "kommune": r.kommune, "massnahme": r.massnahme,
            "month": [_int_to_month(i) for i in mi],
            "costs_eur": s["costs"], "benefits_eur": ben, "benefits_budget_eur": bud,
            "paper_saving_eur": s["paper"] if r.paper_saving_eur is not None else np.nan,
            "time_saving_eur": s["time_wage"] + s["time_material"] if r.time_saving_eur is not None
            else np.nan,
            "other_saving_eur": s["other"],
            "hours_saved": s["hours"] if r.hours_saved is not None else np.nan,
            "net_eur": ben - s["costs"],
            "cum_costs_eur": np.cumsum(s["costs"]),
            "cum_benefits_eur": np.cumsum(ben),
            "cum_net_eur": cf.cum_net if cf else np.nan,
            "cum_net_discounted_eur": cf.cum_net_discounted if cf else np.nan,
            "cum_net_budget_eur": cfb.cum_net if cfb else np.nan,
            "cum_net_budget_discounted_eur": cfb.cum_net_discounted if cfb else np.nan,
            "after_golive": s["after"],
        }))
    if not frames:
        return pd.DataFrame(columns=["kommune", "massnahme", "month", *SERIES_COLUMNS, "after_golive"])
    return pd.concat(frames, ignore_index=True)


def monthly_series(db: Database, kommune: str | None = None, massnahme: str | None = None,
                   discount_rate: float | None = None, as_of: date | None = None) -> pd.DataFrame:
    """Return one row per (kommune, massnahme, month) with costs, benefits and cumulative (discounted) net.

    Months between the first and last month with data are present (gaps as zero); benefits NaN
    where not computable.
    """
    return series_frame(compute_all(db, kommune=kommune, discount_rate=discount_rate, as_of=as_of,
                                    massnahme=massnahme))


# ---------------------------------------------------------------------------------------------
# CLI table


def table_de(results: list[MassnahmeResult]) -> str:
    """Return a readable German text table of the results (for `kpi metrics`)."""
    if not results:
        return "Keine Maßnahmen gefunden."
    head = ("Kommune", "Maßnahme", "Kosten", "Nutzen", "haushaltsw.", "Nettonutzen", "ROI", "Kapitalwert",
            "Amortisation")
    rows = []
    for r in results:
        rows.append((r.kommune, r.massnahme, eur_de(r.costs_eur), eur_de(r.benefits_eur),
                     eur_de(r.benefits_budget_eur), eur_de(r.net_benefit_eur), pct_de(r.roi),
                     eur_de(r.npv_eur), r.payback_text_de))
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    right = {2, 3, 4, 5, 6, 7}

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    out = [line(head).rstrip(), line(["-" * w for w in widths])]
    out += [line(r).rstrip() for r in rows]
    rates = sorted({r.discount_rate for r in results})
    out.append("")
    out.append("Kalkulationszinssatz: " + ", ".join(pct_de(x, 2) for x in rates)
               + "; Kapitalwert mit t = 0 im ersten Jahr mit Kosten oder Nutzen.")
    for r in results:
        for reason in r.not_computable:
            out.append(f"Hinweis {r.kommune} – {r.massnahme}: {reason}")
    return "\n".join(out)
