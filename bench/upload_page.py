"""Upload page overhead on a 100.000-row workbook: the page (AppTest, upload → report → preview)
beside the bare kpi calls it makes (analyse + preview_counts), side by side in one run.

    .venv/bin/python bench/upload_page.py [N_ROWS]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/pages.py would shadow the views/ namespace package the page imports from
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.xlsxgen import write_long_workbook  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    tmp = Path(tempfile.mkdtemp(prefix="kpi_bench_upload_"))
    wb = write_long_workbook(tmp / f"long_{n}.xlsx", n)
    data = wb.read_bytes()
    os.environ["KPI_DB"] = str(tmp / "kpi.duckdb")
    os.environ["KPI_DEV_ROLE"] = "digitallotse"

    from kpi.db import open_database
    from kpi.ingest import pipeline

    db = open_database(tmp / "bare.duckdb")
    t0 = time.perf_counter()
    result = pipeline.analyse(data, wb.name, db=db)
    t1 = time.perf_counter()
    counts = pipeline.preview_counts(db, result)
    t2 = time.perf_counter()
    db.close()

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "views" / "upload.py"), default_timeout=300)
    at.run()
    t3 = time.perf_counter()
    at.file_uploader(key="up_file").set_value((wb.name, data, "application/octet-stream")).run()
    t4 = time.perf_counter()
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}

    bare = t2 - t1 + t1 - t0
    page = t4 - t3
    print(f"workbook: {n:,} rows, {len(data) / 1e6:.1f} MB; preview: {counts.summary_de()}")
    print(f"{'step':<38}{'seconds':>9}")
    print(f"{'analyse (bare)':<38}{t1 - t0:>9.2f}")
    print(f"{'preview_counts (bare)':<38}{t2 - t1:>9.2f}")
    print(f"{'bare total':<38}{bare:>9.2f}")
    print(f"{'page: upload → report → preview':<38}{page:>9.2f}")
    print(f"{'page / bare':<38}{page / bare:>9.2f}×")
    print(f"page shows: neu={shown.get('neu')}, Fehler={shown.get('Fehler')}")


if __name__ == "__main__":
    main()
