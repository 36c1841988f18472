"""Erlen's example app: team notes.

The app is the plugins its configuration (``erlen.toml`` beside this file)
enables: the seven shipped extensions, the third-party plugin ``profiles`` and
the app's own plugin, :mod:`notes_app.notes`. This module only builds it and
adds the home page.

Run it with ``python -m erlen --app notes_app demo``: the ``demo`` command of
the notes plugin applies the migrations, creates a demo admin and serves the
app on http://127.0.0.1:5000/.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from flask import Flask, redirect, url_for

import erlen


def create_app(environ: Mapping[str, str] | None = None, **flask_options: t.Any) -> Flask:
    """Build the app from ``erlen.toml``, overridden by ``ERLEN_*`` environment variables.

    :param environ: the variables to read instead of ``os.environ`` (tests pass
        ``{"ERLEN_DB_URL": ...}``, say).
    :param flask_options: passed to :class:`flask.Flask`, such as ``instance_path``.
    """
    app = erlen.create_app(__name__, config="erlen.toml", environ=environ, **flask_options)

    @app.get("/")
    def index() -> t.Any:
        return redirect(url_for("notes.index"))

    return app
