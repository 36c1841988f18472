"""erlen-db against Flask-SQLAlchemy: a page that loads one row, and keyset against offset pagination.

* ``page_wsgi`` and ``page_http``: requests/s of ``GET /items/<id>``, a page
  that loads one row by primary key (``get_or_404``) and renders it with a
  template. Two apps share one SQLite file of 10,000 rows, each mapping a
  model class of its own onto the same table: an ``erlen.create_app`` app with
  ``PLUGINS = ["db"]`` and a model on ``erlen_db.Model``, and a plain Flask app
  with the classic ``db = SQLAlchemy(app)`` and ``db.get_or_404``. Both render
  the same template file and are sent the same bounded pseudo-random sequence
  of ids. Measured in-process (the WSGI app called directly) and over HTTP
  (gunicorn, 1 sync worker, 127.0.0.1). Target: erlen-db / Flask-SQLAlchemy
  >= 1.0.
* ``pagination_offset`` and ``pagination_keyset``: milliseconds per call of
  ``erlen_db.paginate(..., count=False)`` and ``erlen_db.paginate_keyset`` on
  a 1,000,000-row table (100,000 with ``--quick``), 50 rows a page, at page 1
  and at page 20,000 (2,000 with ``--quick``, the last page either way). The
  keyset cursor of the deep page is made with the library's own encoding from
  the last id of the page before it. Target: keyset stays flat, keyset@deep /
  keyset@1 <= 2.0; the offset ratio is for comparison. Keyset page 2 (page 1's
  ``next_cursor``) is measured too: pages after the first decode a cursor and
  add a WHERE clause, a cost that does not grow with depth.

The page renders a template *file* (``render_template``), which Jinja compiles
once: ``render_template_string`` compiles its source on every call (Flask
does not cache it), about 1 ms here, three times the rest of the page, which
would hide the database layer this compares.

The apps are generated as real files in a temporary folder (beside the
databases), so the gunicorn workers import exactly what the in-process runs
import. Before timing, both apps must answer the same bodies for the same ids
(and 404 for a missing one), and both pagination styles the same rows.
"""

from __future__ import annotations

import importlib
import random
import statistics
import typing as t
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import flask
import harness
from harness import BenchError, Result, Target

#: Where ``run.py`` writes this module's results: ``results/db.json``.
SUITE = "db"

ERLEN = "erlen + erlen-db"
FSA = "flask-sqlalchemy"

PAGE_TARGET = Target(">=", 1.0)
#: Keyset pagination "stays flat" when its deep page costs at most this many times its first page.
FLAT_TARGET = Target("<=", 2.0)

ITEM_ROWS = 10_000
ID_SEQUENCE_LENGTH = 1_000
ID_SEED = 20_240_501
PER_PAGE = 50

ITEM_TABLE = "bench_item"
ROW_TABLE = "bench_row"
ERLEN_PAGE_APP = "erlen_db_page_app"
FSA_PAGE_APP = "flask_sqlalchemy_page_app"
ERLEN_PAGINATION_APP = "erlen_db_pagination_app"

TEMPLATE = """<!doctype html>
<title>{{ item.name }}</title>
<h1>{{ item.name }}</h1>
<dl>
  <dt>SKU</dt><dd>{{ item.sku }}</dd>
  <dt>Price</dt><dd>{{ "%.2f"|format(item.price_cents / 100) }}</dd>
  <dt>In stock</dt><dd>{{ item.stock }}</dd>
</dl>
<p>{{ item.description }}</p>
"""


@dataclass(frozen=True)
class Plan(harness.RequestPlan):
    """How much is measured; every figure is an upper bound (the request figures: ``RequestPlan``)."""

    table_rows: int
    deep_page: int
    pagination_rounds: int
    pagination_round_seconds: float
    pagination_max_calls: int


