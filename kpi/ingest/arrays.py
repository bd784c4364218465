"""Arrow arrays and scalars built from buffers, for the import path.

Why: pyarrow converts Python objects and numpy arrays (`pa.array([...])`, `pa.scalar(x)`,
`pc.equal(col, "text")`, `pc.fill_null(mask, False)`) through its pandas shim, which imports
pandas first — about 0,4 s of a `kpi ingest` process that otherwise never needs pandas. So
the import path builds its few small arrays and constants here, from bytes and numpy buffers.
Acero (`Table.group_by`) imports pandas as well; `distinct_rows` replaces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pyarrow as pa

_EPOCH = date(1970, 1, 1).toordinal()


def _validity(valid: np.ndarray) -> pa.Buffer | None:
    if valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def from_numpy(values: np.ndarray, typ: pa.DataType | None = None, valid: np.ndarray | None = None) -> pa.Array:
    """Arrow array over a numeric or bool numpy array (bool is bit-packed); `valid` False = null."""
    values = np.ascontiguousarray(values)
    n = len(values)
    mask = None if valid is None else _validity(np.asarray(valid, dtype=bool))
    if values.dtype == np.bool_:
        return pa.Array.from_buffers(pa.bool_(), n, [mask, pa.py_buffer(np.packbits(values, bitorder="little"))])
    typ = typ or pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(typ, n, [mask, pa.py_buffer(values)])


def strings(values: Sequence[str | None]) -> pa.Array:
    """String array from Python strings (None = null)."""
    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    if encoded:
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    return pa.Array.from_buffers(pa.string(), len(encoded),
                                 [_validity(valid), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def floats(values: Sequence[float | None]) -> pa.Array:
    """float64 array from Python numbers (None = null)."""
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    data = np.fromiter((0.0 if v is None else float(v) for v in values), dtype=np.float64, count=len(values))
    return from_numpy(data, pa.float64(), valid)


def dates(values: Sequence[date | None]) -> pa.Array:
    """date32 array from dates (None = null)."""
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    days = np.fromiter((0 if v is None else v.toordinal() - _EPOCH for v in values), dtype=np.int32,
                       count=len(values))
    return from_numpy(days, pa.date32(), valid)


def bools(values: Sequence[bool]) -> pa.Array:
    """bool array from Python truth values."""
    return from_numpy(np.fromiter(values, dtype=bool, count=len(values)))


def full(n: int, value: bool) -> pa.Array:
    """bool array of n times `value`."""
    return from_numpy(np.full(n, value, dtype=bool))


def string(value: str | None) -> pa.Scalar:
    """A string scalar (null for None)."""
    return strings([value])[0]


def int64(value: int) -> pa.Scalar:
    return from_numpy(np.array([value], dtype=np.int64))[0]


def date32(value: date | None) -> pa.Scalar:
    return dates([value])[0]


FALSE = full(1, False)[0]
TRUE = full(1, True)[0]
NULL_STRING = pa.nulls(1, pa.string())[0]
NULL_FLOAT = pa.nulls(1, pa.float64())[0]
NULL_DATE = pa.nulls(1, pa.date32())[0]


def to_numpy(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """numpy view of a fixed-width numeric Arrow array without nulls (Array.to_numpy imports pandas)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        raise ValueError("array has nulls")
    dtype = _NUMPY_OF[arr.type]
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


_NUMPY_OF = {pa.int8(): np.dtype(np.int8), pa.int16(): np.dtype(np.int16), pa.int32(): np.dtype(np.int32),
             pa.int64(): np.dtype(np.int64), pa.uint8(): np.dtype(np.uint8), pa.uint32(): np.dtype(np.uint32),
             pa.uint64(): np.dtype(np.uint64), pa.float64(): np.dtype(np.float64)}


def distinct_rows(table: pa.Table, keys: list[str]) -> pa.Table:
    """The first row of each distinct combination of `keys` (nulls compare equal), in table order."""
    from kpi.ingest import compute as pc

    if table.num_rows == 0:
        return table.select(keys)
    codes = []
    for name in keys:
        col = table.column(name)
        codes.append(to_numpy(pc.index_in(col, value_set=pc.unique(col), skip_nulls=False)))
    _, first = np.unique(np.stack(codes, axis=1), axis=0, return_index=True)
    return pc.take(table.select(keys), from_numpy(np.sort(first)))
