"""Fetching one row or answering 404."""

from __future__ import annotations

import typing as t
import uuid
import weakref

from flask import abort
from sqlalchemy import Column, Select, Table, bindparam, inspect, select
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, instance_state
from sqlalchemy.sql import sqltypes

from .columns import integer_range, python_type_of
from .database import Database, database_of
from .session import get_session

_T = t.TypeVar("_T")

_PRIMARY_KEY_PARAMETER = "erlen_db_primary_key"

# One statement per mapper, made on first use, with whether its rows need
# uniquing. Mappers are process-wide, as is this memo of them; it holds no app's
# state. A statement object that is used again keeps its SQL cache key, which
# Session.get computes anew on every call (its statement is a fresh clone each
# time): a seventh of a one-row page's time.
_by_primary_key: weakref.WeakKeyDictionary[Mapper[t.Any], tuple[Select[t.Any], bool]] = weakref.WeakKeyDictionary()


def get(model: type[_T], ident: t.Any, *, session: Session | None = None) -> _T | None:
    """The row of ``model`` with primary key ``ident``, or ``None``: like :meth:`sqlalchemy.orm.Session.get`, faster.

    A row already in the session comes from its identity map without a query,
    as with ``Session.get``. Otherwise a model with a single-column primary key
    is loaded by a statement built once per model, which saves the statement
    building and cache-key computing ``Session.get`` repeats on every call;
    composite keys, ``None``, and sessions whose class changes how rows are
    looked up (sharded sessions) go through ``Session.get`` itself.

    :param model: a mapped class.
    :param ident: the primary key value (a tuple or dict for composite keys).
    :param session: the session; the current app context's by default.
    """
    mapper: Mapper[_T] = inspect(model)
    if session is None:
        database = database_of()
        session = database.current_session
        if session is None:
            plain = _plain_columns.get(mapper, _UNKNOWN)
            if plain is _UNKNOWN:
                plain = _plain_columns[mapper] = _columns_if_plain(mapper)
            if (
                plain is not None
                and ident is not None
                and not isinstance(ident, (tuple, list, dict))
                and not _listens_to_orm_loads(database)
            ):
                return _get_without_session(database, mapper, plain, ident)
            session = database.session
    if (
        type(session).get is not Session.get
        or type(session)._identity_lookup is not Session._identity_lookup
        or ident is None
        or isinstance(ident, (tuple, list, dict))
        or len(mapper.primary_key) != 1
        or mapper.always_refresh
        # A request's session is usually empty here: no identity key to build then.
        or (session.identity_map and mapper.identity_key_from_primary_key((ident,)) in session.identity_map)
    ):
        return session.get(model, ident)
    memo = _by_primary_key.get(mapper)
    if memo is None:
        (column,) = mapper.primary_key
        statement = select(mapper).where(column == bindparam(_PRIMARY_KEY_PARAMETER, type_=column.type))
        memo = _by_primary_key[mapper] = (statement, _joins_a_collection(mapper))
    statement, repeats_rows = memo
    result = session.execute(statement, {_PRIMARY_KEY_PARAMETER: ident})
    return (result.unique() if repeats_rows else result).scalar_one_or_none()


_UNKNOWN: t.Any = object()

# For each mapper whose instances a Core row makes as an ORM query would, the statement by primary key with
# the attributes' names in its columns' order; None for the others. Worked out once per mapper.
#: What :func:`get` reads a plain mapper's row by primary key with: the statement, the attributes' names in its
#: columns' order, the index of the key's column, and whether those attributes are all the class instruments
#: (then an instance made from a row has nothing left to load).
_PlainColumns = tuple[Select[t.Any], list[str], int, bool]

_plain_columns: weakref.WeakKeyDictionary[Mapper[t.Any], _PlainColumns | None] = weakref.WeakKeyDictionary()


