"""A plugin adding a bulk and an object action that rename authors (rows other rows refer to) to their view."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="author_actions", requires=["admin"])


def rename_all(view: t.Any, objects: t.Sequence[t.Any]) -> str:
    for author in objects:
        author.name = f"{author.name}!"
    return f"Renamed {len(objects)}."


def rename(view: t.Any, author: t.Any) -> str:
    author.name = f"{author.name}!"
    return "Renamed."


@erlen.hookimpl
def erlen_admin_actions(view: t.Any) -> list[t.Any]:
    from erlen_admin import Action, ObjectAction

    if view.slug == "library_author":
        return [
            Action("rename", "Rename", rename_all, permission="edit", confirm=False),
            ObjectAction("rename", "Rename", rename),
        ]
    return []
