"""Security notices: a sign-in from a new device mails the user, in the sign-in's transaction, through the outbox."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from auth_helpers import is_logged_in, log_in, post_form, set_cookies
from notice_helpers import failing_commit_with, outbox_rows

from erlen_auth.testing import DEFAULT_PASSWORD, make_user
from erlen_db import database_of

pytest.importorskip("erlen_mail", reason="erlen-mail is not installed: notices are tested in the integration session")

from erlen_auth.account_models import KnownDevice
from erlen_auth.devices import DEVICE_COOKIE, hash_device
from erlen_mail.testing import DeliveredMail

NEW_DEVICE = "New log-in to your account"
FIREFOX = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"}


@pytest.fixture
def mail_app(auth_app):
    def make(plugins=(), **config):
        app = auth_app(["mail", *plugins], {"MAIL_DEFAULT_SENDER": "noreply@example.com", **config}, create_all=True)
        return app, DeliveredMail(app)

    return make


def devices_of(app, email):
    from erlen_auth import User

    with database_of(app).session_scope() as session:
        query = sa.select(KnownDevice).join(User, User.id == KnownDevice.user_id).where(User.email == email)
        return [(row.device_hash, row.user_agent) for row in session.scalars(query)]


def test_the_first_sign_in_sends_nothing_and_a_new_device_is_told_about(mail_app):
    app, mail = mail_app()
    make_user(app, "ada@example.com")
    laptop = app.test_client()
    assert log_in(laptop, "ada@example.com").status_code == 302
    assert len(mail) == 0  # the account's first device
    assert len(devices_of(app, "ada@example.com")) == 1
    assert log_in(laptop, "ada@example.com").status_code == 302  # the same browser again
    assert len(mail) == 0
    phone = app.test_client()
    assert log_in(phone, "ada@example.com", headers=FIREFOX).status_code == 302
    [notice] = mail
    assert notice.to == ["ada@example.com"] and notice.subject == NEW_DEVICE
    # the browser is named as the sessions page names it (erlen_auth.user_agents.describe), not by its raw header
    assert "Browser: Firefox on Linux" in notice.body and "Gecko" not in notice.body
    assert "Address: 127.0.0.1" in notice.body and " UTC" in notice.body
    assert "http://localhost/auth/sessions" in notice.body
    assert "Browser: Firefox on Linux" in notice.html and "Gecko" not in notice.html
    assert len(devices_of(app, "ada@example.com")) == 2
    assert log_in(phone, "ada@example.com").status_code == 302  # known now
    assert len(mail) == 1


def test_a_new_account_gets_no_notice_for_its_first_sign_in(mail_app):
    app, mail = mail_app()
    client = app.test_client()
    password = "unusual violet tractor"
    registered = post_form(
        client, "/auth/register", {"email": "grace@example.com", "password": password, "confirm": password}
    )
    assert registered.status_code == 302
    assert len(mail) == 0 and len(devices_of(app, "grace@example.com")) == 1
    assert log_in(app.test_client(), "grace@example.com", password).status_code == 302
    assert [message.subject for message in mail] == [NEW_DEVICE]


def test_the_device_cookie_is_long_lived_http_only_secure_and_lax(mail_app):
    app, _ = mail_app()
    make_user(app, "ada@example.com")
    response = log_in(app.test_client(), "ada@example.com")
    cookie = set_cookies(response)[DEVICE_COOKIE]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert f"Max-Age={365 * 86400}" in cookie
    value = cookie.split("=", 1)[1].split(";", 1)[0]
    [(stored, _)] = devices_of(app, "ada@example.com")
    assert stored == hash_device(value) and value not in stored  # only its hash is kept


def test_in_debug_mode_the_device_cookie_is_not_secure(mail_app):
    app, _ = mail_app()
    app.debug = True
    make_user(app, "ada@example.com")
    assert "Secure" not in set_cookies(log_in(app.test_client(), "ada@example.com"))[DEVICE_COOKIE]


def test_one_browser_is_known_to_each_user_apart(mail_app):
    app, mail = mail_app()
    make_user(app, "ada@example.com")
    make_user(app, "bob@example.com")
    shared = app.test_client()
    log_in(shared, "ada@example.com")
    log_in(app.test_client(), "bob@example.com")  # bob's first device: his laptop
    post_form(shared, "/auth/logout")
    log_in(shared, "bob@example.com")  # new to bob, though ada used it
    assert [(message.to, message.subject) for message in mail] == [(["bob@example.com"], NEW_DEVICE)]


def test_a_forged_or_malformed_device_cookie_is_a_new_device(mail_app):
    app, mail = mail_app()
    make_user(app, "ada@example.com")
    log_in(app.test_client(), "ada@example.com")
    for value in ("not-a-cookie-we-made", "x" * 43):
        client = app.test_client()
        client.set_cookie(DEVICE_COOKIE, value)
        response = log_in(client, "ada@example.com")
        assert response.status_code == 302
        issued = set_cookies(response)[DEVICE_COOKIE].split("=", 1)[1].split(";", 1)[0]
        assert (issued == value) == (len(value) == 43)  # a well-formed value is kept: it is as good as random
    assert [message.subject for message in mail] == [NEW_DEVICE, NEW_DEVICE]


def test_a_failed_log_in_or_a_password_change_records_no_device(mail_app):
    app, mail = mail_app()
    make_user(app, "ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com")
    stranger = app.test_client()
    assert log_in(stranger, "ada@example.com", "wrong password!").status_code == 200
    changed = post_form(
        client,
        "/auth/password",
        {"current": DEFAULT_PASSWORD, "password": "unusual violet tractor", "confirm": "unusual violet tractor"},
    )
    assert changed.status_code == 302 and is_logged_in(client)
    assert len(devices_of(app, "ada@example.com")) == 1
    assert [message.subject for message in mail] == ["Your password was changed"]


def test_the_notice_commits_with_the_sign_in_or_not_at_all(mail_app):
    app, mail = mail_app()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    make_user(app, "ada@example.com")
    log_in(app.test_client(), "ada@example.com")
    phone = app.test_client()
    with failing_commit_with(NEW_DEVICE):
        assert log_in(phone, "ada@example.com").status_code == 500
    assert outbox_rows(app) == [] and len(devices_of(app, "ada@example.com")) == 1
    assert not is_logged_in(phone)
    assert log_in(phone, "ada@example.com").status_code == 302
    assert [message.subject for message in mail] == [NEW_DEVICE]
    assert [row[0] for row in outbox_rows(app)] == ["sent"]  # through the worker


def test_with_notices_off_devices_are_recorded_and_nothing_is_sent(mail_app):
    app, mail = mail_app(AUTH_SECURITY_NOTICES=False)
    make_user(app, "ada@example.com")
    log_in(app.test_client(), "ada@example.com")
    log_in(app.test_client(), "ada@example.com")
    assert len(devices_of(app, "ada@example.com")) == 2
    assert len(mail) == 0 and outbox_rows(app) == []


def test_without_mail_sign_ins_work_and_devices_are_recorded(auth_app):
    app = auth_app(create_all=True)
    make_user(app, "ada@example.com")
    for _ in range(2):
        assert log_in(app.test_client(), "ada@example.com").status_code == 302
    assert len(devices_of(app, "ada@example.com")) == 2


def test_devices_go_with_the_user(mail_app):
    from erlen_auth import User

    app, _ = mail_app()
    make_user(app, "ada@example.com")
    log_in(app.test_client(), "ada@example.com")
    with database_of(app).session_scope() as session:
        session.execute(sa.delete(User))
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(KnownDevice)) == 0


def test_a_change_made_in_a_session_of_its_own_queues_its_notice_in_that_session(mail_app):
    """The account functions that take ``db`` (a script's or a worker's session) made the change there and queued
    its notice in the request's session: not committed with the change, and on SQLite a second writer waiting on
    the first ("database is locked"). Each notice now goes with its change, or with its rollback."""
    from erlen_auth import User
    from erlen_auth.accounts import set_password
    from erlen_auth.data_rights import cancel_deletion, request_deletion

    app, _ = mail_app(AUTH_DELETION_GRACE_DAYS=7)
    make_user(app, "ada@example.com")
    own = database_of(app).new_session()
    try:
        with app.test_request_context():
            ada = own.scalars(sa.select(User).where(User.email == "ada@example.com")).one()
            set_password(ada, "a new and long password", reason="admin", db=own)  # commits
            request_deletion(ada, db=own)  # commits
            assert cancel_deletion(ada, db=own)
            own.rollback()  # the cancellation, and its notice, are not kept
    finally:
        own.close()
    subjects = [row[2] for row in outbox_rows(app)]
    assert len(subjects) == 2, subjects
    assert "password" in subjects[0].lower() and "delet" in subjects[1].lower(), subjects
