"""A plugin whose account link names two permissions, as a list, where ``permission`` takes one name."""

from __future__ import annotations

import erlen
from erlen_auth import AccountLink


@erlen.hookimpl
def erlen_auth_permissions() -> dict[str, str]:
    return {"forum.moderate": "Moderate the forum", "forum.reports": "Read the forum's reports"}


@erlen.hookimpl
def erlen_auth_account_links() -> list[AccountLink]:
    return [AccountLink("Moderation", "auth.security", permission=["forum.moderate", "forum.reports"])]  # type: ignore[arg-type]
