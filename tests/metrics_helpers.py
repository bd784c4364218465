"""Helpers for the metrics tests: build tiny databases from visible rows."""

from __future__ import annotations

from datetime import date

import pandas as pd

from kpi import store
from tests.conftest import frame


def d(text: str) -> date:
    """'2023-03' -> date(2023, 3, 1); '2023-03-15' -> that day."""
    parts = [int(x) for x in text.split("-")]
    return date(parts[0], parts[1], parts[2] if len(parts) > 2 else 1)


def load(db, massnahmen: list[tuple], rows: list[tuple], *, parameters: list[tuple] | None = None,
         baselines: list[tuple] | None = None, plans: list[tuple] | None = None,
         kommunen: list[tuple] | None = None, targets: list[tuple] | None = None,
         scores: list[tuple] | None = None, criteria: list[tuple] | None = None, file_name: str = "test.xlsx"):
    """Load one payload.

    massnahmen: (kommune, name, golive 'YYYY-MM' or None, laufbahn)
    rows: (kommune, massnahme, kpi, 'YYYY-MM', value) monthly measurements
    parameters: (key, value, 'YYYY-MM-DD') ; baselines: (kommune, massnahme, kpi, value, source)
    plans: (kommune, massnahme, year, costs, benefits) ; kommunen: (name, einwohner)
    targets: (kommune, massnahme, kpi, target_value, 'YYYY-MM-DD', start_value)
    """
    p = store.Payload(
        measurements=frame(rows) if rows else None,
        massnahmen=pd.DataFrame(
            [{"kommune": k, "name": n, "handlungsfeld": "Verwaltung", "start_date": None,
              "golive_date": d(g) if g else None, "laufbahn": lb, "planned_npv_eur": None}
             for k, n, g, lb in massnahmen]),
    )
    if parameters:
        p.parameters = pd.DataFrame([{"key": k, "value": v, "valid_from": d(f), "source": "Test"}
                                     for k, v, f in parameters])
    if baselines:
        p.baselines = pd.DataFrame(baselines, columns=["kommune", "massnahme", "kpi", "value", "source"])
    if plans:
        p.plans = pd.DataFrame(plans, columns=["kommune", "massnahme", "year", "costs_eur", "benefits_eur"])
    if kommunen:
        p.kommunen = pd.DataFrame([{"name": n, "ags": None, "einwohner": e} for n, e in kommunen])
    if targets:
        p.targets = pd.DataFrame([{"kommune": k, "massnahme": m, "kpi": kpi, "target_value": tv,
                                   "target_date": d(td), "start_value": sv}
                                  for k, m, kpi, tv, td, sv in targets])
    if criteria:
        p.criteria = pd.DataFrame(criteria, columns=["name", "weight_pct"])
    if scores:
        p.scores = pd.DataFrame(scores, columns=["kommune", "massnahme", "criterion", "score"])
    return store.apply_payload(db, p, file_name=file_name, user="test")
