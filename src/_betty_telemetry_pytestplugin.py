"""The pytest plugin of betty-telemetry: the ``capture_entries`` fixture.

pytest loads it through the ``pytest11`` entry point, so installing betty-telemetry is all a
project needs (``-p no:betty_telemetry`` turns it off). It is a top-level module, as
Hypothesis's plugin is, and imports betty_telemetry only when a test uses the fixture:
pytest imports entry-point plugins before coverage starts, and importing the package then
would hide its module-level code from coverage (ours, and that of projects measuring it),
and would cost every pytest run of every project that has it installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from betty_telemetry.model.types import Entry


@pytest.fixture
def capture_entries() -> Iterator[list[Entry]]:
    """The telemetry entries recorded in this process during the test (a fresh list per
    test), as ``betty_telemetry.testing.capture_entries()`` collects them: the decorator and
    the context manager record into memory, not into their file."""
    from betty_telemetry.testing import capture_entries as capturing

    with capturing() as entries:
        yield entries