def _columns_if_plain(mapper: Mapper[t.Any]) -> _PlainColumns | None:
    """The statement and attribute names :func:`get` loads ``mapper``'s rows with through Core, if it can.

    It can when loading a row by primary key is nothing but reading the columns of one table into the
    instance's attributes: one table, no inheritance or polymorphic loading, every mapped attribute a plain
    column of that table loaded at once, relationships loaded lazily (on first read), a single-column primary
    key, nothing listening to the instances' ``load`` or ``refresh`` events. Otherwise (or when a session
    listens to ORM statements, see :func:`get`) the ORM loads it.
    """
    table = mapper.local_table
    if (
        not isinstance(table, Table)
        or mapper.inherits is not None
        or mapper.polymorphic_on is not None
        or mapper.with_polymorphic
        or mapper.always_refresh
        or len(mapper.primary_key) != 1
        or mapper.primary_key[0].table is not table
        or mapper.class_manager.dispatch.load
        or mapper.class_manager.dispatch.refresh
        or any(r.lazy not in ("select", True) for r in mapper.relationships)
    ):
        return None
    columns: list[Column[t.Any]] = []
    keys: list[str] = []
    for prop in mapper.column_attrs:
        if len(prop.columns) != 1 or prop.deferred or prop.strategy_key != (("deferred", False), ("instrument", True)):
            return None
        column = prop.columns[0]
        if not isinstance(column, Column) or column.table is not table:
            return None
        columns.append(column)
        keys.append(prop.key)
    if len(mapper.attrs) != len(mapper.column_attrs) + len(mapper.relationships):
        return None  # synonyms, composites and the like: the ORM's business
    (key_column,) = mapper.primary_key
    statement = select(*columns).where(key_column == bindparam(_PRIMARY_KEY_PARAMETER, type_=key_column.type))
    complete = set(mapper.class_manager) == set(keys)
    return statement, keys, next(i for i, column in enumerate(columns) if column is key_column), complete


def _get_without_session(database: Database, mapper: Mapper[_T], plain: _PlainColumns, ident: t.Any) -> _T | None:
    """The row with primary key ``ident``, read on the app context's connection without making its session.

    The instance is made as an ORM query makes it and waits in :meth:`Database.adopt` for the session.
    """
    statement, keys, key_index, complete = plain
    adopted = database.adopted()
    if adopted:
        waiting = adopted.get(mapper.identity_key_from_primary_key((ident,)))
        if waiting is not None:
            return t.cast(_T, waiting)  # as Session.get answers from the identity map
    row = database.connection().execute(statement, {_PRIMARY_KEY_PARAMETER: ident}).first()
    if row is None:
        return None
    if adopted:
        waiting = adopted.get(mapper.identity_key_from_primary_key((row[key_index],)))
        if waiting is not None:
            return t.cast(_T, waiting)  # ident was the key's text: the row's instance, as an ORM query answers
    manager = mapper.class_manager
    instance = manager.new_instance()
    instance_dict(instance).update(zip(keys, row, strict=True))
    if complete and not manager.dispatch.expire:
        # All that make_transient_to_detached does to a new instance whose every attribute is loaded: give it
        # its identity key (the rest resets history it has not got, and expires no attribute, so only an
        # "expire" listener would see a difference: with one, it runs). About 2% of a one-row read.
        state = instance_state(instance)
        state.key = mapper.identity_key_from_primary_key((row[key_index],))
        database._adopt_state(instance, state, unloaded=False)
        return instance
    make_transient_to_detached(instance)
    database.adopt(instance)
    return instance


# Whether the sessions of each app's sessionmaker have listeners that an ORM load would call; found once per
# sessionmaker, with a session made for the purpose, on the first get() (listeners are registered at start-up).
_orm_listeners: weakref.WeakKeyDictionary[t.Any, bool] = weakref.WeakKeyDictionary()


def _listens_to_orm_loads(database: Database) -> bool:
    """Whether sessions of ``database`` run ``do_orm_execute`` or ``loaded_as_persistent`` listeners.

    Such a listener may change what a query loads (``with_loader_criteria`` of a tenant, soft deletes): then
    :func:`get` always goes through the ORM.
    """
    found = _orm_listeners.get(database.sessionmaker)
    if found is None:
        with database.sessionmaker() as probe:
            found = bool(probe.dispatch.do_orm_execute) or bool(probe.dispatch.loaded_as_persistent)
        _orm_listeners[database.sessionmaker] = found
    return found


