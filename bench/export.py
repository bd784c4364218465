"""Export benchmark: ~1.000.000 rows in each format next to pandas' to_csv on the same data.

Run: .venv/bin/python bench/export.py [--rows-small 50000]
Builds (once, cached in bench/out/) a database of 40 Kommunen × 25 Maßnahmen × 10 years
(≈ 1,08 Mio. measurements). Each case runs in its own process so that its peak memory
(VmHWM, DuckDB included) can be reported as the growth over the process after opening the
database. Times include producing the bytes handed to the download button.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_PATH = ROOT / "bench" / "out" / "export_1m.duckdb"
XLSX_TO = date(2024, 12, 1)  # 9 of 10 years: stays below Excel's 1.048.576 rows


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def build_db() -> None:
    from kpi import demo
    from kpi.db import open_database

    DB_PATH.parent.mkdir(parents=True, exist_ok=True)
    db = open_database(DB_PATH)
    try:
        if db.query("SELECT count(*) FROM measurement")[0][0] < 1_000_000:
            print("Baue Benchmark-Datenbank (40 × 25 × 10) …", flush=True)
            demo.load_synthetic(db, 40, 25, 10)
            db.checkpoint()
    finally:
        db.close()


def run_case(case: str, small_rows: int) -> dict:
    """Run one measurement in this process; return seconds, rows, bytes and peak memory growth."""
    from kpi import export
    from kpi.db import open_database
    from kpi.filters import Filters

    db = open_database(DB_PATH)
    full = Filters()
    capped = Filters(period_to=XLSX_TO)
    # a small subset for the slow pure-Python writers: the first Kommunen until small_rows
    names = [r[0] for r in db.query("SELECT name FROM kommune ORDER BY kommune_id")]
    small = Filters(kommune=tuple(names[: max(1, round(len(names) * small_rows / 1_080_000))]))
    pandas_df = None
    if case.startswith("pandas") or case.startswith("openpyxl") or case.startswith("xlsxwriter"):
        pandas_df = export.data_frame(db, small if "small" in case else full)
    base_kb = _rss_kb("VmRSS")
    t0 = time.perf_counter()
    if case in ("csv", "csv-de", "parquet"):
        data, _, _ = export.export_bytes(db, case, full)
    elif case == "xlsx":
        data, _, _ = export.export_bytes(db, "xlsx", capped)
    elif case == "xlsx-small":
        data, _, _ = export.export_bytes(db, "xlsx", small)
    elif case == "pandas-csv":
        data = pandas_df.to_csv(index=False).encode("utf-8")
    elif case == "pandas-csv-de":
        data = pandas_df.to_csv(index=False, sep=";", decimal=",", date_format="%d.%m.%Y").encode("utf-8-sig")
    elif case == "openpyxl-small":
        import io

        import openpyxl

        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("Daten")
        ws.append(list(pandas_df.columns))
        for row in pandas_df.itertuples(index=False):
            ws.append([None if v != v else v for v in row])  # NaN -> empty
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    elif case == "xlsxwriter-small":
        import io

        import xlsxwriter

        buf = io.BytesIO()
        wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "in_memory": False, "nan_inf_to_errors": True})
        ws = wb.add_worksheet("Daten")
        ws.write_row(0, 0, list(pandas_df.columns))
        for i, row in enumerate(pandas_df.itertuples(index=False), start=1):
            ws.write_row(i, 0, [None if v != v else v for v in row])
        wb.close()
        data = buf.getvalue()
    else:
        raise SystemExit(f"unknown case {case}")
    seconds = time.perf_counter() - t0
    rows = {"xlsx": export.count_rows(db, capped), "xlsx-small": export.count_rows(db, small)}.get(case)
    if rows is None:
        rows = len(pandas_df) if pandas_df is not None else export.count_rows(db, full)
    return {"case": case, "seconds": seconds, "rows": rows, "bytes": len(data),
            "peak_mb": max(0, _rss_kb("VmHWM") - base_kb) / 1024}


def _spawn(case: str, small_rows: int) -> dict | None:
    proc = subprocess.run([sys.executable, __file__, "--case", case, "--rows-small", str(small_rows)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        print(f"  {case}: fehlgeschlagen\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _de(x: float, nd: int = 2) -> str:
    return f"{x:,.{nd}f}".replace(",", "_").replace(".", ",").replace("_", ".")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case")
    ap.add_argument("--rows-small", type=int, default=50_000)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.rows_small)))
        return
    build_db()
    try:
        import xlsxwriter  # noqa: F401
        has_xlsxwriter = True
    except ImportError:
        has_xlsxwriter = False
    cases = ["csv", "pandas-csv", "csv-de", "pandas-csv-de", "parquet", "xlsx", "xlsx-small", "openpyxl-small"]
    if has_xlsxwriter:
        cases.append("xlsxwriter-small")
    res = {}
    for case in cases:
        print(f"  messe {case} …", flush=True)
        r = _spawn(case, args.rows_small)
        if r:
            res[case] = r
    print()
    print(f"{'Fall':<18}{'Zeilen':>12}{'Sekunden':>10}{'Zeilen/s':>12}{'MB Datei':>10}{'Spitze MB':>11}")
    for case, r in res.items():
        print(f"{case:<18}{_de(r['rows'], 0):>12}{_de(r['seconds']):>10}{_de(r['rows'] / r['seconds'], 0):>12}"
              f"{_de(r['bytes'] / 1e6, 1):>10}{_de(r['peak_mb'], 0):>11}")
    print()
    for ours, theirs in (("csv", "pandas-csv"), ("csv-de", "pandas-csv-de"),
                         ("xlsx-small", "openpyxl-small"), ("xlsx-small", "xlsxwriter-small")):
        if ours in res and theirs in res:
            a, b = res[ours], res[theirs]
            ratio = (b["seconds"] / b["rows"]) / (a["seconds"] / a["rows"])
            print(f"{ours} ist {_de(ratio, 1)}× so schnell wie {theirs} (je Zeile)")
    for fmt in ("csv", "csv-de"):
        if fmt in res:
            ok = "erreicht" if res[fmt]["seconds"] <= 1.5 else "VERFEHLT"
            print(f"Ziel {fmt} ≤ 1,5 s für {_de(res[fmt]['rows'], 0)} Zeilen: {ok} ({_de(res[fmt]['seconds'])} s)")


if __name__ == "__main__":
    main()
