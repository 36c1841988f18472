"""The endpoints of a :class:`~erlen_api.Resource`, built for one app: list, read, create, update, delete.

Each resource gets an :class:`~erlen_api.Api` blueprint of its own
(``<name>_resource``), whose views are generated with the type hints of the
resource's schemas, so that they are parsed, validated, secured and
documented like any other endpoint.

Reads, creates and changes answer the item's JSON with its ``ETag``:
:func:`erlen_api.etags.entity_tag` over exactly the bytes a read answers,
which is what ``If-Match`` is compared with (strongly) before a change or a
deletion; the row is locked meanwhile (``SELECT ... FOR UPDATE`` on
PostgreSQL), so two clients cannot both change the version they read.
"""

from __future__ import annotations

import re
import typing as t
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask, Response, request, url_for
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from sqlalchemy.orm import Session

from .api import Api, ApiDeclarationError
from .conflicts import save
from .etags import entity_tag, matches
from .model_schemas import ColumnField, ModelSchemaError, ResourceSchemas, build_schemas, column_fields, is_secret
from .pagination import SortKey, estimated_total, keyset_page, link_header, page_arguments
from .params import Query
from .problems import Problem
from .resources import OPERATIONS, Operation, Resource
from .responses import JSON_MEDIA_TYPE
from .state import state_of
from .stored_values import RowFault, StoredValueError, stored_value_error

#: The query parameters of lists that no filter may take.
RESERVED_PARAMETERS = frozenset({"cursor", "limit", "sort"})

#: What the description of an operation without query parameters says of them.
NO_QUERY_PARAMETERS = " It takes no query parameter: one is refused (422), never ignored."

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")

_T = t.TypeVar("_T")
#: Where a schema's CamelCase name breaks into words: before a capital that follows a lower-case letter or a digit
#: (``ProfileImage``), and before the last capital of an acronym (``APIKey``).
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z]{2})(?=[A-Z][a-z])")


