"""The third-party plugin ``examples/profiles`` (erlen-profiles): published like any plugin, public API only.

It must be installed (``pip install ./examples/profiles[test]``), as a user
would install it from an index; the tests then run its own test suite.
"""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "profiles"

pytest.importorskip("erlen_profiles", reason="erlen-profiles is not installed: pip install ./examples/profiles[test]")

#: The modules a third-party plugin may import from Erlen's distributions: their top-level packages.
PUBLIC = {"erlen", "erlen_db", "erlen_forms", "erlen_auth", "erlen_mail", "erlen_migrate", "erlen_admin", "erlen_api"}


def test_it_is_installed_as_a_distribution_with_an_entry_point() -> None:
    distribution = importlib.metadata.distribution("erlen-profiles")
    (entry_point,) = [ep for ep in distribution.entry_points if ep.group == "erlen.plugins"]
    assert (entry_point.name, entry_point.value) == ("profiles", "erlen_profiles.plugin")
    with (PLUGIN / "pyproject.toml").open("rb") as fh:
        assert tomllib.load(fh)["project"]["version"] == distribution.version


def test_the_example_app_enables_it_by_name_only() -> None:
    with (ROOT / "examples" / "notes" / "src" / "notes_app" / "erlen.toml").open("rb") as fh:
        assert "profiles" in tomllib.load(fh)["plugins"]
    app_code = "\n".join(p.read_text() for p in (ROOT / "examples" / "notes").rglob("*.py"))
    assert "erlen_profiles" not in app_code


def test_it_imports_only_the_public_api() -> None:
    for path in sorted((PLUGIN / "src" / "erlen_profiles").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top.startswith("erlen"):
                    assert module in PUBLIC, f"{path.relative_to(ROOT)} imports {module}, which is not public API"


def test_its_own_test_suite_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=PLUGIN,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
