"""Stale edits: an edit form saved after someone else changed the row must not overwrite their change unseen.

The edit page sends, in a hidden input, a fingerprint of the values the form
was filled with (an HMAC under the app's ``SECRET_KEY`` of the form's columns,
so no stored value, not even a secret's hash, can be worked out from it). The
save compares it with the row's values at that moment; when they differ,
nothing is saved and the form says so, carrying the new fingerprint so that a
second save, made knowingly, goes through.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import typing as t

from flask import current_app

from .audit import jsonable
from .views.model_view import ModelView

#: The name of the hidden input holding the fingerprint of the values the form was filled with.
FIELD = "admin_loaded"

#: What the form says when the row changed after it was filled.
CHANGED_MEANWHILE = (
    "Someone else saved changes to this {name} after you opened this form, so nothing was saved: saving would "
    "overwrite their changes. The form shows your values; save again to keep them, or cancel to see theirs."
)


def fingerprint(view: ModelView, obj: t.Any, keys: t.Iterable[str]) -> str:
    """A fingerprint of ``obj``'s values in the columns ``keys``, keyed with the app's ``SECRET_KEY``.

    :param view: the model view.
    :param obj: the object being edited, as stored.
    :param keys: the column attributes of the edit form.
    """
    values = {key: jsonable(getattr(obj, key, None)) for key in keys}
    text = json.dumps(values, sort_keys=True, default=str).encode()
    secret = str(current_app.config.get("SECRET_KEY") or "").encode()
    return hmac.new(secret, view.slug.encode() + b"\0" + text, hashlib.sha256).hexdigest()


def changed_meanwhile(loaded: str | None, current: str) -> bool:
    """Whether the row changed since the form was filled; ``False`` when the form sent no fingerprint (an
    overridden template without the hidden input).

    :param loaded: the fingerprint the form sent.
    :param current: the fingerprint of the row's values now.
    """
    # As bytes: compare_digest refuses str with a character beyond ASCII (TypeError), which a forged or garbled
    # hidden input may hold; such a value is no fingerprint of the row, so the row counts as changed.
    return bool(loaded) and not hmac.compare_digest(str(loaded).encode(), current.encode())


__all__ = ["CHANGED_MEANWHILE", "FIELD", "changed_meanwhile", "fingerprint"]
