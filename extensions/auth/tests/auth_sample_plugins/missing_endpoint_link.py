"""A plugin whose account link leads to an endpoint no blueprint has (a typo: ``forum.mien``)."""

from __future__ import annotations

import erlen
from erlen_auth import AccountLink

PLUGIN = erlen.Plugin(name="typo_forum", requires=["auth"])


@erlen.hookimpl
def erlen_auth_account_links() -> list[AccountLink]:
    return [AccountLink("Your posts", "forum.mien")]
