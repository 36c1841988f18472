"""The auth pages in Erlen's layout: the account menu in the header, and a message after log-out."""

from __future__ import annotations

from auth_helpers import log_in, post_form


def test_anonymous_visitors_get_log_in_links_in_the_header(app) -> None:
    page = app.test_client().get("/auth/register").text
    assert "/static/plugins/erlen/erlen.css" in page and '<main id="main" class="erlen-main erlen-auth"' in page
    header = page.split("<main", 1)[0]
    assert 'href="/auth/login">Log in</a>' in header


def test_the_account_menu_links_the_account_pages_and_logs_out(app, create_user) -> None:
    create_user("ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com")
    header = client.get("/auth/security").text.split("<main", 1)[0]
    assert "Logged in as <strong>ada@example.com</strong>" in header  # as the menu's "Log out" says it
    for link in ("/auth/security", "/auth/password", "/auth/sessions"):
        assert f'href="{link}"' in header
    assert '<form method="post" action="/auth/logout">' in header and ">Log out</button>" in header


def test_after_logging_out_a_message_says_so(app, create_user) -> None:
    create_user("ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com")
    assert post_form(client, "/auth/logout").status_code == 302
    assert "You are logged out." in client.get("/auth/login").text


def test_the_account_pages_lead_back_to_the_security_page(app, create_user) -> None:
    # Found by walking the example app: the email, token and recovery code pages had "Back to security", the
    # password and sessions pages (both in the account menu) had no way back.
    create_user("ada@example.com")
    client = app.test_client()
    log_in(client, "ada@example.com")
    for page in ("/auth/password", "/auth/sessions"):
        main = client.get(page).text.split("<main", 1)[1]
        assert '<a href="/auth/security">Back to security</a>' in main, page
