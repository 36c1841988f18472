"""The forms of erlen-auth's admin views: a new account with its password, and an account's edit form.

Both check what the database would refuse or what would lock everyone out
before anything is saved: a taken address, and demoting or deactivating the
last active superuser (or one's own account).
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask_login import current_user
from wtforms import BooleanField, EmailField, PasswordField, SelectMultipleField, widgets
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from erlen_db import get_session
from erlen_forms import Form

from .forms import NewPasswordField, email_key_fits
from .models import EMAIL_MAX_LENGTH, Role, User, email_key


def _role_checklist() -> SelectMultipleField:
    """Roles as checkboxes, one per role (the choices are set per request by the form)."""
    return SelectMultipleField(
        "Roles",
        coerce=int,
        validate_choice=True,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )


def _email() -> EmailField:
    return EmailField(
        "Email",
        [DataRequired(), Length(max=EMAIL_MAX_LENGTH), Email(), email_key_fits],
        render_kw={"autocomplete": "off"},
    )


def _taken(address: str, *, other_than: int | None = None) -> bool:
    statement = sa.select(User.id).where(User.email_key == email_key(address))
    if other_than is not None:
        statement = statement.where(User.id != other_than)
    return get_session().scalar(statement) is not None


def role_choices() -> list[tuple[int, str]]:
    """Every role as ``(id, name)``, by name."""
    return [(role.id, role.name) for role in get_session().scalars(sa.select(Role).order_by(Role.name))]


def other_active_superusers(user: User) -> int:
    """How many active superusers there are besides ``user``, their rows locked until the commit (PostgreSQL).

    Locked, so that two admins demoting each other at once cannot both pass the check.
    """
    statement = (
        sa.select(User.id)
        .where(User.is_superuser == True, User.is_active == True, User.id != user.id)  # noqa: E712
        .with_for_update()
    )
    return len(get_session().scalars(statement).all())


def lockout_problem(user: User, *, active: bool, superuser: bool) -> str | None:
    """Why ``user`` may not become ``active``/``superuser`` as asked, or ``None``.

    Nobody deactivates their own account here, and the last active superuser stays one: otherwise nobody
    could enter the admin to undo it.

    :param user: the account being changed.
    :param active: whether it is to stay active.
    :param superuser: whether it is to stay a superuser.
    """
    if not active and user.is_active and getattr(current_user, "id", None) == user.id:
        return "You cannot deactivate your own account."
    was_last_candidate = user.is_active and user.is_superuser
    if was_last_candidate and not (active and superuser) and other_active_superusers(user) == 0:
        return (
            "This is the last active superuser: make another account a superuser first, "
            "or nobody could administer the site."
        )
    return None


class NewUserForm(Form):
    """A new account made by an administrator: the address, a password twice (the password policy applies),
    whether it is a superuser, whether its address counts as confirmed, its roles."""

    form_id = "auth.admin_new_user"
    email = _email()
    password = NewPasswordField("Password")
    confirm = PasswordField(
        "Repeat the password",
        [DataRequired(), EqualTo("password", message="The passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    is_superuser = BooleanField("Superuser", description="Has every permission.")
    email_confirmed_at = BooleanField(
        "Email confirmed", default=True, description="Untick to have the user confirm the address first."
    )
    roles = _role_checklist()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.roles.choices = role_choices()

    def validate_email(self, field: t.Any) -> None:
        if field.data and _taken(field.data):
            raise ValidationError("An account with this email exists already.")


class EditUserForm(Form):
    """An account's address, status and confirmation; the password is never part of it."""

    form_id = "auth.admin_edit_user"
    email = _email()
    is_active = BooleanField("Active", description="Inactive accounts cannot log in; their sessions end.")
    is_superuser = BooleanField("Superuser", description="Has every permission.")
    email_confirmed_at = BooleanField("Email confirmed")

    def __init__(self, *, obj: User | None = None, **kwargs: t.Any) -> None:
        super().__init__(obj=obj, **kwargs)
        #: The account being edited.
        self.editing = obj

    def validate_email(self, field: t.Any) -> None:
        if field.data and self.editing is not None and _taken(field.data, other_than=self.editing.id):
            raise ValidationError("Another account has this email.")

    def validate_is_active(self, field: t.Any) -> None:
        if self.editing is None:
            return
        problem = lockout_problem(self.editing, active=bool(field.data), superuser=True)
        if problem is not None:
            raise ValidationError(problem)

    def validate_is_superuser(self, field: t.Any) -> None:
        if self.editing is None or not self.is_active.data:
            return  # a deactivation is checked on its own field
        problem = lockout_problem(self.editing, active=True, superuser=bool(field.data))
        if problem is not None:
            raise ValidationError(problem)
