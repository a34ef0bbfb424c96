"""Pre-filled telemetry files, built once and cached under bench/.cache/ by entry count.

A file is written directly in the store's canonical layout, one entry per line:
``[\\n`` + entries joined by ``,\\n`` + ``\\n]\\n``, each entry ``json.dumps(entry)``. That is
byte for byte what ``TelemetryCapture.capture()`` itself would have written, so the first
timed append takes the same path as every later one. Entries are deterministic (fixed seed)
and varied: several skills, callers, statuses, durations, inputs, errors and metadata.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
FORMAT_VERSION = 1  # bump when the generated entries change, so old caches are not reused
SEED = 1_717_200_000
_FIRST_TIMESTAMP = 1_717_200_000.0  # 2024-06-01T00:00:00Z
_CANONICAL_HEAD = b"[\n{"
_CANONICAL_TAIL = b"}\n]\n"

_STATUSES = ("success", "failure", "error", "timeout", "pending")
_STATUS_WEIGHTS = (80, 8, 5, 4, 3)
_CALLERS = ("CLI", "API", "agent:meta.planner", "workflow:release", "hook:pre-commit")
_ERRORS = (
    "FileNotFoundError: plugin.yaml not found",
    "ValidationError: 'version' is a required property",
    "TimeoutError: step exceeded 30s",
    "CalledProcessError: command 'tar' returned non-zero exit status 2",
    "PermissionError: [Errno 13] Permission denied: 'registry/skills.json'",
)


def _plugin_inputs(rng: random.Random) -> dict[str, Any]:
    name = rng.choice(("core", "docs", "release", "lint"))
    return {
        "plugin_path": f"./plugins/{name}/plugin.yaml",
        "output_format": rng.choice(("tar.gz", "zip")),
    }


def _skill_inputs(rng: random.Random) -> dict[str, Any]:
    name = rng.choice(("api.define", "hook.register", "workflow.validate"))
    return {"skill_path": f"./skills/{name}/skill.yaml", "strict": rng.random() < 0.5}


def _agent_inputs(rng: random.Random) -> dict[str, Any]:
    topic = rng.choice(("release notes", "a new API skill", "the failing workflow"))
    return {"prompt": f"Draft {topic}", "max_steps": rng.randint(3, 25), "dry_run": False}


def _no_inputs(rng: random.Random) -> dict[str, Any]:
    return {}


_SKILL_INPUTS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "plugin.build": _plugin_inputs,
    "plugin.validate": _plugin_inputs,
    "skill.create": _skill_inputs,
    "skill.define": _skill_inputs,
    "agent.run": _agent_inputs,
    "meta.planner": _agent_inputs,
    "registry.update": _no_inputs,
    "workflow.compose": _skill_inputs,
}
_SKILLS = tuple(_SKILL_INPUTS)


def _timestamp(rng: random.Random, index: int) -> str:
    seconds = _FIRST_TIMESTAMP + index * 37 + rng.random()
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="microseconds")


def _metadata(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.5:
        return {}
    return {"host": f"ci-runner-{rng.randint(1, 12)}", "attempt": rng.randint(1, 3)}


def make_entry(rng: random.Random, index: int) -> dict[str, Any]:
    """One realistic entry with the spec's fields in the spec's order."""
    skill = rng.choice(_SKILLS)
    status = rng.choices(_STATUSES, weights=_STATUS_WEIGHTS)[0]
    failed = status in ("failure", "error", "timeout")
    return {
        "timestamp": _timestamp(rng, index),
        "skill": skill,
        "status": status,
        "duration_ms": round(rng.lognormvariate(5.5, 1.2), 3),
        "caller": rng.choice(_CALLERS),
        "inputs": _SKILL_INPUTS[skill](rng),
        "error_message": rng.choice(_ERRORS) if failed else None,
        "metadata": _metadata(rng),
    }


def canonical_text(count: int) -> bytes:
    """A JSON array of ``count`` generated entries in the store's one-entry-per-line layout."""
    rng = random.Random(SEED)
    lines = [json.dumps(make_entry(rng, index)) for index in range(count)]
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode("ascii")


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    partial.write_bytes(data)
    os.replace(partial, path)


def looks_complete(path: Path) -> bool:
    """Cheap check that a cached file was written whole (head and tail are canonical)."""
    try:
        with path.open("rb") as file:
            head = file.read(len(_CANONICAL_HEAD))
            file.seek(-len(_CANONICAL_TAIL), os.SEEK_END)
            return head == _CANONICAL_HEAD and file.read() == _CANONICAL_TAIL
    except OSError:
        return False


def cached_canonical_file(count: int) -> tuple[Path, bool]:
    """The cached canonical file with ``count`` entries (count >= 1), and whether it was built."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    path = CACHE_DIR / f"entries-{count}-v{FORMAT_VERSION}.json"
    if looks_complete(path):
        return path, False
    _write_atomically(path, canonical_text(count))
    return path, True


def cached_indented_file(count: int) -> tuple[Path, bool]:
    """The same entries as the original design stored them: ``json.dump(data, f, indent=2)``."""
    path = CACHE_DIR / f"entries-{count}-v{FORMAT_VERSION}-indent2.json"
    if path.is_file():
        return path, False
    canonical, _ = cached_canonical_file(count)
    data = json.loads(canonical.read_bytes())
    _write_atomically(path, json.dumps(data, indent=2).encode("ascii"))
    return path, True
