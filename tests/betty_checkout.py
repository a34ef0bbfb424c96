"""A minimal Betty Framework checkout, shaped like the real one where our skill folder meets it.

What it holds is written after the framework's own files (github.com/epieczko/betty):
``betty/config.py`` computes ``BASE_DIR`` and ``TELEMETRY_FILE`` as the framework does;
``betty/skills/__init__.py`` registers a meta path finder that imports
``skills/<name>/__init__.py`` as the package ``betty.skills.<name>`` (with
``submodule_search_locations``); ``betty/telemetry_integration.py`` loads
``skills/telemetry.capture/telemetry_capture.py`` by path and calls
``create_telemetry_entry(...)`` then ``capture_telemetry(entry)``, swallowing any error, and
its ``telemetry_tracked`` records status ``failed``.
"""

from __future__ import annotations

from pathlib import Path

CONFIG = """\
import os

BETTY_HOME = os.environ.get(
    "BETTY_HOME", os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
)
BASE_DIR = BETTY_HOME
REGISTRY_DIR = os.path.join(BASE_DIR, "registry")
TELEMETRY_FILE = os.path.join(REGISTRY_DIR, "telemetry.json")
"""

# The framework's betty.skills finder, reduced to what our folder meets: a dotted skill folder
# name reached through namespace packages for its prefixes, then its __init__.py.
SKILLS_FINDER = """\
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

_SKILLS_ROOT = Path(__file__).resolve().parents[2] / "skills"
_PREFIX = __name__ + "."
_MARKER = "betty_skills_prefix:"


class _Namespace(importlib.abc.Loader):
    def __init__(self, prefix):
        self.prefix = prefix

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__path__ = [_MARKER + self.prefix]
        module.__package__ = module.__name__


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_PREFIX):
            return None
        suffix = fullname[len(_PREFIX):]
        prefix = ""
        for entry in path or ():
            if entry.startswith(_MARKER):
                prefix = entry[len(_MARKER):]
        candidate = suffix if not prefix or suffix.startswith(prefix) else prefix + "." + suffix
        skill_dir = _SKILLS_ROOT / candidate
        if skill_dir.is_dir():
            init_file = skill_dir / "__init__.py"
            if not init_file.exists():
                return None
            loader = importlib.machinery.SourceFileLoader(fullname, str(init_file))
            return importlib.util.spec_from_file_location(
                fullname, str(init_file), loader=loader,
                submodule_search_locations=[str(skill_dir)],
            )
        if any(p.name.startswith(candidate + ".") for p in _SKILLS_ROOT.iterdir()):
            spec = importlib.machinery.ModuleSpec(fullname, _Namespace(candidate), is_package=True)
            spec.submodule_search_locations = [_MARKER + candidate]
            return spec
        return None


sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
sys.meta_path.insert(0, _Finder())
__path__ = [_MARKER]
"""

TELEMETRY_INTEGRATION = """\
import functools
import importlib.util
import os
import time

parent_dir = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FAILURES = []


def capture_cli_telemetry(skill_name, inputs, status, duration_ms, agent=None, workflow=None,
                          caller="cli"):
    try:
        path = os.path.join(parent_dir, "skills", "telemetry.capture", "telemetry_capture.py")
        if not os.path.exists(path):
            return
        spec = importlib.util.spec_from_file_location("telemetry_capture", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        entry = module.create_telemetry_entry(
            skill_name=skill_name, inputs=inputs, status=status, duration_ms=duration_ms,
            agent=agent, workflow=workflow, caller=caller,
        )
        module.capture_telemetry(entry)
    except Exception as e:  # the framework swallows it (and logs at debug level)
        FAILURES.append(repr(e))


def telemetry_tracked(skill_name, caller="cli"):
    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            start_time = time.time()
            status = "failed"
            try:
                return_code = func(*args, **kwargs)
                status = "success" if return_code == 0 else "failed"
                return return_code
            finally:
                argv = args[0] if args and args[0] is not None else []
                capture_cli_telemetry(
                    skill_name=skill_name,
                    inputs={"arg_count": len(argv), "args": argv[:5]},
                    status=status,
                    duration_ms=int((time.time() - start_time) * 1000),
                    caller=caller,
                )
        return wrapper
    return decorator


def track_skill_execution(skill_name, func, inputs, workflow=None, agent=None,
                          caller="workflow"):
    start_time = time.time()
    status = "failed"
    try:
        result = func()
        status = "success"
        return result
    finally:
        capture_cli_telemetry(
            skill_name=skill_name, inputs=inputs, status=status,
            duration_ms=int((time.time() - start_time) * 1000),
            agent=agent, workflow=workflow, caller=caller,
        )
"""


def make_betty_checkout(root: Path) -> Path:
    """Write a Betty-shaped checkout at ``root`` (no skill folder yet) and return ``root``."""
    (root / "registry").mkdir(parents=True)
    (root / "skills").mkdir()
    (root / "skills" / "__init__.py").write_text("", encoding="utf-8")
    files = {
        "betty/__init__.py": "",
        "betty/config.py": CONFIG,
        "betty/skills/__init__.py": SKILLS_FINDER,
        "betty/telemetry_integration.py": TELEMETRY_INTEGRATION,
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
