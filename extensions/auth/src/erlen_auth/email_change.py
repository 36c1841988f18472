"""Changing the email address: confirmed at the new address, announced to the old one, which can undo it.

``/auth/email`` (after a recent proof of who the user is: see
:mod:`erlen_auth.reauth`) takes the new address and changes nothing yet: it
mails the new address a link (signed, expiring after
``AUTH_EMAIL_CHANGE_MAX_AGE`` seconds, working once). The pending request is
a row of ``auth_email_change`` (``kind = "confirm"``), one per user: a second
request deletes the first, whose link then stops working.

The page answers the same whether another account has the new address or
not, so it cannot be used to find out which addresses have accounts: when one
has, the new address is mailed a note saying someone tried to use it instead
of a link, and nothing is pending.

Following the link (a page that asks, then a POST: link scanners only GET)
changes the address (``email`` and ``email_key``), marks it confirmed, and
mails the ``email_changed`` notice to the old address with a link that undoes
the change for ``AUTH_EMAIL_CHANGE_UNDO_DAYS`` days (an ``auth_email_change``
row of ``kind = "undo"``). The other sessions stay signed in: the change was
asked for after a recent proof of who the user is and confirmed from the new
mailbox, and the undo link ends them all if it was not the owner. Reset links
mailed to the old address before stop working (the session token is rotated).

Undoing restores the old address (confirmed: the link proved it), ends every
session of the user, cancels pending changes, and sends the browser on to
choose a new password (a fresh reset link's page), since whoever changed the
address may know the password.

Everything here needs the mail plugin: without it, the routes do not exist.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass

import flask_login
import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user
from wtforms import EmailField
from wtforms.validators import DataRequired, Email, Length

from erlen_db import get_session
from erlen_forms import Form

from . import accounts, notices, sessions, tokens
from .account_models import EmailChange
from .feature_settings import EMAIL_CHANGE_SETTINGS
from .forms import EmptyForm, email_key_fits
from .models import EMAIL_MAX_LENGTH, User, email_key
from .reauth import reauthentication_required
from .state import state_of

#: The token purposes of the confirmation link (to the new address) and the undo link (to the old one).
CHANGE = "email-change"
UNDO = "email-undo"

#: The kinds of ``auth_email_change`` rows.
PENDING, UNDOABLE = "confirm", "undo"


#: Declared in :mod:`erlen_auth.feature_settings` (importable without this module's libraries).
SETTINGS = EMAIL_CHANGE_SETTINGS


def _row_state(kind: str) -> tokens.StateOf:
    """The state a token of ``kind`` rows is bound to: its row, for this user, while it exists."""

    def state(user: User, data: t.Mapping[str, t.Any]) -> str | None:
        row_id = data.get("row")
        if not isinstance(row_id, int) or isinstance(row_id, bool):
            return None
        row = get_session().get(EmailChange, row_id)
        if row is None or row.user_id != user.id or row.kind != kind:
            return None
        if kind == PENDING:
            # A pending change is also bound to the current address: once it changes any other way, it is void.
            return f"{row.id}|{email_key(row.email)}|{user.email_key}"
        # An undo is not bound to the user's current state: whoever changed the address must not be able to
        # void it by changing the address again, the password or the sessions.
        return f"{row.id}|{email_key(row.email)}"

    return state


tokens.register_purpose(CHANGE, "erlen-auth.email-change", _row_state(PENDING))
tokens.register_purpose(UNDO, "erlen-auth.email-change-undo", _row_state(UNDOABLE))


class ChangeEmailForm(Form):
    """The new address."""

    form_id = "auth.change_email"
    email = EmailField(
        "New email address",
        [DataRequired(), Length(max=EMAIL_MAX_LENGTH), Email(), email_key_fits],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"autocomplete": "email"},
    )


@dataclass(frozen=True)
class EmailStatus:
    """What the security page's section shows about the address.

    :param enabled: whether the address can be changed here (the mail plugin is enabled).
    :param pending: the new address waiting for confirmation, if any.
    """

    enabled: bool
    pending: str | None


def email_status(user: t.Any) -> EmailStatus:
    """The status of ``user``'s address for the security page (a template global)."""
    if not state_of().mail or not isinstance(user, User):
        return EmailStatus(False, None)
    row = _pending(user)
    return EmailStatus(True, row.email if row is not None else None)


