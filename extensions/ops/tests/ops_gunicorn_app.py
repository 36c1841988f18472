"""The app the gunicorn test serves with two workers: ``/pid`` answers with the worker's process id."""

from __future__ import annotations

import os

import erlen

app = erlen.create_app(
    "ops_gunicorn_app",
    {
        "PLUGINS": ["ops_sample_plugin", "ops"],
        "SECRET_KEY": "a-secret-key-for-the-gunicorn-test-only-0123456789",
        "OPS_METRICS": True,
    },
)


@app.route("/pid")
def pid() -> str:
    return str(os.getpid())
