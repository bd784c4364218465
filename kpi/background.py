"""Run a function on a side thread and collect its value later.

For DuckDB work beside Python work: DuckDB releases the GIL while a query runs, so on a machine
with two cores a query on a side thread overlaps with numpy and Python work on the caller's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def in_background(fn: Callable[[], T]) -> Callable[[], T]:
    """Start fn() on a side thread; return a function that waits for it and returns its value (or
    raises its error)."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=run, name="kpi-side", daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return result
