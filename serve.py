"""Server entry for `make run`: `streamlit run serve.py` serves app.py (st.App, Streamlit's ASGI
server) and starts the dashboards' warm-up when the server starts, so that even the first visitor
after a restart finds the cost-benefit results computed (views/_ops.py)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import streamlit as st

log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(_app):
    from views._ops import ensure_warmup

    warmup = None
    try:
        warmup = ensure_warmup()  # the same database and warm-up thread the pages use (st.cache_resource)
    except Exception:  # the app must start even if the database is busy; the pages report it
        log.exception("Vorberechnung beim Serverstart nicht möglich; der erste Besuch rechnet selbst")
    yield {"warmup": warmup}


app = st.App("app.py", lifespan=_lifespan)
