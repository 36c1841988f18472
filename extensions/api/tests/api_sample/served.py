"""The sample API ``shapes`` as an app module, for the tests that serve it with a real HTTP server (gunicorn)."""

from __future__ import annotations

import erlen

from .shapes import api

app = erlen.create_app(__name__, {"PLUGINS": ["api"], "SECRET_KEY": "served-by-gunicorn-for-a-test-0123456789"})
app.register_blueprint(api)
