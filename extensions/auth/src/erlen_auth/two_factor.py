"""The second sign-in step, and the kinds of second factor that plug into it.

When a user who has a second factor passes the first one (the password, an
OpenID Connect provider), :func:`erlen_auth.accounts.finish_login` does not
log them in: it records a *pending sign-in* in the Flask session (who, "remember
me", ``next``, when) and sends the browser to ``/auth/two-factor``. Nobody is
logged in meanwhile: no ``auth_session`` row, no log-in cookie. The pending
sign-in expires after ``AUTH_TWO_FACTOR_PENDING_SECONDS``, and ends when the
user's sessions end (a password change or reset, deactivation), as it carries
a fingerprint of the user's session token.

**Adding a kind of second factor** (passkeys do): register a
:class:`~erlen_auth.state.SecondFactor` while the app is made, with a
template for the two-factor page; when the user proves it there (in a view
of your own), call :func:`complete_second_factor`::

    from erlen_auth import SecondFactor, state_of
    from erlen_auth.two_factor import complete_second_factor, pending_user

    state_of(app).second_factors.append(SecondFactor("passkey", has_passkey, "passkeys/two_factor_part.html"))

    @bp.post("/passkeys/second-step")
    def passkey_second_step():
        user = pending_user()                     # None: no pending sign-in (or expired) -> to the log-in page
        if user is None: return redirect(url_for("auth.login"))
        ...                                       # check the passkey assertion of `user`
        return complete_second_factor("passkey")  # logs in, with "remember me", and goes to the safe next

A user has a second factor when any registered kind says so (``enrolled(user)``).

**Requiring it**: ``AUTH_TWO_FACTOR_REQUIRED`` (everyone) and
``AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS`` (whoever holds one of those
permissions). A logged-in user who must have a second factor and has none is
sent to the set-up page from every page but those of :data:`ENROLMENT_ENDPOINTS`
until they have one, by :func:`enforce_second_factor`.
"""

from __future__ import annotations

import hashlib
import hmac
import typing as t
from dataclasses import dataclass

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from wtforms import StringField
from wtforms.validators import DataRequired, Length

import erlen
from erlen_db import get_session
from erlen_forms import Form, wants_json

from . import accounts
from .feature_settings import TWO_FACTOR_SETTINGS
from .models import User
from .redirects import is_safe_redirect
from .state import state_of

#: The key of the Flask session holding a pending sign-in.
PENDING_KEY = "_erlen_auth_pending"

#: The key of the Flask session recording that this log-in session's user has a second factor (so the
#: requirement is not looked up on every request).
SATISFIED_KEY = "_erlen_auth_2fa_ok"

#: Endpoints a user who must set up a second factor may still reach: setting it up (and re-authenticating
#: for it), logging out, and static files. Other kinds of second factor add their set-up endpoints here.
ENROLMENT_ENDPOINTS: set[str] = {"auth.two_factor_setup", "auth.reauthenticate", "auth.logout", "static"}


#: Declared in :mod:`erlen_auth.feature_settings` (importable without this module's libraries).
SETTINGS = TWO_FACTOR_SETTINGS


class NoPendingSignIn(LookupError):
    """There is no pending sign-in in this browser (none begun, expired, or its user's sessions ended)."""


# Who has, and who needs, a second factor


def has_second_factor(user: User) -> bool:
    """Whether ``user`` has a second factor of any registered kind."""
    return any(factor.enrolled(user) for factor in state_of().second_factors)


def required_for(user: User) -> bool:
    """Whether ``user`` must have a second factor: ``AUTH_TWO_FACTOR_REQUIRED``, or one of the permissions listed."""
    config = current_app.config
    if config["AUTH_TWO_FACTOR_REQUIRED"]:
        return True
    return any(user.can(name) for name in config["AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS"])


def enforce_second_factor() -> t.Any:
    """Send a logged-in user who must have a second factor and has none to its set-up page.

    The app's ``before_request`` hook when ``AUTH_TWO_FACTOR_REQUIRED`` or
    ``AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS`` is set: the plugin registers it,
    by this name, through an :func:`erlen.lazy_view` stand-in, so this module is
    imported on the first request. It lets through the endpoints of
    :data:`ENROLMENT_ENDPOINTS`, static files, anonymous visitors and users who
    have a second factor (remembered for their log-in session).

    :returns: ``None`` to let the request through; else a redirect to
        ``auth.two_factor_setup`` (with ``next`` for a ``GET``), or, for a
        client that wants JSON, a 403 with the error ``two_factor_required``.
    """
    endpoint = request.endpoint or ""
    if endpoint in ENROLMENT_ENDPOINTS or endpoint.endswith(".static") or not endpoint:
        return None
    user = current_user._get_current_object()
    if not isinstance(user, User) or user.login_session_id is None:
        return None
    if session.get(SATISFIED_KEY) == user.login_session_id:
        return None
    if not required_for(user):
        return None  # not remembered: a permission granted later makes it required
    if has_second_factor(user):
        session[SATISFIED_KEY] = user.login_session_id
        return None
    if wants_json():
        body = {"error": "two_factor_required", "message": "Set up two-factor authentication first."}
        return body, 403
    flash("Your account needs two-factor authentication: set it up to continue.", "info")
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.two_factor_setup", next=target if request.method == "GET" else None))


# The pending sign-in


