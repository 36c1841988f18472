"""The views of the auth plugin, as the blueprint ``auth``.

Templates live under ``auth/`` and can be overridden by the app:
``auth/login.html``, ``auth/logout.html``, ``auth/register.html``, ``auth/change_password.html``,
``auth/logout_everywhere.html``, ``auth/reset_request.html``,
``auth/reset_sent.html``, ``auth/reset_password.html``,
``auth/token_invalid.html``, ``auth/confirm.html``, ``auth/confirm_sent.html``,
``auth/resend_confirmation.html``, ``auth/sessions.html``, ``auth/reauthenticate.html``,
``auth/security.html`` (with a template per section under ``auth/security/``); the layout is ``auth/base.html``.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

import erlen
from erlen_db import get_session
from erlen_forms import wants_json

from . import (
    accounts,
    tokens,
)
from .forms import ChangePasswordForm, EmptyForm, LoginForm, RegistrationForm, ResetPasswordForm, ResetRequestForm
from .models import User, email_key
from .permissions import login_required
from .redirects import is_safe_redirect, safe_next
from .state import state_of

#: The message for every refused log-in, whatever the reason, so it does not tell whether the account exists.
LOGIN_REFUSED = "The email or password is not correct."


def _home() -> str:
    return t.cast(str, current_app.config["AUTH_LOGIN_REDIRECT"])


def login() -> t.Any:
    """Log in with email and password; ``next`` may name a path of this site to go to afterwards."""
    form = LoginForm()
    status = 200
    headers: dict[str, str] = {}
    unconfirmed = False
    if form.validate_on_submit():
        result = accounts.authenticate(form.email.data or "", form.password.data or "")
        if result.user is not None:
            return accounts.finish_login(result.user, remember=bool(form.remember.data), method="password")
        if result.throttled is not None:
            status = 429
            headers["Retry-After"] = str(result.throttled.retry_after)
            form.form_errors.append(
                f"Too many failed attempts. Try again in {accounts.duration(result.throttled.retry_after)}."
            )
        elif result.reason == "unconfirmed":
            # Said only to whoever knows the password: it tells nothing an attacker could use.
            form.form_errors.append("Confirm your email address first: follow the link we sent you.")
            unconfirmed = True  # the page offers to send the link again: the mail may be lost
        else:
            form.form_errors.append(LOGIN_REFUSED)
    elif request.method == "GET":
        form.next.data = request.args.get("next", "")
    state = state_of()
    body = render_template(
        "auth/login.html",
        form=form,
        parts=state.login_parts,
        registration_enabled=current_app.config["AUTH_REGISTRATION_ENABLED"],
        reset_enabled=state.reset_enabled,
        unconfirmed=unconfirmed,
    )
    return body, status, headers


def logout() -> t.Any:
    """Log out with a POST (and its CSRF token): the session is emptied, the remember-me cookie cleared.

    A GET (or HEAD) changes nothing: an ``<img src=/auth/logout>`` on another site must not log anyone out.
    A logged-in user gets a page asking to log out, whose button posts here with the CSRF token (and the
    ``next`` of the query string when it is a path of this site, see :func:`safe_next`); an anonymous visitor,
    logged out already, is sent where logging out leads, without a message (which would set a session cookie).
    """
    if request.method == "POST":
        accounts.logout()
        flash("You are logged out.", "success")
        return redirect(safe_next(current_app.config["AUTH_LOGOUT_REDIRECT"]))
    if not current_user.is_authenticated:
        # A bookmark or an old link to log out, followed once logged out: nothing to ask, and nothing wrong.
        # No message: it would be kept in the session, giving a cookie to a visitor who had none, to say what
        # the page it leads to shows already (its header offers to log in).
        return redirect(safe_next(current_app.config["AUTH_LOGOUT_REDIRECT"]))
    requested_next = request.args.get("next", "")
    return render_template(
        "auth/logout.html", next=requested_next if is_safe_redirect(requested_next) else "", home=_home()
    )


def register() -> t.Any:
    """Create an account; the registration form is extensible (``form_id = "auth.register"``).

    The account and its confirmation mail are one transaction: the mail is
    queued in the outbox and both commit together, or neither does. The
    mail server being down changes nothing here (the worker sends the mail
    once it is back).

    When a new account must confirm its address before logging in
    (``AUTH_REQUIRE_CONFIRMED_EMAIL`` with confirmation on), a taken address
    is answered as a new one ("check your email") and its owner is mailed
    instead (:func:`_registered_again`), so the form tells nobody which
    addresses have accounts; its requests are then throttled as reset
    requests are. Otherwise the form says that the address is taken.
    """
    form = RegistrationForm()
    if form.validate_on_submit():
        email = form.email.data or ""
        # Only when a new account must confirm its address before it logs in can a taken address answer as a
        # new one does ("check your email"): otherwise a new account is logged in at once, which tells.
        hiding = current_app.config["AUTH_REQUIRE_CONFIRMED_EMAIL"] and state_of().confirmation_enabled
        if hiding:
            throttled = _mail_throttled(form, "auth/register.html")
            if throttled is not None:
                return throttled
        try:
            user = accounts.create_user(email, form.password.data or "", commit=False)
        except accounts.AccountExistsError:
            if hiding:
                return _registered_again(email, form.password.data or "")
            form.email.errors = [*form.email.errors, "An account with this email exists already."]
        else:
            if state_of().confirmation_enabled:
                send_confirmation(user)  # flushed with the account, after it has its id
            try:
                get_session().commit()
            except IntegrityError:
                # Someone registered the same address between the check and the commit.
                get_session().rollback()
                if hiding:
                    return _registered_again(email, form.password.data or "")
                form.email.errors = [*form.email.errors, "An account with this email exists already."]
                return render_template("auth/register.html", form=form)
            registry = erlen.plugins_of()
            registry.notify("erlen_auth_user_registered", user=user, form=form)
            if not get_session().is_active:
                # A plugin's write failed in its flush (notify logged it): the account is committed already,
                # and the session must be usable again for the log-in.
                get_session().rollback()
            if hiding:  # a new account that must confirm its address first
                return render_template("auth/confirm_sent.html", email=user.email)
            accounts.login(user)
            return redirect(safe_next(_home()))
    return render_template("auth/register.html", form=form)


@login_required
def change_password() -> t.Any:
    """Change the password, knowing the current one; every other session ends."""
    form = ChangePasswordForm()
    user = t.cast(User, current_user._get_current_object())
    if form.validate_on_submit():
        throttle, address = state_of().throttle, accounts.client_address()
        # Counted before the check, as a log-in is, so parallel guesses cannot pass the limit together.
        attempt = throttle.attempt(user.email_key, address)
        refused = attempt.refused
        if refused is not None:
            # A stolen session must not become a way to guess the password: wrong guesses count as failed log-ins.
            form.form_errors.append(f"Too many failed attempts. Try again in {accounts.duration(refused.retry_after)}.")
            body = render_template("auth/change_password.html", form=form)
            return body, 429, {"Retry-After": str(refused.retry_after)}
        if state_of().passwords.verify(user.password_hash, form.current.data or ""):
            attempt.release()  # the right current password is no failure (nor, unlike a log-in, a reason to forget any)
            remembered = bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")))
            accounts.set_password(user, form.password.data or "", reason="change")
            accounts.relogin(user, remember=remembered)
            flash("Your password was changed. Your other sessions have ended.", "success")
            return redirect(_home())
        attempt.failed()
        form.current.errors = [*form.current.errors, "This is not your current password."]
    return render_template("auth/change_password.html", form=form)


@login_required
def logout_everywhere() -> t.Any:
    """End every other session and remember-me cookie of the current user."""
    form = EmptyForm()
    if form.validate_on_submit():
        accounts.logout_everywhere(t.cast(User, current_user._get_current_object()))
        flash("You were logged out of every other session.", "success")
        return redirect(_home())
    return render_template("auth/logout_everywhere.html", form=form)


def send_reset(user: User, *, suppressed: str | None = None) -> None:
    """Mail ``user`` a link to reset their password, queued in the current transaction (the caller commits).

    :param user: the user.
    :param suppressed: record the mail in the outbox without ever sending it, for this reason (see :func:`_stand_in`).
    """
    from erlen_mail import deliver_template

    token = tokens.make_token(tokens.RESET, user)
    deliver_template(
        "auth/reset",
        to=user.email,
        suppressed=suppressed,
        user=user,
        link=url_for("auth.reset_password", token=token, _external=True),
        max_age_hours=max(1, current_app.config["AUTH_RESET_MAX_AGE"] // 3600),
    )


def send_confirmation(user: User, *, suppressed: str | None = None) -> None:
    """Mail ``user`` a link to confirm their address, queued in the current transaction (the caller commits).

    :param user: the user.
    :param suppressed: as for :func:`send_reset`.
    """
    from erlen_mail import deliver_template

    token = tokens.make_token(tokens.CONFIRM, user)
    deliver_template(
        "auth/confirm",
        to=user.email,
        suppressed=suppressed,
        user=user,
        link=url_for("auth.confirm_email", token=token, _external=True),
    )


#: Why a reset or confirmation mail was recorded but not sent (kept in the outbox row, for operators).
NO_ACCOUNT = "no active account with this address"
NOT_AWAITING_CONFIRMATION = "no active account with this address waiting for confirmation"


def _stand_in(email: str) -> User:
    """A user that is never saved, to prepare the mail an address without an account would have got.

    Reset and confirmation requests must not tell, by their timing either,
    whether an account exists. So a request for an unknown address does what
    one for a known address does: it renders the same mail (with a token that
    names no user and so opens nothing) and records it in the outbox as
    ``suppressed``, a row the worker never sends; then both commit a write
    (on SQLite a commit that writes waits for the disk, a read-only one does
    not). Both run the same statements: a SELECT of the user, an INSERT into
    the outbox, a COMMIT.
    """
    return User(email=email.strip())


def _registered_again(email: str, password: str) -> t.Any:
    """Answer a registration of a taken address as one of a new address is answered, and tell its owner by mail.

    The page is the new account's ("check your email"), and the work the same: the password is hashed (argon2id,
    what creating an account costs), a mail is queued in the outbox and committed. The owner gets a note saying
    that no account was made, with links to log in and to choose a new password; an owner who never confirmed
    the address gets a new confirmation link instead; a deactivated account's note is recorded, never sent.
    Nothing of the account changes: not its password, not its sessions.

    :param email: the address, as typed.
    :param password: the password typed, hashed and thrown away.
    """
    from erlen_mail import deliver_template

    state_of().passwords.hash(password)  # the same work as a new account's: see _stand_in
    owner = accounts.find_user(email)
    if owner is not None and owner.is_active and owner.email_confirmed_at is None:
        send_confirmation(owner)
    else:
        deliver_template(
            "auth/registration_taken",
            to=owner.email if owner is not None else email.strip(),
            suppressed=None if owner is not None and owner.is_active else NO_ACCOUNT,
            user=owner if owner is not None else _stand_in(email),
            login_link=url_for("auth.login", _external=True),
            reset_link=url_for("auth.reset_request", _external=True),
        )
    get_session().commit()
    return render_template("auth/confirm_sent.html", email=email.strip())


def _mail_throttled(form: ResetRequestForm | RegistrationForm, template: str) -> t.Any:
    """A 429 answer when too many emails were asked for this address or from this client, else ``None``.

    Every request counts, whether the account exists or not, so the answer tells nothing about it.
    """
    throttle, key, address = state_of().throttle, email_key(form.email.data or ""), accounts.client_address()
    # Counted and decided in one step, so parallel requests cannot send more emails than the limit.
    refused = throttle.attempt(key, address, kind="mail").refused
    if refused is None:
        return None
    form.form_errors.append(f"Too many emails were asked for. Try again in {accounts.duration(refused.retry_after)}.")
    return render_template(template, form=form), 429, {"Retry-After": str(refused.retry_after)}


def reset_request() -> t.Any:
    """Ask for a reset link; the answer is the same whether the account exists or not."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        throttled = _mail_throttled(form, "auth/reset_request.html")
        if throttled is not None:
            return throttled
        email = form.email.data or ""
        user = accounts.find_user(email)
        if user is not None and user.is_active:
            send_reset(user)
        else:
            send_reset(_stand_in(email), suppressed=NO_ACCOUNT)  # the same work: see _stand_in
        get_session().commit()
        return render_template("auth/reset_sent.html", email=form.email.data)
    return render_template("auth/reset_request.html", form=form)


