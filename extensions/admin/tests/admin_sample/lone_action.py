"""A plugin returning one bulk action where erlen_admin_actions expects a list of them."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="loneaction", requires=["admin"])


def feature(view: t.Any, objects: t.Sequence[t.Any]) -> None:
    for obj in objects:
        obj.featured = True


@erlen.hookimpl
def erlen_admin_actions(view: t.Any) -> t.Any:
    from erlen_admin import Action

    return Action("feature", "Feature", feature, permission="edit", confirm=True)
