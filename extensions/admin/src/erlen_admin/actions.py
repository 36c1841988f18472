"""Bulk actions on the selected rows of a model view."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Callable, Sequence
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from .views.model_view import ModelView

#: The per-model operations that have a permission each.
OPERATIONS = ("view", "create", "edit", "delete")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: ``callback(view, objects)``: change the objects (the admin commits); return a message or ``None``.
ActionCallback = Callable[["ModelView", Sequence[t.Any]], str | None]


@dataclass(frozen=True)
class Action:
    """A bulk action offered on a model view's list page.

    The admin loads the selected objects, calls ``callback`` with them, records
    one audit entry per object (with the columns the callback changed) and
    commits.

    :param name: the action's identifier, lower-case (``publish``).
    :param label: the text people see (``Publish``).
    :param callback: ``callback(view, objects)``; may return a message to flash.
    :param permission: the model operation it needs: ``view``, ``create``, ``edit`` or ``delete``.
    :param confirm: ask for a confirmation step listing the objects first.
    :param plugin: the plugin that gives the action, named when its callback fails; the admin sets it.
    """

    name: str
    label: str
    callback: ActionCallback
    permission: str = "edit"
    confirm: bool = True
    plugin: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"Admin action name {self.name!r}: use lower-case letters, digits and underscores.")
        if self.permission not in OPERATIONS:
            raise ValueError(f"Admin action {self.name!r}: permission must be one of {', '.join(OPERATIONS)}.")


def _delete(view: ModelView, objects: Sequence[t.Any]) -> str:
    from erlen_db import session

    for obj in objects:
        session.delete(obj)
    # Lower-case mid-sentence, as the admin's other messages say them ("Deleted 3 books.", not "3 Books").
    return f"Deleted {len(objects)} {(view.plural if len(objects) != 1 else view.name).lower()}."


#: The built-in action of every model view that allows deleting.
DELETE_SELECTED = Action("delete", "Delete selected", _delete, permission="delete", confirm=True, plugin="admin")
