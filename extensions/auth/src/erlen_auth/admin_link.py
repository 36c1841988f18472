"""Whether the account menu links the admin: for superusers, and for anyone a role gives ``admin.access``.

The menu is on every page, error pages included, which must never touch the database; and most users have no
role at all, whose pages should not pay a query to find that out. So the answer is worked out from what is
loaded already: a superuser's flag; the user's roles, when something in the request loaded them (``can()``);
else the answer the user loader read with the user, in the same statement (:func:`erlen_auth.sessions.user_loader`
asks whether one of the user's roles grants ``admin.access`` when erlen-admin declares it). Only a user that
neither loaded (logged in by this very request) is asked with a query, and never on an error page, where the
link is then left out.
"""

from __future__ import annotations

import typing as t

from sqlalchemy import inspect

#: The permission that lets a user enter erlen-admin (declared by it).
ADMIN_ACCESS = "admin.access"

#: Where the user loader keeps, on the user's instance state, whether a role grants :data:`ADMIN_ACCESS`.
LOADED_ANSWER = "erlen_auth_may_enter_admin"


def remember(user: t.Any, allowed: bool) -> None:
    """Keep, for this request, whether one of ``user``'s roles grants :data:`ADMIN_ACCESS` (as just read).

    :param user: the :class:`~erlen_auth.User` loaded.
    :param allowed: the answer read with it.
    """
    inspect(user).info[LOADED_ANSWER] = allowed


def may_enter_admin(user: t.Any, error_page: bool = False) -> bool:
    """Whether the account menu should link the admin for ``user``; call it only when erlen-admin is enabled.

    :param user: the current user (anonymous or a :class:`~erlen_auth.User`).
    :param error_page: the page is an error page: no query is made, the link is left out when not known.
    """
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if user.is_superuser:
        return True
    state = inspect(user)
    if "roles" in state.dict:
        return bool(user.can(ADMIN_ACCESS))  # the roles and their grants are loaded: no query
    known: bool | None = state.info.get(LOADED_ANSWER)
    if known is not None:
        return known
    if error_page:
        return False
    return bool(user.can(ADMIN_ACCESS))  # a user logged in by this request: its roles, in one query
