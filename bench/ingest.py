"""Ingest benchmark: our full ingest vs pandas.read_excel alone, side by side in one run.

    .venv/bin/python bench/ingest.py [--sizes 100000,500000] [--openpyxl-max 100000] [--repeat 1] [--split]

Generates long workbooks (cached in bench/out/, which git ignores) and measures, each in its own
child process (so peak memory is that of the measured work alone):
  ours          analyse (guard, read, recognise, validate) + commit into a fresh DuckDB file
  ours:analyse  the same without the load
  calamine      pandas.read_excel(engine="calamine") alone
  openpyxl      pandas.read_excel(engine="openpyxl") alone (slow: only up to --openpyxl-max rows)
and, as whole processes (interpreter start and imports included): `kpi ingest FILE` vs a process
that only runs pandas.read_excel(engine="calamine"). The machine is shared: compare, don't trust
single absolute times. --split adds where the time of "ours" goes (same run, same work; each step
timed around its function, so the steps add up to about the total).

Both sides run with compiled bytecode, as in any normal environment: pip compiled pandas at
install time, and Python caches kpi/'s bytecode on first use — unless PYTHONDONTWRITEBYTECODE
is set (as in some sandboxes), where every process would compile kpi/ anew (~0,1 s). So the
benchmark compiles kpi/ once before measuring (python -m compileall; __pycache__ is ignored by git).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PY = sys.executable


def workbook(n: int) -> Path:
    sys.path.insert(0, str(ROOT))
    from bench.xlsxgen import write_long_workbook

    path = OUT / f"long_{n}.xlsx"
    if not path.exists():
        t = time.perf_counter()
        write_long_workbook(path, n)
        print(f"  {path.name} geschrieben ({path.stat().st_size / 2**20:.1f} MB, "
              f"{time.perf_counter() - t:.1f} s)", flush=True)
    return path


# (label, module, function): the steps of "ours" timed with --split, in pipeline order
STEPS = [
    ("Prüfung auf Byte-Ebene (guard)", "kpi.ingest.guard", "inspect_upload"),
    ("Zellbefunde (Formeln, Fehlerwerte)", "kpi.ingest.cells", "workbook_cell_findings"),
    ("Lesen (fastexcel)", "kpi.ingest.read", "Book.grid"),
    ("Aufbau erkennen", "kpi.ingest.layout", "detect"),
    ("Datensätze bilden", "kpi.ingest.layout", "records"),
    ("Prüfen (validate)", "kpi.ingest.pipeline", "validate"),
    ("Laden: Namen", "kpi.store", "_ensure_names"),
    ("Laden: Zuordnen + Vergleichen (classify)", "kpi.store", "_classify"),
    ("Laden: Transaktion gesamt", "kpi.db", "Database.transaction"),
    ("Laden: Checkpoint", "kpi.db", "Database.checkpoint"),
]


def _timed_steps() -> dict[str, float]:
    """Wrap each step's function to add up its time (module attribute or class method)."""
    import contextlib
    import functools
    import importlib

    spent = {label: 0.0 for label, _, _ in STEPS}
    for label, module, name in STEPS:
        owner = importlib.import_module(module)
        attr = name
        if "." in name:
            cls, attr = name.split(".")
            owner = getattr(owner, cls)
        fn = getattr(owner, attr)
        if attr == "transaction":  # a context manager: time the whole with-block
            def wrapped(*a, _fn=fn, _label=label, **k):
                @contextlib.contextmanager
                def cm():
                    t = time.perf_counter()
                    try:
                        with _fn(*a, **k) as cur:
                            yield cur
                    finally:
                        spent[_label] += time.perf_counter() - t
                return cm()
        else:
            @functools.wraps(fn)
            def wrapped(*a, _fn=fn, _label=label, **k):
                t = time.perf_counter()
                try:
                    return _fn(*a, **k)
                finally:
                    spent[_label] += time.perf_counter() - t
        setattr(owner, attr, wrapped)
    return spent


def measure(kind: str, path: Path, split: bool = False) -> dict:
    """Child-process body: run one kind on one file; print JSON with seconds, cpu and peak MB."""
    sys.path.insert(0, str(ROOT))
    data = path.read_bytes()
    spent = None
    if kind.startswith("ours"):
        from kpi.db import open_database
        from kpi.ingest import pipeline

        spent = _timed_steps() if split else None

        with tempfile.TemporaryDirectory() as tmp:
            db = open_database(Path(tmp) / "bench.duckdb")
            t0, c0 = time.perf_counter(), time.process_time()
            res = pipeline.analyse(data, path.name)
            assert not res.has_errors, res.report_de()[:2000]
            n = res.n_valid_rows
            if kind == "ours":
                counts = pipeline.commit(db, res)
                assert counts.inserted == n
            secs, cpu = time.perf_counter() - t0, time.process_time() - c0
            db.close()
    else:
        import pandas as pd

        t0, c0 = time.perf_counter(), time.process_time()
        df = pd.read_excel(path, engine=kind)
        n = len(df)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"kind": kind, "rows": n, "seconds": secs, "cpu": cpu, "peak_mb": peak, "steps": spent}


