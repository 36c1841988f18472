"""Round trips and instructions of erlen-admin's list pages on PostgreSQL: figures that machine noise does not move.

Not a suite of ``run.py``: ``python bench/admin_pg_costs.py [--rows 20000] [--requests 5] [--no-callgrind]``
prints, for each page of ``bench_admin.py`` (page 1, a deep page after a keyset cursor, sorted, a search with
20 matches, a search with none), the database round trips of one request and, under callgrind, the
instructions the app's process executes per request (the server's work is not counted: PostgreSQL runs in
its own processes). The wall-clock timings of ``bench_admin.py`` on a busy machine move by tens of percent;
these repeat exactly (the instructions within a fraction of a percent), so a change's effect on the page shows
against them.

Set up as ``bench_admin.py`` does, on a smaller table: the notes table (``bench_admin.note_values``) in a
PostgreSQL schema of its own (dropped after), erlen-db's search index over the titles, ``ANALYZE``; the same
Erlen app and ``ModelView``, a superuser logged in through erlen-auth's form, its session cookie replayed on
every request. Each page is asked 6 times first (psycopg prepares a statement on its fifth run, in a round trip
of its own; the first page asks for the table's estimate, kept a minute), then counted.

A round trip is a wait for the server: libpq's trace of the connection (``PQtrace``, through psycopg) writes
every message, and each round trip ends with the server's ``ReadyForQuery``, whoever sent the request (a
``BEGIN`` psycopg sends before a transaction's first statement, a ``SAVEPOINT``, a statement, a ``ROLLBACK``).
"""

from __future__ import annotations

import argparse
import gc
import sys
import typing as t
from pathlib import Path

import bench_admin
import harness

#: Requests of each page before it is counted (see the module's documentation).
WARM_UP = 6


def build_table(url: str, rows: int) -> None:
    """Create and fill the notes table in the schema of ``url``, with its indexes and statistics.

    :param url: the SQLAlchemy URL of an empty PostgreSQL schema.
    :param rows: how many notes.
    """
    import sqlalchemy as sa

    import erlen_db

    table = bench_admin.TABLE
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE {table} (id integer PRIMARY KEY, title varchar(120) NOT NULL, body text NOT NULL, "
            "author varchar(40) NOT NULL, created timestamp NOT NULL)"
        )
        values = bench_admin.note_values(rows, postgres=True)
        # psycopg reads % as the start of a placeholder
        connection.exec_driver_sql(
            f"INSERT INTO {table} SELECT {values} FROM generate_series(1, {rows}) AS n".replace("%", "%%")
        )
        connection.exec_driver_sql(f"CREATE INDEX ix_{table}_created ON {table} (created)")
        if not erlen_db.create_search_index(connection, table, ["title"]):
            raise harness.BenchError("PostgreSQL could not create the pg_trgm index (is the extension available?)")
        connection.exec_driver_sql(f"ANALYZE {table}")
    engine.dispose()


def erlen_calls(
    url: str, root: Path, rows: int, instance: str = "instance"
) -> tuple[t.Any, dict[str, t.Callable[[], None]]]:
    """The Erlen app over ``url`` and one request of each page, its rows checked first.

    :param url: the database, with the notes table.
    :param root: the folder of the generated modules (``bench_admin.write_modules``).
    :param rows: the table's rows, for the pages' paths and expected ids.
    :param instance: the app's instance folder, under ``root``.
    """
    # The deep page is the middle one: page 501 of 1,000 on 20,000 rows, as bench_admin.py's --quick plan.
    middle = rows // bench_admin.PER_PAGE // 2 + 1
    plan = bench_admin.Plan(
        table_rows=rows, deep_page=middle, rounds=1, round_seconds=0.0, max_calls=1, counted_calls=0
    )
    app, cookie = bench_admin.make_erlen_app(url, root / instance)
    pages = bench_admin.paths(bench_admin.ERLEN, "postgresql", plan)
    expected = bench_admin.expected_ids(plan)
    for name in bench_admin.PAGES:
        shown = bench_admin.note_ids(bench_admin.fetch(app, pages[name], cookie))
        if shown != expected[name]:
            raise harness.BenchError(f"{name}: the page shows {shown[:5]}..., not {expected[name][:5]}...")
    return app, {name: bench_admin.caller(app, pages[name], cookie) for name in bench_admin.PAGES}