FULL = Plan(
    wsgi_rounds=40,
    wsgi_round_seconds=0.1,
    http_rounds=30,
    http_round_seconds=0.5,
    http_threads=2,
    table_rows=1_000_000,
    deep_page=20_000,
    pagination_rounds=15,
    pagination_round_seconds=0.15,
    pagination_max_calls=500,
)
QUICK = Plan(
    **harness.QUICK_REQUESTS,
    table_rows=100_000,
    deep_page=2_000,
    pagination_rounds=3,
    pagination_round_seconds=0.05,
    pagination_max_calls=100,
)


def run(quick: bool) -> list[Result]:
    """Run the db benchmarks; ``quick`` makes each a short smoke run on a 100,000-row table.

    The generated models live on the shared ``erlen_db.Model``, whose metadata
    keeps their tables: run the suite once per process, as ``run.py`` does.
    """
    plan = QUICK if quick else FULL
    with harness.module_dir("erlen-bench-db-") as root:
        results = [*bench_page(plan, root), *bench_pagination(plan, root)]
    return harness.with_plan(results, plan)


# --------------------------------------------------------------------------- requirements and versions


ERLEN_DB = ("erlen_db", "erlen-db (./extensions/db)")
FLASK_SQLALCHEMY = ("flask_sqlalchemy", "flask-sqlalchemy")


#: The distributions whose versions the results name.
DISTRIBUTIONS = ("erlen-db", "flask-sqlalchemy", "sqlalchemy")


# --------------------------------------------------------------------------- databases


def build_items(path: Path, rows: int) -> None:
    """An SQLite file with ``rows`` items, ids 1..rows, in WAL mode (as erlen-db would set it)."""
    harness.build_sqlite_table(
        path,
        table=ITEM_TABLE,
        columns={
            "id": "INTEGER PRIMARY KEY",
            "name": "VARCHAR(80) NOT NULL",
            "sku": "VARCHAR(20) NOT NULL",
            "price_cents": "INTEGER NOT NULL",
            "stock": "INTEGER NOT NULL",
            "description": "TEXT NOT NULL",
        },
        select="n, 'Item ' || n, printf('SKU-%06d', n), (n * 7919) % 100000, (n * 31) % 500, "
        "'Item ' || n || ' is a thing of some use, described in a sentence or two so that the page has text.'",
        rows=rows,
    )


def build_rows(path: Path, rows: int) -> float:
    """An SQLite file with ``rows`` rows, ids 1..rows, in one ``INSERT ... SELECT``; returns seconds taken."""
    return harness.build_sqlite_table(
        path,
        table=ROW_TABLE,
        columns={"id": "INTEGER PRIMARY KEY", "title": "VARCHAR(80) NOT NULL", "score": "INTEGER NOT NULL"},
        select="n, 'Row ' || n, (n * 7919) % 1000",
        rows=rows,
    )


# --------------------------------------------------------------------------- generated apps


