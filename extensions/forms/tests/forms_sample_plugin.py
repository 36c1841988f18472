"""A plugin for the tests: blueprints, app routes, an exempt API and an extension of another form."""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask, jsonify, request
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import DataRequired, Length

import erlen
import erlen_forms

PLUGIN = erlen.Plugin(name="sample", requires=["forms"], description="Routes and forms for the forms tests")


class ProfileForm(erlen_forms.Form):
    form_id = "sample.profile"
    name = StringField("Name", [DataRequired()])
    age = IntegerField("Age")


def _blueprints() -> tuple[Blueprint, Blueprint, Blueprint]:
    pages = Blueprint("pages", __name__)

    @pages.route("/profile", methods=["GET", "POST"])
    def profile() -> t.Any:
        form = ProfileForm()
        if form.validate_on_submit():
            return jsonify(form.data)
        return jsonify({"errors": form.errors}), (422 if form.is_submitted() else 200)

    @pages.route("/items/<int:item_id>", methods=["GET", "PUT", "PATCH", "DELETE"])
    def item(item_id: int) -> t.Any:
        return jsonify({"id": item_id, "method": request.method})

    @pages.route("/files/<path:name>", methods=["POST"])
    def upload(name: str) -> t.Any:
        return "stored " + name

    api = Blueprint("api", __name__)

    @api.post("/items")
    def create() -> t.Any:
        return jsonify({"created": True}), 201

    hooks = Blueprint("hooks", __name__)

    @hooks.post("/incoming")
    def incoming() -> t.Any:
        return "received"

    @hooks.post("/other")
    def other() -> t.Any:
        return "other"

    return pages, erlen_forms.csrf_exempt_blueprint(api, reason="authenticated by bearer token"), hooks


@erlen.hookimpl
def erlen_blueprints(app: Flask) -> t.Any:
    pages, api, hooks = _blueprints()
    return [pages, (api, {"url_prefix": "/api"}), (hooks, {"url_prefix": "/hooks"})]


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    @app.route("/app-post", methods=["POST"])
    def app_post() -> t.Any:
        return "posted"

    @app.route("/webhook", methods=["POST"])
    @erlen_forms.csrf_exempt(reason="signed by the payment provider")
    def webhook() -> t.Any:
        return "ok"


@erlen.hookimpl(optionalhook=True)
def erlen_forms_csrf_exempt() -> dict[str, str]:
    return {"hooks.incoming": "verified by an HMAC signature header"}


@erlen.hookimpl(optionalhook=True)
def erlen_forms_extend(form_id: str) -> t.Any:
    if form_id == "sample.profile":
        return erlen_forms.FormExtension(
            fields={"accept_terms": BooleanField("I accept the terms", [DataRequired()])},
            validators={"name": [Length(max=20)]},
        )
    return None
