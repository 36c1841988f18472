"""The example app, ``examples/notes``, as a newcomer uses it: demo set-up, accounts, notes, mail, commands.

The app is installed with the third-party plugin ``examples/profiles`` (the
integration session installs both); each test builds it on a fresh SQLite
database through ``ERLEN_*`` variables, as a deployment would.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")

import notes_app
from example_apps import example_app, example_environ

from erlen_forms.testing import csrf_client_for
from erlen_mail.testing import DeliveredMail

PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return example_app(tmp_path)


@pytest.fixture
def outbox(app: Flask) -> DeliveredMail:
    """The mail the app queued and its outbox worker delivered (reading it runs the worker)."""
    return DeliveredMail(app)


def register(client: FlaskClient, email: str, name: str) -> str:
    response = client.post(
        "/auth/register",
        data={"email": email, "display_name": name, "password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 200, response.text
    return response.text


def confirm_and_log_in(app: Flask, outbox: DeliveredMail, email: str, name: str) -> FlaskClient:
    client = csrf_client_for(app)
    page = register(client, email, name)
    assert "confirm" in page.lower()
    (mail,) = [m for m in outbox if email in m.recipients]
    link = re.search(r"https?://\S+/auth/confirm/\S+", mail.body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    assert client.post("/" + path).status_code == 302
    response = client.post("/auth/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return client


def test_demo_applies_every_branch_and_prints_the_admin_password_once(tmp_path: Path) -> None:
    app = notes_app.create_app(example_environ(tmp_path), instance_path=str(tmp_path / "instance"))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    for branch in ("auth", "mail", "admin", "profiles", "notes"):
        assert re.search(rf"^Applied {branch} ", first.output, re.MULTILINE), first.output
    password = re.search(r"password: (\S+)", first.output).group(1)
    second = runner.invoke(args=["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    assert password not in second.output and "exists already" in second.output
    from erlen_auth import authenticate

    with app.test_request_context():
        assert authenticate("admin@example.com", password).user.is_superuser
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output


def test_plugins_enabled_by_name_and_by_path(app: Flask) -> None:
    rows = {row["name"]: row for row in json.loads(app.test_cli_runner().invoke(args=["plugins", "--json"]).output)}
    for name in ("db", "forms", "mail", "migrate", "auth", "admin", "profiles", "notes"):
        assert rows[name]["enabled"], name
    assert rows["profiles"]["distribution"] == "erlen-profiles"
    assert rows["notes"]["distribution"] is None and rows["notes"]["origin"] == "module notes_app.notes"
    assert app.config["PLUGINS"][-1] == "notes_app.notes"


def test_a_new_user_registers_confirms_and_writes_a_note(app: Flask, outbox: DeliveredMail) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/notes/").status_code == 302
    register_page = anonymous.get("/auth/register").text
    assert 'name="display_name"' in register_page  # the field the profiles plugin adds
    client = confirm_and_log_in(app, outbox, "ada@example.com", "Ada Lovelace")
    response = client.post("/notes/new", data={"title": "Engines", "body": "They weave algebra."})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).text
    assert "Engines" in page and "They weave algebra." in page and "Ada Lovelace" in page
    assert "Engines" in client.get("/notes/").text
    (notification,) = [m for m in outbox if m.subject == "New note: Engines"]
    assert notification.recipients == ["admin@example.com"]
    assert "/notes/1" in notification.body


def test_only_the_author_or_a_moderator_deletes_a_note(app: Flask, outbox: DeliveredMail) -> None:
    ada = confirm_and_log_in(app, outbox, "ada@example.com", "Ada")
    bob = confirm_and_log_in(app, outbox, "bob@example.com", "Bob")
    location = ada.post("/notes/new", data={"title": "Mine", "body": ""}).headers["Location"]
    note_id = int(location.rstrip("/").rsplit("/", 1)[1])
    assert bob.post(f"/notes/{note_id}/delete").status_code == 403
    runner = app.test_cli_runner()
    for args in (
        ["role", "create", "moderator"],
        ["role", "grant", "moderator", "notes.moderate"],
        ["user", "add-role", "--email", "bob@example.com", "moderator"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    assert bob.post(f"/notes/{note_id}/delete").status_code == 302
    assert ada.get(f"/notes/{note_id}").status_code == 404


def test_profile_pages_of_the_third_party_plugin(app: Flask, outbox: DeliveredMail) -> None:
    client = confirm_and_log_in(app, outbox, "ada@example.com", "Ada Lovelace")
    profile = client.get("/profiles/me", follow_redirects=True)
    assert "<h1>Ada Lovelace</h1>" in profile.text and "Team notes" in profile.text  # the app's layout
    edit = client.post("/profiles/2/edit", data={"display_name": "Countess", "bio": "Mathematician"})
    assert edit.status_code == 302
    assert "Mathematician" in client.get("/profiles/2").text
    assert client.post("/profiles/1/edit", data={"display_name": "x", "bio": ""}).status_code == 403


def test_notes_export_command(app: Flask, outbox: DeliveredMail) -> None:
    client = confirm_and_log_in(app, outbox, "ada@example.com", "Ada")
    client.post("/notes/new", data={"title": "One", "body": "1"})
    client.post("/notes/new", data={"title": "Two", "body": "2"})
    result = app.test_cli_runner().invoke(args=["notes", "export", "--limit", "1"])
    assert result.exit_code == 0, result.output
    (note,) = json.loads(result.output)
    assert note["title"] == "Two" and note["author"] == "ada@example.com"


def test_every_form_is_csrf_protected(app: Flask) -> None:
    from erlen_forms.testing import assert_csrf_protected

    assert_csrf_protected(app)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    env = {**os.environ, **example_environ(tmp_path), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "erlen", "--app", "notes_app", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/auth/login", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_demo_command_serves_the_app(demo_server: tuple[str, subprocess.Popen[str]]) -> None:
    base, process = demo_server
    with urllib.request.urlopen(base + "/", timeout=5) as response:  # redirected to the log-in page
        assert response.url.startswith(base + "/auth/login")
        assert "<h1>Log in</h1>" in response.read().decode()
    process.terminate()
    output, _ = process.communicate(timeout=10)
    assert "email:    admin@example.com" in output
    assert f"Serving the notes app on {base}/" in output


def test_the_demo_command_delivers_queued_mail_to_the_console(
    tmp_path: Path, demo_server: tuple[str, subprocess.Popen[str]]
) -> None:
    # The app queues its mail; the demo's worker thread prints it, as `erlen mail worker` would.
    import http.cookiejar

    import sqlalchemy as sa

    base, process = demo_server
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(base + "/auth/register", timeout=5).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = {"email": "ada@example.com", "display_name": "Ada", "password": PASSWORD, "confirm": PASSWORD}
    body = urllib.parse.urlencode({**form, "csrf_token": token}).encode()
    request = urllib.request.Request(base + "/auth/register", data=body, headers={"Origin": base})
    assert "confirm" in opener.open(request, timeout=10).read().decode().lower()
    engine = sa.create_engine(example_environ(tmp_path)["ERLEN_DB_URL"])
    try:
        deadline = time.monotonic() + 30
        status = None
        while status != "sent" and time.monotonic() < deadline:
            with engine.connect() as connection:
                status = connection.scalar(sa.text("SELECT status FROM mail_outbox"))
            time.sleep(0.2)
    finally:
        engine.dispose()
    assert status == "sent"
    process.terminate()
    output, _ = process.communicate(timeout=10)
    assert "Subject: Confirm your email address" in output and "/auth/confirm/" in output


def test_the_demo_admin_sees_the_new_note_in_the_admin(app: Flask, outbox: DeliveredMail) -> None:
    from erlen_auth import find_user
    from erlen_auth.testing import login_as

    ada = confirm_and_log_in(app, outbox, "ada@example.com", "Ada")
    ada.post("/notes/new", data={"title": "For the admin", "body": ""})
    assert ada.get("/admin/").status_code == 403  # admin.access: superusers and granted roles only
    admin = app.test_client()
    with app.app_context():
        login_as(admin, find_user("admin@example.com"))
    assert 'href="/admin/"' in admin.get("/notes/").text
    dashboard = admin.get("/admin/").text
    assert "/admin/m/notes_note/" in dashboard and "/admin/m/profiles_profile/" in dashboard
    listing = admin.get("/admin/m/notes_note/?q=admin").text
    assert "For the admin" in listing
    assert "Ada" in admin.get("/admin/m/profiles_profile/").text


def test_the_admin_sorts_notes_and_adds_profiles(app: Flask) -> None:
    """The tutorial says the notes admin sorts; "Add profile" needs a field for the profile's user (its key)."""
    import sqlalchemy as sa
    from notes_app.notes.models import Note

    import erlen_db
    from erlen_auth import find_user
    from erlen_auth.testing import login_as, make_user
    from erlen_profiles.models import Profile

    with app.app_context():
        admin_user = find_user("admin@example.com")
        session = erlen_db.database_of(app).session
        session.add_all(Note(title=title, body="", author_id=admin_user.id) for title in ("Banana", "Apple", "Cherry"))
        session.commit()
    bob = make_user(app, "bob@example.com", password=PASSWORD)
    admin = csrf_client_for(app)
    with app.app_context():
        login_as(admin, find_user("admin@example.com"))
    listing = admin.get("/admin/m/notes_note/").text
    assert 'href="/admin/m/notes_note/?sort=title' in listing.replace("&amp;", "&")
    by_title = admin.get("/admin/m/notes_note/?sort=title").text
    shown = [t for t in re.findall(r"<td[^>]*>(Apple|Banana|Cherry)</td>", by_title)]
    assert shown == ["Apple", "Banana", "Cherry"]
    assert "cannot be sorted" not in admin.get("/admin/m/notes_note/?sort=-created_at").text
    check = app.test_cli_runner().invoke(args=["check"])
    assert "admin.W001" not in check.output, check.output

    form = admin.get("/admin/m/profiles_profile/new").text
    assert re.search(r'<select[^>]*name="user_id"', form), form
    response = admin.post(
        "/admin/m/profiles_profile/new", data={"user_id": str(bob.id), "display_name": "Bob", "bio": "Hi"}
    )
    assert response.status_code == 302, response.text
    with app.app_context():
        profile = erlen_db.database_of(app).session.scalar(sa.select(Profile).where(Profile.user_id == bob.id))
        assert profile is not None and profile.display_name == "Bob"