def write_page_apps(root: Path, url: str) -> None:
    """The page apps, ``erlen_db_page_app`` and ``flask_sqlalchemy_page_app``, and their shared template."""
    harness.write_templates(root, {"item.html": TEMPLATE})
    harness.write_module(
        root,
        ERLEN_PAGE_APP,
        '''
        """One item page: Erlen with erlen-db."""

        from flask import render_template
        from sqlalchemy import String, Text
        from sqlalchemy.orm import Mapped, mapped_column

        import erlen
        import erlen_db
        ''',
        harness.model_class(
            "Item",
            "erlen_db.Model",
            ITEM_TABLE,
            [
                "id: Mapped[int] = mapped_column(primary_key=True)",
                "name: Mapped[str] = mapped_column(String(80))",
                "sku: Mapped[str] = mapped_column(String(20))",
                "price_cents: Mapped[int]",
                "stock: Mapped[int]",
                "description: Mapped[str] = mapped_column(Text)",
            ],
        ),
        erlen_db_app(url),
        """
        @app.get("/items/<int:ident>")
        def item(ident):
            return render_template("item.html", item=erlen_db.get_or_404(Item, ident))
        """,
    )
    harness.write_module(
        root,
        FSA_PAGE_APP,
        f'''
        """One item page: Flask with Flask-SQLAlchemy, the classic way."""

        from flask import Flask, render_template
        from flask_sqlalchemy import SQLAlchemy

        app = Flask(__name__)
        app.config["SQLALCHEMY_DATABASE_URI"] = {url!r}
        db = SQLAlchemy(app)


        class Item(db.Model):
            __tablename__ = {ITEM_TABLE!r}

            id = db.Column(db.Integer, primary_key=True)
            name = db.Column(db.String(80), nullable=False)
            sku = db.Column(db.String(20), nullable=False)
            price_cents = db.Column(db.Integer, nullable=False)
            stock = db.Column(db.Integer, nullable=False)
            description = db.Column(db.Text, nullable=False)


        @app.get("/items/<int:ident>")
        def item(ident):
            return render_template("item.html", item=db.get_or_404(Item, ident))
        ''',
    )


def write_pagination_app(root: Path, url: str) -> None:
    """The Erlen app over the pagination table, ``erlen_db_pagination_app``, with its ``Row`` model.

    :param root: the folder of the generated modules.
    :param url: the SQLAlchemy URL of the database holding the table.
    """
    harness.write_module(
        root,
        ERLEN_PAGINATION_APP,
        '''
        """An Erlen app with erlen-db over the pagination table."""

        from sqlalchemy import String
        from sqlalchemy.orm import Mapped, mapped_column

        import erlen
        import erlen_db
        ''',
        harness.model_class(
            "Row",
            "erlen_db.Model",
            ROW_TABLE,
            [
                "id: Mapped[int] = mapped_column(primary_key=True)",
                "title: Mapped[str] = mapped_column(String(80))",
                "score: Mapped[int]",
            ],
        ),
        erlen_db_app(url),
    )


def erlen_db_app(url: str) -> str:
    """The line creating both generated Erlen apps: the core and erlen-db, nothing else, on ``url``."""
    return f"app = erlen.create_app(__name__, {{'PLUGINS': ['db'], 'DB_URL': {url!r}}}, environ={{}})"


# --------------------------------------------------------------------------- the item page


def item_paths(rows: int) -> list[str]:
    """The bounded pseudo-random sequence of item pages both apps are sent, the same every run."""
    chooser = random.Random(ID_SEED)
    return [f"/items/{chooser.randint(1, rows)}" for _ in range(ID_SEQUENCE_LENGTH)]


def check_pages(apps: dict[str, flask.Flask], paths: Sequence[str], rows: int) -> bytes:
    """Fail unless both apps answer the same 200 body for each of ``paths`` and 404 past the last row.

    Returns the body of ``paths[0]``, which the gunicorn servers must answer too.
    """
    clients = {name: app.test_client() for name, app in apps.items()}
    expected = b""
    for path in [*paths[:50], "/items/1", f"/items/{rows}"]:
        bodies = {}
        for name, client in clients.items():
            response = client.get(path)
            if response.status_code != 200:
                raise BenchError(f"{name}: GET {path} answered {response.status} {response.data[:200]!r}")
            bodies[name] = response.data
        if len(set(bodies.values())) != 1:
            raise BenchError(f"GET {path}: the apps answered different bodies: {bodies!r}")
        body = bodies[ERLEN]
        ident = path.rsplit("/", 1)[1]
        if f"<h1>Item {ident}</h1>".encode() not in body or f"SKU-{int(ident):06d}".encode() not in body:
            raise BenchError(f"GET {path} answered a page that is not item {ident}: {body[:300]!r}")
        if not expected:
            expected = body
    for name, client in clients.items():
        response = client.get(f"/items/{rows + 1}")
        if response.status_code != 404:
            raise BenchError(f"{name}: GET /items/{rows + 1} (no such row) answered {response.status}, expected 404")
    return expected


