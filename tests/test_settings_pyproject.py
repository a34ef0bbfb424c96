"""Which pyproject.toml files are parsed for our table, and how much of them: never passing
over one that defines it, and reading the same settings as a parse of the whole file."""

from __future__ import annotations

import pytest

from betty_telemetry.settings.files import may_hold_our_table, our_table_text, toml_reader

DEFINING = [
    "[tool.betty-telemetry]\nfile = 'a'\n",
    "[ tool . 'betty-telemetry' ]  # ours\nfile = 'a'\n",
    '[tool."betty-telemetry"]\nfile = "a"\n',
    "[tool]\nbetty-telemetry = { file = 'a' }\n",
    "[tool]\n'betty-telemetry' . file = 'a'\n",
    "tool.betty-telemetry.file = 'a'\n",
    'tool = { "betty-telemetry" = { file = "a" } }\n',
    "[tool.betty-telemetry.sub]\nx = 1\n",
    "[[tool.betty-telemetry]]\nfile = 'a'\n",
]
NOT_DEFINING = [
    '[project]\nname = "betty-telemetry"\ndependencies = ["betty-telemetry>=1"]\n',
    '[project]\ndependencies = [\n    "betty-telemetry[otel]>=1",\n]\n',
    '[tool.poetry.dependencies]\nbetty-telemetry = "^1.0"\n',
    '[project.scripts]\nbetty-telemetry = "betty_telemetry.cli.main:main"\n',
    "# [tool.betty-telemetry]\n# file = 'a'\n",
    "[tool.ruff]\nline-length = 100\n",
]


@pytest.mark.parametrize("text", DEFINING)
def test_a_file_that_defines_the_table_is_never_passed_over(text: str) -> None:
    parsed = toml_reader().loads(text)
    assert "betty-telemetry" in parsed["tool"]  # the cases are real definitions
    assert may_hold_our_table(text.encode())


@pytest.mark.parametrize("text", NOT_DEFINING)
def test_a_file_that_only_names_the_package_is_passed_over(text: str) -> None:
    assert "betty-telemetry" not in toml_reader().loads(text).get("tool", {})
    assert not may_hold_our_table(text.encode())


def test_a_broken_header_is_sent_to_the_parse_to_be_reported() -> None:
    assert may_hold_our_table(b"[tool.betty-telemetry\nfile = 3\n")


PYPROJECT = """\
[project]
name = "demo"
dependencies = ["betty-telemetry>=1"]

[tool.betty-telemetry]
file = "var/t.jsonl"   # relative to this folder
lock_timeout = 2.5
secret = '''
not a [header]
'''

[tool.ruff]
line-length = 100
"""


def test_only_the_tables_lines_are_read_and_they_say_what_the_whole_file_says() -> None:
    text = our_table_text(PYPROJECT.encode())
    assert text is not None
    assert text.decode().startswith('file = "var/t.jsonl"')
    assert "line-length" not in text.decode()
    whole = toml_reader().loads(PYPROJECT)["tool"]["betty-telemetry"]
    assert toml_reader().loads(text.decode()) == whole


@pytest.mark.parametrize(
    "text",
    [
        "[tool.betty-telemetry]\nfile = 'a'\n[tool.betty-telemetry.sub]\nx = 1\n",
        "[tool.betty-telemetry]\nfile = 'a'\n[tool.betty-telemetry]\nfile = 'b'\n",
        "tool.betty-telemetry.x = 1\n[tool.betty-telemetry]\nfile = 'a'\n",
        "[tool]\nbetty-telemetry = { file = 'a' }\n",
        'dependencies = ["betty-telemetry"]\n',
    ],
)
def test_any_other_spelling_leaves_the_reading_to_the_whole_file(text: str) -> None:
    assert our_table_text(text.encode()) is None


def test_a_value_line_that_starts_like_a_header_cuts_the_text_and_its_parse_fails() -> None:
    text = our_table_text(b"[tool.betty-telemetry]\nsecret_keys = [\n[1],\n]\n")
    assert text == b"secret_keys = [\n"
    with pytest.raises(toml_reader().TOMLDecodeError):
        toml_reader().loads(text.decode())
