"""The documentation's links: MkDocs, in strict mode with mkdocs.yml's validation settings,
refuses a link to a missing page or anchor (shown here on a tiny copy of the site, so the
check is known to fail when it should); the README, outside the site, has its relative links
checked here; and every page is in the nav. `make docs` builds the real site."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # MkDocs' own dependency
from markdown.extensions.toc import slugify

REPO = Path(__file__).resolve().parents[1]
MKDOCS = [sys.executable, "-m", "mkdocs", "build", "--strict"]
LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^ *(```|~~~).*?^ *\1", re.M | re.S)


def site_config() -> dict[str, object]:
    # mkdocs.yml has no custom YAML tags; a plain safe load reads it.
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def build_tiny_site(tmp_path: Path, pages: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """mkdocs.yml's settings (theme, extensions, strictness, validation) over other pages;
    without mkdocstrings, whose API page is not among them."""
    config = site_config()
    config["docs_dir"] = str(tmp_path / "docs")
    config["site_dir"] = str(tmp_path / "site")
    config["nav"] = [{name: name} for name in pages]
    config["plugins"] = ["search"]
    (tmp_path / "docs").mkdir()
    for name, text in pages.items():
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return subprocess.run(
        [*MKDOCS, "-f", str(tmp_path / "mkdocs.yml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


GOOD = {
    "index.md": "# Home\n\n## Install\n\nSee [the guide](guide.md#the-store).\n",
    "guide.md": "# Guide\n\n## The store\n\nBack [home](index.md#install).\n",
}


def test_the_tiny_site_builds_when_its_links_hold(tmp_path: Path) -> None:
    done = build_tiny_site(tmp_path, GOOD)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("link", "says"),
    [
        ("[gone](missing.md)", "missing.md"),
        ("[bad anchor](guide.md#no-such-heading)", "no-such-heading"),
        ("[bad anchor here](#nowhere)", "nowhere"),
    ],
)
def test_a_broken_link_fails_the_build(tmp_path: Path, link: str, says: str) -> None:
    pages = {**GOOD, "index.md": GOOD["index.md"] + f"\n{link}\n"}
    done = build_tiny_site(tmp_path, pages)
    assert done.returncode != 0
    assert says in done.stderr


def headings_anchors(path: Path) -> set[str]:
    """The anchors MkDocs gives the headings of a page (its toc extension's slugs)."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = slugify(re.sub(r"`([^`]*)`", r"\1", heading), "-")
        n = 0
        candidate = slug
        while candidate in anchors:
            n += 1
            candidate = f"{slug}_{n}"
        anchors.add(candidate)
    return anchors


def test_the_readme_links_only_to_files_and_anchors_that_exist() -> None:
    text = FENCE.sub("", (REPO / "README.md").read_text(encoding="utf-8"))
    targets = [a or b for a, b in LINK.findall(text)]
    relative = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert len(relative) > 20
    broken = []
    for target in relative:
        path, _, anchor = target.partition("#")
        file = REPO / path if path else REPO / "README.md"
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and anchor not in headings_anchors(file):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, broken


def test_the_readme_shows_the_report_screenshot() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "](docs/report.png)" in readme
    assert (REPO / "docs" / "report.png").stat().st_size > 10_000


def test_every_page_is_in_the_nav() -> None:
    def pages(nav: object) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [p for item in nav for p in pages(item)]
        if isinstance(nav, dict):
            return [p for value in nav.values() for p in pages(value)]
        return []

    listed = set(pages(site_config()["nav"]))
    present = {str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md")}
    assert listed == present
