"""What bench/redaction.py measures: run as ``redaction_case.py SIZE CASE CALLS`` under
callgrind, or imported for the texts and the rules."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import sys
import tempfile

from betty_telemetry import TelemetryCapture, _config
from betty_telemetry.redaction import RedactionRules, Sanitizer
from betty_telemetry.redaction.formats import CATALOGUE, TokenFormat

PROSE = (
    "2026-12-06T12:00:00Z INFO worker-3: started job 8f14e45f for plugin.build (attempt 2 of 3); "
    "reading ./plugins/api.designer/plugin.yaml, 14 files, output tar.gz to /srv/build/out. "
    "Error: connection refused by db.internal:5432 after 3 tries, retrying in 2s. "
    "The agent api.designer asked for the user profile of bob@example.com, got HTTP 404. "
)
TEXT = (PROSE * 20)[:4096]
SECRET = "sk-" + "proj-" + "Qw3Er4Ty5Ui6Op7As8Df9Gh0Jk1Lz2Xc3Vb4Nm5"
TEXTS = {
    "4 KiB, no secret": TEXT,
    "4 KiB, one secret": TEXT[:2000] + f" key {SECRET} " + TEXT[2000 : 4096 - len(SECRET) - 6],
    "4 KiB base64 blob": base64.b64encode(hashlib.sha512(b"x").digest() * 48).decode()[:4096],
}


def copies(number: int) -> list[TokenFormat]:
    """Every format again under the anchors it has (plus a suffix), as a larger catalogue
    would add formats: every word that meets one format's anchor now meets three."""
    return [
        token_format._replace(
            name=f"{token_format.name}-copy{number}",
            anchors=tuple(anchor + f"Q{number}" for anchor in token_format.anchors),
            pattern="(?:"
            + "|".join(re.escape(anchor + f"Q{number}") for anchor in token_format.anchors)
            + ")[A-Za-z0-9]{20,}",
        )
        for token_format in CATALOGUE
    ]


def rules_of(size: str) -> RedactionRules:
    if size == "shipped":
        return RedactionRules()
    return RedactionRules(formats=(*CATALOGUE, *copies(1), *copies(2)))


def scan(rules: RedactionRules, text: str) -> str:
    return Sanitizer(rules).clean_text(text, "inputs.text")


def main(size: str, case: str, calls: int) -> None:
    rules = rules_of(size)
    if case == "capture()":
        telemetry = TelemetryCapture(os.path.join(tempfile.mkdtemp(), "telemetry.json"))
        _config._rules = rules  # the process-wide rules every capture uses
        for _ in range(calls):
            telemetry.capture(
                "plugin.build",
                "success",
                320.5,
                "CLI",
                {"plugin_path": "./plugin.yaml", "output_format": "tar.gz"},
            )
        return
    text = TEXTS[case]
    for _ in range(calls):
        scan(rules, text)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
