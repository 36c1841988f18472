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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class TokenPayload:
    """What an authentic, unexpired token says: the user it was made for and the fingerprint of their state."""

    user_id: int
    state: str


def read(purpose: str, token: str, max_age: int, app: Flask | None = None) -> TokenPayload | None:
    """The payload of ``token`` if it is authentic and not expired (it may be used up: see :func:`fits`).

    The signature is checked here, once; :func:`fits` then compares the
    payload with the user's current state without checking it again.
    """
    app = app or t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        payload = _serializer(purpose, app).loads(token, max_age=max_age)
    except BadData:
        return None
    if not isinstance(payload, dict):
        return None
    user_id, state = payload.get("user"), payload.get("state")
    # bool is an int to Python, never a user id.
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not isinstance(state, str):
        return None
    return TokenPayload(user_id, state)


def fits(purpose: str, payload: TokenPayload, user: User, app: Flask | None = None) -> bool:
    """Whether the payload of a token (from :func:`read`) was made for ``user`` and is not used yet."""
    app = app or t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    if payload.user_id != user.id:
        return False
    # A token made before SECRET_KEY was rotated carries a fingerprint keyed with what is now a fallback.
    keys = [app.config["SECRET_KEY"], *(app.config.get("SECRET_KEY_FALLBACKS") or ())]
    return any(hmac.compare_digest(payload.state, _fingerprint(purpose, user, app, key)) for key in keys if key)


def user_id_of(purpose: str, token: str, max_age: int, app: Flask | None = None) -> int | None:
    """The user id a token was made for, if it is authentic and not expired (it may be used up: see :func:`matches`)."""
    payload = read(purpose, token, max_age, app)
    return None if payload is None else payload.user_id


def matches(purpose: str, token: str, user: User, max_age: int, app: Flask | None = None) -> bool:
    """Whether ``token`` is authentic, not expired, made for ``user`` and not used yet."""
    payload = read(purpose, token, max_age, app)
    return payload is not None and fits(purpose, payload, user, app)
