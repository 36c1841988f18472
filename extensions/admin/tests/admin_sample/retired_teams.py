"""A sample plugin that narrows erlen-forms' foreign-key searches of teams too: a retired team is never suggested.

With the scoped sample's views, both narrow the same search: the admin's row scope and this plugin's rule.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

import erlen

PLUGIN = erlen.Plugin(name="retired_teams", requires=["forms", "admin", "scoped"])


# Called before the admin's narrowing, whose answer used to be dropped then: the first one decided.
@erlen.hookimpl(optionalhook=True, tryfirst=True)
def erlen_forms_fk_search_rows(
    table: sa.Table, column: sa.Column[t.Any], statement: sa.Select[t.Any]
) -> sa.Select[t.Any] | None:
    """Teams named ``retired`` are left out of every search of a foreign key to teams."""
    from admin_sample.scoped import Team

    (foreign_key,) = tuple(column.foreign_keys)
    if foreign_key.column.table is not Team.__table__:
        return None
    return statement.where(Team.name != "retired")
