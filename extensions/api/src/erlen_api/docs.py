"""The OpenAPI document at ``API_URL_PREFIX/openapi.json`` and Swagger UI at ``API_URL_PREFIX/docs``.

Swagger UI's files come from the ``flask-swagger-ui`` distribution, which
ships them (no CDN): the page works offline and under a strict
Content-Security-Policy (no inline script). This package's ``docs.js``
starts it without deep links (Swagger UI nests each operation's link in the
button that opens it), in the dark scheme when the system asks for one;
``docs.css`` darkens the colours Swagger UI draws below WCAG's contrast
(method badges, version stamps, links), in both schemes.
"""

from __future__ import annotations

import importlib.util
import json
import typing as t
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, send_from_directory, url_for
from markupsafe import Markup, escape

from .errorhandling import register_handlers
from .openapi import spec_of

#: The blueprint's name: endpoints ``erlen_api.spec`` and ``erlen_api.docs``.
BLUEPRINT_NAME = "erlen_api"

#: This package's own static files (the script starting Swagger UI).
STATIC_FOLDER = Path(__file__).parent / "static"


def swagger_ui_folder() -> Path:
    """The folder of Swagger UI's files, as the ``flask-swagger-ui`` distribution installs them."""
    found = importlib.util.find_spec("flask_swagger_ui")
    if found is None or found.origin is None:
        raise RuntimeError("Swagger UI's files are missing: install flask-swagger-ui (a dependency of erlen-api).")
    return Path(found.origin).parent / "dist"


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title}</title>
<link rel="stylesheet" href="{css}">
<link rel="stylesheet" href="{overrides}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}" data-csrf-token="{csrf_token}" data-csrf-header="{csrf_header}"></div>
<script src="{bundle}"></script>
<script src="{preset}"></script>
<script src="{init}"></script>
</body>
</html>
"""


def _csrf(app: Flask) -> tuple[str, str]:
    """A CSRF token for the page's requests, and the header to send it in; empty without erlen-forms.

    :param app: the current app.
    """
    import erlen

    if "forms" not in erlen.plugins_of(app) or not app.config.get("FORMS_CSRF_ENABLED", True):
        return "", ""
    from erlen_forms import csrf_token

    return csrf_token(), str((app.config.get("FORMS_CSRF_HEADERS") or ["X-CSRF-Token"])[0])


def spec() -> Response:
    """The OpenAPI document, as JSON."""
    app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    return Response(json.dumps(spec_of(app), indent=None), mimetype="application/json")


def docs() -> Response:
    """Swagger UI, reading the OpenAPI document."""
    app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    token, header = _csrf(app)

    def asset(name: str) -> str:
        return url_for(f"{BLUEPRINT_NAME}.asset", filename=name)

    page = _PAGE.format(
        title=escape(str(app.config.get("API_TITLE") or "API")),
        css=escape(asset("swagger-ui.css")),
        overrides=escape(url_for(f"{BLUEPRINT_NAME}.static_file", filename="docs.css")),
        spec=escape(url_for(f"{BLUEPRINT_NAME}.spec")),
        csrf_token=escape(token),
        csrf_header=escape(header),
        bundle=escape(asset("swagger-ui-bundle.js")),
        preset=escape(asset("swagger-ui-standalone-preset.js")),
        init=escape(url_for(f"{BLUEPRINT_NAME}.static_file", filename="docs.js")),
    )
    return Response(Markup(page), mimetype="text/html")


def asset(filename: str) -> Response:
    """A file of Swagger UI.

    :param filename: its name in the distribution's folder.
    """
    return send_from_directory(swagger_ui_folder(), filename)


def static_file(filename: str) -> Response:
    """A static file of this package.

    :param filename: its name.
    """
    return send_from_directory(STATIC_FOLDER, filename)


def docs_blueprint(app: Flask) -> Blueprint:
    """The blueprint serving the document and the docs; errors under it are problem documents too.

    :param app: the app; ``API_DOCS`` off serves neither.
    """
    blueprint = Blueprint(BLUEPRINT_NAME, __name__)
    register_handlers(blueprint)
    blueprint.add_url_rule("/openapi.json", "spec", spec)
    if app.config.get("API_DOCS", True):
        blueprint.add_url_rule("/docs", "docs", docs)
        blueprint.add_url_rule("/docs/assets/<path:filename>", "asset", asset)
        blueprint.add_url_rule("/docs/static/<path:filename>", "static_file", static_file)
    return blueprint
