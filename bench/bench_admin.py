"""erlen-admin against Flask-Admin and Django's admin: the list page of a 1,000,000-row notes table.

Five pages, each answered by the three admins over the same rows:

* ``page_1``: the first page of the list, 20 rows, ordered by id.
* ``page_deep``: the page after 5,000 pages forward (rows 100,001-100,020).
  erlen-admin follows a keyset cursor, the one its own "Next" link carries (the
  cursor of the last row of page 5,000, checked against the link page 1 shows);
  Flask-Admin is asked for ``?page=5000`` (its pages count from 0) and Django
  for ``?p=5001``, as their pager links do.
* ``sorted``: the first page sorted by ``created``, an indexed column whose
  order is not the ids' (erlen-admin ``?sort=created``, Flask-Admin ``?sort=3``,
  Django ``?o=4``: their header links).
* ``search``: the first page of the notes whose title holds ``quokka``: 20 rows,
  spread over the whole table.
* ``search_none``: a search for ``zebrafish``, which no title holds.

The competitors are configured as their docs recommend for big tables and
production: Flask-Admin's ``simple_list_pager = True`` ("model interface would
not run count query"), Django's ``show_full_result_count = False`` (the full
count "can be expensive if the table contains a large number of rows") and
persistent connections (``CONN_MAX_AGE = None``), ``DEBUG = False``. Their
searches are ``LIKE '%term%'`` scans: neither offers an index for them (on PostgreSQL they read a copy of
the table, ``bench_admin_note_plain``, with the same rows and indexes but erlen-db's search index, which
PostgreSQL would otherwise use for their ``ILIKE`` too).
erlen-admin's search goes through erlen-db's search index (FTS5 trigrams on
SQLite, ``pg_trgm`` on PostgreSQL), created with
``erlen_db.create_search_index`` as a plugin's migration would.

The table ``bench_admin_note`` (id, title, body, author, created, an index on
created) is built with one ``INSERT ... SELECT`` (SQLite: a recursive CTE;
PostgreSQL: ``generate_series``) and ``ANALYZE``d. The SQLite file is cached in
the temporary folder (``erlen-bench-admin-cache``) and copied for each
contender (Django's ``auth_user`` would meet erlen-auth's). PostgreSQL: a
database ``bench_admin_<pid>`` made for the run and dropped after; erlen-admin
and Flask-Admin read it, and Django through a second admin site.

Latency: in-process WSGI calls with a prepared environ (the server's time, no
network, no browser), all page/contender pairs alternating in rounds; each
sample is the mean of a bounded number of calls, the figure the median of the
samples. Instructions: each contender's SQLite pages in a subprocess under
callgrind (``harness.instructions_by_part``), after warm-up; SQLite runs
in-process, so the database's work is counted too.

erlen-admin: ``PLUGINS = ["db", "forms", "auth", "admin", <the notes' ModelView>]``,
production-like settings, every request from a superuser logged in through
erlen-auth's form. Django: a superuser's session (``Client.force_login``).
Flask-Admin has no authentication of its own and runs without any: every
difference in access control counts against the other two.

Targets (issue 17): erlen-admin at least 3 times faster than each competitor
on the list pages, at least 10 times on the searches. Timings never fail the
run; wrong pages do.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import typing as t
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import harness
from harness import BenchError, Result

BENCH_DIR = Path(__file__).resolve().parent
TABLE = "bench_admin_note"
#: On PostgreSQL, the competitors' copy of the table, without erlen-db's search index.
PLAIN_TABLE = "bench_admin_note_plain"
PER_PAGE = 20
#: The title word of exactly 20 notes, spread over the table.
SEARCH = "quokka"
SEARCH_MATCHES = 20
#: A word no note holds.
SEARCH_NONE = "zebrafish"
#: The multiplier that scatters ``created`` (prime, so coprime with the row counts used).
SCATTER = 7919
ERLEN_PLUGIN = "erlen_bench_admin_plugin"
ERLEN = "erlen-admin"
FLASK_ADMIN = "Flask-Admin"
DJANGO = "Django admin"
PASSWORD = "admin benchmark password"
PAGES = ("page_1", "page_deep", "sorted", "search", "search_none")
#: The speed-up erlen-admin should reach over each competitor, by page.
TARGET_SPEEDUP = {"page_1": 3.0, "page_deep": 3.0, "sorted": 3.0, "search": 10.0, "search_none": 10.0}
CACHE_VERSION = 1
#: Set (not ``0``) to skip the instruction counts of a full run: on a busy machine callgrind takes the most time.
NO_CALLGRIND_VARIABLE = "ERLEN_BENCH_ADMIN_NO_CALLGRIND"


@dataclass(frozen=True)
class Plan:
    """How much is measured; every figure is an upper bound."""

    table_rows: int
    deep_page: int
    rounds: int
    round_seconds: float
    max_calls: int
    #: Requests of each page counted under callgrind (after 2 warm-up requests); none with ``--quick``.
    counted_calls: int


FULL = Plan(table_rows=1_000_000, deep_page=5_001, rounds=9, round_seconds=0.3, max_calls=40, counted_calls=2)
QUICK = Plan(table_rows=20_000, deep_page=501, rounds=2, round_seconds=0.05, max_calls=5, counted_calls=0)

#: What this suite needs, as ``(module, distribution)`` pairs.
REQUIRED = (
    ("erlen_admin", "erlen-admin (./extensions/admin)"),
    ("flask_admin", "flask-admin"),
    ("flask_sqlalchemy", "flask-sqlalchemy"),
    ("django", "django"),
)
#: The distributions whose versions the results name.
DISTRIBUTIONS = ("erlen-admin", "flask-admin", "flask-sqlalchemy", "django", "sqlalchemy", "psycopg")
#: The columns of the notes model in the SQLAlchemy apps (``harness.model_class``).
NOTE_COLUMNS = (
    "id: Mapped[int] = mapped_column(primary_key=True)",
    "title: Mapped[str] = mapped_column(sa.String(120))",
    "body: Mapped[str] = mapped_column(sa.Text)",
    "author: Mapped[str] = mapped_column(sa.String(40))",
    "created: Mapped[datetime.datetime] = mapped_column(sa.DateTime, index=True)",
)
TOPICS = ("gardens", "harbors", "canyons", "meadows", "glaciers")


def note_values(rows: int, *, postgres: bool) -> str:
    """The SQL values of note ``n`` (after ``SELECT``): 20 titles hold :data:`SEARCH`, ``created`` is scattered."""
    step = rows // SEARCH_MATCHES
    topic = "CASE n % 5 " + " ".join(f"WHEN {i} THEN '{word}'" for i, word in enumerate(TOPICS)) + " END"
    title = f"'Note ' || n || ' about ' || CASE WHEN n % {step} = 0 THEN '{SEARCH}s' ELSE {topic} END"
    body = (
        "'Body of note ' || n || ': a few sentences of plain text, as people write them, about ' || "
        f"{topic} || ' and the weather.'"
    )
    minutes = f"((n::bigint * {SCATTER}) % {rows})" if postgres else f"((n * {SCATTER}) % {rows})"
    created = (
        f"timestamp '2020-01-01 00:00:00' + {minutes} * interval '1 minute'"
        if postgres
        else f"datetime(1577836800 + {minutes} * 60, 'unixepoch')"
    )
    return f"n, {title}, {body}, 'author' || (n % 500), {created}"


def expected_ids(plan: Plan) -> dict[str, list[int]]:
    """The ids each page must show, in order."""
    rows = plan.table_rows
    inverse = pow(SCATTER, -1, rows)
    first_deep = (plan.deep_page - 1) * PER_PAGE + 1
    step = rows // SEARCH_MATCHES
    return {
        "page_1": list(range(1, PER_PAGE + 1)),
        "page_deep": list(range(first_deep, first_deep + PER_PAGE)),
        # created = (n * SCATTER) % rows minutes: the k-th earliest note is n = k * inverse (mod rows), 0 being rows.
        "sorted": [(k * inverse) % rows or rows for k in range(PER_PAGE)],
        "search": [step * i for i in range(1, SEARCH_MATCHES + 1)][:PER_PAGE],
        "search_none": [],
    }


def sqlite_file(rows: int) -> tuple[Path, float]:
    """The cached SQLite file of ``rows`` notes (built when missing) and the seconds building took (0: cached)."""

    cache = Path(tempfile.gettempdir()) / "erlen-bench-admin-cache"
    cache.mkdir(exist_ok=True)
    path = cache / f"notes-{rows}-v{CACHE_VERSION}.sqlite3"
    if path.exists():
        return path, 0.0
    building = cache / f"notes-{rows}-{os.getpid()}.building"
    building.unlink(missing_ok=True)
    try:
        seconds = _build_sqlite_file(building, rows)
    except BaseException:
        building.unlink(missing_ok=True)
        raise
    building.replace(path)
    return path, seconds


def _build_sqlite_file(building: Path, rows: int) -> float:
    """Fill the SQLite file ``building`` with ``rows`` notes, their indexes and statistics; returns the seconds."""
    import sqlalchemy as sa

    import erlen_db

    seconds = harness.build_sqlite_table(
        building,
        table=TABLE,
        columns={
            "id": "INTEGER PRIMARY KEY",
            "title": "VARCHAR(120) NOT NULL",
            "body": "TEXT NOT NULL",
            "author": "VARCHAR(40) NOT NULL",
            "created": "DATETIME NOT NULL",
        },
        select=note_values(rows, postgres=False),
        rows=rows,
        after=[f"CREATE INDEX ix_{TABLE}_created ON {TABLE} (created)"],
    )
    engine = sa.create_engine(f"sqlite:///{building}", poolclass=sa.NullPool)
    with engine.begin() as connection:
        if not erlen_db.create_search_index(connection, TABLE, ["title"]):
            raise BenchError("this SQLite has no FTS5 trigram tokenizer (3.34 or newer is needed)")
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    # One self-contained file to copy: out of WAL mode (which writes the WAL back into it).
    with contextlib.closing(sqlite3.connect(building)) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    return seconds


@contextlib.contextmanager
def postgres_database(rows: int) -> Iterator[tuple[str, float]]:
    """A database ``bench_admin_<pid>`` on the benchmarks' server holding the notes; dropped after.

    Yields its SQLAlchemy URL and the seconds building took.

    :raises BenchError: the server is not reachable (the message says "not reachable").
    """
    import time

    import sqlalchemy as sa

    import erlen_db

    server = sa.make_url(harness.POSTGRES_URL)
    name = f"bench_admin_{os.getpid()}"
    admin = sa.create_engine(
        server, connect_args={"connect_timeout": 3}, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise BenchError(
            f"PostgreSQL is not reachable at {server.render_as_string(hide_password=True)} ({reason}); "
            "set ERLEN_BENCH_POSTGRES_URL"
        ) from None
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        started = time.perf_counter()
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, title varchar(120) NOT NULL, body text NOT NULL, "
                "author varchar(40) NOT NULL, created timestamp NOT NULL)"
            )
            connection.exec_driver_sql(
                f"INSERT INTO {TABLE} SELECT {note_values(rows, postgres=True)} FROM generate_series(1, {rows}) AS n"
                # psycopg reads % as the start of a placeholder
                .replace("%", "%%")
            )
            connection.exec_driver_sql(f"CREATE INDEX ix_{TABLE}_created ON {TABLE} (created)")
            # The competitors' copy: the same rows and indexes but erlen-db's search index, which neither offers
            # (on the same table PostgreSQL would serve their ILIKE from erlen-admin's index).
            connection.exec_driver_sql(f"CREATE TABLE {PLAIN_TABLE} AS SELECT * FROM {TABLE}")
            connection.exec_driver_sql(f"ALTER TABLE {PLAIN_TABLE} ADD PRIMARY KEY (id)")
            connection.exec_driver_sql(f"CREATE INDEX ix_{PLAIN_TABLE}_created ON {PLAIN_TABLE} (created)")
            if not erlen_db.create_search_index(connection, TABLE, ["title"]):
                raise BenchError("PostgreSQL could not create the pg_trgm index (is the extension available?)")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"VACUUM ANALYZE {TABLE}")
            connection.exec_driver_sql(f"VACUUM ANALYZE {PLAIN_TABLE}")
        engine.dispose()
        yield url, time.perf_counter() - started
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def write_modules(root: Path, urls: dict[str, str]) -> None:
    """The Erlen plugin with the notes model and its admin view, and one Flask-Admin app per database.

    :param root: the folder of the generated modules.
    :param urls: database (``"sqlite"``, ``"postgresql"``) to the SQLAlchemy URL of Flask-Admin's app.
    """
    harness.write_module(
        root,
        ERLEN_PLUGIN,
        '''
        """The benchmark's Erlen plugin: the notes model and its admin view."""

        import datetime

        import sqlalchemy as sa
        from sqlalchemy.orm import Mapped, mapped_column

        import erlen
        import erlen_db

        PLUGIN = erlen.Plugin(name="benchnotes", requires=["db", "admin"])
        ''',
        harness.model_class("Note", "erlen_db.Model", TABLE, NOTE_COLUMNS),
        f"""
        @erlen.hookimpl
        def erlen_db_models():
            return [Note]


        @erlen.hookimpl
        def erlen_admin_views():
            from erlen_admin import ModelView

            return [
                ModelView(
                    Note,
                    slug="notes",
                    list_columns=["id", "title", "author", "created"],
                    sortable=["created"],
                    default_sort="id",
                    search=["title"],
                    page_sizes=[{PER_PAGE}],
                )
            ]
        """,
    )
    for database, url in urls.items():
        harness.write_module(
            root,
            f"flask_admin_bench_{database}",
            f'''
            """Flask + Flask-SQLAlchemy + Flask-Admin over the notes table ({database})."""

            import datetime

            import sqlalchemy as sa
            from flask import Flask
            from flask_admin import Admin
            from flask_admin.contrib.sqla import ModelView
            from flask_sqlalchemy import SQLAlchemy
            from sqlalchemy.orm import Mapped, mapped_column

            app = Flask(__name__)
            app.config.update(SQLALCHEMY_DATABASE_URI={url!r}, SECRET_KEY="bench")
            db = SQLAlchemy(app)
            ''',
            harness.model_class("Note", "db.Model", TABLE if database == "sqlite" else PLAIN_TABLE, NOTE_COLUMNS),
            f"""
            class NoteView(ModelView):
                column_list = ["id", "title", "author", "created"]
                column_sortable_list = ["created"]
                column_default_sort = "id"
                column_searchable_list = ["title"]
                page_size = {PER_PAGE}
                # Flask-Admin's docs: "If enabled, model interface would not run count query".
                simple_list_pager = True


            admin = Admin(app, name="bench")
            admin.add_view(NoteView(Note, db.session, endpoint="notes"))
            """,
        )


def paths(contender: str, database: str, plan: Plan) -> dict[str, str]:
    """The path of each page for ``contender`` on ``database``."""
    if contender == ERLEN:
        from erlen_db import encode_cursor

        cursor = encode_cursor([(plan.deep_page - 1) * PER_PAGE])
        base = "/admin/m/notes/"
        return {
            "page_1": base,
            "page_deep": f"{base}?sort=id&per_page={PER_PAGE}&after={cursor}&page={plan.deep_page}",
            "sorted": f"{base}?sort=created",
            "search": f"{base}?q={SEARCH}",
            "search_none": f"{base}?q={SEARCH_NONE}",
        }
    if contender == FLASK_ADMIN:
        base = "/admin/notes/"
        return {
            "page_1": base,
            "page_deep": f"{base}?page={plan.deep_page - 1}",
            "sorted": f"{base}?sort=3",  # the index of created in column_list, as its header link has it
            "search": f"{base}?search={SEARCH}",
            "search_none": f"{base}?search={SEARCH_NONE}",
        }
    base = "/admin/admin_django/note/" if database == "sqlite" else "/admin-pg/admin_django/plainnote/"
    return {
        "page_1": base,
        "page_deep": f"{base}?p={plan.deep_page}",
        "sorted": f"{base}?o=4",  # created is the 4th column of list_display
        "search": f"{base}?q={SEARCH}",
        "search_none": f"{base}?q={SEARCH_NONE}",
    }


# --------------------------------------------------------------------------- the three apps


def make_erlen_app(url: str, instance: Path) -> tuple[t.Any, str]:
    """The Erlen app over ``url`` and the session cookie of a superuser who logged in through its form."""
    import erlen
    import erlen_db

    app = erlen.create_app(
        f"erlen_bench_admin_app_{abs(hash(url))}",
        {
            "PLUGINS": ["db", "forms", "auth", "admin", ERLEN_PLUGIN],
            "DB_URL": url,
            "SECRET_KEY": "erlen-admin-benchmark-secret-key",
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
            # The superuser logs in once, untimed: cheap hashing parameters save a second.
            "AUTH_ARGON2_TIME_COST": 1,
            "AUTH_ARGON2_MEMORY_COST": 8,
            "AUTH_ARGON2_PARALLELISM": 1,
        },
        environ={},
        instance_path=str(instance),
    )
    erlen_db.database_of(app).create_all()  # the auth and audit tables; the notes table exists
    email = f"root{os.getpid()}@example.com"  # a callgrind subprocess logs in to the same database
    with app.app_context():
        from erlen_auth import create_user

        create_user(email, PASSWORD, superuser=True, confirmed=True)
    # Log in through erlen-auth's own form, as a person would: the CSRF token from the page, then POST.
    client = app.test_client()
    token = harness.csrf_token_in(client.get("/auth/login").get_data(as_text=True), ERLEN)
    answer = client.post("/auth/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    if answer.status_code != 302:
        raise BenchError(f"logging in to erlen-admin answered {answer.status_code}")
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    if cookie is None:
        raise BenchError("logging in to erlen-admin gave no session cookie")
    return app, f"{cookie.key}={cookie.value}"


def django_environment(sqlite_path: Path, postgres_url: str | None) -> dict[str, str]:
    """The variables of ``admin_django.settings``: the SQLite file and, if any, the PostgreSQL database."""
    env = {"DJANGO_SETTINGS_MODULE": "admin_django.settings", "ERLEN_BENCH_DJANGO_DB": str(sqlite_path)}
    if postgres_url:
        import sqlalchemy as sa

        url = sa.make_url(postgres_url)
        env.update(
            ERLEN_BENCH_DJANGO_POSTGRES=str(url.database),
            ERLEN_BENCH_DJANGO_POSTGRES_HOST=str(url.host or "127.0.0.1"),
            ERLEN_BENCH_DJANGO_POSTGRES_PORT=str(url.port or 5432),
            ERLEN_BENCH_DJANGO_POSTGRES_USER=str(url.username or "postgres"),
        )
    return env


def make_django_app(environment: dict[str, str]) -> tuple[t.Any, str]:
    """Django's WSGI app (its tables migrated into the SQLite file) and a superuser's session cookie.

    Django reads its settings once per process: ``environment`` must be the same on every call.
    """
    os.environ.update(environment)
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth.models import User
    from django.core.wsgi import get_wsgi_application
    from django.test import Client

    user = User.objects.create_superuser(f"root{os.getpid()}", f"root{os.getpid()}@example.com", password=None)
    client = Client()
    client.force_login(user)
    cookie = "; ".join(f"{morsel.key}={morsel.value}" for morsel in client.cookies.values())
    return get_wsgi_application(), cookie


def caller(app: t.Any, path: str, cookie: str | None) -> Callable[[], None]:
    """One request to ``path`` through the app's WSGI interface, with the session ``cookie`` if any; must answer 200."""
    return harness.wsgi_caller(app, [harness.wsgi_environ(path, headers={"Cookie": cookie} if cookie else {})])


def fetch(app: t.Any, path: str, cookie: str | None) -> str:
    """The body of ``GET path`` through the WSGI interface; it must answer 200."""
    from werkzeug.test import Client

    headers = {"Cookie": cookie} if cookie else {}
    response = Client(app, use_cookies=False).get(path, headers=headers)  # the Cookie header as given
    if response.status_code != 200:
        raise BenchError(f"GET {path} answered {response.status_code}")
    return response.get_data(as_text=True)


def note_ids(html: str) -> list[int]:
    """The ids of the rows of a list page: the numbers of the ``Note <n> about ...`` titles, in order."""
    return [int(n) for n in re.findall(r">\s*Note (\d+) about [a-z]+\s*<", html)]


# --------------------------------------------------------------------------- instructions


#: The script callgrind counts: argv is ``contender database-file count``. It sets up, warms up, then counts
#: each page's requests between harness.mark() calls.
CALLS_SCRIPT = """
import gc
import importlib
import json
import sys
from pathlib import Path

sys.path[:0] = [{root!r}, {bench!r}]
import bench_admin
import harness

contender, database_file, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
plan = bench_admin.{plan}
if contender == bench_admin.ERLEN:
    app, cookie = bench_admin.make_erlen_app(f"sqlite:///{{database_file}}", Path({root!r}) / "instance-callgrind")
elif contender == bench_admin.FLASK_ADMIN:
    app, cookie = importlib.import_module("flask_admin_bench_sqlite").app, None
else:
    app, cookie = bench_admin.make_django_app(bench_admin.django_environment(database_file, None))
pages = bench_admin.paths(contender, "sqlite", plan)
calls = [bench_admin.caller(app, pages[name], cookie) for name in bench_admin.PAGES]
for call in calls:
    call()
    call()
gc.collect()
gc.disable()
harness.start_instrumentation()
harness.mark()
for call in calls:
    for _ in range(count):
        call()
    harness.mark()
"""


def count_instructions(root: Path, contender: str, database_file: Path, plan_name: str, count: int) -> list[float]:
    """Instructions per request of each page of :data:`PAGES` for ``contender`` on its SQLite file."""
    script = root / "admin_calls.py"
    if not script.exists():
        script.write_text(CALLS_SCRIPT.format(root=str(root), bench=str(BENCH_DIR), plan=plan_name))
    starter = harness.instrumentation_starter(root)
    extra = {"ERLEN_BENCH_CALLGRIND_STARTER": str(starter)} if starter else {}
    env = harness.clean_env(PYTHONHASHSEED="0", **extra)
    parts = harness.instructions_by_part(
        [sys.executable, str(script), contender, str(database_file), str(count)],
        marks=len(PAGES) + 1,
        cwd=root,
        env=env,
        timeout=1800,
        valgrind_options=["--instr-atstart=no"] if starter else [],
    )
    return [part / count for part in parts[1 : len(PAGES) + 1]]


# --------------------------------------------------------------------------- the run


def run(quick: bool) -> list[Result]:
    """Run the admin benchmarks; ``quick`` uses a 20,000-row table and page 501 for the deep page."""
    plan = QUICK if quick else FULL
    plan_name = "QUICK" if quick else "FULL"
    titles = {
        "page_1": "Admin list page 1 (20 rows by id)",
        "page_deep": f"Admin list page {plan.deep_page:,} (after {plan.deep_page - 1:,} pages forward)",
        "sorted": "Admin list page 1 sorted by an indexed column (created)",
        "search": f"Admin search for {SEARCH!r} (20 matching rows)",
        "search_none": f"Admin search for {SEARCH_NONE!r} (no matching row)",
    }
    where = {
        "sqlite": f" on a {plan.table_rows:,}-row SQLite table: server time (ms)",
        "postgresql": f" on a {plan.table_rows:,}-row PostgreSQL table: server time (ms)",
        "instructions": f" on a {plan.table_rows:,}-row SQLite table: instructions per request (callgrind)",
    }
    absent = harness.missing(REQUIRED)
    if absent:
        return harness.skipped_all(
            {f"{name}_{kind}": titles[name] + where[kind] for name in PAGES for kind in where},
            harness.not_installed(absent),
        )
    if (plan.deep_page - 1) * PER_PAGE + PER_PAGE > plan.table_rows:
        raise BenchError(f"page {plan.deep_page} is past the end of a {plan.table_rows}-row table")

    expected = expected_ids(plan)
    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(harness.module_dir("erlen-bench-admin-"))
        cached, sqlite_seconds = sqlite_file(plan.table_rows)
        files = {}
        for contender in (ERLEN, FLASK_ADMIN, DJANGO):
            files[contender] = root / f"{contender.split()[0].lower()}.sqlite3"
            shutil.copyfile(cached, files[contender])
        postgres_url: str | None = None
        postgres_seconds = 0.0
        postgres_skip = ""
        try:
            postgres_url, postgres_seconds = stack.enter_context(postgres_database(plan.table_rows))
        except BenchError as exc:
            if "not reachable" not in str(exc):
                raise
            postgres_skip = str(exc)
        urls = {"sqlite": f"sqlite:///{files[FLASK_ADMIN]}"}
        if postgres_url:
            urls["postgresql"] = postgres_url
        write_modules(root, urls)

        # (contender, database) -> (WSGI app, session cookie)
        apps: dict[tuple[str, str], tuple[t.Any, str | None]] = {
            (ERLEN, "sqlite"): make_erlen_app(f"sqlite:///{files[ERLEN]}", root / "instance-sqlite"),
            (FLASK_ADMIN, "sqlite"): (importlib.import_module("flask_admin_bench_sqlite").app, None),
        }
        django_env = django_environment(files[DJANGO], postgres_url)
        django_app = make_django_app(django_env)
        apps[DJANGO, "sqlite"] = django_app
        if postgres_url:
            apps[ERLEN, "postgresql"] = make_erlen_app(postgres_url, root / "instance-postgresql")
            apps[FLASK_ADMIN, "postgresql"] = (importlib.import_module("flask_admin_bench_postgresql").app, None)
            apps[DJANGO, "postgresql"] = django_app

        # Every admin must show the expected rows on every page before anything is timed.
        page_paths = {key: paths(key[0], key[1], plan) for key in apps}
        for key, (app, cookie) in apps.items():
            if key[0] == ERLEN:
                # The deep page's cursor is built as erlen-admin's own "Next" link builds it: checked on page 1.
                from erlen_db import encode_cursor

                link = re.search(r'<a rel="next" href="([^"]+)"', fetch(app, page_paths[key]["page_1"], cookie))
                if link is None or encode_cursor([PER_PAGE]) not in link.group(1):
                    raise BenchError(f"erlen-admin's next link on page 1 ({key[1]}) is not the cursor of its last row")
            for name in PAGES:
                shown = note_ids(fetch(app, page_paths[key][name], cookie))
                if shown != expected[name]:
                    raise BenchError(
                        f"{key[0]} ({key[1]}) shows the wrong rows on {name}: {shown[:5]}..., "
                        f"expected {expected[name][:5]}..."
                    )

        def measure(call: Callable[[], object]) -> Callable[[], float]:
            return lambda: harness.mean_ms(call, seconds=plan.round_seconds, max_calls=plan.max_calls)

        contenders = {
            f"{key[0]} {key[1]} {name}": measure(caller(app, page_paths[key][name], cookie))
            for name in PAGES
            for key, (app, cookie) in apps.items()
        }
        samples = harness.alternate(
            contenders, rounds=plan.rounds, max_seconds=plan.rounds * plan.round_seconds * len(contenders) * 4
        )

        instructions: dict[str, list[float]] | None = None
        instructions_skip = ""
        if quick:
            instructions_skip = "not counted with --quick (callgrind takes minutes)"
        elif os.environ.get(NO_CALLGRIND_VARIABLE, "") not in ("", "0"):
            instructions_skip = f"not counted: {NO_CALLGRIND_VARIABLE} is set"
        elif harness.valgrind_available():
            instructions = {
                contender: count_instructions(root, contender, files[contender], plan_name, plan.counted_calls)
                for contender in (FLASK_ADMIN, DJANGO, ERLEN)
            }
        else:
            instructions_skip = harness.VALGRIND_MISSING

        import erlen_db

        for (contender, _), (app, _) in apps.items():
            if contender == ERLEN:
                erlen_db.database_of(app).dispose()
        for database in urls:
            module = importlib.import_module(f"flask_admin_bench_{database}")
            with module.app.app_context():
                module.db.engine.dispose()
        from django.db import connections

        connections.close_all()

    versions = harness.versions(DISTRIBUTIONS, sqlite=True)
    built = (
        f"The SQLite file was built ({sqlite_seconds:.1f} s)"
        if sqlite_seconds
        else "The SQLite file came from the cache (erlen-bench-admin-cache in the temporary folder)"
    ) + (f"; the PostgreSQL database in {postgres_seconds:.1f} s." if postgres_url else ".")
    for database in ("sqlite", "postgresql"):
        for name in PAGES:
            title = titles[name] + where[database]
            if database == "postgresql" and not postgres_url:
                results.append(harness.skipped(name=f"{name}_{database}", title=title, reason=postgres_skip))
                continue
            competitors = [FLASK_ADMIN, DJANGO]
            result = harness.compare(
                name=f"{name}_{database}",
                title=title,
                unit="ms",
                samples={c: samples[f"{c} {database} {name}"] for c in (FLASK_ADMIN, DJANGO, ERLEN)},
                baseline=FLASK_ADMIN,
                subject=ERLEN,
                higher_is_better=False,
                notes=[
                    " ".join(f"{c}: {page_paths[c, database][name]}." for c in (ERLEN, FLASK_ADMIN, DJANGO)),
                    "In-process WSGI calls with a prepared environ; each sample is the mean of up to "
                    f"{plan.max_calls} calls or {plan.round_seconds:g} s, all page/contender pairs alternating in "
                    f"rounds. {built}",
                    "Flask-Admin: simple_list_pager = True (no count query), no log-in. Django: "
                    "show_full_result_count = False, CONN_MAX_AGE = None, DEBUG = False, a superuser's session "
                    "(its paginator still counts the rows of every page). On PostgreSQL both read a copy of the "
                    "table without erlen-db's search index (their docs offer none). "
                    "erlen-admin: keyset pages, no count, search through erlen_db.create_search_index's index, "
                    "a superuser's session.",
                ],
                extra={"versions": versions, "table rows": plan.table_rows, "rows per page": PER_PAGE},
            )
            add_target(result, name, competitors)
            results.append(result)
    for index, name in enumerate(PAGES):
        title = titles[name] + where["instructions"]
        if instructions is None:
            results.append(harness.skipped(name=f"{name}_instructions", title=title, reason=instructions_skip))
            continue
        result = harness.compare(
            name=f"{name}_instructions",
            title=title,
            unit="instructions/request",
            samples={c: [instructions[c][index]] for c in (FLASK_ADMIN, DJANGO, ERLEN)},
            baseline=FLASK_ADMIN,
            subject=ERLEN,
            higher_is_better=False,
            notes=[
                f"callgrind, each contender in a subprocess on its SQLite file: 2 warm-up requests of each page, "
                f"then {plan.counted_calls} counted (harness.instructions_by_part); SQLite runs in-process, so its "
                "work is counted."
            ],
            extra={"table rows": plan.table_rows},
        )
        add_target(result, name, [FLASK_ADMIN, DJANGO])
        results.append(result)
    return harness.with_plan(results, plan)


def add_target(result: Result, page: str, competitors: Sequence[str]) -> None:
    """Set ``result``'s target: erlen-admin's median at most 1/N of each competitor's (N by page)."""
    medians = {c["name"]: c["median"] for c in result["contenders"]}
    speedup = TARGET_SPEEDUP[page]
    present = [c for c in competitors if c in medians]
    result["target"] = f"{ERLEN} at least {speedup:g}x faster than " + " and ".join(present)
    result["target_met"] = all(medians[ERLEN] * speedup <= medians[c] for c in present)
    result["paired_target_met"] = None
    result["extra"]["speed-up"] = ", ".join(
        f"{medians[c] / medians[ERLEN]:.1f}x over {c}" for c in present if medians[ERLEN]
    )
