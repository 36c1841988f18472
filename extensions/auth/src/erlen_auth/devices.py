"""Known devices: a sign-in from a browser the user never signed in from mails them a notice.

Each browser gets a long-lived random cookie, ``erlen_device`` (32 random
bytes, HttpOnly, Secure outside debug mode, SameSite=Lax, one year, renewed
at each sign-in); each user's ``auth_known_device`` rows keep the SHA-256 of
the cookies of the browsers they signed in from. A sign-in completes in
:func:`erlen_auth.accounts.login` (after any second factor): there,
:func:`recognise` looks the browser up, and when the user has known devices
but not this one, queues the ``new_device_sign_in`` notice in the sign-in's
transaction. A user's very first device (a new account, or the first sign-in
after upgrading) is recorded without a notice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import typing as t

import sqlalchemy as sa
from flask import after_this_request, current_app, request, url_for
from sqlalchemy.orm import Session

from . import notices, user_agents
from .account_models import KnownDevice
from .models import USER_AGENT_MAX_LENGTH

if t.TYPE_CHECKING:
    from .models import User

#: The name of the device cookie.
DEVICE_COOKIE = "erlen_device"

#: How long the device cookie lasts (renewed at each sign-in).
COOKIE_MAX_AGE = dt.timedelta(days=365)

#: Devices a user has not signed in from for this long are forgotten at their next sign-in.
FORGET_AFTER = dt.timedelta(days=400)

#: What a cookie this module made looks like (43 characters of URL-safe base64); anything else is replaced.
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")


def hash_device(value: str) -> str:
    """The SHA-256 of a device cookie's value, in hexadecimal: what ``auth_known_device`` keeps."""
    return hashlib.sha256(value.encode()).hexdigest()


def _device_cookie() -> str:
    """This browser's device cookie, a new one when it has none (or a malformed one), sent back with the response."""
    value = request.cookies.get(DEVICE_COOKIE, "")
    if not _WELL_FORMED.fullmatch(value):
        value = secrets.token_urlsafe(32)

    @after_this_request
    def set_cookie(response: t.Any) -> t.Any:
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=int(COOKIE_MAX_AGE.total_seconds()),
            httponly=True,
            secure=not current_app.debug,
            samesite="Lax",
            path="/",
        )
        return response

    return value


def recognise(user: User, db: Session, *, address: str | None) -> bool:
    """Record that ``user`` signs in from this browser, and queue a notice when it is new to them (not committed).

    :param user: the user signing in.
    :param db: the session of the sign-in's transaction.
    :param address: the client's address, for the notice.
    :returns: whether the browser was new to the user.
    """
    now = dt.datetime.now(dt.UTC)
    device_hash = hash_device(_device_cookie())
    db.execute(
        sa.delete(KnownDevice)
        .where(KnownDevice.user_id == user.id, KnownDevice.last_seen_at < now - FORGET_AFTER)
        .execution_options(synchronize_session=False)
    )
    known = db.scalar(
        sa.select(KnownDevice).where(KnownDevice.user_id == user.id, KnownDevice.device_hash == device_hash)
    )
    if known is not None:
        known.last_seen_at = now
        return False
    has_devices = db.scalar(sa.select(sa.exists().where(KnownDevice.user_id == user.id)))
    user_agent = request.headers.get("User-Agent", "")[:USER_AGENT_MAX_LENGTH]
    try:
        with db.begin_nested():
            db.add(
                KnownDevice(
                    user_id=user.id, device_hash=device_hash, first_seen_at=now, last_seen_at=now, user_agent=user_agent
                )
            )
    except sa.exc.IntegrityError:
        return False  # a sign-in from this browser in parallel recorded it (and sent the notice if one was due)
    if has_devices:
        notices.notify(
            user,
            "new_device_sign_in",
            when=now,
            address=address or "unknown",
            user_agent=user_agents.describe(user_agent),  # named as the sessions page names it
            sessions_link=url_for("auth.sessions", _external=True),
            db=db,
        )
    return True
