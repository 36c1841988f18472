"""Re-authentication for sensitive actions ("sudo mode").

Changing the email address, second factors, passkeys or access tokens, and
deleting the account, need proof of who the user is that is at most
``AUTH_REAUTH_MINUTES`` old: logging in counts, or entering the password
(or using a passkey) again on ``/auth/reauthenticate``. A stolen session
cookie alone then cannot lock the owner out of their account.

The proof is kept on the log-in session's row (``auth_session.reauthenticated_at``),
so it ends with the session and holds across every worker and host.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from erlen_db import get_session
from erlen_forms import wants_json

from . import accounts
from .feature_settings import REAUTH_SETTINGS
from .forms import ReauthenticateForm
from .models import LoginSession, User
from .permissions import login_required
from .redirects import safe_next
from .sessions import utc
from .state import state_of

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


#: Declared in :mod:`erlen_auth.feature_settings` (importable without this module's libraries).
SETTINGS = REAUTH_SETTINGS


def _window() -> dt.timedelta:
    return dt.timedelta(minutes=current_app.config["AUTH_REAUTH_MINUTES"])


def reauthenticated_at() -> dt.datetime | None:
    """When the current user last proved who they are in this log-in session (UTC), or ``None``."""
    user = current_user._get_current_object()
    if not isinstance(user, User) or user.login_session_id is None:
        return None
    found = get_session().scalar(
        sa.select(LoginSession.reauthenticated_at).where(LoginSession.id == user.login_session_id)
    )
    return utc(found) if found is not None else None


def recently_authenticated() -> bool:
    """Whether the current user proved who they are within the last ``AUTH_REAUTH_MINUTES`` in this session."""
    proved = reauthenticated_at()
    return proved is not None and dt.datetime.now(dt.UTC) - proved <= _window()


def mark_reauthenticated(*, commit: bool = True) -> None:
    """Record that the current user just proved who they are (a password, a passkey); commits by default.

    Call it from a view that checked a proof other than the password form of
    ``/auth/reauthenticate`` (the passkey view does).

    :param commit: commit the session.
    :raises RuntimeError: nobody is logged in to a log-in session in this request.
    """
    user = current_user._get_current_object()
    if not isinstance(user, User) or user.login_session_id is None:
        raise RuntimeError("Re-authentication needs a logged-in user with a log-in session.")
    db = get_session()
    db.execute(
        sa.update(LoginSession)
        .where(LoginSession.id == user.login_session_id)
        .values(reauthenticated_at=dt.datetime.now(dt.UTC)),
        execution_options={"synchronize_session": False},
    )
    if commit:
        db.commit()


def reauthentication_required(view: F) -> F:
    """Let only a user who proved who they are in the last ``AUTH_REAUTH_MINUTES`` through to ``view``.

    Implies :func:`erlen_auth.login_required`. Others are sent to
    ``/auth/reauthenticate`` and back to the page afterwards (a ``GET`` of the
    same address: a form posted without a recent proof is not submitted, it
    is shown again); JSON clients get a 401 with ``"error": "reauthentication_required"``.

    .. code-block:: python

        @app.route("/account/delete", methods=["GET", "POST"])
        @reauthentication_required
        def delete_account(): ...
    """

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        if not recently_authenticated():
            if wants_json():
                body = {"error": "reauthentication_required", "message": "Confirm your password first."}
                return body, 401
            target = request.full_path if request.query_string else request.path
            return redirect(url_for("auth.reauthenticate", next=target))
        return view(*args, **kwargs)

    return t.cast(F, login_required(wrapper))


@login_required
def reauthenticate() -> t.Any:
    """Ask for the password again (or another proof the page offers), then go to ``next``."""
    form = ReauthenticateForm()
    user = t.cast(User, current_user._get_current_object())
    if user.login_session_id is None:
        abort(400)
    if form.validate_on_submit():
        throttle, address = state_of().throttle, accounts.client_address()
        # Wrong guesses count as failed log-ins: a stolen session must not become a way to guess the password.
        attempt = throttle.attempt(user.email_key, address)
        refused = attempt.refused
        if refused is not None:
            form.form_errors.append(f"Too many failed attempts. Try again in {accounts.duration(refused.retry_after)}.")
            body = _page(form)
            return body, 429, {"Retry-After": str(refused.retry_after)}
        if state_of().passwords.verify(user.password_hash, form.password.data or ""):
            attempt.release()
            mark_reauthenticated()
            return redirect(safe_next(url_for("auth.security")))
        attempt.failed()
        form.password.errors = [*form.password.errors, "This is not your password."]
    elif request.method == "GET":
        form.next.data = request.args.get("next", "")
        if recently_authenticated() and form.next.data:
            flash("You confirmed your password a moment ago.", "info")
    return _page(form)


def _page(form: ReauthenticateForm) -> str:
    return render_template("auth/reauthenticate.html", form=form, parts=state_of().reauth_parts)
