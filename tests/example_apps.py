"""The example app (``examples/notes``) as the cross-package tests build it.

Each test gets the app on a database of its own, configured through ``ERLEN_*``
variables as a deployment is, with fast password hashing for the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flask import Flask

from erlen_auth.testing import FAST_HASHING

#: The command that prepares a new database: migrations, demo data and the demo admin.
DEMO = ("demo", "--no-serve")

#: The command that only applies the migrations.
UPGRADE = ("db", "upgrade")


def example_environ(tmp_path: Path, *, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The variables that point the example app at a database and mail folder of the test's own.

    :param tmp_path: the test's folder; the SQLite database (unless ``database_url``) and the mail go there.
    :param database_url: another database, such as a PostgreSQL schema of the test's own.
    :param extra: more variables, which win over these.
    """
    return {
        "ERLEN_DB_URL": database_url or f"sqlite:///{tmp_path / 'notes.sqlite3'}",
        "ERLEN_MAIL_FILE_PATH": str(tmp_path / "mail"),
        **{f"ERLEN_{key}": str(value) for key, value in FAST_HASHING.items()},
        **extra,
    }


def example_app(
    tmp_path: Path,
    *,
    database_url: str | None = None,
    command: Sequence[str] = DEMO,
    testing: bool = True,
    **extra: str,
) -> Flask:
    """The example app on a database of the test's own, prepared by ``command``.

    :param tmp_path: the test's folder (database, mail, instance folder).
    :param database_url: another database than a new SQLite file.
    :param command: the CLI command run first (:data:`DEMO` or :data:`UPGRADE`); it must succeed.
    :param testing: ``TESTING`` on, so that an exception fails the test with its traceback rather than a 500.
    :param extra: more ``ERLEN_*`` variables.
    """
    import notes_app

    app = notes_app.create_app(
        example_environ(tmp_path, database_url=database_url, **extra), instance_path=str(tmp_path / "instance")
    )
    app.config["TESTING"] = testing
    result = app.test_cli_runner().invoke(args=list(command))
    assert result.exit_code == 0, result.output
    return app
