"""Actions on one object, offered on its detail page: "Deactivate", "Send a reset link", "End this session".

Unlike bulk :class:`~erlen_admin.Action` s, an object action is a ``POST`` to
``/admin/m/<slug>/<id>/do/<name>`` (CSRF-checked by erlen-forms) that may carry
fields of its own (a panel's form posts them: the roles to give, the session to
end). The admin checks the permission, calls the callback, records one audit
entry (``action:<name>``, with the columns the callback changed and the changes
it reports) and commits; a callback that raises :class:`ActionRefused` changes
nothing and its message is shown.
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from erlen import ErlenError

if t.TYPE_CHECKING:
    from .views.model_view import ModelView

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ActionRefused(ErlenError):
    """Raised by an action's callback to refuse it with a message for the person (nothing is changed).

    :param message: why, and what to do instead.
    """


@dataclass(frozen=True)
class ActionOutcome:
    """What an object action's callback did, when it changed more than the object's columns.

    :param message: flashed to the person.
    :param changes: recorded in the audit entry besides the changed columns: ``{name: [old, new]}``
        (JSON values; the roles given, the session ended).
    """

    message: str
    changes: Mapping[str, t.Any] = field(default_factory=dict)


#: ``callback(view, obj)``: change ``obj`` (the admin commits); read the posted fields from ``flask.request.form``.
ObjectActionCallback = Callable[["ModelView", t.Any], "str | ActionOutcome | None"]


@dataclass(frozen=True)
class ObjectAction:
    """An action on one object of a model view, posted from its detail page.

    :param name: the identifier, lower-case (``deactivate``); the URL part and the audit entry's
        ``action:<name>``.
    :param label: the button's text (``Deactivate``).
    :param callback: ``callback(view, obj)``; returns a message, an :class:`ActionOutcome` or ``None``;
        raises :class:`ActionRefused` to refuse.
    :param permission: the model operation it needs: ``view``, ``create``, ``edit`` or ``delete``
        (mapped to a permission name by the view, see ``ModelView(permissions=...)``).
    :param available: ``available(obj)``: whether the action applies to ``obj`` now (a button is shown and a
        post is accepted only then); always by default.
    :param button: show a button for it among the detail page's actions; ``False`` for actions that a
        panel's own form posts to (with fields of its own).
    :param danger: show the button in the danger colour.
    :param plugin: the plugin that gives the action; the admin sets it.
    """

    name: str
    label: str
    callback: ObjectActionCallback
    permission: str = "edit"
    available: Callable[[t.Any], bool] | None = None
    button: bool = True
    danger: bool = False
    plugin: str = ""

    def __post_init__(self) -> None:
        from .actions import OPERATIONS

        if not _NAME.match(self.name):
            raise ValueError(f"Admin object action name {self.name!r}: use lower-case letters, digits and underscores.")
        if self.permission not in OPERATIONS:
            raise ValueError(f"Admin object action {self.name!r}: permission must be one of {', '.join(OPERATIONS)}.")

    def applies_to(self, obj: t.Any) -> bool:
        """Whether the action applies to ``obj`` now."""
        return self.available is None or bool(self.available(obj))
