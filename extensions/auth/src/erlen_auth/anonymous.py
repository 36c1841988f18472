"""The user of a request nobody is logged in to, in a module of its own.

The plugin hands it to Flask-Login when the app is created, ``erlen --help``
included, which creates it without SQLAlchemy (see :func:`erlen.defer_setup`):
:mod:`erlen_auth.models` imports SQLAlchemy, and keeps this name too.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from .models import Role


class AnonymousUser:
    """The user of a request nobody is logged in to; it can do nothing."""

    is_authenticated = False
    is_active = False
    is_anonymous = True
    is_superuser = False
    email = None
    roles: t.ClassVar[list[Role]] = []
    login_session_id = None
    login_session_key = None
    token_scopes = None

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
