"""The pages of personal access tokens: make one (after re-authenticating), see it once, revoke one.

The list is the "Access tokens" section of the security page (``auth/access_tokens/section.html``);
making a token is ``/auth/tokens/new`` (``auth/access_tokens/new.html``), which shows the token
once, on the answer to the form (``auth/access_tokens/created.html``): it is in no URL, no
cookie and no session, and the page is sent with ``Cache-Control: no-store``.

The rules of these views are in :data:`erlen_auth.blueprint.LAZY_RULES`: the app registers them when it is
created, and this module is imported by the first request for one of them.
"""

from __future__ import annotations

import typing as t

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from erlen_db import get_session
from erlen_forms import Form

from . import access_tokens
from .forms import EmptyForm
from .models import User
from .permissions import login_required, permissions_of
from .reauth import reauthentication_required

#: The lives offered on the form, in days (those over ``AUTH_ACCESS_TOKEN_MAX_DAYS`` are left out).
EXPIRY_CHOICES = (7, 30, 60, 90, 180, 365)
#: The form's value for "never expires" (offered only when ``AUTH_ACCESS_TOKEN_MAX_DAYS`` is unset).
NEVER = "never"
#: The permissions box of a user who has none to give.
NO_PERMISSIONS = (
    "You have no permissions to give a token: it can do what any logged-in account can (such as reaching your own "
    "data through the API), and nothing that needs a permission."
)


class NewAccessTokenForm(Form):
    """A token's name, scopes (checkboxes of the user's permissions) and life."""

    form_id = "auth.new_access_token"
    name = StringField(
        "Name",
        [DataRequired(), Length(max=access_tokens.NAME_MAX_LENGTH)],
        description="What the token is for, such as “backup script”.",
    )
    # Checked by _granted_only, with a message naming what is refused, rather than WTForms' "not a valid choice".
    scopes = SelectMultipleField(
        "Permissions",
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
        description="What the token may do, of what you may do. If you lose a permission, the token loses it too.",
    )
    expires = SelectField("Expires", validate_choice=True)

    def __init__(self, user: User, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._user = user
        known = permissions_of()
        self.scopes.choices = [
            (name, f"{name}: {known[name].description}") for name in access_tokens.grantable_scopes(user)
        ]
        if not self.scopes.choices:
            # A user without permissions would see an empty box of permissions to tick, and not what the token is
            # good for: say it.
            self.scopes.description = NO_PERMISSIONS
        default, most = access_tokens.expiry_limits()
        days = sorted({*(d for d in EXPIRY_CHOICES if most is None or d <= most), default})
        choices = [(str(d), f"in {d} days") for d in days]
        if most is None:
            choices.append((NEVER, "never"))
        self.expires.choices = choices
        if not self.is_submitted():
            self.expires.data = str(default)

    def validate_scopes(self, field: t.Any) -> None:
        refused = sorted(set(field.data or ()) - set(access_tokens.grantable_scopes(self._user)))
        if refused:
            raise ValidationError("You cannot give a token a permission you do not have: " + ", ".join(refused) + ".")

    @property
    def expires_days(self) -> int | None:
        """The chosen life in days; ``None`` for never."""
        return None if self.expires.data == NEVER else int(self.expires.data or 0)


def _user() -> User:
    return t.cast(User, current_user._get_current_object())


@reauthentication_required
def new_access_token() -> t.Any:
    """Make a token; the answer to the form shows it, once."""
    user = _user()
    form = NewAccessTokenForm(user)
    if form.validate_on_submit():
        try:
            made = access_tokens.create(
                user, name=form.name.data or "", scopes=form.scopes.data or (), expires_days=form.expires_days
            )
        except access_tokens.ScopeError as exc:  # a permission lost between the check and now
            form.scopes.errors = [*form.scopes.errors, str(exc)]
        except ValueError as exc:
            form.form_errors.append(str(exc))
        else:
            get_session().commit()
            return render_template("auth/access_tokens/created.html", token=made.token, row=made.row)
    return render_template("auth/access_tokens/new.html", form=form)


@login_required
def revoke_access_token(token_id: int) -> t.Any:
    """Revoke one of the current user's tokens (POST, with a CSRF token); no re-authentication: it takes power away."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    revoked = access_tokens.revoke(token_id, user_id=_user().id)
    get_session().commit()
    # Another user's id, or a token revoked already, changes nothing and says so: nothing about others is told.
    flash(f"The token {revoked.name!r} was revoked." if revoked else "That token was revoked already.", "success")
    return redirect(url_for("auth.security"))
