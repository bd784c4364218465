"""The dashboards' warm-up: a thread-safe single-flight memo (kpi.overview) and the background
thread that fills it at start and after every data change (views/_ops.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kpi import overview
from kpi.metrics import engine

ROOT = Path(__file__).parent.parent


@pytest.fixture
def memo():
    overview._MEMO.clear()
    yield overview._MEMO
    overview._MEMO.clear()


@pytest.fixture
def counted_engine(monkeypatch):
    """engine.compute_all that counts its calls and takes a while (so callers overlap)."""
    calls: list[str | None] = []
    original = engine.compute_all

    def slow(db, kommune=None, **kw):
        calls.append(kommune)
        time.sleep(0.3)
        return original(db, kommune=kommune, **kw)

    monkeypatch.setattr(engine, "compute_all", slow)
    return calls


def _in_threads(*fns):
    out: list = [None] * len(fns)

    def run(i, fn):
        out[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
        time.sleep(0.02)  # the first one owns the computation
    for t in threads:
        t.join(30)
    return out


def test_two_concurrent_callers_compute_once_and_share_the_result(demo_db, memo, counted_engine):
    a, b = _in_threads(lambda: overview.engine_results(demo_db), lambda: overview.engine_results(demo_db))
    assert counted_engine == [None]
    assert a is b and len(a) == 8


def test_a_kommune_asked_during_the_all_kommunen_computation_waits_for_it(demo_db, memo, counted_engine):
    everything, one = _in_threads(lambda: overview.engine_results(demo_db),
                                  lambda: overview.engine_results(demo_db, "Musterhausen"))
    assert counted_engine == [None]  # no second engine run for the one Kommune
    assert {r.massnahme for r in one} == {"Digitale Ratsarbeit", "Online-Antrag Wohngeld"}
    assert all(any(r is e for e in everything) for r in one)


def test_a_failure_reaches_every_waiter_and_is_not_kept(fresh_db, memo):
    started = threading.Event()

    def failing():
        started.set()
        time.sleep(0.2)
        raise engine.MetricsError("kaputt")

    errors = []

    def ask():
        try:
            overview._memo(fresh_db, "x", None, failing)
        except engine.MetricsError as exc:
            errors.append(str(exc))

    first = threading.Thread(target=ask)
    first.start()
    started.wait(5)
    ask()  # waits for the running computation and gets its error
    first.join(5)
    assert errors == ["kaputt", "kaputt"]
    assert overview._memo(fresh_db, "x", None, lambda: 42) == 42  # nothing stale was kept


def test_a_result_whose_data_changed_meanwhile_is_returned_but_not_kept(fresh_db, memo):
    def compute_while_someone_writes():
        with fresh_db.transaction():
            pass  # any commit bumps the data version
        return "alt"

    assert overview._memo(fresh_db, "x", None, compute_while_someone_writes) == "alt"
    assert overview._memo(fresh_db, "x", None, lambda: "neu") == "neu"


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_warm_up_fills_the_memo_at_start_and_after_a_data_change(demo_db, memo, counted_engine):
    from views._ops import WarmUp

    worker = WarmUp(demo_db, poll_seconds=0.05).start()
    try:
        assert worker.wait_idle(30)
        first = demo_db.data_version()
        assert worker.warmed_version == first and counted_engine == [None]
        results = overview.engine_results(demo_db)  # a page now finds everything computed
        assert counted_engine == [None] and len(results) == 8

        with demo_db.transaction():  # an upload, rollback, edit or import
            pass
        assert _wait_for(lambda: worker.warmed_version == demo_db.data_version())
        assert demo_db.data_version() != first and counted_engine == [None, None]
        assert overview.engine_results(demo_db) is not results  # the new version's results
        assert counted_engine == [None, None]
    finally:
        worker.stop()
        worker.thread.join(5)
    assert not worker.thread.is_alive()


def test_warm_up_settles_a_burst_of_edits_before_computing(demo_db, memo, counted_engine):
    from views._ops import WarmUp

    worker = WarmUp(demo_db, poll_seconds=0.3).start()
    try:
        assert worker.wait_idle(30)
        for _ in range(5):  # five edits in quick succession …
            with demo_db.transaction():
                pass
            time.sleep(0.05)
        assert _wait_for(lambda: worker.warmed_version == demo_db.data_version())
        assert len(counted_engine) == 2  # … are warmed once
    finally:
        worker.stop()
        worker.thread.join(5)


def test_warm_up_ends_when_the_database_is_closed(tmp_path, memo):
    from kpi.db import open_database
    from views._ops import WarmUp

    db = open_database(tmp_path / "x.duckdb")
    worker = WarmUp(db, poll_seconds=0.05).start()
    assert worker.wait_idle(30)
    db.close()
    worker.thread.join(5)
    assert not worker.thread.is_alive()


def test_warm_up_switch(monkeypatch):
    from views._ops import warmup_enabled

    monkeypatch.setenv("KPI_WARMUP", "0")
    assert not warmup_enabled()
    monkeypatch.setenv("KPI_WARMUP", "1")
    assert warmup_enabled()
    monkeypatch.delenv("KPI_WARMUP")
    assert warmup_enabled()  # on unless switched off


def test_app_starts_the_warm_up_and_the_overview_uses_its_results(demo_env, monkeypatch, counted_engine):
    from streamlit.testing.v1 import AppTest

    from views import _ops

    monkeypatch.setenv("KPI_WARMUP", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.secrets = {"kpi": {"require_login": False}}
    at.run()
    assert not at.exception
    workers = [t for t in threading.enumerate() if t.name == "kpi-warm-up"]
    assert workers
    worker = _ops._start_warmup(id(_ops.get_db()))
    assert worker.wait_idle(30)
    assert counted_engine == [None]  # the page waited for the warm-up instead of computing again
    at.run()
    assert not at.exception and counted_engine == [None]


def test_results_of_older_data_are_dropped_when_new_ones_are_stored(fresh_db, memo):
    overview._memo(fresh_db, "x", None, lambda: "alt")
    with fresh_db.transaction():
        pass
    overview._memo(fresh_db, "y", None, lambda: "neu")
    assert list(memo.values()) == ["neu"]


SERVER_START = """
import asyncio, sys
sys.path.insert(0, {root!r})
import serve
from kpi import overview
from views._shared import get_db

