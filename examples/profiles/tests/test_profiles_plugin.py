"""erlen-profiles' own tests, on Erlen's testing kit and the fixtures of erlen-db, erlen-forms and erlen-auth."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from flask import Flask

import erlen_auth.hookspecs
import erlen_db.hookspecs
import erlen_forms.hookspecs
from erlen.testing import MakeApp, assert_valid_plugin
from erlen_auth import grant
from erlen_profiles import plugin
from erlen_profiles.models import Profile

PASSWORD = "a long enough password"


def test_the_plugin_implements_its_hooks_as_specified() -> None:
    modules: list[object] = [erlen_db.hookspecs, erlen_forms.hookspecs, erlen_auth.hookspecs]
    try:
        import erlen_migrate.hookspecs

        modules.append(erlen_migrate.hookspecs)
    except ImportError:
        pass
    assert_valid_plugin(plugin, hookspec_modules=modules, name="profiles")


def test_registration_asks_for_a_display_name_and_stores_it(app: Flask, csrf_client: t.Any, db_session: t.Any) -> None:
    assert 'name="display_name"' in csrf_client.get("/auth/register").text
    response = csrf_client.post(
        "/auth/register",
        data={"email": "ada@example.com", "display_name": "Ada Lovelace", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 302, response.text
    (profile,) = db_session.query(Profile).all()
    assert profile.display_name == "Ada Lovelace" and profile.user.email == "ada@example.com"


def test_the_display_name_is_required(csrf_client: t.Any, db_session: t.Any) -> None:
    response = csrf_client.post(
        "/auth/register", data={"email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert response.status_code == 200 and 'aria-invalid="true" id="display_name"' in response.text


def test_text_with_a_nul_character_is_a_field_error(
    csrf_client: t.Any, create_user: t.Any, login_as: t.Any, db_session: t.Any
) -> None:
    # PostgreSQL refuses NUL in text: stored as is, it would be a 500 after the user is committed.
    response = csrf_client.post(
        "/auth/register",
        data={"email": "ada@example.com", "display_name": "Ada\x00", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 200 and 'aria-invalid="true" id="display_name"' in response.text
    assert db_session.query(Profile).count() == 0
    bob = create_user("bob@example.com")
    login_as(csrf_client, bob)
    response = csrf_client.post(f"/profiles/{bob.id}/edit", data={"display_name": "Bob", "bio": "\x00"})
    assert response.status_code == 200 and 'aria-invalid="true" id="bio"' in response.text


def test_a_profile_page_and_its_owner_edits_it(csrf_client: t.Any, create_user: t.Any, login_as: t.Any) -> None:
    ada = create_user("ada@example.com")
    page = csrf_client.get(f"/profiles/{ada.id}")
    assert page.status_code == 200 and "<h1>ada</h1>" in page.text  # the default, from the address
    login_as(csrf_client, ada)
    response = csrf_client.post(f"/profiles/{ada.id}/edit", data={"display_name": "Ada", "bio": "Analyst"})
    assert response.status_code == 302
    page = csrf_client.get(f"/profiles/{ada.id}").text
    assert "<h1>Ada</h1>" in page and "Analyst" in page


def test_the_bio_keeps_its_paragraphs_and_line_breaks_and_the_edit_page_leads_back(
    csrf_client: t.Any, create_user: t.Any, login_as: t.Any
) -> None:
    # Found by walking the example app: a bio typed on two lines showed on one, and the edit page had no way back
    # but the browser's.
    ada = create_user("ada@example.com")
    login_as(csrf_client, ada)
    edit = csrf_client.get(f"/profiles/{ada.id}/edit").text
    assert f'<a href="/profiles/{ada.id}">Cancel</a>' in edit
    bio = "Mathematician.\r\nWrote <the> first program.\r\n\r\nLived in London."
    csrf_client.post(f"/profiles/{ada.id}/edit", data={"display_name": "Ada", "bio": bio})
    page = csrf_client.get(f"/profiles/{ada.id}").text
    assert '<p class="profiles-bio">Mathematician.<br>Wrote &lt;the&gt; first program.</p>' in page
    assert '<p class="profiles-bio">Lived in London.</p>' in page


def test_editing_another_profile_needs_the_permission(
    app: Flask, csrf_client: t.Any, create_user: t.Any, login_as: t.Any, db_session: t.Any
) -> None:
    ada = create_user("ada@example.com")
    bob = create_user("bob@example.com", roles=["editor"])
    login_as(csrf_client, bob)
    assert csrf_client.post(f"/profiles/{ada.id}/edit", data={"display_name": "X"}).status_code == 403
    grant(bob.roles[0], "profiles.edit_any", app=app)
    db_session.commit()
    assert csrf_client.post(f"/profiles/{ada.id}/edit", data={"display_name": "X"}).status_code == 302


def test_display_name_is_a_template_global(app: Flask, create_user: t.Any) -> None:
    ada = create_user("ada@example.com")
    with app.test_request_context():
        render = app.jinja_env.from_string("{{ display_name(user) }}").render
        assert render(user=ada) == "ada"


def test_the_permission_is_declared(cli_runner: t.Any) -> None:
    result = cli_runner.invoke(args=["permissions"])
    assert "profiles.edit_any" in result.output


def test_the_setting_has_its_default(app: Flask) -> None:
    assert app.config["PROFILES_SHOW_BIO"] is True


def test_the_migrations_create_the_table_the_model_describes(make_app: MakeApp, tmp_path: Path) -> None:
    pytest.importorskip("erlen_migrate", reason="erlen-migrate is not installed: pip install erlen-profiles[test]")
    app = make_app(
        ["db", "forms", "migrate", "auth", "profiles"],
        {"DB_URL": f"sqlite:///{tmp_path / 'profiles.sqlite3'}", "MIGRATE_APP_DIRECTORY": str(tmp_path / "none")},
    )
    runner = app.test_cli_runner()
    upgrade = runner.invoke(args=["db", "upgrade"])
    assert upgrade.exit_code == 0 and "Applied profiles" in upgrade.output, upgrade.output
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output


def test_profiles_have_an_admin_view_when_admin_is_enabled(make_app: MakeApp, tmp_path: Path) -> None:
    pytest.importorskip("erlen_admin", reason="erlen-admin is not installed: pip install erlen-profiles[test]")
    from erlen_auth.testing import FAST_HASHING, login_as, make_user
    from erlen_db import database_of
    from erlen_forms.testing import csrf_client_for

    app = make_app(["db", "forms", "auth", "admin", "profiles"], {**FAST_HASHING})
    database_of(app).create_all()
    ada = make_user(app, "ada@example.com")
    root = make_user(app, "root@example.com", superuser=True)
    client = csrf_client_for(app)
    login_as(client, ada)
    assert client.post(f"/profiles/{ada.id}/edit", data={"display_name": "ada"}).status_code == 302  # saves it
    login_as(client, root)
    listing = client.get("/admin/m/profiles_profile/")
    assert listing.status_code == 200 and "ada" in listing.text
    # The dashboard's box of the newest profiles (erlen_admin_widgets).
    dashboard = client.get("/admin/").text
    assert 'id="widget-newest-profiles"' in dashboard
    assert f'<a href="/admin/m/profiles_profile/{ada.id}/">ada</a>' in dashboard
    # "Add profile": the key is the user, chosen on the form.
    bob = make_user(app, "bob@example.com")
    created = client.post("/admin/m/profiles_profile/new", data={"user_id": str(bob.id), "display_name": "Bob"})
    assert created.status_code == 302, created.text
    assert "Bob" in client.get(f"/profiles/{bob.id}").text


def test_the_profile_is_in_the_users_data_and_goes_with_the_account(
    app: Flask, create_user: t.Any, db_session: t.Any
) -> None:
    from erlen_auth import delete_account, export_user

    user = create_user("ada@example.com")
    user_id = user.id
    db_session.add(Profile(user_id=user_id, display_name="Ada Lovelace", bio="Engines"))
    db_session.flush()
    with app.test_request_context():
        exported = export_user(user)
        assert exported["data"]["profiles"] == {"profile": {"display_name": "Ada Lovelace", "bio": "Engines"}}
        delete_account(user, notice=False)
    db_session.expire_all()
    assert db_session.get(Profile, user_id) is None
