"""erlen-auth's pages in erlen-admin: users, roles with their permissions, each user's sessions and history.

Registered through the admin's hook ``erlen_admin_views`` (see
:func:`erlen_auth.plugin.erlen_admin_views`), so this module is imported only
when the ``admin`` plugin is enabled: erlen-auth installs and works without
erlen-admin.

Changing accounts needs ``auth.manage_users`` and changing roles
``auth.manage_roles`` (both declared by erlen-auth); seeing them needs the
admin's ``admin.users.view`` and ``admin.roles.view``. Secret columns
(the password hash, the session token, a session's key hash) are never shown
nor exported: the admin leaves out every column erlen-forms' ``is_sensitive``
names, and the panels below show only columns that rule lets through.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from collections.abc import Mapping

import sqlalchemy as sa
from flask import Flask
from flask_login import current_user
from markupsafe import Markup

from erlen_admin import (
    Action,
    ModelView,
    ObjectAction,
    Panel,
    QueryFilter,
    plugin_title,
    registry_of,
    stored_time,
    time_tag,
)
from erlen_db import get_session
from erlen_forms import is_sensitive

from . import accounts, admin_actions, user_agents, user_filters
from .admin_forms import EditUserForm, NewUserForm
from .models import Role, User
from .permissions import permissions_of

#: The permissions that changing accounts and roles take (declared by erlen-auth).
MANAGE_USERS = "auth.manage_users"
MANAGE_ROLES = "auth.manage_roles"

#: The columns of a log-in session that the sessions panel shows: never its key's hash.
SESSION_COLUMNS = tuple(
    name for name in ("id", "created_at", "last_seen_at", "user_agent", "address") if not is_sensitive(name)
)

#: The audit entries a user's page shows of each kind (the full log is a link away).
HISTORY_LIMIT = 10

#: The users a role's page lists (the users list, filtered by the role, has them all).
ROLE_USERS_LIMIT = 50


def when(value: dt.datetime | None) -> Markup:
    """A stored time on the panels of a user's page, as the admin writes every time (``<time>``, in UTC to the
    minute, to the second in its title); "—" for none.

    :param value: the time, or ``None``.
    """
    return time_tag(value)


def _role_options() -> list[tuple[str, str]]:
    return [(str(role.id), role.name) for role in get_session().scalars(sa.select(Role).order_by(Role.name))]


def _by_role(statement: sa.Select[t.Any], value: str) -> sa.Select[t.Any]:
    return user_filters.with_role(statement, int(value))


def _by_confirmation(statement: sa.Select[t.Any], value: str) -> sa.Select[t.Any]:
    return user_filters.confirmed(statement, value == "1")


class UserView(ModelView):
    """The admin's pages of accounts: a new account takes a password form (hashed with argon2id, under the
    password policy); the edit form never shows the password; deactivating ends the sessions."""

    def __init__(self) -> None:
        super().__init__(
            User,
            name="User",
            plural="Users",
            slug="users",
            list_columns=["email", "is_active", "is_superuser", "email_confirmed_at", "last_login_at"],
            detail_columns=[
                "id",
                "email",
                "is_active",
                "is_superuser",
                "email_confirmed_at",
                "last_login_at",
                "created_at",
            ],
            sortable=["id"],
            default_sort="-id",
            search=["email"],
            filters=[
                "is_active",
                "is_superuser",
                QueryFilter("role", "Role", _role_options, _by_role),
                QueryFilter("confirmed", "Confirmed", (("1", "Yes"), ("0", "No")), _by_confirmation),
            ],
            can_delete=False,
            permissions={"create": MANAGE_USERS, "edit": MANAGE_USERS, "delete": MANAGE_USERS},
            actions=[
                Action("deactivate", "Deactivate selected", admin_actions.deactivate_selected, permission="edit"),
                Action("activate", "Activate selected", admin_actions.activate_selected, permission="edit"),
            ],
            object_actions=[
                ObjectAction(
                    "deactivate",
                    "Deactivate",
                    admin_actions.deactivate,
                    available=lambda user: user.is_active,
                    danger=True,
                ),
                ObjectAction("activate", "Activate", admin_actions.activate, available=lambda user: not user.is_active),
                ObjectAction("end_sessions", "End all sessions", admin_actions.end_sessions),
                ObjectAction(
                    "resend_confirmation",
                    "Resend confirmation link",
                    admin_actions.resend_confirmation,
                    available=admin_actions.confirmation_available,
                ),
                ObjectAction(
                    "send_reset",
                    "Send password reset link",
                    admin_actions.send_reset,
                    available=admin_actions.reset_available,
                ),
                ObjectAction("set_roles", "Save roles", admin_actions.set_roles, button=False),
                ObjectAction("end_session", "End session", admin_actions.end_session, button=False),
            ],
            panels=[
                Panel("Roles", "auth/admin/user_roles.html", context=_roles_context),
                Panel("Sessions", "auth/admin/user_sessions.html", context=_sessions_context),
                Panel("History", "auth/admin/user_history.html", context=_history_context),
            ],
        )

    def describe(self, obj: t.Any) -> str:
        return str(obj.email)

    def create_form_class(self) -> t.Any:
        return NewUserForm

    def edit_form_class(self) -> t.Any:
        return EditUserForm

    def create_object(self, form: t.Any, session: t.Any) -> t.Any:
        return accounts.create_user(
            form.email.data or "",
            form.password.data or "",
            superuser=bool(form.is_superuser.data),
            confirmed=bool(form.email_confirmed_at.data),
            roles=[name for role_id, name in form.roles.choices if role_id in (form.roles.data or ())],
            db=session,
            commit=False,
        )

    def update_object(self, form: t.Any, obj: t.Any) -> None:
        user = t.cast(User, obj)
        if form.email.data and form.email.data.strip() != user.email:
            user.set_email(form.email.data)
        if user.is_active and not form.is_active.data:
            user.rotate_session_token()  # reset links sent before stop working; the sessions end on the update
        user.is_active = bool(form.is_active.data)
        user.is_superuser = bool(form.is_superuser.data)
        if form.email_confirmed_at.data and user.email_confirmed_at is None:
            user.email_confirmed_at = dt.datetime.now(dt.UTC)
        elif not form.email_confirmed_at.data:
            user.email_confirmed_at = None


class RoleView(ModelView):
    """The admin's pages of roles, with their permissions as checkboxes grouped by the plugin declaring them."""

    def __init__(self) -> None:
        super().__init__(
            Role,
            name="Role",
            plural="Roles",
            slug="roles",
            list_columns=["name", "description"],
            search=["name"],
            sortable=["id"],
            default_sort="id",
            permissions={"create": MANAGE_ROLES, "edit": MANAGE_ROLES, "delete": MANAGE_ROLES},
            object_actions=[
                ObjectAction("set_permissions", "Save permissions", admin_actions.set_permissions, button=False)
            ],
            panels=[
                Panel("Permissions", "auth/admin/role_permissions.html", context=_permissions_context),
                Panel("Users", "auth/admin/role_users.html", context=_role_users_context),
            ],
        )

    def describe(self, obj: t.Any) -> str:
        return str(obj.name)


