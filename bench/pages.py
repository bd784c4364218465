"""Server-side run time of every page (AppTest), on the demo data and on ~1.000.000 measurements, side by side.

Each page is measured in two fresh sessions (the database connection stays open, as on a
running server):

* kalt (cold): nothing computed — st.cache_data and the kpi memo cleared, no warm-up. What the
  very first visitor after a server start meets if the warm-up has not finished yet.
* warm: st.cache_data and the memo cleared, then the app's background warm-up
  (kpi.overview.warm_up, started by views/_ops.py at start and after each data change) has
  run. What a visitor meets on a running server, and after every upload once the warm-up is done.

In both: the first render, a rerun with unchanged inputs (cached), and a rerun after a filter
change (the Kommune filter set to one Kommune, or the Sitzungsmodus' Kommune choice). Targets at
1M: first render ≤ 1 s, rerun ≤ 100 ms, filter change ≤ 300 ms. The table shows the cold first
render and filter change beside the warm session's figures; the warm-up's own duration is printed
per size.

    .venv/bin/python bench/pages.py                 # both sizes, all pages
    .venv/bin/python bench/pages.py --only demo     # one size
    .venv/bin/python bench/pages.py --pages ueberblick,sitzung
    .venv/bin/python bench/pages.py --profile ueberblick --only 1m   # cProfile of one page's runs
    .venv/bin/python bench/pages.py --only 1m --repeat 5            # medians of 5 rounds per page

The 1M database is generated once (kpi.demo.load_synthetic, 40 Kommunen × 25 Maßnahmen ×
10 years) and kept in bench/out/. The machine is shared: compare columns, don't trust absolutes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this file is called pages.py: its folder must not shadow the app's `pages` package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
APP = str(ROOT / "app.py")

TARGET_RERUN = 0.100
TARGET_FILTER = 0.300
TARGET_FIRST = 1.0
# pages whose tab runs only when opened: page -> (tabs key, label of the tab timed on opening)
LAZY_TABS = {"views/daten_export.py": ("export_tab", "Kennzahlen je Maßnahme")}


def build(path: Path, size: str) -> None:
    """Create the benchmark database once (demo data or ~1M generated measurements)."""
    from kpi import demo
    from kpi.db import open_database

    if path.exists():
        return
    t = time.perf_counter()
    with open_database(path) as db:
        if size == "demo":
            demo.load_demo(db)
        else:
            demo.load_synthetic(db, n_kommunen=40, per_kommune=25, years=10)
        n = db.query("SELECT count(*) FROM measurement")[0][0]
        db.checkpoint()
    print(f"  {path.name}: {n:,} Messwerte erzeugt in {time.perf_counter() - t:.0f} s".replace(",", "."))


def registered_pages() -> list[str]:
    """Page files app.py registers (its fixed list, where the file exists)."""
    import ast

    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PAGES":
            files = [elt.elts[0].value for elt in node.value.elts]
            return [f for f in files if (ROOT / f).exists()]
    raise SystemExit("PAGES not found in app.py")


def clear_computed() -> None:
    """Forget computed data (not the open database): what a first visit after an upload meets."""
    import streamlit as st

    from kpi import overview

    st.cache_data.clear()
    overview._MEMO.clear()
    from views import _chart_block

    _chart_block._render.cache_clear()


def warm_up() -> float:
    """Run the app's warm-up on the app's database (as its background thread does); return seconds."""
    from kpi import overview
    from views._shared import get_db

    t = time.perf_counter()
    overview.warm_up(get_db())
    return time.perf_counter() - t


def change_filter(at) -> str | None:
    """Set the page's Kommune filter to one Kommune (None when the page has no such filter)."""
    for w in at.multiselect:
        if w.label == "Kommune" and len(w.options) > 1:
            w.set_value([w.options[1]])
            return f"Kommune = {w.options[1]}"
    for w in at.selectbox:  # the Sitzungsmodus start screen: its Kommune choice (plain strings)
        if w.label == "Für welche Kommune?" and len(w.options) > 1:
            w.set_value(w.options[1])
            return f"Kommune = {w.options[1]}"
    return None


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def session(page: str):
    """A new browser session on `page` (AppTest), its first run on the default page done."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=600)
    at.secrets = {"kpi": {"require_login": False}}
    at.run()  # lands on the default page; the router and shared widgets are now set up
    if page != "views/ueberblick.py":
        at.switch_page(page)
    return at


def measure(page: str, profile: bool = False, repeat: int = 1) -> dict:
    """Time first render, cached rerun and filter change of one page, cold and warm; with repeat > 1
    the median of that many rounds (each in fresh sessions), since this machine's speed drifts."""
    if repeat > 1:
        rounds = [measure(page, profile and i == 0) for i in range(repeat)]
        out = dict(rounds[0])
        for k, v in out.items():
            if isinstance(v, float):
                out[k] = statistics.median(r[k] for r in rounds)
        out["error"] = next((r["error"] for r in rounds if r["error"]), "")
        return out
    out: dict = {}
    prof = _profile_script_thread() if profile else None
    errors = []
    for mode in ("cold", "warm"):
        at = session(page)
        clear_computed()
        if mode == "warm":
            warm_up()
        if prof is not None:
            prof.clear()  # the session's set-up run on the default page is not part of the figures
        out[f"{mode}_first"] = timed(at.run)
        _report(prof, f"{mode}: erster Aufruf")
        errors += at.exception
        out[f"{mode}_rerun"] = min(timed(at.run), timed(at.run))
        _report(prof, f"{mode}: Wiederholung (zweimal)")
        out["what"] = change_filter(at)
        out[f"{mode}_filter"] = timed(at.run) if out["what"] else None
        _report(prof, f"{mode}: Filterwechsel")
        errors += at.exception
        if page in LAZY_TABS:  # a tab that runs only when opened: its first opening, in a fresh session
            at = session(page)
            at.run()
            if mode == "cold":
                clear_computed()
            key, label = LAZY_TABS[page]
            at.session_state[key] = label
            out[f"{mode}_tab"] = timed(at.run)
            _report(prof, f"{mode}: Tab „{label}“ geöffnet")
            errors += at.exception
    out["error"] = str(errors[0].message)[:60] if errors else ""
    return out


