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


@pytest.fixture(autouse=True)
def no_warmup(monkeypatch):
    """No background warm-up thread in app tests (deterministic); tests of it switch it on."""
    monkeypatch.setenv("KPI_WARMUP", "0")


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


# --- AppTest fixtures shared by the page tests ------------------------------------------------


def clear_app_caches() -> None:
    """Forget the cached database and results, so the next AppTest run opens $KPI_DB afresh."""
    import streamlit as st

    from kpi import overview

    st.cache_resource.clear()
    st.cache_data.clear()
    overview._MEMO.clear()


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    """One demo database file per test module (page tests only read it, or restore what they change)."""
    from kpi import demo

    path = tmp_path_factory.mktemp("pages") / "demo.duckdb"
    with open_database(path) as db:
        demo.load_demo(db)
    return path


@pytest.fixture
def demo_env(demo_file, monkeypatch):
    """The app on the demo database, every page visible (development role)."""
    monkeypatch.setenv("KPI_DB", str(demo_file))
    monkeypatch.setenv("KPI_DEV_ROLE", "admin")
    clear_app_caches()
    yield demo_file
    clear_app_caches()


@pytest.fixture
def empty_env(tmp_path, monkeypatch):
    """The app on an empty database."""
    monkeypatch.setenv("KPI_DB", str(tmp_path / "leer.duckdb"))
    monkeypatch.setenv("KPI_DEV_ROLE", "admin")
    clear_app_caches()
    yield
    clear_app_caches()
