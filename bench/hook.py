"""Benchmark: one ``betty-telemetry hook`` call, as Claude Code makes one on every tool call.

Run with ``make bench`` (or ``.venv/bin/python bench/hook.py``). Each call is a fresh
process (``python -m betty_telemetry hook``, the command ``install-hooks`` writes) fed one
document on stdin, timed from start to exit; the kinds are interleaved round by round:

- ``python -c pass``: the interpreter's own start, the floor of any hook in Python.
- ``unknown event``: a document that records nothing: the command's import cost.
- ``PreToolUse``: a tool run's start (a pending entry appended).
- ``PostToolUse``: its end (its start found in the store, then the final entry appended),
  into a store that already holds 2,000 entries of the same session.

``compileall`` runs first: a real install has its .pyc files (PYTHONDONTWRITEBYTECODE is set
on some machines, which would time the compiler instead). The bench reports; it exits 0.
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = 25
SRC = Path(__file__).resolve().parents[1] / "src"
SESSION = "bench-session"


def document(event: str, call_id: str) -> bytes:
    return json.dumps(
        {
            "session_id": SESSION,
            "transcript_path": "/tmp/t.jsonl",
            "cwd": "/tmp",
            "permission_mode": "default",
            "hook_event_name": event,
            "tool_name": "Bash",
            "tool_use_id": call_id,
            "tool_input": {"command": "ls -la", "description": "List files"},
            "tool_response": {"stdout": "x", "stderr": ""},
        }
    ).encode()


def timed(command: list[str], stdin: bytes, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, input=stdin, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or result.stdout:
        raise SystemExit(f"hook misbehaved: {result.returncode} {result.stdout!r}")
    return elapsed * 1000


def seed(env: dict[str, str]) -> None:
    """2,000 runs of the session already in the store, so a PostToolUse reads a real trace."""
    script = (
        "import sys, json; from betty_telemetry.hooks.recording import run_hook; import io\n"
        "for i in range(1000):\n"
        "    for event in ('PreToolUse', 'PostToolUse'):\n"
        "        doc = json.loads(sys.argv[1]); doc['hook_event_name'] = event\n"
        "        doc['tool_use_id'] = f'seed-{i}'\n"
        "        run_hook(io.BytesIO(json.dumps(doc).encode()))\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, document("PreToolUse", "x").decode()], env=env, check=True
    )


def main() -> None:
    compileall.compile_dir(str(SRC), quiet=1)
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "BETTY_TELEMETRY_FILE": str(Path(folder) / "telemetry.json")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        seed(env)
        hook = [sys.executable, "-m", "betty_telemetry", "hook"]
        samples: dict[str, list[float]] = {
            "python -c pass": [],
            "unknown event": [],
            "PreToolUse": [],
            "PostToolUse": [],
        }
        for round_number in range(ROUNDS):
            call_id = f"bench-{round_number}"
            samples["python -c pass"].append(timed([sys.executable, "-c", "pass"], b"", env))
            unknown = json.dumps({"hook_event_name": "Notification", "session_id": SESSION})
            samples["unknown event"].append(timed(hook, unknown.encode(), env))
            samples["PreToolUse"].append(timed(hook, document("PreToolUse", call_id), env))
            samples["PostToolUse"].append(timed(hook, document("PostToolUse", call_id), env))
    floor = statistics.median(samples["python -c pass"])
    print(f"betty-telemetry hook, per call ({ROUNDS} rounds, interleaved; median, p90):")
    for name, values in samples.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"  {name:16} {median:7.1f} ms   p90 {p90:7.1f} ms   {median / floor:5.1f}x python")


if __name__ == "__main__":
    main()
