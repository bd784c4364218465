"""The only module that opens DuckDB: schema set-up, seeding, transactions, waiting for the file lock.

Concurrency model: one `Database` per process holds one DuckDB connection. Every thread
works on its own cursor (`db.cursor()`); all writes go through `db.transaction()`, which
serialises writers with a process-wide lock, so interleaved BEGIN/COMMIT on a shared
connection cannot happen. A second process (e.g. `kpi ingest` while the app runs) cannot
open the file: `open_database` waits up to `wait_seconds` and then raises
`DatabaseBusyError` with a German message.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from kpi import catalog

SCHEMA_VERSION = 1
DEFAULT_DB = Path("data") / "kpi.duckdb"


class DatabaseBusyError(RuntimeError):
    """The database file is held by another process (German message)."""


def default_path() -> Path:
    """Return the database path: $KPI_DB, else data/kpi.duckdb."""
    return Path(os.environ.get("KPI_DB") or DEFAULT_DB)


def schema_sql() -> str:
    """Return the data model's SQL (kpi/schema.sql)."""
    return (Path(__file__).parent / "schema.sql").read_text(encoding="utf-8")


def raw_dir(db_path: Path | str) -> Path:
    """Return the folder beside the database where uploaded raw files are kept by hash."""
    p = Path(db_path)
    return p.parent / (p.stem + "_files")


