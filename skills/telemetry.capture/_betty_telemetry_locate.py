"""Find the ``betty_telemetry`` package for the skill folder, and tell it where the folder sits.

The folder's modules call ``locate(their_folder)`` before importing the package, however they
were loaded (run as a script, loaded by path, imported as a package, or from ``sys.path``).
The package is taken from, in order:

1. ``_vendor/betty_telemetry`` in the folder: the copy ``betty-telemetry install-skill``
   ships, so a Betty checkout needs nothing installed;
2. an installed ``betty_telemetry`` (``pip install betty-telemetry``);
3. ``../../src/betty_telemetry`` beside the folder's real location: a betty-telemetry
   checkout (and only one: in a Betty checkout, ``../../src`` is Betty's own code).

One module for all of them, so the order is written once. The wheel installs it at top level
beside the two compatibility modules, where it finds the installed package.
"""

from __future__ import annotations

import importlib.util
import os
import sys

PACKAGE = "betty_telemetry"


def locate(folder: str) -> None:
    """Make ``betty_telemetry`` importable for the skill folder ``folder`` and register the
    folder, so entries default to the registry of the Betty checkout it sits in.

    Raises ImportError, saying what to do, when no copy of the package is found."""
    if PACKAGE not in sys.modules:
        _make_importable(folder)
    from betty_telemetry._config import use_skill_folder

    use_skill_folder(folder)


def _make_importable(folder: str) -> None:
    vendored = os.path.join(folder, "_vendor")
    if _holds_package(vendored):
        _put_first(vendored)
        return
    if importlib.util.find_spec(PACKAGE) is not None:
        return
    # The real location: a folder symlinked into a project still finds its checkout's src/.
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(folder))), "src")
    if _holds_package(source):
        _put_first(source)
        return
    raise ImportError(
        f"The telemetry.capture skill in {folder} cannot find the betty_telemetry package: "
        f"not in {vendored} (the copy the folder ships when installed with "
        f"'betty-telemetry install-skill'), not installed for {sys.executable}, and not in "
        f"{source}. Install the folder with its copy: 'pip install betty-telemetry' anywhere, "
        f"then 'betty-telemetry install-skill /path/to/betty' (or copy the folder that "
        f"'make skill-folder' builds); or 'pip install betty-telemetry' in this environment.",
        name=PACKAGE,
    )


def _holds_package(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, PACKAGE, "__init__.py"))


def _put_first(folder: str) -> None:
    if folder not in sys.path:
        sys.path.insert(0, folder)