def round_trips(app: t.Any, call: t.Callable[[], None]) -> int:
    """The round trips of one ``call`` (a request to ``app``), counted in the trace of the connections it uses.

    :param app: the Erlen app.
    :param call: the request.
    """
    import erlen_db

    with erlen_db.count_round_trips(app) as counted:
        call()
    return counted.count


def counted_child(url: str, root: Path, rows: int, requests: int) -> None:
    """Under callgrind: warm each page up, then ask it ``requests`` times between :func:`harness.mark` calls.

    :param url: the database, with the notes table.
    :param root: the folder of the generated modules.
    :param rows: the table's rows.
    :param requests: the requests of each page counted.
    """
    _, calls = erlen_calls(url, root, rows, "instance-callgrind")
    for call in calls.values():
        for _ in range(WARM_UP):
            call()
    gc.collect()
    gc.disable()
    harness.start_instrumentation()
    harness.mark()
    for call in calls.values():
        for _ in range(requests):
            call()
        harness.mark()


def instructions(url: str, root: Path, rows: int, requests: int) -> list[float]:
    """Instructions per request of each page, counted in a subprocess under callgrind.

    :param url: the database, with the notes table.
    :param root: the folder of the generated modules.
    :param rows: the table's rows.
    :param requests: the requests of each page counted.
    """
    starter = harness.instrumentation_starter(root)
    env = harness.clean_env(PYTHONHASHSEED="0", **({"ERLEN_BENCH_CALLGRIND_STARTER": str(starter)} if starter else {}))
    parts = harness.instructions_by_part(
        [sys.executable, __file__, "--child", url, str(root), "--rows", str(rows), "--requests", str(requests)],
        marks=len(bench_admin.PAGES) + 1,
        cwd=root,
        env=env,
        timeout=1800,
        valgrind_options=["--instr-atstart=no"] if starter else [],
    )
    return [part / requests for part in parts[1 : len(bench_admin.PAGES) + 1]]


def main(argv: list[str] | None = None) -> int:
    """Print each page's round trips and, unless ``--no-callgrind``, its instructions per request.

    :param argv: the command line's arguments; ``sys.argv[1:]`` by default.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the notes table (default 20,000)")
    parser.add_argument("--requests", type=int, default=5, help="requests of each page counted by callgrind")
    parser.add_argument("--no-callgrind", action="store_true", help="count the round trips only")
    parser.add_argument("--child", nargs=2, metavar=("URL", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        url, root = args.child
        sys.path.insert(0, root)
        counted_child(url, Path(root), args.rows, args.requests)
        return 0
    with harness.postgres_schema_url("erlen_bench_admin_pg") as url, harness.module_dir() as root:
        build_table(url, args.rows)
        bench_admin.write_modules(root, {})
        harness.compile_tree(root)
        app, calls = erlen_calls(url, root, args.rows)
        trips = {}
        for name, call in calls.items():
            for _ in range(WARM_UP):
                call()
            trips[name] = round_trips(app, call)
        counts: list[float | None] = [None] * len(bench_admin.PAGES)
        if not args.no_callgrind and harness.valgrind_available():
            counts = list(instructions(url, root, args.rows, args.requests))
    print(f"erlen-admin list pages on a {args.rows:,}-row PostgreSQL table, a superuser logged in:")
    print(f"  {'page':<12} {'round trips':>11} {'instructions/request':>22}")
    for name, count in zip(bench_admin.PAGES, counts, strict=True):
        figure = "not counted" if count is None else f"{count:,.0f}"
        print(f"  {name:<12} {trips[name]:>11} {figure:>22}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
