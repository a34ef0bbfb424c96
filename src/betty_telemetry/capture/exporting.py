"""Which live export a capture gets: the ``export`` argument, else the environment.

The export package (and OpenTelemetry with it) is imported only when an export is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from betty_telemetry._config import export_from_environment, logger, setting_origin

if TYPE_CHECKING:
    from betty_telemetry.export.live import LiveExport


def start_export(export: Any, location: str | None) -> LiveExport | None:
    """The live export for a capture of ``location`` (None: a store in memory, whose export
    keeps its counts in memory only).

    Asked for in code (``OtlpExport``, ``"otlp"``, True), a missing ``[otel]`` extra raises
    ImportError. Asked for by ``$BETTY_TELEMETRY_EXPORT`` (or the settings file), it is logged
    and the capture goes on without export: the environment must never stop the host's
    entries being stored.
    """
    if export is None:
        if not export_from_environment():
            return None
        try:
            return _live_export(None, location)
        except ImportError as exc:
            origin = setting_origin("export")  # $BETTY_TELEMETRY_EXPORT, or the settings file
            asked = f"{origin}=otlp" if origin.startswith("$") else f'{origin} ("otlp")'
            logger.warning("%s is ignored: %s", asked, exc)
            return None
    if export is False or export == "none":
        return None
    if export is True or export == "otlp":
        return _live_export(None, location)
    return _live_export(export, location)


def _live_export(settings: Any, location: str | None) -> LiveExport:
    from betty_telemetry.export.live import LiveExport
    from betty_telemetry.export.settings import OtlpExport
    from betty_telemetry.export.state import state_path

    if settings is None:
        settings = OtlpExport()
    elif not isinstance(settings, OtlpExport):
        raise TypeError(
            f"export must be an OtlpExport, 'otlp', True, False or None, got "
            f"{type(settings).__name__} {settings!r}"
        )
    return LiveExport(settings, None if location is None else state_path(location))