def _joins_a_collection(mapper: Mapper[t.Any], seen: frozenset[Mapper[t.Any]] = frozenset()) -> bool:
    """Whether loading ``mapper`` joins a collection eagerly (``lazy="joined"``), which repeats its row.

    SQLAlchemy then insists on ``Result.unique()``, which costs a little on
    every load; other mappers do without. Subclasses count (a polymorphic load
    may bring their relationships), and so do joined many-to-ones that join
    collections in turn.
    """
    for each in mapper.self_and_descendants:
        for relationship in each.relationships:
            if relationship.lazy not in ("joined", False):
                continue
            if relationship.uselist:
                return True
            target = relationship.mapper
            if target not in seen and _joins_a_collection(target, seen | {mapper}):
                return True
    return False


def get_or_404(model: type[_T], ident: t.Any, *, session: Session | None = None, description: str | None = None) -> _T:
    """The row of ``model`` with primary key ``ident`` (loaded by :func:`get`), or a 404 response.

    ``ident`` may be the text of the key, as a URL holds it (``"42"``, a
    UUID's text): text that cannot be a key of the model (``"abc"`` for an
    integer or UUID key) is a 404, not a database error, and so is a number
    the key's column cannot hold (``<int:id>`` in a URL takes any number of
    digits; PostgreSQL's ``integer`` holds 32 bits, SQLite 64).

    :param model: a mapped class.
    :param ident: the primary key value (a tuple for composite keys).
    :param session: the session; the current app context's by default.
    :param description: the 404 page's message.
    """
    mapper: Mapper[_T] = inspect(model)
    if isinstance(ident, str):
        ident = _key_from_text(mapper, ident)
    if isinstance(ident, int) and not isinstance(ident, bool) and not _holds_integer(mapper, session, ident):
        # Flask's <int:id> takes any number of digits; the database would refuse a number its column
        # cannot hold with an error (a 500), and no row has such a key.
        ident = _NOT_A_KEY
    row = None if ident is _NOT_A_KEY else get(model, ident, session=session)
    if row is None:
        abort(404, description=description)
    return row


_NOT_A_KEY = object()


# The integers each mapper's one-column integer primary key holds by its type's own bounds (which every
# database keeps), or None for other keys, which are not checked: worked out once per mapper, as
# _by_primary_key is, since get_or_404 asks on every call.
_own_integer_range: weakref.WeakKeyDictionary[Mapper[t.Any], range | None] = weakref.WeakKeyDictionary()


def _holds_integer(mapper: Mapper[t.Any], session: Session | None, ident: int) -> bool:
    """Whether the one-column integer primary key of ``mapper`` can hold ``ident`` in its database.

    Only integer columns are checked. The integer type of the column bounds it (16, 32 or 64 bits) except on
    SQLite, which stores (and binds) signed 64 bits in any column: the database
    is only asked for when ``ident`` is beyond the type's bounds, so the common
    case costs no look-up. Composite keys are not checked.
    """
    try:
        own = _own_integer_range[mapper]
    except KeyError:
        own = None
        if len(mapper.primary_key) == 1 and isinstance(mapper.primary_key[0].type, sqltypes.Integer):
            # A Numeric key holds any number: the database decides.
            own = integer_range(mapper.primary_key[0], "postgresql")
        _own_integer_range[mapper] = own
    if own is None or ident in own:
        return True
    if ident not in integer_range(mapper.primary_key[0]):  # beyond what any database stores
        return False
    dialect = (session if session is not None else get_session()).get_bind(mapper=mapper).dialect.name
    return dialect == "sqlite"


def _key_from_text(mapper: Mapper[t.Any], text: str) -> t.Any:
    """``text`` as a value of ``mapper``'s one-column primary key, or ``_NOT_A_KEY``; other keys keep the text."""
    if len(mapper.primary_key) != 1:
        return text
    python_type = python_type_of(mapper.primary_key[0])
    try:
        if python_type is int:
            return int(text)  # get_or_404 checks the range
        if python_type is uuid.UUID:
            return uuid.UUID(text)
    except ValueError:
        return _NOT_A_KEY
    return text


def first_or_404(statement: Select[t.Any], *, session: Session | None = None, description: str | None = None) -> t.Any:
    """The first row of ``statement`` (its first entity), or a 404 response.

    :param statement: a ``select(Model)...`` statement.
    :param session: the session; the current app context's by default.
    :param description: the 404 page's message.
    """
    row = (session or get_session()).execute(statement.limit(1)).scalars().first()
    if row is None:
        abort(404, description=description)
    return row
