"""The example app attacked as a security reviewer would, route by route of ``app.url_map``.

CSRF on every state-changing request, escaping of every user-controlled text,
same-site redirects only, access control of the admin, notes and profile
pages, security headers and cookies, no secret in any page, command output or
log, and no 500 for malformed input. On SQLite, as ``test_example_app.py``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")

import example_apps
import notes_app

from erlen.builtin import RECOMMENDED_SECURITY_HEADERS
from erlen_auth.testing import login_as
from erlen_forms.testing import build_path, csrf_client_for, csrf_token_for

PASSWORD = "correct horse battery staple"
XSS = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
SECRET_KEY = "k3y-" + "q8Zr2mWx" * 6
DB_PASSWORD = "Db-Pa55word-9f2c"


def example_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The example app's variables with a real secret key and the security headers production sets."""
    return example_apps.example_environ(
        tmp_path,
        ERLEN_SECRET_KEY=SECRET_KEY,
        # As production sets it (erlen check --deploy recommends it; docs/examples/deploy/production.env).
        ERLEN_SECURITY_HEADERS=json.dumps(RECOMMENDED_SECURITY_HEADERS),
        **extra,
    )


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = notes_app.create_app(example_environ(tmp_path), instance_path=str(tmp_path / "instance"))
    app.config["TESTING"] = True  # exceptions propagate: a 500 fails the test with its traceback
    result = app.test_cli_runner().invoke(args=list(example_apps.DEMO))
    assert result.exit_code == 0, result.output
    import erlen_db
    from erlen_auth import create_user

    with app.app_context():
        for email in ("ada@example.com", "bob@example.com"):
            user = create_user(email, PASSWORD)
            user.email_confirmed_at = dt.datetime.now(dt.UTC)
        erlen_db.session.commit()
    return app


def logged_in(app: Flask, email: str, *, csrf: bool = True) -> FlaskClient:
    from erlen_auth import find_user

    client = csrf_client_for(app) if csrf else app.test_client()
    with app.app_context():
        login_as(client, find_user(email))
    return client


def note_of(client: FlaskClient, title: str = "Mine", body: str = "") -> int:
    response = client.post("/notes/new", data={"title": title, "body": body})
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


# -- CSRF -------------------------------------------------------------------------------------------------------


def test_every_state_changing_route_refuses_a_request_without_a_token(app: Flask) -> None:
    from erlen_forms.testing import assert_csrf_protected

    results = assert_csrf_protected(app)
    assert {"notes.new", "notes.delete", "profiles.edit", "admin.action", "auth.logout"} <= {
        result.endpoint for result in results
    }


BODIES: dict[str, t.Callable[[], dict[str, t.Any]]] = {
    "json": lambda: {"json": {"title": "JSON"}},
    "multipart": lambda: {
        "data": {"title": "multipart", "file": (io.BytesIO(b"x"), "a.txt")},
        "content_type": "multipart/form-data",
    },
    "text": lambda: {"data": "title=plain", "content_type": "text/plain"},
}


@pytest.mark.parametrize("body", sorted(BODIES))
def test_no_token_is_refused_whatever_the_body(app: Flask, body: str) -> None:
    ada = logged_in(app, "ada@example.com", csrf=False)
    assert ada.post("/notes/new", **BODIES[body]()).status_code == 400
    admin = logged_in(app, "admin@example.com", csrf=False)
    assert admin.post("/admin/m/notes_note/new", **BODIES[body]()).status_code == 400


def test_a_token_of_another_session_is_refused(app: Flask) -> None:
    ada = logged_in(app, "ada@example.com", csrf=False)
    bob = logged_in(app, "bob@example.com")
    token = csrf_token_for(bob)
    assert ada.post("/notes/new", data={"title": "x", "csrf_token": token}).status_code == 400
    assert ada.post("/notes/new", data={"title": "x"}, headers={"X-CSRF-Token": token}).status_code == 400
    assert ada.post("/notes/new", data={"title": "x", "csrf_token": csrf_token_for(ada)}).status_code == 302


# -- XSS --------------------------------------------------------------------------------------------------------


def assert_escaped(text: str) -> None:
    assert "<script>alert(1)" not in text and "<img src=x" not in text, text


