"""Concurrent users in one process (Streamlit threads) and a second process on the same file.

8 writer threads upload 50 times each — own keys and keys shared by all writers, some through
the ingest pipeline, some rolled back — while reader threads query all the while. Afterwards:
0 lost values, 0 duplicated keys, every upload complete or absent, history consistent.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from kpi import store
from kpi.db import DatabaseBusyError, open_database
from kpi.ingest.pipeline import analyse, commit

ROOT = Path(__file__).resolve().parent.parent
N_WRITERS = 8
# 50 rounds (400 uploads) is the full run; CI uses 8 rounds (64 uploads) to stay fast.
N_ROUNDS = int(os.environ.get("KPI_CONCURRENCY_ROUNDS", "8"))
N_OWN = 12  # months per writer's own Kommune
SHARED = [("Gemeinsam", None, "fallzahl", date(2024, m, 1)) for m in range(1, 6)]

KEY_COLS = "kommune_id, coalesce(massnahme_id, -1), kpi, period_start, granularity"


def _frame(w: int, i: int) -> pd.DataFrame:
    """Writer w's upload number i: its own 12 months plus the 5 shared keys (values encode w, i)."""
    rows = [{"kommune": f"Kommune {w}", "massnahme": None, "kpi": "fallzahl",
             "period_start": date(2024, m, 1), "granularity": "month",
             "value": float(w * 10_000 + i * 10 + m % 10), "note": None} for m in range(1, N_OWN + 1)]
    rows += [{"kommune": k, "massnahme": mm, "kpi": kpi, "period_start": p, "granularity": "month",
              "value": float(w * 10_000 + i), "note": None} for k, mm, kpi, p in SHARED]
    return pd.DataFrame(rows)


def _csv(frame: pd.DataFrame) -> bytes:
    lines = ["Kommune;Maßnahme;Kennzahl;Monat;Wert"]
    for r in frame.itertuples():
        lines.append(f"{r.kommune};;{r.kpi};{r.period_start:%Y-%m};{r.value:.0f}")
    return ("\n".join(lines) + "\n").encode()


def _invariants(cur) -> dict[str, int]:
    """Counts that must be 0 at every moment a reader looks."""
    dup = cur.execute(
        f"SELECT count(*) FROM (SELECT {KEY_COLS}, count(*) c FROM measurement GROUP BY ALL HAVING c > 1)"
    ).fetchone()[0]
    # each writer's own Kommune is written whole by each upload: one upload id visible, never a mix
    torn = cur.execute(
        """
        SELECT count(*) FROM (
            SELECT m.kommune_id FROM measurement m JOIN kommune k USING (kommune_id)
            WHERE k.name LIKE 'Kommune %' GROUP BY m.kommune_id
            HAVING count(DISTINCT m.upload_id) > 1 OR count(*) <> $n)
        """, {"n": N_OWN},
    ).fetchone()[0]
    # current values = newest active upload per key, recomputed from the history
    drift = cur.execute(
        """
        WITH cur AS (
            SELECT h.kommune_id, h.massnahme_id, h.kpi, h.period_start, h.granularity, h.value, h.upload_id
            FROM measurement_history h JOIN upload u ON u.upload_id = h.upload_id AND u.status = 'active'
            QUALIFY row_number() OVER (
                PARTITION BY h.kommune_id, coalesce(h.massnahme_id, -1), h.kpi, h.period_start, h.granularity
                ORDER BY h.upload_id DESC) = 1)
        SELECT count(*) FROM (
            (SELECT kommune_id, massnahme_id, kpi, period_start, granularity, value, upload_id
             FROM cur WHERE value IS NOT NULL
             EXCEPT ALL
             SELECT kommune_id, massnahme_id, kpi, period_start, granularity, value, upload_id FROM measurement)
            UNION ALL
            (SELECT kommune_id, massnahme_id, kpi, period_start, granularity, value, upload_id FROM measurement
             EXCEPT ALL
             SELECT kommune_id, massnahme_id, kpi, period_start, granularity, value, upload_id
             FROM cur WHERE value IS NOT NULL))
        """
    ).fetchone()[0]
    # an upload row without its history (or the reverse) would be a half-written upload
    half = cur.execute(
        """
        SELECT count(*) FROM upload u
        FULL JOIN (SELECT upload_id, count(*) n FROM measurement_history GROUP BY 1) h USING (upload_id)
        WHERE u.upload_id IS NULL OR coalesce(h.n, 0) <> u.n_inserted + u.n_updated
        """
    ).fetchone()[0]
    return {"duplicated": int(dup), "torn": int(torn), "drift": int(drift), "half": int(half)}


