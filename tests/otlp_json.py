"""OTLP JSON files as the Collector's ``otlpjsonfile`` receiver reads them, parsed with the
official proto messages: JSON lines (UTF-8, ``\\n``-separated, each line a whole JSON value),
each line one ``ExportTraceServiceRequest`` in the protobuf JSON mapping with the deviations
OTLP sets (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):

- ``traceId``, ``spanId`` and ``parentSpanId`` (of spans and links) are case-insensitive hex,
  where protobuf's mapping has base64: they are turned into base64 before protobuf parses;
- enum values MUST be integers: the names MUST NOT be used;
- keys are the lowerCamelCase field names: the original (snake_case) names are not valid;
- 64-bit integers are written as decimal strings (a JavaScript reader loses digits past 2**53);
- a receiver MUST ignore fields it does not know.

By default the reader checks a *writer*: besides what protobuf refuses, it refuses enum names,
snake_case keys, 64-bit numbers written as JSON numbers, and, unlike a receiver, unknown fields
(a field our writer misspelt would otherwise vanish unnoticed). ``as_receiver=True`` reads the
way the spec tells a receiver to: unknown fields ignored, writer rules not checked."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.otlp_spans import OtlpSpan, decode_spans

# The id fields OTLP writes in hex, and their size in bytes.
ID_BYTES = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
ENUM_FIELDS = {"kind", "code"}  # Span.kind, Status.code: the only enums of a trace request
INT64_FIELDS = {"startTimeUnixNano", "endTimeUnixNano", "timeUnixNano", "intValue"}
HEX = re.compile(r"[0-9a-fA-F]*")


class OtlpJsonError(ValueError):
    """The text is not OTLP JSON; the message says where (file:line, then the JSON path)."""


def read_otlp_json(path: Path, *, as_receiver: bool = False) -> list[ExportTraceServiceRequest]:
    """One request per line of the file (a last ``\\n`` ends the last line; a blank line is
    not a JSON value, so it is an error)."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [
        parse_otlp_json(line, as_receiver=as_receiver, where=f"{path}:{number}")
        for number, line in enumerate(lines, start=1)
    ]


def read_otlp_json_spans(path: Path, *, as_receiver: bool = False) -> list[OtlpSpan]:
    """The spans of every line of the file, in order, decoded as the peer decodes them."""
    return [
        span
        for request in read_otlp_json(path, as_receiver=as_receiver)
        for span in decode_spans(request)
    ]


def parse_otlp_json(
    text: str | bytes, *, as_receiver: bool = False, where: str = "OTLP JSON"
) -> ExportTraceServiceRequest:
    """One OTLP JSON ``ExportTraceServiceRequest`` (a line of a file, or an OTLP/HTTP body sent
    as application/json)."""
    try:
        document = json.loads(text, parse_constant=_not_json)
    except ValueError as error:  # JSONDecodeError, a bad UTF-8 body, NaN/Infinity
        raise OtlpJsonError(f"{where}: not JSON: {error}") from error
    if not isinstance(document, dict):
        raise OtlpJsonError(f"{where}: a request is a JSON object, not {type(document).__name__}")
    if not as_receiver:
        _check_writer_rules(document, where, "$")
    _hex_ids_to_base64(document, where, "$")
    message = ExportTraceServiceRequest()
    try:
        # Parse is json.loads then ParseDict: the dict is at hand, its ids already repaired.
        json_format.ParseDict(document, message, ignore_unknown_fields=as_receiver)
    except json_format.ParseError as error:
        raise OtlpJsonError(f"{where}: {error}") from error
    return message


def to_otlp_json(request: ExportTraceServiceRequest) -> str:
    """A reference writer, for tests that need valid OTLP JSON: one line (no newline)."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    _base64_ids_to_hex(document)
    return json.dumps(document, separators=(",", ":"))


def _base64_ids_to_hex(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _base64_ids_to_hex(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ID_BYTES:
                node[key] = base64.b64decode(value).hex()
            else:
                _base64_ids_to_hex(value)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _check_writer_rules(node: Any, where: str, path: str) -> None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            _check_writer_rules(item, where, f"{path}[{index}]")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = f"{path}.{key}"
        if "_" in key:  # no OTLP field name has one once in lowerCamelCase
            raise OtlpJsonError(f"{where}: {here}: keys are lowerCamelCase in OTLP JSON")
        if key in ENUM_FIELDS and (not isinstance(value, int) or isinstance(value, bool)):
            raise OtlpJsonError(f"{where}: {here}: an enum is an integer in OTLP JSON: {value!r}")
        if key in INT64_FIELDS and not isinstance(value, str):
            raise OtlpJsonError(f"{where}: {here}: a 64-bit integer is a decimal string: {value!r}")
        _check_writer_rules(value, where, here)


def _hex_ids_to_base64(node: Any, where: str, path: str) -> None:
    """In place. Only JSON object keys name fields (attribute keys are values of ``key``), so
    every ``traceId``/``spanId``/``parentSpanId`` key met is one of the id fields."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            _hex_ids_to_base64(item, where, f"{path}[{index}]")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = f"{path}.{key}"
        if key in ID_BYTES:
            node[key] = _hex_to_base64(value, ID_BYTES[key], where, here)
        else:
            _hex_ids_to_base64(value, where, here)


def _hex_to_base64(value: Any, size: int, where: str, path: str) -> str:
    # An empty id is the proto's default (a root span has no parent), so it stays allowed.
    if not isinstance(value, str) or not HEX.fullmatch(value) or len(value) not in (0, 2 * size):
        raise OtlpJsonError(
            f"{where}: {path}: an id is {2 * size} hex digits (or empty) in OTLP JSON: {value!r}"
        )
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")
