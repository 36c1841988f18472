"""The migrations lock of an SQLite file: what PostgreSQL's advisory lock is to a server.

Two processes that run ``erlen db upgrade`` on one SQLite file at once (two
workers of one host starting together) would both plan the same revisions:
each revision runs in a transaction of its own, so the second process meets
the first one's write lock ("database is locked") or, once it is released,
the tables it made ("already exists"). An exclusive ``flock`` on a file beside
the database makes the second process wait for the first, then find the work
done, as on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

try:  # POSIX only; where it is missing (Windows) SQLite files are migrated without the lock.
    import fcntl
except ImportError:  # pragma: no cover - POSIX test runs
    fcntl = None  # type: ignore[assignment]

#: Appended to the database file's name for the lock file, as SQLite appends ``-wal`` and ``-shm``.
LOCK_SUFFIX = "-migrate.lock"


def lock_path(url: sa.URL) -> Path | None:
    """The lock file of the SQLite database at ``url``, or ``None`` for an in-memory database.

    :param url: the database URL (``sqlite:///path``, or ``sqlite:///file:path?uri=true``).
    """
    database = url.database or ""
    if url.query.get("uri") == "true" and database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
        if url.query.get("mode") == "memory":
            return None
    if database in ("", ":memory:"):
        return None
    return Path(database + LOCK_SUFFIX)


@contextmanager
def sqlite_migrations_lock(url: sa.URL, echo: Callable[[str], None]) -> Iterator[None]:
    """Hold the migrations lock of the SQLite file at ``url`` while the block runs.

    :param url: the database URL.
    :param echo: where to say that another process holds the lock (before waiting for it).
    """
    path = lock_path(url)
    if path is None or fcntl is None:
        yield
        return
    # The lock file stays: removing it while another process waits on it would let a third lock a new file.
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo("Another process is running migrations on this database file; waiting for it to finish...")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


__all__ = ["LOCK_SUFFIX", "lock_path", "sqlite_migrations_lock"]