def test_eight_writers_and_readers_lose_and_duplicate_nothing(tmp_path):
    db = open_database(tmp_path / "kpi.duckdb")
    log: list[tuple[int, int, int, int]] = []  # (upload_id, writer, round, rolled back 0/1)
    log_lock = threading.Lock()
    errors: list[str] = []
    stop = threading.Event()
    reads = [0]
    reader_findings: list[dict] = []

    def writer(w: int) -> None:
        rng = random.Random(w)
        active: list[int] = []
        try:
            for i in range(N_ROUNDS):
                frame = _frame(w, i)
                if i % 5 == 0:  # through the ingest pipeline (CSV bytes → analyse → commit)
                    res = analyse(_csv(frame), f"w{w}_r{i}.csv", db=db)
                    assert not res.has_errors, res.report_de()
                    counts = commit(db, res, user=f"w{w}")
                else:
                    counts = store.apply(db, frame, file_name=f"w{w}_r{i}.xlsx", user=f"w{w}",
                                         raw_bytes=f"{w}/{i}".encode())
                assert counts.upload_id is not None, counts
                with log_lock:
                    log.append((counts.upload_id, w, i, 0))
                active.append(counts.upload_id)
                if i % 7 == 6 and rng.random() < 0.7:  # take the newest upload back now and then
                    uid = active.pop()
                    store.rollback(db, uid, user=f"w{w}")
                    with log_lock:
                        log.append((uid, w, i, 1))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(f"writer {w}: {type(exc).__name__}: {exc}")

    def reader(r: int) -> None:
        try:
            while not stop.is_set():
                cur = db.cursor()
                try:
                    cur.execute("BEGIN TRANSACTION")  # one snapshot for all checks
                    found = _invariants(cur)
                    cur.execute("COMMIT")
                finally:
                    cur.close()
                if any(found.values()):
                    reader_findings.append(found)
                db.df("SELECT kommune, kpi, period, value FROM v_measurement ORDER BY 1, 2, 3")
                db.data_version()
                store.list_uploads(db)
                reads[0] += 1
                time.sleep(0.005)  # a user clicks; don't starve the writers of the GIL
        except Exception as exc:  # noqa: BLE001
            errors.append(f"reader {r}: {type(exc).__name__}: {exc}")

    readers = [threading.Thread(target=reader, args=(r,)) for r in range(3)]
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(N_WRITERS)]
    t0 = time.perf_counter()
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    elapsed = time.perf_counter() - t0
    assert errors == []
    assert reader_findings == []

    # expected state from what the writers were told
    rolled = {uid for uid, _, _, rb in log if rb}
    uploads = {uid: (w, i) for uid, w, i, rb in log if not rb}
    assert len(uploads) == N_WRITERS * N_ROUNDS
    rows = db.query("SELECT upload_id, status FROM upload")
    assert {u for u, _ in rows} == set(uploads)  # no phantom, no missing upload
    assert {u for u, s in rows if s == "rolled_back"} == rolled
    active = {uid: wi for uid, wi in uploads.items() if uid not in rolled}

    lost = 0
    current = {(k, p): (v, u) for k, p, v, u in db.query(
        "SELECT kommune, period, value, upload_id FROM v_measurement")}
    for w in range(N_WRITERS):
        newest = max(u for u, (ww, _) in active.items() if ww == w)
        i = active[newest][1]
        for m in range(1, N_OWN + 1):
            got = current.get((f"Kommune {w}", date(2024, m, 1)))
            lost += got != (float(w * 10_000 + i * 10 + m % 10), newest)
    newest_shared = max(active)
    w, i = active[newest_shared]
    for k, _, _, p in SHARED:
        lost += current.get((k, p)) != (float(w * 10_000 + i), newest_shared)
    final = _invariants(db.cursor())
    print(f"\nconcurrency: {N_WRITERS} writers × {N_ROUNDS} uploads, {len(rolled)} rollbacks, {reads[0]} reader "
          f"rounds in {elapsed:.1f}s: lost={lost} duplicated={final['duplicated']} torn={final['torn']} "
          f"drift={final['drift']} half={final['half']}")
    assert lost == 0
    assert final == {"duplicated": 0, "torn": 0, "drift": 0, "half": 0}
    db.close()


