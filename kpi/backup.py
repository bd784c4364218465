"""Backups and restores: a portable DuckDB EXPORT (Parquet) plus the uploaded raw files.

Method: while holding the database's write lock, CHECKPOINT and copy the database file
(a consistent snapshot: no writer can run, the WAL is empty); release the lock at once and run
`EXPORT DATABASE` on the copy through a separate, short-lived connection. The app's own
connection therefore never needs file access (it may run with enable_external_access=false),
and writers wait only for the file copy, not for the export.

The export is the DuckDB-version-independent format: `kpi restore` imports it with
`IMPORT DATABASE`, which is also the documented way to move to a newer DuckDB major version.

Layout of one backup folder `kpi-sicherung-JJJJMMTT-HHMMSS/`:
  manifest.json   when, which versions, row count per table
  export/         schema.sql, load.sql, one .parquet file per table
  dateien/        the raw uploaded files (named by SHA-256)
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from kpi.db import (
    SCHEMA_VERSION,
    Database,
    audit,
    default_path,
    open_database,
    raw_dir,
    sql_literal,
)
from kpi.fmt import number_de

MANIFEST = "manifest.json"
EXPORT_DIR = "export"
FILES_DIR = "dateien"
FORMAT_VERSION = 1


class BackupError(Exception):
    """A backup or restore cannot be done (German message)."""


def _sql_string(path: Path) -> str:
    # EXPORT/IMPORT DATABASE take no bound parameters; the path is ours (not user text),
    # quoted as an SQL string literal with quotes doubled.
    text = str(path)
    if "\x00" in text:
        raise BackupError("Ungültiger Pfad.")
    return sql_literal(text)


def _table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' "
        "ORDER BY table_name").fetchall()]
    # Identifiers come from the catalog itself, quoted as identifiers.
    return {t: int(con.execute(f'SELECT count(*) FROM "{t.replace(chr(34), "")}"').fetchone()[0])
            for t in tables}


def _copy_tree(src: Path, dst: Path) -> int:
    """Copy the files of folder `src` into `dst` (missing ones only); return how many files exist."""
    if not src.is_dir():
        return 0
    dst.mkdir(parents=True, exist_ok=True)
    n = 0
    for f in sorted(src.iterdir()):
        if f.is_file() and not f.name.endswith(".tmp"):
            if not (dst / f.name).exists():
                shutil.copy2(f, dst / f.name)
            n += 1
    return n


def backup(db: Database, out_dir: Path, user: str = "unbekannt") -> Path:
    """Write a backup folder into `out_dir` and log it; return the folder's path."""
    if db.path == ":memory:":
        raise BackupError("Eine Datenbank im Arbeitsspeicher kann nicht gesichert werden.")
    out_dir = Path(out_dir)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = out_dir / f"kpi-sicherung-{stamp}"
    i = 1
    while target.exists():
        target = out_dir / f"kpi-sicherung-{stamp}-{i}"
        i += 1
    try:
        target.mkdir(parents=True)
    except OSError as exc:
        raise BackupError(f"Sicherungsordner „{target}“ kann nicht angelegt werden: {exc.strerror}") from exc
    try:
        with tempfile.TemporaryDirectory(dir=target) as tmp:
            snapshot = Path(tmp) / "snapshot.duckdb"
            # The write lock keeps every writer out while the file is copied: a consistent snapshot.
            with db._write_lock:
                try:
                    db.checkpoint()
                except duckdb.Error:
                    pass  # a reader's open transaction blocks CHECKPOINT; the WAL copy covers it
                shutil.copy2(db.path, snapshot)
                wal = Path(db.path + ".wal")
                if wal.exists():  # committed but not yet checkpointed changes: replayed on open
                    shutil.copy2(wal, Path(str(snapshot) + ".wal"))
                n_files = _copy_tree(raw_dir(db.path), target / FILES_DIR)
            con = duckdb.connect(str(snapshot), config={"autoinstall_known_extensions": "false",
                                                        "autoload_known_extensions": "false"})
            try:
                counts = _table_counts(con)
                con.execute(f"EXPORT DATABASE {_sql_string(target / EXPORT_DIR)} (FORMAT parquet)")
            finally:
                con.close()
        manifest = {
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now().isoformat(timespec="seconds"),
            "created_by": user,
            "source": str(Path(db.path).resolve()),
            "duckdb_version": duckdb.__version__,
            "schema_version": SCHEMA_VERSION,
            "tables": counts,
            "raw_files": n_files,
        }
        (target / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # never leave a half backup that looks complete
        raise
    with db.transaction() as cur:
        audit(cur, user, "backup",
              f"Sicherung {target.name}: {number_de(counts.get('measurement', 0))} aktuelle Werte, "
              f"{number_de(n_files)} Originaldateien")
    return target


def backup_dir(db_path: str | Path, configured: str | None = None) -> Path:
    """Return the backup folder: `configured` ($KPI_BACKUP_DIR or secrets), else `sicherungen/` beside the DB."""
    if configured:
        return Path(configured)
    return Path(db_path).resolve().parent / "sicherungen"


def zip_bytes(folder: Path) -> bytes:
    """Return a backup folder packed as a zip (for a browser download)."""
    folder = Path(folder)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(folder.parent))
    return buf.getvalue()


def zip_backup(folder: Path) -> Path:
    """Pack a backup folder into `<folder>.zip` beside it; return the zip's path."""
    zpath = Path(folder).with_suffix(".zip")
    zpath.write_bytes(zip_bytes(folder))
    return zpath


