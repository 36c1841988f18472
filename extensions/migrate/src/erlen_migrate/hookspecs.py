"""The hook specification of the ``migrate`` plugin, for plugins that own tables.

A plugin implements it like Erlen's core hooks, with :data:`erlen.hookimpl`;
mark it ``optionalhook=True`` so the plugin also loads when ``migrate`` is
not enabled.
"""

# The specifications are stubs: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import os

from erlen import hookspec


@hookspec
def erlen_migrate_locations() -> str | os.PathLike[str] | None:
    """Return the folder holding the plugin's migrations, or ``None``.

    The folder is the plugin's Alembic branch, labelled with the plugin's
    name. A relative path is relative to the folder of the plugin's module,
    so the usual answer is ``"migrations"`` (``<package>/migrations/``,
    shipped inside the plugin's package). ``erlen db revision --plugin NAME``
    writes new revision files there and creates the folder for the first
    one. Files whose names start with ``_`` are not revisions.

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_migrate_locations():
            return "migrations"

    The first revision of the branch carries ``branch_labels = ("<plugin>",)``
    and ``down_revision = None``; a revision that needs another plugin's
    tables (a foreign key to ``auth``'s users) lists that plugin's revision
    in ``depends_on``. ``erlen db revision --autogenerate`` fills in both.
    """
