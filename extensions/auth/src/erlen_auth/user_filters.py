"""Which users: the conditions ``erlen user list`` and the admin's user list filter by."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from .models import Role, User


def with_role(statement: sa.Select[t.Any], role_id: int) -> sa.Select[t.Any]:
    """``statement`` narrowed to the users who have the role ``role_id`` (an ``EXISTS``, one row per user).

    :param statement: a ``SELECT`` of users.
    :param role_id: the role's id.
    """
    return statement.where(User.roles.any(Role.id == role_id))


def confirmed(statement: sa.Select[t.Any], yes: bool) -> sa.Select[t.Any]:
    """``statement`` narrowed to the users whose address is confirmed (``yes``) or not.

    :param statement: a ``SELECT`` of users.
    :param yes: confirmed users; ``False``: those not confirmed yet.
    """
    column = User.email_confirmed_at
    return statement.where(column.is_not(None) if yes else column.is_(None))


def escape_like(text: str) -> str:
    """``text`` with ``LIKE``'s wildcards escaped (the escape character is ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def users(
    *,
    active: bool | None = None,
    superuser: bool | None = None,
    role_id: int | None = None,
    is_confirmed: bool | None = None,
    search: str | None = None,
) -> sa.Select[t.Any]:
    """A ``SELECT`` of the users matching every condition given, by id; ``None`` leaves a condition out.

    :param active: active accounts, or deactivated ones.
    :param superuser: superusers, or the others.
    :param role_id: users who have this role.
    :param is_confirmed: users whose address is confirmed, or not.
    :param search: text found in the address (case-insensitive).
    """
    statement = sa.select(User).order_by(User.id)
    if active is not None:
        statement = statement.where(User.is_active == active)
    if superuser is not None:
        statement = statement.where(User.is_superuser == superuser)
    if role_id is not None:
        statement = with_role(statement, role_id)
    if is_confirmed is not None:
        statement = confirmed(statement, is_confirmed)
    if search:
        statement = statement.where(User.email.ilike(f"%{escape_like(search)}%", escape="\\"))
    return statement
