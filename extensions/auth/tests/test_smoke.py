from __future__ import annotations

from erlen_forms.testing import csrf_token_for


def test_login_page(client, db_session):
    response = client.get("/auth/login")
    assert response.status_code == 200, response.text
    assert "Log in" in response.text


def test_login_flow(client, create_user):
    create_user("ada@example.com")
    token = csrf_token_for(client)
    response = client.post(
        "/auth/login",
        data={"email": "ADA@example.com", "password": "correct horse battery staple", "csrf_token": token},
    )
    assert response.status_code == 302, response.text
