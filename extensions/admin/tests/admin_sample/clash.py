"""A plugin registering a model view whose slug another plugin already uses."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="clash", requires=["admin", "library"])


@erlen.hookimpl
def erlen_admin_views() -> list[t.Any]:
    from admin_sample.library import Author
    from erlen_admin import ModelView

    return [ModelView(Author, slug="library_book")]
