"""The OpenTelemetry bridge (the ``[otel]`` extra): entries as spans in any OTLP backend.

- live: ``TelemetryCapture(export=OtlpExport(...))`` or ``BETTY_TELEMETRY_EXPORT=otlp``;
- replay: ``export_otlp(...)`` sends a store's entries (``betty-telemetry export --otlp``);
- files: ``write_otlp_json(...)`` writes OTLP JSON (``betty-telemetry export --otlp-json``).

Importing this package imports no OpenTelemetry module: the functions do, when called, and
raise an ImportError naming the extra when it is not installed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from betty_telemetry.export.reading import reading
from betty_telemetry.export.settings import OtlpExport, shown_endpoint
from betty_telemetry.model.filters import EntryFilter

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from betty_telemetry.export.replay import Replayed
    from betty_telemetry.model.filters import Filters

__all__ = ["OtlpExport", "export_otlp", "write_otlp_json"]

Path = str | os.PathLike[str]


def export_otlp(
    telemetry_file: Path | None = None,
    endpoint: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    service_name: str | None = None,
    archives: bool = False,
    restart: bool = False,
    timeout: float = 10.0,
    retry_for: float = 60.0,
    progress: Callable[[int], None] | None = None,
    **filters: Unpack[Filters],
) -> Replayed:
    """Send the entries of ``telemetry_file`` (resolved as ``TelemetryCapture`` does) that
    match ``filters`` to the OTLP/HTTP ``endpoint`` (else the ``OTEL_EXPORTER_OTLP_*``
    variables, else ``http://localhost:4318``), oldest first, in batches.

    Resumes after what an earlier call with the same endpoint, filters and ``archives`` sent
    (a checkpoint in ``NAME.otlp.json`` beside the file); ``restart=True`` sends everything
    again. ``archives=True`` sends the rotated archives' entries first. Raises ExportFailed
    (a ConnectionError) when the backend refuses a batch for ``retry_for`` seconds; a re-run
    resumes after the last batch it took.
    """
    from betty_telemetry.export import sdk
    from betty_telemetry.export.checkpoint import Checkpoints, replay_key
    from betty_telemetry.export.replay import replay
    from betty_telemetry.export.targets import ExporterTarget

    settings = OtlpExport(endpoint, headers, service_name, timeout=timeout, retry_for=retry_for)
    url = sdk.traces_endpoint(settings.endpoint)
    with reading(telemetry_file, archives) as (store, state_file):
        wanted = EntryFilter.build(**filters)
        shown = shown_endpoint(url)  # what is printed and kept: no credentials
        checkpoints = Checkpoints(state_file, replay_key(shown, dict(filters), archives))
        if restart:
            checkpoints.clear()
        exporter = sdk.otlp_exporter(url, headers, timeout)
        target = ExporterTarget(exporter, sdk.make_resource(service_name), shown)
        try:
            return replay(
                store,
                target,
                wanted,
                checkpoints=checkpoints,
                progress=progress,
                retry_for=retry_for,
            )
        finally:
            target.shutdown()


def write_otlp_json(
    path: Path,
    telemetry_file: Path | None = None,
    *,
    service_name: str | None = None,
    archives: bool = False,
    progress: Callable[[int], None] | None = None,
    **filters: Unpack[Filters],
) -> Replayed:
    """Write the entries of ``telemetry_file`` that match ``filters`` to ``path`` as OTLP JSON
    (one request per line, as the Collector's ``otlpjsonfile`` receiver reads), oldest first.
    The file appears whole at the end; an existing one is replaced."""
    from betty_telemetry.export.otlp_json import OtlpJsonFile
    from betty_telemetry.export.replay import replay

    with reading(telemetry_file, archives) as (store, _):
        wanted = EntryFilter.build(**filters)
        target = OtlpJsonFile(os.fspath(path), service_name)
        try:
            done = replay(store, target, wanted, progress=progress)
            target.finish()
            return done
        finally:
            target.shutdown()
