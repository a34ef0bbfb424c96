"""OTLP JSON files: what the OpenTelemetry Collector's ``otlpjsonfile`` receiver reads.

One line per batch, each an ``ExportTraceServiceRequest`` in the OTLP/JSON encoding: the
protobuf JSON mapping with the OTLP spec's two differences, trace and span ids as hex (not
base64) and enums as integers. The SDK's own encoder makes the message; the file is written
under a temporary name and appears whole at its path at the end.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from betty_telemetry.export import sdk
from betty_telemetry.export.mapping import SpanData

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


class OtlpJsonFile:
    """A replay target that writes OTLP JSON lines to ``path`` (a Target)."""

    def __init__(self, path: str, service_name: str | None = None) -> None:
        self.path = os.path.abspath(path)
        self.description = self.path
        self._resource = sdk.make_resource(service_name)
        folder = os.path.dirname(self.path)
        os.makedirs(folder, exist_ok=True)
        fd, self._temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(self.path)}.", suffix=".partial", dir=folder
        )
        self._file = os.fdopen(fd, "w", encoding="utf-8")

    def send(self, spans: Sequence[SpanData]) -> bool:
        message = encode_spans([sdk.readable_span(span, self._resource) for span in spans])
        self._file.write(json.dumps(otlp_json(message), separators=(",", ":")) + "\n")
        return True

    def finish(self) -> None:
        """Make the file appear, whole, at its path."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temporary, self.path)

    def shutdown(self) -> None:
        """Give up: remove the partial file (after ``finish``, nothing to do)."""
        if not self._file.closed:
            self._file.close()
            os.unlink(self._temporary)


def otlp_json(message: Any) -> dict[str, Any]:
    """An OTLP protobuf message as OTLP/JSON: camelCase keys, integer enums, hex ids."""
    document: dict[str, Any] = MessageToDict(message, use_integers_for_enums=True)
    _hex_ids(document)
    return document


def _hex_ids(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = _base64_to_hex(value)
            else:
                _hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids(item)


def _base64_to_hex(text: str) -> str:
    return base64.b64decode(text).hex()
