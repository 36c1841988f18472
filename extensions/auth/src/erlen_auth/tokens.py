"""Signed, expiring, single-use tokens for password reset and email confirmation.

A token is signed with ``SECRET_KEY`` (and accepted with
``SECRET_KEY_FALLBACKS``), carries a time stamp and a fingerprint of the
state it changes: the user's password hash and session token for a reset,
the address and its confirmation for a confirmation. Once used, that state
has changed, so the token no longer matches: it works once.

Other features add purposes of their own with :func:`register_purpose`
(the email change's confirmation and undo links), giving the state their
tokens are bound to.
"""

from __future__ import annotations

import hashlib
import hmac
import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import Flask, current_app
from itsdangerous import BadData, URLSafeTimedSerializer

import erlen

if t.TYPE_CHECKING:
    from .models import User

RESET = "reset"
CONFIRM = "confirm"

_SALTS = {RESET: "erlen-auth.password-reset", CONFIRM: "erlen-auth.email-confirmation"}

#: The state of a user (and of a token's data) that the tokens of a registered purpose are bound to.
StateOf = Callable[["User", Mapping[str, t.Any]], "str | None"]

_STATES: dict[str, StateOf] = {}


def register_purpose(purpose: str, salt: str, state: StateOf) -> None:
    """Add a purpose of tokens: signed with its own salt, and bound to the state ``state`` returns.

    :param purpose: its name, passed to :func:`make_token`, :func:`read` and :func:`fits`.
    :param salt: the signer's salt, unique to the purpose, so a token of one purpose is no token of another.
    :param state: given the user and the token's ``data``, the state the token is bound to, as a string
        (a token fits while its state is unchanged: change it when the token is used); ``None`` when no
        token fits now (the request it was made for is gone).
    """
    _SALTS[purpose] = salt
    _STATES[purpose] = state


def _serializer(purpose: str, app: Flask) -> URLSafeTimedSerializer:
    key = app.config.get("SECRET_KEY")
    if not key:
        raise erlen.ConfigError(
            "The auth plugin signs reset and confirmation tokens with SECRET_KEY, which is not set. Set SECRET_KEY "
            '(or ERLEN_SECRET_KEY) to a long random value: python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    keys = [str(k) for k in (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), key) if k]
    return URLSafeTimedSerializer(keys, salt=_SALTS[purpose])


def _fingerprint(
    purpose: str, user: User, app: Flask, key: t.Any = None, data: Mapping[str, t.Any] | None = None
) -> str | None:
    # Keyed with SECRET_KEY: the payload of a token is readable, and must not give away a function of the hash.
    registered = _STATES.get(purpose)
    if registered is not None:
        found = registered(user, data or {})
        if found is None:
            return None
        state = f"{purpose}|{found}"
    elif purpose == RESET:
        state = f"{purpose}|{user.password_hash}|{user.session_token}|{user.is_active}"
    else:
        state = f"{purpose}|{user.email_key}|{user.email_confirmed_at is not None}"
    secret = str(app.config["SECRET_KEY"] if key is None else key).encode()
    return hmac.new(secret, state.encode(), hashlib.sha256).hexdigest()[:32]


def make_token(purpose: str, user: User, app: Flask | None = None, *, data: Mapping[str, t.Any] | None = None) -> str:
    """A token that lets ``user`` do ``purpose`` (:data:`RESET`, :data:`CONFIRM` or a registered one) once.

    :param data: more to carry, signed but readable by whoever has the token (JSON values); a registered
        purpose's state may depend on it.
    :raises ValueError: the purpose's state is ``None`` now: no token could fit.
    """
    app = app or t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    fingerprint = _fingerprint(purpose, user, app, data=data)
    if fingerprint is None:
        raise ValueError(f"No {purpose} token can be made for {user!r} now: its state is None.")
    payload: dict[str, t.Any] = {"user": user.id, "state": fingerprint}
    if data:
        payload["data"] = dict(data)
    return _serializer(purpose, app).dumps(payload)


@dataclass(frozen=True)
class TokenPayload:
    """What an authentic, unexpired token says: the user it was made for and the fingerprint of their state."""

    user_id: int
    state: str
    #: What the token carries besides (see :func:`make_token`).
    data: Mapping[str, t.Any] = field(default_factory=dict)


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
    data = payload.get("data", {})
    if not isinstance(data, dict):
        return None
    return TokenPayload(user_id, state, data)


def fits(purpose: str, payload: TokenPayload, user: User, app: Flask | None = None) -> bool:
    """Whether the payload of a token (from :func:`read`) was made for ``user`` and is not used yet."""
    app = app or t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    if payload.user_id != user.id:
        return False
    # A token made before SECRET_KEY was rotated carries a fingerprint keyed with what is now a fallback.
    keys = [app.config["SECRET_KEY"], *(app.config.get("SECRET_KEY_FALLBACKS") or ())]
    for key in keys:
        if not key:
            continue
        expected = _fingerprint(purpose, user, app, key, payload.data)
        if expected is None:
            return False  # nothing fits now: the request the token was made for is gone
        if hmac.compare_digest(payload.state, expected):
            return True
    return False


def user_id_of(purpose: str, token: str, max_age: int, app: Flask | None = None) -> int | None:
    """The user id a token was made for, if it is authentic and not expired (it may be used up: see :func:`matches`)."""
    payload = read(purpose, token, max_age, app)
    return None if payload is None else payload.user_id


def matches(purpose: str, token: str, user: User, max_age: int, app: Flask | None = None) -> bool:
    """Whether ``token`` is authentic, not expired, made for ``user`` and not used yet."""
    payload = read(purpose, token, max_age, app)
    return payload is not None and fits(purpose, payload, user, app)
