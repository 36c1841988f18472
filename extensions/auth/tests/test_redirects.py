from __future__ import annotations

import pytest
from flask import Flask

from erlen_auth import is_safe_redirect, safe_next

UNSAFE = [
    "//evil.example",
    "\\\\evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "https://evil.example",
    "http://evil.example/path",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "relative/path",
    "",
    " /leading-space",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\nLocation: https://evil.example",
    "/\x00/evil.example",
    "/\u200b/evil.example",
    "///evil.example",
    "/ok\\..\\evil",
    # URL-encoded forms
    "%2F%2Fevil.example",
    "/%2Fevil.example",
    "%2f%2fevil.example",
    "%5C%5Cevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "https%3A%2F%2Fevil.example",
    "javascript%3Aalert(1)",
    "%6A%61%76%61%73%63%72%69%70%74%3Aalert(1)",
    "/%09/evil.example",
    "/%0d%0aSet-Cookie:x=1",
    # encoded twice and three times
    "/%252Fevil.example",
    "%252F%252Fevil.example",
    "/%25255Cevil.example",
    "/%252525252Fevil.example",  # still encoded after four rounds
    "/" + "a" * 3000,
]

SAFE = [
    "/",
    "/account",
    "/account/settings?tab=2",
    "/search?q=a%20b",
    "/posts/42#comments",
    "/path/with:colon",
    "/caf%C3%A9",
]


@pytest.mark.parametrize("target", UNSAFE)
def test_unsafe_targets_are_refused(target: str) -> None:
    assert not is_safe_redirect(target)


@pytest.mark.parametrize("target", SAFE)
def test_paths_of_the_site_are_accepted(target: str) -> None:
    assert is_safe_redirect(target)


@pytest.mark.parametrize("target", [None, 42, b"/bytes"])
def test_non_strings_are_refused(target: object) -> None:
    assert not is_safe_redirect(target)


@pytest.mark.parametrize("target", ["//evil.example", "/%2Fevil.example", "https://evil.example"])
def test_safe_next_falls_back_to_the_default(target: str) -> None:
    app = Flask(__name__)
    with app.test_request_context("/", query_string={"next": target}):
        assert safe_next("/home") == "/home"
    with app.test_request_context("/", method="POST", data={"next": target}):
        assert safe_next("/home") == "/home"


def test_safe_next_returns_a_safe_target() -> None:
    app = Flask(__name__)
    with app.test_request_context("/", query_string={"next": "/account?tab=2"}):
        assert safe_next("/home") == "/account?tab=2"
    with app.test_request_context("/"):
        assert safe_next("/home") == "/home"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "\\\\evil.example",
        "/\\evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "/%5Cevil.example",
        "HtTpS://evil.example",
        "JaVaScRiPt:alert(1)",
        "%2f%2Fevil.example",
        "/%5c%5Cevil.example",
        "/%252F%252fevil.example",
    ],
)
def test_login_refuses_unsafe_next(client, create_user, target: str) -> None:
    from erlen_forms.testing import csrf_token_for

    create_user("ada@example.com")
    response = client.post(
        "/auth/login",
        query_string={"next": target},
        data={
            "email": "ada@example.com",
            "password": "correct horse battery staple",
            "csrf_token": csrf_token_for(client),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_follows_safe_next(client, create_user) -> None:
    from erlen_forms.testing import csrf_token_for

    create_user("ada@example.com")
    response = client.post(
        "/auth/login",
        data={
            "email": "ada@example.com",
            "password": "correct horse battery staple",
            "next": "/blog/private?x=1",
            "csrf_token": csrf_token_for(client),
        },
    )
    assert response.headers["Location"] == "/blog/private?x=1"


@pytest.mark.parametrize("target", ["//evil.example", "/%5Cevil.example", "HTTPS://evil.example"])
def test_logout_refuses_unsafe_next(client, create_user, target: str) -> None:
    from auth_helpers import log_in, post_form

    create_user("ada@example.com")
    log_in(client, "ada@example.com")
    response = post_form(client, "/auth/logout", {"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    log_in(client, "ada@example.com")
    assert post_form(client, "/auth/logout", {"next": "/bye"}).headers["Location"] == "/bye"
