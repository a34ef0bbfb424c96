"""Benchmark: a call decorated by betty-telemetry against the same call logged by its peers.

Run by ``make bench`` after bench/decorator.py (or ``.venv/bin/python bench/peers.py``). Each
configuration times the same no-op function of three small inputs, ``build(plugin_path,
output_format, retries)``, decorated so that each call writes one record (skill, status,
duration, caller, the three inputs by name, a UTC timestamp) to its own file in a temp folder:

- ours, direct: ``@capture_telemetry(..., capture_inputs=True)`` on a TelemetryCapture; the
  entry is appended to the file (a JSON array, under its lock) before the call returns.
- ours, background: the same on ``TelemetryCapture(path, background=True)``: the call queues.
- structlog: a hand-written timing decorator (perf_counter before and after) logging through a
  cached structlog logger (add_log_level, TimeStamper(fmt="iso", utc=True), JSONRenderer) to a
  WriteLoggerFactory file, which writes and flushes each line.
- logging + python-json-logger: the same decorator, ``logger.info(..., extra=...)`` to a
  FileHandler with a JsonFormatter (timestamp=True: ISO, UTC).
- OpenTelemetry SDK: the decorator starts a span with the three inputs as attributes; a
  BatchSpanProcessor queues it for a small exporter that writes ``span.to_json()`` lines.

The peers' decorators build the inputs dict from parameter names read once, at decoration:
the cheapest hand-written form. Ours also applies defaults, redacts secrets and records trace
and span ids. A plain call, undecorated, is timed alongside for scale.

Method: ROUNDS interleaved rounds of CALLS calls per configuration, the starting configuration
rotating, gc off, one perf_counter_ns pair around each call (bench/timing.py), all in one
process. What a configuration leaves to a thread (our background writer, OpenTelemetry's batch
exporter) is flushed untimed after each of its rounds: it never runs while another
configuration is timed, and it is not in its own figure either, which is what the caller
waits for, not all the work done. Figures are medians of all calls; ratios are to ours,
direct. After timing, each file must hold one valid record per timed call.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import structlog
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Tracer
from pythonjsonlogger.json import JsonFormatter

from betty_telemetry import TelemetryCapture, capture_telemetry
from timing import Config, Samples, Subject, median, percentile, run_interleaved, warm_up

ROUNDS = 25
CALLS = 200
SKILL = "bench.build"
CALLER = "runtime"  # what ours records outside a traced run
ARGS = ("./plugin.yaml", "tar.gz", 3)
TARGET_RATIO = 1.0

Func = Callable[..., Any]


def build(plugin_path: str, output_format: str, retries: int) -> int:
    return retries


def _parameter_names(func: Func) -> tuple[str, ...]:
    code = func.__code__
    return code.co_varnames[: code.co_argcount]


def _settled(flushed: bool) -> None:
    if not flushed:
        raise RuntimeError("a flush between rounds did not finish")


def _new_path(folder: Path, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=folder)) / "records"


# -- ours --------------------------------------------------------------------------------


def _ours(folder: Path, suffix: str = ".json", **options: Any) -> Subject:
    path = _new_path(folder, "ours").with_suffix(suffix)
    telemetry = TelemetryCapture(path, **options)
    decorate = capture_telemetry(skill_name=SKILL, telemetry=telemetry, capture_inputs=True)
    func = decorate(build)
    return Subject(
        call=lambda: func(*ARGS),
        close=telemetry.close,
        settle=lambda: _settled(telemetry.flush()),
        path=path,
    )


# -- structlog ---------------------------------------------------------------------------


def _structlog_timed(logger: Any, skill: str) -> Callable[[Func], Func]:
    def decorate(func: Func) -> Func:
        names = _parameter_names(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            status = "success"
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            except BaseException:
                status = "error"
                raise
            finally:
                logger.info(
                    "skill.run",
                    skill=skill,
                    status=status,
                    duration_ms=(time.perf_counter() - start) * 1000,
                    caller=CALLER,
                    inputs={**dict(zip(names, args, strict=False)), **kwargs},
                )

        return wrapper

    return decorate


def _structlog(folder: Path) -> Subject:
    path = _new_path(folder, "structlog")
    file = path.open("w", encoding="utf-8")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.WriteLoggerFactory(file=file),
        cache_logger_on_first_use=True,
    )
    logger = structlog.get_logger()
    logger.bind()  # first use: the logger is built and cached on this file, as configured now
    func = _structlog_timed(logger, SKILL)(build)
    return Subject(call=lambda: func(*ARGS), close=file.close, path=path)


# -- logging + python-json-logger --------------------------------------------------------


def _logging_timed(logger: logging.Logger, skill: str) -> Callable[[Func], Func]:
    def decorate(func: Func) -> Func:
        names = _parameter_names(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            status = "success"
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            except BaseException:
                status = "error"
                raise
            finally:
                logger.info(
                    "skill.run",
                    extra={
                        "skill": skill,
                        "status": status,
                        "duration_ms": (time.perf_counter() - start) * 1000,
                        "caller": CALLER,
                        "inputs": {**dict(zip(names, args, strict=False)), **kwargs},
                    },
                )

        return wrapper

    return decorate


def _logging(folder: Path) -> Subject:
    path = _new_path(folder, "logging")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter("%(levelname)s %(message)s", timestamp=True))
    logger = logging.getLogger(f"bench.peers.{path.parent.name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)

    def close() -> None:
        logger.removeHandler(handler)
        handler.close()

    func = _logging_timed(logger, SKILL)(build)
    return Subject(call=lambda: func(*ARGS), close=close, path=path)


# -- OpenTelemetry SDK -------------------------------------------------------------------


class FileSpanExporter(SpanExporter):
    """Writes each exported span as one line of JSON, and flushes the file per batch."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._file.write("".join(span.to_json(indent=None) + "\n" for span in spans))
        self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()


