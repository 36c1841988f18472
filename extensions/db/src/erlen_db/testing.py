"""The testing kit of ``erlen-db``, a pytest plugin loaded once erlen-db is installed.

Fixtures (all use the core's ``app`` fixture; set ``erlen_plugins`` and
``erlen_config`` to choose the app):

``db_session``
    Runs the test inside a transaction that is rolled back at its end, on
    SQLite and PostgreSQL alike. The app's tables are created inside it.
    Every session of the app during the test (in requests and app contexts)
    joins that transaction through a SAVEPOINT, so code that calls
    ``commit()`` only releases its SAVEPOINT and nothing persists.
    The fixture's value is a session for preparing data. At the end the
    engine's pooled connections are closed.
``count_queries``
    ``with count_queries() as counter: ...`` counts the statements the app's
    engine runs in the block.
``max_queries``
    ``with max_queries(2): client.get("/posts")`` fails, listing the
    statements, when the block runs more than two: catches N+1 queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from .database import database_of
from .isolation import rolled_back
from .queries import QueryCounter
from .queries import count_queries as _count_queries
from .queries import max_queries as _max_queries


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session inside a test transaction that is rolled back afterwards; see the module documentation."""
    try:
        with rolled_back(app) as session:
            yield session
    finally:
        database_of(app).dispose()


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], AbstractContextManager[QueryCounter]]:
    """A factory of query-counting blocks on ``app``'s engine."""
    return lambda: _count_queries(app)


@pytest.fixture
def max_queries(app: Flask) -> Callable[[int], AbstractContextManager[QueryCounter]]:
    """A factory of blocks that fail when they run more than the given number of queries."""
    return lambda limit: _max_queries(limit, app)


__all__: list[str] = ["count_queries", "db_session", "max_queries"]
