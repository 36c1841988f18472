"""A sample plugin registering more admin views of the scoped sample's teams, listed before its own scoped one:
"All teams", unscoped, and "Partner teams", scoped to the blue team (for everyone but superusers), each for those
given its own permission. A table with several views, some scoped.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

import erlen

PLUGIN = erlen.Plugin(name="all_teams", requires=["db", "admin"])


def partner_team(statement: sa.Select[t.Any], user: t.Any) -> sa.Select[t.Any]:
    """The blue team; every team for a superuser."""
    from admin_sample.scoped import Team

    return statement if user.is_superuser else statement.where(Team.name == "blue")


@erlen.hookimpl
def erlen_admin_views() -> list[t.Any]:
    from admin_sample.scoped import Team
    from erlen_admin import ModelView

    return [
        ModelView(Team, name="Team", plural="All teams", slug="all_teams", list_columns=["id", "name"]),
        ModelView(Team, name="Team", plural="Partner teams", slug="partner_teams", scope=partner_team),
    ]
