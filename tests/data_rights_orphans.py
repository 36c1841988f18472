"""A deliberately bad plugin for tests/test_data_rights.py: a table referring to users without ON DELETE CASCADE,
and no ``erlen_auth_user_delete`` to delete its rows. Deleting an account with rows here must fail cleanly."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="orphans", requires=["auth"])


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    # Defined on first use: a model defined at import would join the metadata of every app of the session.
    from data_rights_orphans_models import Bookmark

    return [Bookmark]
