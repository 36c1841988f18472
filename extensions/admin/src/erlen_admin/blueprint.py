"""The admin's blueprint: its routes, registered when the app is created, and their views, imported on first use.

Every route needs ``admin.access`` (anonymous users are sent to log in, others
get 403), then the model's permission for the operation. Unknown models and
objects are 404. Every change is a POST, which erlen-forms checks for CSRF.

The view functions live in :mod:`erlen_admin.routes` (and
:mod:`erlen_admin.object_routes`), which bring the list, export, filter and
refusal machinery: some 200 KiB that a worker answering only the site's own
pages never needs. The blueprint registers every rule with its endpoint when the
app is created, so ``url_for("admin.list", slug=...)`` works from the first
request, and each rule's view imports its module when it is first called.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask, Response, current_app
from flask_login import current_user

import erlen

from . import denied

#: Each rule of the blueprint: its path, endpoint, the view's module and function, and methods.
RULES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("/", "index", "routes", "index", ("GET",)),
    ("/m/<slug>/", "list", "routes", "list_view", ("GET",)),
    ("/m/<slug>/export.csv", "export", "routes", "export_view", ("GET",)),
    ("/m/<slug>/new", "create", "routes", "create_view", ("GET", "POST")),
    ("/m/<slug>/action", "action", "routes", "action_view", ("POST",)),
    ("/m/<slug>/<ident>/", "detail", "routes", "detail_view", ("GET",)),
    ("/m/<slug>/<ident>/edit", "edit", "routes", "edit_view", ("GET", "POST")),
    ("/m/<slug>/<ident>/delete", "delete", "routes", "delete_view", ("GET", "POST")),
    ("/m/<slug>/<ident>/do/<name>", "object_action", "object_routes", "object_action_view", ("POST",)),
    ("/p/<slug>", "page", "routes", "page_view", ("GET", "POST")),
)


def make_blueprint(app: Flask) -> Blueprint:
    """The admin blueprint (endpoints ``admin.*``).

    :param app: the app it is made for (its rules are the same for every app).
    """
    bp = Blueprint("admin", __name__)
    bp.before_request(_check_access)
    bp.after_request(_secure_headers)
    for rule, endpoint, module, function, methods in RULES:
        bp.add_url_rule(rule, endpoint, erlen.lazy_view(f"{__package__}.{module}:{function}"), methods=list(methods))
    return bp


def _check_access() -> t.Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if not current_user.can(denied.ACCESS):
        denied.refuse(denied.ACCESS)
    return None


def _secure_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response
