"""The redaction rules in force: built-in rules on or off, added key names, added patterns.

Immutable: changing the process-wide rules (``add_secret_keys``, ``add_redaction_pattern``)
swaps the object. Each holds its caches, so a value or a key seen before costs a dict lookup.

Tuples and a plain class rather than dataclasses: every capture loads this module, and a
command line one (a fresh process per call) would spend more on importing dataclasses and
making the classes than on its append.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from betty_telemetry.redaction.keys import secret_word_in
from betty_telemetry.redaction.limits import MAX_KEY_CHARS, MAX_STRING_CHARS
from betty_telemetry.redaction.triggers import REDACTED, compile_needs_scan

# The text rules and the catalogue are imported by the first text that needs them (see
# _text_scanner): most values are plain, and a fresh process (a command line capture) would
# otherwise compile a hundred expressions it never runs.
if TYPE_CHECKING:
    from betty_telemetry.redaction.formats import TokenFormat
    from betty_telemetry.redaction.scanner import TextScanner

NO_KEYS: frozenset[str] = frozenset()
_CACHED_TEXTS = 8192
_CACHED_TEXT_CHARS = 256
_CACHED_KEYS = 4096


def redaction_keys(names: object) -> frozenset[str]:
    """Normalise ``sanitize_keys`` (None or an iterable of names) for case-insensitive matching."""
    if names is None:
        return NO_KEYS
    if isinstance(names, str):
        # A lone string is almost always a mistake for a one-item list; honour the intent.
        return frozenset({names.lower()})
    return frozenset(str(name).lower() for name in names)  # type: ignore[attr-defined]


class ValuePattern(NamedTuple):
    """A rule added by the user: a regex (its ``secret`` group, else the whole match, is
    replaced) or a function from text to redacted text."""

    name: str
    regex: re.Pattern[str] | None = None
    function: Callable[[str], str] | None = None
    hints: tuple[str, ...] = ()

    def apply(self, text: str) -> str:
        if self.function is not None:
            return self.function(text)
        assert self.regex is not None
        return self.regex.sub(_replace_secret, text)


def _replace_secret(match: re.Match[str]) -> str:
    if "secret" in match.re.groupindex and match.group("secret") is not None:
        start, end = match.span("secret")
        whole_start = match.start()
        text = match.group(0)
        return text[: start - whole_start] + REDACTED + text[end - whole_start :]
    return REDACTED


class KeyText(NamedTuple):
    """A dict key that itself holds a secret (a token used as a key): what to store instead,
    the rules that found it, and the rule that makes its value secret too, if any."""

    cleaned: str
    rules: tuple[str, ...]
    value_rule: str | None


class RedactionRules:
    """What to redact: the built-in rules (``defaults``), key names added by the caller
    (exact, case-insensitive) and value patterns added by the caller.

    Frozen, compared and hashed by those four fields (``formats``: the credential formats
    looked for; None, the built-in catalogue, ``formats.CATALOGUE``); each holds its caches."""

    __slots__ = (
        "_name_cache",
        "_needs_scan",
        "_scanner",
        "defaults",
        "extra_keys",
        "formats",
        "key_cache",
        "known_names",
        "patterns",
        "plain_cache",
    )
    defaults: bool
    extra_keys: frozenset[str]
    patterns: tuple[ValuePattern, ...]
    formats: tuple[TokenFormat, ...] | None
    # Caches, also read directly by clean_mapping_items, the hot path of every capture.
    key_cache: dict[str, str | KeyText | None]
    _name_cache: dict[str, str | None]
    plain_cache: dict[str, bool]
    known_names: dict[str, tuple[str, tuple[str, ...]]]
    """Names seen by ``redact_name`` and what it made of them (a dict, for the hot path)."""
    _scanner: TextScanner | None
    _needs_scan: Callable[[str], object] | None

    def __init__(
        self,
        defaults: bool = True,
        extra_keys: frozenset[str] = frozenset(),
        patterns: tuple[ValuePattern, ...] = (),
        formats: tuple[TokenFormat, ...] | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "defaults": defaults,
            "extra_keys": extra_keys,
            "patterns": patterns,
            "formats": formats,
            "key_cache": {},
            "_name_cache": {},
            "plain_cache": {},
            "known_names": {},
            "_scanner": None,  # built by _text_scanner, when needed
        }
        # Added patterns without hints could match anything: then no text is plain.
        hinted = all(pattern.hints for pattern in patterns)
        hints = [hint for pattern in patterns for hint in pattern.hints]
        needs = compile_needs_scan(hints) if defaults else _json_or(hints)
        fields["_needs_scan"] = needs.search if hinted else None
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def _fields(self) -> tuple[object, ...]:
        return (self.defaults, self.extra_keys, self.patterns, self.formats)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, RedactionRules)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            f"{type(self).__qualname__}(defaults={self.defaults!r}, "
            f"extra_keys={self.extra_keys!r}, patterns={self.patterns!r}, "
            f"formats={self.formats!r})"
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")  # as a frozen dataclass

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def _text_scanner(self) -> TextScanner | None:
        """The built-in text rules (None when they are off), built on first use."""
        scanner = self._scanner
        if scanner is None and self.defaults:
            from betty_telemetry.redaction.formats import CATALOGUE
            from betty_telemetry.redaction.scanner import TextScanner

            formats = CATALOGUE if self.formats is None else self.formats
            scanner = TextScanner(formats, self.name_rule)
            object.__setattr__(self, "_scanner", scanner)
        return scanner

    # -- names -------------------------------------------------------------------------------

    def name_rule(self, name: str) -> str | None:
        """The rule that makes ``name`` (a key, a flag, a header, a tag) secret, or None."""
        cache = self._name_cache
        if name in cache:
            return cache[name]
        rule: str | None = None
        if name.lower() in self.extra_keys:
            rule = "sanitize_keys"
        elif self.defaults:
            word = secret_word_in(name)
            rule = None if word is None else f"key:{word}"
        if len(cache) >= _CACHED_KEYS:
            cache.clear()
        cache[name] = rule
        return rule

    def key_rule(self, key: str) -> str | KeyText | None:
        """For a dict key: None when neither it nor its value needs redaction; the rule that
        makes its value secret; or a KeyText when the key itself holds a secret."""
        cache = self.key_cache
        verdict = cache.get(key, _MISSING)
        if verdict is not _MISSING:
            return verdict  # type: ignore[return-value]
        verdict = self.name_rule(key)
        cleaned, rules = key, list[str]()
        # Plain first: a plain key never loads the text rules.
        scanner = None if not self.defaults or self.plain_text(key) else self._text_scanner()
        if scanner is not None:
            # Built-in rules only: a pattern added for values is not meant to rename keys.
            cleaned, rules = scanner.redact(key)
        if len(cleaned) > MAX_KEY_CHARS:  # the entry's size limit holds for keys too
            cleaned = f"{cleaned[:MAX_KEY_CHARS]}...<{len(key)} chars>"
        if cleaned != key:
            verdict = KeyText(cleaned, tuple(rules), verdict)
        if len(cache) >= _CACHED_KEYS:
            cache.clear()
        cache[key] = verdict
        return verdict

    # -- text --------------------------------------------------------------------------------

    def plain_text(self, text: str) -> bool:
        """True when ``text`` needs no work at all: no rule can match, it holds no JSON to look
        into, and it is short enough to keep whole."""
        known = self.plain_cache.get(text)
        if known is not None:
            return known
        needs_scan = self._needs_scan
        plain = needs_scan is not None and len(text) <= MAX_STRING_CHARS and not needs_scan(text)
        if len(text) <= _CACHED_TEXT_CHARS:
            # Values repeat (paths, names, formats): remember the answer, within a bound.
            if len(self.plain_cache) >= _CACHED_TEXTS:
                self.plain_cache.clear()
            self.plain_cache[text] = plain
        return plain

    def redact_text(self, text: str) -> tuple[str, list[str]]:
        """``text`` without its secrets, by the built-in rules then the added patterns, and the
        names of the rules that changed it. An added pattern that raises makes the whole text
        REDACTED (fail closed), reported as ``<name>:failed``."""
        scanner = self._text_scanner()
        rules: list[str] = []
        if scanner is not None:
            text, rules = scanner.redact(text)
        for pattern in self.patterns:
            if pattern.hints and not any(hint in text for hint in pattern.hints):
                continue
            try:
                redacted = pattern.apply(text)
            except Exception as exc:
                # Imported here, on this rare path: the once-per-cause state lives in _config,
                # which builds on these rules, so a module-level import would be a cycle.
                from betty_telemetry._safety import report_failure

                # Fail closed: a value we could not check is not written at all. The error's
                # message may quote the value: leave it out of the log.
                report_failure(
                    exc,
                    f"Redaction rule {pattern.name!r} failed, value withheld",
                    with_message=False,
                )
                return REDACTED, [*rules, f"{pattern.name}:failed"]
            if redacted != text:
                rules.append(pattern.name)
                text = redacted
        return text, rules

    def redact_name(self, name: str) -> tuple[str, tuple[str, ...]]:
        """A ``skill`` or ``caller`` name without credentials (built-in rules only: a pattern
        added for values is not meant to rename skills), and the rules that found them.
        Cached: names recur."""
        cache = self.known_names
        known = cache.get(name)
        if known is None:
            known = (name, ())
            scanner = None if not self.defaults or self.plain_text(name) else self._text_scanner()
            if scanner is not None:
                redacted, rules = scanner.redact(name)
                known = (redacted, tuple(rules))
            if len(name) <= _CACHED_TEXT_CHARS:
                if len(cache) >= _CACHED_TEXTS:
                    cache.clear()
                cache[name] = known
        return known

    # -- deriving ----------------------------------------------------------------------------

    def with_keys(self, names: Iterable[str]) -> RedactionRules:
        extra = self.extra_keys | {name.lower() for name in names}
        return RedactionRules(self.defaults, extra, self.patterns, self.formats)

    def with_pattern(
        self,
        name: str,
        pattern: str | re.Pattern[str] | Callable[[str], str],
        hints: tuple[str, ...] = (),
    ) -> RedactionRules:
        if isinstance(pattern, str):
            rule = ValuePattern(name, regex=re.compile(pattern), hints=hints)
        elif isinstance(pattern, re.Pattern):
            rule = ValuePattern(name, regex=pattern, hints=hints)
        else:
            rule = ValuePattern(name, function=pattern, hints=hints)
        return RedactionRules(self.defaults, self.extra_keys, (*self.patterns, rule), self.formats)

    def without_defaults(self) -> RedactionRules:
        """Only the caller's own keys and patterns: the built-in rules are off."""
        return RedactionRules(False, self.extra_keys, self.patterns, self.formats)


_MISSING = object()


def _json_or(hints: list[str]) -> re.Pattern[str]:
    # Without the built-in rules, text still needs work to find added keys inside JSON.
    return re.compile("|".join([r"[\[{]", *map(re.escape, hints)]))


def default_rules() -> RedactionRules:
    return RedactionRules()


NO_RULES = RedactionRules(defaults=False)
"""No rule at all: values are only converted to JSON."""
