"""Hook specifications of the ``api`` plugin."""

# mypy: disable-error-code="empty-body"

from __future__ import annotations

import typing as t

from flask import Flask

import erlen

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from .resources import Resource
    from .security import TokenIdentity


@erlen.hookspec(firstresult=True)
def erlen_api_authenticate_token(app: Flask, token: str) -> TokenIdentity | None:
    """Who a bearer access token belongs to, and what it may do; ``None`` when the token is not valid.

    Called for requests with ``Authorization: Bearer <token>`` to an endpoint that accepts tokens; the first
    plugin to answer wins. A request whose token no plugin accepts gets a 401. The implementation also makes
    the user the request's current user (Flask-Login's ``current_user``, for erlen-auth), if it has one.
    Token-authenticated requests are exempt from CSRF checks; requests with the session cookie never are.

    :param app: the current app.
    :param token: the token, as sent.
    :returns: a :class:`erlen_api.TokenIdentity` (or any object with its ``user`` and ``scopes``), or ``None``.
    :raises erlen_api.TokenRejected: to refuse the token with a reason (expired, revoked).
    """


@erlen.hookspec
def erlen_api_resources(app: Flask) -> Iterable[Resource]:
    """The models this plugin serves as REST resources: a list of :class:`erlen_api.Resource`.

    Each resource is served under ``API_URL_PREFIX/<version>/<name>`` with the operations it enables: ``list``
    (``GET /notes``: a page by keyset cursor with a ``Link`` header, the filters and sorts it whitelists, an
    estimated total where cheap), ``read`` (``GET /notes/<key>`` with an ``ETag``), ``create`` (``POST /notes``:
    201 with ``Location``), ``update`` (``PATCH /notes/<key>``) and ``delete`` (``DELETE /notes/<key>``: 204);
    changes and deletions honour ``If-Match`` (412 on a stale version). Its schemas come from the model's
    columns (types, nullability, lengths, enums; primary keys and server defaults read-only; secret columns,
    by erlen-forms' ``is_sensitive`` rule, never exposed). A unique or foreign-key violation answers 409 naming
    the field. Each operation needs the permission the resource declares for it, which a bearer token's scopes
    must include; ``scope`` narrows the rows a request may see (its user's own, say).

    Called once per app, when the ``api`` plugin registers its blueprints; needs the ``db`` plugin.

    .. code-block:: python

        @erlen.hookimpl
        def erlen_api_resources(app):
            return [erlen_api.Resource(Note, filters=["author_id"], sorts=["created_at"], permissions="notes.edit")]

    :param app: the app being created.
    :returns: :class:`erlen_api.Resource` objects.
    """
