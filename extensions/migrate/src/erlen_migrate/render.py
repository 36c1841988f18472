"""Rendering models' server defaults and column types into revision files so that they run on every database.

Alembic renders a server default such as ``sa.func.now()`` or ``sa.true()``
compiled for the database autogenerate ran on: ``sa.text('(CURRENT_TIMESTAMP)')``
and ``sa.text('1')`` on SQLite, ``sa.text('now()')`` on PostgreSQL. A plugin
generates its migrations on one database and ships them to apps on the
others, where ``DEFAULT 1`` on a boolean column fails on PostgreSQL and
``now()`` fails on SQLite. Rendered as the expression the model holds, the
default is compiled for the database the migration runs on, as ``create_all``
would.

Column types that are not SQLAlchemy's are written with the import they
need: erlen-db's public types as ``erlen_db.UTCDateTime()`` under
``import erlen_db``, and any other type (a plugin's own ``TypeDecorator``) by
its module's dotted path, ``import <module>`` added. Alembic writes both by
their module's path without importing it, so the revision failed with a
``NameError``.
"""

from __future__ import annotations

import sys
import typing as t
import weakref

from sqlalchemy.sql import elements, functions
from sqlalchemy.sql.schema import DefaultClause
from sqlalchemy.types import TypeEngine

#: Python values a bound parameter of a default may hold and that ``repr`` writes back as source.
_LITERALS = (str, int, float, bool, type(None))


#: The types with variants whose base type Alembic renders next, by rendering context (see :func:`render_type`).
_VARIANT_BASES: weakref.WeakKeyDictionary[t.Any, set[int]] = weakref.WeakKeyDictionary()


def render_item(type_: str, obj: t.Any, autogen_context: t.Any) -> str | t.Literal[False]:
    """Alembic's ``render_item`` hook: server defaults as dialect-neutral SQLAlchemy expressions, types imported.

    :param type_: what Alembic renders (``"server_default"``, ``"type"``...).
    :param obj: the object to render.
    :param autogen_context: Alembic's rendering context, whose ``imports`` the revision file's imports join.
    :returns: the Python source, or ``False`` to let Alembic render it.
    """
    if type_ == "type" and isinstance(obj, TypeEngine):
        return render_type(obj, autogen_context)
    if type_ != "server_default" or not isinstance(obj, DefaultClause) or isinstance(obj.arg, str):
        return False
    rendered = neutral_expression(obj.arg)
    return False if rendered is None else rendered


def render_type(type_: TypeEngine[t.Any], autogen_context: t.Any) -> str | t.Literal[False]:
    """The source of a column type that is neither SQLAlchemy's nor a dialect's, its import added to the revision.

    A public type of erlen-db is written as ``erlen_db.<Name>(...)`` under
    ``import erlen_db``; another type, such as a plugin's own
    ``TypeDecorator``, as ``<module>.<Name>(...)`` under ``import <module>``:
    the module must stay importable under that name for as long as the
    revision ships. Both take their arguments from the type's ``repr``, as
    Alembic does. A type whose class is not a module-level name of its module
    (defined in a function, or in ``__main__``) is left to Alembic.

    :param type_: the column type.
    :param autogen_context: Alembic's rendering context.
    :returns: the Python source, or ``False`` to let Alembic render it.
    """
    cls = type(type_)
    module = cls.__module__
    if module.split(".")[0] == "sqlalchemy":
        return False
    if getattr(type_, "_variant_mapping", None):
        # Alembic renders a type with variants as its base type (this same object, so this hook again) followed
        # by .with_variant(...) for each: the first call leaves it to Alembic, the second renders the base.
        pending = _VARIANT_BASES.setdefault(autogen_context, set())
        if id(type_) not in pending:
            pending.add(id(type_))
            return False
        pending.discard(id(type_))
    if module.split(".")[0] == "erlen_db" and _is_erlen_db_export(cls):
        autogen_context.imports.add("import erlen_db")
        return f"erlen_db.{type_!r}"
    owner = sys.modules.get(module)
    if module == "__main__" or owner is None or getattr(owner, cls.__qualname__, None) is not cls:
        return False
    autogen_context.imports.add(f"import {module}")
    return f"{module}.{type_!r}"


def _is_erlen_db_export(cls: type) -> bool:
    """Whether ``cls`` is a public name of :mod:`erlen_db`, such as :class:`erlen_db.UTCDateTime`."""
    import erlen_db

    return cls.__name__ in erlen_db.__all__ and getattr(erlen_db, cls.__name__, None) is cls


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
