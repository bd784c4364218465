"""Import folder: files dropped into `inbox/` are loaded by the process that holds the database.

Why: DuckDB lets only one process open the database file. While the app runs, a monthly cron
`kpi ingest` would wait and then give up (DatabaseBusyError). Instead the cron copies the file
into the inbox (`cp f.xlsx data/inbox/.f.xlsx.part && mv data/inbox/.f.xlsx.part data/inbox/`,
so a half-copied file is never picked up) and the app calls `process_inbox(db)` on page load;
when the app is not running, `kpi ingest` works directly as before.

Each file is claimed by an atomic rename into `inbox/.in_arbeit/` (so two threads or
processes never load it twice), checked and loaded like an upload (one transaction), then
moved to `inbox/erledigt/` or `inbox/fehler/` with a German report `<name>.txt` beside it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kpi.db import Database

DONE, FAILED, WORKING = "erledigt", "fehler", ".in_arbeit"
_lock = threading.Lock()


@dataclass
class InboxResult:
    """What happened to one file of the inbox."""

    file_name: str
    loaded: bool
    message: str  # German, one paragraph or the validation report
    moved_to: Path


def inbox_dir(db_path: str | Path) -> Path:
    """Return the import folder: $KPI_INBOX, else `inbox/` beside the database file."""
    env = os.environ.get("KPI_INBOX")
    if env:
        return Path(env)
    return Path(db_path).resolve().parent / "inbox"


def pending(inbox: Path, min_age_seconds: float = 2.0) -> list[Path]:
    """Files waiting in `inbox` (oldest first); hidden, partial and too fresh files are skipped."""
    if not inbox.is_dir():
        return []
    now = time.time()
    out = []
    for p in inbox.iterdir():
        if not p.is_file() or p.name.startswith(".") or p.name.endswith((".part", ".tmp", ".txt")):
            continue
        try:
            if now - p.stat().st_mtime < min_age_seconds:
                continue  # still being written by someone who did not rename atomically
        except FileNotFoundError:
            continue
        out.append(p)
    return sorted(out, key=lambda p: (p.stat().st_mtime, p.name))


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    if not target.exists():
        return target
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    i = 1
    while (folder / f"{Path(name).stem}_{stamp}_{i}{Path(name).suffix}").exists():
        i += 1
    return folder / f"{Path(name).stem}_{stamp}_{i}{Path(name).suffix}"


def process_inbox(db: Database, *, user: str = "Importordner", inbox: Path | None = None,
                  min_age_seconds: float = 2.0) -> list[InboxResult]:
    """Load every waiting file of the import folder; returns one result per file (may be empty)."""
    from kpi.ingest.pipeline import analyse, commit

    if db.path == ":memory:" and inbox is None:
        return []
    inbox = inbox or inbox_dir(db.path)
    results: list[InboxResult] = []
    with _lock:  # one sweep at a time per process; the rename below guards across processes
        working = inbox / WORKING
        if working.is_dir():
            # left over from a process killed mid-load: the load was one transaction, and loading
            # the same file again changes nothing, so it simply goes back into the queue
            for stale in working.iterdir():
                if stale.is_file():
                    os.replace(stale, _free_name(inbox, stale.name))
        for path in pending(inbox, min_age_seconds):
            working.mkdir(exist_ok=True)
            claimed = working / path.name
            try:
                os.replace(path, claimed)  # atomic: whoever renames first owns the file
            except FileNotFoundError:
                continue
            loaded, message = False, ""
            try:
                data = claimed.read_bytes()
                res = analyse(data, path.name, db=db)
                if res.fatal or res.has_errors or (res.n_valid_rows == 0 and not _has_reference(res)):
                    message = res.report_de() + "\nNichts geladen; die Datenbank ist unverändert."
                else:
                    counts = commit(db, res, user=user)
                    loaded = True
                    message = (f"Datei „{path.name}“ aus dem Importordner geladen: {counts.summary_de()}"
                               + ("\n" + res.report_de() if res.warnings else ""))
            except Exception as exc:  # noqa: BLE001 - a file must never stop the app
                message = (f"Datei „{path.name}“ konnte nicht geladen werden ({type(exc).__name__}: {exc}). "
                           "Nichts geladen; die Datenbank ist unverändert.")
            folder = inbox / (DONE if loaded else FAILED)
            folder.mkdir(exist_ok=True)
            target = _free_name(folder, path.name)
            os.replace(claimed, target)
            stamp = datetime.now().strftime("%d.%m.%Y %H:%M:%S")
            target.with_name(target.name + ".txt").write_text(f"{stamp}\n{message}\n", encoding="utf-8")
            results.append(InboxResult(path.name, loaded, message, target))
    return results


def _has_reference(res) -> bool:
    from kpi.ingest.reference import has_rows

    return has_rows(res.payload)
