"""Load test: N concurrent browser-less sessions against a real `streamlit run serve.py`.

Starts the app on 127.0.0.1 with a temporary demo database (viewer role), then for 1, 5 and 20
concurrent users opens one websocket session per user, exactly as the browser does
(/_stcore/stream, BackMsg.rerun_script), and times each page run from request to
`script_finished`. Every user visits every viewer page `--rounds` times in a shuffled order, after one uncounted warm-up visit of every page.
Prints median and p95 per level and per page, side by side with the 1-user figure.

    .venv/bin/python bench/load.py [--users 1 5 20] [--rounds 2] [--port 8599]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
PAGE_TIMEOUT_S = 120


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(0.95 * len(xs)) - 1))]


class Session:
    """One browser tab: a websocket session that asks for page runs and waits for them to finish."""

    def __init__(self, url: str):
        self.url = url
        self.ws = None
        self.pages: dict[str, str] = {}  # url path -> page_script_hash

    async def __aenter__(self):
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=2**28,
                                           open_timeout=30)
        return self

    async def __aexit__(self, *exc):
        await self.ws.close()

    async def run_page(self, page: str) -> tuple[float, list[str]]:
        """Request one run of `page` ('' = default); return (seconds, problems shown)."""
        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_name = page
        if page in self.pages:
            msg.rerun_script.page_script_hash = self.pages[page]
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        errors: list[str] = []
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), PAGE_TIMEOUT_S)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "navigation":  # the last one of a run is what st.navigation registered
                self.pages = {p.url_pathname: p.page_script_hash for p in fwd.navigation.app_pages}
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                if fwd.delta.new_element.WhichOneof("type") == "exception":
                    errors.append(f"{page or '(Start)'}: Ausnahme {fwd.delta.new_element.exception.type}")
            elif kind == "page_not_found":
                errors.append(f"{page or '(Start)'}: Seite nicht gefunden")
            elif kind == "script_finished":
                if fwd.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue
                return time.perf_counter() - t0, errors


async def _user(url: str, pages: list[str], rounds: int, seed: int, out: list, err: list) -> None:
    rng = random.Random(seed)
    async with Session(url) as s:
        await s.run_page("")  # first load: default page, learns the page list
        for _ in range(rounds):
            order = pages[:]
            rng.shuffle(order)
            for page in order:
                dt, problems = await s.run_page(page)
                out.append((page, dt))
                err.extend(problems)


async def _level(url: str, pages: list[str], users: int, rounds: int) -> tuple[list, list, float]:
    out: list[tuple[str, float]] = []
    errs: list[str] = []
    t0 = time.perf_counter()
    await asyncio.gather(*[_user(url, pages, rounds, i, out, errs) for i in range(users)])
    return out, errs, time.perf_counter() - t0


async def _discover(url: str) -> list[str]:
    async with Session(url) as s:
        await s.run_page("")
        return sorted(s.pages)


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("streamlit did not become healthy in time")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[1, 5, 20])
    ap.add_argument("--rounds", type=int, default=2, help="visits of every page per user")
    ap.add_argument("--port", type=int, default=8599)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="kpi-load-") as tmp:
        db = Path(tmp) / "demo.duckdb"
        env = {k: v for k, v in os.environ.items() if k != "KPI_DEV_ROLE"}
        env["KPI_DB"] = str(db)
        subprocess.run([sys.executable, "-m", "kpi", "demo", "--db", str(db)], check=True, env=env,
                       cwd=ROOT, stdout=subprocess.DEVNULL)
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(args.port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "server.log", "w"))
        try:
            _wait_healthy(args.port, proc)
            url = f"ws://127.0.0.1:{args.port}/_stcore/stream"
            pages = asyncio.run(_discover(url))
            print(f"Seiten (Rolle viewer, Demodaten): {', '.join(p or '(Start)' for p in pages)}")
            # warm-up (not counted): one user visits every page once, so caches are filled as on a
            # server that has been running; cold first visits are printed separately
            cold, _, _ = asyncio.run(_level(url, pages, 1, 1))
            print("Erster Aufruf (kalt), s: " + ", ".join(f"{p or '(Start)'} {dt:.2f}" for p, dt in cold))
            print(f"{'Nutzer':>6} {'Aufrufe':>8} {'Median s':>9} {'p95 s':>7} {'max s':>7} "
                  f"{'× Median 1':>11} {'Aufrufe/s':>10} {'Fehler':>7}")
            base = None
            per_page: dict[int, dict[str, list[float]]] = {}
            all_problems: list[str] = []
            for n in args.users:
                out, problems, wall = asyncio.run(_level(url, pages, n, args.rounds))
                all_problems.extend(problems)
                times = [dt for _, dt in out]
                med = statistics.median(times)
                base = base or med
                per_page[n] = {}
                for page, dt in out:
                    per_page[n].setdefault(page, []).append(dt)
                print(f"{n:>6} {len(times):>8} {med:>9.3f} {_p95(times):>7.3f} {max(times):>7.3f} "
                      f"{med / base:>11.1f} {len(times) / wall:>10.1f} {len(problems):>7}")
            if all_problems:
                print("Fehler: " + "; ".join(f"{p} ×{all_problems.count(p)}"
                                              for p in sorted(set(all_problems))))
            print("\nMedian / p95 je Seite (s):")
            print(f"{'Seite':<28}" + "".join(f"{f'{n} Nutzer':>18}" for n in args.users))
            for page in pages:
                cells = "".join(
                    f"{statistics.median(per_page[n][page]):>9.3f}/{_p95(per_page[n][page]):<8.3f}"
                    for n in args.users)
                print(f"{page or '(Start)':<28}{cells}")
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            # the browser sees only a generic message (showErrorDetails = "none"); keep the
            # server log with the tracebacks
            out = ROOT / "bench" / "out"
            out.mkdir(parents=True, exist_ok=True)
            log = (Path(tmp) / "server.log").read_text(encoding="utf-8", errors="replace")
            (out / "load-server.log").write_text(log, encoding="utf-8")
            n_tb = log.count("Traceback")
            print(f"\nServer-Log: bench/out/load-server.log ({n_tb} Tracebacks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
