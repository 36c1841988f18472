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

from . import password_policy
from .models import EMAIL_MAX_LENGTH, email_key_problem


class PasswordPolicy:
    """A new password's policy (see :mod:`erlen_auth.password_policy`): its length, not a common password,
    not made of the account's email address.

    The address is the form's ``email`` field when it has one (registration), else the form's
    ``account_email`` attribute when the view sets it (reset), else the logged-in user's.
    """

    field_flags: t.ClassVar[dict[str, bool]] = {"required": True}

    def __call__(self, form: t.Any, field: t.Any) -> None:
        found = password_policy.problems(field.data or "", current_app.config, email=_account_email(form))
        if found:
            raise ValidationError(" ".join(found))


def _account_email(form: t.Any) -> str | None:
    typed = getattr(form, "email", None)
    if typed is not None and isinstance(typed.data, str):
        return typed.data
    given = getattr(form, "account_email", None)
    if isinstance(given, str):
        return given
    from flask_login import current_user

    return t.cast(str | None, getattr(current_user, "email", None))


class NewPasswordField(PasswordField):
    """A new password: checked by :class:`PasswordPolicy`, with the policy as help text and the lengths as
    ``minlength``/``maxlength``, so the form says what it takes before it is submitted.

    The help text and lengths follow the app's settings, read when the form is made.
    """

    def __init__(self, label: str | None = None, validators: t.Any = None, **kwargs: t.Any) -> None:
        super().__init__(label, [PasswordPolicy(), *(validators or ())], **kwargs)
        config = current_app.config
        self.description = self.description or password_policy.describe(config)
        self.render_kw = {
            "autocomplete": "new-password",
            "minlength": config["AUTH_PASSWORD_MIN_LENGTH"],
            "maxlength": config["AUTH_PASSWORD_MAX_LENGTH"],
            **(self.render_kw or {}),
        }


def email_key_fits(form: t.Any, field: t.Any) -> None:
    """A validator of new addresses: the address's key must fit its column (see :func:`email_key_problem`).

    :param form: the form (unused).
    :param field: the email field.
    """
    problem = email_key_problem(field.data) if isinstance(field.data, str) else None
    if problem is not None:
        raise ValidationError(problem)


def _email_field() -> t.Any:
    return EmailField(
        "Email",
        [DataRequired(), Length(max=EMAIL_MAX_LENGTH), Email(), email_key_fits],
        render_kw={"autocomplete": "email"},
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
    password = NewPasswordField("Password")
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
    password = NewPasswordField("New password")
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
    #: The address of the account whose password is reset, for the policy (the view sets it).
    account_email: str | None = None
    password = NewPasswordField("New password")
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
