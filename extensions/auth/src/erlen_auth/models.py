"""The tables of the auth plugin: users, roles and the permissions of roles.

Every table name starts with ``auth_``. Apps add fields of their own in a
table of their own that refers to ``auth_user.id`` (a profile), filled in
from the ``erlen_auth_user_registered`` hook; see the README.
"""

from __future__ import annotations

import datetime as dt
import secrets
import typing as t

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from erlen_db import Model

#: The longest email address the ``auth_user`` table stores (RFC 5321 limits a path to 254 characters).
EMAIL_MAX_LENGTH = 254

#: The longest role name the ``auth_role`` table stores.
ROLE_NAME_MAX_LENGTH = 80


def new_session_token() -> str:
    """A new random per-user session token."""
    return secrets.token_urlsafe(32)


def email_key(email: str) -> str:
    """The form of ``email`` that uniqueness and look-ups use: stripped and case-folded.

    :param email: an address as a person typed it.
    """
    return email.strip().lower()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UserRole(Model):
    """A role given to a user."""

    __tablename__ = "auth_user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("auth_role.id", ondelete="CASCADE"), primary_key=True)


class RolePermission(Model):
    """A permission granted to a role."""

    __tablename__ = "auth_role_permission"

    role_id: Mapped[int] = mapped_column(ForeignKey("auth_role.id", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(120), primary_key=True)


class Role(Model):
    """A named group of permissions."""

    __tablename__ = "auth_role"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(ROLE_NAME_MAX_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    grants: Mapped[list[RolePermission]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def permissions(self) -> frozenset[str]:
        """The names of the permissions the role grants."""
        return frozenset(grant.permission for grant in self.grants)

    def grant(self, permission: str) -> None:
        """Grant ``permission`` to the role (no check that it is known: see :func:`erlen_auth.grant`)."""
        if permission not in self.permissions:
            self.grants.append(RolePermission(permission=permission))

    def revoke(self, permission: str) -> None:
        """Take ``permission`` away from the role."""
        self.grants[:] = [grant for grant in self.grants if grant.permission != permission]

    def __repr__(self) -> str:
        return f"<Role {self.name!r}>"


class User(Model):
    """An account.

    Flask-Login's protocol is implemented here: :meth:`get_id` returns the
    id joined with the user's :attr:`session_token`, so rotating the token
    (:meth:`rotate_session_token`) ends every session and remember-me
    cookie of the user at once.
    """

    __tablename__ = "auth_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The address as the user typed it, for sending mail.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    #: The address stripped and lower-cased: unique, and what log-ins look up.
    email_key: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    email_confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, server_default=func.now())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    #: Loaded on first use (``can()`` of a non-superuser), so a request that only needs the user costs one query.
    roles: Mapped[list[Role]] = relationship(secondary="auth_user_role")

    def __init__(self, **kwargs: t.Any) -> None:
        if "email" in kwargs and "email_key" not in kwargs:
            kwargs["email_key"] = email_key(kwargs["email"])
        kwargs.setdefault("session_token", new_session_token())
        super().__init__(**kwargs)

    # Flask-Login's protocol

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session and the remember cookie: ``"<id>:<session token>"``."""
        return f"{self.id}:{self.session_token}"

    def rotate_session_token(self) -> None:
        """End every session and remember-me cookie of the user: they carry the old token."""
        self.session_token = new_session_token()

    def set_email(self, email: str) -> None:
        """Change the address, keeping :attr:`email_key` in step."""
        self.email = email.strip()
        self.email_key = email_key(email)

    # Permissions

    @property
    def permissions(self) -> frozenset[str]:
        """The permissions the user's roles grant (a superuser has every permission regardless)."""
        return frozenset(name for role in self.roles for name in role.permissions)

    def can(self, permission: str) -> bool:
        """Whether the user has ``permission``: a superuser, or through a role.

        :raises UnknownPermissionError: no enabled plugin declares the permission.
        """
        from .permissions import require_known

        require_known(permission)
        return self.is_active and (self.is_superuser or permission in self.permissions)

    def has_role(self, name: str) -> bool:
        """Whether the user has the role called ``name``."""
        return any(role.name == name for role in self.roles)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email!r}>"


class AnonymousUser:
    """The user of a request nobody is logged in to; it can do nothing."""

    is_authenticated = False
    is_active = False
    is_anonymous = True
    is_superuser = False
    email = None
    roles: t.ClassVar[list[Role]] = []

    def get_id(self) -> None:
        return None

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset()

    def can(self, permission: str) -> bool:
        """Always ``False``, once ``permission`` is known.

        :raises UnknownPermissionError: no enabled plugin declares the permission.
        """
        from .permissions import require_known

        require_known(permission)
        return False

    def has_role(self, name: str) -> bool:
        return False


MODELS: tuple[type[Model], ...] = (User, Role, UserRole, RolePermission)
