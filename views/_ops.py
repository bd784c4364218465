"""Background work of the app process: the daily backup, the import folder, the dashboards' warm-up.

Daily backup: while the app runs, only it can open the database file, so a cron job with
`kpi backup` would wait and give up. Enabled by `backup_time = "HH:MM"` in `[kpi]` of
secrets.toml (or $KPI_BACKUP_TIME); keeps the newest `backup_keep` (default 14)."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from datetime import datetime
from pathlib import Path

import duckdb
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


# --- warm-up: the dashboards' shared results are computed before anyone asks ----------------

WARMUP_POLL_SECONDS = 0.5


class WarmUp:
    """A daemon thread that keeps the dashboards' shared results (kpi.overview.warm_up) computed.

    It warms at start and again once the data version has stayed the same for one poll after a
    change (upload, rollback, edit, import folder: every write bumps it), so a burst of edits is
    computed once. A page asking while it computes waits for that result (single flight in
    kpi.overview). It holds the database only weakly and stops with stop() or when the database
    is gone or closed.
    """

    def __init__(self, db, poll_seconds: float = WARMUP_POLL_SECONDS):
        self._db = weakref.ref(db)
        self.poll_seconds = poll_seconds
        self.stopped = threading.Event()
        self.warmed_version: int | None = None  # the data version of the last finished warm-up
        self._idle = threading.Event()  # set while nothing is left to warm
        self.thread = threading.Thread(target=self._loop, name="kpi-warm-up", daemon=True)

    def start(self) -> WarmUp:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the current data version is warmed (for tests and benchmarks)."""
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        from kpi import overview

        seen = None  # the version seen at the previous poll (a change must settle for one poll)
        while not self.stopped.is_set():
            db = self._db()
            if db is None:
                return
            version = None
            try:
                db.cursor().close()  # raises once the database is closed (data_version() is memoised)
                version = db.data_version()
                if version == self.warmed_version:
                    self._idle.set()
                elif self.warmed_version is None or version == seen:
                    self._idle.clear()
                    overview.warm_up(db)
                    self.warmed_version = version
                    continue  # look again at once: the data may have changed meanwhile
                else:
                    self._idle.clear()
                seen = version
            except duckdb.ConnectionException:  # the database was closed
                return
            except Exception:  # e.g. no discount rate yet: the pages show the reason; retry on a change
                log.exception("Vorberechnung der Dashboards fehlgeschlagen")
                self.warmed_version = seen = version
            finally:
                del db
            self.stopped.wait(self.poll_seconds)


def warmup_enabled() -> bool:
    """$KPI_WARMUP=0 switches the warm-up off (tests that need a quiet process)."""
    return os.environ.get("KPI_WARMUP", "1").strip().lower() not in ("0", "false", "nein", "no", "off")


@st.cache_resource(show_spinner=False, on_release=lambda w: w.stop())
def _start_warmup(db_id: int) -> WarmUp:
    return WarmUp(get_db()).start()


def ensure_warmup() -> WarmUp | None:
    """Start the warm-up thread once per database (unless $KPI_WARMUP=0)."""
    if not warmup_enabled():
        return None
    return _start_warmup(id(get_db()))
