"""Registering views: the hook, groups by plugin, configuration errors, checks."""

from __future__ import annotations

import pytest

import erlen
from erlen.testing import assert_valid_plugin
from erlen_admin import Action, AdminConfigError, AdminPage, ModelView, registry_of
from erlen_admin import plugin as admin_plugin
from erlen_admin.hookspecs import erlen_admin_views  # noqa: F401


def test_plugin_is_valid():
    import importlib.util

    import erlen_auth.hookspecs
    import erlen_db.hookspecs
    import erlen_forms.hookspecs

    specs = [erlen_db.hookspecs, erlen_forms.hookspecs, erlen_auth.hookspecs]
    if importlib.util.find_spec("erlen_migrate") is not None:  # optional: the hook is an optionalhook
        import erlen_migrate.hookspecs

        specs.append(erlen_migrate.hookspecs)
    assert_valid_plugin(admin_plugin, hookspec_modules=specs)


def test_views_grouped_by_plugin(app):
    registry = registry_of(app)
    # erlen-auth, which the admin needs, adds its users and roles views through the same hook.
    assert [group.plugin for group in registry.groups] == ["auth", "admin", "library"]
    library = registry.groups[2]
    assert [view.slug for view in library.models] == ["library_author", "library_book", "library_biography"]
    assert [page.slug for page in library.pages] == ["statistics"]
    book = registry.models["library_book"]
    assert book.plugin == "library"
    assert [action.name for action in book.actions] == ["delete", "publish", "feature"]
    # Each action knows the plugin that gave it, for the message when its callback fails.
    assert [action.plugin for action in book.actions] == ["admin", "library", "extra"]


def test_duplicate_slugs_stop_the_app(make_app, erlen_config):
    with pytest.raises(AdminConfigError, match="both register an admin model view with the slug 'library_book'"):
        make_app(["db", "forms", "auth", "admin", "admin_sample.library", "admin_sample.clash"], erlen_config)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (
            "lone_view",
            "Plugin 'loneview': erlen_admin_views returned ModelView; it must return a list of ModelView or "
            "AdminPage objects. Wrap a single one in a list.",
        ),
        (
            "lone_action",
            "Plugin 'loneaction': erlen_admin_actions returned Action; it must return a list of Action "
            "objects. Wrap a single one in a list.",
        ),
    ],
)
def test_a_hook_returning_one_view_or_action_instead_of_a_list_names_the_plugin(
    make_app, erlen_config, module, message
):
    # Used to be a bare TypeError ("object is not iterable") that named no plugin.
    with pytest.raises(erlen.PluginError) as caught:
        make_app(["db", "forms", "auth", "admin", "admin_sample.library", f"admin_sample.{module}"], erlen_config)
    assert str(caught.value) == message


def test_configuration_errors(app):
    from admin_sample.library import Book

    with app.app_context():
        with pytest.raises(AdminConfigError, match="no column attribute 'nope'"):
            ModelView(Book, list_columns=["nope"])
        with pytest.raises(AdminConfigError, match="may hold NULL"):
            ModelView(Book, sortable=["notes"])
        with pytest.raises(AdminConfigError, match="only text columns"):
            ModelView(Book, search=["pages"])
        with pytest.raises(AdminConfigError, match="not a sortable column"):
            ModelView(Book, default_sort="title")
        with pytest.raises(AdminConfigError, match="not a SQLAlchemy mapped class"):
            ModelView(object)
        with pytest.raises(AdminConfigError, match="page sizes"):
            ModelView(Book, page_sizes=[0])
        view = ModelView(Book)
        with pytest.raises(AdminConfigError, match="two bulk actions"):
            view.add_actions([Action("delete", "Again", lambda v, o: None)])
        with pytest.raises(AdminConfigError, match="Plugin 'extra': erlen_admin_actions must return Action objects"):
            view.add_actions(["publish"], plugin="extra")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="lower-case"):
        Action("Bad Name", "x", lambda v, o: None)
    with pytest.raises(ValueError, match="permission must be"):
        Action("ok", "x", lambda v, o: None, permission="publish")
    with pytest.raises(ValueError, match="slug"):
        AdminPage("Stats", lambda: "", slug="Bad Slug")


def test_secret_columns_are_not_listed_by_default(app):
    from erlen_auth import User

    view = ModelView(User)
    assert "password_hash" not in view.list_columns
    assert "password_hash" not in view.detail_columns
    assert "session_token" not in view.detail_columns


def test_check_warns_about_unindexed_sort_columns(app):
    from admin_sample.library import Book

    registry = registry_of(app)
    registry.models["library_book"].sortable.append("featured")
    messages = [m for m in admin_plugin.erlen_checks(app, deploy=False) if m.id != "admin.W002"]  # W002: search
    assert [message.id for message in messages] == ["admin.W001"]
    assert "featured" in messages[0].message
    assert Book is not None
