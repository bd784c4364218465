"""Sensitivity of a Maßnahme's NPV: break-even values (NPV = 0) and tornado data (±20 %).

The NPV is recomputed from the Maßnahme's monthly series with one input scaled:
time saving = Fälle × eingesparte Minuten / 60 × Lohnsatz (+ Fälle × Sachkostendifferenz), so
scaling cases, minutes saved or wage rate scales the corresponding part of each month's saving.
Break-even values come from bisection on that pure NPV function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from kpi.fmt import number_de, pct_de
from kpi.metrics.engine import MassnahmeResult, MetricsError, cashflow, compute_massnahme

TORNADO_SHARE = 0.20


class BreakEven(NamedTuple):
    """The value of one input at which the NPV is zero, with a German sentence."""

    input_de: str
    current: float | None
    break_even_value: float | None
    sentence_de: str
    key: str
    unit: str


def npv_scaled(result: MassnahmeResult, *, cases: float = 1.0, minutes: float = 1.0, wage: float = 1.0,
               costs: float = 1.0, other: float = 1.0, rate: float | None = None,
               budget: bool = False) -> float:
    """Return the NPV with cases, minutes saved, wage rate, costs, paper+other savings scaled by factors.

    budget=True uses only haushaltswirksame benefits (time factors then have no effect).
    """
    s = result.series
    if not len(s.get("month_idx", [])):
        return 0.0
    time = s["time_wage"] * cases * minutes * wage + s["time_material"] * cases
    benefits = (s["paper"] + s["other"]) * other + (0.0 if budget else time)
    cf = cashflow(s["month_idx"], s["costs"] * costs, benefits, result.discount_rate if rate is None else rate)
    return 0.0 if cf.npv is None else cf.npv


def bisect_root(f: Callable[[float], float], lo: float, hi: float, tol: float = 1e-10,
                max_iter: int = 200) -> float | None:
    """Return x in [lo, hi] with f(x) = 0 by bisection; None when f(lo) and f(hi) have the same sign."""
    flo, fhi = f(lo), f(hi)
    if flo == 0:
        return lo
    if fhi == 0:
        return hi
    if (flo > 0) == (fhi > 0):
        return None
    for _ in range(max_iter):
        mid = (lo + hi) / 2
        fm = f(mid)
        if fm == 0 or (hi - lo) / 2 < tol * max(1.0, abs(mid)):
            return mid
        if (fm > 0) == (flo > 0):
            lo, flo = mid, fm
        else:
            hi = mid
    return (lo + hi) / 2


def _factor_root(f: Callable[[float], float]) -> float | None:
    """Return the factor ≥ 0 at which f crosses zero (search up to 10^6)."""
    hi = 2.0
    while hi <= 1e6:
        root = bisect_root(f, 0.0, hi)
        if root is not None:
            return root
        hi *= 4
    return None


def _current_values(result: MassnahmeResult) -> dict[str, float | None]:
    s = result.series
    after = s["after"]
    n_after = int(after.sum())
    cases_with_saving = np.where(s["hours"] != 0, np.nan_to_num(s["cases"]), 0.0)
    wages = s["wage"][after & ~np.isnan(s["wage"])]
    return {
        "cases": float(np.nansum(s["cases"][after])) / n_after * 12 if n_after else None,
        "minutes": float(np.sum(s["hours"])) * 60 / float(cases_with_saving.sum())
        if cases_with_saving.sum() > 0 else None,
        "wage": float(wages[-1]) if len(wages) else None,
        "rate": result.discount_rate,
    }


_INPUTS = (
    # key, German label, unit, decimals
    ("cases", "die Fallzahl", "Fälle pro Jahr", 0),
    ("minutes", "die eingesparte Bearbeitungszeit", "Minuten je Fall", 1),
    ("wage", "der Lohnkostensatz", "€/Stunde", 2),
)


def break_even(db_or_result, kommune: str | None = None, massnahme: str | None = None,
               discount_rate: float | None = None) -> list[BreakEven]:
    """Return break-even values of case count, minutes saved per case, wage rate and discount rate.

    Accepts a MassnahmeResult or (db, kommune, massnahme). Inputs that do not apply (no time
    saving) get a sentence saying so and break_even_value None.
    """
    result = _result(db_or_result, kommune, massnahme, discount_rate)
    if result.npv_eur is None:
        raise MetricsError(f"{result.massnahme}: der Kapitalwert ist nicht berechenbar, daher keine "
                           "Sensitivitätsanalyse (" + "; ".join(result.not_computable) + ").")
    cur = _current_values(result)
    base = npv_scaled(result)
    out = []
    has_time = result.time_saving_eur not in (None, 0.0) and float(np.abs(result.series["time_wage"]).sum()) > 0
    for key, label, unit, dec in _INPUTS:
        current = cur[key]
        if not has_time or current is None:
            out.append(BreakEven(_title(label), current, None,
                                 f"Für {result.massnahme} ist keine Zeitersparnis berechnet; "
                                 f"{label} beeinflusst den Kapitalwert nicht.", key, unit))
            continue

        def f(x, key=key):
            return npv_scaled(result, **{key: x})

        root = _factor_root(f)
        out.append(_sentence(_title(label), label, key, unit, dec, current,
                             None if root is None else root * current, base, f(0.0), result))
    out.append(_rate_break_even(result, base))
    return out


def _title(label: str) -> str:
    word = label.split(" ", 1)[1]
    return word[0].upper() + word[1:]


def _sentence(title, label, key, unit, dec, current, value, base, npv_at_zero, result) -> BreakEven:
    unit_txt = "pro Jahr" if key == "cases" else unit  # "über 574 pro Jahr" reads without a case ending
    cur_txt = f"{number_de(current, dec)} {unit_txt}"
    if value is None:
        if base >= 0:
            text = (f"Die Maßnahme bleibt wirtschaftlich, auch wenn {label} auf null fällt "
                    f"(derzeit {cur_txt}).")
        else:
            text = (f"Die Maßnahme wird auch mit einem Vielfachen des heutigen Werts nicht wirtschaftlich, "
                    f"wenn nur {label} steigt (derzeit {cur_txt}).")
        return BreakEven(title, current, None, text, key, unit)
    val_txt = f"{number_de(value, dec)} {unit_txt}"
    above = npv_at_zero < 0  # NPV rises with the input: economic above the break-even value
    side = "über" if above else "unter"
    if base >= 0:
        text = (f"Die Maßnahme bleibt wirtschaftlich, solange {label} {side} {val_txt} liegt "
                f"(derzeit {cur_txt}).")
    else:
        text = (f"Die Maßnahme ist derzeit nicht wirtschaftlich; sie würde es, wenn {label} {side} "
                f"{val_txt} läge (derzeit {cur_txt}).")
    return BreakEven(title, current, value, text, key, unit)


def _rate_break_even(result: MassnahmeResult, base: float) -> BreakEven:
    title, label, unit = "Kalkulationszinssatz", "der Kalkulationszinssatz", "Anteil"
    rate = result.discount_rate

    def f(i):
        return npv_scaled(result, rate=i)

    cur_txt = pct_de(rate, 2)
    if base >= 0:
        root = bisect_root(f, rate, 10.0)
        if root is None:
            text = (f"Die Maßnahme bleibt bei jedem Kalkulationszinssatz bis 1.000 % wirtschaftlich "
                    f"(derzeit {cur_txt}).")
        else:
            text = (f"Die Maßnahme bleibt wirtschaftlich, solange {label} unter {pct_de(root, 2)} liegt "
                    f"(derzeit {cur_txt}).")
    else:
        root = bisect_root(f, -0.99, rate)
        if root is None or root < 0:
            text = (f"Die Maßnahme ist auch bei einem Kalkulationszinssatz von 0 % nicht wirtschaftlich "
                    f"(derzeit {cur_txt}).")
        else:
            text = (f"Die Maßnahme ist derzeit nicht wirtschaftlich; sie würde es bei einem "
                    f"Kalkulationszinssatz unter {pct_de(root, 2)} (derzeit {cur_txt}).")
    return BreakEven(title, rate, root, text, "rate", unit)


def tornado(db_or_result, kommune: str | None = None, massnahme: str | None = None,
            discount_rate: float | None = None, share: float = TORNADO_SHARE) -> pd.DataFrame:
    """Return NPV at −20 % / +20 % of each input: input_de, key, low_npv, high_npv, base_npv, swing_eur.

    Sorted by swing (largest effect first) for a tornado chart.
    """
    result = _result(db_or_result, kommune, massnahme, discount_rate)
    if result.npv_eur is None:
        raise MetricsError(f"{result.massnahme}: der Kapitalwert ist nicht berechenbar, daher kein "
                           "Tornado-Diagramm.")
    base = npv_scaled(result)
    lo_f, hi_f = 1 - share, 1 + share
    rows = []
    specs = [
        ("cases", "Fallzahl"), ("minutes", "eingesparte Minuten je Fall"), ("wage", "Lohnkostensatz"),
        ("costs", "Kosten"), ("other", "Papier- und sonstige Einsparungen"),
    ]
    for key, label in specs:
        rows.append({"input_de": label, "key": key, "low_npv": npv_scaled(result, **{key: lo_f}),
                     "high_npv": npv_scaled(result, **{key: hi_f}), "base_npv": base})
    rate = result.discount_rate
    rows.append({"input_de": "Kalkulationszinssatz", "key": "rate",
                 "low_npv": npv_scaled(result, rate=rate * lo_f),
                 "high_npv": npv_scaled(result, rate=rate * hi_f), "base_npv": base})
    df = pd.DataFrame(rows)
    df["swing_eur"] = (df["high_npv"] - df["low_npv"]).abs()
    return df.sort_values("swing_eur", ascending=False, kind="stable").reset_index(drop=True)


def _result(db_or_result, kommune, massnahme, discount_rate) -> MassnahmeResult:
    if isinstance(db_or_result, MassnahmeResult):
        return db_or_result
    if kommune is None or massnahme is None:
        raise MetricsError("Für die Sensitivitätsanalyse bitte Kommune und Maßnahme angeben.")
    return compute_massnahme(db_or_result, kommune, massnahme, discount_rate=discount_rate)
