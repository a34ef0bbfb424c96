"""The read benchmark's file: 1,000,000 realistic entries, built once and cached by count.

About 40 skills with durations of their own (log-normal around a per-skill median), 5 statuses
(80% success), several callers, error messages on failures, and traces: most entries belong to
a workflow run whose steps nest under it (trace_id, span_id, parent_id), written in the order
runs end, children before their parent, as the decorator writes them. Entries are ~2.6 s
apart, so the file spans about a month. Deterministic (fixed seed); written in the store's
canonical layout, one entry per line, exactly as ``capture()`` would have written it.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fixtures import CACHE_DIR, looks_complete

FORMAT_VERSION = 1
SEED = 20_261_129
FIRST_MOMENT = datetime(2026, 10, 1, tzinfo=timezone.utc)
SPACING_S = 2.6

_AREAS = ("agent", "plugin", "skill", "workflow", "registry", "api", "docs", "hook")
_ACTIONS = ("run", "build", "validate", "define", "compose")
SKILLS = tuple(f"{area}.{action}" for area in _AREAS for action in _ACTIONS)  # 40
_STATUSES = ("success", "failure", "error", "timeout", "pending")
_STATUS_WEIGHTS = (80, 8, 6, 4, 2)
_CALLERS = ("CLI", "API", "hook:pre-commit", "scheduler")
_ERRORS = (
    "ValidationError: 'version' is a required property",
    "TimeoutError: step exceeded 30s",
    "FileNotFoundError: plugin.yaml not found",
    "CalledProcessError: command 'tar' returned non-zero exit status 2",
)


def _moment(rng: random.Random, index: int) -> datetime:
    # Jitter below the spacing: entries stay in time order, as appends of one host are.
    return FIRST_MOMENT + timedelta(seconds=index * SPACING_S + rng.random() * 2)


def _entry(rng: random.Random, skill: str, moment: datetime, caller: str) -> dict[str, Any]:
    status = rng.choices(_STATUSES, weights=_STATUS_WEIGHTS)[0]
    median_ms = 20 + (SKILLS.index(skill) * 37) % 900
    return {
        "timestamp": moment.isoformat(timespec="microseconds"),
        "skill": skill,
        "status": status,
        "duration_ms": round(rng.lognormvariate(0, 1.0) * median_ms, 3),
        "caller": caller,
        "inputs": {"path": f"./{skill.replace('.', '/')}/spec.yaml", "strict": rng.random() < 0.5},
        "error_message": rng.choice(_ERRORS) if status in ("failure", "error", "timeout") else None,
        "metadata": {} if rng.random() < 0.6 else {"host": f"runner-{rng.randint(1, 12)}"},
    }


def _entries(count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(SEED)
    index = 0
    while index < count:
        if rng.random() < 0.3:  # a lone API call, outside any trace: the spec's 8 fields
            moment = _moment(rng, index)
            yield _entry(rng, rng.choice(SKILLS), moment, rng.choice(_CALLERS))
            index += 1
            continue
        steps = min(rng.randint(2, 8), count - index - 1)
        trace_id = f"{rng.getrandbits(128):032x}"
        root_span = f"{rng.getrandbits(64):016x}"
        root_skill = f"workflow.{rng.choice(_ACTIONS)}"
        for _ in range(steps):
            moment = _moment(rng, index)
            step = _entry(rng, rng.choice(SKILLS), moment, root_skill)
            step.update(trace_id=trace_id, span_id=f"{rng.getrandbits(64):016x}")
            step["parent_id"] = root_span
            yield step
            index += 1
        moment = _moment(rng, index)
        root = _entry(rng, root_skill, moment, rng.choice(_CALLERS))
        root["duration_ms"] = round(steps * SPACING_S * 1000 + rng.random() * 500, 3)
        root.update(trace_id=trace_id, span_id=root_span, parent_id=None)
        yield root
        index += 1


def cached_read_file(count: int) -> tuple[Path, bool]:
    """The cached file of ``count`` entries, and whether this call had to build it."""
    path = CACHE_DIR / f"read-{count}-v{FORMAT_VERSION}.json"
    if looks_complete(path):
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    with partial.open("w", encoding="ascii") as out:  # streamed: the text is ~400 MB
        out.write("[\n")
        for index, entry in enumerate(_entries(count)):
            out.write((",\n" if index else "") + json.dumps(entry))
        out.write("\n]\n")
    os.replace(partial, path)
    return path, True
