"""A plugin whose view requires a permission nobody declares."""

from __future__ import annotations

import typing as t

from flask import Blueprint

import erlen
from erlen_auth import permission_required

PLUGIN = erlen.Plugin(name="typo", requires=["auth"])

bp = Blueprint("typo", __name__)


@bp.get("/x")
@permission_required("blog.publsh")
def view() -> str:
    return "x"


@erlen.hookimpl
def erlen_blueprints() -> list[t.Any]:
    return [bp]
