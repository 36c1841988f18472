"""Permissions that plugins declare, and the decorators that require them.

A permission is a dotted string (``blog.publish``) with a description. Each
plugin declares its own through the hook
:func:`erlen_auth.hookspecs.erlen_auth_permissions`; the app declares its
own in the setting ``AUTH_PERMISSIONS``. Roles group permissions; a
superuser has them all. A name nobody declares is an error, never a silent
deny: views that require one stop the app at startup, and
``current_user.can()`` raises :class:`UnknownPermissionError`.
"""

from __future__ import annotations

import functools
import re
import typing as t
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from flask import Flask, abort, current_app

import erlen

from .errors import PermissionDeclarationError, UnknownPermissionError

F = t.TypeVar("F", bound=Callable[..., t.Any])

#: The attribute of a view function that lists the permissions it requires.
REQUIRED_ATTRIBUTE = "_erlen_auth_permissions"

#: The owner of the permissions declared in ``AUTH_PERMISSIONS``.
APP_OWNER = "app"

_NAME = re.compile(r"^[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)+$")


@dataclass(frozen=True)
class Permission:
    """A declared permission.

    :param name: the dotted name, such as ``blog.publish``.
    :param description: what it allows, for people.
    :param plugin: the plugin that declared it, or ``"app"``.
    """

    name: str
    description: str
    plugin: str


def collect(app: Flask) -> dict[str, Permission]:
    """Every permission the enabled plugins and the app declare, by name.

    :raises PermissionDeclarationError: a malformed name, an empty
        description, or two declarations of one name.
    """
    found: dict[str, Permission] = {}
    declared: list[tuple[str, Mapping[str, str]]] = [
        (
            plugin.name,
            erlen.hook_mapping(plugin.name, "erlen_auth_permissions", result, "permission names to descriptions"),
        )
        for plugin, result in erlen.plugins_of(app).call_each("erlen_auth_permissions", app=app)
    ]
    declared.append((APP_OWNER, app.config.get("AUTH_PERMISSIONS") or {}))
    for owner, permissions in declared:
        for name, description in permissions.items():
            where = "AUTH_PERMISSIONS" if owner == APP_OWNER else f"plugin {owner!r}"
            if not isinstance(name, str) or not _NAME.match(name):
                raise PermissionDeclarationError(
                    f"{where} declares the permission {name!r}: a name is dotted lower-case words starting with "
                    "the plugin's name, such as 'blog.publish'.",
                    plugin=owner,
                )
            if not isinstance(description, str) or not description.strip():
                raise PermissionDeclarationError(
                    f"{where} declares the permission {name!r} without a description; say what it allows.",
                    plugin=owner,
                )
            if name in found:
                raise PermissionDeclarationError(
                    f"The permission {name!r} is declared twice: by {found[name].plugin!r} and by {owner!r}. "
                    "Each permission belongs to one plugin.",
                    plugin=owner,
                )
            found[name] = Permission(name, description.strip(), owner)
    return found


def permissions_of(app: Flask | None = None) -> dict[str, Permission]:
    """The permissions declared on ``app`` (or the current app), by name, sorted."""
    from .state import state_of

    return state_of(app).permissions


def require_known(*names: str, app: Flask | None = None) -> None:
    """Check that every name in ``names`` is a declared permission.

    :raises UnknownPermissionError: naming the unknown permission and the known ones.
    """
    known = permissions_of(app)
    for name in names:
        if name not in known:
            raise UnknownPermissionError(_unknown_message(name, known))


def _unknown_message(name: str, known: Mapping[str, Permission]) -> str:
    return (
        f"Unknown permission {name!r}: no enabled plugin declares it (through erlen_auth_permissions) and "
        f"AUTH_PERMISSIONS does not list it. Known permissions: {', '.join(sorted(known)) or 'none'}."
    )


def unknown_in_views(app: Flask) -> list[tuple[str, str]]:
    """The ``(endpoint, permission)`` pairs of views that require a permission nobody declares."""
    known = permissions_of(app)
    return [
        (endpoint, name)
        for endpoint, view in sorted(app.view_functions.items())
        for name in getattr(view, REQUIRED_ATTRIBUTE, ())
        if name not in known
    ]


def check_views(app: Flask) -> None:
    """Stop the app when one of its views requires an unknown permission.

    :raises UnknownPermissionError: naming the view and the permission.
    """
    unknown = unknown_in_views(app)
    if unknown:
        endpoint, name = unknown[0]
        raise UnknownPermissionError(
            f"The view {endpoint!r} requires a permission nobody declares. "
            + (_unknown_message(name, permissions_of(app)))
        )


def login_required(view: F) -> F:
    """Require a logged-in user to use a view; put it below the route decorator.

    Flask-Login's decorator, typed: anonymous users are sent to the log-in
    page with ``next`` set to this page (or get a 401 when they ask for JSON).
    """
    import flask_login

    return t.cast(F, flask_login.login_required(view))


def permission_required(*names: str, any_of: bool = False) -> Callable[[F], F]:
    """Require permissions to use a view; put it below the route decorator.

    Anonymous users are sent to log in (as by :func:`login_required`);
    logged-in users without the permission get a 403. Names nobody declares
    stop the app at startup.

    .. code-block:: python

        @app.post("/posts/<int:id>/publish")
        @permission_required("blog.publish")
        def publish(id): ...

    :param names: the permissions; by default all of them are needed.
    :param any_of: one of ``names`` is enough.
    """
    if not names:
        raise ValueError("permission_required needs at least one permission name, such as 'blog.publish'.")
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{name!r} is not a permission name; permission names look like 'blog.publish'.")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            from flask_login import current_user

            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            check = any if any_of else all
            if not check(current_user.can(name) for name in names):
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, REQUIRED_ATTRIBUTE, (*getattr(view, REQUIRED_ATTRIBUTE, ()), *names))
        return t.cast(F, wrapper)

    return decorate


def grant(role: t.Any, *names: str, app: Flask | None = None) -> None:
    """Grant declared permissions to ``role``.

    :param role: a :class:`erlen_auth.models.Role`.
    :raises UnknownPermissionError: a name nobody declares.
    """
    require_known(*names, app=app)
    for name in names:
        role.grant(name)


def names(permissions: Iterable[Permission]) -> list[str]:
    """The names of ``permissions``, sorted."""
    return sorted(permission.name for permission in permissions)
