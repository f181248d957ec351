import subprocess
import sys

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
