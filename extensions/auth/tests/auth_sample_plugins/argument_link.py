"""A plugin whose account link leads to a view that needs a value in its URL (``/people/<int:person>``)."""

from __future__ import annotations

import typing as t

from flask import Blueprint

import erlen
from erlen_auth import AccountLink

PLUGIN = erlen.Plugin(name="people", requires=["auth"])

bp = Blueprint("people", __name__)


@bp.get("/<int:person>")
def profile(person: int) -> str:
    return f"person {person}"


@erlen.hookimpl
def erlen_auth_account_links() -> list[AccountLink]:
    return [AccountLink("Your profile", "people.profile")]


@erlen.hookimpl
def erlen_blueprints() -> list[t.Any]:
    return [(bp, {"url_prefix": "/people"})]
