"""kpi.ingest.arrays: arrays built from buffers equal what pa.array builds, without importing pandas."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from kpi.ingest import arrays as A

ROOT = Path(__file__).resolve().parent.parent


def test_arrays_equal_pyarrows_own_conversion():
    texts = ["Musterstadt", None, "Übersee-Straße", "", "x" * 300]
    assert A.strings(texts).equals(pa.array(texts, pa.string()))
    assert A.strings([]).equals(pa.array([], pa.string()))
    assert A.floats([1.5, None, -0.0, 1e300]).equals(pa.array([1.5, None, -0.0, 1e300], pa.float64()))
    days = [date(2024, 3, 1), None, date(1900, 1, 1), date(2200, 12, 1)]
    assert A.dates(days).equals(pa.array(days, pa.date32()))
    assert A.bools([True, False, True] * 7).equals(pa.array([True, False, True] * 7))
    assert A.full(10, False).equals(pa.array([False] * 10))
    assert A.full(0, True).equals(pa.array([], pa.bool_()))
    assert A.string("a").equals(pa.scalar("a")) and A.string(None).equals(pa.scalar(None, pa.string()))
    assert A.int64(7).equals(pa.scalar(7)) and A.date32(date(2024, 1, 1)).equals(pa.scalar(date(2024, 1, 1)))


def test_to_numpy_reads_sliced_and_chunked_arrays():
    arr = pa.chunked_array([A.from_numpy(np.arange(10, dtype=np.int64))]).slice(3, 4)
    assert A.to_numpy(arr).tolist() == [3, 4, 5, 6]


def test_distinct_rows_keeps_the_first_of_each_key_in_order():
    t = pa.table({"sheet": ["A", "A", "B", None, None, "A"], "row": [1, 1, 2, 3, 3, 4], "x": list("abcdef")})
    assert A.distinct_rows(t, ["sheet", "row"]).to_pylist() == [
        {"sheet": "A", "row": 1}, {"sheet": "B", "row": 2}, {"sheet": None, "row": 3}, {"sheet": "A", "row": 4}]
    assert A.distinct_rows(t.slice(0, 0), ["sheet", "row"]).num_rows == 0


def test_building_arrays_does_not_import_pandas():
    code = textwrap.dedent("""
        import sys
        from datetime import date
        import pyarrow as pa
        import pyarrow.compute as pc
        from kpi.ingest import arrays as A
        t = pa.table({"s": A.strings(["a", None, "a"]), "d": A.dates([date(2024, 1, 1), None, None])})
        pc.fill_null(pc.equal(t.column("s"), A.string("a")), A.FALSE)
        A.distinct_rows(t, ["s", "d"])
        A.floats([1.0, None]); A.bools([True]); A.int64(1)
        print("pandas" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
