"""``nox -s typecheck`` checks, strictly, every package and example app that pyproject.toml holds to ``strict``.

The strict list named the example apps (``erlen_profiles``, ``notes_app``) while the session ran mypy on the
distributions' folders alone, so the examples were never checked.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _mypy_config() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return dict(tomllib.load(fh)["tool"]["mypy"])


def _strict_packages() -> set[str]:
    overrides = _mypy_config().get("overrides", [])
    assert isinstance(overrides, list)
    modules = {name for override in overrides if override.get("strict") for name in override["module"]}
    return {name for name in modules if "." not in name and "*" not in name}


def _checked_packages() -> set[str]:
    """The packages in the folders mypy checks when run bare (``files``)."""
    files = _mypy_config().get("files")
    assert isinstance(files, list), "pyproject.toml's [tool.mypy] names no files: a bare mypy checks nothing"
    return {
        package.name
        for pattern in files
        for folder in ROOT.glob(pattern)
        for package in folder.iterdir()
        if (package / "__init__.py").is_file()
    }


def test_every_package_and_example_app_is_checked_and_strict() -> None:
    packages = {
        package.name
        for source in [ROOT / "core" / "src", *ROOT.glob("extensions/*/src"), *ROOT.glob("examples/*/src")]
        for package in source.iterdir()
        if (package / "__init__.py").is_file()
    }
    assert {"erlen", "erlen_admin", "erlen_profiles", "notes_app"} <= packages
    assert _checked_packages() == packages
    assert _strict_packages() == packages


def test_the_typecheck_session_runs_mypy_on_those_files() -> None:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    (session,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "typecheck"]
    runs = [
        node
        for node in ast.walk(session)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "run"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == "mypy"
    ]
    # Bare: the folders come from pyproject.toml's files, checked above.
    assert [len(run.args) for run in runs] == [1]
    installed = ast.unparse(session)
    assert "EXAMPLES_WITH_TESTS" in installed, "the examples' imports (erlen_profiles) must be installed to check"
