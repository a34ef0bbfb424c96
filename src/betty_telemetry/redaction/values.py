"""Where a value ends, in text: the hard part of ``name = value``.

- A quoted value ends at its closing quote, spaces and all (``login(password='a b c')``).
- A value that opens a bracket ends where the bracket closes (``"credentials": {...}``).
- A YAML block (``key: |``) runs over the lines indented below the key.
- Otherwise the value is one word (``password=hunter2 failed`` keeps ``failed``), unless that
  word is a short lower-case word: then it is taken as the first word of a passphrase and the
  value runs to the end of the line (``password = correct horse battery staple``), or to the
  next ``name=`` on the line, a ``;`` or a ``&``.

A value that only says there is no credential (``password: required``) or refers to one
(``$1``, ``${DB_PASSWORD}``, ``<token>``) is no credential: ``value_extent`` gives None.
"""

from __future__ import annotations

import re

# One word of an unquoted value: up to white space, a quote, or a separator between fields.
WORD = re.compile(r"[^\s\"'`;&<>]+")
_PLAIN_WORD = re.compile(r"[a-z]{1,10}")
_LINE_REST = re.compile(r"[^\r\n\"`;&<>]*")
_NEXT_FIELD = re.compile(r",?[ \t]+[A-Za-z_][\w.\-]*[ \t]*[=:]")
# A reference to a value, not the value: $1, ?, %s, ${DB_PASSWORD}, {{ secret }}, <token>.
_PLACEHOLDER = re.compile(
    r"\$[0-9]+|\?|%s|%\(\w+\)s|:\w+"  # SQL and format parameters
    r"|\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\{\{[^}]*\}\}|<[\w\- ]+>"  # variables, templates
    r"|\*+|\.\.\.|x{3,}"  # already masked
)
_CLOSERS = {")": "(", "]": "[", "}": "{"}
# The whole value says a credential is absent or wrong, not what it is.
NON_VALUES = frozenset(
    {
        "none",
        "null",
        "nil",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "n/a",
        "na",
        "empty",
        "required",
        "missing",
        "invalid",
        "incorrect",
        "expired",
        "revoked",
        "failed",
        "wrong",
        "ok",
        "set",
        "unset",
        "provided",
        "redacted",
        "masked",
        "hidden",
        "is",
        "was",
        "not",
        "must",
        "should",
        "cannot",
        "***",
        "********",
    }
)


def is_placeholder(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` stands for a value instead of being one."""
    return _PLACEHOLDER.fullmatch(text, start, end) is not None


def value_extent(text: str, start: int, separator: str = "=") -> tuple[int, int] | None:
    """Where the value starting at ``start`` ends (see the module's docstring); None when
    there is no credential to hide."""
    opener = text[start]
    if opener in "\"'":
        end = closing_quote(text, start)
        return (start + 1, end) if end > start + 1 else None
    if opener in "{[(":
        return start, _closing_bracket(text, start)
    if (
        opener in "|>"
        and separator == ":"
        and not text[start + 1 : line_end(text, start)].strip("-+ \t")
    ):
        return _yaml_block(text, start)
    word = WORD.match(text, start)
    if word is None:
        return None
    end = _trim(text, start, word.end())
    if end <= start or text[start:end].lower() in NON_VALUES or is_placeholder(text, start, end):
        return None
    if _PLAIN_WORD.fullmatch(text, start, end):
        end = _passphrase_end(text, start)
    return start, end


def skip_blanks(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t":
        at += 1
    return at


def line_end(text: str, start: int) -> int:
    ends = [at for at in (text.find("\n", start), text.find("\r", start)) if at >= 0]
    return min(ends) if ends else len(text)


def closing_quote(text: str, start: int) -> int:
    """Offset of the quote that closes the one at ``start`` (backslash escapes honoured), or
    the end of the line when it is never closed."""
    quote = text[start]
    at = start + 1
    last = line_end(text, start)
    while at < last:
        char = text[at]
        if char == "\\":
            at += 2
            continue
        if char == quote:
            return at
        at += 1
    return last


def _closing_bracket(text: str, start: int) -> int:
    """Offset just after the bracket that closes the one at ``start`` (strings skipped), or
    the end of the text."""
    depth = 0
    at = start
    while at < len(text):
        char = text[at]
        if char in "\"'":
            at = closing_quote(text, at) + 1
            continue
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            if depth == 0:
                return at + 1
        at += 1
    return len(text)


def _yaml_block(text: str, start: int) -> tuple[int, int] | None:
    """The indented lines of a YAML block scalar (``key: |``) after ``start``."""
    line_start = text.rfind("\n", 0, start) + 1
    indent = len(text[line_start:start]) - len(text[line_start:start].lstrip(" "))
    at = line_end(text, start)
    end = at
    while at < len(text):
        next_start = at + 2 if text.startswith("\r\n", at) else at + 1
        next_end = line_end(text, next_start)
        line = text[next_start:next_end]
        if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
            break
        end = next_end
        at = next_end
        if at >= len(text):
            break
    return (start + 1, end) if end > start + 1 else None


def _trim(text: str, start: int, end: int) -> int:
    """Drop what ends a word without being part of it: a closing bracket the value did not
    open, a trailing comma or full stop."""
    while end - 1 > start and (text[end - 1] in ",." or _unopened(text, start, end)):
        end -= 1
    return end


def _unopened(text: str, start: int, end: int) -> bool:
    """Whether the last character of ``text[start:end]`` closes a bracket opened before it."""
    opener = _CLOSERS.get(text[end - 1])
    return opener is not None and text.count(opener, start, end) < text.count(
        text[end - 1], start, end
    )


def _passphrase_end(text: str, start: int) -> int:
    """The end of a value that may hold spaces: the end of the line, or the next field."""
    end = _LINE_REST.match(text, start).end()  # type: ignore[union-attr]  # matches ""
    next_field = _NEXT_FIELD.search(text, start, end)
    if next_field is not None:
        end = next_field.start()
    end = _trim(text, start, end)
    while end > start and text[end - 1] in " \t":
        end -= 1
    return end
