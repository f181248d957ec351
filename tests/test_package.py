import ast
import subprocess
import sys
from pathlib import Path

import cgt


def test_public_names_resolve():
    for name in cgt.__all__:
        assert getattr(cgt, name) is not None, name
    assert issubclass(cgt.InvalidSmilesError, ValueError)


def test_layer_import_needs_neither_rdkit_nor_lightning():
    code = (
        "import sys\n"
        "from cgt import ChromaticSelfAttention\n"
        "ChromaticSelfAttention(8, heads=2)\n"
        "print(sorted(m for m in ('rdkit', 'lightning') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_name_is_an_attribute_error():
    try:
        cgt.does_not_exist  # noqa: B018
    except AttributeError as err:
        assert "does_not_exist" in str(err)
    else:
        raise AssertionError("expected AttributeError")


def test_all_lists_every_export():
    assert sorted(cgt.__all__) == sorted([*cgt._EXPORTS, "__version__"])


def test_type_checking_imports_match_the_lazy_exports():
    """The ``if TYPE_CHECKING:`` imports of cgt/__init__.py name exactly the keys of
    ``_EXPORTS``, each from the module ``_EXPORTS`` gives (and ``__all__`` is derived from
    ``_EXPORTS``), so the lists cannot drift apart."""
    tree = ast.parse(Path(cgt.__file__).read_text())
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    assert len(blocks) == 1
    imported = {}
    for statement in blocks[0].body:
        assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
        for alias in statement.names:
            assert alias.asname in (None, alias.name), ast.unparse(statement)
            assert alias.name not in imported, alias.name
            imported[alias.name] = statement.module
    assert imported == cgt._EXPORTS


def test_exports_are_defined_where_the_table_says():
    for name, module in cgt._EXPORTS.items():
        assert getattr(cgt, name).__module__ == module, name
