"""Auth mail goes through the durable outbox: an SMTP outage loses nothing and tells nothing.

Each test runs on SQLite and PostgreSQL, with a real SMTP server (aiosmtpd)
on a free loopback port that is down while the requests are made. The
worker (``erlen mail worker --once``) delivers what was queued once it is up.
"""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa
from auth_helpers import post_form

from erlen_auth import User
from erlen_auth.testing import make_user
from erlen_db import database_of
from erlen_db.queries import count_queries

pytest.importorskip("erlen_mail", reason="erlen-mail is not installed: auth mail is tested in the integration session")
pytest.importorskip("aiosmtpd", reason="the SMTP server of these tests needs erlen-mail[testing]")

from erlen_mail.outbox.models import OutboxMessage
from erlen_mail.testing import SMTPTestServer, deliver_outbox

#: Seconds before a failed delivery is tried again (short, so the test need not wait long).
RETRY_AFTER = 0.3

NEW = {"email": "ada@example.com", "password": "long enough pw", "confirm": "long enough pw"}


@pytest.fixture
def smtp_down():
    """An SMTP server on a free loopback port, not started: connecting to it is refused until the test starts it."""
    server = SMTPTestServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def outage_app(auth_app, smtp_down):
    def make(plugins=(), **config):
        settings = {
            "MAIL_DEFAULT_SENDER": "noreply@example.com",
            "MAIL_SMTP_TIMEOUT": 5.0,
            "MAIL_OUTBOX_BACKOFF_SECONDS": RETRY_AFTER,
            "AUTH_EMAIL_CONFIRMATION": True,
            "AUTH_REQUIRE_CONFIRMED_EMAIL": True,
            **smtp_down.config(),
            **config,
        }
        return auth_app(["mail", *plugins], settings, create_all=True)

    return make


def rows(app) -> list[OutboxMessage]:
    with database_of(app).session_scope() as session:
        return list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def users(app) -> list[str]:
    with database_of(app).session_scope() as session:
        return list(session.scalars(sa.select(User.email)))


def strip(text: str, *emails: str) -> str:
    """A page without what may differ between two requests: CSRF tokens and the typed address."""
    text = re.sub(r'value="[^"]*"', "", text)
    for email in emails:
        text = text.replace(email, "EMAIL")
    return text


def test_registration_with_the_mail_server_down_queues_the_confirmation_and_the_worker_sends_it_once(
    outage_app, smtp_down
):
    app = outage_app()
    client = app.test_client()
    response = post_form(client, "/auth/register", NEW)
    assert response.status_code == 200, response.text
    assert "Check your email" in response.text  # the normal confirm_sent page
    assert users(app) == ["ada@example.com"]
    [queued] = rows(app)
    assert queued.status == "pending" and queued.recipient_list == ["ada@example.com"]
    assert queued.subject == "Confirm your email address"

    down = deliver_outbox(app)  # the server is still down: retried later, not lost
    assert (down.sent, down.retrying) == (0, 1)
    smtp_down.start()
    time.sleep(RETRY_AFTER)  # until the retry is due
    assert deliver_outbox(app).sent == 1
    assert deliver_outbox(app).claimed == 0  # nothing left: sent exactly once
    [received] = smtp_down.messages
    assert received.recipients == ["ada@example.com"]
    assert received.email["Message-ID"] == queued.message_id
    link = re.search(r"http://localhost(/auth/confirm/\S+)", received.email.get_body(("plain",)).get_content())
    assert link and post_form(client, link.group(1)).status_code == 302


