"""A plugin returning one model view where erlen_admin_views expects a list of them."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="loneview", requires=["admin", "library"])


@erlen.hookimpl
def erlen_admin_views() -> t.Any:
    from admin_sample.library import Author
    from erlen_admin import ModelView

    return ModelView(Author, slug="lone_author")
