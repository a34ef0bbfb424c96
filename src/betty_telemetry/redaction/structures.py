"""Structures that say which of their values is secret: argv lists (``["--password", "x"]``),
``(name, value)`` pairs (header lists), and ``{"name": ..., "value": ...}`` dicts (Kubernetes
env, HAR headers, tags). Each works on a container already cleaned, in place."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from betty_telemetry.redaction.rules import RedactionRules
from betty_telemetry.redaction.triggers import REDACTED

Note = Callable[[str, str], None]
"""Reports a redaction: path, rule."""

# The first item of a (name, value) pair: a header, an environment variable, a field name.
_NAME_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
_TELLS_NOTHING = frozenset({bool, type(None)})
_KEY_BEGIN = re.compile(r"-----BEGIN[ A-Z0-9]*(?:PRIVATE|SECRET) KEY")
_KEY_END = re.compile(r"-----END[ A-Z0-9]*(?:PRIVATE|SECRET) KEY")


def redact_list(
    rules: RedactionRules, items: list[Any], cleaned: list[Any], path: str, note: Note
) -> None:
    """An argv list's flag values, and the value of a ``(name, value)`` pair."""
    if rules.defaults and any(type(item) is str and item[:1] == "-" for item in items):
        _redact_argv(rules, items, cleaned, path, note)
        _redact_key_lines(items, cleaned, path, note)
    if len(cleaned) == 2 and type(cleaned[0]) is str and _NAME_LIKE.fullmatch(cleaned[0]):
        # cleaned, not items: a bytes name (b"x-api-key") was converted to text
        _redact_value(rules.name_rule(cleaned[0]), cleaned, 1, f"{path}[1]", note)


def redact_name_and_value(
    rules: RedactionRules, cleaned: dict[str, Any], path: str, note: Note
) -> None:
    """``{"name": "DB_PASSWORD", "value": "x"}``: the value of a secret name."""
    value_key = "value" if "value" in cleaned else "Value"
    for name_key in ("name", "Name", "key", "Key"):
        name = cleaned.get(name_key)
        if type(name) is str:
            rule = rules.name_rule(name)
            _redact_value(rule, cleaned, value_key, f"{path}.{value_key}", note)
            return


def _redact_value(rule: str | None, container: Any, key: int | str, path: str, note: Note) -> None:
    value = container[key]
    if rule is not None and type(value) not in _TELLS_NOTHING and value not in ("", REDACTED):
        container[key] = REDACTED
        note(path, rule)


def _redact_key_lines(items: list[Any], cleaned: list[Any], path: str, note: Note) -> None:
    """A private key given as a list of lines: the lines between its armor lines, which alone
    are just base64."""
    inside = False
    for index, item in enumerate(items):
        if type(item) is not str:
            continue
        if _KEY_BEGIN.search(item):
            inside = not _KEY_END.search(item)  # a whole block on one line is redacted as text
        elif inside and _KEY_END.search(item):
            inside = False
        elif inside and cleaned[index] != REDACTED:
            cleaned[index] = REDACTED
            note(f"{path}[{index}]", "private-key-block")


def _redact_argv(
    rules: RedactionRules, items: list[Any], cleaned: list[Any], path: str, note: Note
) -> None:
    """``["mysql", "--password", "x", "-u", "user:pass"]``: the arguments of secret flags."""
    # Imported here, with the text rules it builds on, by the first list that holds a flag.
    from betty_telemetry.redaction.commands import argv_secret_positions

    argv = [item if type(item) is str else "" for item in items]
    for index, part in argv_secret_positions(argv, rules.name_rule).items():
        if cleaned[index] == REDACTED or type(cleaned[index]) is not str:
            continue
        user, colon, _ = argv[index].partition(":")
        if part == "after-colon":
            if not colon:
                continue
            cleaned[index] = f"{user}:{REDACTED}"
        else:
            cleaned[index] = REDACTED
        note(f"{path}[{index}]", "command-line-flag")