def read_manifest(folder: Path) -> dict:
    """Return a backup folder's manifest; BackupError when it is missing or unreadable."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"„{folder}“ ist kein Sicherungsordner ({MANIFEST} fehlt).") from exc
    except (OSError, ValueError) as exc:
        raise BackupError(f"{MANIFEST} in „{folder}“ ist nicht lesbar.") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        raise BackupError(f"{MANIFEST} in „{folder}“ ist unvollständig.")
    if not (Path(folder) / EXPORT_DIR / "schema.sql").is_file():
        raise BackupError(f"In „{folder}“ fehlt der Ordner {EXPORT_DIR}/ mit schema.sql.")
    return manifest


def list_backups(out_dir: Path) -> list[tuple[Path, dict]]:
    """Return the backup folders in `out_dir` with their manifests, newest first."""
    found = []
    for f in sorted(Path(out_dir).glob("kpi-sicherung-*"), reverse=True):
        if f.is_dir():
            try:
                found.append((f, read_manifest(f)))
            except BackupError:
                continue
    return found


def prune_backups(out_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backup folders (and their zips) in `out_dir`; return deleted."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    folders = [f for f, _ in list_backups(out_dir)]  # newest first, only complete backups
    deleted = []
    for f in folders[keep:]:
        shutil.rmtree(f, ignore_errors=True)
        f.with_suffix(".zip").unlink(missing_ok=True)
        deleted.append(f)
    return deleted


def parse_daily_time(text: str | None) -> tuple[int, int] | None:
    """Parse 'HH:MM' (24 h) for the daily backup; None when empty or malformed."""
    if not text or not isinstance(text, str):
        return None
    parts = text.strip().split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    hour, minute = int(parts[0]), int(parts[1])
    return (hour, minute) if 0 <= hour < 24 and 0 <= minute < 60 else None


def seconds_until(now: datetime, hour: int, minute: int) -> float:
    """Seconds from `now` to the next HH:MM (tomorrow when today's has passed)."""
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= now:
        target = target + timedelta(days=1)
    return (target - now).total_seconds()


def _unpack(source: Path, workdir: Path) -> Path:
    with zipfile.ZipFile(source) as zf:
        for name in zf.namelist():
            # zip slip: only plain relative paths inside the work folder
            if name.startswith(("/", "\\")) or ".." in Path(name).parts:
                raise BackupError(f"Die Zip-Datei enthält einen unzulässigen Pfad: {name}")
        zf.extractall(workdir)
    folders = [p.parent for p in workdir.rglob(MANIFEST)]
    if len(folders) != 1:
        raise BackupError("Die Zip-Datei enthält nicht genau eine Sicherung.")
    return folders[0]


def _ensure_not_in_use(path: Path) -> None:
    try:
        duckdb.connect(str(path)).close()
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        # another process holds the lock (IOException), or this process has it open (Connection…)
        if isinstance(exc, duckdb.ConnectionException) or "lock" in str(exc).lower():
            raise BackupError(
                f"Die Datenbank „{path}“ wird gerade verwendet (z. B. von der laufenden App). "
                "Bitte die App beenden und die Wiederherstellung erneut starten."
            ) from exc
        raise BackupError(f"Die Datenbank „{path}“ ist nicht lesbar: {exc}") from exc


def _bak_path(path: Path) -> Path:
    bak = path.with_name(path.name + ".bak")
    if bak.exists():
        bak = path.with_name(f"{path.name}.{datetime.now():%Y%m%d-%H%M%S}.bak")
    return bak


def restore(source: Path, target: Path | None = None, force: bool = False, user: str = "cli") -> Path:
    """Rebuild the database at `target` (default: $KPI_DB) from a backup folder or its zip.

    An existing database is replaced only with force=True and is then kept as `<name>.bak`.
    The import is built in a temporary file and verified (row counts) before it replaces anything.
    """
    source = Path(source)
    target = Path(target) if target is not None else default_path()
    if not source.exists():
        raise BackupError(f"Sicherung „{source}“ nicht gefunden.")
    exists = target.exists() or target.with_name(target.name + ".wal").exists()
    if exists and not force:
        raise BackupError(
            f"Die Datenbank „{target}“ existiert bereits und wird nicht überschrieben. "
            "Zum Ersetzen --force angeben (die bisherige Datei bleibt als .bak erhalten) "
            "oder mit --db einen neuen Pfad wählen."
        )
    if exists:
        _ensure_not_in_use(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".restore-") as tmp:
        folder = _unpack(source, Path(tmp)) if source.is_file() else source
        manifest = read_manifest(folder)
        built = Path(tmp) / "restored.duckdb"
        con = duckdb.connect(str(built), config={"autoinstall_known_extensions": "false",
                                                 "autoload_known_extensions": "false"})
        try:
            con.execute(f"IMPORT DATABASE {_sql_string(folder / EXPORT_DIR)}")
            counts = _table_counts(con)
        except duckdb.Error as exc:
            raise BackupError(f"Die Sicherung kann nicht eingelesen werden: {exc}") from exc
        finally:
            con.close()
        missing = {t: n for t, n in manifest["tables"].items() if counts.get(t) != n}
        if missing:
            detail = ", ".join(f"{t}: {counts.get(t, 0)} statt {n}" for t, n in sorted(missing.items()))
            raise BackupError(f"Die Sicherung ist unvollständig ({detail}); nichts verändert.")
        # Open through kpi.db: adds tables a newer schema has, then log the restore in the new file.
        with open_database(built) as db:
            with db.transaction() as cur:
                audit(cur, user, "restore",
                      f"Wiederhergestellt aus {folder.name} (gesichert {manifest.get('created_at', '?')})")
            db.checkpoint()
        if exists:
            bak = _bak_path(target)
            os.replace(target, bak)
            wal = target.with_name(target.name + ".wal")
            if wal.exists():
                os.replace(wal, bak.with_name(bak.name + ".wal"))
        os.replace(built, target)
        _copy_tree(folder / FILES_DIR, raw_dir(target))
    return target
