"""Filters of a list page that are not equality on a column: a many-to-many relation, ``IS NULL``."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")

#: ``apply(statement, value)``: the ``SELECT`` narrowed to the rows that match ``value`` (one of the choices).
FilterApply = Callable[[sa.Select[t.Any], str], sa.Select[t.Any]]


@dataclass(frozen=True)
class QueryFilter:
    """A list filter with a select of choices and a function that narrows the query.

    Given to ``ModelView(filters=[...])`` beside column names. The value in the URL
    (``?f_<key>=``) must be one of the choices' values, else the filter is ignored with
    a message; ``apply`` gets it as text and adds bound conditions to the statement::

        QueryFilter(
            "role",
            "Role",
            options=lambda: [(str(role.id), role.name) for role in session.scalars(select(Role))],
            apply=lambda statement, value: statement.where(User.roles.any(Role.id == int(value))),
        )

    :param key: the URL parameter's name after ``f_``; not a column's name used as a filter too.
    :param label: shown next to the select.
    :param options: ``(value, label)`` pairs, or a function giving them per request (rows of a table).
    :param apply: narrows the statement for a value.
    """

    key: str
    label: str
    options: Sequence[tuple[str, str]] | Callable[[], Sequence[tuple[str, str]]]
    apply: FilterApply

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValueError(f"Admin filter key {self.key!r}: use lower-case letters, digits and underscores.")

    @property
    def choices(self) -> tuple[tuple[str, str], ...]:
        """The ``(value, label)`` pairs of the select (as :class:`~erlen_admin.FilterSpec` has them)."""
        found = self.options() if callable(self.options) else self.options
        return tuple((str(value), str(text)) for value, text in found)

    def coerce(self, raw: str) -> str:
        """``raw`` when it is one of the choices' values.

        :raises ValueError: it is not.
        """
        if raw not in {value for value, _ in self.choices}:
            raise ValueError(raw)
        return raw
