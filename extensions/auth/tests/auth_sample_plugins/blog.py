"""A plugin that declares permissions, protects views, extends the registration form and records auth events."""

from __future__ import annotations

import typing as t

from flask import Blueprint, current_app, render_template_string
from wtforms import StringField
from wtforms.validators import DataRequired

import erlen
import erlen_forms
from erlen_auth import login_required, permission_required

PLUGIN = erlen.Plugin(name="blog", requires=["auth"])

bp = Blueprint("blog", __name__)


@bp.get("/publish")
@permission_required("blog.publish")
def publish() -> str:
    return "published"


@bp.get("/either")
@permission_required("blog.publish", "blog.moderate", any_of=True)
def either() -> str:
    return "either"


@bp.get("/private")
@login_required
def private() -> str:
    return "private"


@bp.get("/menu")
def menu() -> str:
    return render_template_string(
        "{% if current_user.can('blog.publish') %}[publish]{% endif %}"
        "{% if current_user.can('blog.moderate') %}[moderate]{% endif %}"
        "{% if current_user.is_authenticated %}[{{ current_user.email }}]{% else %}[anonymous]{% endif %}"
    )


@bp.get("/typo")
def typo() -> str:
    return render_template_string("{{ current_user.can('blog.publsh') }}")


def events() -> list[tuple[t.Any, ...]]:
    return t.cast(list[tuple[t.Any, ...]], current_app.extensions.setdefault("blog_events", []))


@erlen.hookimpl
def erlen_auth_permissions() -> dict[str, str]:
    return {"blog.publish": "Publish posts", "blog.moderate": "Delete comments"}


@erlen.hookimpl
def erlen_blueprints() -> list[t.Any]:
    return [(bp, {"url_prefix": "/blog"})]


@erlen.hookimpl
def erlen_forms_extend(form_id: str) -> erlen_forms.FormExtension | None:
    if form_id == "auth.register":
        return erlen_forms.FormExtension(fields={"nickname": StringField("Nickname", [DataRequired()])})
    return None


@erlen.hookimpl
def erlen_auth_user_registered(user: t.Any, form: t.Any) -> None:
    events().append(("registered", user.email, form.nickname.data))


@erlen.hookimpl
def erlen_auth_logged_in(user: t.Any, remember: bool) -> None:
    events().append(("logged_in", user.email, remember))


@erlen.hookimpl
def erlen_auth_logged_out(user: t.Any) -> None:
    events().append(("logged_out", user.email))


@erlen.hookimpl
def erlen_auth_login_failed(email: str, user: t.Any, reason: str) -> None:
    events().append(("login_failed", email, user.email if user is not None else None, reason))


@erlen.hookimpl
def erlen_auth_password_changed(user: t.Any, reason: str) -> None:
    events().append(("password_changed", user.email, reason))
