"""Fetching one row or answering 404."""

from __future__ import annotations

import typing as t

from flask import abort
from sqlalchemy import Select
from sqlalchemy.orm import Session

from .session import get_session

_T = t.TypeVar("_T")


def get_or_404(model: type[_T], ident: t.Any, *, session: Session | None = None, description: str | None = None) -> _T:
    """The row of ``model`` with primary key ``ident``, or a 404 response.

    :param model: a mapped class.
    :param ident: the primary key value (a tuple for composite keys).
    :param session: the session; the current app context's by default.
    :param description: the 404 page's message.
    """
    row = (session or get_session()).get(model, ident)
    if row is None:
        abort(404, description=description)
    return row


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
