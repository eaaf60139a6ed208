"""The layers of docs/design.md hold in the code: each imports only from the layers it builds on,
and no module reaches into another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "analysis_lib"
# each layer and the layers it may import from (docs/design.md, "The layers")
ALLOWED = {
    "toolkit": {"toolkit"},
    "trial": {"toolkit", "trial"},
    "pipeline": {"toolkit", "trial", "pipeline"},
    "synthetic": {"toolkit", "trial", "synthetic"},
}
# the one command line is the front door of every layer: `csr generate` runs the generator
FRONT_DOOR = {("pipeline", "cli.py"): {"synthetic"}}
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0]


def _imports(tree: ast.AST) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every ``import`` / ``from ... import`` of analysis_lib."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analysis_lib"):
            found.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("analysis_lib")]
    return found


def test_every_module_is_in_a_known_layer():
    assert {_layer(p) for p in MODULES} == set(ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    layer = _layer(path)
    allowed = ALLOWED[layer] | FRONT_DOOR.get((layer, path.name), set())
    for module, names, line in _imports(tree):
        parts = module.split(".")
        targets = [parts[1]] if len(parts) > 1 else names  # `from analysis_lib import toolkit`
        for target in targets:
            assert target in allowed, f"{path.name}:{line}: layer {layer!r} imports {module} ({target})"
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        assert not private, f"{path.name}:{line}: imports private names {private} from {module}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_uses_another_modules_private_names(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {
        a.asname or a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("analysis_lib")
        for a in n.names
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            raise AssertionError(f"{path.name}:{node.lineno}: uses {node.value.id}.{node.attr}")