@dataclass(frozen=True)
class PendingSignIn:
    """A sign-in that passed its first factor and waits for the second.

    :param user_id: who is signing in.
    :param remember: whether they asked to be remembered (the cookie is set only once the second step passes).
    :param next: where to go afterwards (a safe path), or ``""``.
    :param started: when the first factor passed (seconds since the epoch, of ``state_of().clock``).
    :param fingerprint: of the user's session token: ending their sessions ends the pending sign-in too.
    """

    user_id: int
    remember: bool
    next: str
    started: float
    fingerprint: str


def _fingerprint(user: User) -> str:
    # The session token itself never goes into the (readable, signed) session cookie.
    return hashlib.sha256(f"erlen-auth pending {user.session_token}".encode()).hexdigest()[:32]


def begin(user: User, *, remember: bool, next: str) -> t.Any:
    """Record a pending sign-in of ``user`` and answer with a redirect to the two-factor page.

    :param user: who passed the first factor.
    :param remember: whether they asked to be remembered.
    :param next: where to go once signed in (checked again then), or ``""``.
    """
    session[PENDING_KEY] = {
        "user": user.id,
        "remember": bool(remember),
        "next": next if is_safe_redirect(next) else "",
        "started": state_of().clock(),
        "fingerprint": _fingerprint(user),
    }
    return redirect(url_for("auth.two_factor"))


def _read_pending() -> PendingSignIn | None:
    """The pending sign-in in the session, when it is well formed and not expired; never raises."""
    raw = session.get(PENDING_KEY)
    if not isinstance(raw, dict):
        return None
    user_id, started = raw.get("user"), raw.get("started")
    next_, fingerprint = raw.get("next", ""), raw.get("fingerprint")
    if (
        not isinstance(user_id, int)
        or isinstance(user_id, bool)
        or not isinstance(started, int | float)
        or not isinstance(next_, str)
        or not isinstance(fingerprint, str)
    ):
        return None
    age = state_of().clock() - float(started)
    if not 0 <= age <= current_app.config["AUTH_TWO_FACTOR_PENDING_SECONDS"]:
        return None
    return PendingSignIn(user_id, bool(raw.get("remember")), next_, float(started), fingerprint)


def pending_user() -> User | None:
    """The user of this browser's pending sign-in, or ``None`` (none, expired, inactive, or their sessions ended)."""
    pending = _read_pending()
    if pending is None:
        return None
    user = get_session().get(User, pending.user_id)
    if user is None or not user.is_active or not hmac.compare_digest(_fingerprint(user), pending.fingerprint):
        return None
    return user


def cancel() -> None:
    """Forget this browser's pending sign-in."""
    session.pop(PENDING_KEY, None)


def complete_second_factor(method: str) -> t.Any:
    """Finish the pending sign-in, whose second factor (``method``) the caller checked: log in and redirect.

    The log-in session is made now, with the "remember me" cookie when it was
    asked for; the answer goes to the pending sign-in's ``next``, else to
    ``AUTH_LOGIN_REDIRECT``.

    :param method: the kind of second factor that passed: ``"totp"``, ``"recovery_code"``, ``"passkey"``...
    :raises NoPendingSignIn: there is no (live) pending sign-in.
    """
    pending, user = _read_pending(), pending_user()
    if pending is None or user is None:
        raise NoPendingSignIn("There is no pending log-in in this browser: log in with the first factor first.")
    cancel()
    accounts.login(user, remember=pending.remember)
    session[SATISFIED_KEY] = user.login_session_id  # the second factor was just used
    target = pending.next if pending.next and is_safe_redirect(pending.next) else None
    return redirect(target or current_app.config["AUTH_LOGIN_REDIRECT"])


# The second step's page


class SecondFactorForm(Form):
    """A code of the authenticator app, or a recovery code."""

    form_id = "auth.two_factor"
    code = StringField(
        "Code",
        [DataRequired(), Length(max=64)],
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"},
        description="The 6-digit code of your authenticator app, or one of your recovery codes.",
    )


def second_step() -> t.Any:
    """Ask the user of a pending sign-in for a second factor, then log them in."""
    from . import totp

    user = pending_user()
    if user is None:
        cancel()
        flash("Your log-in has expired. Log in again.", "info")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        code = form.code.data or ""
        # Counted before the code is checked, as passwords are, in counts of their own (per account and address).
        attempt = state_of().throttle.attempt(user.email_key, accounts.client_address(), kind="two_factor")
        refused = attempt.refused
        if refused is not None:
            erlen.plugins_of().notify("erlen_auth_login_failed", email=user.email, user=user, reason="throttled")
            form.form_errors.append(f"Too many wrong codes. Try again in {accounts.duration(refused.retry_after)}.")
            status, headers = 429, {"Retry-After": str(refused.retry_after)}
        else:
            if totp.looks_like_totp(code):
                method, passed = "totp", totp.use_code(user, code)
            else:
                method, passed = "recovery_code", totp.use_recovery_code(user, code)
            if passed:
                attempt.release()  # earlier wrong codes stay counted: a right one now does not erase them
                return complete_second_factor(method)
            attempt.failed()
            erlen.plugins_of().notify("erlen_auth_login_failed", email=user.email, user=user, reason="second_factor")
            form.code.errors = [*form.code.errors, "This code is not right, or was used already."]
    parts = [factor.template for factor in state_of().second_factors if factor.template and factor.enrolled(user)]
    body = render_template(
        "auth/two_factor/verify.html",
        form=form,
        parts=parts,
        pending_user=user,
        asks_code=totp.is_enrolled(user) or totp.remaining_recovery_codes(user) > 0,
    )
    return body, status, headers
