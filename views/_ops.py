"""Daily backup inside the app process: while the app runs, only it can open the database file,
so a cron job with `kpi backup` would wait and give up. Enabled by `backup_time = "HH:MM"` in
`[kpi]` of secrets.toml (or $KPI_BACKUP_TIME); keeps the newest `backup_keep` (default 14)."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path

import streamlit as st

from kpi import backup
from views._auth import secrets_dict
from views._shared import get_db

log = logging.getLogger(__name__)
DEFAULT_KEEP = 14


def backup_settings() -> tuple[Path, tuple[int, int] | None, int]:
    """(folder, daily time or None, how many to keep) from the environment, then secrets."""
    kpi = secrets_dict().get("kpi") or {}
    when = backup.parse_daily_time(os.environ.get("KPI_BACKUP_TIME") or kpi.get("backup_time"))
    try:
        keep = max(1, int(os.environ.get("KPI_BACKUP_KEEP") or kpi.get("backup_keep") or DEFAULT_KEEP))
    except (TypeError, ValueError):
        keep = DEFAULT_KEEP
    folder = backup.backup_dir(get_db().path, os.environ.get("KPI_BACKUP_DIR") or kpi.get("backup_dir"))
    return folder, when, keep


@st.cache_resource(show_spinner=False)
def _start(folder: str, hour: int, minute: int, keep: int) -> threading.Thread:
    db = get_db()  # resolved here, in a script thread; the worker only uses the object

    def loop() -> None:
        while True:
            time.sleep(backup.seconds_until(datetime.now(), hour, minute))
            try:
                done = backup.backup(db, Path(folder), user="automatisch")
                backup.prune_backups(Path(folder), keep)
                log.info("Automatische Sicherung geschrieben: %s", done)
            except Exception:  # keep the schedule alive; the server log has the reason
                log.exception("Automatische Sicherung fehlgeschlagen")

    worker = threading.Thread(target=loop, name="kpi-daily-backup", daemon=True)
    worker.start()
    return worker


def ensure_daily_backup() -> tuple[int, int] | None:
    """Start the daily backup thread once per process when configured; return its time."""
    folder, when, keep = backup_settings()
    if when is None or get_db().path == ":memory:":
        return None
    _start(str(folder), when[0], when[1], keep)
    return when


@st.cache_resource(show_spinner=False)
def _start_inbox(folder: str, every_seconds: float) -> threading.Thread:
    from kpi import inbox

    db = get_db()

    def loop() -> None:
        while True:
            try:
                for result in inbox.process_inbox(db, inbox=Path(folder)):
                    log.info("Importordner: %s", result)
            except Exception:  # keep watching; the server log has the reason
                log.exception("Importordner konnte nicht verarbeitet werden")
            time.sleep(every_seconds)

    worker = threading.Thread(target=loop, name="kpi-inbox", daemon=True)
    worker.start()
    return worker


def ensure_inbox_watcher() -> Path | None:
    """Watch the import folder (inbox/ beside the database, or $KPI_INBOX) once it exists.

    While the app runs only it can open the database, so a monthly cron job drops files there
    (copy as .part, then rename) instead of calling `kpi ingest`; every $KPI_INBOX_SECONDS
    (default 60) they are loaded like an upload and moved to erledigt/ or fehler/ with a report.
    """
    from kpi import inbox

    db = get_db()
    if db.path == ":memory:":
        return None
    folder = inbox.inbox_dir(db.path)
    try:
        every = float(os.environ.get("KPI_INBOX_SECONDS", "60"))
    except ValueError:
        every = 60.0
    if every <= 0 or not folder.is_dir():
        return None
    _start_inbox(str(folder), every)
    return folder
