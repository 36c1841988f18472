"""Changing the email address: confirmed at the new address, announced to the old one with a link that undoes it."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import sqlalchemy as sa
from auth_helpers import is_logged_in, log_in, post_form
from notice_helpers import failing_commit_with, link_in, outbox_rows

from erlen_auth import LoginSession, User
from erlen_auth.testing import DEFAULT_PASSWORD, make_user
from erlen_db import database_of

pytest.importorskip(
    "erlen_mail", reason="erlen-mail is not installed: email change is tested in the integration session"
)

from erlen_auth.account_models import EmailChange
from erlen_mail.testing import DeliveredMail

CONFIRM_SUBJECT = "Confirm your new email address"
TAKEN_SUBJECT = "Someone tried to use your email address"
CHANGED_SUBJECT = "The email address of your account was changed"
NEW_PASSWORD = "unusual violet tractor"


@pytest.fixture
def mail_app(auth_app):
    def make(plugins=(), **config):
        app = auth_app(["mail", *plugins], {"MAIL_DEFAULT_SENDER": "noreply@example.com", **config}, create_all=True)
        return app, DeliveredMail(app)

    return make


@pytest.fixture
def ada(mail_app):
    """An app, its delivered mail, and a browser logged in to ada@example.com a moment ago."""
    app, mail = mail_app()
    make_user(app, "ada@example.com")
    client = app.test_client()
    assert log_in(client, "ada@example.com").status_code == 302
    return app, mail, client


def email_of(app, user_id=None):
    with database_of(app).session_scope() as session:
        user = session.scalar(sa.select(User).order_by(User.id))
        return user.email, user.email_key, user.email_confirmed_at is not None


def changes(app):
    with database_of(app).session_scope() as session:
        return [(row.kind, row.email) for row in session.scalars(sa.select(EmailChange).order_by(EmailChange.id))]


def ask(client, email):
    return post_form(client, "/auth/email", {"email": email})


def strip(text, email):
    return re.sub(r'value="[^"]*"', "", text).replace(email, "EMAIL")


def test_nothing_changes_until_the_new_address_confirms(ada):
    app, mail, client = ada
    other = app.test_client()
    log_in(other, "ada@example.com")
    page = client.get("/auth/email")
    assert page.status_code == 200 and "Change your email address" in page.text
    sent = ask(client, " Ada.New@Example.org ")
    assert sent.status_code == 200 and "We sent a message to Ada.New@Example.org" in sent.text
    assert email_of(app)[0] == "ada@example.com" and changes(app) == [("confirm", "Ada.New@Example.org")]
    [_new_device, message] = mail  # the other browser's sign-in was news too
    assert message.to == ["Ada.New@Example.org"] and message.subject == CONFIRM_SUBJECT
    link = link_in(message, "/auth/email/confirm/")
    assert "ada@example.com" in message.body
    assert "A link to confirm" in client.get("/auth/security").text  # the section shows the pending address

    asked = app.test_client().get(link)  # from the phone's mail app: no need to be logged in
    assert asked.status_code == 200 and "Make Ada.New@Example.org the address" in asked.text
    assert email_of(app)[0] == "ada@example.com"  # a GET (a link scanner) changes nothing
    done = post_form(client, link)
    assert done.status_code == 302 and done.headers["Location"] == "/auth/security"
    assert email_of(app) == ("Ada.New@Example.org", "ada.new@example.org", True)
    assert changes(app) == [("undo", "ada@example.com")]

    [_, _, notice] = mail
    assert notice.to == ["ada@example.com"] and notice.subject == CHANGED_SUBJECT
    assert "from ada@example.com to Ada.New@Example.org" in notice.body and "within 7 days" in notice.body
    assert "/auth/email/undo/" in notice.body and "/auth/email/undo/" in notice.html
    # Other sessions stay signed in (documented); the address logs in, the old one no more.
    assert is_logged_in(client) and is_logged_in(other)
    assert log_in(app.test_client(), "ADA.NEW@example.org").status_code == 302
    assert log_in(app.test_client(), "ada@example.com").status_code == 200
    assert "Ada.New@Example.org" in client.get("/auth/security").text


def test_the_link_works_once(ada):
    app, mail, client = ada
    ask(client, "new@example.org")
    link = link_in(mail[0], "/auth/email/confirm/")
    assert post_form(client, link).status_code == 302
    again = post_form(client, link)
    assert again.status_code == 400 and "This link does not work" in again.text
    assert app.test_client().get(link).status_code == 400


def test_a_second_request_supersedes_the_first(ada):
    app, mail, client = ada
    ask(client, "first@example.org")
    ask(client, "second@example.org")
    first, second = (link_in(message, "/auth/email/confirm/") for message in mail)
    assert changes(app) == [("confirm", "second@example.org")]
    assert post_form(client, first).status_code == 400
    assert email_of(app)[0] == "ada@example.com"
    assert post_form(client, second).status_code == 302
    assert email_of(app)[0] == "second@example.org"


def test_a_taken_address_is_not_revealed_to_the_requester(ada):
    app, mail, client = ada
    make_user(app, "bob@example.com", active=False)  # inactive accounts hold their address too
    ask(client, "pending@example.org")
    free = ask(client, "free@example.org")
    taken = ask(client, "BOB@example.com")
    assert free.status_code == taken.status_code == 200
    assert strip(free.text, "free@example.org") == strip(taken.text, "BOB@example.com")
    # The taken address's owner is told instead; no link, nothing pending, the earlier request superseded.
    assert [(m.to, m.subject) for m in mail] == [
        (["pending@example.org"], CONFIRM_SUBJECT),
        (["free@example.org"], CONFIRM_SUBJECT),
        (["BOB@example.com"], TAKEN_SUBJECT),
    ]
    assert "/auth/" not in mail[2].body and "has an account already" in mail[2].body.replace("\n", " ")
    assert changes(app) == []
    assert post_form(client, link_in(mail[1], "/auth/email/confirm/")).status_code == 400


def test_the_same_address_is_refused_and_malformed_ones_too(ada):
    app, mail, client = ada
    same = ask(client, "ADA@example.com")
    assert same.status_code == 200 and "This is your address already." in same.text
    for bad in ("not an address", "a@b@example.com", "x" * 250 + "@example.com", "nul\x00@example.com", ""):
        assert ask(client, bad).status_code == 200
    assert len(mail) == 0 and changes(app) == []


def test_the_page_needs_a_recent_proof_of_who_the_user_is(ada):
    app, mail, client = ada
    assert app.test_client().get("/auth/email").headers["Location"].startswith("/auth/login")
    with database_of(app).session_scope() as session:
        session.execute(
            sa.update(LoginSession).values(reauthenticated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )
        session.commit()
    stale = client.get("/auth/email")
    assert stale.status_code == 302 and stale.headers["Location"] == "/auth/reauthenticate?next=/auth/email"
    assert ask(client, "new@example.org").status_code == 302  # a form posted without a recent proof is not taken
    assert len(mail) == 0
    post_form(client, "/auth/reauthenticate", {"password": DEFAULT_PASSWORD, "next": "/auth/email"})
    assert ask(client, "new@example.org").status_code == 200
    assert len(mail) == 1


def test_requests_are_throttled_as_reset_emails_are(ada):
    _, mail, client = ada
    for _ in range(3):
        assert ask(client, "target@example.org").status_code == 200
    refused = ask(client, "target@example.org")
    assert refused.status_code == 429 and "Too many emails" in refused.text and "Retry-After" in refused.headers
    assert len(mail) == 3


def test_tampered_expired_and_foreign_links_do_not_work(ada, monkeypatch):
    from erlen_auth import tokens

    app, mail, client = ada
    ask(client, "new@example.org")
    link = link_in(mail[0], "/auth/email/confirm/")
    token = link.rsplit("/", 1)[1]
    with app.test_request_context(), database_of(app).session_scope() as session:
        user = session.scalar(sa.select(User))
        reset = tokens.make_token(tokens.RESET, user, app)
        with_a_string_row = tokens.make_token(tokens.RESET, user, app, data={"row": "1"})
    for bad in (token[:-2] + "xx", "garbage", reset, with_a_string_row, "a" * 5000, "%00"):
        assert client.get(f"/auth/email/confirm/{bad}").status_code in (400, 404), bad
        assert client.get(f"/auth/email/undo/{bad}").status_code in (400, 404), bad
    assert client.get(link.replace("/confirm/", "/undo/")).status_code == 400  # a purpose of its own
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 86400 + 60)
    assert post_form(client, link).status_code == 400
    monkeypatch.setattr(time, "time", real)
    assert post_form(client, link).status_code == 302


def test_an_address_registered_since_the_request_is_not_taken_over(ada):
    app, mail, client = ada
    ask(client, "new@example.org")
    make_user(app, "NEW@example.org")
    response = post_form(client, link_in(mail[0], "/auth/email/confirm/"))
    assert response.status_code == 409 and "another account" in response.text
    assert email_of(app)[0] == "ada@example.com" and changes(app) == []


def test_the_change_and_its_notice_commit_together_or_not_at_all(ada):
    app, mail, client = ada
    app.config["PROPAGATE_EXCEPTIONS"] = False
    ask(client, "new@example.org")
    link = link_in(mail[0], "/auth/email/confirm/")
    with failing_commit_with(CHANGED_SUBJECT):
        assert post_form(client, link).status_code == 500
    assert email_of(app)[0] == "ada@example.com" and changes(app) == [("confirm", "new@example.org")]
    assert [row[2] for row in outbox_rows(app)] == [CONFIRM_SUBJECT]
    assert post_form(client, link).status_code == 302
    assert [m.subject for m in mail] == [CONFIRM_SUBJECT, CHANGED_SUBJECT]
    assert [row[0] for row in outbox_rows(app)] == ["sent", "sent"]


def test_the_old_address_undoes_the_change_ends_every_session_and_asks_for_a_new_password(ada):
    app, mail, client = ada
    ask(client, "thief@example.org")
    post_form(client, link_in(mail[0], "/auth/email/confirm/"))
    # Whoever changed the address goes on: a new password, another address. The undo link still works.
    post_form(
        client, "/auth/password", {"current": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    ask(client, "thief2@example.org")
    post_form(client, link_in(mail[3], "/auth/email/confirm/"))
    assert email_of(app)[0] == "thief2@example.org"
    undo = link_in(mail[1], "/auth/email/undo/")
    assert mail[1].to == ["ada@example.com"]

    owner = app.test_client()
    asked = owner.get(undo)
    assert asked.status_code == 200 and "Make ada@example.com the address of your account again?" in asked.text
    assert email_of(app)[0] == "thief2@example.org"
    done = post_form(owner, undo)
    assert done.status_code == 302 and done.headers["Location"].startswith("/auth/reset/")
    assert email_of(app) == ("ada@example.com", "ada@example.com", True)
    assert not is_logged_in(client)  # every session ended
    assert changes(app) == []
    assert log_in(app.test_client(), "ada@example.com", NEW_PASSWORD).status_code == 302  # until reset below
    page = owner.get(done.headers["Location"])
    assert "every device was logged out" in page.text and "Choose a new password" in page.text
    chosen = post_form(
        owner, done.headers["Location"], {"password": "owner is back again", "confirm": "owner is back again"}
    )
    assert chosen.status_code == 302
    assert log_in(app.test_client(), "ada@example.com", "owner is back again").status_code == 302
    assert post_form(app.test_client(), undo).status_code == 400  # once


def test_the_undo_link_expires(ada, monkeypatch):
    app, mail, client = ada
    ask(client, "new@example.org")
    post_form(client, link_in(mail[0], "/auth/email/confirm/"))
    undo = link_in(mail[1], "/auth/email/undo/")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 7 * 86400 + 60)
    assert post_form(app.test_client(), undo).status_code == 400
    assert email_of(app)[0] == "new@example.org"


def test_an_undo_to_an_address_taken_since_changes_nothing(ada):
    app, mail, client = ada
    ask(client, "new@example.org")
    post_form(client, link_in(mail[0], "/auth/email/confirm/"))
    make_user(app, "ada@example.com")  # registered in between
    response = post_form(app.test_client(), link_in(mail[1], "/auth/email/undo/"))
    assert response.status_code == 409 and "cannot be given back" in response.text
    assert is_logged_in(client)


def test_without_notices_the_change_still_works(mail_app):
    app, mail = mail_app(AUTH_SECURITY_NOTICES=False)
    make_user(app, "ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com")
    ask(client, "new@example.org")
    assert post_form(client, link_in(mail[0], "/auth/email/confirm/")).status_code == 302
    assert email_of(app)[0] == "new@example.org" and [m.subject for m in mail] == [CONFIRM_SUBJECT]


def test_the_security_section_and_the_routes_follow_the_mail_plugin(auth_app, mail_app):
    from erlen_forms.testing import assert_csrf_protected

    app, _ = mail_app()
    endpoints = {result.endpoint for result in assert_csrf_protected(app)}
    assert {"auth.change_email", "auth.confirm_email_change", "auth.undo_email_change"} <= endpoints
    make_user(app, "ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com")
    page = client.get("/auth/security").text
    assert page.index("Email address") < page.index("Password") and 'href="/auth/email"' in page

    plain = auth_app()  # the same database, without mail
    client = plain.test_client()
    log_in(client, "ada@example.com")
    assert client.get("/auth/email").status_code == 404
    page = client.get("/auth/security").text
    assert "Your address is <strong>ada@example.com</strong> (confirmed)" in page and "/auth/email" not in page


def test_a_deactivated_accounts_address_does_not_change(ada):
    from erlen_auth import deactivate

    app, mail, client = ada
    ask(client, "new@example.org")
    with database_of(app).session_scope() as session:
        deactivate(session.scalar(sa.select(User)), db=session)
    assert post_form(app.test_client(), link_in(mail[0], "/auth/email/confirm/")).status_code == 400
    assert email_of(app)[0] == "ada@example.com"


def test_an_address_whose_key_is_too_long_is_refused_before_any_mail(ada):
    app, mail, client = ada
    sent_before = len(mail)
    # Valid and 32 characters, but NFKC makes a key of 372 of it: confirming it would fail on PostgreSQL.
    response = ask(client, "\ufdfa" * 20 + "@example.com")
    assert response.status_code == 200
    assert "too long once normalised" in response.text
    assert changes(app) == [] and len(mail) == sent_before
    assert email_of(app)[0] == "ada@example.com"
