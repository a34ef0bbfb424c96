"""The layout holds: no import cycles, layers import only downwards, no file format is known
outside ``stores/``, and global state lives in ``_config`` alone."""

from __future__ import annotations

import ast

import pytest

from tests.import_graph import cycles, import_graph, module_files

PACKAGE = "betty_telemetry"
# What each layer may import from the package (besides itself and the shared helpers).
ALLOWED = {
    "model": {"model"},
    # The settings file: found and read, never kept (``_config`` keeps it); beside the model.
    "settings": {"settings"},
    "redaction": {"redaction", "_safety", "_hashing"},
    "stores": {"stores", "model", "_config", "_lazy"},
    "read": {"read", "model", "stores.base"},
    # A store's whole life: rotation (later retention, conversion, checks), over the seam.
    "lifecycle": {"lifecycle", "model", "stores", "read"},
    "capture": {
        "capture",
        "model",
        "stores",
        "read",
        "lifecycle",
        "redaction",
        "_config",
        "_safety",
        "report",
    },
    "cli": {
        "cli",
        "capture",
        "model",
        "read",
        "lifecycle",
        "stores",
        "_config",
        "_safety",
        "hooks",
        "report",
        "settings",
        PACKAGE,
    },
    # The HTML report and its live view: a read of a store, drawn; beside the CLI.
    "report": {"report", "read", "model", "stores.base", PACKAGE},
    # Claude Code's hooks: documents to runs, over capture's pipeline and the stores' seam.
    "hooks": {"hooks", "capture", "model", "_config", "_hashing"},
    # The OpenTelemetry bridge: entries to spans, over the stores' seam; capture imports it
    # only when an export is asked for (never at import time).
    "export": {"export", "model", "stores", "_config", "_safety"},
    # Test doubles for users' tests: beside the CLI, on top of capture and the stores.
    "testing": {"testing", "capture", "stores", "model", "_config"},
}
# The public faces of the stores: everything else under stores/ is a format's private matter.
STORE_FACES = {f"{PACKAGE}.stores", f"{PACKAGE}.stores.base"}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = []
    for module, targets in import_graph().items():
        if _layer(module) != layer:
            continue
        for target in targets:
            target_path = target if target == PACKAGE else target.removeprefix(f"{PACKAGE}.")
            if not any(target_path.startswith(allowed) for allowed in ALLOWED[layer]):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_nothing_outside_the_stores_knows_a_file_format() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if _layer(module) != "stores"
        for target in targets
        if _layer(target) == "stores" and target not in STORE_FACES
    ]
    assert wrong == []


def test_the_configuration_module_imports_only_the_model_the_redaction_rules_and_settings() -> None:
    targets = import_graph()[f"{PACKAGE}._config"]
    assert {_layer(target) for target in targets} <= {"model", "redaction", "settings"}


def test_no_module_but_the_configuration_rebinds_a_global() -> None:
    rebinding = []
    for module, path in module_files().items():
        if module == f"{PACKAGE}._config":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Global):
                rebinding.append(f"{module}: global {', '.join(node.names)}")
    assert rebinding == []
