"""tests/data keeps copies of the spec and the legacy fixture for checkouts without shared/."""

from __future__ import annotations

import pytest

from tests.conftest import DATA, SHARED


@pytest.mark.parametrize(
    "relative", ["spec/telemetry.capture.SKILL.md", "fixtures/betty-registry-telemetry.json"]
)
def test_the_copy_in_tests_data_matches_the_shared_file(relative: str) -> None:
    shared = SHARED / relative
    if not shared.exists():
        pytest.skip("no shared/ folder beside this checkout: the copy is all there is")
    assert (DATA / shared.name).read_bytes() == shared.read_bytes()
