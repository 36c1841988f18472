"""The profiles as a REST resource of the ``api`` plugin: ``/api/v1/profiles``.

Anyone lists and reads profiles, as anyone sees the profile pages. A user
changes their own (``PATCH``), and whoever has ``profiles.edit_any`` anyone's;
another user's profile answers 404 to a change. Profiles are made at
registration, and deleted with their account: the API neither creates nor
deletes them.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from erlen_api import Resource, current_identity

from .models import Profile

#: The permission to edit anyone's profile (declared in :mod:`erlen_profiles.plugin`).
EDIT_ANY = "profiles.edit_any"


def editable(statement: sa.Select[t.Any], operation: str) -> sa.Select[t.Any]:
    """The profiles the caller may reach with ``operation``: all to read; their own to change, or all with the
    permission.

    :param statement: ``select(Profile)``.
    :param operation: ``list``, ``read`` or ``update``.
    """
    if operation in ("list", "read"):
        return statement
    identity = current_identity()
    if identity.can(EDIT_ANY):
        return statement
    return statement.where(Profile.user_id == getattr(identity.user, "id", None))


#: The resource ``profiles`` under ``/api/v1``.
PROFILES = Resource(
    Profile,
    name="profiles",
    operations=["list", "read", "update"],
    login_required=["update"],
    sorts=["display_name"],
    scope=editable,
    description="Public profiles: a display name and a bio.",
)
