"""Substring search through an index: the index finds exactly the rows a scan finds, and stays up to date."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from erlen_db.search import (
    create_search_index,
    drop_search_index,
    is_search_index,
    search_condition,
    search_index_columns,
    trigram_index_name,
)

TEXTS = [
    "Ada Lovelace",
    "ada@example.com",
    "100% sure",
    "snake_case and camelCase",
    'a "quoted" word',
    "Grace Hopper",
    "",
]


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def people(engine: sa.Engine) -> sa.Table:
    table = sa.Table(
        "people",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("note", sa.String(100)),
    )
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"name": text, "note": None} for text in TEXTS])
    return table


def found(engine: sa.Engine, table: sa.Table, text: str, *, indexed: bool) -> list[str]:
    columns = [table.c.name, table.c.note]
    condition = search_condition(columns, text, dialect=engine.dialect.name, key=table.c.id, indexed=indexed)
    with engine.connect() as connection:
        return list(connection.scalars(sa.select(table.c.name).where(condition).order_by(table.c.id)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lovelace", ["Ada Lovelace"]),
        ("ADA", ["Ada Lovelace", "ada@example.com"]),
        ("% s", ["100% sure"]),
        ("e_c", ["snake_case and camelCase"]),
        ("ke_", ["snake_case and camelCase"]),
        ('"quoted"', ['a "quoted" word']),
        ("grace hopper", ["Grace Hopper"]),
        ("nowhere", []),
        ("a", ["Ada Lovelace", "ada@example.com", "snake_case and camelCase", 'a "quoted" word', "Grace Hopper"]),
    ],
)
def test_the_index_finds_what_a_scan_finds(engine: sa.Engine, people: sa.Table, text: str, expected: list[str]):
    assert found(engine, people, text, indexed=False) == expected
    with engine.begin() as connection:
        assert create_search_index(connection, "people", ["name", "note"])
    with engine.connect() as connection:
        assert search_index_columns(connection, "people") == {"name", "note"}
    assert found(engine, people, text, indexed=True) == expected


def test_the_index_follows_inserts_updates_and_deletes(engine: sa.Engine, people: sa.Table) -> None:
    with engine.begin() as connection:
        create_search_index(connection, "people", ["name", "note"])
        connection.execute(people.insert().values(name="Katherine Johnson", note="orbital mechanics"))
        connection.execute(people.update().where(people.c.name == "Grace Hopper").values(name="Grace B. Hopper"))
        connection.execute(people.delete().where(people.c.name == "Ada Lovelace"))
    assert found(engine, people, "orbital", indexed=True) == ["Katherine Johnson"]
    assert found(engine, people, "grace hopper", indexed=True) == []
    assert found(engine, people, "B. Hop", indexed=True) == ["Grace B. Hopper"]
    assert found(engine, people, "lovelace", indexed=True) == []


def test_drop_removes_it_and_a_missing_index_covers_nothing(engine: sa.Engine, people: sa.Table) -> None:
    with engine.connect() as connection:
        assert search_index_columns(connection, "people") == frozenset()
    with engine.begin() as connection:
        create_search_index(connection, "people", ["name"])
    with engine.connect() as connection:
        assert search_index_columns(connection, "people") == {"name"}
    with engine.begin() as connection:
        drop_search_index(connection, "people", ["name"])
        drop_search_index(connection, "people", ["name"])  # what is missing is skipped
    with engine.connect() as connection:
        assert search_index_columns(connection, "people") == frozenset()


def test_an_sqlite_index_without_its_triggers_does_not_count(engine: sa.Engine, people: sa.Table) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("triggers keep the FTS5 table of SQLite up to date; PostgreSQL's indexes need none")
    with engine.begin() as connection:
        create_search_index(connection, "people", ["name"])
        # What a migration rebuilding the table (Alembic's batch mode) leaves: the triggers go with the old table.
        connection.exec_driver_sql('DROP TRIGGER "people_search_au"')
    with engine.connect() as connection:
        assert search_index_columns(connection, "people") == frozenset()


def test_sqlite_scans_with_like_not_lower_like(engine: sa.Engine, people: sa.Table) -> None:
    condition = search_condition([people.c.name], "ada", dialect=engine.dialect.name)
    sql = str(condition.compile(engine))
    if engine.dialect.name == "sqlite":
        assert "lower(" not in sql and "LIKE" in sql
    else:
        assert "ILIKE" in sql


def test_search_index_names() -> None:
    assert is_search_index("people", trigram_index_name("people", "name"))
    assert not is_search_index("people", "ix_people_name")
    assert not is_search_index("people", None)


def test_a_table_with_a_quote_in_its_name(engine: sa.Engine) -> None:
    table = sa.Table(
        'odd "name"', sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("t", sa.String(20))
    )
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"t": "needle here"}, {"t": "hay"}])
        assert create_search_index(connection, table.name, ["t"])
        assert search_index_columns(connection, table.name) == {"t"}
    condition = search_condition([table.c.t], "needle", dialect=engine.dialect.name, key=table.c.id, indexed=True)
    with engine.connect() as connection:
        assert list(connection.scalars(sa.select(table.c.t).where(condition))) == ["needle here"]
