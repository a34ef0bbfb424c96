"""A small instrumented workflow: ``make demo`` runs it, then shows what was recorded.

workflow.release calls two agents; each agent calls skills. One skill fails (the API check of
the second agent) and the workflow records that failure without crashing; a shell step run
through the CLI in a child process joins the same trace. Secrets passed to the skills are
redacted. Everything goes to ``demo/telemetry.json`` inside the project folder.
"""

from __future__ import annotations

import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DEMO_FILE = PROJECT / "demo" / "telemetry.json"
REPORT = DEMO_FILE.with_name("report.html")
os.environ["BETTY_TELEMETRY_FILE"] = str(DEMO_FILE)

from betty_telemetry import TelemetryContext, capture_telemetry, child_env  # noqa: E402


@capture_telemetry(skill_name="plugin.build", capture_inputs=True)
def build_plugin(plugin_path: str, output_format: str = "tar.gz") -> dict[str, str]:
    time.sleep(random.uniform(0.02, 0.05))
    return {"status": "success", "artifact": f"{plugin_path}.{output_format}"}


@capture_telemetry(
    skill_name="api.validate",
    capture_inputs=True,
    sanitize_keys=["api_key"],
)
def validate_api(spec_path: str, api_key: str) -> dict[str, str]:
    time.sleep(random.uniform(0.01, 0.03))
    if spec_path.endswith("broken.yaml"):
        raise ValueError(f"{spec_path}: missing 'paths' section")
    return {"status": "success"}


def run_agent(name: str, specs: list[str]) -> bool:
    """An agent: a context manager around the skills it calls."""
    with TelemetryContext(skill=name) as ctx:  # caller: the enclosing run, workflow.release
        ctx.set_inputs({"specs": specs})
        failures = 0
        for spec in specs:
            build_plugin(spec)
            try:
                validate_api(spec, api_key="sk-demo-not-a-real-key")
            except ValueError as error:
                failures += 1
                ctx.set_metadata(last_error=str(error))
        ctx.set_status("failure" if failures else "success")
        return failures == 0


def main() -> int:
    random.seed(7)
    with TelemetryContext("workflow.release", caller="CLI", inputs={"release": "2026.11"}) as run:
        ok = run_agent("agent.builder", ["plugins/search.yaml", "plugins/billing.yaml"])
        ok = run_agent("agent.reviewer", ["plugins/users.yaml", "plugins/broken.yaml"]) and ok
        # A shell step: the CLI in a child process joins this trace through TRACEPARENT.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "betty_telemetry",
                "capture",
                "release.publish",
                "success",
                "42",
                "shell",
                '{"channel": "stable"}',
                "--file",
                str(DEMO_FILE),
            ],
            env=child_env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if not ok:
            run.set_error("1 agent reported failures", status="failure")
    trace_id = run.entry["trace_id"] if run.entry else "?"
    print(f"Recorded the demo workflow (trace {trace_id}) in {DEMO_FILE}\n")
    # Each step is shown as the command that gives it, written to run as printed from the
    # project's folder (where make demo runs): the venv's command, the demo's file.
    shown = [
        ("The whole run as a tree:", ["trace", "--last"]),
        ("Per-skill statistics:", ["stats"]),
        ("Failures only:", ["query", "--status", "error,failure", "--limit", "5"]),
        ("The HTML report, one file that opens offline:", ["report", "-o", str(REPORT)]),
    ]
    for title, arguments in shown:
        arguments = [*arguments, "--file", str(DEMO_FILE)]
        print(f"{title}\n$ {_as_typed(arguments)}\n", flush=True)
        subprocess.run([sys.executable, "-m", "betty_telemetry", *arguments], check=True)
        print()
    live = _as_typed(["ui", "--file", str(DEMO_FILE)])
    print(f"Or watch it live, refreshed as entries arrive (Ctrl-C stops):\n$ {live}")
    return 0


def _as_typed(arguments: list[str]) -> str:
    """``betty-telemetry ARGUMENTS`` as one types it in the project's folder: the venv's
    command, paths under the project relative to it."""
    command = os.path.relpath(Path(sys.executable).parent / "betty-telemetry", PROJECT)
    words = [command, *(_relative(word) for word in arguments)]
    return " ".join(shlex.quote(word) for word in words)


def _relative(word: str) -> str:
    path = Path(word)
    return (
        os.path.relpath(path, PROJECT) if path.is_absolute() and PROJECT in path.parents else word
    )


if __name__ == "__main__":
    raise SystemExit(main())
