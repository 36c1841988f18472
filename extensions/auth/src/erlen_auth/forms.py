"""The forms of the auth views, on erlen-forms (CSRF-protected app-wide).

Each has a ``form_id`` so plugins extend it through ``erlen_forms_extend``:
``auth.register``, ``auth.login``, ``auth.change_password``,
``auth.reset_request``, ``auth.reset_password``, ``auth.reauthenticate``.
"""

from __future__ import annotations

import typing as t

from flask import current_app
from wtforms import BooleanField, EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from erlen_forms import Form

from .models import EMAIL_MAX_LENGTH


class PasswordPolicy:
    """A new password's length, between ``AUTH_PASSWORD_MIN_LENGTH`` and ``AUTH_PASSWORD_MAX_LENGTH``."""

    field_flags: t.ClassVar[dict[str, bool]] = {"required": True}

    def __call__(self, form: t.Any, field: t.Any) -> None:
        config = current_app.config
        low, high = config["AUTH_PASSWORD_MIN_LENGTH"], config["AUTH_PASSWORD_MAX_LENGTH"]
        value = field.data or ""
        if len(value) < low:
            raise ValidationError(f"Use at least {low} characters.")
        if len(value) > high:
            raise ValidationError(f"Use at most {high} characters.")


def _email_field() -> t.Any:
    return EmailField(
        "Email", [DataRequired(), Length(max=EMAIL_MAX_LENGTH), Email()], render_kw={"autocomplete": "email"}
    )


class LoginForm(Form):
    """Email, password and "remember me"."""

    form_id = "auth.login"
    email = EmailField("Email", [DataRequired(), Length(max=EMAIL_MAX_LENGTH)], render_kw={"autocomplete": "email"})
    # The length cap keeps a huge "password" from costing a hash; the policy applies to new passwords only.
    password = PasswordField(
        "Password", [DataRequired(), Length(max=4096)], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField("Remember me")
    next = HiddenField()


class RegistrationForm(Form):
    """A new account: email and password twice."""

    form_id = "auth.register"
    email = _email_field()
    password = PasswordField("Password", [PasswordPolicy()], render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(
        "Repeat the password",
        [DataRequired(), EqualTo("password", message="The passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(Form):
    """The current password, and the new one twice."""

    form_id = "auth.change_password"
    current = PasswordField(
        "Current password", [DataRequired(), Length(max=4096)], render_kw={"autocomplete": "current-password"}
    )
    password = PasswordField("New password", [PasswordPolicy()], render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(
        "Repeat the new password",
        [DataRequired(), EqualTo("password", message="The passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class ResetRequestForm(Form):
    """The email to send a reset link to."""

    form_id = "auth.reset_request"
    email = _email_field()


class ResetPasswordForm(Form):
    """A new password, twice."""

    form_id = "auth.reset_password"
    password = PasswordField("New password", [PasswordPolicy()], render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(
        "Repeat the new password",
        [DataRequired(), EqualTo("password", message="The passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class ReauthenticateForm(Form):
    """The password again, before a sensitive action."""

    form_id = "auth.reauthenticate"
    password = PasswordField(
        "Password", [DataRequired(), Length(max=4096)], render_kw={"autocomplete": "current-password"}
    )
    next = HiddenField()


class EmptyForm(Form):
    """A form with nothing but its CSRF token: log out, log out everywhere, confirm, resend."""