def may_view(slug: str) -> bool:
    """Whether the current user may open the admin's pages of the model view ``slug`` (``users``, ``roles``): a
    panel links them only then, since the link would answer 403 (the names stay, as text).

    :param slug: the model view's slug.
    """
    other = registry_of().models.get(slug)
    return other is not None and other.allows(current_user, "view")


def _roles_context(view: ModelView, user: User) -> Mapping[str, t.Any]:
    granted = {role.id for role in user.roles}
    roles = list(get_session().scalars(sa.select(Role).order_by(Role.name)))
    return {
        "roles": [(role, role.id in granted) for role in roles],
        "can_edit": view.allows(current_user, "edit"),
        "can_view_roles": may_view("roles"),
    }


def _sessions_context(view: ModelView, user: User) -> Mapping[str, t.Any]:
    return {
        "rows": admin_actions.session_rows(user),
        "columns": SESSION_COLUMNS,
        "when": when,
        "describe_device": user_agents.describe,
        "current": getattr(current_user, "login_session_id", None),
        "can_edit": view.allows(current_user, "edit"),
    }


def _history_context(view: ModelView, user: User) -> Mapping[str, t.Any]:
    audit = registry_of().models.get("audit")
    if audit is None or not audit.allows(current_user, "view"):
        return {"allowed": False}
    from erlen_admin.models import AuditEntry

    viewer = current_user._get_current_object()

    def latest(condition: sa.ColumnElement[bool]) -> list[AuditEntry]:
        # Through the audit view's scope, as the audit log reads them: an entry of a model the viewer may not see
        # (a role's, for someone who may view users only) holds that row's values.
        statement = audit.scoped(sa.select(AuditEntry), viewer).where(condition)
        statement = statement.order_by(AuditEntry.id.desc()).limit(HISTORY_LIMIT)
        return list(get_session().scalars(statement))

    return {
        "allowed": True,
        "about": latest(sa.and_(AuditEntry.model == view.slug, AuditEntry.object_id == str(user.id))),
        "by": latest(AuditEntry.user_id == user.id),
        "when": when,
        "changes": describe_changes,
    }


