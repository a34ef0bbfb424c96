"""A small instrumented workflow: ``make demo`` runs it, then shows what was recorded.

workflow.release calls two agents; each agent calls skills. One skill fails (the API check of
the second agent) and the workflow records that failure without crashing; a shell step run
through the CLI in a child process joins the same trace. Secrets passed to the skills are
redacted. Everything goes to ``demo/telemetry.json`` inside the project folder.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

DEMO_FILE = Path(__file__).resolve().parents[1] / "demo" / "telemetry.json"
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
    cli = [sys.executable, "-m", "betty_telemetry"]
    shown = [
        ("The whole run as a tree (betty-telemetry trace --last):", ["trace", "--last"]),
        ("Per-skill statistics (betty-telemetry stats):", ["stats"]),
        (
            "Failures only (betty-telemetry query --status error,failure):",
            ["query", "--status", "error,failure", "--limit", "5"],
        ),
    ]
    for title, arguments in shown:
        print(f"{title}\n")
        subprocess.run([*cli, *arguments, "--file", str(DEMO_FILE)], check=True)
        print()
    print("The HTML report (betty-telemetry report), one file that opens offline:\n")
    report = DEMO_FILE.with_name("report.html")
    subprocess.run([*cli, "report", "--file", str(DEMO_FILE), "-o", str(report)], check=True)
    here = Path.cwd()
    shown_file = DEMO_FILE.relative_to(here) if DEMO_FILE.is_relative_to(here) else DEMO_FILE
    print(
        "\nOr watch it live, refreshed as entries arrive (Ctrl-C stops):\n"
        f"  .venv/bin/betty-telemetry ui --file {shown_file}   # http://127.0.0.1:8000/"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
