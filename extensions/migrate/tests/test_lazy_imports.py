"""Alembic is imported when migrations run or are checked, never by the plugin's start-up alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = """
import sys

import erlen
import erlen_migrate

app = erlen.create_app("lazy_app", config={{"PLUGINS": ["db", "migrate"], "DB_URL": {url!r}}})
with app.app_context():
    app.cli.main(args=["db", "--help"], prog_name="erlen", standalone_mode=False)
print("alembic after --help:", sorted(name for name in sys.modules if name.split(".")[0] == "alembic"))
{after}
"""


def run(tmp_path: Path, after: str = "") -> str:
    """Run :data:`SCRIPT` in a fresh interpreter (so no other test's imports count) and return its output."""
    url = f"sqlite:///{tmp_path / 'lazy.sqlite3'}"
    source = textwrap.dedent(SCRIPT).format(url=url, after=textwrap.dedent(after))
    done = subprocess.run(
        [sys.executable, "-c", source], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_start_up_and_help_do_not_import_alembic(tmp_path: Path) -> None:
    output = run(tmp_path)
    assert "alembic after --help: []" in output


@pytest.mark.parametrize(
    "use",
    [
        "erlen_migrate.migrations_of(app).scripts()",
        "erlen_migrate.BranchScripts",
        "erlen_migrate.Branch",
        "assert app.test_cli_runner().invoke(args=['db', 'upgrade']).exit_code == 0",
    ],
)
def test_alembic_is_imported_when_migrations_are_used(tmp_path: Path, use: str) -> None:
    output = run(tmp_path, f"{use}\nprint('alembic used:', 'alembic' in sys.modules)")
    assert "alembic used: True" in output
