"""The ``admin`` plugin: an admin interface at ``/admin`` that every plugin adds views to."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

from flask import Flask

import erlen

from . import hookspecs

if t.TYPE_CHECKING:
    import sqlalchemy as sa

    from erlen.checks import CheckMessage
    from erlen_auth import AccountLink

    from .views.model_view import ModelView
    from .views.pages import AdminPage
    from .widgets import Widget

PLUGIN = erlen.Plugin(
    name="admin",
    requires=["db", "forms", "auth"],
    integrates_with=["migrate"],
    description="Admin interface: model views and pages of every plugin, keyset lists, permissions, audit log",
)


@erlen.hookimpl
def erlen_hookspecs() -> Iterable[ModuleType]:
    return [hookspecs]


@erlen.hookimpl
def erlen_settings() -> Iterable[erlen.Setting]:
    S = erlen.Setting
    return [
        S("URL_PREFIX", str, default="/admin", help="Where the admin is mounted."),
        S("TITLE", str, default="Admin", help="The admin's title, in the header and page titles."),
        S("SITE_URL", str, default="/", help='Where the header\'s "View site" link goes; empty for no link.'),
        S(
            "EXPORT_PERMISSION",
            bool,
            default=False,
            help="Make each model view's CSV export need its own permission, admin.<slug>.export, besides view "
            "(off: view is enough, as before).",
        ),
    ]


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    # Built here at the latest, so configuration errors stop the app at startup; its views import the models,
    # which the erlen command imports only when a command runs (erlen.defer_setup).
    erlen.defer_setup(app, _build_registry)


def _build_registry(app: Flask) -> None:
    """Build the app's :class:`~erlen_admin.AdminRegistry` (every plugin's admin views), checking it."""
    from .views.registry import registry_of

    registry_of(app)


@erlen.hookimpl
def erlen_db_models() -> Iterable[type[t.Any]]:
    from .models import MODELS

    return list(MODELS)


@erlen.hookimpl(optionalhook=True)
def erlen_migrate_locations() -> str:
    return "migrations"


@erlen.hookimpl
def erlen_auth_permissions(app: Flask) -> Mapping[str, str]:
    from .denied import ACCESS
    from .views.registry import registry_of

    return {ACCESS: "Enter the admin interface", **registry_of(app).permissions()}


@erlen.hookimpl
def erlen_auth_account_links() -> Iterable[AccountLink]:
    """The dashboard in the account menu, for superusers and anyone a role lets in."""
    from erlen_auth import AccountLink

    from .denied import ACCESS

    return [AccountLink("Admin", "admin.index", permission=ACCESS)]


@erlen.hookimpl
def erlen_admin_views() -> Iterable[ModelView | AdminPage]:
    from .audit import AuditLogView, changes_text, visible_entries
    from .models import AuditEntry

    columns = ["created_at", "user_email", "action", "model", "object_id", "object_repr"]
    return [
        AuditLogView(
            AuditEntry,
            name="Audit entry",
            plural="Audit entries",
            heading="Audit log",
            slug="audit",
            list_columns=columns,
            export_columns=["id", *columns, "changes"],
            formatters={"changes": changes_text},
            sortable=["id", "created_at"],
            default_sort="-id",
            search=["object_repr", "user_email"],
            filters=["model", "object_id", "action", "user_email"],
            can_create=False,
            can_edit=False,
            can_delete=False,
            scope=visible_entries,
        )
    ]


@erlen.hookimpl
def erlen_admin_widgets() -> Iterable[Widget]:
    from .widgets import admin_widgets

    return admin_widgets()


@erlen.hookimpl
def erlen_auth_user_export(user: t.Any) -> Mapping[str, t.Any]:
    """The changes the user made through the admin, for "Download my data" (not their contents: others' data)."""
    import sqlalchemy as sa

    from erlen_db import session

    from .models import AuditEntry

    entries = session.scalars(sa.select(AuditEntry).where(AuditEntry.user_id == user.id).order_by(AuditEntry.id))
    made = [
        {"at": e.created_at, "action": e.action, "model": e.model, "object_id": e.object_id, "object": e.object_repr}
        for e in entries
    ]
    return {"audit_log": made} if made else {}


@erlen.hookimpl
def erlen_auth_user_delete(user: t.Any) -> None:
    """Anonymise the user's audit entries: the record of what was changed outlives the account, not who did it.

    The id goes too, not only the address: a later account may be given the same id (SQLite reuses the
    highest), and must not inherit the entries.
    """
    import sqlalchemy as sa

    from erlen_db import session

    from .models import AuditEntry

    session.execute(sa.update(AuditEntry).where(AuditEntry.user_id == user.id).values(user_id=None, user_email=None))


@erlen.hookimpl(optionalhook=True)
def erlen_forms_fk_search_allowed(table: sa.Table, column: sa.Column[t.Any]) -> bool | None:
    """Admin users may search a foreign key's rows when they may view the model holding it.

    The create and edit forms search to choose a row; the list page's filters search to narrow the list
    (whose cells show the same labels, so viewing is enough).
    """
    from flask_login import current_user

    from .denied import ACCESS
    from .views.registry import registry_of

    views = registry_of().views_for_table(table.name)
    if not views or not current_user.is_authenticated or not current_user.can(ACCESS):
        return None
    if any(view.allows(current_user, operation) for view in views for operation in ("view", "create", "edit")):
        return True
    return None


@erlen.hookimpl(optionalhook=True)
def erlen_forms_fk_search_rows(
    table: sa.Table, column: sa.Column[t.Any], statement: sa.Select[t.Any]
) -> sa.Select[t.Any] | None:
    """The rows an admin user's search of a foreign key returns: those of the referred-to model's views' scopes
    (:func:`erlen_admin.related.rows_filter`).

    Only for the searches the admin allows (:func:`erlen_forms_fk_search_allowed`); ``None`` otherwise, and for
    models without a scoped view.
    """
    from flask_login import current_user

    from .related import rows_filter

    (foreign_key,) = tuple(column.foreign_keys)
    if not erlen_forms_fk_search_allowed(table, column):
        return None
    narrowing = rows_filter(foreign_key.column.table, current_user._get_current_object())
    return None if narrowing is None else narrowing(statement)


@erlen.hookimpl
def erlen_blueprints(app: Flask) -> Iterable[t.Any]:
    from .blueprint import make_blueprint

    return [(make_blueprint(app), {"url_prefix": app.config["ADMIN_URL_PREFIX"].rstrip("/") or None})]


@erlen.hookimpl
def erlen_template_folders() -> Iterable[str]:
    return [str(Path(__file__).parent / "templates")]


@erlen.hookimpl
def erlen_static_folder() -> str:
    return str(Path(__file__).parent / "static")


@erlen.hookimpl
def erlen_template_globals() -> Mapping[str, t.Any]:
    from .navigation import admin_nav
    from .timestamps import time_tag
    from .views.registry import registry_of

    return {"admin_registry": registry_of, "admin_nav": admin_nav, "admin_time": time_tag}


@erlen.hookimpl
def erlen_template_filters() -> Mapping[str, t.Callable[..., t.Any]]:
    from .names import breakable_name

    return {"admin_breakable_name": breakable_name}


@erlen.hookimpl
def erlen_checks(app: Flask, deploy: bool) -> Iterable[CheckMessage]:
    # Imported when called: only `erlen check` runs the checks, never a worker.
    from erlen.checks import warning

    from .views.registry import registry_of

    found = []
    for view in registry_of(app).models.values():
        for key in view.sortable:
            column = view.columns[key]
            indexed = (
                column.primary_key
                or column.index
                or any(list(index.columns)[:1] == [column] for index in view.table.indexes)
            )
            if not indexed:
                found.append(
                    warning(
                        "admin.W001",
                        f"Admin view {view.slug!r} sorts by {key!r}, which has no index: sorting a big table "
                        "reads all of it.",
                        f"Add index=True to {view.model.__name__}.{key}, or leave it out of sortable.",
                    )
                )
    found.extend(_search_index_checks(app, registry_of(app).models.values()))
    return found


def _search_index_calls(view: ModelView) -> str:
    """The calls a migration of ``view``'s plugin makes to create its search index, and to drop it again.

    :param view: a view with searched columns.
    """
    arguments = f"op.get_bind(), {view.table.name!r}, {[view.columns[key].name for key in view.search]!r}"
    key = "" if view.pk_column.name == "id" else f", key={view.pk_column.name!r}"  # the FTS5 rowid on SQLite
    return (
        f"erlen_db.create_search_index({arguments}{key}) in its upgrade() and "
        f"erlen_db.drop_search_index({arguments}) in its downgrade()"
    )


def _search_index_checks(app: Flask, views: Iterable[ModelView]) -> list[CheckMessage]:
    """``admin.W002`` for each view whose searched columns no search index covers in the database."""
    from sqlalchemy.exc import SQLAlchemyError

    import erlen_db
    from erlen.checks import warning

    from .search import unindexed_columns

    searched = [view for view in views if view.search]
    if not searched:
        return []
    found = []
    try:
        with erlen_db.database_of(app).new_session() as session:
            connection = session.connection()
            for view in searched:
                missing = unindexed_columns(view, connection)
                if missing:
                    found.append(
                        warning(
                            "admin.W002",
                            f"Admin view {view.slug!r} searches {', '.join(missing)} of table {view.table.name!r} "
                            "without a search index: each search reads the whole table (the results are right, "
                            "but slow on a big table).",
                            f"Run erlen db upgrade; if that does not create it, plugin {view.plugin!r} should create "
                            f"it in a migration: {_search_index_calls(view)}.",
                        )
                    )
    except SQLAlchemyError:
        return []  # the database is unreachable: erlen-db's and erlen-migrate's checks say so
    return found
