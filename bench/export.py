"""Benchmark: what live OpenTelemetry export costs a capture, and how fast a replay sends.

Run by ``make bench`` (or ``.venv/bin/python bench/export.py``). A loopback OTLP receiver runs
in a process of its own (bench/otlp_sink.py: it decodes every request, as a backend would).

1. ``capture()`` and a decorated call, with live export to that receiver and without, in
   interleaved rounds (bench/timing.py). Each round ends by waiting for the export to send
   what it queued, so the timing shows what the calling thread pays (a queue append; for a
   run, also being the current OpenTelemetry span). Target: <= 1.5x without export.
2. Sustained: 20,000 captures back to back, then waiting until every span was delivered,
   with and without export: the whole process's cost, the sending thread included (it shares
   the interpreter lock with the caller).
3. Replay: 100,000 entries of a JSON Lines store sent by ``export_otlp`` to the receiver.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from betty_telemetry import TelemetryCapture, capture_telemetry
from betty_telemetry._config import LIVE_EXPORTS
from betty_telemetry.export import OtlpExport, export_otlp
from timing import Config, Subject, median, run_interleaved, warm_up

ROUNDS = 25
CALLS = 200
TARGET = 1.5
SUSTAINED = 20_000
REPLAYED = 100_000
INPUTS = {"plugin_path": "./plugin.yaml"}


def start_receiver() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("otlp_sink.py"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    return process, f"http://127.0.0.1:{port}"


def received(url: str) -> int:
    with urllib.request.urlopen(f"{url}/count", timeout=10) as answer:
        return int(answer.read())


def per_call(workdir: Path, url: str) -> None:
    subjects: dict[str, Subject] = {}
    configs = []
    live: list[object] = []

    def exporting(on: bool) -> None:
        # Runs become current OpenTelemetry spans while a live export is open in the process:
        # the baseline is timed as in a process without one.
        if on and not LIVE_EXPORTS:
            LIVE_EXPORTS.extend(live)
        elif not on and LIVE_EXPORTS:
            live[:] = LIVE_EXPORTS
            LIVE_EXPORTS.clear()

    for name, export in (("capture", None), ("capture+export", OtlpExport(url))):
        telemetry = TelemetryCapture(workdir / f"{name}.json", export=export or False)
        on = export is not None
        subjects[name] = Subject(
            call=lambda t=telemetry: t.capture("plugin.build", "success", 320.5, "CLI", INPUTS),
            prepare=lambda on=on: exporting(on),
            settle=lambda t=telemetry: t.flush(60),
        )
        decorated = capture_telemetry("plugin.build", telemetry=telemetry)(lambda: None)
        subjects[f"decorator{name[7:]}"] = Subject(
            call=decorated, prepare=subjects[name].prepare, settle=subjects[name].settle
        )
    for name in subjects:
        configs.append(Config(name, "call", 0, CALLS, CALLS, lambda s=subjects[name]: s))
    warm_up(configs)
    results = run_interleaved(subjects, configs, ROUNDS)
    medians = {name: median(samples.all) for name, samples in results.items()}
    print("per call, on the calling thread (median of every call)")
    for name, value in medians.items():
        print(f"  {name:<18} {value / 1000:7.2f} µs")
    for kind in ("capture", "decorator"):
        ratio = medians[f"{kind}+export"] / medians[kind]
        verdict = "PASS" if ratio <= TARGET else "MISS"
        print(f"target  : {kind} with export {ratio:.2f}x   target <= {TARGET:.2f}    {verdict}")


def sustained(workdir: Path, url: str) -> None:
    print(f"\nsustained: {SUSTAINED:,} captures, then until every span was delivered")
    seconds = {}
    for name, export in (("without", None), ("with export", OtlpExport(url))):
        telemetry = TelemetryCapture(workdir / f"sustained-{name}.json", export=export or False)
        before = received(url)
        started = time.perf_counter()
        for _ in range(SUSTAINED):
            telemetry.capture("plugin.build", "success", 320.5, "CLI", INPUTS)
        captured = time.perf_counter() - started
        assert telemetry.flush(120)
        seconds[name] = time.perf_counter() - started
        telemetry.close()
        delivered = received(url) - before
        print(
            f"  {name:<12} captures {captured:5.2f} s ({captured / SUSTAINED * 1e6:5.1f} µs each), "
            f"all delivered {seconds[name]:5.2f} s; spans received {delivered:,}"
        )
    print(f"  whole cost with export: {seconds['with export'] / seconds['without']:.2f}x")


def replay(workdir: Path, url: str) -> None:
    path = workdir / "replay.jsonl"
    telemetry = TelemetryCapture(path, export=False)
    for index in range(REPLAYED):
        telemetry.capture(f"skill.{index % 20}", "success", 12.5, "CLI", {"n": index})
    telemetry.close()
    before = received(url)
    started = time.perf_counter()
    done = export_otlp(path, url)
    seconds = time.perf_counter() - started
    delivered = received(url) - before
    assert done.sent == REPLAYED == delivered, (done, delivered)
    print(
        f"\nreplay  : {REPLAYED:,} entries (JSON Lines) -> loopback receiver in {seconds:.1f} s, "
        f"{REPLAYED / seconds:,.0f} entries/s; received {delivered:,}"
    )


def main() -> int:
    print("betty-telemetry benchmark: OpenTelemetry export")
    print(f"command : {sys.executable} bench/export.py\n")
    process, url = start_receiver()
    try:
        with tempfile.TemporaryDirectory(prefix="betty-export-bench-") as tmp:
            per_call(Path(tmp), url)
            sustained(Path(tmp), url)
            replay(Path(tmp), url)
    finally:
        process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
