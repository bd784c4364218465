"""The running app loads files a cron job drops into the import folder (only it can open the DB)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from kpi.db import open_database

ROOT = Path(__file__).resolve().parent.parent

CSV = (
    "Kommune;Maßnahme;Kennzahl;Zeitraum;Wert\n"
    "Cronstadt;E-Akte;Fallzahl;2024-01;120\n"
    "Cronstadt;E-Akte;Fallzahl;2024-02;130\n"
)


def test_app_loads_files_from_the_import_folder_and_files_them(tmp_path, monkeypatch):
    db_path = tmp_path / "kpi.duckdb"
    open_database(db_path).close()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = inbox / "monat.csv"
    good.write_text(CSV, encoding="utf-8")
    bad = inbox / "kaputt.csv"
    bad.write_text("Kommune;Maßnahme;Kennzahl;Zeitraum;Wert\nCronstadt;E-Akte;Fallzahl;2024-03;zwölf\n",
                   encoding="utf-8")
    past = time.time() - 60  # copied in a minute ago, not still being written
    for p in (good, bad):
        os.utime(p, (past, past))
    monkeypatch.setenv("KPI_DB", str(db_path))
    monkeypatch.setenv("KPI_DEV_ROLE", "admin")
    monkeypatch.setenv("KPI_INBOX_SECONDS", "0.2")
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        assert not at.exception
        from views._shared import get_db

        db = get_db()
        def all_filed() -> bool:  # both files moved and the report written (the watcher's last steps)
            return ((inbox / "erledigt" / "monat.csv").exists() and (inbox / "fehler" / "kaputt.csv").exists()
                    and bool(list((inbox / "fehler").glob("*.txt"))))

        deadline = time.monotonic() + 90  # generous: a loaded 2-core machine, the watcher polls every 0,2 s
        while time.monotonic() < deadline and not all_filed():
            time.sleep(0.2)
        values = db.query("SELECT period, value FROM v_measurement WHERE kommune = 'Cronstadt' ORDER BY 1")
        assert [v for _, v in values] == [120.0, 130.0]
        assert (inbox / "erledigt" / "monat.csv").exists()
        assert (inbox / "fehler" / "kaputt.csv").exists()
        reports = list((inbox / "fehler").glob("*.txt"))
        assert reports and "zwölf" in reports[0].read_text(encoding="utf-8")
        assert db.query("SELECT uploaded_by FROM upload") == [("Importordner",)]
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
