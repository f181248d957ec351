"""The entry points: ``python -m cgt.train`` / ``cgt.predict`` / ``cgt.explain`` /
``cgt.report`` (cgt/train.py, ...) and the console scripts, all running the ``main`` of
:mod:`cgt.cli`."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import subprocess
import sys
import types
from pathlib import Path

import pytest

import cgt

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("cgt.predict", "--checkpoint"),
        ("cgt.train", "--trainer.max_epochs"),
        ("cgt.explain", "--kind"),
        ("cgt.report", "RUN_DIR"),
    ],
)
def test_help_of_python_dash_m_exits_0(module, expected):
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_cgt_predict_stays_a_function_after_the_command_lines_run():
    """Importing cgt.cli and running both ``__main__`` modules leaves ``cgt.predict`` the
    library function, in a fresh interpreter (no module shadows it)."""
    code = """
import inspect, runpy, sys
import cgt, cgt.cli.predict, cgt.cli.train, cgt.cli.explain, cgt.cli.report
for module in ("cgt.predict", "cgt.train", "cgt.explain", "cgt.report"):
    sys.argv = [module, "--help"]
    try:
        runpy.run_module(module, run_name="__main__")
    except SystemExit as exit:
        assert exit.code == 0, (module, exit.code)
    else:
        raise AssertionError(f"{module} --help did not exit")
import cgt.inference
print(inspect.isfunction(cgt.predict), cgt.predict is cgt.inference.predict)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "True True"


def test_cgt_predict_is_a_plain_function():
    assert inspect.isfunction(cgt.predict) and cgt.predict.__module__ == "cgt.inference"
    assert type(cgt) is types.ModuleType  # no module-class swap


def test_console_scripts_name_the_cli_mains():
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]
    assert scripts == {
        "cgt-train": "cgt.cli.train:main",
        "cgt-predict": "cgt.cli.predict:main",
        "cgt-explain": "cgt.cli.explain:main",
        "cgt-report": "cgt.cli.report:main",
    }
    for target in scripts.values():
        module, name = target.split(":")
        assert inspect.isfunction(getattr(importlib.import_module(module), name)), target


@pytest.mark.parametrize("module", ["cgt.train", "cgt.predict", "cgt.explain", "cgt.report"])
def test_entry_point_modules_define_nothing(module):
    """The ``__main__`` modules hold nothing to import: a docstring, then only
    ``if __name__ == "__main__":`` running the command line's ``main``."""
    path = Path(importlib.util.find_spec(module).origin)
    docstring, *rest = ast.parse(path.read_text()).body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    assert len(rest) == 1 and isinstance(rest[0], ast.If), path
    assert ast.unparse(rest[0].test) == "__name__ == '__main__'", path
    assert f"from cgt.cli.{module.split('.')[1]} import main" in ast.unparse(rest[0]), path
