"""What a worker of a core-only app never imports: the system checks and gunicorn's logging configuration.

``erlen check`` alone runs the checks (:mod:`erlen.checks`, and every plugin's ``erlen_checks``);
gunicorn's configuration file, not the app, calls :func:`erlen.gunicorn_logconfig`. Both stay importable
from ``erlen`` (imported on first use), and work once used.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

#: The modules no worker runs.
UNUSED_BY_A_WORKER = ["erlen.checks", "erlen.gunicorn_logs"]

SCRIPT = """
import json, sys
import erlen

app = erlen.create_app("worker", {"SECRET_KEY": "short"}, environ={})


@app.get("/")
def index():
    return "hello"


page = app.test_client().get("/").text
created = [name for name in sys.argv[1:] if name in sys.modules]
result = app.test_cli_runner().invoke(args=["check", "--deploy"])
config = erlen.gunicorn_logconfig()
print(json.dumps({
    "page": page,
    "created": created,
    "check": [result.exit_code, "erlen.E002" in result.output],
    "names": [erlen.CheckMessage.__module__, erlen.Level.ERROR.name, erlen.gunicorn_logconfig.__module__],
    "gunicorn": sorted(config["loggers"]),
    "used": [name for name in sys.argv[1:] if name in sys.modules],
}))
"""


def test_a_worker_imports_neither_the_checks_nor_gunicorns_logging(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), *UNUSED_BY_A_WORKER],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["page"] == "hello"
    assert seen["created"] == []
    # Once used: `erlen check` runs the checks (a weak key is an error), the names are the modules' own.
    assert seen["check"] == [1, True]
    assert seen["names"] == ["erlen.checks", "ERROR", "erlen.gunicorn_logs"]
    assert seen["gunicorn"] == ["gunicorn.access", "gunicorn.error"]
    assert seen["used"] == UNUSED_BY_A_WORKER
