"""The passkey views: JSON endpoints for the browser's script, and the pages to add, rename and remove passkeys.

Every ``POST`` carries the CSRF token (the script sends it in the ``X-CSRF-Token`` header, which
erlen-forms accepts app-wide). The JSON endpoints answer ``{"error": code, "message": ...}`` with a 4xx
status when they refuse, never a 500 for what a client sends.

Templates: ``auth/passkeys/new.html``, ``auth/passkeys/rename.html``, ``auth/passkeys/remove.html``, the
security page's section ``auth/passkeys/section.html``, and the parts of the log-in and re-authentication
pages ``auth/passkeys/login_part.html`` and ``auth/passkeys/reauth_part.html``.

The rules of these views are in :data:`erlen_auth.blueprint.LAZY_RULES`: the app registers them when it is
created, and this module is imported by the first request for one of them.
"""

from __future__ import annotations

import functools
import typing as t

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from wtforms import StringField
from wtforms.validators import DataRequired, Length

import erlen
from erlen_db import get_session
from erlen_forms import UNREADABLE_JSON, Form, read_json_body

from . import accounts, passkeys, reauth, two_factor
from .forms import EmptyForm
from .models import User
from .passkey_models import NAME_MAX_LENGTH, Passkey
from .passkeys import PasskeyError
from .permissions import login_required
from .redirects import safe_next
from .state import state_of

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

#: The largest JSON body the passkey endpoints read: a WebAuthn answer takes a few kilobytes.
MAX_BODY_BYTES = 64 * 1024


class RenamePasskeyForm(Form):
    """A passkey's new name."""

    form_id = "auth.rename_passkey"
    name = StringField("Name", [DataRequired(), Length(max=NAME_MAX_LENGTH)], render_kw={"autocomplete": "off"})


def _user() -> User:
    return t.cast(User, current_user._get_current_object())


def _json_view(view: F) -> F:
    """Answer a refused ceremony as JSON: ``{"error": code, "message": ...}`` with the error's status."""

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return view(*args, **kwargs)
        except PasskeyError as refused:
            return jsonify({"error": refused.code, "message": refused.message}), refused.status

    return t.cast(F, wrapper)


def _body() -> dict[str, t.Any]:
    """The request's JSON object.

    :raises PasskeyError: the body is not a JSON object (malformed, nested too deep, or not sent as
        ``application/json``), or is larger than :data:`MAX_BODY_BYTES`.
    """
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise PasskeyError("bad_request", f"The request body is too large: at most {MAX_BODY_BYTES} bytes.", 413)
    # erlen-forms' reading: malformed JSON, JSON nested thousands deep (a RecursionError), and an object holding a
    # key twice (which the decoder would read as its last value, a proxy perhaps as its first) are no object.
    body, error = read_json_body()
    if isinstance(body, dict):
        return body
    if error is not None and error != UNREADABLE_JSON:
        raise PasskeyError("bad_request", error)  # it names the key held twice, and where
    raise PasskeyError(
        "bad_request", "Send a JSON object as the request body, with the header Content-Type: application/json."
    )


def _credential(body: dict[str, t.Any]) -> dict[str, t.Any]:
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise PasskeyError("bad_request", 'The JSON object needs a "credential": the PublicKeyCredential, as JSON.')
    return credential


def _own_passkey(passkey_id: int) -> Passkey:
    """The current user's passkey ``passkey_id``; another user's is a 404, as one that does not exist."""
    passkey = get_session().get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != _user().id:
        abort(404)
    return passkey


# Adding


@reauth.reauthentication_required
def new_passkey() -> t.Any:
    """The page that adds a passkey: the user names it, the script asks the authenticator to make it."""
    return render_template("auth/passkeys/new.html", max_length=NAME_MAX_LENGTH)


@_json_view
@reauth.reauthentication_required
def register_options() -> t.Any:
    """Options for ``navigator.credentials.create``; the body is ``{"name": "..."}``."""
    return jsonify(passkeys.registration_options(_user(), _body().get("name")))


@_json_view
@reauth.reauthentication_required
def register_passkey() -> t.Any:
    """Verify the new passkey and add it; the body is ``{"credential": ...}``; mails the notice ``passkey_added``."""
    user = _user()
    passkey = passkeys.register(user, _credential(_body()))
    db = get_session()
    try:
        db.commit()
    except IntegrityError:
        db.rollback()  # the same passkey registered by a request running alongside this one
        raise PasskeyError("exists", "This passkey is registered already.") from None
    flash(f"The passkey “{passkey.name}” was added. You can now log in with it.", "success")
    return jsonify({"redirect": url_for("auth.security")})


# Signing in and re-authenticating