def child(kind: str, path: Path, split: bool = False) -> dict:
    proc = subprocess.run([PY, __file__, "--measure", kind, str(path)] + (["--split"] if split else []),
                          capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} auf {path.name} fehlgeschlagen:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def whole_process(cmd: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    secs = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} fehlgeschlagen:\n{proc.stderr[-3000:]}")
    return secs


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,500000")
    ap.add_argument("--openpyxl-max", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=1, help="best of N for each figure")
    ap.add_argument("--split", action="store_true", help="where the time of ours goes, step by step")
    ap.add_argument("--measure", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]), args.split)))
        return
    compileall.compile_dir(ROOT / "kpi", quiet=1)  # see the module docstring
    load = os.getloadavg()[0]
    print(f"Ingest-Benchmark (Python {sys.version.split()[0]}, {os.cpu_count()} Kerne, Last {load:.1f})")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows_out = []
    for n in sizes:
        path = workbook(n)
        kinds = ["ours", "ours:analyse", "calamine"] + (["openpyxl"] if n <= args.openpyxl_max else [])
        res = {k: best([child(k, path, args.split and k == "ours") for _ in range(args.repeat)]) for k in kinds}
        with tempfile.TemporaryDirectory() as tmp:
            pd_cmd = [PY, "-c", f"import pandas as pd; pd.read_excel({str(path)!r}, engine='calamine')"]
            pairs = []
            for i in range(args.repeat):  # a fresh database each time (a second load of a file changes nothing)
                kpi_cmd = [PY, "-m", "kpi", "ingest", str(path), "--db", str(Path(tmp) / f"w{i}.duckdb")]
                # alternating, so a neighbour's load on the shared machine hits both sides alike
                pairs.append((whole_process(kpi_cmd), whole_process(pd_cmd)))
            w_kpi, w_pd = min(p[0] for p in pairs), min(p[1] for p in pairs)
        rows_out.append((n, res, w_kpi, w_pd))

    print()
    print(f"{'Zeilen':>8} {'Messung':<34} {'Zeit s':>8} {'CPU s':>8} {'Spitze MB':>10}")
    for n, res, w_kpi, w_pd in rows_out:
        for k, r in res.items():
            label = {"ours": "KPI-Cockpit: prüfen + laden", "ours:analyse": "KPI-Cockpit: nur prüfen",
                     "calamine": "pandas.read_excel(calamine)", "openpyxl": "pandas.read_excel(openpyxl)"}[k]
            print(f"{n:>8} {label:<34} {r['seconds']:>8.2f} {r['cpu']:>8.2f} {r['peak_mb']:>10.0f}")
        print(f"{n:>8} {'Prozess: kpi ingest':<34} {w_kpi:>8.2f}")
        print(f"{n:>8} {'Prozess: nur pandas+calamine':<34} {w_pd:>8.2f}")
    if args.split:
        print()
        print("Aufteilung „KPI-Cockpit: prüfen + laden“ (s):")
        print(f"  {'Schritt':<36}" + "".join(f"{n:>10}" for n, *_ in rows_out))
        for label, _, _ in STEPS:
            print(f"  {label:<36}" + "".join(f"{res['ours']['steps'][label]:>10.3f}" for _, res, *_ in rows_out))
        print(f"  {'gesamt':<36}" + "".join(f"{res['ours']['seconds']:>10.3f}" for _, res, *_ in rows_out))
    print()
    print("Verhältnisse (kleiner ist besser für KPI-Cockpit):")
    for n, res, w_kpi, w_pd in rows_out:
        ours = res["ours"]["seconds"]
        line = f"  {n:>7} Zeilen: ours/calamine {ours / res['calamine']['seconds']:.2f}×"
        if "openpyxl" in res:
            line += f", ours/openpyxl {ours / res['openpyxl']['seconds']:.3f}× " \
                    f"(= {res['openpyxl']['seconds'] / ours:.1f}× schneller)"
        line += f", Prozess kpi ingest / pandas-calamine-Prozess {w_kpi / w_pd:.2f}×"
        print(line)
    print()
    print("Ziele: 100.000 Zeilen ≤ 1,5 s im Prozess und ≥ 10× schneller als pandas+openpyxl; "
          "Prozess < 0,75× pandas+calamine; 500.000 Zeilen ≤ 6 s bei ≤ 500 MB Spitze.")


if __name__ == "__main__":
    main()
