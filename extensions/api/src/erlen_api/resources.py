"""Resources from models: a SQLAlchemy model served as a REST resource, declared through ``erlen_api_resources``.

.. code-block:: python

    @erlen.hookimpl
    def erlen_api_resources(app):
        return [erlen_api.Resource(Note, filters=["author_id"], sorts=["created_at"], permissions=EDIT)]

gives, under ``/api/v1``:

=========================  ===========================================================
``GET /notes``             a page of notes: keyset cursor, ``Link`` header, filters, sort
``GET /notes/<id>``        a note, with its ``ETag``
``POST /notes``            create: 201 with ``Location`` and ``ETag``
``PATCH /notes/<id>``      change some fields; ``If-Match`` guards against lost updates
``DELETE /notes/<id>``     delete: 204; ``If-Match`` too
=========================  ===========================================================

The schemas come from the model (:mod:`erlen_api.model_schemas`), the
lists' pages from :mod:`erlen_api.pagination`. A unique or foreign-key
violation answers 409 naming the field; a stale ``If-Match`` 412.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from flask import Blueprint, Flask

import erlen

from .api import ApiDeclarationError

if t.TYPE_CHECKING:
    import sqlalchemy as sa

#: The operations of a resource.
Operation = t.Literal["list", "read", "create", "update", "delete"]

#: Every operation, in the order they are declared.
OPERATIONS: tuple[Operation, ...] = ("list", "read", "create", "update", "delete")


@dataclass(frozen=True)
class Resource:
    """A model served as a REST resource; what a plugin's ``erlen_api_resources`` returns.

    :param model: the mapped class (of erlen-db's ``Model``).
    :param name: the URL segment and the tag of its operations (``notes``); the table's name by default.
    :param version: the API version it is served under (``/api/v1``), as :class:`erlen_api.Api`'s.
    :param operations: the operations served: some of ``list``, ``read``, ``create``, ``update`` (PATCH) and
        ``delete``.
    :param permissions: the permission each operation needs, by operation (``{"create": "notes.edit"}``); one
        string applies to every operation. An operation without one is open to anyone (or to users, with
        ``login_required``). Bearer tokens must have the permission in their scopes.
    :param login_required: only authenticated users (by session or token) may call its operations; or the
        operations that need one (``["update"]``).
    :param tokens: whether bearer access tokens are accepted.
    :param fields: the model's attributes to expose; every column but the secret ones by default.
    :param exclude: attributes to leave out.
    :param read_only: attributes clients read but never write (set them in ``on_create``).
    :param not_secret: attributes whose names look like secrets by erlen-forms' ``is_sensitive`` rule
        (``sort_key``, ``token_count``, ``hash_algorithm``) but hold none. Secret-looking columns are left out of
        every schema; these are served like any other column (and may be ``read_only``, filters or sorts).
    :param constraints: pydantic constraints on what clients write, besides the column's type and length, by
        attribute: ``{"title": Field(min_length=1), "isbn": Field(pattern=r"^\\d{13}$")}``, or a list of them
        (``[Field(min_length=1), AfterValidator(check_title)]``). A create or change that breaks one answers 422
        naming the field, and the OpenAPI document shows them (``minLength``); reads are not checked by them.
    :param filters: attributes a list may be filtered by, with ``?name=value`` (repeated: any of the values). A
        list refuses other query parameters than these, ``cursor``, ``limit`` and ``sort`` (a 422 naming them).
    :param sorts: attributes a list may be sorted by, with ``?sort=name`` or ``?sort=-name`` (descending); not
        nullable. The primary key always may, and breaks ties.
    :param default_sort: the sort of a list without ``sort``; the primary key, ascending, by default.
    :param per_page: the page size of a list without ``limit``.
    :param max_per_page: the largest ``limit``.
    :param scope: the rows the current request may reach with an operation: takes ``select(model)`` and the
        operation (``list``, ``read``, ``update`` or ``delete``), returns the statement narrowed
        (``lambda query, operation: query.where(Note.author_id == current_user.id)``). Rows outside it answer
        404.
    :param on_create: ``on_create(row)``, called in the request with the new model instance, made from the
        body's fields, before it is added to the session and flushed: it sets what the client may not send (an
        owner from ``current_user``, say). What it adds to the session (a job, a mail) is committed with the row,
        in one transaction; the row has no key yet, so what needs it goes in ``after_create``. It may refuse the
        request with :func:`erlen_api.abort`: nothing is saved. A 422
        lists its errors as every 422 of the OpenAPI document does: ``abort(422, "The request's inputs are
        invalid.", errors=[{"detail": "...", "location": "body", "pointer": "#/title", "type": "taken"}])``.
        Its return value is ignored.
    :param on_update: ``on_update(row)``, called likewise with the row after the body's fields were set on it,
        before the flush; :func:`erlen_api.abort` from it leaves the row unchanged.
    :param after_create: ``after_create(row)``, called in the request once the new row is flushed (its primary
        key and server-made values set) and before the commit: what needs the row's key goes here, such as a
        job for it (``index_book.enqueue(row.id)``), committed with the row in one transaction. ``on_create``
        comes too early for that, and a flush of its own would turn a taken unique value into a 500 instead of
        the 409. A unique or foreign-key violation of what it writes answers 409 too, and
        :func:`erlen_api.abort` from it saves nothing. Its return value is ignored.
    :param if_match_required: changes and deletions must send ``If-Match`` (428 without it).
    :param estimate_total: give lists an ``estimated_total`` where it is cheap (PostgreSQL's planner).
    :param schema_name: the name of its schema in the OpenAPI document; the model's class name by default.
    :param description: the description of its operations' tag.
    """

    model: type[t.Any]
    name: str | None = None
    version: str | None = "v1"
    operations: Collection[Operation] = OPERATIONS
    permissions: Mapping[Operation, str] | str | None = None
    login_required: bool | Collection[Operation] = False
    tokens: bool = True
    fields: Collection[str] | None = None
    exclude: Collection[str] = ()
    read_only: Collection[str] = ()
    not_secret: Collection[str] = ()
    constraints: Mapping[str, t.Any] | None = None
    filters: Sequence[str] = ()
    sorts: Sequence[str] = ()
    default_sort: str | None = None
    per_page: int = 20
    max_per_page: int = 100
    scope: Callable[[sa.Select[t.Any], Operation], sa.Select[t.Any]] | None = None
    on_create: Callable[[t.Any], None] | None = None
    on_update: Callable[[t.Any], None] | None = None
    after_create: Callable[[t.Any], None] | None = None
    if_match_required: bool = False
    estimate_total: bool = True
    schema_name: str | None = None
    description: str | None = None

    @property
    def resource_name(self) -> str:
        """Its URL segment and tag."""
        import sqlalchemy as sa

        return self.name or str(sa.inspect(self.model).local_table.name)

    def needs_login(self, operation: Operation) -> bool:
        """Whether ``operation`` is only for authenticated users (besides needing a permission).

        :param operation: an operation.
        """
        if isinstance(self.login_required, bool):
            return self.login_required
        return operation in self.login_required

    def permission_for(self, operation: Operation) -> str | None:
        """The permission ``operation`` needs, if any.

        :param operation: an operation.
        """
        if self.permissions is None or isinstance(self.permissions, str):
            return self.permissions
        return self.permissions.get(operation)


def resource_blueprints(app: Flask) -> Iterable[Blueprint]:
    """The blueprints of the resources every plugin returns from ``erlen_api_resources``, built for ``app``.

    :param app: the app.
    :raises ApiDeclarationError: a plugin returned something else than resources, resources on an app without the
        ``db`` plugin, or a resource that does not fit its model.
    """
    registry = erlen.plugins_of(app)
    found: list[Blueprint] = []
    names: dict[tuple[str | None, str], str] = {}
    for plugin, result in registry.call_each("erlen_api_resources", app=app):
        for resource in erlen.hook_items(plugin.name, "erlen_api_resources", result, "erlen_api.Resource objects"):
            if not isinstance(resource, Resource):
                raise ApiDeclarationError(
                    f"Plugin {plugin.name!r}: erlen_api_resources returned {type(resource).__name__}; return "
                    "erlen_api.Resource objects.",
                    plugin=plugin.name,
                )
            if "db" not in registry:
                raise ApiDeclarationError(
                    f"Plugin {plugin.name!r} declares API resources, which live in a database: enable the 'db' plugin.",
                    plugin=plugin.name,
                )
            place = (resource.version, resource.resource_name)
            if place in names:
                raise ApiDeclarationError(
                    f"Plugins {names[place]!r} and {plugin.name!r} both declare the resource "
                    f"{resource.resource_name!r} of API version {resource.version}; give one another name.",
                    plugin=plugin.name,
                )
            names[place] = plugin.name
            from .resource_api import build

            found.append(build(resource, app, plugin.name).api)
    return found