def _refusal(user: User) -> str | None:
    """Why ``user`` may not sign in (``"inactive"``, ``"unconfirmed"``: reasons of ``erlen_auth_login_failed``).

    :returns: the reason, or ``None`` when they may.
    """
    if not user.is_active:
        return "inactive"
    if (
        current_app.config["AUTH_REQUIRE_CONFIRMED_EMAIL"]
        and state_of().confirmation_enabled
        and user.email_confirmed_at is None
    ):
        return "unconfirmed"
    return None


@_json_view
def login_options() -> t.Any:
    """Options for ``navigator.credentials.get`` to sign in: any passkey of this site, the user chooses."""
    _body()  # an empty object: the JSON endpoints all take one
    return jsonify(passkeys.authentication_options(passkeys.LOGIN))


@_json_view
def login_with_passkey() -> t.Any:
    """Sign in with a passkey; the body is ``{"credential": ..., "remember": false}``, ``?next=`` as for the form.

    A passkey asked for user verification is two factors (the device and its PIN or biometric): no second
    step follows. Answers ``{"redirect": url}``.
    """
    body = _body()
    passkey = passkeys.authenticate(passkeys.LOGIN, _credential(body))
    user = get_session().get(User, passkey.user_id)
    if user is None:  # deleted since the passkey was read: the passkey went with it
        raise PasskeyError("unknown", "This passkey is not registered on this site.")
    refusal = _refusal(user)
    if refusal is not None:
        get_session().rollback()
        erlen.plugins_of().notify("erlen_auth_login_failed", email=user.email, user=user, reason=refusal)
        raise PasskeyError("refused", "This account cannot log in.", status=403)
    get_session().commit()  # the counter and the last use
    response = accounts.finish_login(user, remember=body.get("remember") is True, method="passkey")
    return jsonify({"redirect": response.location})


@_json_view
@login_required
def reauth_options() -> t.Any:
    """Options for ``navigator.credentials.get`` to confirm it is the user: their passkeys only."""
    _body()
    return jsonify(passkeys.authentication_options(passkeys.REAUTH, _user()))


@_json_view
@login_required
def reauth_with_passkey() -> t.Any:
    """Re-authenticate with one of the user's passkeys; the body is ``{"credential": ...}``; ``?next=`` back."""
    user = _user()
    if user.login_session_id is None:
        raise PasskeyError("bad_request", "Log in again first: this session cannot be re-authenticated.")
    passkeys.authenticate(passkeys.REAUTH, _credential(_body()), user)
    reauth.mark_reauthenticated()  # commits the passkey's use with the proof
    return jsonify({"redirect": safe_next(url_for("auth.security"))})


def _pending_user() -> User:
    user = two_factor.pending_user()
    if user is None:
        raise PasskeyError("no_pending_sign_in", "Your log-in has expired. Log in again.")
    return user


@_json_view
def second_factor_options() -> t.Any:
    """Options for ``navigator.credentials.get`` for the second step of a password sign-in: the user's passkeys."""
    _body()
    return jsonify(passkeys.authentication_options(passkeys.SECOND_FACTOR, _pending_user()))


@_json_view
def second_factor_with_passkey() -> t.Any:
    """Give a passkey as the second factor of the pending sign-in; the body is ``{"credential": ...}``.

    Answers ``{"redirect": url}``: the pending sign-in's ``next``, else ``AUTH_LOGIN_REDIRECT``.
    """
    user = _pending_user()
    passkeys.authenticate(passkeys.SECOND_FACTOR, _credential(_body()), user)
    get_session().commit()  # the counter and the last use
    response = two_factor.complete_second_factor(passkeys.SECOND_FACTOR_NAME)
    return jsonify({"redirect": response.location})


# Managing


@login_required
def rename_passkey(passkey_id: int) -> t.Any:
    """Rename one of the user's passkeys."""
    passkey = _own_passkey(passkey_id)
    form = RenamePasskeyForm()
    if form.validate_on_submit():
        try:
            passkeys.rename(passkey, form.name.data)
        except PasskeyError as refused:
            form.name.errors = [*form.name.errors, refused.message]
        else:
            get_session().commit()
            flash(f"The passkey is now called “{passkey.name}”.", "success")
            return redirect(url_for("auth.security"))
    elif request.method == "GET":
        form.name.data = passkey.name
    return render_template("auth/passkeys/rename.html", form=form, passkey=passkey)


@reauth.reauthentication_required
def remove_passkey(passkey_id: int) -> t.Any:
    """Remove one of the user's passkeys (the page asks, a POST removes); mails the notice ``passkey_removed``."""
    passkey = _own_passkey(passkey_id)
    form = EmptyForm()
    if form.validate_on_submit():
        name = passkey.name
        passkeys.remove(_user(), passkey)
        get_session().commit()
        flash(f"The passkey “{name}” was removed. It no longer logs you in.", "success")
        return redirect(url_for("auth.security"))
    return render_template("auth/passkeys/remove.html", form=form, passkey=passkey)
