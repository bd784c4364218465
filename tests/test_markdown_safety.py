"""Names from uploads never reach Streamlit Markdown unescaped (no outside image fetches, no restyling)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from kpi import store
from kpi.db import open_database
from tests.conftest import frame

ROOT = Path(__file__).resolve().parent.parent
EVIL = "![x](https://evil.example/p.png)"


@pytest.fixture
def evil_db(tmp_path, monkeypatch):
    path = tmp_path / "evil.duckdb"
    db = open_database(path)
    rows = [(EVIL, EVIL, kpi, f"2024-{m:02d}", v) for m in range(1, 13)
            for kpi, v in (("fallzahl", 100.0), ("bearbeitungszeit_min", 30.0), ("papier_seiten", 500.0))]
    store.apply(db, frame(rows), file_name="evil.xlsx")
    db.close()
    monkeypatch.setenv("KPI_DB", str(path))
    monkeypatch.setenv("KPI_DEV_ROLE", "admin")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield path
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.mark.parametrize("page", ["views/massnahme.py", "views/kosten_nutzen.py"])  # pages naming them
def test_hostile_names_are_shown_as_text(evil_db, page):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    rendered = [m.value for m in at.markdown] + [m.value for m in at.caption] + \
        [h.value for h in at.header] + [h.value for h in at.subheader]
    for text in rendered:
        assert "![x](" not in text, (page, text)  # escaped form is \!\[x\]\(…
    assert any("evil" in text for text in rendered), page  # the name is shown, as text
    assert os.environ["KPI_DB"] == str(evil_db)
