"""Creating users, checking passwords, logging in and out, and ending sessions.

These are what the views and the ``erlen user`` commands do, for apps that
need them in their own views.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass

import flask_login
import sqlalchemy as sa
from flask import current_app, request, session
from sqlalchemy.orm import Session

import erlen
from erlen_db import get_session
from erlen_forms import reset_csrf_secret

from . import sessions
from .models import Role, User, email_key
from .state import state_of
from .throttling import Throttled


class AccountExistsError(ValueError):
    """An account with that email exists already."""


@dataclass(frozen=True)
class LoginResult:
    """The outcome of :func:`authenticate`.

    :param user: the user when the email and password match an active, allowed account.
    :param reason: why not: ``"unknown"``, ``"password"``, ``"inactive"``,
        ``"unconfirmed"`` or ``"throttled"``.
    :param throttled: the refusal when the attempt was throttled.
    """

    user: User | None
    reason: str | None = None
    throttled: Throttled | None = None


def _db(db: Session | None) -> Session:
    return db if db is not None else get_session()


def find_user(email: str, *, db: Session | None = None) -> User | None:
    """The user whose email is ``email``, compared case-insensitively."""
    key = email_key(email)
    if "\x00" in key:
        return None  # no address holds a NUL, and PostgreSQL refuses one in a query
    return _db(db).scalar(sa.select(User).where(User.email_key == key))


def create_user(
    email: str,
    password: str,
    *,
    superuser: bool = False,
    active: bool = True,
    confirmed: bool = False,
    roles: t.Iterable[str] = (),
    db: Session | None = None,
    commit: bool = True,
) -> User:
    """Create a user with a hashed password.

    :param email: the address; unique, compared case-insensitively.
    :param password: the password in clear; only its argon2id hash is kept.
    :param superuser: give every permission.
    :param active: allow the user to log in.
    :param confirmed: mark the address as confirmed.
    :param roles: names of existing roles to give.
    :param db: the session to use; the current app context's by default.
    :param commit: commit the session.
    :raises AccountExistsError: the address is taken.
    :raises LookupError: a role does not exist.
    """
    db = _db(db)
    if find_user(email, db=db) is not None:
        raise AccountExistsError(f"An account with the email {email.strip()!r} exists already.")
    user = User(
        email=email.strip(),
        password_hash=state_of().passwords.hash(password),
        is_superuser=superuser,
        is_active=active,
        email_confirmed_at=dt.datetime.now(dt.UTC) if confirmed else None,
    )
    for name in roles:
        role = db.scalar(sa.select(Role).where(Role.name == name))
        if role is None:
            raise LookupError(f"There is no role {name!r}; create it with `erlen role create {name}`.")
        user.roles.append(role)
    db.add(user)
    try:
        if commit:
            db.commit()
        else:
            db.flush()
    except sa.exc.IntegrityError:
        # Another request registered the address between the check and the insert.
        db.rollback()
        if find_user(email, db=db) is None:
            raise
        raise AccountExistsError(f"An account with the email {email.strip()!r} exists already.") from None
    return user


def set_password(user: User, password: str, *, reason: str, db: Session | None = None) -> None:
    """Give ``user`` a new password and end all their sessions, this browser's included; commits.

    Call :func:`relogin` afterwards to keep the current browser logged in (in a new session).

    :param reason: passed to ``erlen_auth_password_changed``: ``"change"``, ``"reset"`` or ``"command"``.
    """
    from . import notices

    db = _db(db)
    user.password_hash = state_of().passwords.hash(password)
    _end_every_session(user, db)
    notices.notify(user, "password_changed", reason=reason, db=db)  # committed with the change
    db.commit()
    erlen.plugins_of().notify("erlen_auth_password_changed", user=user, reason=reason)


def deactivate(user: User, *, db: Session | None = None) -> None:
    """Stop ``user`` from logging in and end all their sessions; commits."""
    db = _db(db)
    user.is_active = False
    _end_every_session(user, db)
    db.commit()


def end_sessions(user: User, *, db: Session | None = None) -> int:
    """Log ``user`` out everywhere, this browser included: every session and remember-me cookie ends; commits.

    Reset links sent before stop working too.

    :returns: how many sessions ended.
    """
    db = _db(db)
    ended = _end_every_session(user, db)
    db.commit()
    return ended


def _end_every_session(user: User, db: Session) -> int:
    user.rotate_session_token()
    return sessions.end(db, user.id)


def client_address() -> str | None:
    """The client's address, as the throttle counts it (behind reverse proxies, set ``TRUSTED_PROXY_HOPS``)."""
    return request.remote_addr


