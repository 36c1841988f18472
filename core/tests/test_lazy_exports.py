"""erlen.lazy_exports: a package's names imported from their module when first read, then kept."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"lazy_pkg_{tmp_path.name.replace('-', '_')}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text(
        "import erlen\n"
        "READS = []\n"
        f"__getattr__ = erlen.lazy_exports(__name__, {{'heavy': '{name}.heavy', 'Other': '{name}.heavy', "
        f"'renamed': '{name}.heavy:heavy'}})\n"
    )
    (tmp_path / name / "heavy.py").write_text("def heavy():\n    return 'loaded'\nclass Other:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [module for module in sys.modules if module.startswith(name)]:
        del sys.modules[module]


def test_a_name_is_imported_on_first_read_then_kept(package: str) -> None:
    module = __import__(package)
    assert f"{package}.heavy" not in sys.modules
    assert module.heavy() == "loaded"
    assert f"{package}.heavy" in sys.modules
    assert "heavy" in vars(module)  # kept on the package: the next read is a plain attribute read
    assert module.Other is sys.modules[f"{package}.heavy"].Other


def test_from_import_works(package: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {package} import Other", namespace)
    assert namespace["Other"] is sys.modules[f"{package}.heavy"].Other


def test_an_unknown_name_is_an_attribute_error_naming_the_module(package: str) -> None:
    module = __import__(package)
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'missing'"):
        module.missing  # noqa: B018 - the read is the test
    assert not hasattr(module, "missing")


def test_a_name_may_be_exported_under_another_name(package: str) -> None:
    module = __import__(package)
    assert module.renamed is sys.modules[f"{package}.heavy"].heavy
    assert "renamed" in vars(module)
