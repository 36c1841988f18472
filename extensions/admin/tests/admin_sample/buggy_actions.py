"""A plugin whose bulk action has a bug: it changes the selected rows, then raises."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="buggy", requires=["admin"])


def retitle(view: t.Any, objects: t.Sequence[t.Any]) -> str:
    for obj in objects:
        obj.title = "Changed by a buggy action"
    raise LookupError("the buggy plugin's own bug")


@erlen.hookimpl
def erlen_admin_actions(view: t.Any) -> list[t.Any]:
    from erlen_admin import Action

    if view.slug == "library_book":
        return [Action("retitle", "Retitle", retitle, permission="edit", confirm=False)]
    return []
