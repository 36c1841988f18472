"""erlen-migrate: schema migrations for Erlen apps composed of many plugins."""

from __future__ import annotations

from .errors import MigrationError, MigrationFailed, MigrationScriptError, UnknownBranchError
from .migrations import APP_BRANCH, LOCK_KEY, VERSION_TABLE, BranchStatus, Migrations
from .plugin import migrations_of
from .scripts import Branch, BranchScripts

__version__ = "0.1.0"

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
    "migrations_of",
]
