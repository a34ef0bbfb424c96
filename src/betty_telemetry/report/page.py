"""The report as one HTML page: the template, its style, plotly.js and our script inlined, the
report's data as JSON. It opens offline: nothing is fetched when it is viewed.

Two guards keep recorded content (skill names, inputs, error messages) from ever running as
code in the page: the data goes in a JSON block whose ``<``, ``>`` and ``&`` are escaped (no
recorded text can end the block), and the page's Content-Security-Policy lets only the
page's own two scripts run (by their SHA-256), loads nothing from anywhere, and (live) talks
only to the server that sent it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import re
from importlib import resources
from typing import Any

from betty_telemetry import __version__

REPORT_EXTRA = "pip install 'betty-telemetry[report]'"
_ASSETS = resources.files("betty_telemetry.report") / "assets"
_MARKER = re.compile(r"@([A-Z]+)@")
"""Where the template takes a value: ``@NAME@``."""
_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def plotly_script() -> str:
    """plotly.js, as the ``plotly`` package ships it (the ``[report]`` extra)."""
    try:
        import plotly
    except ImportError as error:
        raise ImportError(
            f"the HTML report draws its charts with plotly, which is not installed: {REPORT_EXTRA}"
        ) from error
    script = resources.files(plotly) / "package_data" / "plotly.min.js"
    return script.read_text(encoding="utf-8")


def render_page(report: dict[str, Any], plotly_js: str) -> str:
    """The page of ``report`` (see ``report.building``): one self-contained HTML text."""
    template = _asset("report.html")
    script = _asset("report.js")
    data = report_json(report)
    values = {
        "CSP": _policy([plotly_js, script], live=bool(report.get("live"))),
        "VERSION": html.escape(__version__),
        "TITLE": html.escape(str(report["title"])),
        "STYLE": _asset("report.css"),
        "DATA": data,
        "PLOTLY": plotly_js,
        "SCRIPT": script,
    }
    # One pass over the template: text put in is never searched for markers again.
    parts = _MARKER.split(template)
    parts[1::2] = [values[marker] for marker in parts[1::2]]
    return "".join(parts)


def report_json(report: dict[str, Any]) -> str:
    """``report`` as JSON text: ASCII, compact, every float finite (NaN and infinity, which
    a foreign entry may hold and JSON cannot, as null), and no ``<``, ``>`` or ``&`` (written
    as ``\u003c`` and so on): no recorded text can end the page's JSON block."""
    text = json.dumps(_finite(report), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.translate(_JSON_ESCAPES)


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


def _policy(scripts: list[str], *, live: bool) -> str:
    hashes = " ".join(_script_source(text) for text in scripts)
    # plotly sets styles inline; images are its own (the mode bar's PNG download).
    connect = "'self'" if live else "'none'"
    return (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
        f"img-src data: blob:; connect-src {connect}; base-uri 'none'; form-action 'none'"
    )


@functools.lru_cache(maxsize=4)
def _script_source(text: str) -> str:
    """The policy's source allowing the inline script ``text``: its SHA-256. Cached: the live
    view renders its page again at each new report, with the same 4.8 MB of plotly.js."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _finite(value: Any) -> Any:
    """``value`` with every float that JSON cannot hold (NaN, infinity) as None."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is dict:
        return {key: _finite(item) for key, item in value.items()}
    if type(value) is list:
        return [_finite(item) for item in value]
    return value
