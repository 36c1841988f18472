"""A plugin whose only migration fails halfway, as a faulty release's would.

The production suite enables it (by this dotted path, ``production.failing_release``)
for one ``erlen db upgrade`` while the app serves its users: the migration
creates a table, adds a column to ``notes_note``, rewrites every note's
title and then inserts two rows with one key. The upgrade must fail and leave the
schema and the data as they were.
"""

from __future__ import annotations

import erlen

PLUGIN = erlen.Plugin(
    name="failing_release",
    requires=["db", "migrate", "notes"],
    description="The production suite's release whose migration fails halfway.",
)


@erlen.hookimpl
def erlen_migrate_locations() -> str:
    return "migrations"
