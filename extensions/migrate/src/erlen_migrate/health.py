"""erlen-migrate's readiness check for erlen-ops' ``/readyz``: every enabled branch's migrations are applied.

An optional hook: erlen-migrate does not depend on erlen-ops.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping

from .errors import MigrationError

if t.TYPE_CHECKING:
    from flask import Flask


class PendingMigrationsError(MigrationError):
    """Some enabled plugin's migrations are not applied: run ``erlen db upgrade``."""


def readiness_checks(app: Flask) -> Mapping[str, Callable[[], Mapping[str, float]]]:
    """``migrations``: fails with :class:`PendingMigrationsError` while a revision is not applied."""

    def migrations() -> Mapping[str, float]:
        from .plugin import migrations_of

        found = migrations_of(app)
        scripts = found.scripts()
        with found.connect() as connection:
            statuses = found.status(connection, scripts)
        pending = {status.name: len(status.pending) for status in statuses if status.pending}
        if pending:
            raise PendingMigrationsError(
                "Revisions not applied: "
                + ", ".join(f"{name} ({count})" for name, count in pending.items())
                + "; run erlen db upgrade."
            )
        return {"pending": 0}

    return {"migrations": migrations}
