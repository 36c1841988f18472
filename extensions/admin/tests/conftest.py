"""The admin's test fixtures; under pytest-xdist, the browser tests' screenshot folders in the report."""

from __future__ import annotations

import sys
import typing as t
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from erlen_auth.testing import FAST_HASHING, login_as

sys.path.insert(0, str(Path(__file__).parent))

PLUGINS = ["db", "forms", "auth", "admin", "admin_sample.library", "admin_sample.extra_actions"]


@pytest.fixture
def erlen_plugins() -> list[str]:
    return list(PLUGINS)


@pytest.fixture
def erlen_config(database_url: str) -> dict[str, t.Any]:
    return {"DB_URL": database_url, **FAST_HASHING}


@pytest.fixture
def models() -> t.Any:
    from admin_sample import library

    return library


@pytest.fixture
def superuser(create_user: Callable[..., t.Any]) -> t.Any:
    return create_user("root@example.com", superuser=True)


@pytest.fixture
def admin_client(client: FlaskClient, superuser: t.Any) -> FlaskClient:
    """A client logged in as a superuser, sending a CSRF token with every POST."""
    from erlen_forms.testing import csrf_token_for

    login_as(client, superuser)
    token = csrf_token_for(client)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = token
    return client


@pytest.fixture
def books(db_session: t.Any, models: t.Any) -> list[t.Any]:
    """An author and 45 books."""
    author = models.Author(name="Ada")
    other = models.Author(name="Grace")
    db_session.add_all([author, other])
    db_session.flush()
    made = [
        models.Book(title=f"Book {index:02d}", pages=index * 10, author_id=(author if index % 2 else other).id)
        for index in range(1, 46)
    ]
    db_session.add_all(made)
    db_session.commit()
    return made


def app_of(client: FlaskClient) -> Flask:
    return client.application


def write_unless_locked(database: t.Any, table: sa.Table, where: t.Any, values: dict[str, t.Any] | None = None) -> bool:
    """Another user's save: update (``values``) or delete the rows of ``table`` matching ``where`` on a connection
    of its own, and commit; unless the request under test holds them: then nothing is written.

    It never waits, since the test's one thread runs that request too: ``FOR UPDATE NOWAIT`` on PostgreSQL, no
    busy timeout on SQLite (whose write lock covers the whole file).

    :param database: the app's erlen-db database.
    :param table: the table to write.
    :param where: the rows' condition.
    :param values: the new values; ``None`` deletes the rows.
    :returns: whether it wrote (``False``: the rows, or SQLite's file, were locked).
    """
    import erlen_db

    statement = sa.delete(table).where(where) if values is None else sa.update(table).where(where).values(values)
    with database.engine.connect() as other:
        if other.dialect.name != "sqlite":
            try:
                other.execute(sa.select(*table.primary_key.columns).where(where).with_for_update(nowait=True))
            except sa.exc.OperationalError:
                return False  # a real save would wait for the request's commit
            other.execute(statement)
            other.commit()
            return True
        driver = t.cast(t.Any, other.connection.dbapi_connection)
        (timeout,) = driver.execute("PRAGMA busy_timeout").fetchone()
        driver.execute("PRAGMA busy_timeout=0")
        try:
            other.execute(statement)
            other.commit()
        except sa.exc.OperationalError as exc:
            if not erlen_db.is_sqlite_lock(exc):
                raise
            other.rollback()
            return False  # a real save would wait for the request's commit (up to DB_SQLITE_BUSY_TIMEOUT)
        finally:
            driver.execute(f"PRAGMA busy_timeout={int(timeout)}")
        return True


#: The browser tests' screenshot folders of the pytest-xdist workers (tests/browser/conftest.py).
_WORKER_SCREENSHOT_DIRS = pytest.StashKey[list[str]]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: t.Any, error: object) -> None:
    """pytest-xdist's controller, which loads only this conftest: note a finished worker's screenshot folders."""
    folders = getattr(node, "workeroutput", {}).get("erlen_admin_screenshot_dirs", [])
    node.config.stash.setdefault(_WORKER_SCREENSHOT_DIRS, []).extend(folders)


def pytest_terminal_summary(terminalreporter: t.Any, exitstatus: int, config: pytest.Config) -> None:
    folders = dict.fromkeys(config.stash.get(_WORKER_SCREENSHOT_DIRS, []))
    if folders:
        terminalreporter.write_sep("-", "admin browser screenshots")
        for folder in folders:
            count = len(list(Path(folder).glob("*.png")))
            terminalreporter.write_line(f"{folder} ({count} screenshots)")