async def main():
    async with serve._lifespan(serve.app) as state:
        warmup = state["warmup"]
        assert warmup is not None and warmup.wait_idle(120), "warm-up did not finish"
        db = get_db()
        key = overview._key(db, "results", None)
        assert key in overview._MEMO, "no results in the memo"
        print("warm", len(overview._MEMO[key]))

asyncio.run(main())
"""


def test_server_start_warms_the_dashboards_before_anyone_visits(demo_file, tmp_path):
    """serve.py (what `make run` starts): its lifespan hook runs the warm-up on the pages' database."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "KPI_DB": str(demo_file), "KPI_WARMUP": "1"}
    out = subprocess.run([sys.executable, "-c", SERVER_START.format(root=str(ROOT))], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0] == "warm" and int(out.stdout.split()[1]) > 0, out.stdout


def test_warm_up_also_settles_what_the_engine_leaves_to_first_use(demo_db, memo):
    """IRRs and the uploads behind the explanations are computed on first use; the warm-up uses them
    once, so the Maßnahme page does not pay for them (for all results at once)."""
    overview.warm_up(demo_db)
    results = overview.engine_results(demo_db)
    assert len(results) > 1
    assert all(not isinstance(r.__dict__["_irr"], engine._IrrBatch) for r in results)
    assert results[-1].explanations["costs_eur"].inputs  # built now, from the loaded uploads
    assert any("Upload" in src for *_, src in results[-1].explanations["costs_eur"].inputs)
