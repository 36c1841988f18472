"""A plugin whose export returns something that is not JSON data."""

from __future__ import annotations

import typing as t

import erlen
from erlen_auth import User

PLUGIN = erlen.Plugin(name="bad_export", requires=["auth"])


@erlen.hookimpl
def erlen_auth_user_export(user: User) -> dict[str, t.Any]:
    return {"thing": object()}
