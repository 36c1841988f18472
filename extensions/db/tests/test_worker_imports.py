"""What a worker imports of erlen-db depends on its database: an SQLite app's never runs psycopg's parts.

Polling pooled connections (:mod:`erlen_db.stale_connections`) and keeping prepared statements across
rollbacks (:mod:`erlen_db.prepared_statements`) serve a server's connections; an app on SQLite never runs
them in its whole life, so its workers do not import them. Nor does a worker of an app without erlen-ops
import erlen-db's readiness check (:mod:`erlen_db.health`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

#: The modules looked for in the worker.
MODULES = ["erlen_db.stale_connections", "erlen_db.prepared_statements", "erlen_db.lone_reads", "erlen_db.health"]

SCRIPT = """
import json, sys
import erlen, erlen_db
import sqlalchemy as sa

app = erlen.create_app("dbworker", {"PLUGINS": ["db"], "DB_URL": sys.argv[1]}, environ={})


@app.get("/")
def index():
    return str(erlen_db.session.scalar(sa.text("SELECT 41 + 1")))


pages = [app.test_client().get("/").text for _ in range(2)]
erlen.close_app(app)
print(json.dumps({"pages": pages, "modules": [name for name in sys.argv[2:] if name in sys.modules]}))
"""


def test_a_worker_imports_what_its_database_uses(database_url: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), database_url, *MODULES],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["pages"] == ["42", "42"]
    if database_url.startswith("sqlite"):
        assert seen["modules"] == ["erlen_db.lone_reads"]
    else:
        assert seen["modules"] == ["erlen_db.stale_connections", "erlen_db.prepared_statements", "erlen_db.lone_reads"]
