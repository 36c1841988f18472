"""erlen-admin uses erlen-db through its public names only (``from erlen_db import ...``), not its modules."""

from __future__ import annotations

import ast
from pathlib import Path

import erlen_admin
import erlen_db

SOURCE = Path(erlen_admin.__file__).parent


def erlen_db_imports() -> list[tuple[str, str]]:
    """``(file, what)`` for every import of erlen-db in erlen-admin's source: the module and the names taken."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("erlen_db"):
                found += [(path.name, f"{node.module}:{alias.name}") for alias in node.names]
            elif isinstance(node, ast.Import):
                found += [(path.name, alias.name) for alias in node.names if alias.name.startswith("erlen_db")]
    return found


def test_it_imports_erlen_db_only_by_its_public_names() -> None:
    imports = erlen_db_imports()
    assert imports, "erlen-admin's source was not found"
    private = [(file, what) for file, what in imports if what != "erlen_db" and not what.startswith("erlen_db:")]
    assert private == [], f"imports of erlen_db's modules instead of its public names: {private}"
    unknown = [(file, what) for file, what in imports if what.startswith("erlen_db:")]
    assert [(f, w) for f, w in unknown if w.split(":")[1] not in erlen_db.__all__] == []


def test_the_search_and_cursor_helpers_are_erlen_db_public_names() -> None:
    for name in ("search_condition", "search_index_columns", "encode_cursor", "decode_cursor", "is_sqlite_lock"):
        assert name in erlen_db.__all__
        assert callable(getattr(erlen_db, name))