def test_a_note_written_while_the_mail_server_is_down_keeps_its_notification(app: Flask, outbox: DeliveredMail) -> None:
    # The admins' mail is queued in the note's transaction: the outage delays it, it is never dropped.
    pytest.importorskip("aiosmtpd", reason="the SMTP server of this test needs erlen-mail[testing]")
    import sqlalchemy as sa

    import erlen_db
    from erlen_mail import state_of
    from erlen_mail.outbox.models import OutboxMessage
    from erlen_mail.testing import SMTPTestServer, deliver_outbox

    client = confirm_and_log_in(app, outbox, "ada@example.com", "Ada")
    server = SMTPTestServer()  # not started: its port refuses connections
    app.config.update(server.config(), MAIL_SMTP_TIMEOUT=5.0, MAIL_OUTBOX_BACKOFF_SECONDS=0.3)
    state_of(app).use_backend("smtp")
    try:
        response = client.post("/notes/new", data={"title": "During the outage", "body": "Still saved."})
        assert response.status_code == 302
        assert "During the outage" in client.get(response.headers["Location"]).text
        assert deliver_outbox(app).retrying == 1  # the server is down: kept for later
        server.start()
        time.sleep(0.3)  # until the retry is due
        assert deliver_outbox(app).sent == 1
        assert deliver_outbox(app).claimed == 0
    finally:
        server.stop()
    [received] = server.messages
    assert received.recipients == ["admin@example.com"]
    assert received.email["Subject"] == "New note: During the outage"
    with erlen_db.database_of(app).session_scope() as session:
        statuses = session.scalars(
            sa.select(OutboxMessage.status).where(OutboxMessage.subject == "New note: During the outage")
        ).all()
    assert statuses == ["sent"]


