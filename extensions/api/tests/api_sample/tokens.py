"""A stand-in for erlen-auth's access tokens: ``user-<id>`` acts fully for a user, ``read-<id>`` with no scope,
``expired-<id>`` is refused with a reason."""

from __future__ import annotations

from flask import Flask

import erlen
from erlen_api import TokenIdentity, TokenRejected

PLUGIN = erlen.Plugin(name="api_sample_tokens", requires=["api", "auth"])


@erlen.hookimpl
def erlen_api_authenticate_token(app: Flask, token: str) -> TokenIdentity | None:
    from erlen_auth import User
    from erlen_db import session

    kind, _, number = token.partition("-")
    if kind == "expired":
        raise TokenRejected("The access token has expired.")
    if kind not in ("user", "read") or not number.isdigit():
        return None
    user = session.get(User, int(number))
    if user is None:
        return None
    return TokenIdentity(user, None if kind == "user" else frozenset())
