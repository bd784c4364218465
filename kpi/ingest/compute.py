"""Arrow compute functions for the import path, without importing `pyarrow.compute`.

Why: `import pyarrow.compute` builds a Python wrapper with a generated docstring for each of
the ~290 compute functions — about 70 ms of every `kpi ingest` process (issue #2 measures the
whole process). This module calls the same C++ kernels through pyarrow's function registry and
wraps a function only when it is first used. Use it as `from kpi.ingest import compute as pc`:

* `pc.name(*arrays, *option_args, **option_kwargs)` as in pyarrow.compute (generic wrapper: the
  positional arrays up to the function's arity, then its options class's arguments, or
  `options=`);
* `cast`, `take` and `fill_null` as pyarrow.compute defines them (adapted from pyarrow,
  Apache License 2.0);
* any other attribute (e.g. an options class) comes from pyarrow.compute itself, imported then.

pyarrow's own Array/Table methods (`.cast`, `.take`, `.filter`, …) import pyarrow.compute, so
the import path calls these functions instead. tests/test_compute_shim.py checks the wrappers
against pyarrow.compute and that `kpi ingest` does not import it.
"""

from __future__ import annotations

import pyarrow as pa
from pyarrow import _compute as _c

_RENAMED = {"and_": "and", "or_": "or"}
_registry = _c.function_registry()


def _wrap(name: str):
    func = _registry.get_function(_RENAMED.get(name, name))
    cls_name = func._doc.options_class
    options_class = getattr(_c, cls_name) if cls_name else None
    arity = func.arity

    def wrapper(*args, memory_pool=None, options=None, **kwargs):
        option_args = ()
        if arity is not Ellipsis:
            if len(args) < arity:
                raise TypeError(f"{name} takes {arity} positional argument(s), but {len(args)} were given")
            args, option_args = args[:arity], args[arity:]
        if option_args or kwargs:
            if options is not None or options_class is None:
                raise TypeError(f"{name}: unexpected option arguments")
            options = options_class(*option_args, **kwargs)
        elif isinstance(options, dict):
            options = options_class(**options)
        return func.call(args, options, memory_pool)

    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


def __getattr__(name: str):
    """A compute function's wrapper, made on first use (PEP 562); else pyarrow.compute's attribute."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        value = _wrap(name)
    except (pa.ArrowKeyError, pa.ArrowInvalid, KeyError):
        import pyarrow.compute as real  # not a registry function: an options class, Expression …

        value = getattr(real, name)
    globals()[name] = value
    return value


def cast(arr, target_type=None, safe=None, options=None, memory_pool=None):
    """Cast an array or scalar to another type (pyarrow.compute.cast)."""
    if (safe is not None or target_type is not None) and options is not None:
        raise ValueError("Must either pass values for 'target_type' and 'safe' or pass a value for 'options'")
    if options is None:
        target_type = pa.types.lib.ensure_type(target_type)
        options = _c.CastOptions.unsafe(target_type) if safe is False else _c.CastOptions.safe(target_type)
    return _c.call_function("cast", [arr], options, memory_pool)


def take(data, indices, *, boundscheck=True, memory_pool=None):
    """Select values (or rows) by integer indices (pyarrow.compute.take)."""
    return _c.call_function("take", [data, indices], _c.TakeOptions(boundscheck=boundscheck), memory_pool)


def fill_null(values, fill_value):
    """Replace each null with `fill_value` (pyarrow.compute.fill_null)."""
    if not isinstance(fill_value, pa.Array | pa.ChunkedArray | pa.Scalar):
        fill_value = pa.scalar(fill_value, type=values.type)
    elif values.type != fill_value.type:
        fill_value = pa.scalar(fill_value.as_py(), type=values.type)
    return _c.call_function("coalesce", [values, fill_value])
