"""Telemetry never breaks the host: failures are logged once per cause and swallowed."""

from __future__ import annotations

from betty_telemetry._config import first_report, logger


def report_failure(
    exc: BaseException,
    what: str = "Telemetry was not recorded",
    *,
    with_message: bool = True,
    apart: bool = False,
) -> None:
    """Log a capture failure as a warning, the first time this cause is seen only.

    A broken store fails every call the same way; one warning says it, a thousand drown the
    host's own logs. A cause is the exception type and message (which names the file);
    ``apart``: with ``what`` too, for a consequence that the usual warning for the same
    cause would not tell (pending entries off, besides runs not recorded).
    """
    # A redaction rule's own error message may quote the value it failed on: leave it out.
    cause = (type(exc).__name__, safe_str(exc) if with_message else "(message withheld)")
    if not first_report((f"{what}: {cause[0]}", cause[1]) if apart else cause):
        return
    logger.warning(
        "%s: %s: %s (the program goes on; this warning is logged once per cause)",
        what,
        cause[0],
        cause[1],
    )


def describe_exception(exc: BaseException) -> str:
    """``"ExceptionType: message"``, or just the type when the message is empty."""
    message = safe_str(exc)
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__} whose str() failed>"
