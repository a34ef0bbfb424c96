"""The code examples of README.md and docs/**/*.md, as the snippet test runs them.

Every fenced block in ``python``, or in ``bash``/``sh``/``shell``/``console``, is a snippet,
run as written. An HTML comment on the line right above the fence (invisible once rendered)
says how, when the default does not fit; docs/development.md lists these markers for writers:

    <!-- snippet: continues -->           the program is the previous snippet of the same
                                          language in the same file, then this one
    <!-- snippet: fresh -->               run in an empty folder (by default the folder holds
                                          ./registry/telemetry.json with a few runs in it)
    <!-- snippet: needs NAME -->          something the test prepares first (NEEDS below)
    <!-- snippet: pytest -->              a Python test module: run by pytest, which must pass
                                          (and collect at least one test)
    <!-- snippet: runs-until-stopped -->  a command that runs until Ctrl-C: started, checked
                                          to be running (and its printed http:// address to
                                          answer), then interrupted
    <!-- snippet: skip REASON -->         not run; REASON is required

Several markers stack, one comment each, on the lines right above the fence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PYTHON = "python"
SHELL = "shell"
LANGUAGES = {"python": PYTHON, "py": PYTHON, "bash": SHELL, "sh": SHELL, "shell": SHELL}
# ```console blocks hold prompts and output: a page must write output in ```text instead.
REFUSED_LANGUAGES = {"console", "shell-session", "pycon"}

# What a `needs NAME` marker can ask for (prepared by tests/test_snippets.py).
NEEDS = {
    "betty-checkout": "a Betty checkout at ~/src/betty (skills/, registry/, betty/config.py)",
    "otlp-receiver": "an OTLP/HTTP receiver on loopback, OTEL_EXPORTER_OTLP_ENDPOINT set to it",
    "claude-session": "a Claude Code session recorded in ./registry/telemetry.json by the hook",
}

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)\s*(?P<info>[^\s`]*)")
_MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(?P<kind>[a-z-]+)\s*(?P<arg>.*?)\s*-->\s*$")
KINDS = {"continues", "fresh", "needs", "pytest", "runs-until-stopped", "skip"}


class SnippetMarkupError(ValueError):
    """A page's markup the snippet test cannot honour: it says where and what to write."""


@dataclass(frozen=True)
class Snippet:
    """One fenced example: where it is, its code, and how to run it."""

    path: str  # relative to the repository
    line: int  # of the opening fence, 1-based
    language: str  # PYTHON or SHELL
    code: str
    program: str  # the code run: with the snippets it continues, in order
    skip: str | None = None
    fresh: bool = False
    until_stopped: bool = False
    pytest: bool = False
    needs: tuple[str, ...] = field(default_factory=tuple)

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


def documentation_files(repo: Path = REPO) -> list[Path]:
    """README.md and every page under docs/."""
    return [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))]


def snippets_of(path: Path, repo: Path = REPO) -> list[Snippet]:
    """The snippets of one Markdown file, in order; refuses markup it cannot honour."""
    name = str(path.relative_to(repo))
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Snippet] = []
    last: dict[str, Snippet] = {}
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = _closing_line(lines, i, opening.group("fence"), name)
        info = opening.group("info").lower()
        if info in REFUSED_LANGUAGES:
            raise SnippetMarkupError(
                f"{name}:{i + 1}: a ```{info} block: write commands in ```bash (run by the "
                "snippet test) and their output in ```text"
            )
        markers = _markers_above(lines, i, name)
        language = LANGUAGES.get(info)
        if language is None:
            if markers:
                raise SnippetMarkupError(
                    f"{name}:{i + 1}: a snippet marker above a ```{info} block"
                )
            i = end + 1
            continue
        indent = len(opening.group("indent"))
        code = "\n".join(line[indent:] for line in lines[i + 1 : end]) + "\n"
        snippet = _snippet(name, i + 1, language, code, markers, last.get(language))
        found.append(snippet)
        last[language] = snippet
        i = end + 1
    return found


def all_snippets(repo: Path = REPO) -> list[Snippet]:
    return [s for path in documentation_files(repo) for s in snippets_of(path, repo)]


def _closing_line(lines: list[str], start: int, fence: str, name: str) -> int:
    for j in range(start + 1, len(lines)):
        if lines[j].strip() == fence:
            return j
    raise SnippetMarkupError(f"{name}:{start + 1}: a fence that is never closed")


def _markers_above(lines: list[str], fence_index: int, name: str) -> list[tuple[str, str]]:
    markers: list[tuple[str, str]] = []
    j = fence_index - 1
    while j >= 0 and "<!--" in lines[j] and "snippet" in lines[j]:
        match = _MARKER.match(lines[j])
        if not match or match.group("kind") not in KINDS:
            raise SnippetMarkupError(
                f"{name}:{j + 1}: not a snippet marker: {lines[j].strip()!r}; write "
                f"<!-- snippet: KIND --> with KIND one of {', '.join(sorted(KINDS))}"
            )
        markers.insert(0, (match.group("kind"), match.group("arg")))
        j -= 1
    return markers


def _snippet(
    name: str,
    line: int,
    language: str,
    code: str,
    markers: list[tuple[str, str]],
    previous: Snippet | None,
) -> Snippet:
    kinds = [kind for kind, _ in markers]
    where = f"{name}:{line}"
    program = code
    if "continues" in kinds:
        if previous is None:
            raise SnippetMarkupError(f"{where}: 'continues', but no {language} snippet before it")
        program = previous.program + "\n" + code
    skip = next((arg for kind, arg in markers if kind == "skip"), None)
    if "skip" in kinds and not skip:
        raise SnippetMarkupError(f"{where}: 'skip' needs a reason: <!-- snippet: skip REASON -->")
    needs = tuple(arg for kind, arg in markers if kind == "needs")
    for need in needs:
        if need not in NEEDS:
            raise SnippetMarkupError(f"{where}: 'needs {need}': known are {', '.join(NEEDS)}")
    if "runs-until-stopped" in kinds and language != SHELL:
        raise SnippetMarkupError(f"{where}: 'runs-until-stopped' is for shell snippets")
    if "pytest" in kinds and language != PYTHON:
        raise SnippetMarkupError(f"{where}: 'pytest' is for Python snippets")
    fresh = "fresh" in kinds
    if "continues" in kinds and previous is not None:  # it runs where the one before ran
        needs = tuple(dict.fromkeys((*previous.needs, *needs)))
        fresh = fresh or previous.fresh
    return Snippet(
        path=name,
        line=line,
        language=language,
        code=code,
        program=program,
        skip=skip,
        fresh=fresh,
        until_stopped="runs-until-stopped" in kinds,
        pytest="pytest" in kinds,
        needs=needs,
    )
