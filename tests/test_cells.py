"""Text for terminals: escapes for control and bidi characters, widths in columns, cuts."""

from __future__ import annotations

import pytest

from betty_telemetry.cli.cells import cut, pad, printable, width


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text", "plain text"),
        ("two\nlines\tand  spaces", "two lines and spaces"),
        ("title \x1b]0;pwned\x07 here", "title \\x1b]0;pwned\\x07 here"),
        ("clear\x1b[2J", "clear\\x1b[2J"),
        ("back\x08space and \x7f", "back\\x08space and \\x7f"),
        ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
        ("isolate \u2066x\u2069", "isolate \\u2066x\\u2069"),
        ("emoji 👩\u200d💻 kept", "emoji 👩\u200d💻 kept"),  # a joiner is harmless
        ("C1 \x9b31m", "C1 \\x9b31m"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.mark.parametrize(
    ("text", "columns"),
    [("abc", 3), ("日本語", 6), ("e\u0301te\u0301", 3), ("ｆｕｌｌ", 8), ("", 0), ("a日b", 4)],
)
def test_width_counts_terminal_columns(text: str, columns: int) -> None:
    assert width(text) == columns


def test_pad_fills_to_columns_on_either_side() -> None:
    assert pad("日本", 6) == "日本  "
    assert pad("日本", 6, right=True) == "  日本"
    assert pad("toolong", 3) == "toolong"


@pytest.mark.parametrize(
    ("text", "columns", "expected"),
    [
        ("short", 10, "short"),
        ("exactly", 7, "exactly"),
        ("too long here", 8, "too lon…"),
        ("日本語のテキスト", 7, "日本語…"),  # 6 columns of text and the mark
        ("日本語", 4, "日…"),  # a wide character that would straddle the edge is left out
        ("anything", 0, "…"),
    ],
)
def test_cut_keeps_what_fits_and_marks_the_cut(text: str, columns: int, expected: str) -> None:
    assert cut(text, columns) == expected
    assert width(cut(text, columns)) <= max(columns, 1)