def test_user_text_is_escaped_on_every_page_that_shows_it(app: Flask) -> None:
    ada = logged_in(app, "ada@example.com")
    note_id = note_of(ada, XSS, XSS)
    assert ada.post("/profiles/2/edit", data={"display_name": XSS[:80], "bio": XSS}).status_code == 302
    for path in ("/notes/", f"/notes/{note_id}", "/profiles/2", "/profiles/2/edit"):
        page = ada.get(path)
        assert page.status_code == 200 and "&lt;script&gt;" in page.text, path
        assert_escaped(page.text)
    admin = logged_in(app, "admin@example.com")
    for path in (
        "/admin/m/notes_note/",
        f"/admin/m/notes_note/{note_id}/",
        f"/admin/m/notes_note/{note_id}/edit",
        f"/admin/m/notes_note/{note_id}/delete",
        "/admin/m/profiles_profile/",
        "/admin/m/profiles_profile/2/",
    ):
        assert_escaped(admin.get(path).text)
    for query in ({"q": XSS}, {"author_id": XSS}, {"sort": XSS}, {"after": XSS}):
        assert_escaped(admin.get("/admin/m/notes_note/", query_string=query).text)


def test_input_echoed_in_forms_errors_and_messages_is_escaped(app: Flask) -> None:
    anonymous = csrf_client_for(app)
    for path, data in (
        ("/auth/register", {"email": XSS, "display_name": XSS, "password": "x", "confirm": "y"}),
        ("/auth/login", {"email": XSS, "password": XSS, "next": XSS}),
        ("/auth/reset", {"email": XSS}),
        ("/auth/confirm", {"email": XSS}),
    ):
        page = anonymous.post(path, data=data)
        assert page.status_code in (200, 400), (path, page.status_code)
        assert_escaped(page.text)
    assert_escaped(anonymous.get("/auth/login", query_string={"next": XSS}).text)
    ada = logged_in(app, "ada@example.com")
    assert_escaped(ada.post("/notes/new", data={"title": XSS * 10, "body": ""}).text)  # too long: the form again
    admin = logged_in(app, "admin@example.com")
    note_id = note_of(ada)
    page = admin.post(f"/admin/m/notes_note/{note_id}/edit", data={"title": "", "body": XSS, "author_id": XSS})
    assert_escaped(page.text)
    flashed = admin.post("/admin/m/notes_note/action", data={"action": XSS, "ids": [XSS]}, follow_redirects=True)
    assert_escaped(flashed.text)


def test_error_pages_do_not_echo_the_path_or_query_unescaped(app: Flask) -> None:
    ada = logged_in(app, "ada@example.com")
    for path in ("/<script>alert(1)</script>", "/notes/<img src=x onerror=alert(2)>", "/admin/m/<script>x</script>/"):
        assert_escaped(ada.get(path).text)
    assert_escaped(ada.get("/notes/", query_string={"after": XSS}).text)
    assert_escaped(app.test_client().post("/notes/new", data={"title": XSS}).text)  # the CSRF page


# -- open redirects ---------------------------------------------------------------------------------------------

OFFSITE = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "/%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/\t/evil.example",
    " //evil.example",
    "/%252F%252Fevil.example",
]


def assert_same_site(response: t.Any) -> None:
    location = response.headers.get("Location", "")
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert "evil.example" not in location.replace("/%2F", "").split("?", 1)[0] or location.startswith("/auth/login")


@pytest.mark.parametrize("target", OFFSITE)
def test_every_next_parameter_stays_on_the_site(app: Flask, target: str) -> None:
    client = csrf_client_for(app)
    login = client.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD, "next": target})
    assert login.status_code == 302 and login.headers["Location"] == "/", login.headers["Location"]
    from_query = client.post(
        "/auth/login", query_string={"next": target}, data={"email": "ada@example.com", "password": PASSWORD}
    )
    assert from_query.headers["Location"] == "/"
    admin = logged_in(app, "admin@example.com")
    action = admin.post("/admin/m/notes_note/action", data={"action": "delete", "ids": [], "next": target})
    assert action.status_code == 302 and action.headers["Location"].startswith("/admin/m/notes_note/")
    logout = client.post("/auth/logout", data={"next": target})
    assert logout.status_code == 302 and logout.headers["Location"] == "/"


