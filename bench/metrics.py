"""Benchmark: time and peak memory to compute all metrics for 10 and 100 Kommunen × 20 Maßnahmen × 10 years.

Prints the figures side by side. The generated databases are cached in bench/out/ (generating the
100-Kommunen data takes a while). Usage: python bench/metrics.py [--only-small]
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpi import demo  # noqa: E402
from kpi.db import open_database  # noqa: E402
from kpi.metrics import engine, success  # noqa: E402

OUT = ROOT / "bench" / "out"


def prepared_db(n_kommunen: int):
    """Open (and on first use generate) the cached synthetic database."""
    path = OUT / f"metrics_{n_kommunen}x20x10.duckdb"
    fresh = not path.exists()
    db = open_database(path)
    if fresh or db.query("SELECT count(*) FROM measurement")[0][0] == 0:
        t = time.perf_counter()
        demo.load_synthetic(db, n_kommunen, 20, 10)
        print(f"  (generated {path.name} in {time.perf_counter() - t:.1f} s)", flush=True)
    return db


def measure(fn, repeat: int = 3):
    """Return (best wall seconds, CPU seconds of that run, peak traced MB of one run, result).

    CPU seconds (process time, all threads) are shown beside wall time because the machine is shared.
    """
    best, best_cpu = float("inf"), float("inf")
    result = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        if wall < best:
            best, best_cpu = wall, cpu
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, best_cpu, peak / 1e6, result


def run(n_kommunen: int) -> dict:
    db = prepared_db(n_kommunen)
    n_rows = db.query("SELECT count(*) FROM measurement")[0][0]
    n_m = db.query("SELECT count(*) FROM massnahme")[0][0]
    row = {"kommunen": n_kommunen, "massnahmen": n_m, "rows": n_rows}
    row["compute_all_s"], row["compute_all_cpu"], row["compute_all_mb"], results = measure(
        lambda: engine.compute_all(db))
    row["aggregate_s"], row["aggregate_cpu"], _, _ = measure(
        lambda: (engine.aggregate(results, "kommune"), engine.aggregate(results, "overall")))
    row["series_s"], row["series_cpu"], row["series_mb"], _ = measure(
        lambda: engine.series_frame(results), repeat=1)
    row["success_s"], row["success_cpu"], row["success_mb"], _ = measure(
        lambda: success.kpi_success(db), repeat=1)
    row["one_massnahme_s"], row["one_massnahme_cpu"], _, _ = measure(
        lambda: engine.compute_massnahme(db, "Kommune 001", "Maßnahme 01"))
    db.close()
    return row


def main() -> None:
    """Print the figures for both sizes side by side (ratio = 100 / 10 Kommunen)."""
    OUT.mkdir(parents=True, exist_ok=True)
    sizes = [10] if "--only-small" in sys.argv else [10, 100]
    rows = [run(n) for n in sizes]
    labels = [
        ("Maßnahmen", "massnahmen", "{:,.0f}"), ("Messwerte", "rows", "{:,.0f}"),
        ("compute_all wall [s]", "compute_all_s", "{:.2f}"), ("compute_all CPU [s]", "compute_all_cpu", "{:.2f}"),
        ("compute_all peak [MB]", "compute_all_mb", "{:.0f}"),
        ("aggregate (Kommune+gesamt) wall [s]", "aggregate_s", "{:.3f}"),
        ("monthly series frame wall [s]", "series_s", "{:.2f}"), ("series CPU [s]", "series_cpu", "{:.2f}"),
        ("series peak [MB]", "series_mb", "{:.0f}"),
        ("kpi_success wall [s]", "success_s", "{:.2f}"), ("kpi_success CPU [s]", "success_cpu", "{:.2f}"),
        ("kpi_success peak [MB]", "success_mb", "{:.0f}"),
        ("compute_massnahme (one) wall [s]", "one_massnahme_s", "{:.3f}"),
    ]
    head = f"{'':38}" + "".join(f"{str(r['kommunen']) + ' Kommunen':>16}" for r in rows)
    if len(rows) == 2:
        head += f"{'ratio':>10}"
    print(head)
    for label, key, fmt in labels:
        line = f"{label:38}" + "".join(f"{fmt.format(r[key]):>16}" for r in rows)
        if len(rows) == 2 and rows[0][key]:
            line += f"{rows[1][key] / rows[0][key]:>10.1f}"
        print(line)
    print("(peak = Python heap traced by tracemalloc; DuckDB's own buffers are not included;")
    print(" CPU = process time of all threads, less sensitive to other load on a shared machine)")


if __name__ == "__main__":
    main()
