"""Text values: redacted within a bounded window, JSON inside them cleaned key by key, then
cut. Also the text of ``bytes`` and of ``repr``.

The order matters: redaction runs before anything cuts or encodes, so no cut can leave the
first half of a credential behind. It looks SCAN_MARGIN characters past the cut, so a
credential that starts before the cut is seen whole; a word that the end of that window
splits is left out of the window whole.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from betty_telemetry._hashing import sha256
from betty_telemetry.redaction.limits import (
    MAX_CREDENTIAL_CHARS,
    MAX_JSON_ATTEMPTS,
    MAX_JSON_INSIDE_CHARS,
    MAX_REPR_CHARS,
    SCAN_MARGIN,
)
from betty_telemetry.redaction.tokens import WORD_CHARS

if TYPE_CHECKING:
    from betty_telemetry.redaction.sanitize import Sanitizer

# Where JSON may start inside text: an object with a key, or an array of strings or
# containers (an array of numbers holds no key to redact).
_JSON_START = re.compile(r"[\[{]\s*[\"\[{]")
_DECODER = json.JSONDecoder()


def clean_text(owner: Sanitizer, text: str, path: str, limit: int, *, repr_of: bool = False) -> str:
    """``text`` redacted, then cut to ``limit`` characters with a marker: ``...<N chars>``
    for a ``repr``, else the length and a hash of the whole text."""
    document = _json_document(text)
    if document is not None:
        redacted = _json(owner, text, document, path)
        window_cut = False
    else:
        scanned = window(text, limit + SCAN_MARGIN)
        window_cut = len(scanned) < len(text)
        redacted = _redact(owner, scanned, path)
    if not window_cut and len(redacted) <= limit:
        return redacted
    return cut(owner, redacted, text, path, limit, repr_of=repr_of)


def cut(
    owner: Sanitizer, redacted: str, text: str, path: str, limit: int, *, repr_of: bool = False
) -> str:
    """``redacted`` (the redaction of ``text``) cut to ``limit``, with the marker."""
    if repr_of:
        return f"{redacted[:limit]}...<{len(text)} chars>"
    owner.truncations.append(path)
    digest = sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{redacted[:limit]}...[truncated: {len(text)} chars, sha256 {digest}]"


def text_of_bytes(owner: Sanitizer, value: bytes | bytearray | memoryview, path: str) -> str:
    """The text of ``value`` (invalid UTF-8 shown as ``\\xff`` escapes, never encoded whole),
    redacted and cut to MAX_REPR_CHARS."""
    total = len(value)
    head = bytes(value[: MAX_REPR_CHARS + SCAN_MARGIN])
    text = head.decode("utf-8", "backslashreplace")
    if len(head) == total and len(text) <= MAX_REPR_CHARS:
        return _redact(owner, text, path)
    if len(head) < total:  # a word the cut splits is left out whole
        following = bytes(value[len(head) : len(head) + 1]).decode("latin-1")
        text = window(text + following, len(text))
    return _redact(owner, text, path)[:MAX_REPR_CHARS] + f"...<{total} bytes>"


def _redact(owner: Sanitizer, text: str, path: str) -> str:
    """Every rule over ``text``, after the JSON inside it is cleaned key by key."""
    if "{" in text or "[" in text:
        text = _embedded_json(owner, text, path)
    redacted, rules = owner.rules.redact_text(text)
    for rule in rules:
        owner.note(path, rule)
    return redacted


def _embedded_json(owner: Sanitizer, text: str, path: str) -> str:
    """``text`` with each JSON object or array inside it cleaned as a value (``HTTP 400:
    {"credentials": ...}``), re-encoded where that changed it."""
    pieces: list[str] = []
    done = at = 0
    for _ in range(MAX_JSON_ATTEMPTS):
        start = _JSON_START.search(text, at)
        if start is None:
            break
        try:
            value, end = _DECODER.raw_decode(text, start.start())
        except (ValueError, RecursionError):
            at = start.start() + 1
            continue
        pieces += (text[done : start.start()], _json(owner, text[start.start() : end], value, path))
        done = at = end
    return "".join(pieces) + text[done:] if pieces else text


def _json(owner: Sanitizer, original: str, value: Any, path: str) -> str:
    before = owner.noted()
    cleaned = owner.clean(value, f"{path}<json>")
    if owner.noted() == before:
        return original
    return json.dumps(cleaned, ensure_ascii=False)


def _json_document(text: str) -> Any:
    """The object or array ``text`` holds, if it is one JSON document (short enough to
    parse), else None."""
    stripped = text.lstrip()
    if stripped[:1] not in ("{", "[") or len(text) > MAX_JSON_INSIDE_CHARS:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past the recursion limit
        return None
    return value if isinstance(value, (dict, list)) else None


def window(text: str, size: int) -> str:
    """The first ``size`` characters of ``text``, less the word the end would split: cut,
    it could pass for a shorter credential, or hide a longer one. A word longer than any
    credential (MAX_CREDENTIAL_CHARS) is not one, and is cut where it is."""
    if len(text) <= size:
        return text
    end = size
    if text[end] in WORD_CHARS:
        while end > size - MAX_CREDENTIAL_CHARS and text[end - 1] in WORD_CHARS:
            end -= 1
        if end == size - MAX_CREDENTIAL_CHARS:
            end = size
    return text[:end]


def describe_repr(value: object) -> str:
    """``repr(value)``, whole; a description instead if ``repr`` raises."""
    try:
        return repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__qualname__}: repr raised {type(exc).__name__}>"