def _otel_traced(tracer: Tracer, skill: str) -> Callable[[Func], Func]:
    def decorate(func: Func) -> Func:
        keys = tuple(f"input.{name}" for name in _parameter_names(func))

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            attributes = {"caller": CALLER, **dict(zip(keys, args, strict=False))}
            for name, value in kwargs.items():
                attributes[f"input.{name}"] = value
            with tracer.start_as_current_span(skill, attributes=attributes):
                return func(*args, **kwargs)

        return wrapper

    return decorate


def _otel(folder: Path) -> Subject:
    path = _new_path(folder, "otel")
    provider = TracerProvider()
    exporter = FileSpanExporter(path.open("w", encoding="utf-8"))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    func = _otel_traced(provider.get_tracer("bench.peers"), SKILL)(build)
    return Subject(
        call=lambda: func(*ARGS),
        close=provider.shutdown,
        settle=lambda: _settled(provider.force_flush()),
        path=path,
    )


# -- run, check, report ------------------------------------------------------------------


def _configs(folder: Path) -> list[Config]:
    openers: dict[str, Callable[[], Subject]] = {
        "plain call": lambda: Subject(call=lambda: build(*ARGS)),
        "ours, direct": lambda: _ours(folder),
        "ours, direct, JSON Lines": lambda: _ours(folder, ".jsonl"),
        "ours, background": lambda: _ours(folder, background=True),
        "structlog": lambda: _structlog(folder),
        "logging+json-logger": lambda: _logging(folder),
        "opentelemetry-sdk": lambda: _otel(folder),
    }
    return [Config(name, "peers", 0, CALLS, CALLS, opener) for name, opener in openers.items()]


def _count_records(path: Path) -> int:
    """Valid records in the file: a JSON array (ours, by default) or JSON lines."""
    text = path.read_text(encoding="utf-8")
    if text.startswith("["):
        return len(json.loads(text))
    return sum(1 for line in text.splitlines() if isinstance(json.loads(line), dict))


def _check(subjects: dict[str, Subject], results: dict[str, Samples]) -> list[str]:
    problems = []
    for name, subject in subjects.items():
        if subject.path is None:
            continue
        expected = len(results[name].all)
        try:
            found = _count_records(subject.path)
        except (OSError, ValueError) as error:
            problems.append(f"{name}: unreadable file ({error})")
            continue
        if found != expected:
            problems.append(f"{name}: {found} records in the file, expected {expected}")
    return problems


def _report(results: dict[str, Samples]) -> None:
    medians = {name: median(samples.all) / 1000 for name, samples in results.items()}
    ours = medians["ours, direct"]
    print("betty-telemetry benchmark: a decorated call with 3 inputs, ours against peers")
    print(f"command : {sys.executable} bench/peers.py")
    print(f"method  : {ROUNDS} interleaved rounds x {CALLS} calls, gc off, one process;")
    print("          background work flushed untimed after each round")
    print(f"\n  {'configuration':<24} {'median':>10} {'p90':>10}   {'vs ours, direct':>15}")
    for name, samples in results.items():
        p90 = percentile(samples.all, 0.9) / 1000
        ratio = medians[name] / ours
        print(f"  {name:<24} {medians[name]:7.2f} µs {p90:7.2f} µs   {ratio:14.2f}x")
    measured = ours / medians["structlog"]
    lines = medians["ours, direct, JSON Lines"] / medians["structlog"]
    print()
    for label, ratio in (("ours, direct", measured), ("ours, direct, JSON Lines", lines)):
        verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
        print(
            f"target  : decorated call ({label}) <= structlog's: {ratio:.2f}x"
            f"   target <= {TARGET_RATIO:.2f}    {verdict}"
        )


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        configs = _configs(Path(folder))
        warm_up(configs)
        subjects = {config.name: config.open() for config in configs}
        results = run_interleaved(subjects, configs, ROUNDS)
        for subject in subjects.values():
            subject.close()
        problems = _check(subjects, results)
    _report(results)
    for problem in problems:
        print(f"problem : {problem}")
    return 1 if problems else 0  # the figures do not gate; records missing from a file do


if __name__ == "__main__":
    sys.exit(main())