def authenticate(email: str, password: str, *, db: Session | None = None) -> LoginResult:
    """Check an email and password, with throttling; the same work whether the account exists or not.

    For an unknown email a dummy hash is verified, so the time taken does not
    tell whether the account exists. A correct password whose hash has
    outdated parameters is re-hashed (and committed).
    """
    state = state_of()
    key = email_key(email)
    address = client_address()
    # Counted before the password is checked: a check now and a count after the hash would let parallel guesses
    # all through on the same count. Past the limit, nothing is checked (no hash is paid, nothing is learnt).
    attempt = state.throttle.attempt(key, address)
    if attempt.refused is not None:
        _failed(email, None, "throttled")
        return LoginResult(None, "throttled", attempt.refused)
    db = _db(db)
    try:
        user = find_user(email, db=db)
    except BaseException:
        attempt.release()  # no password was checked: a database error is not a failed log-in
        raise
    if user is None:
        state.passwords.verify_dummy(password)
        result = LoginResult(None, "unknown")
    elif not state.passwords.verify(user.password_hash, password):
        result = LoginResult(None, "password")
    elif not user.is_active:
        result = LoginResult(None, "inactive")
    elif (
        current_app.config["AUTH_REQUIRE_CONFIRMED_EMAIL"]
        and state.confirmation_enabled
        and (user.email_confirmed_at is None)
    ):
        result = LoginResult(None, "unconfirmed")
    else:
        attempt.succeeded()
        if state.passwords.needs_rehash(user.password_hash):
            user.password_hash = state.passwords.hash(password)
            db.commit()
        return LoginResult(user)
    if result.reason in ("unknown", "password"):
        attempt.failed()
    else:
        attempt.release()  # the right password of an account that may not log in is not a failure
    _failed(email, user, t.cast(str, result.reason))
    return result


def duration(seconds: int) -> str:
    """``seconds`` for people: "45 seconds", "15 minutes" (rounded up)."""
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


def _failed(email: str, user: User | None, reason: str) -> None:
    erlen.plugins_of().notify("erlen_auth_login_failed", email=email, user=user, reason=reason)


def login(user: User, *, remember: bool = False, db: Session | None = None, notify: bool = True) -> None:
    """Log ``user`` in to the current browser, in a new log-in session; commits.

    A new ``auth_session`` row is made, with a new key, whatever the browser
    had (no session fixation): the session it was logged in to ends, what
    the session cookie held is dropped and the session gets a new CSRF secret.
    Without ``remember``, a remember-me cookie the browser still has
    (another account's, or one planted) is cleared. The user's sessions
    unused for longer than ``AUTH_REMEMBER_DAYS`` are purged. Records the
    time of the log-in. An inactive user is not logged in.

    :param notify: record the time, recognise the device (a sign-in from a browser new to the user mails
        them the ``new_device_sign_in`` notice, see :mod:`erlen_auth.devices`) and call ``erlen_auth_logged_in``
        (not for a new session after a password change).
    """
    if not user.is_active:
        return
    db = _db(db)
    previous = flask_login.current_user._get_current_object()
    if isinstance(previous, User) and previous.login_session_id is not None:
        sessions.end(db, previous.id, only=previous.login_session_id)
    sessions.purge(db, sessions.idle_limit(current_app.config), user_id=user.id)
    sessions.start(user, db, user_agent=request.headers.get("User-Agent", ""), address=client_address())
    if notify:
        user.last_login_at = dt.datetime.now(dt.UTC)
        from . import devices

        devices.recognise(user, db, address=client_address())  # a new device's notice commits with the sign-in
    db.commit()
    session.clear()
    reset_csrf_secret()
    flask_login.login_user(user, remember=remember, force=False)
    if not remember and current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        session["_remember"] = "clear"  # Flask-Login deletes the cookie at the end of the request
    if notify:
        erlen.plugins_of().notify("erlen_auth_logged_in", user=user, remember=remember)


def finish_login(user: User, *, remember: bool = False, method: str = "password") -> t.Any:
    """Complete a sign-in whose proof was accepted, and answer the request: the one way in for every method.

    The password form, passkeys and OpenID Connect providers all end here,
    so that what a sign-in must also pass (a second factor, when the user
    has one and ``method`` is not itself two factors) applies to each.

    :param user: the user who proved who they are.
    :param remember: whether they asked to be remembered.
    :param method: how: ``"password"``, ``"passkey"`` or ``"oidc"``.
    :returns: the response: a redirect to the safe ``next`` of the request, else ``AUTH_LOGIN_REDIRECT``.
    """
    from flask import redirect

    from .redirects import safe_next

    if method != "passkey":  # a passkey is two factors already: something one has, unlocked by something one knows
        from . import two_factor

        if two_factor.has_second_factor(user):
            return two_factor.begin(user, remember=remember, next=safe_next(""))
    login(user, remember=remember)
    return redirect(safe_next(current_app.config["AUTH_LOGIN_REDIRECT"]))


def logout(*, db: Session | None = None) -> None:
    """Log the current user out: their log-in session ends, the session is emptied and the remember-me cookie cleared.

    Cookies copied from this browser before no longer log anyone in.
    """
    user = flask_login.current_user._get_current_object()
    if isinstance(user, User) and user.login_session_id is not None:
        db = _db(db)
        sessions.end(db, user.id, only=user.login_session_id)
        db.commit()
    session.clear()
    flask_login.logout_user()
    if isinstance(user, User):
        erlen.plugins_of().notify("erlen_auth_logged_out", user=user)


def logout_everywhere(user: User, *, db: Session | None = None) -> None:
    """End every session and remember-me cookie of ``user``, keeping the current browser logged in when it is theirs.

    The current browser gets a new session (and keeps its remember-me cookie, renewed, when it had one).
    """
    remembered = bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")))
    end_sessions(user, db=db)
    relogin(user, remember=remembered, db=db)


def relogin(user: User, *, remember: bool = False, db: Session | None = None) -> None:
    """Log the current browser in to a new session of ``user``, after their sessions ended, when it was theirs."""
    if flask_login.current_user.is_authenticated and flask_login.current_user.id == user.id:
        login(user, remember=remember, notify=False, db=db)
