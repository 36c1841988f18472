"""Substring search on text columns through an index: FTS5 trigrams on SQLite, ``pg_trgm`` on PostgreSQL.

A search for ``%term%`` in a big table reads every row unless an index holds
the columns' substrings. The plugin owning the table creates that index in a
migration, with :func:`create_search_index` (and :func:`drop_search_index` in
its downgrade); a query asks :func:`search_index_columns` which columns the
database indexes and builds its condition with :func:`search_condition`,
which uses the index when there is one and a plain scan (slow, but the same
rows) when there is none.

* SQLite: an external-content FTS5 table ``<table>_search`` with the
  ``trigram`` tokenizer (SQLite 3.34 or newer) over the searched columns, kept
  up to date by three triggers on the table. The table's primary key must be
  an integer (the FTS5 rowid).
* PostgreSQL: a GIN index ``ix_<table>_<column>_trgm`` with ``gin_trgm_ops``
  on each column, which ``ILIKE '%term%'`` uses; the ``pg_trgm`` extension is
  created when missing (in ``public`` when that schema exists).

Terms shorter than three characters hold no trigram: they are searched
without the index, on both databases.
"""

from __future__ import annotations

import typing as t
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

#: The shortest term an index of trigrams can find.
MIN_INDEXED_LENGTH = 3

_TRIGGERS = ("ai", "ad", "au")


def fts_table_name(table: str) -> str:
    """The name of the FTS5 table that indexes ``table`` on SQLite: ``<table>_search``."""
    return f"{table}_search"


def trigram_index_name(table: str, column: str) -> str:
    """The name of the trigram index on ``table.column`` on PostgreSQL: ``ix_<table>_<column>_trgm``."""
    return f"ix_{table}_{column}_trgm"


def is_search_index(table: str, index: str | None) -> bool:
    """Whether ``index`` of ``table`` is named as :func:`create_search_index` names them (for migrations' compare).

    :param table: the table's name.
    :param index: the index's name, as the database reflects it.
    """
    return bool(index) and str(index).startswith(f"ix_{table}_") and str(index).endswith("_trgm")


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def sqlite_has_trigrams(connection: Connection) -> bool:
    """Whether this SQLite has FTS5 and its ``trigram`` tokenizer (SQLite 3.34 or newer)."""
    try:
        with connection.begin_nested():
            connection.exec_driver_sql(
                "CREATE VIRTUAL TABLE temp.erlen_trigram_probe USING fts5(x, tokenize='trigram')"
            )
            connection.exec_driver_sql("DROP TABLE temp.erlen_trigram_probe")
    except SQLAlchemyError:
        return False
    return True


def create_search_index(connection: Connection, table: str, columns: Sequence[str], key: str = "id") -> bool:
    """Create the index that :func:`search_condition` searches ``table``'s ``columns`` through, filled with its rows.

    Call it from a migration's ``upgrade`` (``create_search_index(op.get_bind(), "users", ["email"])``).

    :param connection: the migration's connection.
    :param table: the table's name.
    :param columns: the text columns searched.
    :param key: the integer primary key column (SQLite only: the FTS5 rowid).
    :returns: whether the index was created; ``False`` when the database cannot hold one (an SQLite without
        FTS5 trigrams, a PostgreSQL without ``pg_trgm`` or the right to create it): searches then scan, and
        ``erlen check`` says so.
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        if not sqlite_has_trigrams(connection):
            return False
        fts, tb, rowid = (_quote(connection, name) for name in (fts_table_name(table), table, key))
        cols = ", ".join(_quote(connection, name) for name in columns)
        new = ", ".join(f"new.{_quote(connection, name)}" for name in columns)
        old = ", ".join(f"old.{_quote(connection, name)}" for name in columns)
        content = table.replace("'", "''")
        key_text = key.replace("'", "''")
        trigger = {suffix: _quote(connection, f"{fts_table_name(table)}_{suffix}") for suffix in _TRIGGERS}
        delete = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.{rowid}, {old});"
        insert = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.{rowid}, {new});"
        for statement in (
            f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{content}', content_rowid='{key_text}', "
            "tokenize='trigram')",
            f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
            f"CREATE TRIGGER {trigger['ai']} AFTER INSERT ON {tb} BEGIN {insert} END",
            f"CREATE TRIGGER {trigger['ad']} AFTER DELETE ON {tb} BEGIN {delete} END",
            f"CREATE TRIGGER {trigger['au']} AFTER UPDATE ON {tb} BEGIN {delete} {insert} END",
        ):
            connection.exec_driver_sql(statement)
        return True
    if dialect == "postgresql":
        schema = _trigram_schema(connection, create=True)
        if schema is None:
            return False
        for column in columns:
            connection.exec_driver_sql(
                f"CREATE INDEX IF NOT EXISTS {_quote(connection, trigram_index_name(table, column))} ON "
                f"{_quote(connection, table)} USING gin ({_quote(connection, column)} "
                f"{_quote(connection, schema)}.gin_trgm_ops)"
            )
        return True
    return False


def drop_search_index(connection: Connection, table: str, columns: Sequence[str]) -> None:
    """Drop what :func:`create_search_index` created (a migration's ``downgrade``); what is missing is skipped.

    :param connection: the migration's connection.
    :param table: the table's name.
    :param columns: the columns given to :func:`create_search_index`.
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        for suffix in _TRIGGERS:
            connection.exec_driver_sql(
                f"DROP TRIGGER IF EXISTS {_quote(connection, f'{fts_table_name(table)}_{suffix}')}"
            )
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {_quote(connection, fts_table_name(table))}")
    elif dialect == "postgresql":
        for column in columns:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {_quote(connection, trigram_index_name(table, column))}")


def _trigram_schema(connection: Connection, *, create: bool) -> str | None:
    """The schema of the ``pg_trgm`` extension; with ``create``, create it when missing (``None``: not possible)."""
    query = sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
    )
    schema = connection.execute(query).scalar()
    if schema is not None or not create:
        return t.cast("str | None", schema)
    has_public = connection.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = 'public'")).scalar()
    for _ in range(2):  # two processes may create it at once: the loser sees it made
        try:
            with connection.begin_nested():
                connection.exec_driver_sql(
                    "CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" WITH SCHEMA public" if has_public else "")
                )
        except SQLAlchemyError:
            pass
        schema = connection.execute(query).scalar()
        if schema is not None:
            return t.cast(str, schema)
    return None


