"""The 403 answers of the admin: which permission the page needs, and how an administrator grants it.

A person who may enter the admin but not open a page (or who may not enter at all) is told the permission
that is missing, so that they can ask for it and an administrator knows what to grant; permission names are
declared by the plugins and listed by ``erlen permissions``, not secrets.
"""

from __future__ import annotations

import typing as t

from flask import abort, url_for
from flask_login import current_user

import erlen

#: The permission that lets a user into the admin at all.
ACCESS = "admin.access"

#: The permission (declared by erlen-auth) of whom may grant permissions to roles: only they are shown how.
GRANT_ROLES = "auth.manage_roles"


def refuse(permission: str) -> t.NoReturn:
    """Answer 403, saying that ``permission`` is missing and what it allows; someone who may grant it is told how
    (the command line helps no one else), someone who may enter the admin gets a way back to its dashboard.

    :param permission: the permission the current user lacks, such as ``admin.access`` or
        ``admin.blog_post.edit``.
    """
    from erlen_auth import permissions_of

    declared = permissions_of().get(permission)
    allows = f" ({declared.description})" if declared is not None else ""
    lacks = f"Your account lacks the permission {permission!r}{allows}, which this page needs."
    if current_user.can(GRANT_ROLES):
        how = (
            f"You may grant it to one of your roles: on the role's page in the admin, or with erlen role grant ROLE "
            f"{permission}."
        )
    else:
        how = "Ask an administrator to grant it to one of your roles."
    detail = f"{lacks} {how}"
    admin_url = None if permission == ACCESS else url_for("admin.index")
    abort(erlen.error_response(403, detail=detail, template="admin/denied.html", admin_url=admin_url))


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
