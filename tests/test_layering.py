"""The import graph points down the layers of docs/design.md §6 only.

Every ``import`` and ``from ... import`` of every module of the package is read with
``ast`` (imports inside functions included), so a new upward arrow fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cgt

PACKAGE = Path(cgt.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The cgt modules a file imports (``from cgt.x import y`` counts as ``cgt.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return {name for name in found if name == "cgt" or name.startswith("cgt.")}


GRAPH = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def arrows(source: tuple[str, ...], target: tuple[str, ...]) -> list[tuple[str, str]]:
    return [
        (module, imported)
        for module, imported_set in GRAPH.items()
        if within(module, *source)
        for imported in sorted(imported_set)
        if within(imported, *target)
    ]


def test_the_graph_covers_the_package() -> None:
    assert {"cgt.packing", "cgt.model", "cgt.data.pairs", "cgt.nn.attention"} <= set(
        GRAPH
    )
    assert "cgt.packing" in GRAPH["cgt.data.pairs"]


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        (("cgt.packing", "cgt.errors", "cgt.version"), ("cgt.nn", "cgt.data", "cgt.kernels")),
        (("cgt.data",), ("cgt.nn", "cgt.kernels", "cgt.model")),
        (("cgt.nn", "cgt.kernels"), ("cgt.data", "cgt.model")),
    ],
)
def test_lower_layers_do_not_import_upper_ones(lower, upper) -> None:
    assert arrows(lower, upper) == []


def test_only_the_command_lines_import_the_system_and_the_command_lines() -> None:
    entry_points = ("cgt.cli", "cgt.train", "cgt.predict", "cgt.explain", "cgt.report")
    below = tuple(m for m in GRAPH if not within(m, *entry_points) and m != "cgt")
    assert arrows(below, ("cgt.system", *entry_points)) == []


def test_no_module_imports_the_package_root() -> None:
    """``import cgt`` from inside the package is an upward arrow to everything."""
    assert [module for module, imported in GRAPH.items() if "cgt" in imported] == []
