"""The views of the users' data rights: "Download my data" and "Delete my account".

``POST /auth/data/export`` (``auth.export_data``) answers a JSON attachment of
everything the plugins keep about the user; ``GET, POST /auth/delete``
(``auth.delete_account``) asks for the address and schedules the deletion
(re-authentication first); ``GET, POST /auth/delete/cancel/<token>``
(``auth.cancel_deletion``) is the link of the notice mail. The security page
gets the section "Your data" (order 90).

The rules of these views are in :data:`erlen_auth.blueprint.LAZY_RULES`: the app registers them when it is
created, and this module is imported by the first request for one of them.
"""

from __future__ import annotations

import json
import logging
import re
import typing as t

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import EmailField
from wtforms.validators import DataRequired, Length, ValidationError

from erlen_db import get_session
from erlen_forms import Form

from . import accounts, data_rights
from .forms import EmptyForm
from .models import EMAIL_MAX_LENGTH, User, email_key
from .permissions import login_required
from .reauth import reauthentication_required
from .state import state_of

logger = logging.getLogger(__name__)


class DeleteAccountForm(Form):
    """The account's address typed again, so that nobody deletes an account by a slip of the mouse."""

    form_id = "auth.delete_account"
    email = EmailField(
        "Type your email address to confirm",
        [DataRequired(), Length(max=EMAIL_MAX_LENGTH)],
        render_kw={"autocomplete": "off"},
    )

    def validate_email(self, field: t.Any) -> None:
        if email_key(field.data or "") != current_user.email_key:
            raise ValidationError("This is not the address of your account.")


def _user() -> User:
    return t.cast(User, current_user._get_current_object())


@login_required
def export_data() -> t.Any:
    """Answer everything the app keeps about the current user as a JSON file (POST, with a CSRF token)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user()
    config = current_app.config
    limit = config["AUTH_DATA_EXPORT_LIMIT"]
    if limit:
        # Every plugin reads all it has about the user: counted per account, so a script cannot load the database.
        count, left = state_of().throttle.store.hit(f"data-export:user:{user.id}", config["AUTH_DATA_EXPORT_WINDOW"])
        if count > limit:
            flash(f"You downloaded your data a moment ago. Try again in {accounts.duration(left)}.", "error")
            page = render_template("auth/security.html", sections=state_of().security_sections)
            return page, 429, {"Retry-After": str(left)}
    document = data_rights.export_user(user)
    stamp = document["generated_at"][:10]
    # The app's import name is a module path: a file name of safe characters whatever it holds.
    name = re.sub(r"[^A-Za-z0-9._-]", "_", current_app.name).strip("._") or "app"
    body = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
    return Response(
        body + "\n",
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-data-{user.id}-{stamp}.json"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@reauthentication_required
def delete_account() -> t.Any:
    """Ask for the address, then schedule the deletion (or delete at once with no grace period) and log out."""
    form = DeleteAccountForm()
    grace = data_rights.grace_period()
    if form.validate_on_submit():
        user = _user()
        email = user.email
        try:
            deletion = data_rights.request_deletion(user)  # ends every session, this one's too
        except data_rights.AccountDeletionError:
            # A plugin could not delete its data (rolled back: the account is whole). The operators must
            # see why; the user is told that nothing happened, and may try again.
            logger.exception("The account of user %s could not be deleted", user.id)
            form.form_errors.append(
                "Your account could not be deleted because of an error on our side. Nothing was deleted: "
                "try again later, or contact us."
            )
            return render_template("auth/data/delete.html", form=form, grace_days=grace.days), 503
        accounts.logout()
        if deletion is None:
            return render_template("auth/data/deleted.html", email=email)
        return render_template("auth/data/deletion_scheduled.html", email=email, deletion=deletion)
    return render_template("auth/data/delete.html", form=form, grace_days=grace.days)


def cancel_deletion(token: str) -> t.Any:
    """The link of the notice mail: the page asks, a POST cancels the deletion (link scanners only GET)."""
    deletion = data_rights.deletion_for_token(token)
    if deletion is None:
        return render_template("auth/data/cancel_invalid.html"), 400
    form = EmptyForm()
    if form.validate_on_submit():
        user = get_session().get(User, deletion.user_id)
        if user is not None:
            data_rights.cancel_deletion(user)
            get_session().commit()
        flash("Your account will not be deleted. Log in to use it.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/data/cancel.html", form=form, token=token, deletion=deletion)