def _profile_script_thread() -> cProfile.Profile:
    """Profile the script runs themselves: AppTest executes the page in its own thread."""
    from streamlit.runtime.scriptrunner import script_runner

    prof = cProfile.Profile()
    original = script_runner.ScriptRunner._run_script

    def run_profiled(self, rerun_data):
        prof.enable()
        try:
            return original(self, rerun_data)
        finally:
            prof.disable()

    script_runner.ScriptRunner._run_script = run_profiled
    return prof


def _report(prof: cProfile.Profile | None, what: str) -> None:
    if prof is None:
        return
    out = io.StringIO()
    try:
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(35)
    except TypeError:  # nothing ran (a page without a filter)
        return
    print(f"===== Profil: {what} =====")
    print(out.getvalue())
    prof.clear()


def fmt_s(x: float | None, target: float | None = None) -> str:
    if x is None:
        return "–".rjust(7) + " "
    mark = " " if target is None or x <= target else "!"
    return f"{x * 1000:7.0f}{mark}"


COLUMNS = (("cold_first", TARGET_FIRST), ("cold_filter", TARGET_FILTER), ("warm_first", TARGET_FIRST),
           ("warm_rerun", TARGET_RERUN), ("warm_filter", TARGET_FILTER))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["demo", "1m"])
    ap.add_argument("--pages", help="comma-separated page names (default: all registered)")
    ap.add_argument("--profile", help="page name whose first render is profiled")
    ap.add_argument("--repeat", type=int, default=1, help="rounds per page; the table shows their medians")
    args = ap.parse_args()

    os.environ["KPI_DEV_ROLE"] = "admin"  # every page visible
    os.environ["KPI_WARMUP"] = "0"  # no background thread: this script warms explicitly (warm_up)
    OUT.mkdir(parents=True, exist_ok=True)
    sizes = [s for s in ("demo", "1m") if args.only in (None, s)]
    pages = registered_pages()
    if args.pages:
        wanted = set(args.pages.split(","))
        pages = [p for p in pages if Path(p).stem in wanted]

    import logging

    import streamlit as st

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    results: dict[str, dict[str, dict]] = {}
    warm_seconds: dict[str, float] = {}
    for size in sizes:
        path = OUT / f"pages_{size}.duckdb"
        build(path, size)
        os.environ["KPI_DB"] = str(path)
        st.cache_resource.clear()
        session("views/ueberblick.py")  # opens the database
        warm_seconds[size] = min(clear_computed() or warm_up() for _ in range(2))
        print(f"  {size:>4} warm-up (kpi.overview.warm_up) {warm_seconds[size] * 1000:6.0f} ms", flush=True)
        for page in pages:
            name = Path(page).stem
            results.setdefault(name, {})[size] = measure(page, profile=(args.profile == name), repeat=args.repeat)
            r = results[name][size]
            print(f"  {size:>4} {name:<18} " + "  ".join(
                f"{k} {'–' if r[k] is None else format(r[k] * 1000, '.0f')}" for k, _ in COLUMNS)
                + f" ms; rerun kalt {r['cold_rerun'] * 1000:.0f} ms ({r['what'] or 'kein Filter'})  {r['error']}",
                flush=True)
            if "cold_tab" in r:
                print(f"  {size:>4} {name:<18} Tab „{LAZY_TABS[page][1]}“ öffnen: kalt {r['cold_tab'] * 1000:.0f} ms, "
                      f"warm {r['warm_tab'] * 1000:.0f} ms", flush=True)

    print()
    print("ms, AppTest            " + "".join(f"| {s:>4}: kalt erst  filter | warm erst   rerun  filter "
                                            for s in sizes))
    print("-" * (23 + 58 * len(sizes)))
    for name, by in results.items():
        line = f"{name:<23}"
        for s in sizes:
            r = by.get(s)
            big = s == "1m"
            cells = [fmt_s(r[k], target if big else None) for k, target in COLUMNS]
            line += "| " + "    ".join(cells[:2]) + " | " + "".join(cells[2:]) + " "
        print(line)
    print(f"{'(warm-up selbst)':<23}" + "".join(f"| {'':>32}{warm_seconds[s] * 1000:7.0f}  (Hintergrund) "
                                                  for s in sizes))
    if "demo" in sizes and "1m" in sizes:
        print()
        print("Verhältnis 1M / Demo (warm erst, rerun):")
        for name, by in results.items():
            d, m = by["demo"], by["1m"]
            print(f"  {name:<20} {m['warm_first'] / d['warm_first']:5.1f}×  {m['warm_rerun'] / d['warm_rerun']:5.1f}×")
    print()
    print(f"'!' = Ziel bei 1M verfehlt (erster Aufruf ≤ {TARGET_FIRST * 1000:.0f} ms, rerun ≤ "
          f"{TARGET_RERUN * 1000:.0f} ms, Filterwechsel ≤ {TARGET_FILTER * 1000:.0f} ms). kalt: nichts berechnet "
          "(erster Besuch nach dem Serverstart, solange die Vorberechnung läuft); warm: nach der Vorberechnung. "
          "Fehler: " + (", ".join(f"{n}/{s}: {r['error']}" for n, by in results.items() for s, r in by.items()
                                  if r["error"]) or "keine"))


if __name__ == "__main__":
    main()
