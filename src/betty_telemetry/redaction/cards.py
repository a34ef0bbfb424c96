"""Payment card numbers: 13 to 19 digits, spaced or not, of a known issuer, Luhn-checked.

Digit runs are common in telemetry (epoch milliseconds, ids, phone numbers); a run counts as a
card number only when its length fits its issuer's and its check digit is right, which one
random number in ten passes, so the issuer prefix does most of the work: epoch milliseconds
start with 1, which no card network uses.
"""

from __future__ import annotations

import re

# 13 to 19 digits, optionally in groups separated by one space or dash.
CARD_CANDIDATE = re.compile(r"[0-9](?:[ \-]?[0-9]){12,18}(?![0-9]|\.[0-9])")
_SEPARATORS = str.maketrans("", "", " -")

# (issuer prefixes, allowed lengths)
_ISSUERS: tuple[tuple[tuple[str, ...], frozenset[int]], ...] = (
    (("4",), frozenset({13, 16, 19})),  # Visa
    (tuple(str(p) for p in range(51, 56)), frozenset({16})),  # Mastercard
    (tuple(str(p) for p in range(2221, 2721)), frozenset({16})),  # Mastercard 2-series
    (("34", "37"), frozenset({15})),  # American Express
    (("6011", "65", *(str(p) for p in range(644, 650))), frozenset(range(16, 20))),  # Discover
    (tuple(str(p) for p in range(3528, 3590)), frozenset(range(16, 20))),  # JCB
    (("36", "38", *(str(p) for p in range(300, 306))), frozenset(range(14, 20))),  # Diners
    (("62",), frozenset(range(16, 20))),  # UnionPay
    (
        ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"),
        frozenset(range(12, 20)),
    ),  # Maestro
)


def is_card_number(digits: str) -> bool:
    """Whether ``digits`` (digits only) is a plausible payment card number."""
    length = len(digits)
    if not any(digits.startswith(p) and length in lengths for p, lengths in _ISSUERS):
        return False
    return luhn_valid(digits)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_spans(text: str) -> list[tuple[int, int]]:
    """Where card numbers are in ``text``."""
    return [
        match.span()
        for match in CARD_CANDIDATE.finditer(text)
        if (match.start() == 0 or text[match.start() - 1] not in "0123456789.-")
        and is_card_number(match.group().translate(_SEPARATORS))
    ]


def is_card_int(value: int) -> bool:
    """Whether an integer (a card number passed as a number) is a card number."""
    return 10**12 <= value < 10**19 and is_card_number(str(value))
