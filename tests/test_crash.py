"""Crash safety: `kpi ingest` killed with SIGKILL at random moments leaves each upload whole or absent.

CI runs KPI_CRASH_TRIALS=5 (default); the full run is KPI_CRASH_TRIALS=20.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from kpi.db import open_database
from tests.test_concurrency import _invariants

ROOT = Path(__file__).resolve().parent.parent
TRIALS = int(os.environ.get("KPI_CRASH_TRIALS", "5"))
N_ORTE, N_MONTHS = 70, 720  # 50.400 rows, months 1970-01 … 2029-12


def _csv(path: Path, trial: int) -> int:
    """Write a long-table CSV of ~50k rows; values differ per trial so every load changes them all."""
    lines = ["Kommune;Kennzahl;Monat;Wert"]
    for o in range(N_ORTE):
        for m in range(N_MONTHS):
            lines.append(f"Ort {o};fallzahl;{1970 + m // 12}-{m % 12 + 1:02d};{trial * 100_000 + o * 1000 + m}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def _ingest(db_path: Path, csv: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kpi", "ingest", str(csv), "--db", str(db_path), "--wait", "30"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _check(db_path: Path, n_rows: int) -> dict:
    with open_database(db_path, wait_seconds=30) as db:
        cur = db.cursor()
        found = _invariants(cur)
        sizes = [r[0] for r in db.query(
            "SELECT count(*) FROM measurement_history GROUP BY upload_id")]
        uploads = db.query("SELECT count(*) FROM upload")[0][0]
        current = db.query("SELECT count(*), count(DISTINCT upload_id) FROM measurement")[0]
    found["partial_uploads"] = sum(1 for s in sizes if s != n_rows)
    found["uploads"] = uploads
    found["current_rows"], found["current_uploads"] = current
    return found


def test_kill_9_during_ingest_leaves_uploads_whole_or_absent(tmp_path):
    db_path = tmp_path / "kpi.duckdb"
    rng = random.Random(int(os.environ.get("KPI_CRASH_SEED", "693")))
    csv = tmp_path / "gross.csv"
    n_rows = _csv(csv, 0)
    t0 = time.perf_counter()
    first = _ingest(db_path, csv)
    assert first.wait(timeout=600) == 0, first.stderr.read()
    full = time.perf_counter() - t0
    state = _check(db_path, n_rows)
    assert state["uploads"] == 1 and state["current_rows"] == n_rows

    killed = completed = 0
    for trial in range(1, TRIALS + 1):
        _csv(csv, trial)
        proc = _ingest(db_path, csv)
        # anywhere from start-up to the final checkpoint (the first run's length, with margin)
        delay = rng.uniform(0.15, 1.1) * full
        try:
            proc.wait(timeout=delay)
            completed += 1
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
        before = state["uploads"]
        state = _check(db_path, n_rows)
        assert state["uploads"] in (before, before + 1), state
        # whole or absent: every upload carries all rows in history, current values from one upload
        assert state["partial_uploads"] == 0, state
        assert state["current_rows"] == n_rows and state["current_uploads"] == 1, state
        assert {k: state[k] for k in ("duplicated", "drift", "half")} == {"duplicated": 0, "drift": 0,
                                                                        "half": 0}, state
    print(f"\ncrash: {TRIALS} trials ({killed} killed with SIGKILL, {completed} finished first), full ingest "
          f"{full:.1f}s for {n_rows} rows; every restart opened with uploads whole or absent "
          f"({state['uploads']} uploads)")
    assert killed >= 1
