"""A plugin returning an endpoint's name where an AccountLink belongs."""

from __future__ import annotations

import erlen


@erlen.hookimpl
def erlen_auth_account_links():
    return ["forum.mine"]
