"""Shared fixtures: tiny in-memory databases with plain names."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kpi.db import open_database  # noqa: E402


@pytest.fixture
def fresh_db():
    """An empty, seeded in-memory database."""
    db = open_database(":memory:")
    yield db
    db.close()


@pytest.fixture
def demo_db(tmp_path_factory):
    """A file database with the demo data (built once per test that asks)."""
    from kpi import demo

    db = open_database(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    demo.load_demo(db)
    yield db
    db.close()


def frame(rows: list[tuple]) -> pd.DataFrame:
    """Build a normalised frame from (kommune, massnahme, kpi, 'YYYY-MM', value) tuples."""
    return pd.DataFrame(
        [
            {
                "kommune": k,
                "massnahme": m,
                "kpi": kpi,
                "period_start": date(int(p[:4]), int(p[5:7]), 1),
                "granularity": "month",
                "value": v,
                "note": None,
            }
            for k, m, kpi, p, v in rows
        ]
    )
