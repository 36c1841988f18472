"""Names that both the plugin module and :mod:`erlen_db.database` need, in a module without SQLAlchemy.

The plugin module is imported by every process, ``erlen --help`` included, which
creates the app without importing SQLAlchemy (see :func:`erlen.defer_setup`).
"""

from __future__ import annotations

#: The key of ``app.extensions`` under which the :class:`~erlen_db.Database` lives.
EXTENSION_KEY = "db"