def _token_user(purpose: str, token: str, max_age: int) -> User | None:
    """The user a link's token is for, when it is authentic, unexpired and unused; its signature is checked once."""
    payload = tokens.read(purpose, token, max_age)
    user = get_session().get(User, payload.user_id) if payload is not None else None
    if user is None or payload is None or not tokens.fits(purpose, payload, user):
        return None
    return user


def reset_password(token: str) -> t.Any:
    """Set a new password from a reset link; the link works once, then every session of the user ends."""
    user = _token_user(tokens.RESET, token, current_app.config["AUTH_RESET_MAX_AGE"])
    if user is None or not user.is_active:
        return render_template("auth/token_invalid.html", purpose="reset"), 400
    form = ResetPasswordForm()
    form.account_email = user.email  # the policy refuses a password made of it
    if form.validate_on_submit():
        accounts.set_password(user, form.password.data or "", reason="reset")
        if user.email_confirmed_at is None:
            # Following the link proved the address.
            user.email_confirmed_at = dt.datetime.now(dt.UTC)
            get_session().commit()
        flash("Your password was changed. Log in with the new one.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form, token=token)


def confirm_email(token: str) -> t.Any:
    """Confirm an address from the emailed link: the page asks, a POST confirms (link scanners only GET)."""
    user = _token_user(tokens.CONFIRM, token, current_app.config["AUTH_CONFIRM_MAX_AGE"])
    if user is None:
        return render_template("auth/token_invalid.html", purpose="confirm"), 400
    form = EmptyForm()
    if form.validate_on_submit():
        user.email_confirmed_at = dt.datetime.now(dt.UTC)
        get_session().commit()
        flash("Your email address is confirmed.", "success")
        return redirect(_home() if current_user.is_authenticated else url_for("auth.login"))
    return render_template("auth/confirm.html", form=form, token=token, email=user.email)


def resend_confirmation() -> t.Any:
    """Send the confirmation link again; the answer is the same whether the account exists or not."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        throttled = _mail_throttled(form, "auth/resend_confirmation.html")
        if throttled is not None:
            return throttled
        email = form.email.data or ""
        user = accounts.find_user(email)
        if user is not None and user.is_active and user.email_confirmed_at is None:
            send_confirmation(user)
        else:
            send_confirmation(_stand_in(email), suppressed=NOT_AWAITING_CONFIRMATION)  # the same work: see _stand_in
        get_session().commit()
        return render_template("auth/confirm_sent.html", email=form.email.data)
    if request.method == "GET" and current_user.is_authenticated:
        form.email.data = current_user.email
    return render_template("auth/resend_confirmation.html", form=form)


def unauthorized() -> t.Any:
    """Anonymous users of a protected view: 401 for JSON clients, otherwise to the log-in page with ``next``."""
    if wants_json():
        return {"error": "unauthorized", "message": "Log in first."}, 401
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))
