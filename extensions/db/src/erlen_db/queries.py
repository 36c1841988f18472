"""Counting the SQL queries a block runs, to catch N+1 regressions in tests."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .database import database_of

#: Transaction control, which a query count leaves out.
_TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@dataclass
class QueryCounter:
    """The SQL statements run inside a :func:`count_queries` block, transaction control left out."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many statements ran."""
        return len(self.statements)

    def __int__(self) -> int:
        return self.count

    def report(self) -> str:
        """The statements, numbered, one per line."""
        return "\n".join(f"{i}. {statement}" for i, statement in enumerate(self.statements, 1))


def _engine_of(target: Engine | Flask | None) -> Engine:
    if isinstance(target, Engine):
        return target
    return database_of(target).engine


@contextmanager
def count_queries(target: Engine | Flask | None = None) -> Iterator[QueryCounter]:
    """Count the statements run on an engine while the block runs.

    .. code-block:: python

        with count_queries(app) as counter:
            client.get("/posts")
        assert counter.count <= 2, counter.report()

    :param target: an engine, or an app whose engine to watch; the current app's by default.
    """
    engine = _engine_of(target)
    counter = QueryCounter()

    def before_cursor_execute(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        if not _TRANSACTION_CONTROL.match(statement):
            counter.statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


@contextmanager
def max_queries(limit: int, target: Engine | Flask | None = None) -> Iterator[QueryCounter]:
    """Fail with the statements listed when the block runs more than ``limit`` of them.

    :param limit: the most statements allowed.
    :param target: as for :func:`count_queries`.
    :raises AssertionError: the block ran more.
    """
    with count_queries(target) as counter:
        yield counter
    if counter.count > limit:
        raise AssertionError(f"Expected at most {limit} queries, {counter.count} ran:\n{counter.report()}")
