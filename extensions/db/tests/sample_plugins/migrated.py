"""Stands in for a migrations plugin that manages the database."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="migrated", requires=["db"])


@erlen.hookimpl
def erlen_db_managed_by(app: t.Any, connection: t.Any) -> str:
    return "erlen db upgrade"