def check_pool_returned(app: flask.Flask) -> None:
    """Fail unless every connection erlen-db checked out went back to the pool (the session was closed)."""
    import erlen_db

    pool = erlen_db.database_of(app).engine.pool
    checked_out = getattr(pool, "checkedout", None)
    if checked_out is not None and checked_out() != 0:
        raise BenchError(f"{ERLEN}: {checked_out()} connection(s) still checked out after the requests")


def bench_page(plan: Plan, root: Path) -> list[Result]:
    wsgi_title = f"Item page requests/s, in-process WSGI ({FSA} vs {ERLEN}: get_or_404 + template)"
    http_title = f"Item page requests/s over HTTP, gunicorn 1 sync worker ({FSA} vs {ERLEN})"
    absent = harness.missing([ERLEN_DB, FLASK_SQLALCHEMY])
    if absent:
        return harness.skipped_all({"page_wsgi": wsgi_title, "page_http": http_title}, harness.not_installed(absent))
    database = root / "items.sqlite3"
    build_items(database, ITEM_ROWS)
    write_page_apps(root, f"sqlite:///{database}")
    harness.compile_tree(root)
    apps = {FSA: harness.import_app(FSA_PAGE_APP), ERLEN: harness.import_app(ERLEN_PAGE_APP)}
    paths = item_paths(ITEM_ROWS)
    first_body = check_pages(apps, paths, ITEM_ROWS)
    common_notes = [
        f"GET /items/<id>: get_or_404 on a table of {ITEM_ROWS:,} rows (one SQLite file, in WAL mode, shared by "
        "both apps), then render_template of one small template file both apps share (compiled once; "
        "render_template_string would recompile it on every request, ~1 ms, hiding the database layer).",
        f"The ids follow one pseudo-random sequence of {ID_SEQUENCE_LENGTH:,} (seed {ID_SEED}), the same for both; "
        "before timing, both apps answered the same bodies for 52 ids and 404 for a missing one.",
        "Each library's own get_or_404: erlen-db loads by a statement built once per model, Flask-SQLAlchemy "
        "through Session.get. Engines as each library configures them by default (erlen-db: WAL and foreign keys on "
        "connect, an explicit BEGIN; Flask-SQLAlchemy: SQLAlchemy's defaults).",
    ]
    extra = {"versions": harness.versions(DISTRIBUTIONS, sqlite=True)}
    return [
        bench_page_wsgi(plan, apps, paths, wsgi_title, common_notes, extra),
        *bench_page_http(plan, root, paths, first_body, http_title, common_notes, extra),
    ]


def bench_page_wsgi(
    plan: Plan,
    apps: dict[str, flask.Flask],
    paths: Sequence[str],
    title: str,
    notes: Sequence[str],
    extra: dict[str, t.Any],
) -> Result:
    environs = [harness.wsgi_environ(path) for path in paths]
    callers = {name: harness.wsgi_caller(app, environs) for name, app in apps.items()}
    samples = harness.alternate_rates(plan, callers, max_calls=200_000)
    check_pool_returned(apps[ERLEN])
    return harness.compare_rates(
        name="page_wsgi",
        title=title,
        samples=samples,
        baseline=FSA,
        subject=ERLEN,
        target=PAGE_TARGET,
        notes=[
            "app(environ, start_response) called directly with prepared environs; every answer must be 200.",
            *notes,
        ],
        extra=extra,
    )


