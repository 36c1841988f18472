"""Signed, expiring, single-use tokens for password reset and email confirmation.

A token is signed with ``SECRET_KEY`` (and accepted with
``SECRET_KEY_FALLBACKS``), carries a time stamp and a fingerprint of the
state it changes: the user's password hash and session token for a reset,
the address and its confirmation for a confirmation. Once used, that state
has changed, so the token no longer matches: it works once.
"""

from __future__ import annotations

import hashlib
import hmac
import typing as t

from flask import Flask, current_app
from itsdangerous import BadData, URLSafeTimedSerializer

import erlen

if t.TYPE_CHECKING:
    from .models import User

RESET = "reset"
CONFIRM = "confirm"

_SALTS = {RESET: "erlen-auth.password-reset", CONFIRM: "erlen-auth.email-confirmation"}


def _serializer(purpose: str, app: Flask) -> URLSafeTimedSerializer:
    key = app.config.get("SECRET_KEY")
    if not key:
        raise erlen.ConfigError(
            "The auth plugin signs reset and confirmation tokens with SECRET_KEY, which is not set. Set SECRET_KEY "
            '(or ERLEN_SECRET_KEY) to a long random value: python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    keys = [str(k) for k in (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), key) if k]
    return URLSafeTimedSerializer(keys, salt=_SALTS[purpose])


def _fingerprint(purpose: str, user: User, app: Flask, key: t.Any = None) -> str:
    # Keyed with SECRET_KEY: the payload of a token is readable, and must not give away a function of the hash.
    if purpose == RESET:
        state = f"{purpose}|{user.password_hash}|{user.session_token}|{user.is_active}"
    else:
        state = f"{purpose}|{user.email_key}|{user.email_confirmed_at is not None}"
    secret = str(app.config["SECRET_KEY"] if key is None else key).encode()
    return hmac.new(secret, state.encode(), hashlib.sha256).hexdigest()[:32]


def make_token(purpose: str, user: User, app: Flask | None = None) -> str:
    """A token that lets ``user`` do ``purpose`` (:data:`RESET` or :data:`CONFIRM`) once."""
    app = app or t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    return _serializer(purpose, app).dumps({"user": user.id, "state": _fingerprint(purpose, user, app)})


def user_id_of(purpose: str, token: str, max_age: int, app: Flask | None = None) -> int | None:
    """The user id a token was made for, if it is authentic and not expired (it may be used up: see :func:`matches`)."""
    app = app or t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        payload = _serializer(purpose, app).loads(token, max_age=max_age)
    except BadData:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), int):
        return None
    return t.cast(int, payload["user"])


def matches(purpose: str, token: str, user: User, max_age: int, app: Flask | None = None) -> bool:
    """Whether ``token`` is authentic, not expired, made for ``user`` and not used yet."""
    app = app or t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        payload = _serializer(purpose, app).loads(token, max_age=max_age)
    except BadData:
        return False
    if not isinstance(payload, dict) or payload.get("user") != user.id:
        return False
    state = payload.get("state")
    if not isinstance(state, str):
        return False
    # A token made before SECRET_KEY was rotated carries a fingerprint keyed with what is now a fallback.
    keys = [app.config["SECRET_KEY"], *(app.config.get("SECRET_KEY_FALLBACKS") or ())]
    return any(hmac.compare_digest(state, _fingerprint(purpose, user, app, key)) for key in keys if key)
