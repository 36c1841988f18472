"""erlen-migrate: schema migrations for Erlen apps composed of many plugins."""

from __future__ import annotations

import typing as t

import erlen

from .errors import MigrationError, MigrationFailed, MigrationScriptError, UnknownBranchError
from .plugin import migrations_of

if t.TYPE_CHECKING:
    from .migrations import APP_BRANCH, LOCK_KEY, VERSION_TABLE, BranchStatus, Migrations, lock_key
    from .scripts import Branch, BranchScripts

__version__ = "0.1.0"


# Imported on first use: every process imports this package (the plugin is in it), and :mod:`.migrations`
# serves only the commands, ``erlen check`` and the readiness check; :mod:`.scripts` imports Alembic.
__getattr__ = erlen.lazy_exports(
    __name__,
    {
        **dict.fromkeys(
            ("APP_BRANCH", "LOCK_KEY", "VERSION_TABLE", "BranchStatus", "Migrations", "lock_key"),
            "erlen_migrate.migrations",
        ),
        **dict.fromkeys(("Branch", "BranchScripts"), "erlen_migrate.scripts"),
    },
)


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
