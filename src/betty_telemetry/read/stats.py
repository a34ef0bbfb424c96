"""Statistics per group of entries: the read side's name for ``model.stats``.

The definition lives in the model because stores compute statistics too (a SQLite store in
SQL, equal to ``compute_stats`` by contract), and stores sit below the read side.
"""

from __future__ import annotations

from betty_telemetry.model.stats import (
    FAILURE_STATUSES,
    GROUPINGS,
    PERCENTILES,
    SORTS,
    STATS_KEYS,
    compute_stats,
    percentile,
)

__all__ = [
    "FAILURE_STATUSES",
    "GROUPINGS",
    "PERCENTILES",
    "SORTS",
    "STATS_KEYS",
    "compute_stats",
    "percentile",
]
