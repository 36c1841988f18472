"""erlen-db's readiness check for erlen-ops' ``/readyz``: the database answers.

An optional hook: erlen-db does not depend on erlen-ops, and the check is
only called when the ``ops`` plugin is enabled.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping

if t.TYPE_CHECKING:
    from flask import Flask


def readiness_checks(app: Flask) -> Mapping[str, Callable[[], None]]:
    """``database``: a ``SELECT 1`` on a connection of the app's pool.

    :param app: the app whose database is checked.
    """
    # Imported when erlen-ops collects the checks, not when this module is imported.
    import sqlalchemy as sa

    from .database import database_of

    def database() -> None:
        with database_of(app).engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    return {"database": database}
