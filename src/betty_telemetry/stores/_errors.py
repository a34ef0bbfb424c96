"""Errors the stores raise."""

from __future__ import annotations


class CorruptStoreError(ValueError):
    """The telemetry file is not a JSON array; it was left exactly as it was."""

    def __init__(self, path: str, found: str) -> None:
        self.path = path
        self.found = found
        super().__init__(
            f"{path} is not a JSON array of telemetry entries ({found}). "
            "It was left unchanged: move it aside or fix it, then capture again."
        )
