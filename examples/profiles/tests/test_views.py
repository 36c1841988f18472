"""The profile pages read without writing, and the first save of a profile survives concurrent saves."""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from flask import Flask

from erlen.testing import MakeApp
from erlen_auth.testing import FAST_HASHING, login_as, make_user
from erlen_db import count_queries, database_of
from erlen_db.testing import MakeDbApp
from erlen_forms.testing import csrf_client_for
from erlen_profiles.models import Profile

#: The plugins of the apps of these tests.
PLUGINS = ["forms", "auth", "profiles"]

#: Requests sent at once in the concurrency test: more than the app's pool would serve without waiting.
CONCURRENT = 8


def _profiles(app: Flask) -> list[tuple[int, str, str]]:
    with database_of(app).engine.connect() as connection:
        rows = connection.execute(sa.select(Profile.user_id, Profile.display_name, Profile.bio).order_by("user_id"))
        return [tuple(row) for row in rows]  # type: ignore[misc]


class _Commits:
    """Counts the transactions the engine of an app commits."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        self._engine = engine

    def __enter__(self) -> _Commits:
        sa.event.listen(self._engine, "commit", self._committed)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sa.event.remove(self._engine, "commit", self._committed)

    def _committed(self, connection: sa.Connection) -> None:
        self.count += 1


@pytest.fixture
def profiles_app(make_db_app: MakeDbApp) -> Flask:
    """An app with profiles on SQLite or PostgreSQL, its tables created."""
    return make_db_app(PLUGINS, FAST_HASHING, create_all=True)


@pytest.mark.parametrize("path", ["/profiles/{id}", "/profiles/{id}/edit"])
def test_viewing_a_profile_never_saved_writes_nothing(profiles_app: Flask, path: str) -> None:
    ada = make_user(profiles_app, "ada@example.com")  # made by a command: no profile row
    client = login_as(profiles_app.test_client(), ada)
    with count_queries(profiles_app) as queries, _Commits(database_of(profiles_app).engine) as commits:
        page = client.get(path.format(id=ada.id))
    assert page.status_code == 200, page.text
    assert "ada" in page.text  # the default display name, from the address
    writes = [s for s in queries.statements if not s.lstrip().upper().startswith("SELECT")]
    assert writes == [] and commits.count == 0, queries.report()
    assert _profiles(profiles_app) == []


def test_the_first_save_makes_the_row(profiles_app: Flask) -> None:
    ada = make_user(profiles_app, "ada@example.com")
    client = login_as(csrf_client_for(profiles_app), ada)
    response = client.post(f"/profiles/{ada.id}/edit", data={"display_name": "Ada", "bio": "Analyst"})
    assert response.status_code == 302, response.text
    assert _profiles(profiles_app) == [(ada.id, "Ada", "Analyst")]
    response = client.post(f"/profiles/{ada.id}/edit", data={"display_name": "Ada L.", "bio": ""})
    assert response.status_code == 302, response.text
    assert _profiles(profiles_app) == [(ada.id, "Ada L.", "")]


@pytest.fixture
def postgres_profiles_app(make_app: MakeApp, postgres_schema_url: str) -> Iterator[Flask]:
    """An app with profiles on a PostgreSQL schema of its own, whose pool serves every concurrent request."""
    app = make_app(
        ["db", *PLUGINS],
        {**FAST_HASHING, "DB_URL": postgres_schema_url, "DB_ENGINE_OPTIONS": {"pool_size": CONCURRENT}},
    )
    database_of(app).create_all()
    yield app
    database_of(app).dispose()


def test_a_save_racing_another_first_save_waits_for_it_and_wins(postgres_profiles_app: Flask) -> None:
    """Another transaction inserts the row first and commits while the request waits on it: no duplicate key."""
    app = postgres_profiles_app
    ada = make_user(app, "ada@example.com")
    client = login_as(csrf_client_for(app), ada)
    engine = database_of(app).engine
    with engine.connect() as other:
        other.execute(sa.insert(Profile).values(user_id=ada.id, display_name="first", bio=""))
        other_pid = other.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(client.post, f"/profiles/{ada.id}/edit", data={"display_name": "Ada", "bio": "B"})
            _wait_until_blocked_by(engine, other_pid, answer)
            other.commit()
            response = answer.result(timeout=60)
    assert response.status_code == 302, response.text
    assert _profiles(app) == [(ada.id, "Ada", "B")]


def _wait_until_blocked_by(engine: sa.Engine, pid: int, request: t.Any) -> None:
    """Return once a session of ``engine`` waits for a lock that the backend ``pid`` holds.

    :raises AssertionError: the request ended without waiting, or nothing waited within a minute.
    """
    waiting = sa.text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    for _ in range(600):
        if request.done():
            raise AssertionError(f"the request ended without waiting for the other insert: {request.result()}")
        with engine.connect() as connection:
            if connection.execute(waiting, {"pid": pid}).scalar_one():
                return
        threading.Event().wait(0.1)
    raise AssertionError("the request did not reach the insert within a minute")


def test_concurrent_first_views_and_saves_give_no_error_and_one_row(postgres_profiles_app: Flask) -> None:
    """Real threads, each a client with its own database session, hit one never-saved profile at once."""
    app = postgres_profiles_app
    users = [make_user(app, f"user{i}@example.com") for i in range(3)]
    editor = make_user(app, "editor@example.com", superuser=True)
    for user in users:
        statuses = _at_once(app, editor, user.id)
        assert sorted(set(statuses)) == [200, 302], statuses
    rows = _profiles(app)
    assert [row[0] for row in rows] == [user.id for user in users], rows
    assert all(row[1].startswith("name ") for row in rows), rows


def _at_once(app: Flask, editor: t.Any, user_id: int) -> list[int]:
    """The statuses of ``CONCURRENT`` requests sent at once by threads: views of a profile and saves of it."""
    clients = [login_as(csrf_client_for(app), editor) for _ in range(CONCURRENT)]
    start = threading.Barrier(CONCURRENT)

    def visit(index: int) -> int:
        start.wait(timeout=60)
        if index % 2:
            return clients[index].get(f"/profiles/{user_id}").status_code
        data = {"display_name": f"name {index}", "bio": ""}
        return clients[index].post(f"/profiles/{user_id}/edit", data=data).status_code

    with ThreadPoolExecutor(CONCURRENT) as pool:
        return list(pool.map(visit, range(CONCURRENT)))