def bench_page_http(
    plan: Plan,
    root: Path,
    paths: Sequence[str],
    first_body: bytes,
    title: str,
    notes: Sequence[str],
    extra: dict[str, t.Any],
) -> list[Result]:
    if not harness.gunicorn_available():
        return [harness.skipped(name="page_http", title=title, reason=harness.GUNICORN_MISSING)]
    if not harness.wrk_available():
        return [harness.skipped(name="page_http", title=title, reason=harness.WRK_MISSING)]
    servers = {FSA: f"{FSA_PAGE_APP}:app", ERLEN: f"{ERLEN_PAGE_APP}:app"}
    with harness.gunicorn_servers(servers, chdir=root, expect_body=first_body, path=paths[0]) as ports:
        samples, failed = harness.alternate_http(plan, ports, paths=paths)
    return [
        harness.compare_rates(
            name="page_http",
            title=title,
            samples=samples,
            baseline=FSA,
            subject=ERLEN,
            target=PAGE_TARGET,
            notes=[
                f"{harness.load_generator(plan.http_threads)}, each request to the next id of "
                "the sequence; the sync worker closes the connection after each response.",
                harness.SHARED_CORES_NOTE,
                *notes,
            ],
            extra={**extra, "failed requests": failed},
        )
    ]


# --------------------------------------------------------------------------- pagination


