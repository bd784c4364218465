"""Peer comparison of Kommunen: per-inhabitant values with median, quartiles, min–max and rank within a size class."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpi import catalog
from kpi.db import Database
from kpi.metrics.engine import MassnahmeResult, aggregate, compute_all

# metric -> (attribute of the Kommune aggregate, German label, higher is better)
PEER_METRICS: dict[str, tuple[str, str, bool]] = {
    "costs_per_inhabitant": ("costs_eur", "Kosten je Einwohner", False),
    "benefits_per_inhabitant": ("benefits_eur", "Nutzen je Einwohner", True),
    "benefits_budget_per_inhabitant": ("benefits_budget_eur", "haushaltswirksamer Nutzen je Einwohner", True),
    "net_benefit_per_inhabitant": ("net_benefit_eur", "Nettonutzen je Einwohner", True),
    "npv_per_inhabitant": ("npv_eur", "Kapitalwert je Einwohner", True),
}


def peer_comparison(db: Database, metric: str = "costs_per_inhabitant",
                    results: list[MassnahmeResult] | None = None,
                    discount_rate: float | None = None) -> pd.DataFrame:
    """Return per Kommune: einwohner, size_class, value (€ per inhabitant) and, within its size class,
    n, median, q1, q3 (linear interpolation), min, max, rank (1 = best by the metric's direction) and
    score_0_100 (min–max normalised, best = 100). Kommunen without population get no value.
    """
    if metric not in PEER_METRICS:
        raise ValueError(f"Unbekannte Vergleichsgröße „{metric}“. Möglich: {', '.join(PEER_METRICS)}.")
    attr, label, higher_better = PEER_METRICS[metric]
    if results is None:
        results = compute_all(db, discount_rate=discount_rate)
    pop = dict(db.query("SELECT name, einwohner FROM kommune"))
    rows = []
    for agg in aggregate(results, "kommune"):
        ew = pop.get(agg.kommune)
        total = getattr(agg, attr)
        value = total / ew if ew and total is not None else None
        rows.append({"kommune": agg.kommune, "einwohner": ew, "size_class": catalog.size_class(ew),
                     "metric": metric, "metric_de": label, "total_eur": total, "value": value})
    df = pd.DataFrame(rows, columns=["kommune", "einwohner", "size_class", "metric", "metric_de",
                                     "total_eur", "value"])
    df["value"] = df["value"].astype(float)
    for col in ("n_in_class", "median", "q1", "q3", "min", "max", "rank", "score_0_100"):
        df[col] = np.nan
    for _, idx in df[df["value"].notna()].groupby("size_class").groups.items():
        v = df.loc[idx, "value"]
        df.loc[idx, "n_in_class"] = len(v)
        df.loc[idx, "median"] = v.median()
        df.loc[idx, "q1"] = v.quantile(0.25)
        df.loc[idx, "q3"] = v.quantile(0.75)
        df.loc[idx, "min"] = v.min()
        df.loc[idx, "max"] = v.max()
        df.loc[idx, "rank"] = v.rank(method="min", ascending=not higher_better)
        span = v.max() - v.min()
        norm = (v - v.min()) / span * 100 if span > 0 else pd.Series(100.0, index=v.index)
        df.loc[idx, "score_0_100"] = norm if higher_better else (100 - norm if span > 0 else norm)
    df["rank"] = df["rank"].astype("Int64")
    df["n_in_class"] = df["n_in_class"].astype("Int64")
    order = {label: i for i, (label, _, _) in enumerate(catalog.SIZE_CLASSES)}
    df["_o"] = df["size_class"].map(order).fillna(99)
    return df.sort_values(["_o", "rank", "kommune"], kind="stable").drop(columns="_o").reset_index(drop=True)