@dataclass
class BuiltResource:
    """A :class:`Resource` made ready for one app: its fields, schemas, order and blueprint.

    :param resource: the declaration.
    :param fields: the exposed fields.
    :param schemas: the pydantic models.
    :param key: the primary key's field.
    :param api: the blueprint serving it.
    """

    resource: Resource
    fields: dict[str, ColumnField]
    schemas: ResourceSchemas
    key: ColumnField
    api: Api
    page_schema: type[BaseModel] | None = None
    list_query: type[BaseModel] | None = None
    #: The order of each ``sort`` a request asked for (the resource's sorts only), kept with the validators its
    #: keys build for cursors.
    orders: dict[str, list[SortKey]] = field(default_factory=dict, init=False, repr=False)
    _read_adapter: TypeAdapter[t.Any] = field(init=False, repr=False)
    _key_adapter: TypeAdapter[t.Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._read_adapter = TypeAdapter(self.schemas.read)
        # With the column's limits: a key beyond them names no row, and must not reach the database (SQLite
        # raises on an integer past 64 bits).
        self._key_adapter = TypeAdapter(self.key.annotation)

    # -- representations and rows ---------------------------------------------------------------------------

    def representation(self, row: t.Any) -> bytes:
        """The JSON bytes a read of ``row`` answers: the body its ``ETag`` is computed over.

        :param row: a row of the model.
        :raises StoredValueError: the row holds values the read schema refuses (written by other means).
        """
        try:
            item = self.schemas.read.model_validate(row)
        except ValidationError as exc:
            stored = stored_value_error(row, exc, self.resource.resource_name)
            if not isinstance(stored, StoredValueError):
                raise  # not the data's fault: the error as pydantic gives it
            raise stored from None
        return self._read_adapter.dump_json(item, by_alias=True)

    def statement(self, operation: Operation) -> sa.Select[t.Any]:
        """``select(model)``, narrowed by the resource's ``scope`` for ``operation``.

        :param operation: the operation the rows are for.
        """
        statement = sa.select(self.resource.model)
        if self.resource.scope is not None:
            statement = self.resource.scope(statement, operation)
        return statement

    def find(self, session: Session, key: t.Any, operation: Operation, *, lock: bool = False) -> t.Any:
        """The row whose primary key is ``key`` within the scope; a 404 problem when there is none.

        :param session: the session.
        :param key: the key, as the URL gave it.
        :param operation: the operation the row is for (``read``, ``update``, ``delete``).
        :param lock: lock the row until the transaction ends (``SELECT ... FOR UPDATE``, where supported).
        :raises Problem: 404.
        """
        value: t.Any
        try:
            value = self._key_adapter.validate_python(key)
        except ValidationError:
            value = None
        row = None
        if value is not None:
            statement = self.statement(operation).where(self.key.column == value)
            if lock:
                # Of the resource's table alone: a relationship loaded with a LEFT OUTER JOIN (lazy="joined")
                # would be locked too, which PostgreSQL refuses for the join's nullable side.
                statement = statement.with_for_update(of=self.resource.model)
            row = self.loading(session, statement, lambda: session.scalars(statement).one_or_none())
        if row is None:
            raise Problem(404, f"No item of {self.resource.resource_name} has the key {key}.")
        return row

    def loading(self, session: Session, statement: sa.Select[t.Any], load: Callable[[], _T]) -> _T:
        """``load()``, the rows of ``statement``; a stored enum value the model does not know is a stored fault.

        SQLAlchemy refuses such a value (SQLite keeps any text in an ``Enum`` column) while loading the rows,
        with a ``LookupError`` quoting it: the rows holding one are found with the raw text of each enum
        column, and answered as :class:`~erlen_api.stored_values.StoredValueError`.

        :param session: the session.
        :param statement: what ``load`` runs (within the scope, filtered), without paging.
        :param load: loads the rows.
        :raises StoredValueError: rows of ``statement`` hold values no member of their enum stores.
        """
        try:
            return load()
        except LookupError as exc:
            if type(exc) is not LookupError:  # a KeyError, an IndexError: not SQLAlchemy's refusal
                raise
            stored = self._unknown_enum_values(session, statement)
            if stored is None:
                raise
            raise stored from None

    def _unknown_enum_values(self, session: Session, statement: sa.Select[t.Any]) -> StoredValueError | None:
        """The rows of ``statement`` whose enum columns hold a value of none of their members (the first 20).

        :param session: the session.
        :param statement: the rows' statement.
        """
        fields_by_key: dict[str, list[str]] = {}
        for key, item in self.fields.items():
            column_type = item.column.type
            if not isinstance(column_type, sa.Enum):
                continue
            raw = sa.cast(item.column, sa.String())  # as text: PostgreSQL compares its enum type to its labels only
            found = session.execute(
                statement.with_only_columns(self.key.column)
                .where(raw.is_not(None), raw.not_in(column_type.enums))
                .order_by(None)
                .limit(20)
            ).scalars()
            for identity in found:
                fields_by_key.setdefault(str(identity), []).append(key)
        if not fields_by_key:
            return None
        model = self.resource.model
        faults = [
            RowFault(model, identity, tuple(names), ("enum",) * len(names)) for identity, names in fields_by_key.items()
        ]
        return StoredValueError(faults, self.resource.resource_name)

    def check_if_match(self, row: t.Any) -> None:
        """Refuse a change of ``row`` whose ``If-Match`` names another version (412), or none when required (428).

        :param row: the row as stored.
        :raises Problem: 412 or 428.
        """
        header = request.headers.get("If-Match")
        if header is None:
            if self.resource.if_match_required:
                raise Problem(
                    428,
                    f"Changes of {self.resource.resource_name} must send If-Match with the ETag of a read.",
                )
            return
        if not matches(header, entity_tag(self.representation(row)), weak=False):
            raise Problem(
                412,
                f"The item of {self.resource.resource_name} changed since the version If-Match names: read it again "
                "and send its new ETag.",
            )

    def item_response(
        self,
        row: t.Any,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        """The response of a read, create or change: the item's JSON and its ``ETag``.

        :param row: the row.
        :param status: the status.
        :param headers: more headers.
        :param body: the row's JSON when it is made already (by :func:`~erlen_api.conflicts.save`, before the
            commit); made from ``row`` otherwise.
        """
        if body is None:
            body = self.representation(row)
        response = Response(body, status=status, mimetype=JSON_MEDIA_TYPE)
        response.headers["ETag"] = entity_tag(body)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response


def item_words(schema_name: str) -> str:
    """What one item of a resource is called in its operations' summaries: ``Note`` → "note",
    ``ProfileImage`` → "profile image", ``APIKey`` → "API key" (acronyms keep their capitals).

    :param schema_name: the name of the resource's read schema.
    """
    words = _WORD_BREAK.split(schema_name)
    return " ".join(word if word.isupper() and len(word) > 1 else word.lower() for word in words)


def _sort_keys(built: BuiltResource, sort: str) -> list[SortKey]:
    """The order of ``?sort=`` (``-name`` descending), ended by the primary key.

    :param built: the resource.
    :param sort: an allowed value of ``sort``.
    """
    known = built.orders.get(sort)
    if known is not None:
        return known
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    chosen = built.fields[key]
    keys = [SortKey(key, chosen.column, descending, chosen.annotation)]
    if not chosen.primary_key:
        primary = built.key
        keys.append(SortKey(primary.key, primary.column, descending, primary.annotation))
    return built.orders.setdefault(sort, keys)


def _declaration_error(resource: Resource, plugin: str, message: str) -> ApiDeclarationError:
    """An error in a resource's declaration, naming it and its plugin.

    :param resource: the resource.
    :param plugin: the plugin that returned it.
    :param message: what is wrong and what to do.
    """
    return ApiDeclarationError(
        f"Plugin {plugin!r}: the resource of {resource.model.__name__}: {message}",
        plugin=plugin,
    )


def _check(resource: Resource, plugin: str, fields: dict[str, ColumnField]) -> None:
    """Check what a resource declares against its model's fields.

    :param resource: the resource.
    :param plugin: the plugin that returned it.
    :param fields: its exposed fields.
    :raises ApiDeclarationError: naming the option and what to do.
    """
    if not _NAME.fullmatch(resource.resource_name):
        raise _declaration_error(
            resource, plugin, f"name {resource.resource_name!r} must be a URL segment such as 'notes'."
        )
    unknown = [operation for operation in resource.operations if operation not in OPERATIONS]
    if unknown:
        raise _declaration_error(
            resource, plugin, f"unknown operations {unknown}; choose among {', '.join(OPERATIONS)}."
        )
    for option, names in (("filters", resource.filters), ("sorts", resource.sorts)):
        missing = [name for name in names if name not in fields]
        if missing:
            raise _declaration_error(
                resource,
                plugin,
                f"{option} names {', '.join(map(repr, missing))}, which the resource does not expose "
                f"(exposed: {', '.join(fields)}).{_secret_hint(resource, missing)}",
            )
    reserved = sorted(set(resource.filters) & RESERVED_PARAMETERS)
    if reserved:
        raise _declaration_error(
            resource, plugin, f"filters cannot use the names {reserved}, which lists take for paging and sorting."
        )
    unsortable = [name for name in resource.sorts if not fields[name].orderable]
    if unsortable:
        raise _declaration_error(
            resource,
            plugin,
            f"sorts names {', '.join(map(repr, unsortable))}: a list sorts only by columns that are NOT NULL and "
            "of a known type, which a cursor can continue from.",
        )
    unfilterable = [name for name in resource.filters if fields[name].python_type is None]
    if unfilterable:
        raise _declaration_error(
            resource, plugin, f"filters names {', '.join(map(repr, unfilterable))}, of a type without Python values."
        )
    if not 1 <= resource.per_page <= resource.max_per_page:
        raise _declaration_error(
            resource, plugin, f"per_page ({resource.per_page}) must be between 1 and max_per_page."
        )


def _list_schemas(built: BuiltResource, sorts: list[str]) -> None:
    """Make the query parameters and the page schema of the resource's list.

    :param built: the resource.
    :param sorts: the allowed values of ``sort``.
    """
    resource = built.resource
    name = built.schemas.read.__name__
    query_fields: dict[str, t.Any] = {
        "cursor": (
            str | None,
            Field(default=None, description="Where the page starts: the cursor of a Link header's next or prev."),
        ),
        "limit": (
            int,
            Field(default=resource.per_page, ge=1, le=resource.max_per_page, description="The page's size."),
        ),
        "sort": (
            t.Literal[tuple(sorts)] | None,
            Field(default=None, description="The order: a field, descending with a leading '-'."),
        ),
    }
    for key in resource.filters:
        values: t.Any = list[built.fields[key].annotation]  # type: ignore[misc]
        query_fields[key] = (
            values | None,
            Field(default=None, description=f"Only items whose {key} is one of these values."),
        )
    # Unknown parameters refused (erlen_api.unknown_parameters): a mistyped filter would answer the whole list.
    built.list_query = create_model(
        f"{name}ListQuery",
        __config__=ConfigDict(extra="forbid"),
        __module__=built.schemas.read.__module__,
        **query_fields,
    )
    built.page_schema = create_model(
        f"{name}Page",
        __module__=built.schemas.read.__module__,
        items=(list[built.schemas.read], ...),  # type: ignore[name-defined]
        next_cursor=(str | None, Field(description="The cursor of the next page; null on the last.")),
        prev_cursor=(str | None, Field(description="The cursor of the page before; null on the first.")),
        estimated_total=(
            int | None,
            Field(description="About how many items the list has in all, where the database can tell cheaply."),
        ),
    )


def _view(function: Callable[..., t.Any], name: str, annotations: dict[str, t.Any]) -> Callable[..., t.Any]:
    """Give a generated view its name and the type hints its endpoint is read from.

    :param function: the view.
    :param name: its name.
    :param annotations: its parameters' types, and ``return``.
    """
    function.__name__ = function.__qualname__ = name
    function.__annotations__ = annotations
    return function


def _secret_hint(resource: Resource, names: list[str]) -> str:
    """What to do about those of ``names`` a resource leaves out as secrets: a sentence, or nothing.

    :param resource: the declaration.
    :param names: attributes an option names that the resource does not expose.
    """
    secret = [name for name in names if is_secret(name)]
    if not secret:
        return ""
    return (
        f" {', '.join(map(repr, secret))} look like secrets (by erlen-forms' is_sensitive rule), which a resource "
        "never exposes; if they hold no secret, list them in not_secret."
    )


def build(resource: Resource, app: Flask, plugin: str) -> BuiltResource:
    """Make ``resource`` ready for ``app``: its schemas, and a blueprint with its endpoints.

    :param resource: the declaration.
    :param app: the app.
    :param plugin: the name of the plugin that returned it, for errors.
    :raises ApiDeclarationError: the declaration does not fit the model.
    """
    from erlen_db import database_of, session

    dialect = database_of(app).engine.dialect.name
    try:
        fields = column_fields(
            resource.model,
            fields=resource.fields,
            exclude=resource.exclude,
            read_only=resource.read_only,
            not_secret=resource.not_secret,
            dialect=dialect,
        )
    except ModelSchemaError as exc:
        raise ApiDeclarationError(f"Plugin {plugin!r}: {exc}", plugin=plugin) from None
    _check(resource, plugin, fields)
    key = next(item for item in fields.values() if item.primary_key)
    name = resource.resource_name
    schema_name = resource.schema_name or resource.model.__name__
    try:
        schemas = build_schemas(schema_name, fields, module=resource.model.__module__, constraints=resource.constraints)
    except ModelSchemaError as exc:
        raise ApiDeclarationError(f"Plugin {plugin!r}: {exc}", plugin=plugin) from None
    item_name = item_words(schema_name)
    # Every operation refuses the query parameters it does not read, as a list does (erlen_api.unknown_parameters):
    # ?fields=id on a read would otherwise answer the whole item, as if the server had understood it.
    api = Api(
        f"{name.replace('-', '_')}_resource",
        version=resource.version,
        description=resource.description,
        refuse_unknown_query=True,
    )
    built = BuiltResource(resource=resource, fields=fields, schemas=schemas, key=key, api=api)
    state_of(app).resource_names.setdefault(resource.model, name)
    sorts = [key.key, f"-{key.key}"]
    for sort in resource.sorts:
        if sort != key.key:
            sorts += [sort, f"-{sort}"]
    default_sort = resource.default_sort or key.key
    if default_sort not in sorts:
        raise _declaration_error(resource, plugin, f"default_sort {default_sort!r} is none of {sorts}.")
    converter = {int: "int", uuid.UUID: "uuid"}.get(key.python_type or str, "string")
    collection = f"/{name}"
    item = f"/{name}/<{converter}:{key.key}>"
    operations = set(resource.operations)

    def options(operation: Operation, **more: t.Any) -> dict[str, t.Any]:
        return {
            "permission": resource.permission_for(operation),
            "login_required": resource.needs_login(operation),
            "tokens": resource.tokens,
            "tags": (name,),
            "operation_id": f"{name.replace('-', '_')}_{operation}",
            **more,
        }

    # Every operation answers a stored row: one its read schema refuses (written by other means) is a 500 problem.
    stored = {500: "A stored item holds a value its schema refuses (urn:erlen:problem:stored-value-invalid)."}
    etag = {"ETag": "The item's version (a strong entity tag), which If-Match names to change or delete it."}
    precondition = {412: "If-Match names another version of the item: it changed since it was read."}
    if resource.if_match_required:
        precondition[428] = "If-Match is required: send the ETag of a read."

    if "list" in operations:
        _list_schemas(built, sorts)
        page_schema = t.cast(type[BaseModel], built.page_schema)

        def list_items(params: t.Any) -> t.Any:
            statement = built.statement("list")
            for filtered in resource.filters:
                values = getattr(params, filtered)
                if values:
                    column = fields[filtered].column
                    statement = statement.where(column.in_(values) if len(values) > 1 else column == values[0])
            sort = params.sort or default_sort
            page = built.loading(
                session,
                statement,
                lambda: keyset_page(
                    session, statement, _sort_keys(built, sort), sort=sort, cursor=params.cursor, limit=params.limit
                ),
            )
            total = estimated_total(session, statement) if resource.estimate_total else None
            headers = {}
            link = link_header(request.base_url, page_arguments(request.args), page)
            if link is not None:
                headers["Link"] = link
            body = {
                "items": page.rows,
                "next_cursor": page.next_cursor,
                "prev_cursor": page.prev_cursor,
                "estimated_total": total,
            }
            return body, headers

        _view(
            list_items,
            f"list_{name}",
            {"params": t.Annotated[built.list_query, Query()], "return": page_schema},
        )
        list_items.__doc__ = (
            f"List {name}.\n\nA page at a time, by cursor: the Link header (and next_cursor, prev_cursor) "
            "lead to the pages after and before. A query parameter not listed here is refused (422), never ignored."
        )
        api.add_url_rule(
            collection,
            "list",
            list_items,
            methods=["GET"],
            **options(
                "list",
                response=page_schema,
                responses=stored,
                headers={"Link": 'The pages after and before this one (rel="next", rel="prev"), when there are.'},
            ),
        )

    if "read" in operations:

        def read_item(**path: t.Any) -> Response:
            return built.item_response(built.find(session, path[key.key], "read"))

        _view(read_item, f"read_{name}", {})
        read_item.__doc__ = (
            f"Read one {item_name}.\n\nThe ETag header is the version If-Match names.{NO_QUERY_PARAMETERS}"
        )
        api.add_url_rule(
            item,
            "read",
            read_item,
            methods=["GET"],
            **options("read", response=schemas.read, responses={404: "No such item.", **stored}, headers=etag),
        )

    if "create" in operations:

        def create_item(body: t.Any) -> Response:
            row = resource.model(**body.model_dump(exclude_unset=True))
            if resource.on_create is not None:
                resource.on_create(row)
            session.add(row)
            body = save(built, session, row, after_flush=resource.after_create)
            location = url_for(f"{api.name}.read", **{key.key: getattr(row, key.key)}) if "read" in operations else None
            return built.item_response(row, 201, {"Location": location} if location else None, body)

        _view(create_item, f"create_{name}", {"body": schemas.create})
        create_item.__doc__ = f"Create one {item_name}.\n\nAnswers 201 with its Location and ETag.{NO_QUERY_PARAMETERS}"
        api.add_url_rule(
            collection,
            "create",
            create_item,
            methods=["POST"],
            **options(
                "create",
                response=schemas.read,
                status=201,
                headers={"Location": "The URL of the new item.", **etag} if "read" in operations else etag,
                responses={409: "A unique value is taken, or a reference points to no row.", **stored},
            ),
        )

    if "update" in operations:

        def update_item(body: t.Any, **path: t.Any) -> Response:
            changes = body.model_dump(exclude_unset=True)
            row = built.find(session, path[key.key], "update", lock=True)
            built.check_if_match(row)
            for attribute, value in changes.items():
                setattr(row, attribute, value)
            if resource.on_update is not None:
                resource.on_update(row)
            return built.item_response(row, body=save(built, session, row))

        _view(update_item, f"update_{name}", {"body": schemas.update})
        update_item.__doc__ = (
            f"Change one {item_name}.\n\nOnly the fields sent change. With If-Match, only if it is still the "
            f"version read (412 otherwise).{NO_QUERY_PARAMETERS}"
        )
        api.add_url_rule(
            item,
            "update",
            update_item,
            methods=["PATCH"],
            **options(
                "update",
                response=schemas.read,
                headers=etag,
                responses={
                    404: "No such item.",
                    409: "A unique value is taken, or a reference points to no row.",
                    **precondition,
                    **stored,
                },
            ),
        )

    if "delete" in operations:

        def delete_item(**path: t.Any) -> None:
            row = built.find(session, path[key.key], "delete", lock=True)
            built.check_if_match(row)
            session.delete(row)
            save(built, session)

        _view(delete_item, f"delete_{name}", {"return": None})
        delete_item.__doc__ = (
            f"Delete one {item_name}.\n\nWith If-Match, only if it is still the version read.{NO_QUERY_PARAMETERS}"
        )
        api.add_url_rule(
            item,
            "delete",
            delete_item,
            methods=["DELETE"],
            **options(
                "delete",
                response=None,
                responses={404: "No such item.", 409: "Other rows refer to the item.", **precondition, **stored},
            ),
        )
    return built
