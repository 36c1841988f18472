"""A plugin that lists permission names where erlen_auth_permissions expects names mapped to descriptions."""

from __future__ import annotations

import erlen

PLUGIN = erlen.Plugin(name="listed", requires=["auth"])


@erlen.hookimpl
def erlen_auth_permissions() -> list[str]:
    return ["listed.publish"]
