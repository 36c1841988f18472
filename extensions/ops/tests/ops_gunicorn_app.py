"""The app the gunicorn test serves with two workers: ``/pid`` answers with the worker's process id.

``/wait`` writes the worker's process id to ``$OPS_TEST_WAIT_DIR/started`` and answers once the test creates
``$OPS_TEST_WAIT_DIR/release`` (30 seconds at most): a request kept in flight.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

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


@app.route("/wait")
def wait() -> str:
    folder = Path(os.environ["OPS_TEST_WAIT_DIR"])
    (folder / "started").write_text(str(os.getpid()))
    deadline = time.monotonic() + 30
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released"
