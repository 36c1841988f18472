"""Which columns hold secrets: the rule model forms, erlen-admin and erlen-api share.

A module of its own, without SQLAlchemy or WTForms: erlen-admin's model views
apply the rule when the app is created, and importing :mod:`erlen_forms.model_forms`
for it cost every worker that module (some 100 KiB) although only the admin's
create and edit pages build model forms.
"""

from __future__ import annotations

#: Words in column names that mark secrets: such columns are never labels, searched, listed or put in forms.
SENSITIVE_WORDS = ("password", "hash", "secret", "token", "salt")


def is_sensitive(name: str) -> bool:
    """Whether a column named ``name`` holds a secret (``password_hash``, ``api_key``, ``session_token``).

    ``key`` counts as a whole word of the name only: ``api_key`` is a secret, ``keyword`` and ``monkey`` are not.

    :param name: the column's or attribute's name.
    """
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_WORDS) or "key" in lowered.replace("-", "_").split("_")