class Database:
    """One DuckDB connection with a writer lock; threads use cursors."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str):
        self._con = con
        self.path = path
        self._write_lock = threading.RLock()
        # Only this process can hold the file, so every write passes through transaction():
        # the version is read once and re-read after each commit (generation guards the race
        # of a reader storing a value it read just before a commit).
        self._version: int | None = None
        self._generation = 0

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Return a fresh cursor: safe to use from one thread."""
        return self._con.cursor()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block as one transaction: all or nothing; bumps the data version on commit."""
        with self._write_lock:
            cur = self._con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("UPDATE meta SET data_version = data_version + 1")
                cur.execute("COMMIT")
                self._generation += 1
                self._version = None
            except BaseException:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise
            finally:
                cur.close()

    def checkpoint(self) -> bool:
        """Write the WAL into the database file (after each upload); False if skipped.

        A reader's open transaction (another Streamlit session) makes CHECKPOINT fail; the
        upload is committed and durable in the WAL all the same, so that must not turn into
        an error. DuckDB checkpoints again on its own (WAL size, close).
        """
        with self._write_lock:
            cur = self._con.cursor()
            try:
                cur.execute("CHECKPOINT")
                return True
            except duckdb.TransactionException:
                return False
            finally:
                cur.close()

    def query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list[tuple]:
        """Run a read query with bound parameters; return all rows."""
        cur = self._con.cursor()
        try:
            return cur.execute(sql, params or {}).fetchall()
        finally:
            cur.close()

    def df(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None):
        """Run a read query with bound parameters; return a pandas DataFrame."""
        cur = self._con.cursor()
        try:
            return cur.execute(sql, params or {}).df()
        finally:
            cur.close()

    def arrow(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None):
        """Run a read query with bound parameters; return a pyarrow Table."""
        cur = self._con.cursor()
        try:
            # the relational API streams into Arrow; execute() would copy the rows once more
            return cur.sql(sql, params=params or None).to_arrow_table()
        finally:
            cur.close()

    def data_version(self) -> int:
        """Return a counter that changes with every committed write (a cache key)."""
        cached = self._version
        if cached is not None:
            return cached
        generation = self._generation
        value = int(self.query("SELECT data_version FROM meta")[0][0])
        if generation == self._generation:
            self._version = value
        return value

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect_with_wait(path: str, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            return duckdb.connect(path, config={"autoinstall_known_extensions": "false",
                                                "autoload_known_extensions": "false"})
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusyError(
                    f"Die Datenbank „{path}“ wird gerade von einem anderen Programm verwendet "
                    f"(z. B. der laufenden KPI-Cockpit-App). Nach {wait_seconds:g} Sekunden Warten "
                    "aufgegeben. Bitte später erneut versuchen, die App kurz beenden oder die Datei "
                    "über die Upload-Seite der App hochladen."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def open_database(path: Path | str | None = None, wait_seconds: float = 0.0) -> Database:
    """Open (and if new, create and seed) the database at `path` (default: `default_path()`)."""
    from kpi.ingest.guard import require_defusedxml

    require_defusedxml()  # uploads are parsed safely only with defusedxml: fail at start-up
    if path is None:
        path = default_path()
    path = str(path)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = _connect_with_wait(path, wait_seconds)
    db = Database(con, path)
    try:
        ensure_schema(db)
        harden(db)
    except BaseException:
        con.close()
        raise
    return db


_TMP_ROOT: Path | None = None


def export_tmp_root() -> Path:
    """Return this process's private export directory (0700), created on first use, removed at exit.

    A hardened DuckDB connection (enable_external_access=false) must list this directory in
    `allowed_directories` to let COPY write there (kpi.export); otherwise the Arrow fallback is used.
    """
    global _TMP_ROOT
    if _TMP_ROOT is None or not _TMP_ROOT.is_dir():
        _TMP_ROOT = Path(tempfile.mkdtemp(prefix="kpi-export-"))
        os.chmod(_TMP_ROOT, 0o700)
        atexit.register(shutil.rmtree, _TMP_ROOT, True)
    return _TMP_ROOT


def harden(db: Database) -> None:
    """Keep SQL away from the file system, then lock the configuration.

    After this no statement can read or write files (read_csv('/etc/passwd'), COPY … TO, ATTACH,
    INSTALL/LOAD) except inside this process's private export temp dir (kpi.export), where
    COPY writes CSV/Parquet exports. Python-side `register()` of Arrow/pandas still works;
    replacement scans of Python variables by name do not (use `register`).
    """
    allowed = str(export_tmp_root())
    with db._write_lock:
        db._con.execute("SET allowed_directories = $d", {"d": [allowed]})
        db._con.execute("SET enable_external_access = false")
        db._con.execute("SET python_enable_replacements = false")
        db._con.execute("SET lock_configuration = true")


def ensure_schema(db: Database) -> None:
    """Create tables if missing and seed the catalog, Handlungsfelder, example parameters."""
    with db._write_lock:
        cur = db.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            cur.execute(schema_sql())
            if cur.execute("SELECT count(*) FROM meta").fetchone()[0] == 0:
                cur.execute("INSERT INTO meta VALUES ($v, 0)", {"v": SCHEMA_VERSION})
                _seed(cur)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()


def _seed(cur: duckdb.DuckDBPyConnection) -> None:
    cur.executemany(
        "INSERT INTO kpi VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true, $9)",
        [
            (k.key, k.label, k.unit, k.family, k.polarity, k.aggregation, k.min_value, k.max_value, i)
            for i, k in enumerate(catalog.KPIS)
        ],
    )
    cur.executemany("INSERT INTO handlungsfeld VALUES ($1)", [(h,) for h in catalog.HANDLUNGSFELDER])
    cur.executemany(
        "INSERT INTO parameter (key, value, valid_from, source, is_example) VALUES ($1, $2, $3, $4, true)",
        [(p.key, p.value, catalog.PARAMETER_DEFAULT_VALID_FROM, p.source) for p in catalog.PARAMETER_DEFAULTS],
    )
    cur.executemany(
        "INSERT INTO criterion VALUES ($1, $2, $3)",
        [(name, w, i) for i, (name, w) in enumerate(catalog.DEFAULT_CRITERIA)],
    )


def sql_literal(path: Path | str) -> str:
    """Quote an internal path as an SQL string literal, for statements that take no bound
    parameters (COPY … TO, EXPORT/IMPORT DATABASE). Never for user text."""
    return "'" + str(path).replace("'", "''") + "'"


def audit_now(db: Database, user: str, action: str, detail: str = "") -> None:
    """Append one audit entry on its own, without bumping the data version (nothing shown changes)."""
    with db._write_lock:
        cur = db.cursor()
        try:
            audit(cur, user, action, detail)
        finally:
            cur.close()


def audit(cur: duckdb.DuckDBPyConnection, user: str, action: str, detail: str = "") -> None:
    """Append one audit entry inside the caller's transaction."""
    cur.execute(
        "INSERT INTO audit (user_name, action, detail) VALUES ($u, $a, $d)",
        {"u": user, "a": action, "d": detail},
    )


def latest_upload_time(db: Database):
    """Return the timestamp of the newest active upload (the data date), or None."""
    row = db.query("SELECT max(uploaded_at) FROM upload WHERE status = 'active'")
    return row[0][0] if row else None
