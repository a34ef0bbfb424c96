"""One progress measure over an operation done in steps (a SQLite rotation copies its rows
out, then compresses the copy): each step reports its own ``done`` of ``total``, and the
caller sees one measure that only grows, the steps counting equally."""

from __future__ import annotations

from betty_telemetry.stores.base import ProgressHook

_STEP_UNITS = 1 << 20  # units of each step in the measure passed on: finer than any bar


def step(hook: ProgressHook | None, index: int, steps: int) -> ProgressHook | None:
    """A hook for step ``index`` (from 0) of ``steps``, reporting to ``hook`` (None: none)."""
    if hook is None:
        return None
    report = hook

    def measure(done: int, total: int) -> None:
        within = done * _STEP_UNITS // total if total > 0 else _STEP_UNITS
        report(index * _STEP_UNITS + min(within, _STEP_UNITS), steps * _STEP_UNITS)

    return measure
