"""UI plumbing shared by pages: the cached database, cached kpi/ calls, data date, start screen."""

from __future__ import annotations

import importlib

import streamlit as st

from kpi import fmt
from kpi.db import Database, default_path, latest_upload_time, open_database


@st.cache_resource(show_spinner=False)
def get_db() -> Database:
    """One database per server process; each call site works on its own cursor."""
    return open_database(default_path(), wait_seconds=10)


def data_version() -> int:
    """A counter that changes with every committed write; part of every cache key."""
    return get_db().data_version()


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_call(fn_path: str, version: int, args: tuple, kwargs: tuple):
    module, name = fn_path.split(":")
    fn = getattr(importlib.import_module(module), name)
    return fn(get_db(), *args, **dict(kwargs))


def cached(fn, *args, **kwargs):
    """Call kpi function fn(db, *args, **kwargs), cached until the data changes."""
    return _cached_call(f"{fn.__module__}:{fn.__name__}", data_version(), args,
                        tuple(sorted(kwargs.items())))


def stand_text() -> str:
    """'Stand: TT.MM.JJJJ' of the newest active upload."""
    ts = cached(latest_upload_time)
    return f"Stand: {fmt.date_de(ts)}" if ts else "Stand: noch keine Daten"


def has_data() -> bool:
    return cached(_count_measurements) > 0


def _count_measurements(db) -> int:
    return int(db.query("SELECT count(*) FROM measurement")[0][0])


def require_data() -> None:
    """Show a friendly start screen and stop the page when the database holds no values yet."""
    if has_data():
        return
    st.info(
        "Noch keine Kennzahlen geladen. Laden Sie eine Excel-Datei hoch – am einfachsten mit der "
        "Vorlage auf der Upload-Seite – oder starten Sie mit den Demodaten (`kpi demo`)."
    )
    try:
        st.page_link("views/upload.py", label="Zur Upload-Seite", icon=":material/upload_file:")
    except Exception:  # the viewer role has no upload page in its navigation
        st.caption("Bitte wenden Sie sich an Ihre Digitallotsin oder Ihren Digitallotsen.")
    st.stop()


def page_header(title: str, question: str | None = None) -> None:
    """Title, the question the page answers, and the data date."""
    st.title(title)
    line = stand_text()
    st.caption(f"{question} · {line}" if question else line)
