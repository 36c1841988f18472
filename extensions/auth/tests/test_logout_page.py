"""GET /auth/logout: a page that asks, whose button logs out; never a log-out by itself, never a 405.

Only a POST with its CSRF token logs out (a GET that did would let any site log its visitors out with an
``<img src=/auth/logout>``); a person who types, bookmarks or follows a link to the address gets the question.
"""

from __future__ import annotations

import typing as t
from html.parser import HTMLParser

import pytest
from auth_helpers import is_logged_in, log_in
from flask import abort
from flask.testing import FlaskClient

from erlen_auth.models import User


class _Form:
    """A ``<form>`` of a page: its method, its action and the values of its ``<input>`` elements."""

    def __init__(self, method: str, action: str) -> None:
        self.method = method
        self.action = action
        self.fields: dict[str, str] = {}
        self.buttons: list[str] = []


class _FormReader(HTMLParser):
    """Collects a page's forms with their inputs and button labels, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._open: _Form | None = None
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._open = _Form(values.get("method", "get").lower(), values.get("action", ""))
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and "name" in values:
            self._open.fields[values["name"]] = values.get("value", "")
        elif tag == "button" and self._open is not None:
            self._in_button = True
            self._open.buttons.append("")

    def handle_data(self, data: str) -> None:
        if self._in_button and self._open is not None:
            self._open.buttons[-1] += data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False
        elif tag == "form":
            self._open = None


def _logout_form(page_html: str) -> _Form:
    """The page's form that logs out (the one of the page, not the account menu's in the header).

    :param page_html: the page as served.
    """
    in_main = _FormReader()
    in_main.feed(page_html[page_html.index("<main") :])
    forms = [form for form in in_main.forms if form.action == "/auth/logout"]
    assert len(forms) == 1, f"one log-out form in the page's main part, found {len(forms)}"
    return forms[0]


@pytest.fixture
def ada(client: FlaskClient, create_user: t.Callable[..., User]) -> FlaskClient:
    """The test client, logged in as ada@example.com."""
    create_user("ada@example.com")
    assert log_in(client, "ada@example.com").status_code == 302
    return client


def test_a_get_asks_with_a_form_that_posts_the_csrf_token_and_does_not_log_out(ada: FlaskClient) -> None:
    page = ada.get("/auth/logout")
    assert page.status_code == 200
    assert "<title>Log out" in page.text and "<h1>Log out?</h1>" in page.text
    assert 'id="erlen-account-menu"' in page.text  # the one layout, with the header of a logged-in user
    form = _logout_form(page.text)
    assert form.method == "post"
    assert form.buttons == ["Log out"]
    assert form.fields.get("csrf_token"), "the form carries a CSRF token"
    assert "next" not in form.fields
    assert 'class="erlen-button erlen-button-secondary" href="/">Stay logged in</a>' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    # Asking changed nothing: the next request is still logged in, and the page asks again.
    assert is_logged_in(ada)
    assert ada.get("/auth/logout").status_code == 200


def test_head_follows_get_and_does_not_log_out(ada: FlaskClient) -> None:
    response = ada.head("/auth/logout")
    assert response.status_code == 200 and response.data == b""
    assert is_logged_in(ada)


def test_a_get_carrying_a_csrf_token_still_does_not_log_out(ada: FlaskClient) -> None:
    token = _logout_form(ada.get("/auth/logout").text).fields["csrf_token"]
    assert ada.get("/auth/logout", query_string={"csrf_token": token}).status_code == 200
    assert is_logged_in(ada)


def test_the_pages_button_logs_out(ada: FlaskClient) -> None:
    form = _logout_form(ada.get("/auth/logout").text)
    response = ada.post(form.action, data=form.fields)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert not is_logged_in(ada)


def test_a_post_without_the_token_is_still_refused(ada: FlaskClient) -> None:
    ada.get("/auth/logout")
    assert ada.post("/auth/logout").status_code == 400
    assert is_logged_in(ada)


def test_the_page_carries_a_next_of_this_site_to_the_button(ada: FlaskClient) -> None:
    form = _logout_form(ada.get("/auth/logout", query_string={"next": "/bye?from=menu"}).text)
    assert form.fields["next"] == "/bye?from=menu"
    response = ada.post(form.action, data=form.fields)
    assert response.headers["Location"] == "/bye?from=menu"


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/%5Cevil.example", "javascript:x"])
def test_the_page_drops_a_next_to_another_site(ada: FlaskClient, target: str) -> None:
    page = ada.get("/auth/logout", query_string={"next": target})
    assert page.status_code == 200
    assert "evil.example" not in page.text and "javascript:" not in page.text
    form = _logout_form(page.text)
    assert "next" not in form.fields
    assert ada.post(form.action, data=form.fields).headers["Location"] == "/"


def test_the_page_has_one_log_out_button_the_account_menu_leaves_its_own_out(ada: FlaskClient) -> None:
    # Found by walking the example app: the header's account menu showed a second "Log out" button on the page
    # asking "Log out?". The menu stays (its other links), without its log-out form on this one page.
    page = ada.get("/auth/logout").text
    every_form = _FormReader()
    every_form.feed(page)
    assert [form.action for form in every_form.forms if form.action == "/auth/logout"] == ["/auth/logout"]
    assert [label for form in every_form.forms for label in form.buttons if label == "Log out"] == ["Log out"]
    header = page.split("<main", 1)[0]
    assert 'id="erlen-account-menu"' in header and 'href="/auth/sessions"' in header
    assert '<form method="post" action="/auth/logout">' in ada.get("/auth/sessions").text.split("<main", 1)[0]


def test_an_error_page_of_the_log_out_address_keeps_the_menus_button(
    ada: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page that asks failed (here: a 503 instead of it), so the menu's button is the only way to log out.
    monkeypatch.setattr("erlen_auth.views.render_template", lambda *args, **kwargs: abort(503))
    failed = ada.get("/auth/logout")
    assert failed.status_code == 503 and 'id="erlen-account-menu"' in failed.text
    assert '<form method="post" action="/auth/logout">' in failed.text.split("<main", 1)[0]


def test_an_anonymous_get_goes_where_logging_out_leads_without_an_error(client: FlaskClient) -> None:
    response = client.get("/auth/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    landed = client.get("/auth/logout", query_string={"next": "/auth/login"}, follow_redirects=True)
    assert landed.status_code == 200 and landed.request.path == "/auth/login"
    assert client.get("/auth/logout", query_string={"next": "//evil.example"}).headers["Location"] == "/"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_an_anonymous_get_gives_no_session_cookie(client: FlaskClient, method: str) -> None:
    # Found by walking the example app: the answer flashed "You are logged out.", and storing the message
    # gave a session cookie to a visitor who had none. Where it leads, the header's "Log in" says enough.
    response = client.open("/auth/logout", method=method, query_string={"next": "/auth/login"})
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert "Set-Cookie" not in response.headers
    assert client.get_cookie("session") is None
    landed = client.get("/auth/login")
    assert "You are logged out." not in landed.text


def test_an_anonymous_get_follows_the_logout_redirect_setting(auth_app: t.Any, db_session_for: t.Any) -> None:
    app = auth_app(config={"AUTH_LOGOUT_REDIRECT": "/goodbye"})
    db_session_for(app)
    assert app.test_client().get("/auth/logout").headers["Location"] == "/goodbye"
