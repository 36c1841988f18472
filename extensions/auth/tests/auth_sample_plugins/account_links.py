"""A plugin adding links to the account menu: one for every signed-in user, two for users a permission lets in."""

from __future__ import annotations

import typing as t

from flask import Blueprint, abort

import erlen
from erlen_auth import AccountLink, login_required, permission_required

PLUGIN = erlen.Plugin(name="forum", requires=["auth"])

bp = Blueprint("forum", __name__)


@bp.get("/mine")
@login_required
def mine() -> str:
    return "your posts"


@bp.get("/moderation")
@permission_required("forum.moderate")
def moderation() -> str:
    return "moderation"


@bp.get("/reports")
@permission_required("forum.reports")
def reports() -> str:
    return "reports"


@bp.get("/broken")
@login_required
def broken() -> str:
    abort(500)


@erlen.hookimpl
def erlen_auth_permissions() -> dict[str, str]:
    return {"forum.moderate": "Moderate the forum", "forum.reports": "Read the forum's reports"}


@erlen.hookimpl
def erlen_auth_account_links() -> list[AccountLink]:
    return [
        AccountLink("Your posts", "forum.mine"),
        AccountLink("Moderation", "forum.moderation", permission="forum.moderate"),
        AccountLink("Reports", "forum.reports", permission="forum.reports"),
    ]


@erlen.hookimpl
def erlen_blueprints() -> list[t.Any]:
    return [(bp, {"url_prefix": "/forum"})]
