from __future__ import annotations

import os
import sys
import typing as t
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import erlen_db
from erlen_auth.testing import FAST_HASHING, login_as

sys.path.insert(0, str(Path(__file__).parent))

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PLUGINS = ["db", "forms", "auth", "admin", "admin_sample.library", "admin_sample.extra_actions"]


def postgres_url() -> str:
    return os.environ.get("ERLEN_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def unavailable(message: str) -> t.NoReturn:
    if os.environ.get("ERLEN_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (ERLEN_REQUIRE_SERVICES=1: services are required)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url(), connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        unavailable(
            f"PostgreSQL not reachable at {erlen_db.redact_url(postgres_url())} ({type(exc).__name__}); "
            "set ERLEN_TEST_POSTGRES_URL"
        )
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema_url(postgres_engine: sa.Engine) -> Iterator[str]:
    schema = f"erlen_admin_test_{uuid.uuid4().hex[:12]}"
    with postgres_engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with postgres_engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return t.cast(str, request.getfixturevalue("postgres_schema_url"))


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