def bench_pagination(plan: Plan, root: Path) -> list[Result]:
    deep = plan.deep_page
    where = f"a {plan.table_rows:,}-row SQLite table, {PER_PAGE} rows a page"
    offset_title = f"Offset pagination on {where}: erlen_db.paginate(count=False) at page 1 and page {deep:,}"
    keyset_title = f"Keyset pagination on {where}: erlen_db.paginate_keyset at page 1 and page {deep:,}"
    absent = harness.missing([ERLEN_DB])
    if absent:
        titles = {"pagination_offset": offset_title, "pagination_keyset": keyset_title}
        return harness.skipped_all(titles, harness.not_installed(absent))
    if deep * PER_PAGE > plan.table_rows:
        raise BenchError(f"page {deep} of {PER_PAGE} rows is past the end of a {plan.table_rows}-row table")

    import sqlalchemy as sa

    import erlen_db
    from erlen_db.pagination import encode_cursor

    database = root / "rows.sqlite3"
    build_seconds = build_rows(database, plan.table_rows)
    write_pagination_app(root, f"sqlite:///{database}")
    module = importlib.import_module(ERLEN_PAGINATION_APP)
    app = t.cast(flask.Flask, module.app)
    row: t.Any = module.Row

    def offset(page: int) -> list[int]:
        found = erlen_db.paginate(sa.select(row).order_by(row.id), page=page, per_page=PER_PAGE, count=False)
        return [item.id for item in found.items]

    def keyset(after: str | None) -> list[int]:
        found = erlen_db.paginate_keyset(sa.select(row), [row.id], after=after, per_page=PER_PAGE)
        return [item.id for item in found.items]

    offset_first, offset_deep = "offset, page 1", f"offset, page {deep:,}"
    keyset_first, keyset_second, keyset_deep = "keyset, page 1", "keyset, page 2", f"keyset, page {deep:,}"
    with app.app_context():
        # The deep page's cursor as a client that holds page deep - 1 has it: that page's last row, in the
        # library's own encoding (the one paginate_keyset puts in next_cursor, as checked on page 1).
        first = erlen_db.paginate_keyset(sa.select(row), [row.id], per_page=PER_PAGE)
        if first.next_cursor != encode_cursor([first.items[-1].id]):
            raise BenchError(f"paginate_keyset's next_cursor {first.next_cursor!r} is not encode_cursor([last id])")
        second_cursor, deep_cursor = first.next_cursor, encode_cursor([offset(deep - 1)[-1]])
        for page, cursor in ((1, None), (2, second_cursor), (deep, deep_cursor)):
            expected = list(range((page - 1) * PER_PAGE + 1, page * PER_PAGE + 1))
            for style, ids in (("offset", offset(page)), ("keyset", keyset(cursor))):
                if ids != expected:
                    raise BenchError(f"{style} page {page} holds ids {ids[:2]}..{ids[-2:]}, expected {expected[:2]}..")

        def measure(call: Callable[[], object]) -> Callable[[], float]:
            return lambda: harness.mean_ms(
                call, seconds=plan.pagination_round_seconds, max_calls=plan.pagination_max_calls
            )

        samples = harness.alternate(
            {
                offset_first: measure(lambda: offset(1)),
                offset_deep: measure(lambda: offset(deep)),
                keyset_first: measure(lambda: keyset(None)),
                keyset_second: measure(lambda: keyset(second_cursor)),
                keyset_deep: measure(lambda: keyset(deep_cursor)),
            },
            rounds=plan.pagination_rounds,
            max_seconds=plan.pagination_rounds * plan.pagination_round_seconds * 5 * 3,
        )

    def ratio(deep_name: str, first_name: str) -> float:
        return statistics.median(samples[deep_name]) / statistics.median(samples[first_name])

    offset_ratio, keyset_ratio = ratio(offset_deep, offset_first), ratio(keyset_deep, keyset_first)
    flat = FLAT_TARGET.met(keyset_ratio)
    common = [
        f"One app context for every call (one session, its read transaction open); each sample is the mean of up "
        f"to {plan.pagination_max_calls} calls or {plan.pagination_round_seconds:g} s, the five alternating in "
        "rounds. A call runs the query and loads the page's rows as Row objects.",
        f"The table was built once for the run ({build_seconds:.1f} s, one INSERT ... SELECT over a recursive CTE); "
        f"page {deep:,} is its last. Before timing, both styles returned the expected ids at pages 1, 2 and {deep:,}.",
    ]
    extra = {
        "versions": harness.versions(DISTRIBUTIONS, sqlite=True),
        "table rows": plan.table_rows,
        "rows per page": PER_PAGE,
    }
    return [
        harness.compare(
            name="pagination_offset",
            title=offset_title,
            unit="ms",
            samples={offset_first: samples[offset_first], offset_deep: samples[offset_deep]},
            baseline=offset_first,
            subject=offset_deep,
            higher_is_better=False,
            notes=[
                f"LIMIT {PER_PAGE + 1} OFFSET (page - 1) * {PER_PAGE}: the database reads every skipped row, so late "
                "pages get slower. No target: for comparison with keyset pagination below.",
                *common,
            ],
            extra={**extra, f"ratio keyset page {deep:,} / keyset page 1": keyset_ratio},
        ),
        harness.compare(
            name="pagination_keyset",
            title=keyset_title,
            unit="ms",
            samples={name: samples[name] for name in (keyset_first, keyset_second, keyset_deep)},
            baseline=keyset_first,
            subject=keyset_deep,
            higher_is_better=False,
            target=FLAT_TARGET,
            notes=[
                f"Criterion: keyset pagination stays flat when page {deep:,} takes at most {FLAT_TARGET.value:g} "
                "times page 1 (the target above).",
                f"The cursor of page {deep:,} is erlen_db.pagination.encode_cursor([last id of page {deep - 1:,}]), "
                "the last id read with paginate; nobody walks the pages before it. Page 2 uses page 1's next_cursor.",
                "Page 1 has no cursor: pages after it also decode one and add WHERE id > :last, a constant cost, "
                f"so page 2 shows what depth adds: compare page {deep:,} with page 2.",
                *common,
            ],
            extra={
                **extra,
                f"ratio offset page {deep:,} / offset page 1": offset_ratio,
                f"ratio keyset page {deep:,} / keyset page 2": ratio(keyset_deep, keyset_second),
                f"offset page {deep:,} / keyset page {deep:,}": ratio(offset_deep, keyset_deep),
                "verdict": f"keyset {'stays flat' if flat else 'does NOT stay flat'} "
                f"({keyset_ratio:.2f}x from page 1 to page {deep:,}, offset {offset_ratio:.1f}x)",
            },
        ),
    ]
