"""A plugin adding a bulk action to another plugin's model view through erlen_admin_actions."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="extra", requires=["admin"])


def feature(view: t.Any, objects: t.Sequence[t.Any]) -> None:
    for obj in objects:
        obj.featured = True


@erlen.hookimpl
def erlen_admin_actions(view: t.Any) -> list[t.Any]:
    from erlen_admin import Action

    if view.slug == "library_book":
        return [Action("feature", "Feature", feature, permission="edit", confirm=True)]
    return []
