"""``betty-telemetry install-skill``: the Betty skill folder, self-contained, in a checkout.

The folder (``skills/telemetry.capture/``: ``SKILL.md``, ``skill.yaml``, the compatibility
modules) is copied with this very ``betty_telemetry`` package inside it, in ``_vendor/``, so
the checkout runs it with nothing installed (``_betty_telemetry_locate`` looks there first).
The package is pure Python: the copy works with any Python 3.10+ on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from betty_telemetry import __version__
from betty_telemetry._config import DEFAULT_RELATIVE_PATH, looks_like_betty_checkout
from betty_telemetry.cli.subcommands import subcommand

EXIT_OK = 0
SKILL = "telemetry.capture"
VENDOR = "_vendor"
BACKUPS = ".betty-telemetry-backup"
"""Where a replaced folder goes, at the checkout's top: not in ``skills/``, where the
framework would take the copy for a second skill of the same name."""
_PACKAGE = Path(__file__).resolve().parents[1]
# Never copied: bytecode (made again where it runs), a vendored copy inside the source, and
# the skill folder the wheel carries inside the package for this command.
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", VENDOR, "_skill")
_COMPILED = ("*.so", "*.pyd", "*.dylib")

INSTALL_EXAMPLES = """\
examples:
  betty-telemetry install-skill ~/src/betty --dry-run   # say what it would do
  betty-telemetry install-skill ~/src/betty             # then run it from the checkout:
  python ~/src/betty/skills/telemetry.capture/telemetry_capture.py plugin.build success 320 CLI
  betty-telemetry install-skill --output dist/telemetry.capture   # a folder to copy by hand

An existing skills/telemetry.capture/ is first moved to .betty-telemetry-backup/ in the checkout.
"""


def add_install_skill_command(commands: Any) -> None:
    summary = "install the Betty skill folder, with this package inside it, in a Betty checkout"
    install = subcommand(commands, "install-skill", summary, INSTALL_EXAMPLES)
    install.add_argument(
        "checkout",
        nargs="?",
        metavar="BETTY_CHECKOUT",
        help="top folder of a Betty Framework checkout (holding skills/ and betty/config.py)",
    )
    install.add_argument(
        "--output",
        metavar="FOLDER",
        help="write the self-contained folder here instead (a new folder), to copy by hand",
    )
    install.add_argument(
        "--dry-run", action="store_true", help="say what would be done, change nothing"
    )
    install.set_defaults(handler=_install_skill_command, parser=install)


def build_skill_folder(destination: Path) -> int:
    """Write the self-contained skill folder at ``destination`` (which must not exist):
    the folder's files, and this package in ``_vendor/betty_telemetry``. Returns the number
    of files written."""
    try:
        shutil.copytree(skill_source(), destination, ignore=_IGNORE)
        shutil.copytree(_PACKAGE, destination / VENDOR / "betty_telemetry", ignore=_IGNORE)
    except shutil.Error as exc:  # copytree's list of (source, destination, why), made readable
        failed = exc.args[0]
        source, _, why = failed[0]
        raise OSError(
            f"could not copy {source}: {why} ({len(failed)} file(s) failed); nothing was installed"
        ) from None
    return sum(1 for path in destination.rglob("*") if path.is_file())


def skill_source() -> Path:
    """The skill folder this package came with: inside the package in a wheel (``_skill``),
    else beside ``src/`` in a betty-telemetry checkout."""
    for candidate in (_PACKAGE / "_skill", _PACKAGE.parents[1] / "skills" / SKILL):
        if (candidate / "telemetry_capture.py").is_file():
            return candidate
    raise ValueError(
        f"this copy of betty_telemetry ({_PACKAGE}) came without the skill folder: "
        "run the command from an installed wheel (pip install betty-telemetry) or from a "
        "betty-telemetry checkout"
    )


def _install_skill_command(options: argparse.Namespace) -> int:
    if (options.checkout is None) == (options.output is None):
        options.parser.error("give either BETTY_CHECKOUT or --output FOLDER (one of them)")
    _check_pure_python()
    if options.output is not None:
        return _write_folder(Path(options.output).expanduser().absolute(), options.dry_run)
    return _install(Path(options.checkout).expanduser().absolute(), options.dry_run)


def _check_pure_python() -> None:
    compiled = [str(path) for pattern in _COMPILED for path in _PACKAGE.rglob(pattern)]
    if compiled:
        raise ValueError(
            f"this copy of betty_telemetry holds compiled files ({', '.join(compiled)}), "
            "which would tie the folder to this machine: install betty-telemetry from its "
            "pure-Python wheel and run the command again"
        )


def _write_folder(output: Path, dry_run: bool) -> int:
    if output.exists() or output.is_symlink():
        raise ValueError(f"{output} already exists: remove it or name a new folder")
    if dry_run:
        print(f"Would write the {SKILL} skill folder ({_describe()}) to {output}")
        print("Nothing was changed (--dry-run).")
        return EXIT_OK
    try:
        count = build_skill_folder(output)
    except BaseException:
        shutil.rmtree(output, ignore_errors=True)
        raise
    print(f"✓ Wrote the {SKILL} skill folder ({_describe()}, {count} files) to {output}")
    print(f"Copy it to skills/{SKILL}/ of a Betty checkout; it needs nothing installed there.")
    return EXIT_OK


def _install(checkout: Path, dry_run: bool) -> int:
    _check_checkout(checkout)
    target = checkout / "skills" / SKILL
    backup = _backup_path(checkout) if target.exists() or target.is_symlink() else None
    verb = "Would install" if dry_run else "Installing"
    print(f"{verb} the {SKILL} skill folder ({_describe()}) in {target}")
    if backup is not None:
        print(f"{'Would move' if dry_run else 'Moving'} the folder there now to {backup}")
    if dry_run:
        print("Nothing was changed (--dry-run).")
        return EXIT_OK
    _replace(target, backup)
    print(f"✓ Installed. Entries go to {checkout / DEFAULT_RELATIVE_PATH} by default.")
    return EXIT_OK


def _check_checkout(checkout: Path) -> None:
    what = "the top folder of a Betty Framework checkout (the one holding skills/ and betty/)"
    if not checkout.is_dir():
        raise ValueError(f"{checkout} is not a folder: give {what}")
    if not (checkout / "skills").is_dir() or not looks_like_betty_checkout(checkout):
        raise ValueError(
            f"{checkout} does not look like a Betty Framework checkout (it needs a skills/ "
            f"folder, and betty/config.py or a registry/ folder): give {what}, or write the "
            "folder elsewhere with --output FOLDER and copy it by hand"
        )


def _backup_path(checkout: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup, number = checkout / BACKUPS / f"{SKILL}-{stamp}", 1
    while backup.exists() or backup.is_symlink():
        number += 1
        backup = checkout / BACKUPS / f"{SKILL}-{stamp}-{number}"
    return backup


def _replace(target: Path, backup: Path | None) -> None:
    """Build the new folder beside the old one, then swap them in two renames: a failure
    while copying leaves the old folder untouched, one between the renames puts it back."""
    staging = Path(tempfile.mkdtemp(prefix=f".{SKILL}.new-", dir=target.parent))
    try:
        build_skill_folder(staging / SKILL)
        if backup is not None:
            backup.parent.mkdir(exist_ok=True)
            os.rename(target, backup)
        try:
            os.rename(staging / SKILL, target)
        except BaseException:
            if backup is not None:
                os.rename(backup, target)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _describe() -> str:
    return f"betty_telemetry {__version__} inside it, pure Python"
