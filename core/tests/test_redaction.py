"""Secrets kept out of text: URL passwords, announced credentials, secret values and secret-named fields."""

from __future__ import annotations

import pytest

from erlen.redaction import MASK, is_secret_name, redact_fields, redact_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgresql+psycopg://u:p@ss:w@rd@h:5432/db up", "postgresql+psycopg://u:***@h:5432/db up"),
        ("redis://:secret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        (
            "postgresql://h/db?user=u&password=pw&sslmode=require",
            "postgresql://h/db?user=u&password=***&sslmode=require",
        ),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer ***"),
        ("authorization=Basic dXNlcjpwdw==", "authorization=Basic ***"),
        ("Proxy-Authorization: Token xyz", "Proxy-Authorization: Token ***"),
        ("Cookie: session=abc; remember=xyz", "Cookie: ***"),
        ("Set-Cookie: session=abc; HttpOnly\nnext line", "Set-Cookie: ***\nnext line"),
        ("password=hunter22 user=ann", "password=*** user=ann"),
        ('{"new_password": "hunter22", "name": "ann"}', '{"new_password": "***", "name": "ann"}'),
        ("client_secret: s3cr3t, id: 4", "client_secret: ***, id: 4"),
        ("GET /confirm?token=abc123&x=1", "GET /confirm?token=***&x=1"),
        ("api_key=k-123", "api_key=***"),
        ("3 tokens: left", "3 tokens: left"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_secret_values_are_hidden_wherever_they_occur() -> None:
    assert redact_text("key is abcdefgh1234 (abcdefgh1234)", ["abcdefgh1234"]) == f"key is {MASK} ({MASK})"


@pytest.mark.parametrize(
    "name", ["password", "password_hash", "api_token", "Cookie", "Authorization", "client_secret", "api_key", "api-key"]
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["user", "keyword", "monkey", "email", "event"])
def test_plain_names(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_fields_goes_into_mappings_and_lists() -> None:
    fields = {
        "headers": {"Authorization": "Bearer x", "Accept": "*/*"},
        "urls": ["postgresql://u:pw@h/db"],
        "password": "",
        "count": 2,
    }
    assert redact_fields(fields) == {
        "headers": {"Authorization": MASK, "Accept": "*/*"},
        "urls": ["postgresql://u:***@h/db"],
        "password": "",
        "count": 2,
    }
