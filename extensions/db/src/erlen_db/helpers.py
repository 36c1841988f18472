"""Fetching one row or answering 404."""

from __future__ import annotations

import typing as t
import uuid
import weakref

from flask import abort
from sqlalchemy import Select, bindparam, inspect, select
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.sql import sqltypes

from .columns import integer_range, python_type_of
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
    session = session if session is not None else get_session()
    mapper: Mapper[_T] = inspect(model)
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
