"""erlen-migrate: schema migrations for Erlen apps composed of many plugins."""

from __future__ import annotations

import typing as t

from .errors import MigrationError, MigrationFailed, MigrationScriptError, UnknownBranchError
from .plugin import migrations_of

if t.TYPE_CHECKING:
    from .migrations import APP_BRANCH, LOCK_KEY, VERSION_TABLE, BranchStatus, Migrations, lock_key
    from .scripts import Branch, BranchScripts

#: The names of :mod:`.migrations`, imported on first use: every process imports this package (the plugin is
#: in it), and that module serves only the commands, ``erlen check`` and the readiness check.
_MIGRATIONS_NAMES = frozenset({"APP_BRANCH", "LOCK_KEY", "VERSION_TABLE", "BranchStatus", "Migrations", "lock_key"})

__version__ = "0.1.0"


def __getattr__(name: str) -> t.Any:
    """Re-export the names of :mod:`.migrations` and :mod:`.scripts` on first use.

    :mod:`.scripts` imports Alembic, which only migrations need.

    :param name: the name asked for.
    """
    if name in _MIGRATIONS_NAMES:
        from . import migrations

        return getattr(migrations, name)
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
