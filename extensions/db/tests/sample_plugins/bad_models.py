"""A plugin that returns the shared base instead of its own models."""

from __future__ import annotations

import typing as t

import erlen
import erlen_db

PLUGIN = erlen.Plugin(name="bad_models", requires=["db"])


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [erlen_db.Model]
