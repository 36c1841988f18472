"""A plugin whose account link leads to a view whose URL value a URL processor fills in (Flask's ``url_defaults``)."""

from __future__ import annotations

import typing as t

from flask import Blueprint

import erlen
from erlen_auth import AccountLink

PLUGIN = erlen.Plugin(name="shelf", requires=["auth"])

bp = Blueprint("shelf", __name__)


@bp.url_defaults
def add_language(endpoint: str, values: dict[str, t.Any]) -> None:
    """Every URL of the blueprint in the reader's language (English here), as Flask's URL processors pattern does."""
    values.setdefault("lang", "en")


@bp.get("/<lang>/reading")
def reading(lang: str) -> str:
    return f"reading list ({lang})"


@erlen.hookimpl
def erlen_auth_account_links() -> list[AccountLink]:
    return [AccountLink("Reading list", "shelf.reading")]


@erlen.hookimpl
def erlen_blueprints() -> list[t.Any]:
    return [(bp, {"url_prefix": "/shelf"})]