def describe_changes(changes: t.Any, model: str | None = None) -> Markup:
    """An audit entry's changes in a line: ``Active: True → False; roles: [] → ['editors']``, each column named by
    its heading, a time as the admin writes every time (a ``<time>`` element), as on the entry's own page.

    :param changes: the entry's ``changes``.
    :param model: the entry's model (its view's slug), whose column types say which values are times.
    """
    if not isinstance(changes, dict) or not changes:
        return Markup("")
    view = registry_of().models.get(model) if model is not None else None
    parts = []
    for key, value in changes.items():
        # The column's heading, as the entry's own page names it; the stored key for one the view does not show.
        label = view.label(key) if view is not None and key in view.columns else key
        if isinstance(value, list) and len(value) == 2:
            parts.append(Markup("{}: {} → {}").format(label, _short(view, key, value[0]), _short(view, key, value[1])))
        else:
            parts.append(Markup("{}: {}").format(label, _short(view, key, value)))
    return Markup("; ").join(parts)


def _short(view: ModelView | None, key: str, value: t.Any) -> str | Markup:
    if value is None:
        return "—"
    moment = stored_time(view, key, value)
    if moment is not None:
        return time_tag(moment)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _permissions_context(view: ModelView, role: Role) -> Mapping[str, t.Any]:
    granted = role.permissions
    # Headed as the dashboard and the sidebar head each plugin's group ("Accounts"), by the same function.
    groups: dict[str, list[tuple[t.Any, bool]]] = {}
    for permission in permissions_of().values():
        groups.setdefault(plugin_title(permission.plugin), []).append((permission, permission.name in granted))
    undeclared = sorted(name for name in granted if name not in permissions_of())
    return {"groups": groups, "undeclared": undeclared, "can_edit": view.allows(current_user, "edit")}


def _role_users_context(view: ModelView, role: Role) -> Mapping[str, t.Any]:
    if not may_view("users"):
        # The addresses are the users' pages' to show (admin.users.view): say only how many there are.
        return {"can_view_users": False, "count": admin_actions.count_users_of(role)}
    return {"can_view_users": True, "users": admin_actions.users_of(role, ROLE_USERS_LIMIT), "limit": ROLE_USERS_LIMIT}


def admin_views(app: Flask) -> list[ModelView]:
    """The admin views of erlen-auth: users and roles.

    :param app: the app being set up.
    """
    return [UserView(), RoleView()]