def test_checkpoint_with_a_reader_in_a_transaction_does_not_fail_the_upload(tmp_path):
    # CHECKPOINT after each upload must not turn a committed upload into an error
    db = open_database(tmp_path / "kpi.duckdb")
    reader = db.cursor()
    reader.execute("BEGIN TRANSACTION")
    reader.execute("SELECT count(*) FROM measurement").fetchall()
    counts = store.apply(db, _frame(0, 0), file_name="a.xlsx")
    assert counts.upload_id is not None
    reader.execute("COMMIT")
    assert db.query("SELECT count(*) FROM measurement")[0][0] == N_OWN + len(SHARED)
    db.close()


# ----------------------------------------------------------------------------- second process

HOLD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from kpi.db import open_database
    db = open_database(sys.argv[1])
    print("open", flush=True)
    time.sleep(float(sys.argv[2]))
    db.close()
""")


def _hold(db_path: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD.format(root=str(ROOT)), str(db_path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "open"
    return proc


def test_second_process_gets_a_clear_german_message(tmp_path):
    db_path = tmp_path / "kpi.duckdb"
    open_database(db_path).close()
    holder = _hold(db_path, 30)
    try:
        t0 = time.perf_counter()
        with pytest.raises(DatabaseBusyError) as info:
            open_database(db_path, wait_seconds=1.0)
        assert 0.9 < time.perf_counter() - t0 < 10
        assert "wird gerade von einem anderen Programm verwendet" in str(info.value)
        # the CLI maps it to exit code 1 with the message on stderr, no traceback
        csv = tmp_path / "a.csv"
        csv.write_bytes(_csv(_frame(1, 1)))
        out = subprocess.run([sys.executable, "-m", "kpi", "ingest", str(csv), "--db", str(db_path),
                              "--wait", "1"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 1
        assert "anderen Programm" in out.stderr and "Traceback" not in out.stderr
    finally:
        holder.kill()
        holder.wait()
    with open_database(db_path) as db:  # nothing happened to the file
        assert db.query("SELECT count(*) FROM upload")[0][0] == 0


def test_busy_database_is_reported_before_anything_about_the_files(tmp_path):
    # the CLI opens the database while it checks the first file: the order of messages stays
    db_path = tmp_path / "kpi.duckdb"
    open_database(db_path).close()
    broken = tmp_path / "kaputt.xlsx"
    broken.write_bytes(b"PK\x03\x04 abgeschnitten")
    holder = _hold(db_path, 60)
    try:
        for extra in ([], ["--save-profile", "p"]):
            out = subprocess.run([sys.executable, "-m", "kpi", "ingest", str(broken), "--db", str(db_path),
                                  "--wait", "1", *extra], cwd=ROOT, capture_output=True, text=True, timeout=120)
            assert out.returncode == 1, out.stderr
            assert "anderen Programm" in out.stderr and "Traceback" not in out.stderr
            assert "kaputt.xlsx" not in out.stderr and "--save-profile" not in out.stderr
    finally:
        holder.kill()
        holder.wait()


def test_second_process_waits_and_then_loads(tmp_path):
    db_path = tmp_path / "kpi.duckdb"
    open_database(db_path).close()
    holder = _hold(db_path, 2)
    csv = tmp_path / "a.csv"
    csv.write_bytes(_csv(_frame(1, 1)))
    out = subprocess.run([sys.executable, "-m", "kpi", "ingest", str(csv), "--db", str(db_path), "--wait", "60"],
                         cwd=ROOT, capture_output=True, text=True, timeout=180)
    holder.wait()
    assert out.returncode == 0, out.stderr
    with open_database(db_path) as db:
        assert db.query("SELECT count(*) FROM measurement")[0][0] == N_OWN + len(SHARED)


# ----------------------------------------------------------------------------- import folder

def test_inbox_loads_good_files_and_reports_bad_ones_in_german(tmp_path):
    from kpi.inbox import inbox_dir, process_inbox

    db = open_database(tmp_path / "kpi.duckdb")
    inbox = inbox_dir(db.path)
    assert inbox == tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "maerz.csv").write_bytes(_csv(_frame(1, 1)))
    (inbox / "kaputt.xlsx").write_bytes(b"PK\x03\x04 nicht wirklich")
    (inbox / ".halb.csv.part").write_bytes(b"Kommune;")  # still being copied: ignored
    results = process_inbox(db, min_age_seconds=0)
    by_name = {r.file_name: r for r in results}
    assert set(by_name) == {"maerz.csv", "kaputt.xlsx"}
    assert by_name["maerz.csv"].loaded and "neu" in by_name["maerz.csv"].message
    assert not by_name["kaputt.xlsx"].loaded and "beschädigt" in by_name["kaputt.xlsx"].message
    assert (inbox / "erledigt" / "maerz.csv").is_file()
    assert "geladen" in (inbox / "erledigt" / "maerz.csv.txt").read_text(encoding="utf-8")
    report = (inbox / "fehler" / "kaputt.xlsx.txt").read_text(encoding="utf-8")
    assert "Nichts geladen" in report and "Traceback" not in report
    assert (inbox / ".halb.csv.part").exists()
    assert db.query("SELECT count(*) FROM upload")[0][0] == 1
    assert process_inbox(db, min_age_seconds=0) == []  # nothing twice
    db.close()


def test_inbox_skips_files_still_being_written(tmp_path):
    from kpi.inbox import process_inbox

    db = open_database(tmp_path / "kpi.duckdb")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "neu.csv").write_bytes(_csv(_frame(1, 1)))
    assert process_inbox(db, min_age_seconds=60) == []
    assert len(process_inbox(db, min_age_seconds=0)) == 1
    db.close()


def test_inbox_swept_by_many_sessions_at_once_loads_each_file_once(tmp_path):
    from kpi.inbox import process_inbox

    db = open_database(tmp_path / "kpi.duckdb")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for w in range(6):
        (inbox / f"datei_{w}.csv").write_bytes(_csv(_frame(w, 0)))
    # a file left in the working folder by a killed process goes back into the queue
    (inbox / ".in_arbeit").mkdir()
    (inbox / ".in_arbeit" / "uebrig.csv").write_bytes(_csv(_frame(7, 0)))
    seen: list[str] = []
    errors: list[str] = []

    def session():
        try:
            seen.extend(r.file_name for r in process_inbox(db, min_age_seconds=0))
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=session) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(seen) == sorted([f"datei_{w}.csv" for w in range(6)] + ["uebrig.csv"])
    assert db.query("SELECT count(*), count(DISTINCT file_name) FROM upload")[0] == (7, 7)
    assert sorted(p.name for p in (inbox / "erledigt").iterdir() if p.suffix == ".csv") == sorted(seen)
    db.close()


def test_cron_drops_file_while_app_holds_database_then_app_loads_it(tmp_path):
    """The monthly cron while the app runs: `kpi ingest` cannot open the file, the inbox can."""
    from kpi.inbox import process_inbox

    db_path = tmp_path / "kpi.duckdb"
    app_db = open_database(db_path)  # the running app holds the file
    csv = tmp_path / "monat.csv"
    csv.write_bytes(_csv(_frame(2, 3)))
    out = subprocess.run([sys.executable, "-m", "kpi", "ingest", str(csv), "--db", str(db_path), "--wait", "1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "anderen Programm" in out.stderr
    # the cron's fallback: copy under a hidden name, then rename into the inbox (atomic)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    part = inbox / ".monat.csv.part"
    part.write_bytes(csv.read_bytes())
    os.replace(part, inbox / "monat.csv")
    (result,) = process_inbox(app_db, min_age_seconds=0)
    assert result.loaded
    assert app_db.query("SELECT count(*) FROM measurement")[0][0] == N_OWN + len(SHARED)
    app_db.close()