def _pending(user: User) -> EmailChange | None:
    return get_session().scalar(
        sa.select(EmailChange).where(EmailChange.user_id == user.id, EmailChange.kind == PENDING)
    )


def _forget(user: User, kind: str) -> None:
    get_session().execute(
        sa.delete(EmailChange)
        .where(EmailChange.user_id == user.id, EmailChange.kind == kind)
        .execution_options(synchronize_session=False)
    )


def _forget_expired_undos(user: User) -> None:
    limit = dt.datetime.now(dt.UTC) - dt.timedelta(days=current_app.config["AUTH_EMAIL_CHANGE_UNDO_DAYS"])
    get_session().execute(
        sa.delete(EmailChange)
        .where(EmailChange.user_id == user.id, EmailChange.kind == UNDOABLE, EmailChange.created_at < limit)
        .execution_options(synchronize_session=False)
    )


def request_change(user: User, new_email: str) -> None:
    """Ask to change ``user``'s address to ``new_email``: mail it a link, or a note when it is taken (not committed).

    A pending request of the user is superseded either way.

    :param user: the user.
    :param new_email: the new address, as typed.
    """
    from erlen_mail import deliver_template

    db = get_session()
    _forget(user, PENDING)
    _forget_expired_undos(user)
    new_email = new_email.strip()
    if accounts.find_user(new_email, db=db) is not None:
        # Told to the owner of the address only, never to the requester: the page says the same either way.
        deliver_template("auth/email_change_taken", to=new_email, user=user, email=new_email)
        return
    row = EmailChange(user_id=user.id, kind=PENDING, email=new_email, created_at=dt.datetime.now(dt.UTC))
    db.add(row)
    db.flush()
    token = tokens.make_token(CHANGE, user, data={"row": row.id})
    deliver_template(
        "auth/email_change",
        to=new_email,
        user=user,
        email=new_email,
        link=url_for("auth.confirm_email_change", token=token, _external=True),
        max_age_hours=max(1, current_app.config["AUTH_EMAIL_CHANGE_MAX_AGE"] // 3600),
    )


def _current() -> User:
    return t.cast(User, current_user._get_current_object())


@reauthentication_required
def change_email() -> t.Any:
    """Ask for a new address; nothing changes until the link mailed to it is followed."""
    user = _current()
    form = ChangeEmailForm()
    if form.validate_on_submit():
        new_email = (form.email.data or "").strip()
        if email_key(new_email) == user.email_key:
            form.email.errors = [*form.email.errors, "This is your address already."]
        else:
            # Each request mails an address the requester chose: counted as reset emails are, per address and client.
            refused = state_of().throttle.attempt(email_key(new_email), accounts.client_address(), kind="mail").refused
            if refused is not None:
                form.form_errors.append(
                    f"Too many emails were asked for. Try again in {accounts.duration(refused.retry_after)}."
                )
                body = render_template("auth/email/change.html", form=form, pending=None)
                return body, 429, {"Retry-After": str(refused.retry_after)}
            request_change(user, new_email)
            get_session().commit()
            return render_template("auth/email/sent.html", email=new_email)
    pending = _pending(user)
    return render_template("auth/email/change.html", form=form, pending=pending.email if pending else None)


def _from_token(purpose: str, token: str, max_age: int) -> tuple[User, EmailChange] | None:
    """The user and row a link is for, when it is authentic, unexpired and unused; its signature is checked once."""
    payload = tokens.read(purpose, token, max_age)
    if payload is None:
        return None
    user = get_session().get(User, payload.user_id)
    if user is None or not tokens.fits(purpose, payload, user):
        return None
    row = get_session().get(EmailChange, payload.data["row"])  # fits() found it
    return (user, row) if row is not None else None


def _invalid() -> t.Any:
    return render_template("auth/email/invalid.html"), 400


def _taken_by_another(user: User, email: str) -> bool:
    other = accounts.find_user(email)
    return other is not None and other.id != user.id


def confirm_email_change(token: str) -> t.Any:
    """Make the new address the account's, from the link mailed to it: the page asks, a POST changes it."""
    found = _from_token(CHANGE, token, current_app.config["AUTH_EMAIL_CHANGE_MAX_AGE"])
    if found is None or not found[0].is_active:
        return _invalid()  # a deactivated account's address does not change
    user, change = found
    form = EmptyForm()
    if form.validate_on_submit():
        db = get_session()
        if _taken_by_another(user, change.email):
            # Registered since the request: whoever follows this link owns that mailbox, so this tells nobody else.
            db.delete(change)
            db.commit()
            return render_template("auth/email/taken.html", email=change.email), 409
        old_email = user.email
        now = dt.datetime.now(dt.UTC)
        user.set_email(change.email)
        user.email_confirmed_at = now  # following the link proved the address
        user.rotate_session_token()  # reset links mailed to the old address stop working (no session ends)
        db.delete(change)
        undo = EmailChange(user_id=user.id, kind=UNDOABLE, email=old_email, created_at=now)
        db.add(undo)
        try:
            db.flush()
        except sa.exc.IntegrityError:
            db.rollback()  # the address was registered between the check and the write
            return render_template("auth/email/taken.html", email=change.email), 409
        days = current_app.config["AUTH_EMAIL_CHANGE_UNDO_DAYS"]
        undo_token = tokens.make_token(UNDO, user, data={"row": undo.id})
        notices.notify(
            user,
            "email_changed",
            to=old_email,
            old_email=old_email,
            new_email=user.email,
            undo_link=url_for("auth.undo_email_change", token=undo_token, _external=True),
            undo_days=days,
        )
        db.commit()
        flash(f"Your email address is now {user.email}.", "success")
        mine = current_user.is_authenticated and current_user.id == user.id
        return redirect(url_for("auth.security") if mine else url_for("auth.login"))
    return render_template("auth/email/confirm.html", form=form, token=token, user=user, email=change.email)


def undo_email_change(token: str) -> t.Any:
    """Restore the old address from the link mailed to it: every session ends, then a new password is asked for."""
    found = _from_token(UNDO, token, current_app.config["AUTH_EMAIL_CHANGE_UNDO_DAYS"] * 86400)
    if found is None:
        return _invalid()
    user, undo = found
    form = EmptyForm()
    if form.validate_on_submit():
        db = get_session()
        if _taken_by_another(user, undo.email):
            return render_template("auth/email/undo_taken.html", email=undo.email), 409
        changed_to = user.email
        user.set_email(undo.email)
        user.email_confirmed_at = dt.datetime.now(dt.UTC)
        user.rotate_session_token()
        sessions.end(db, user.id)
        # Every pending change and undo of the user goes: the account is back in its owner's hands.
        db.execute(
            sa.delete(EmailChange).where(EmailChange.user_id == user.id).execution_options(synchronize_session=False)
        )
        try:
            db.commit()
        except sa.exc.IntegrityError:
            db.rollback()
            return render_template("auth/email/undo_taken.html", email=undo.email), 409
        if current_user.is_authenticated and current_user.id == user.id:
            session.clear()  # this browser's session ended with the others
            flask_login.logout_user()
        current_app.logger.warning(
            "auth: user %s undid the change of their email address to %r from the link mailed to the old one; "
            "every session ended",
            user.id,
            changed_to,
        )
        message = f"Your email address is {user.email} again, and every device was logged out."
        if state_of().reset_enabled and user.is_active:
            flash(f"{message} Choose a new password now.", "success")
            return redirect(url_for("auth.reset_password", token=tokens.make_token(tokens.RESET, user)))
        flash(message, "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/email/undo.html", form=form, token=token, user=user, email=undo.email)
