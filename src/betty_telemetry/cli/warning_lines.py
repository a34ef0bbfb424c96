"""The library's warnings on the command line: on stderr as ``Warning: ...``, each once."""

from __future__ import annotations

import logging
import sys


class WarningLines(logging.Handler):
    """The library's warnings (a damaged line skipped, a torn tail repaired), on stderr as
    ``Warning: ...``, each once: ``trace --last`` reads the file twice."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._printed: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self._printed:
            self._printed.add(message)
            print(f"Warning: {message}", file=sys.stderr, flush=True)
