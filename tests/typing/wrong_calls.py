"""Calls a type checker must refuse. A comment line ``E: <text>`` (after the hash) says the
next line must get a mypy error whose message holds each part of the text (parts separated
by `` ... ``), and no line without one may get an error (tests/test_typing.py). The same
calls fail at run time with a ValueError; this file is only type-checked."""

from __future__ import annotations

from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry
from betty_telemetry.testing import find

telemetry = TelemetryCapture(":memory:")
maybe_id: str | None = telemetry.last_trace_id()
some_text: str = "failure"

# E: Argument "by" to "stats" of "TelemetryCapture" has incompatible type "Literal['weekly']"
telemetry.stats(by="weekly")
# E: Argument "sort" to "stats" of "TelemetryCapture" has incompatible type "Literal['size']"
telemetry.stats(sort="size")
# E: Argument "status" to "query" of "TelemetryCapture" ... type "Literal['failled']"
telemetry.query(status="failled")
# E: List item 1 has incompatible type "Literal['eror']"
telemetry.query(status=["failure", "eror"])
# E: Argument "status" to "query" of "TelemetryCapture" has incompatible type "str"
telemetry.query(status=some_text)
# E: Argument "status" to "tail" of "TelemetryCapture" has incompatible type "Literal['oops']"
telemetry.tail(3, status="oops")
# E: Argument 2 to "capture" of "TelemetryCapture" has incompatible type "Literal['failed']"
telemetry.capture("a.b", "failed", 1.0, "CLI")
# E: Argument 2 to "capture" of "TelemetryCapture" ... type "Literal['invalid_status']"
telemetry.capture("a.b", "invalid_status", 1.0, "CLI")
# E: Argument "durability" to "TelemetryCapture" ... type "Literal['sometimes']"
TelemetryCapture("t.json", durability="sometimes")
telemetry.trace(maybe_id)  # None means the newest trace: no error (issue 15)
# E: Argument 4 to "capture" of "TelemetryCapture" has incompatible type "str | None"
telemetry.capture("a.b", "success", 1.0, maybe_id)
# E: Argument "status" to "find" has incompatible type "Literal['done']"
find([], status="done")

with TelemetryContext("a.b") as ctx:
    # E: Argument 1 to "set_status" of "TelemetryContext" ... type "Literal['ok']"
    ctx.set_status("ok")
    # E: Argument "status" to "set_error" of "TelemetryContext" ... type "Literal['crashed']"
    ctx.set_error("boom", status="crashed")

entry = telemetry.capture("a.b", "success", 1.0, "CLI")
# E: TypedDict "Entry" has no key "durration_ms"
entry["durration_ms"]
entry["trace_id"].upper()  # a key an Entry may lack: mypy lets it through (use .get)
# E: Item "None" of "str | None" has no attribute "upper"
entry["error_message"].upper()
row = telemetry.stats()[0]
# E: TypedDict "StatsRow" has no key "p95"
row["p95"]
# E: Unsupported operand types for + ("None" and "float")
row["p95_ms"] + 1.0
node = telemetry.trace()[0]
# E: Unsupported operand types for + ("str" and "int")
node["entry"]["skill"] + 1
# E: TypedDict "TraceNode" has no key "parent"
node["parent"]


@capture_telemetry(skill_name="a.b")
def double(value: int) -> int:
    return value * 2


# E: Argument 1 to "double" has incompatible type "str"
double("x")