def test_the_login_redirect_of_a_protected_page_keeps_only_the_path(app: Flask) -> None:
    response = app.test_client().get("/notes/", base_url="http://localhost", query_string={"after": "x"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")


# -- access control ---------------------------------------------------------------------------------------------


def admin_paths(app: Flask, note_id: int) -> list[tuple[str, str]]:
    values = {"slug": "notes_note", "ident": str(note_id)}
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                found.append((method, build_path(rule, values)))
    return found


def test_a_normal_user_reaches_no_admin_page(app: Flask) -> None:
    ada = logged_in(app, "ada@example.com")
    note_id = note_of(ada)
    anonymous = csrf_client_for(app)
    paths = admin_paths(app, note_id)
    assert len(paths) >= 12
    for method, path in paths:
        assert ada.open(path, method=method, data={"title": "x"}).status_code == 403, (method, path)
        response = anonymous.open(path, method=method)
        assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login"), path
    assert ada.get("/_forms/fk/notes_note/author_id?q=a").status_code == 403
    assert ada.get(f"/notes/{note_id}").status_code == 200  # the note is still there, unchanged
    assert "Mine" in ada.get(f"/notes/{note_id}").text


def test_one_user_cannot_delete_or_edit_what_is_anothers(app: Flask) -> None:
    ada = logged_in(app, "ada@example.com")
    bob = logged_in(app, "bob@example.com")
    note_id = note_of(ada)
    assert bob.post(f"/notes/{note_id}/delete").status_code == 403
    assert bob.post("/notes/999999999/delete").status_code == 404
    assert bob.post("/notes/99999999999999999999999/delete").status_code == 404
    assert bob.get("/profiles/2/edit").status_code == 403
    assert bob.post("/profiles/2/edit", data={"display_name": "pwned", "bio": ""}).status_code == 403
    assert "pwned" not in ada.get("/profiles/2").text
    assert ada.get(f"/notes/{note_id}").status_code == 200
    anonymous = csrf_client_for(app)
    for path in ("/notes/", f"/notes/{note_id}", "/notes/new", "/profiles/me", "/profiles/2/edit"):
        response = anonymous.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login"), path


# -- headers and cookies ----------------------------------------------------------------------------------------


def test_every_page_is_sent_with_protective_headers(app: Flask) -> None:
    ada = logged_in(app, "ada@example.com")
    admin = logged_in(app, "admin@example.com")
    anonymous = app.test_client()
    for client, path in (
        (anonymous, "/auth/login"),
        (anonymous, "/auth/register"),
        (ada, "/notes/"),
        (ada, "/profiles/2"),
        (ada, "/no-such-page"),
        (anonymous, "/static/plugins/admin/admin.css"),
        (admin, "/admin/"),
    ):
        response = client.get(path)
        response.close()  # a static file's response holds the file open
        headers = response.headers
        assert headers.get("X-Content-Type-Options") == "nosniff", path
        assert headers.get("X-Frame-Options") in ("DENY", "SAMEORIGIN") or "frame-ancestors 'none'" in headers.get(
            "Content-Security-Policy", ""
        ), path
        assert headers.get("Referrer-Policy") in ("no-referrer", "same-origin", "strict-origin-when-cross-origin")
    assert anonymous.get("/auth/login").headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in admin.get("/admin/").headers["Content-Security-Policy"]


def test_the_session_cookie_is_httponly_lax_and_secure_outside_debug(tmp_path: Path) -> None:
    # The demo's erlen.toml turns Secure off for plain HTTP on 127.0.0.1; production leaves it unset.
    app = notes_app.create_app(
        example_environ(tmp_path, ERLEN_SESSION_COOKIE_SECURE="true", ERLEN_REMEMBER_COOKIE_SECURE="true"),
        instance_path=str(tmp_path / "instance"),
    )
    app.test_cli_runner().invoke(args=["demo", "--no-serve"])
    cookie = app.test_client().get("/auth/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


# -- secrets ----------------------------------------------------------------------------------------------------


def test_no_secret_in_pages_json_logs_or_commands(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    environ = example_environ(
        tmp_path,
        # Nothing listens on port 9: every query fails, and its error must not show the password.
        ERLEN_DB_URL=f"postgresql+psycopg://notes:{DB_PASSWORD}@127.0.0.1:9/notes",
        ERLEN_MAIL_SMTP_PASSWORD=DB_PASSWORD + "-smtp",
    )
    app = notes_app.create_app(environ, instance_path=str(tmp_path / "instance"))
    secrets = (SECRET_KEY, DB_PASSWORD)
    runner = app.test_cli_runner()
    for args in (["check"], ["check", "--deploy"], ["plugins"], ["plugins", "--json"], ["db", "check"], ["db", "info"]):
        output = runner.invoke(args=args).output
        assert not [s for s in secrets if s in output], (args, output)
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    for path in ("/auth/login", "/profiles/1", "/notes/", "/no-such-page"):
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status_code < 500 or response.status_code == 503, path
        assert not [s for s in secrets if s in response.text], path
    assert client.post("/auth/login", data={"email": "a@b.c", "password": "x"}).status_code == 400
    assert caplog.text and not [s for s in secrets if s in caplog.text]


def test_no_password_hash_or_token_reaches_a_page(app: Flask) -> None:
    admin = logged_in(app, "admin@example.com")
    ada = logged_in(app, "ada@example.com")
    note_of(ada)
    pages = [admin.get(path).text for path in ("/admin/", "/admin/m/notes_note/", "/admin/m/notes_note/1/")]
    pages.append(admin.get("/admin/m/notes_note/export.csv").text)
    pages.append(admin.get("/_forms/fk/notes_note/author_id", query_string={"q": "a"}).text)
    pages += [ada.get(path).text for path in ("/notes/", "/notes/1", "/profiles/2", "/profiles/2/edit")]
    for page in pages:
        assert "$argon2" not in page and SECRET_KEY not in page


# -- malformed input --------------------------------------------------------------------------------------------

GARBAGE = [
    "",
    "\x00",
    "a" * 100_000,
    "%",
    "%ff%fe",
    "-1",
    "9" * 40,
    "1e309",
    "NaN",
    "[]",
    "{}",
    "\uff11\uff12",
    "'; --",
]
RAW_QUERIES = [
    "%ff=%fe",
    "a=%00",
    "after=%ff%00",
    "after=" + "A" * 3000,
    "q=%c3%28",
    "q=%00",
    "page=99999999999999999999",
    "sort=%ff&dir=x",
    "author_id=99999999999999999999999",
    "author_id=%ff",
    "next=%00",
    "limit=-1&q=%25",
]
FIELDS = ["title", "body", "email", "password", "confirm", "display_name", "bio", "next", "action", "ids"]
FIELDS += ["confirmed", "current", "q", "author_id", "created_at", "user_id", "remember"]


def fuzz_paths(app: Flask) -> list[tuple[t.Any, str]]:
    samples = [
        {"slug": "notes_note", "ident": "1", "note_id": 1, "user_id": 2, "table": "notes_note", "column": "author_id"},
        {"slug": "notes_note", "ident": "9" * 30, "note_id": 9 * 10**20, "user_id": 9 * 10**20, "token": "x" * 5000},
        {"slug": "profiles_profile", "ident": "\x00", "plugin": "admin", "filename": "../../etc/passwd"},
    ]
    found: dict[str, t.Any] = {}
    for rule in app.url_map.iter_rules():
        for values in samples:
            found[build_path(rule, {k: v for k, v in values.items() if k in rule.arguments})] = rule
    return [(rule, path) for path, rule in found.items()]


def test_garbage_in_query_strings_and_forms_is_never_a_500(app: Flask) -> None:
    ada = logged_in(app, "ada@example.com")
    note_of(ada)
    clients = {"anonymous": csrf_client_for(app), "user": ada, "admin": logged_in(app, "admin@example.com")}
    for rule, path in fuzz_paths(app):
        for who, client in clients.items():
            for query in RAW_QUERIES + [f"q={g}" for g in GARBAGE[:6]]:
                status = client.get(f"{path}?{query}").status_code
                assert status < 500, (who, path, query, status)
            if "POST" in (rule.methods or ()) and not path.endswith("/delete"):
                for garbage in GARBAGE:
                    status = client.post(path, data=dict.fromkeys(FIELDS, garbage)).status_code
                    assert status < 500, (who, path, garbage[:20], status)
                for body in (b"title=%ff%fe&body=%c3%28&email=%ff&next=%ff&ids=%ff&action=%ff", b"\xff\xfe\x00=\xff"):
                    status = client.post(path, data=body, content_type="application/x-www-form-urlencoded").status_code
                    assert status < 500, (who, path, body, status)
                for body in (b"{", b'{"title": 1e999999}', b"[]", b'"\\ud800"', b'{"a":' * 2000):
                    status = client.post(path, data=body, content_type="application/json").status_code
                    assert status < 500, (who, path, body[:20], status)


def test_garbage_headers_and_cookies_are_never_a_500(app: Flask) -> None:
    for headers in (
        {"Cookie": "session=%ff%fe; remember_token=%ff"},
        {"Cookie": "session=" + "A" * 5000},
        {"Cookie": "remember_token=1|" + "a" * 128},
        {"X-CSRF-Token": "%ff" * 10},
        {"Accept": "\x01", "Accept-Language": "%ff"},
        {"Content-Type": "multipart/form-data; boundary="},
    ):
        for path in ("/notes/", "/auth/login", "/admin/", "/notes/new"):
            assert app.test_client().get(path, headers=headers).status_code < 500, (headers, path)
            assert csrf_client_for(app).post(path, headers=headers, data="x").status_code < 500, (headers, path)
