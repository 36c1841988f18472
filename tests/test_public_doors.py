"""Shipped extensions and the example plugins use each other only through public names.

A third-party author has each distribution's package (``erlen_db``, ``erlen_forms``...) and the modules
its docs name; a shipped extension that reaches into another one's private module has a door nobody else
has, and breaks when that module moves. When an extension needs one, the package exports it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Modules documented as public, beyond each distribution's package itself.
DOCUMENTED_MODULES = frozenset(
    {"erlen.checks", "erlen.failover", "erlen.json_keys", "erlen.logs", "erlen.redaction", "erlen_admin.models"}
)


def _is_public(module: str) -> bool:
    rest = module.partition(".")[2]
    return not rest or module in DOCUMENTED_MODULES or rest == "testing"


def _sources() -> list[tuple[str, Path]]:
    sources = []
    for folder in sorted([*ROOT.glob("extensions/*/src/*"), *ROOT.glob("examples/*/src/*")]):
        if folder.is_dir():
            sources.extend((folder.name, path) for path in sorted(folder.rglob("*.py")))
    return sources


def _private_imports(own: str, path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        modules: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        for module in modules:
            package = module.partition(".")[0]
            if package != own and (package == "erlen" or package.startswith("erlen_")) and not _is_public(module):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {module}")
    return found


def test_the_sources_are_found():
    owners = {own for own, _ in _sources()}
    assert {"erlen_db", "erlen_auth", "erlen_admin", "erlen_api", "erlen_mail", "notes_app"} <= owners


def test_no_shipped_package_imports_another_ones_private_module():
    private = [line for own, path in _sources() for line in _private_imports(own, path)]
    assert private == [], "import these from the package (export them there if needed):\n" + "\n".join(private)


def _package_names_taken(own: str, path: Path) -> list[tuple[str, str, int]]:
    """``(package, name, line)`` for each ``from erlen_x import name`` of another distribution's package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and "." not in node.module):
            continue
        if node.module != own and (node.module == "erlen" or node.module.startswith("erlen_")):
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
    return found


def test_names_taken_from_another_package_are_in_its_all():
    """A name the package does not list in ``__all__`` is no door either, even if it happens to be importable."""
    unlisted = []
    for own, path in _sources():
        for package, name, line in _package_names_taken(own, path):
            public = importlib.import_module(package).__all__
            if name not in public:
                unlisted.append(f"{path.relative_to(ROOT)}:{line}: {package}.{name}")
    assert unlisted == [], "export these in the package's __all__ (and document them):\n" + "\n".join(unlisted)
