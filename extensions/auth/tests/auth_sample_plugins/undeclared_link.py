"""A plugin whose account link requires a permission nobody declares."""

from __future__ import annotations

import erlen
from erlen_auth import AccountLink


@erlen.hookimpl
def erlen_auth_account_links() -> list[AccountLink]:
    return [AccountLink("Moderation", "auth.security", permission="forum.moderat")]
