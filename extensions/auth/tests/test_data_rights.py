"""The users' data rights: "Download my data", "Delete my account" with its grace period, the operators' commands."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa
from auth_helpers import is_logged_in, log_in, post_form

import erlen_db
from erlen_auth import AccountDeletion, AccountDeletionError, ExportError, User, find_user
from erlen_auth.data_rights import delete_account, deletion_for_token, export_user, purge_deleted, request_deletion
from erlen_auth.models import LoginSession
from erlen_auth.testing import make_user

pytest.importorskip(
    "erlen_mail", reason="erlen-mail is not installed: the notices are tested in the integration session"
)
from erlen_mail.testing import DeliveredMail

KEEPER = "auth_sample_plugins.keeper"
EMAIL = "ada@example.com"
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def data_app(auth_app):
    """An app with mail and the sample plugin ``keeper``, its tables created, and its delivered mail."""

    def make(plugins=(), **config):
        app = auth_app(
            ["mail", *plugins, KEEPER],
            {"MAIL_DEFAULT_SENDER": "noreply@example.com", "SERVER_NAME": "localhost", **config},
            create_all=True,
        )
        return app, DeliveredMail(app)

    return make


def _ada(app, *, role: str | None = None):
    """Ada, with a role and an item kept by the keeper plugin; committed."""
    from auth_sample_plugins.keeper import KeptItem

    user = make_user(app, EMAIL, roles=[role] if role else ())
    with app.app_context():
        erlen_db.session.add(KeptItem(owner_id=user.id, label="first", made_at=NOW))
        erlen_db.session.commit()
    return user


def _count(app, model, **where) -> int:
    with app.app_context():
        query = sa.select(sa.func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return erlen_db.session.scalar(query)


def _deletion(app, user_id):
    with app.app_context():
        found = erlen_db.session.get(AccountDeletion, user_id)
        if found is not None:
            erlen_db.session.expunge(found)
        return found


def _kept(app, user_id) -> int:
    from auth_sample_plugins.keeper import KeptItem

    return _count(app, KeptItem, owner_id=user_id)


def _link(message, path: str) -> str:
    found = re.search(rf"http://localhost({path}\S+)", message.body)
    assert found, message.body
    return found.group(1)


# Download my data


def test_the_security_page_has_the_your_data_section(data_app):
    app, _ = data_app()
    _ada(app)
    client = app.test_client()
    log_in(client, EMAIL)
    page = client.get("/auth/security").text
    assert "Your data" in page
    section = page[page.index('id="auth-export-data"') - 200 :]
    assert 'action="/auth/data/export"' in section and 'name="csrf_token"' in section
    assert 'href="/auth/delete"' in page and "7 days to change your mind" in page


def test_the_export_is_a_json_attachment_of_every_plugin_without_secrets(data_app):
    app, _ = data_app()
    user = _ada(app, role="editor")
    client, phone = app.test_client(), app.test_client()
    client.environ_base.update(HTTP_USER_AGENT="HereBrowser/1", REMOTE_ADDR="192.0.2.1")
    phone.environ_base.update(HTTP_USER_AGENT="PhoneBrowser/2", REMOTE_ADDR="198.51.100.2")
    log_in(client, EMAIL)
    log_in(phone, EMAIL)
    response = post_form(client, "/auth/data/export")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(rf'attachment; filename="[\w.]+-data-{user.id}-\d{{4}}-\d\d-\d\d\.json"', disposition)
    document = json.loads(response.data)
    assert document["format"] == "erlen-auth.user-export" and document["format_version"] == 1
    generated = dt.datetime.fromisoformat(document["generated_at"])
    assert abs(dt.datetime.now(dt.UTC) - generated) < dt.timedelta(minutes=5)
    assert document["app"]["name"] == app.name
    assert document["plugins"]["keeper"] == {"version": "2.5.0"}
    assert set(document["plugins"]) == set(document["data"]) == {"auth", "keeper"}
    assert document["user"] == {"id": user.id, "email": EMAIL}
    auth = document["data"]["auth"]
    assert auth["account"]["email"] == EMAIL and auth["account"]["is_superuser"] is False
    assert auth["roles"] == ["editor"]
    devices = {(s["user_agent"], s["address"]) for s in auth["sessions"]}
    assert devices == {("HereBrowser/1", "192.0.2.1"), ("PhoneBrowser/2", "198.51.100.2")}
    assert document["data"]["keeper"] == {"items": [{"label": "first", "made_at": NOW.isoformat()}]}
    # Nothing that logs in: no password hash, session token or session key (hash) anywhere.
    with app.app_context():
        stored = erlen_db.session.get(User, user.id)
        secrets = [stored.password_hash, stored.session_token]
        secrets += list(erlen_db.session.scalars(sa.select(LoginSession.key_hash)))
    text = response.text
    assert all(secret not in text for secret in secrets)
    assert "password" not in text and "key_hash" not in text and "session_token" not in text


def test_the_tables_of_other_auth_features_are_exported_without_their_secrets(data_app):
    from erlen_auth import access_tokens

    app, _ = data_app()
    user = _ada(app)
    with app.test_request_context():
        made = access_tokens.create(erlen_db.session.get(User, user.id), name="CI", scopes=(), expires_days=30)
        erlen_db.session.commit()
        secret_hash = made.row.secret_hash
    client = app.test_client()
    log_in(client, EMAIL)
    response = post_form(client, "/auth/data/export")
    (token,) = json.loads(response.data)["data"]["auth"]["auth_access_token"]
    assert token["name"] == "CI" and "created_at" in token and "expires_at" in token
    assert "secret_hash" not in token and "user_id" not in token
    assert made.token not in response.text and secret_hash not in response.text


def test_the_export_is_a_post_with_a_csrf_token_by_a_logged_in_user(data_app):
    app, _ = data_app()
    _ada(app)
    client = app.test_client()
    assert client.post("/auth/data/export").status_code in (302, 400)  # anonymous: no data either way
    anonymous = post_form(client, "/auth/data/export")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/auth/login")
    log_in(client, EMAIL)
    assert client.get("/auth/data/export").status_code == 405
    refused = client.post("/auth/data/export", data={"csrf_token": "forged"})
    assert refused.status_code == 400 and "application/json" not in refused.content_type
    assert client.post("/auth/data/export").status_code == 400


def test_every_new_route_is_csrf_protected(data_app):
    from erlen_forms.testing import assert_csrf_protected

    app, _ = data_app()
    endpoints = {result.endpoint for result in assert_csrf_protected(app)}
    assert {"auth.export_data", "auth.delete_account", "auth.cancel_deletion"} <= endpoints


def test_exports_are_throttled_per_account(data_app):
    app, _ = data_app(AUTH_DATA_EXPORT_LIMIT=2)
    _ada(app)
    client = app.test_client()
    log_in(client, EMAIL)
    assert post_form(client, "/auth/data/export").status_code == 200
    assert post_form(client, "/auth/data/export").status_code == 200
    refused = post_form(client, "/auth/data/export")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "You downloaded your data a moment ago" in refused.text and "<h1>Security</h1>" in refused.text


def test_an_export_of_data_that_is_not_json_names_the_plugin(data_app):
    app, _ = data_app(["auth_sample_plugins.bad_export"])
    user = _ada(app)
    with app.app_context(), pytest.raises(ExportError, match=r"Plugin 'bad_export'.*not JSON") as caught:
        export_user(erlen_db.session.get(User, user.id))
    assert caught.value.plugin == "bad_export"


# Delete my account


def _age_reauthentication(app) -> None:
    with app.app_context():
        erlen_db.session.execute(
            sa.update(LoginSession).values(reauthenticated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )
        erlen_db.session.commit()


def test_deleting_needs_a_recent_password(data_app):
    app, _ = data_app()
    user = _ada(app)
    client = app.test_client()
    log_in(client, EMAIL)
    _age_reauthentication(app)
    asked = client.get("/auth/delete")
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/auth/reauthenticate?next=")
    posted = post_form(client, "/auth/delete", {"email": EMAIL})
    assert posted.status_code == 302 and "/auth/reauthenticate" in posted.headers["Location"]
    assert _deletion(app, user.id) is None and is_logged_in(client)
    back = post_form(
        client, "/auth/reauthenticate", {"password": "correct horse battery staple", "next": "/auth/delete"}
    )
    assert back.headers["Location"] == "/auth/delete"
    page = client.get("/auth/delete")
    assert page.status_code == 200 and "Type your email address to confirm" in page.text
    assert "kept for 7 days" in page.text
    assert '<button type="submit" class="erlen-button-danger">Delete my account</button>' in page.text  # danger


def test_the_address_must_be_typed_and_the_form_carry_its_token(data_app):
    app, outbox = data_app()
    user = _ada(app)
    client = app.test_client()
    log_in(client, EMAIL)
    wrong = post_form(client, "/auth/delete", {"email": "bob@example.com"})
    assert wrong.status_code == 200 and "This is not the address of your account." in wrong.text
    assert post_form(client, "/auth/delete", {"email": ""}).status_code == 200
    forged = client.post("/auth/delete", data={"email": EMAIL, "csrf_token": "forged"})
    assert forged.status_code in (200, 400)
    assert _deletion(app, user.id) is None and is_logged_in(client) and len(outbox) == 0


def test_deleting_schedules_the_deletion_ends_every_session_and_mails_a_cancel_link(data_app):
    app, outbox = data_app()
    user = _ada(app)
    client, phone = app.test_client(), app.test_client()
    log_in(client, EMAIL)
    log_in(phone, EMAIL, remember=True)
    before = dt.datetime.now(dt.UTC)
    page = post_form(client, "/auth/delete", {"email": "  ADA@example.com "})
    assert page.status_code == 200 and "Your account will be deleted" in page.text
    deletion = _deletion(app, user.id)
    assert deletion is not None
    assert dt.timedelta(days=7) == deletion.delete_after - deletion.requested_at
    assert before <= deletion.requested_at.replace(tzinfo=dt.UTC) <= dt.datetime.now(dt.UTC)
    assert not is_logged_in(client) and not is_logged_in(phone)
    assert _count(app, LoginSession, user_id=user.id) == 0
    assert _count(app, User, id=user.id) == 1 and _kept(app, user.id) == 1  # kept during the grace period
    # The phone's log-in was a new device's: its notice went out first.
    (mail,) = [sent for sent in outbox if sent.subject != "New log-in to your account"]
    assert mail.subject == "Your account will be deleted" and mail.recipients == [EMAIL]
    assert "/auth/delete/cancel/" in mail.body and "Log in again before then" in mail.body


def test_signing_in_within_the_grace_period_cancels_the_deletion(data_app):
    app, outbox = data_app()
    user = _ada(app)
    client = app.test_client()
    log_in(client, EMAIL)
    post_form(client, "/auth/delete", {"email": EMAIL})
    response = log_in(client, EMAIL)
    assert response.status_code == 302
    assert "so your account will not be deleted" in client.get("/auth/security").text
    assert _deletion(app, user.id) is None
    assert [m.subject for m in outbox] == ["Your account will be deleted", "Your account will not be deleted"]
    assert purge_deleted_at(app, NOW + dt.timedelta(days=365)) == (0, [])
    assert _count(app, User, id=user.id) == 1


def purge_deleted_at(app, now):
    with app.app_context():
        return purge_deleted(now=now)


def test_the_mailed_link_cancels_once_and_only_the_request_it_was_sent_for(data_app):
    app, outbox = data_app()
    user = _ada(app)
    client = app.test_client()
    log_in(client, EMAIL)
    post_form(client, "/auth/delete", {"email": EMAIL})
    link = _link(outbox[0], "/auth/delete/cancel/")
    visitor = app.test_client()
    page = visitor.get(link)
    assert page.status_code == 200 and "Keep my account" in page.text
    assert _deletion(app, user.id) is not None  # a GET (a link scanner) changes nothing
    assert visitor.post(link, data={"csrf_token": "forged"}).status_code in (200, 400)
    assert _deletion(app, user.id) is not None
    kept = post_form(visitor, link)
    assert kept.status_code == 302 and kept.headers["Location"] == "/auth/login"
    assert _deletion(app, user.id) is None
    assert visitor.get(link).status_code == 400  # used
    assert outbox[-1].subject == "Your account will not be deleted"
    # A new request: the old link does not cancel it; its own does.
    log_in(client, EMAIL)
    post_form(client, "/auth/delete", {"email": EMAIL})
    assert visitor.get(link).status_code == 400
    new_link = _link(outbox[-1], "/auth/delete/cancel/")
    assert new_link != link and visitor.get(new_link).status_code == 200
    for forged in (link[:-3] + "abc", "/auth/delete/cancel/nonsense", "/auth/delete/cancel/%00%ff"):
        assert visitor.get(forged).status_code in (400, 404)


def test_the_link_expires_with_the_grace_period(data_app):
    app, outbox = data_app()
    user = _ada(app)
    client = app.test_client()
    log_in(client, EMAIL)
    post_form(client, "/auth/delete", {"email": EMAIL})
    token = _link(outbox[0], "/auth/delete/cancel/").rsplit("/", 1)[1]
    deletion = _deletion(app, user.id)
    with app.test_request_context():
        assert deletion_for_token(token, now=deletion.delete_after - dt.timedelta(seconds=1)) is not None
        assert deletion_for_token(token, now=deletion.delete_after + dt.timedelta(seconds=1)) is None


def test_purging_deletes_the_accounts_whose_period_ended(data_app):
    app, outbox = data_app()
    ada = _ada(app)
    bob = make_user(app, "bob@example.com")
    with app.test_request_context():
        request_deletion(erlen_db.session.get(User, ada.id), now=NOW)
        request_deletion(erlen_db.session.get(User, bob.id), now=NOW + dt.timedelta(days=3))
    assert purge_deleted_at(app, NOW + dt.timedelta(days=6, hours=23)) == (0, [])
    assert purge_deleted_at(app, NOW + dt.timedelta(days=7)) == (1, [])
    assert _count(app, User, id=ada.id) == 0 and _kept(app, ada.id) == 0
    assert _deletion(app, ada.id) is None and _count(app, User, id=bob.id) == 1
    assert outbox[-1].subject == "Your account was deleted" and outbox[-1].recipients == [EMAIL]
    assert "as you asked" in outbox[-1].body
    assert purge_deleted_at(app, NOW + dt.timedelta(days=10)) == (1, [])
    assert _count(app, User) == 0


def test_the_purge_command(data_app):
    app, _ = data_app()
    user = _ada(app)
    with app.test_request_context():
        request_deletion(erlen_db.session.get(User, user.id), now=dt.datetime.now(dt.UTC) - dt.timedelta(days=8))
    make_user(app, "bob@example.com")
    result = app.test_cli_runner().invoke(args=["user", "purge-deleted"])
    assert result.exit_code == 0, result.output
    assert result.output == "Deleted 1 account whose grace period had ended.\n"
    assert _count(app, User) == 1 and _kept(app, user.id) == 0


def test_a_user_who_signed_in_after_asking_is_never_purged(data_app):
    app, _ = data_app()
    user = _ada(app)
    with app.test_request_context():
        request_deletion(erlen_db.session.get(User, user.id), now=NOW)
        # As if the cancellation at sign-in had failed: the sign-in itself was recorded.
        erlen_db.session.execute(
            sa.update(User).where(User.id == user.id).values(last_login_at=NOW + dt.timedelta(days=1))
        )
        erlen_db.session.commit()
    assert purge_deleted_at(app, NOW + dt.timedelta(days=30)) == (0, [])
    assert _count(app, User, id=user.id) == 1 and _deletion(app, user.id) is None


def test_with_no_grace_period_the_account_is_deleted_at_once(data_app):
    app, outbox = data_app(AUTH_DELETION_GRACE_DAYS=0)
    user = _ada(app)
    client = app.test_client()
    log_in(client, EMAIL)
    assert "This happens at once and cannot be undone." in client.get("/auth/delete").text
    page = post_form(client, "/auth/delete", {"email": EMAIL})
    assert page.status_code == 200 and "Your account was deleted" in page.text
    assert _count(app, User, id=user.id) == 0 and _kept(app, user.id) == 0
    assert _count(app, LoginSession, user_id=user.id) == 0
    assert not is_logged_in(client)
    assert [m.subject for m in outbox] == ["Your account was deleted"]
    assert log_in(client, EMAIL).status_code == 200  # refused: the account is gone


def test_a_failing_plugin_rolls_the_whole_deletion_back(data_app):
    # Loaded before keeper, so called after it (reverse load order): keeper's rows were deleted, then undone.
    app, outbox = data_app(["auth_sample_plugins.failing_deleter"], AUTH_DELETION_GRACE_DAYS=0)
    user = _ada(app)
    client = app.test_client()
    log_in(client, EMAIL)
    page = post_form(client, "/auth/delete", {"email": EMAIL})
    assert page.status_code == 503
    assert "could not be deleted" in page.text and "Nothing was deleted" in page.text
    assert _count(app, User, id=user.id) == 1 and _kept(app, user.id) == 1
    assert _count(app, LoginSession, user_id=user.id) == 1 and is_logged_in(client)
    assert len(outbox) == 0
    with app.app_context(), pytest.raises(AccountDeletionError) as caught:
        delete_account(erlen_db.session.get(User, user.id))
    assert caught.value.plugin == "failing_deleter"
    assert "Plugin 'failing_deleter' failed in erlen_auth_user_delete" in str(caught.value)
    assert "the archive service is down" in str(caught.value)
    assert _count(app, User, id=user.id) == 1 and _kept(app, user.id) == 1


def test_a_plugin_committing_in_its_delete_hook_is_refused(data_app):
    app, _ = data_app(["auth_sample_plugins.committer"])
    user = _ada(app)
    with app.app_context(), pytest.raises(AccountDeletionError, match="Plugin 'committer' committed") as caught:
        delete_account(erlen_db.session.get(User, user.id))
    assert caught.value.plugin == "committer"
    assert _count(app, User, id=user.id) == 1 and _kept(app, user.id) == 1


def test_a_plugin_rolling_back_in_its_delete_hook_is_refused(data_app):
    # Loaded before keeper, so called after it: its rollback undid keeper's deletion, which must not go unnoticed.
    app, _ = data_app(["auth_sample_plugins.rollbacker"])
    user = _ada(app)
    with app.app_context(), pytest.raises(AccountDeletionError, match="Plugin 'rollbacker' rolled") as caught:
        delete_account(erlen_db.session.get(User, user.id))
    assert caught.value.plugin == "rollbacker"
    assert _count(app, User, id=user.id) == 1 and _kept(app, user.id) == 1


def test_columns_named_like_secrets_are_never_exported():
    from erlen_auth.data_rights import is_secret_column

    for name in ("key_hash", "password_hash", "totp_secret", "public_key", "apikey", "refresh_token", "otp", "salt"):
        assert is_secret_column(name), name
    for name in ("user_agent", "address", "created_at", "label", "footprint", "provider", "subject"):
        assert not is_secret_column(name), name


def test_rows_no_hook_deletes_stop_the_deletion_naming_the_plugin_and_table(data_app):
    from auth_sample_plugins.orphaner import Orphan

    app, _ = data_app(["auth_sample_plugins.orphaner"])
    user = _ada(app)
    with app.app_context():
        erlen_db.session.add(Orphan(user_id=user.id, name="left behind"))
        erlen_db.session.commit()
        with pytest.raises(AccountDeletionError) as caught:
            delete_account(erlen_db.session.get(User, user.id))
    message = str(caught.value)
    assert caught.value.plugin == "orphaner" and caught.value.table == "orphaner_thing"
    assert "Plugin 'orphaner' keeps 1 row of orphaner_thing" in message and "orphaner_thing.user_id" in message
    assert _count(app, User, id=user.id) == 1 and _kept(app, user.id) == 1 and _count(app, Orphan) == 1


def test_the_operator_command_deletes_at_once(data_app):
    app, outbox = data_app()
    user = _ada(app)
    make_user(app, "bob@example.com")
    runner = app.test_cli_runner()
    declined = runner.invoke(args=["user", "delete", EMAIL], input="n\n")
    assert declined.exit_code == 1 and "Delete the account <ada@example.com>" in declined.output
    assert _count(app, User, id=user.id) == 1
    unknown = runner.invoke(args=["user", "delete", "nobody@example.com", "--yes"])
    assert unknown.exit_code == 1 and "There is no user with the email 'nobody@example.com'" in unknown.output
    done = runner.invoke(args=["user", "delete", "ADA@example.com", "--yes"])
    assert done.exit_code == 0, done.output
    assert done.output == "Deleted the account <ada@example.com> and its data.\n"
    assert _count(app, User) == 1 and _kept(app, user.id) == 0
    # The phone's log-in was a new device's: its notice went out first.
    (mail,) = [sent for sent in outbox if sent.subject != "New log-in to your account"]
    assert mail.subject == "Your account was deleted" and "by the operators of the site" in mail.body
    quiet = runner.invoke(args=["user", "delete", "bob@example.com", "--yes", "--no-mail"])
    assert quiet.exit_code == 0 and _count(app, User) == 0 and len(outbox) == 1


def test_the_operator_command_reports_a_failing_plugin(data_app):
    app, _ = data_app(["auth_sample_plugins.failing_deleter"])
    user = _ada(app)
    result = app.test_cli_runner().invoke(args=["user", "delete", EMAIL, "--yes"])
    assert result.exit_code == 1
    assert "Plugin 'failing_deleter' failed in erlen_auth_user_delete" in result.output
    assert _count(app, User, id=user.id) == 1


def test_the_purge_command_reports_what_it_could_not_delete_and_deletes_the_rest(data_app):
    app, _ = data_app(["auth_sample_plugins.orphaner"])
    from auth_sample_plugins.orphaner import Orphan

    ada = _ada(app)
    bob = make_user(app, "bob@example.com")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    with app.test_request_context():
        erlen_db.session.add(Orphan(user_id=ada.id, name="left behind"))
        erlen_db.session.commit()
        request_deletion(erlen_db.session.get(User, ada.id), now=past)
        request_deletion(erlen_db.session.get(User, bob.id), now=past)
    result = app.test_cli_runner().invoke(args=["user", "purge-deleted"])
    assert result.exit_code == 1
    assert "Deleted 1 account" in result.output and f"Not deleted: user {ada.id}: Plugin 'orphaner'" in result.output
    with app.app_context():
        assert find_user(EMAIL) is not None and find_user("bob@example.com") is None
