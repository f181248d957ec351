"""cgt.data's public names, and its RDKit-free part."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cgt.data


def test_every_public_name_resolves() -> None:
    for name in cgt.data.__all__:
        assert getattr(cgt.data, name) is not None, name
    assert set(cgt.data.__all__) <= set(dir(cgt.data))


def test_no_module_shadows_an_exported_name() -> None:
    """Importing a submodule binds its name on the package: a module named like an exported
    function would replace that function once anything imported the module."""
    modules = {path.stem for path in Path(cgt.data.__file__).parent.glob("*.py")}
    assert modules & set(cgt.data._EXPORTS) == set()


def test_type_checking_imports_match_the_export_table() -> None:
    """The static imports (for type checkers and IDEs) name each export from its module."""
    tree = ast.parse(Path(cgt.data.__file__).read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imported = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == cgt.data._EXPORTS


def test_graphs_and_pair_features_without_rdkit() -> None:
    """Training from processed graphs (e.g. on a GPU machine) must not need RDKit."""
    code = """
import sys
sys.modules["rdkit"] = None  # any "import rdkit..." now fails
import numpy as np, torch
from cgt.data import GraphStore, MolGraph, pair_features
graph = {
    "edge_index": np.array([[0, 1], [1, 0]]), "bond_type": np.array([1, 1]),
    "atom_type": np.array([0, 1]), "ring_index": np.zeros((2, 0), dtype=np.int64),
    "ring_size": np.zeros(0, dtype=np.int64), "ring_aromatic": np.zeros(0, dtype=bool),
    "cycle_index": np.zeros((2, 0), dtype=np.int64), "cycle_size": np.zeros(0, dtype=np.int64),
    "num_nodes": np.array(2),
}
store = GraphStore(GraphStore.collate([graph, graph], ["CO", "CO"], np.zeros((2, 1)), [0, 1]))
features = pair_features(store.batch([0, 1]), 3)
assert features.kind.tolist() == [0, 2, 2, 0] * 2, features.kind
try:
    import cgt.data.smiles_to_graph
except ImportError:
    print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