def test_reset_with_the_mail_server_down_answers_alike_for_known_and_unknown_addresses(outage_app, smtp_down):
    app = outage_app()
    make_user(app, "ada@example.com")
    known = post_form(app.test_client(), "/auth/reset", {"email": "ada@example.com"})
    unknown = post_form(app.test_client(), "/auth/reset", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert strip(known.text, "ada@example.com") == strip(unknown.text, "nobody@example.com")
    assert [(row.status, row.recipient_list) for row in rows(app)] == [
        ("pending", ["ada@example.com"]),
        ("suppressed", ["nobody@example.com"]),
    ]
    smtp_down.start()
    assert deliver_outbox(app).sent == 1
    assert deliver_outbox(app).claimed == 0
    assert [message.recipients for message in smtp_down.messages] == [["ada@example.com"]]
    assert [row.status for row in rows(app)] == ["sent", "suppressed"]  # the worker never sends a suppressed row


def test_resend_confirmation_with_the_mail_server_down_answers_alike(outage_app, smtp_down):
    app = outage_app()
    post_form(app.test_client(), "/auth/register", NEW)
    make_user(app, "bob@example.com")  # confirmed: nothing to send
    answers = {
        email: post_form(app.test_client(), "/auth/confirm", {"email": email})
        for email in ("ada@example.com", "bob@example.com", "nobody@example.com")
    }
    assert {response.status_code for response in answers.values()} == {200}
    assert len({strip(response.text, email) for email, response in answers.items()}) == 1
    assert [(row.status, row.recipient_list) for row in rows(app)] == [
        ("pending", ["ada@example.com"]),  # the registration's
        ("pending", ["ada@example.com"]),
        ("suppressed", ["bob@example.com"]),
        ("suppressed", ["nobody@example.com"]),
    ]


def test_a_failure_to_queue_the_confirmation_leaves_no_account(outage_app, smtp_down):
    # All or nothing: an account without its confirmation mail could neither confirm nor register again.
    app = outage_app(["auth_sample_plugins.mail_breaker"])
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answered as in production: a 500 page
    client = app.test_client()
    failed = post_form(client, "/auth/register", NEW)
    assert failed.status_code == 500
    assert users(app) == [] and rows(app) == []
    app.config["MAIL_BREAKER_ON"] = False
    again = post_form(client, "/auth/register", NEW)
    assert again.status_code == 200 and "Check your email" in again.text
    assert users(app) == ["ada@example.com"] and len(rows(app)) == 1


def test_a_failing_outbox_insert_leaves_no_account(outage_app):
    app = outage_app()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    OutboxMessage.__table__.drop(database_of(app).engine)
    failed = post_form(app.test_client(), "/auth/register", NEW)
    assert failed.status_code >= 500
    assert users(app) == []


def _work(app, path: str, email: str):
    """The statements and commits of one request, and its answer."""
    engine = database_of(app).engine
    commits: list[str] = []

    def on_commit(connection):
        commits.append("COMMIT")

    sa.event.listen(engine, "commit", on_commit)
    try:
        with count_queries(engine) as counter:
            response = post_form(app.test_client(), path, {"email": email})
    finally:
        sa.event.remove(engine, "commit", on_commit)
    return response, counter.statements, commits


@pytest.mark.parametrize("path", ["/auth/reset", "/auth/confirm"])
def test_known_and_unknown_addresses_cost_the_same_work(outage_app, path):
    # No timing assertion: the same statements, the same writes, the same commit, the same page.
    app = outage_app(AUTH_REQUIRE_CONFIRMED_EMAIL=False)
    if path == "/auth/reset":
        make_user(app, "ada@example.com")
    else:
        post_form(app.test_client(), "/auth/register", NEW)  # unconfirmed: a confirmation is sent again
    before = len(rows(app))
    known, known_statements, known_commits = _work(app, path, "ada@example.com")
    unknown, unknown_statements, unknown_commits = _work(app, path, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert strip(known.text, "ada@example.com") == strip(unknown.text, "nobody@example.com")
    assert known_statements == unknown_statements, (known_statements, unknown_statements)
    assert [s.split()[0] for s in known_statements] == ["SELECT", "INSERT"]
    assert "mail_outbox" in known_statements[1]
    assert known_commits == unknown_commits == ["COMMIT"]  # a commit that writes, in both cases
    written = rows(app)[before:]
    assert [row.status for row in written] == ["pending", "suppressed"]
    # The stand-in is the same mail, so the two inserts write as much.
    assert abs(len(written[0].raw) - len(written[1].raw)) < 64
