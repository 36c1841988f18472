"""Rendering models' server defaults into revision files so that they run on every database.

Alembic renders a server default such as ``sa.func.now()`` or ``sa.true()``
compiled for the database autogenerate ran on: ``sa.text('(CURRENT_TIMESTAMP)')``
and ``sa.text('1')`` on SQLite, ``sa.text('now()')`` on PostgreSQL. A plugin
generates its migrations on one database and ships them to apps on the
others, where ``DEFAULT 1`` on a boolean column fails on PostgreSQL and
``now()`` fails on SQLite. Rendered as the expression the model holds, the
default is compiled for the database the migration runs on, as ``create_all``
would.
"""

from __future__ import annotations

import typing as t

from sqlalchemy.sql import elements, functions
from sqlalchemy.sql.schema import DefaultClause

#: Python values a bound parameter of a default may hold and that ``repr`` writes back as source.
_LITERALS = (str, int, float, bool, type(None))


def render_item(type_: str, obj: t.Any, autogen_context: t.Any) -> str | t.Literal[False]:
    """Alembic's ``render_item`` hook: server defaults as dialect-neutral SQLAlchemy expressions.

    :param type_: what Alembic renders (``"server_default"``, ``"type"``...).
    :param obj: the object to render.
    :param autogen_context: Alembic's rendering context (unused).
    :returns: the Python source, or ``False`` to let Alembic render it.
    """
    if type_ != "server_default" or not isinstance(obj, DefaultClause) or isinstance(obj.arg, str):
        return False
    rendered = neutral_expression(obj.arg)
    return False if rendered is None else rendered


def neutral_expression(expr: t.Any) -> str | None:
    """The source of ``expr`` as SQLAlchemy constructs, or ``None`` when it holds something else.

    Covers what server defaults are made of: functions (``sa.func.now()``,
    ``sa.func.coalesce(...)``), ``sa.true()``/``sa.false()``/``sa.null()``,
    ``sa.text(...)`` and literal values. Anything else (casts, operators) is
    left to Alembic, compiled for the current database.

    :param expr: a SQL expression.
    """
    if isinstance(expr, elements.True_):
        return "sa.true()"
    if isinstance(expr, elements.False_):
        return "sa.false()"
    if isinstance(expr, elements.Null):
        return "sa.null()"
    if isinstance(expr, elements.TextClause):
        return f"sa.text({expr.text!r})"
    if isinstance(expr, elements.BindParameter):
        return f"sa.literal({expr.value!r})" if isinstance(expr.value, _LITERALS) else None
    # Only SQLAlchemy's own function classes (sa.func.now() is functions.now): sa.func.<name> would not make
    # an app's or a third party's GenericFunction subclass again.
    if isinstance(expr, functions.Function) and type(expr).__module__ == functions.__name__:
        arguments = []
        for argument in expr.clauses:
            if isinstance(argument, elements.BindParameter) and isinstance(argument.value, _LITERALS):
                arguments.append(repr(argument.value))
                continue
            rendered = neutral_expression(argument)
            if rendered is None:
                return None
            arguments.append(rendered)
        path = ".".join(["sa.func", *getattr(expr, "packagenames", ()), expr.name])
        return f"{path}({', '.join(arguments)})"
    return None
