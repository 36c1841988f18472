"""erlen-migrate: schema migrations for Erlen apps composed of many plugins."""

from __future__ import annotations

import typing as t

from .errors import MigrationError, MigrationFailed, MigrationScriptError, UnknownBranchError
from .migrations import APP_BRANCH, LOCK_KEY, VERSION_TABLE, BranchStatus, Migrations, lock_key
from .plugin import migrations_of

if t.TYPE_CHECKING:
    from .scripts import Branch, BranchScripts

__version__ = "0.1.0"


def __getattr__(name: str) -> t.Any:
    """Re-export :mod:`.scripts`' names on first use: that module imports Alembic, which only migrations need."""
    if name in ("Branch", "BranchScripts"):
        from . import scripts

        return getattr(scripts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "APP_BRANCH",
    "LOCK_KEY",
    "VERSION_TABLE",
    "Branch",
    "BranchScripts",
    "BranchStatus",
    "MigrationError",
    "MigrationFailed",
    "MigrationScriptError",
    "Migrations",
    "UnknownBranchError",
    "lock_key",
    "migrations_of",
]
