"""A plugin giving erlen-auth's users an admin view with the defaults, as an app's first admin view often does."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="accounts", requires=["admin", "auth"])


@erlen.hookimpl
def erlen_admin_views() -> list[t.Any]:
    from erlen_admin import ModelView
    from erlen_auth.models import User

    return [ModelView(User, slug="sample_users")]
