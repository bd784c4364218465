"""kpi.ingest.compute calls the same Arrow kernels as pyarrow.compute, without importing it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as real
import pytest

from kpi.ingest import compute as shim

ROOT = Path(__file__).resolve().parent.parent

S = pa.array([" Musterstadt ", None, "MÄRZ 2024", "1.234,5", "", "x_y"], pa.string())
N = pa.array([1.5, None, -3.0, 0.0, 1e300, 2.0])
B = pa.array([True, None, False, True, False, True])
B2 = pa.array([False, True, None, True, False, False])
T = pa.table({"s": S, "n": N, "i": pa.array([3, 1, 2, 1, 3, 0])})

# (function, positional args, keyword args): every compute function the import path uses
CALLS = [
    ("invert", (B,), {}),
    ("and_", (B, B2), {}),
    ("or_", (B, B2), {}),
    ("or_kleene", (B, B2), {}),
    ("equal", (S, pa.scalar("x_y")), {}),
    ("not_equal", (N, pa.scalar(0.0)), {}),
    ("greater", (N, pa.scalar(1.0)), {}),
    ("less", (N, pa.scalar(1.0)), {}),
    ("is_null", (S,), {}),
    ("is_valid", (S,), {}),
    ("is_finite", (N,), {}),
    ("if_else", (B, S, pa.scalar("-")), {}),
    ("utf8_trim_whitespace", (S,), {}),
    ("utf8_lower", (S,), {}),
    ("utf8_length", (S,), {}),
    ("utf8_slice_codeunits", (S, 1, 4), {}),
    ("replace_substring", (S,), {"pattern": ".", "replacement": ""}),
    ("replace_substring_regex", (S,), {"pattern": r"\s+", "replacement": " "}),
    ("match_substring_regex", (S, "[0-9]"), {}),
    ("match_substring_regex", (S,), {"pattern": "^m", "ignore_case": True}),
    ("is_in", (S,), {"value_set": pa.array(["x_y", ""])}),
    ("index_in", (S,), {"value_set": pa.array(["x_y", "MÄRZ 2024"]), "skip_nulls": False}),
    ("unique", (S,), {}),
    ("dictionary_encode", (S,), {}),
    ("sort_indices", (T,), {"sort_keys": [("i", "ascending"), ("s", "descending")]}),
    ("sum", (N,), {}),
    ("any", (B,), {}),
    ("all", (B,), {}),
    ("binary_join_element_wise", (S, S, " | "), {}),
    ("filter", (T, B), {}),
    ("filter", (S, B), {"null_selection_behavior": "emit_null"}),
    ("cast", (N, pa.string()), {}),
    ("cast", (pa.array(["1", "2"]), pa.int64()), {}),
    ("take", (T, pa.array([2, 0])), {}),
    ("take", (S, pa.array([1, None, 5])), {}),
    ("fill_null", (B, False), {}),
    ("fill_null", (S, pa.scalar("leer")), {}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)])
def test_shim_gives_what_pyarrow_compute_gives(name, args, kwargs):
    expected = getattr(real, name)(*args, **kwargs)
    got = getattr(shim, name)(*args, **kwargs)
    assert type(got) is type(expected)
    assert got.equals(expected)


def test_shim_checks_arguments_like_pyarrow():
    with pytest.raises(TypeError):
        shim.invert()  # too few arrays
    with pytest.raises(TypeError):
        shim.is_null(S, "unexpected option")  # is_null has options (nan_is_null) but no positional string
    with pytest.raises(ValueError):
        shim.cast(N, pa.string(), options=real.CastOptions.safe(pa.string()))
    with pytest.raises(pa.ArrowInvalid):
        shim.cast(pa.array(["zwölf"]), pa.float64())


def test_unknown_names_come_from_pyarrow_compute():
    assert shim.CastOptions is real.CastOptions
    with pytest.raises(AttributeError):
        shim.no_such_function_anywhere  # noqa: B018


def test_ingest_process_does_not_import_pyarrow_compute(tmp_path):
    # importing pyarrow.compute costs ~70 ms of every `kpi ingest` process (issue #2)
    from bench.xlsxgen import write_long_workbook

    long_file = tmp_path / "lang.xlsx"
    write_long_workbook(long_file, 2_000)
    code = (
        "import sys\n"
        "from kpi.cli import main\n"
        f"rc = main(['ingest', {str(long_file)!r}, '--db', {str(tmp_path / 'k.duckdb')!r}])\n"
        "print('RESULT', rc, 'pyarrow.compute' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "RESULT 0 False" in proc.stdout, proc.stdout + proc.stderr
