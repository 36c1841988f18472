"""The plugin ``profiles``: the entry point ``profiles = "erlen_profiles.plugin"`` names this module.

Everything here is one of Erlen's public hooks, of the core or of an extension:

* ``erlen_settings``: ``PROFILES_SHOW_BIO``.
* ``erlen_db_models`` and ``erlen_migrate_locations``: the ``profiles_profile``
  table and its migrations branch, ``profiles``, which depends on the ``auth``
  branch (the table refers to ``auth_user``).
* ``erlen_forms_extend``: a display name field on the ``auth`` plugin's
  registration form; ``erlen_auth_user_registered`` stores it.
* ``erlen_auth_permissions``: ``profiles.edit_any``.
* ``erlen_blueprints``, ``erlen_template_folders``, ``erlen_template_globals``:
  the pages under ``/profiles`` and ``display_name(user)`` for every template.
* ``erlen_auth_user_export`` and ``erlen_auth_user_delete``: the user's
  profile in "Download my data", and deleted with the account.
* ``erlen_admin_views`` and ``erlen_admin_widgets``: the profiles in the admin,
  and the newest on its dashboard, when ``admin`` is enabled.
* ``erlen_api_resources``: the profiles as a REST resource, ``/api/v1/profiles``, when ``api`` is enabled.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping

from flask import Blueprint, Flask

import erlen
from erlen_db import unless_unavailable

PLUGIN = erlen.Plugin(
    name="profiles",
    requires=["db", "forms", "auth"],
    integrates_with=["migrate", "admin", "api"],
    description="Public profiles: a display name asked at registration, a bio, a profile page.",
    title="Member profiles",
)


@erlen.hookimpl
def erlen_settings() -> Iterable[erlen.Setting]:
    return [
        erlen.Setting("SHOW_BIO", bool, default=True, help="Show the bio on profile pages."),
    ]


@erlen.hookimpl
def erlen_db_models() -> Iterable[type[t.Any]]:
    from .models import MODELS

    return list(MODELS)


@erlen.hookimpl(optionalhook=True)
def erlen_migrate_locations() -> str:
    return "migrations"


@erlen.hookimpl
def erlen_forms_extend(form_id: str) -> t.Any:
    if form_id == "auth.register":
        from .forms import REGISTRATION_EXTENSION

        return REGISTRATION_EXTENSION
    return None


@erlen.hookimpl
def erlen_auth_user_registered(user: t.Any, form: t.Any) -> None:
    from erlen_db import session

    from .models import Profile, default_display_name

    display_name = getattr(form, "display_name", None)
    name = display_name.data if display_name is not None and display_name.data else default_display_name(user)
    session.add(Profile(user_id=user.id, display_name=name, bio=""))
    session.commit()


@erlen.hookimpl
def erlen_auth_user_export(user: t.Any) -> Mapping[str, t.Any]:
    """The user's profile for "Download my data" (nothing when they never saved one)."""
    from erlen_db import session

    from .models import Profile

    profile = session.get(Profile, user.id)
    if profile is None:
        return {}
    return {"profile": {"display_name": profile.display_name, "bio": profile.bio}}


@erlen.hookimpl
def erlen_auth_user_delete(user: t.Any) -> None:
    """Delete the user's profile with the account; the auth plugin commits the whole deletion (no commit here)."""
    import sqlalchemy as sa

    from erlen_db import session

    from .models import Profile

    session.execute(sa.delete(Profile).where(Profile.user_id == user.id))


@erlen.hookimpl
def erlen_auth_permissions() -> Mapping[str, str]:
    return {"profiles.edit_any": "Edit anyone's profile"}


@erlen.hookimpl
def erlen_blueprints(app: Flask) -> Iterable[tuple[Blueprint, Mapping[str, t.Any]]]:
    from .views import bp

    return [(bp, {"url_prefix": "/profiles"})]


@erlen.hookimpl
def erlen_template_folders() -> Iterable[str]:
    return ["templates"]


@erlen.hookimpl
def erlen_template_globals() -> Mapping[str, t.Any]:
    return {"display_name": display_name}


def _name_without_profile(user: t.Any) -> str:
    """The display name of a user without a profile: the address's local part (nothing for a bare id)."""
    from .models import default_display_name

    return "" if isinstance(user, int) else default_display_name(user)


# Layouts call it for the logged-in user, error pages included: once the database failed in the request,
# the 503 page shows the address's local part rather than trying the database again (and failing as a 500).
@unless_unavailable(_name_without_profile)
def display_name(user: t.Any) -> str:
    """The display name of ``user`` (a ``User`` or its id), for templates: ``{{ display_name(note.author) }}``."""
    from erlen_db import session

    from .models import Profile

    user_id = user if isinstance(user, int) else user.id
    profile = session.get(Profile, user_id)
    if profile is not None:
        return profile.display_name
    return _name_without_profile(user)


@erlen.hookimpl(optionalhook=True)
def erlen_admin_views() -> Iterable[t.Any]:
    from erlen_admin import ModelView

    from .models import Profile

    return [ModelView(Profile, list_columns=["display_name", "user_id"], search=["display_name"])]


def newest_profiles() -> str:
    """The admin dashboard's box of the newest profiles: one query, at most five rows."""
    import sqlalchemy as sa
    from flask import render_template

    from erlen_db import session

    from .models import Profile

    profiles = session.scalars(sa.select(Profile).order_by(Profile.user_id.desc()).limit(5))
    return render_template("profiles/admin_newest.html", profiles=list(profiles))


@erlen.hookimpl(optionalhook=True)
def erlen_admin_widgets() -> Iterable[t.Any]:
    from erlen_admin import Widget

    return [Widget("Newest profiles", newest_profiles, permission="admin.profiles_profile.view")]


@erlen.hookimpl(optionalhook=True)
def erlen_api_resources() -> Iterable[t.Any]:
    from .api import PROFILES

    return [PROFILES]
