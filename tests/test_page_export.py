"""AppTest of the Daten & Export page: filters from the URL restore the view; counts, tables, buttons."""

from __future__ import annotations

import gc
import shutil
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from kpi import demo, export
from kpi.db import open_database
from kpi.filters import Filters

ROOT = Path(__file__).parent.parent
APP = str(ROOT / "app.py")
PAGE = "views/daten_export.py"


def _clear() -> None:
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()  # close the dropped connection: a second one to the same file shares its locked config


URL_FILTERS = Filters(kommune=("Musterstadt",), kpi=("fallzahl",), period_from=date(2024, 1, 1),
                      period_to=date(2024, 12, 1), granularity="quarter")


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    """The demo database and the figures the page must show for URL_FILTERS (computed before the app
    opens the file: one process holds one connection to it)."""
    path = tmp_path_factory.mktemp("export_page") / "demo.duckdb"
    with open_database(path) as db:
        demo.load_demo(db)
        expected = (export.selection_summary(db, URL_FILTERS), export.count_rows(db, URL_FILTERS))
    return path, expected


@pytest.fixture
def demo_env(demo_file, monkeypatch, tmp_path):
    # a copy per test: a connection left over from an earlier AppTest must not share this file
    copy = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_file[0], copy)
    monkeypatch.setenv("KPI_DB", str(copy))
    monkeypatch.setenv("KPI_DEV_ROLE", "viewer")
    _clear()
    yield demo_file
    _clear()


def _open(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets = {"kpi": {"require_login": False}}
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(PAGE)
    at.run()
    return at


def test_filters_from_the_url_restore_the_view(demo_env):
    query = {"kommune": "Musterstadt", "kpi": "fallzahl", "period_from": "2024-01", "period_to": "2024-12",
             "granularity": "quarter"}
    at = _open(query)
    assert not at.exception, at.exception
    kommune = next(w for w in at.multiselect if w.label == "Kommune")
    assert kommune.value == ["Musterstadt"]
    assert next(w for w in at.radio if w.label == "Zeitraster").value == "quarter"
    assert next(w for w in at.selectbox if w.label == "Zeitraum von").value == date(2024, 1, 1)
    summary, n_rows = demo_env[1]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Messwerte"] == f"{summary['values']:,}".replace(",", ".")
    assert metrics["Maßnahmen"] == str(summary["massnahmen"])
    table = at.dataframe[0].value
    assert len(table) == n_rows  # four quarters per Maßnahme
    assert set(table["Zeitraum"]) == {"1. Quartal 2024", "2. Quartal 2024", "3. Quartal 2024", "4. Quartal 2024"}
    assert set(table["Kommune"]) == {"Musterstadt"}
    # the URL still holds the view after the page ran (bookmarkable)
    assert at.query_params["kommune"] == ["Musterstadt"] or at.query_params["kommune"] == "Musterstadt"


def test_page_offers_every_format_and_the_excel_row_limit(demo_env):
    at = _open({"kommune": "Musterhausen"})
    assert not at.exception, at.exception

    def labels():
        return [b.proto.label for b in at.get("download_button")]

    # only the open tab runs: first the Messwerte
    assert labels() == ["CSV für Excel (Deutsch)", "Excel (XLSX)", "CSV (Standard)", "Parquet"]
    assert len(at.dataframe) == 1
    captions = "\n".join(c.value for c in at.caption)
    assert "1.048.575 Datenzeilen" in captions and "Stand: " in captions
    at.session_state["export_tab"] = "Ratsvorlage (PDF)"
    at.run()
    assert not at.exception, at.exception
    assert labels() == ["Ratsvorlage als PDF"] and len(at.dataframe) == 0
    at.session_state["export_tab"] = "Kennzahlen je Maßnahme"
    at.run()
    assert not at.exception, at.exception
    assert labels() == ["CSV für Excel (Deutsch)", "Excel (XLSX)", "CSV (Standard)", "Parquet"]
    assert at.subheader[0].value == "Kosten-Nutzen-Kennzahlen je Maßnahme"
    metrics_table = at.dataframe[0].value
    assert list(metrics_table.columns[:3]) == ["Kommune", "Maßnahme", "Kosten"]
    assert set(metrics_table["Kommune"]) == {"Musterhausen"}
    assert all(v.endswith("\u00a0€") for v in metrics_table["Kosten"])


def test_changing_a_filter_updates_counts_and_url(demo_env):
    at = _open()
    before = {m.label: m.value for m in at.metric}["Kommunen"]
    at.multiselect(key=next(w.key for w in at.multiselect if w.label == "Kommune")).select("Musterstadt").run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Kommunen"] == "1" != before
    assert "Musterstadt" in str(at.query_params["kommune"])