def search_index_columns(connection: Connection, table: str) -> frozenset[str]:
    """The columns of ``table`` that a search index made by :func:`create_search_index` covers in this database.

    On SQLite the FTS5 table must exist with its three triggers (a migration that rebuilds the table drops
    them, and an index no longer kept up to date would miss rows: it does not count then).

    :param connection: a connection to the database.
    :param table: the table's name.
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        name = fts_table_name(table)
        rows = connection.execute(
            sa.text(
                "SELECT type, name, sql FROM sqlite_master WHERE (type = 'table' AND name = :fts) OR "
                "(type = 'trigger' AND tbl_name = :table)"
            ),
            {"fts": name, "table": table},
        ).all()
        definition = next((sql for kind, found, sql in rows if kind == "table"), None)
        triggers = {found for kind, found, _ in rows if kind == "trigger"}
        if definition is None or "trigram" not in definition or not {f"{name}_{s}" for s in _TRIGGERS} <= triggers:
            return frozenset()
        columns = connection.exec_driver_sql(f"PRAGMA table_info({_quote(connection, name)})").all()
        return frozenset(row[1] for row in columns)
    if dialect == "postgresql":
        rows = connection.execute(
            sa.text(
                "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam "
                "JOIN pg_opclass oc ON oc.oid = i.indclass[0] "
                "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
                "WHERE c.oid = to_regclass(:table) AND am.amname = 'gin' AND oc.opcname = 'gin_trgm_ops' "
                "AND i.indnatts = 1 AND i.indisvalid AND i.indpred IS NULL"
            ),
            {"table": _quote(connection, table)},
        ).all()
        return frozenset(row[0] for row in rows)
    return frozenset()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_condition(
    columns: Sequence[sa.Column[t.Any]],
    text: str,
    *,
    dialect: str,
    key: sa.ColumnElement[t.Any] | None = None,
    indexed: bool = False,
) -> sa.ColumnElement[bool]:
    """The rows where one of ``columns`` holds ``text``, ignoring case: through the search index when ``indexed``.

    :param columns: the searched columns, all of one table.
    :param text: the text searched for (a substring; ``%`` and ``_`` are plain characters).
    :param dialect: the database's dialect name.
    :param key: the table's integer primary key (needed on SQLite with ``indexed``).
    :param indexed: whether :func:`search_index_columns` found every one of ``columns`` indexed.

    Without the index, SQLite compares with ``LIKE``, which ignores the case of ASCII letters already
    (``ilike`` would compile to ``lower(x) LIKE lower(?)``, three times slower to scan); PostgreSQL uses
    ``ILIKE``, which its trigram indexes serve. On SQLite the FTS5 index folds the case of every letter,
    ``LIKE`` only of ASCII ones.
    """
    if dialect == "sqlite" and indexed and key is not None and len(text) >= MIN_INDEXED_LENGTH:
        fts = sa.table(fts_table_name(columns[0].table.name), sa.column("rowid"))
        names = " ".join('"' + column.name.replace('"', '""') + '"' for column in columns)
        phrase = '"' + text.replace('"', '""') + '"'
        quoted = '"' + fts.name.replace('"', '""') + '"'
        match = sa.literal_column(quoted).op("MATCH")(sa.bindparam(None, f"{{{names}}} : {phrase}", sa.String))
        return key.in_(sa.select(fts.c.rowid).where(match))
    pattern = f"%{_escape_like(text)}%"
    if dialect == "sqlite":
        return sa.or_(*(column.like(pattern, escape="\\") for column in columns))
    return sa.or_(*(column.ilike(pattern, escape="\\") for column in columns))


__all__ = [
    "MIN_INDEXED_LENGTH",
    "create_search_index",
    "drop_search_index",
    "fts_table_name",
    "is_search_index",
    "search_condition",
    "search_index_columns",
    "sqlite_has_trigrams",
    "trigram_index_name",
]
