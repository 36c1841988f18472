"""The 403 answers of the admin: which permission the page needs, and how an administrator grants it.

A person who may enter the admin but not open a page (or who may not enter at all) is told the permission
that is missing, so that they can ask for it and an administrator knows what to grant; permission names are
declared by the plugins and listed by ``erlen permissions``, not secrets.
"""

from __future__ import annotations

import typing as t

from flask import abort


def refuse(permission: str) -> t.NoReturn:
    """Answer 403, saying that ``permission`` is missing.

    :param permission: the permission the current user lacks, such as ``admin.access`` or
        ``admin.blog_post.edit``.
    """
    abort(
        403,
        f"Your account lacks the permission {permission!r}, which this page needs. An administrator can grant it "
        f"to one of your roles (erlen role grant ROLE {permission}).",
    )


def missing_permission(view: t.Any, user: t.Any, operation: str) -> str:
    """The permission ``user`` lacks for ``operation`` on the model view ``view`` (which they may not do).

    Exporting needs the view's ``view`` permission besides its own: the first of the two that is missing.

    :param view: the :class:`~erlen_admin.ModelView`.
    :param user: the current user.
    :param operation: the operation refused.
    """
    if operation == "export" and not user.can(view.permission("view")):
        return str(view.permission("view"))
    return str(view.permission(operation))
