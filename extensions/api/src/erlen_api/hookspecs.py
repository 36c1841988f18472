"""Hook specifications of the ``api`` plugin."""

from __future__ import annotations

import typing as t

from flask import Flask

import erlen

if t.TYPE_CHECKING:
    from .security import TokenIdentity


@erlen.hookspec(firstresult=True)
def erlen_api_authenticate_token(app: Flask, token: str) -> TokenIdentity | None:
    """Who a bearer access token belongs to, and what it may do; ``None`` when the token is not valid.

    Called for requests with ``Authorization: Bearer <token>`` to an endpoint that accepts tokens; the first
    plugin to answer wins. A request whose token no plugin accepts gets a 401. The implementation also makes
    the user the request's current user (Flask-Login's ``current_user``, for erlen-auth), if it has one.
    Token-authenticated requests are exempt from CSRF checks; requests with the session cookie never are.

    :param app: the current app.
    :param token: the token, as sent.
    :returns: a :class:`erlen_api.TokenIdentity` (or any object with its ``user`` and ``scopes``), or ``None``.
    :raises erlen_api.TokenRejected: to refuse the token with a reason (expired, revoked).
    """
