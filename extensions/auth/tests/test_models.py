"""The email key that uniqueness and look-ups of accounts use."""

from __future__ import annotations

import pytest

from erlen_auth.models import email_key


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        (" Ada@Example.COM ", "ada@example.com"),
        ("\uff21\uff24\uff21@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", "ada@example.com"),  # full-width letters
        ("\u3000ada@example.com\u3000", "ada@example.com"),  # an ideographic space around it
        ("Jose\u0301@example.com", "jos\u00e9@example.com"),  # a decomposed accent
        ("\ufb01ona@example.com", "fiona@example.com"),  # a ligature
        ("\u212a@example.com", "k@example.com"),  # the Kelvin sign
    ],
)
def test_addresses_that_read_the_same_have_one_key(typed, key):
    assert email_key(typed) == key


@pytest.mark.parametrize(
    "typed", ["\uff21\uff24\uff21@example.com", "\u0130@example.com", "Jose\u0301@example.com", "STRASSE@x.de"]
)
def test_a_key_is_its_own_key(typed):
    assert email_key(email_key(typed)) == email_key(typed)


def test_addresses_that_differ_keep_different_keys():
    assert email_key("straße@example.de") != email_key("strasse@example.de")
    assert email_key("ada@example.com") != email_key("ada@example.org")
