"""The smallest Erlen app: Flask's hello world, plus a local plugin enabled in erlen.toml.

Run it with ``python -m erlen --app examples/hello/app.py run``.
"""

from __future__ import annotations

from flask import render_template

import erlen

app = erlen.create_app(__name__, config="erlen.toml")


@app.route("/")
def index() -> str:
    return render_template("index.html")


@app.route("/user/<username>")
def show_user_profile(username: str) -> str:
    return f"User: {username}"