# The pages: the note list pages both ways, a note keeps its line breaks, deleting asks first.


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/notes/\d+">([^<]+)</a></h2>', html)


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'href="(/notes/\?(?:after|before)=[^"]+)" rel="{rel}"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_note_list_pages_older_and_newer(app: Flask, outbox: DeliveredMail) -> None:
    app.config["NOTES_PER_PAGE"] = 2
    app.config["NOTES_NOTIFY_ADMINS"] = False
    ada = confirm_and_log_in(app, outbox, "ada@example.com", "Ada")
    for number in range(1, 6):
        assert ada.post("/notes/new", data={"title": f"Note {number}", "body": ""}).status_code == 302
    first = ada.get("/notes/").text
    assert titles(first) == ["Note 5", "Note 4"] and link(first, "prev") is None
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">\d{1,2} \w+ \d{4}, \d\d:\d\d</time>', first)
    second = ada.get(link(first, "next") or "").text
    assert titles(second) == ["Note 3", "Note 2"]
    third = ada.get(link(second, "next") or "").text
    assert titles(third) == ["Note 1"] and link(third, "next") is None
    back = ada.get(link(third, "prev") or "").text
    assert titles(back) == ["Note 3", "Note 2"]
    newest = ada.get(link(back, "prev") or "").text
    assert titles(newest) == ["Note 5", "Note 4"] and link(newest, "prev") is None


def test_a_note_keeps_its_line_breaks_and_deleting_it_asks_first(app: Flask, outbox: DeliveredMail) -> None:
    ada = confirm_and_log_in(app, outbox, "ada@example.com", "Ada")
    location = ada.post("/notes/new", data={"title": "Agenda", "body": "One\nTwo\n\nThree"}).headers["Location"]
    page = ada.get(location).text
    assert '<div class="notes-body">One\nTwo\n\nThree</div>' in page  # shown with white-space: pre-wrap
    with ada.get("/static/plugins/notes/notes.css") as css:
        assert "white-space: pre-wrap" in css.get_data(as_text=True)
    confirm = ada.get(f"{location}/delete")
    assert confirm.status_code == 200 and "Delete this note?" in confirm.text
    assert ada.get(location).status_code == 200  # asking deleted nothing
    assert ada.post(f"{location}/delete").status_code == 302
    assert ada.get(location).status_code == 404
