"""A plugin whose account link leads to a view that answers only POST (a form's action, not a page)."""

from __future__ import annotations

import typing as t

from flask import Blueprint

import erlen
from erlen_auth import AccountLink

PLUGIN = erlen.Plugin(name="drafts", requires=["auth"])

bp = Blueprint("drafts", __name__)


@bp.post("/new")
def new() -> str:
    return "a draft was made"


@erlen.hookimpl
def erlen_auth_account_links() -> list[AccountLink]:
    return [AccountLink("New draft", "drafts.new")]


@erlen.hookimpl
def erlen_blueprints() -> list[t.Any]:
    return [(bp, {"url_prefix": "/drafts"})]
