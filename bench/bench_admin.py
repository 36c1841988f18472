"""erlen-admin against Flask-Admin: the list page of a 1,000,000-row table.

Four pages, each answered by both admins over the same SQLite file, in-process
(the WSGI app called directly with a prepared environ; the server's time only,
no network, no browser):

* ``page_1``: the first page of the list, 20 rows, ordered by id.
* ``page_deep``: the page after 5,000 pages forward (rows 100,001-100,020).
  erlen-admin follows a keyset cursor, the one its own "Next" link carries: the
  cursor of the last row of page 5,000, in erlen-db's encoding, checked against
  the link page 1 really shows. Flask-Admin is asked for ``?page=5000`` (its
  pages count from 0), as its pager links do.
* ``sorted``: the first page sorted by ``score``, an indexed column
  (erlen-admin ``?sort=score``, Flask-Admin ``?sort=2``, the link of its header).
* ``search``: the first page of the rows whose title contains ``77``
  (erlen-admin ``?q=77``, Flask-Admin ``?search=77``; one word, so both look
  for the same rows).
* ``search_none``: a search for ``zzz``, which no row holds; for information,
  with no target: a substring search that matches nothing reads every row.

The table ``bench_admin_row`` (id, title ``"Row <n>"``, score ``n * 7919 % 1000``
indexed, category) is built once per run with one ``INSERT ... SELECT`` and
``ANALYZE``d, so the databases' statistics exist for both.

erlen-admin: ``erlen.create_app`` with ``PLUGINS = ["db", "forms", "auth",
"admin", <a plugin registering ModelView(Row, sortable=["score"],
search=["title"], default_sort="id")>]``, production-like settings, every
request from a superuser who logged in once through erlen-auth's form (the user is
loaded and checked on each request). Flask-Admin: Flask + Flask-SQLAlchemy +
``flask_admin.contrib.sqla.ModelView`` with the same columns, sort, search and
page size, and no authentication at all (it has none of its own): every
difference in access control counts against erlen-admin.

Target: erlen-admin's median ≤ 30 ms on each page. Flask-Admin's figures are
for comparison; each result notes the statements each admin ran for one
request (Flask-Admin runs ``SELECT count(*)`` and ``OFFSET`` on every list
page). Timings never fail the run; wrong pages do.
"""

from __future__ import annotations

import importlib
import re
import statistics
import typing as t
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import harness
from harness import BenchError, Result

TABLE = "bench_admin_row"
PER_PAGE = 20
TARGET_MS = 30.0
SEARCH = "77"
#: A term no title holds: a LIKE '%...%' search then reads the whole table, whoever runs it.
SEARCH_NONE = "zzz"
ERLEN_PLUGIN = "erlen_bench_admin_plugin"
FLASK_ADMIN_APP = "flask_admin_bench_app"
ERLEN = "erlen-admin"
PASSWORD = "admin benchmark password"
FLASK_ADMIN = "Flask-Admin"


@dataclass(frozen=True)
class Plan:
    """How much is measured; every figure is an upper bound."""

    table_rows: int
    deep_page: int
    rounds: int
    round_seconds: float
    max_calls: int


FULL = Plan(table_rows=1_000_000, deep_page=5_001, rounds=15, round_seconds=0.25, max_calls=50)
QUICK = Plan(table_rows=100_000, deep_page=2_001, rounds=3, round_seconds=0.1, max_calls=10)


#: What this suite needs, as ``(module, distribution)`` pairs.
REQUIRED = (
    ("erlen_admin", "erlen-admin (./extensions/admin)"),
    ("flask_admin", "flask-admin"),
    ("flask_sqlalchemy", "flask-sqlalchemy"),
)
#: The distributions whose versions the results name.
DISTRIBUTIONS = ("erlen-admin", "flask-admin", "flask-sqlalchemy", "sqlalchemy")
#: The columns of the row model, the same in both admins' apps (``harness.model_class``).
ROW_COLUMNS = (
    "id: Mapped[int] = mapped_column(primary_key=True)",
    "title: Mapped[str] = mapped_column(sa.String(80))",
    "score: Mapped[int] = mapped_column(index=True)",
    "category: Mapped[str] = mapped_column(sa.String(20))",
)


def build_table(path: Path, rows: int) -> float:
    """The SQLite table of ``rows`` rows with an index on ``score``, analysed; returns seconds taken."""
    return harness.build_sqlite_table(
        path,
        table=TABLE,
        columns={
            "id": "INTEGER PRIMARY KEY",
            "title": "VARCHAR(80) NOT NULL",
            "score": "INTEGER NOT NULL",
            "category": "VARCHAR(20) NOT NULL",
        },
        select="n, 'Row ' || n, (n * 7919) % 1000, 'cat-' || (n % 7)",
        rows=rows,
        after=[f"CREATE INDEX ix_{TABLE}_score ON {TABLE} (score)", "ANALYZE"],
    )


def write_modules(root: Path, url: str) -> None:
    """The Erlen plugin with the row model and its admin view, and the Flask-Admin app, both over ``url``.

    :param root: the folder of the generated modules.
    :param url: the SQLAlchemy URL of the database holding the table.
    """
    harness.write_module(
        root,
        ERLEN_PLUGIN,
        '''
        """The benchmark's Erlen plugin: the row model and its admin view."""

        import sqlalchemy as sa
        from sqlalchemy.orm import Mapped, mapped_column

        import erlen
        import erlen_db

        PLUGIN = erlen.Plugin(name="benchrows", requires=["db", "admin"])
        ''',
        harness.model_class("Row", "erlen_db.Model", TABLE, ROW_COLUMNS),
        f"""
        @erlen.hookimpl
        def erlen_db_models():
            return [Row]


        @erlen.hookimpl
        def erlen_admin_views():
            from erlen_admin import ModelView

            return [
                ModelView(
                    Row,
                    slug="rows",
                    list_columns=["id", "title", "score", "category"],
                    sortable=["score"],
                    default_sort="id",
                    search=["title"],
                    page_sizes=[{PER_PAGE}],
                )
            ]
        """,
    )
    harness.write_module(
        root,
        FLASK_ADMIN_APP,
        f'''
        """Flask + Flask-SQLAlchemy + Flask-Admin over the same table."""

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
        harness.model_class("Row", "db.Model", TABLE, ROW_COLUMNS),
        f"""
        class RowView(ModelView):
            column_list = ["id", "title", "score", "category"]
            column_sortable_list = ["score"]
            column_default_sort = "id"
            column_searchable_list = ["title"]
            page_size = {PER_PAGE}


        admin = Admin(app, name="bench")
        admin.add_view(RowView(Row, db.session, endpoint="rows"))
        """,
    )


def make_erlen_app(url: str, instance: Path) -> tuple[t.Any, str]:
    """The Erlen app and the session cookie of a logged-in superuser."""
    import erlen
    import erlen_db

    app = erlen.create_app(
        "erlen_bench_admin_app",
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
    erlen_db.database_of(app).create_all()  # the auth and audit tables; the row table exists
    with app.app_context():
        from erlen_auth import create_user

        create_user("root@example.com", PASSWORD, superuser=True, confirmed=True)
    # Log in through erlen-auth's own form, as a person would: the CSRF token from the page, then POST.
    client = app.test_client()
    token = harness.csrf_token_in(client.get("/auth/login").get_data(as_text=True), ERLEN)
    answer = client.post("/auth/login", data={"email": "root@example.com", "password": PASSWORD, "csrf_token": token})
    if answer.status_code != 302:
        raise BenchError(f"logging in answered {answer.status_code}")
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    if cookie is None:
        raise BenchError("logging in gave no session cookie")
    return app, f"{cookie.key}={cookie.value}"


def caller(app: t.Any, path: str, cookie: str | None) -> Callable[[], None]:
    """One request to ``path`` through the app's WSGI interface, with the session ``cookie`` if any; must answer 200."""
    return harness.wsgi_caller(app, [harness.wsgi_environ(path, headers={"Cookie": cookie} if cookie else {})])


def fetch(app: t.Any, path: str, cookie: str | None) -> str:
    client = app.test_client(use_cookies=False)  # the Cookie header as given
    headers = {"Cookie": cookie} if cookie else {}
    response = client.get(path, headers=headers)
    if response.status_code != 200:
        raise BenchError(f"GET {path} answered {response.status_code}")
    return response.get_data(as_text=True)


def statements_of(engine: t.Any, call: Callable[[], object]) -> list[tuple[str, t.Any]]:
    """The statements (with their parameters) ``call`` runs on ``engine``."""
    import sqlalchemy as sa

    found: list[tuple[str, t.Any]] = []

    def listen(conn: t.Any, cursor: t.Any, statement: str, parameters: t.Any, *args: t.Any) -> None:
        found.append((" ".join(statement.split()), parameters))

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    return found


def describe(statements: Sequence[tuple[str, t.Any]]) -> str:
    """How many statements ran, whether one counted rows, and the largest OFFSET (SQLite binds 0 by default)."""
    text = " ".join(statement for statement, _ in statements).lower()
    counts = "with SELECT count(*)" if "count(" in text else "no count(*)"
    skipped = 0
    for statement, parameters in statements:
        if re.search(r"offset \?\s*$", statement.lower()) and isinstance(parameters, (tuple, list)) and parameters:
            skipped = max(skipped, int(parameters[-1]))
    offset = f"OFFSET {skipped:,}" if skipped else "no rows skipped by OFFSET"
    return f"{len(statements)} statements, {counts}, {offset}"


def row_ids(html: str) -> list[int]:
    """The ids of the rows of a list page: the numbers of the ``Row <n>`` titles, in order."""
    return [int(n) for n in re.findall(r">\s*Row (\d+)\s*<", html)]


def run(quick: bool) -> list[Result]:
    """Run the admin benchmarks; ``quick`` uses a 100,000-row table and page 2,001 for the deep page."""
    plan = QUICK if quick else FULL
    names = ["page_1", "page_deep", "sorted", "search", "search_none"]
    titles = {
        "page_1": "Admin list page 1 (20 rows by id)",
        "page_deep": f"Admin list page {plan.deep_page:,} (after {plan.deep_page - 1:,} pages forward)",
        "sorted": "Admin list page 1 sorted by an indexed column (score)",
        "search": f"Admin list page 1 searching the title for {SEARCH!r}",
        "search_none": f"Admin list searching the title for {SEARCH_NONE!r}, which no row holds (no target)",
    }
    where = f" on a {plan.table_rows:,}-row SQLite table: server time, erlen-admin vs Flask-Admin"
    absent = harness.missing(REQUIRED)
    if absent:
        return harness.skipped_all({name: titles[name] + where for name in names}, harness.not_installed(absent))
    if (plan.deep_page - 1) * PER_PAGE + PER_PAGE > plan.table_rows:
        raise BenchError(f"page {plan.deep_page} is past the end of a {plan.table_rows}-row table")

    from erlen_db.pagination import encode_cursor

    with harness.module_dir("erlen-bench-admin-") as root:
        database = root / "admin.sqlite3"
        build_seconds = build_table(database, plan.table_rows)
        url = f"sqlite:///{database}"
        write_modules(root, url)
        erlen_app, cookie = make_erlen_app(url, root / "instance")
        flask_admin_app = importlib.import_module(FLASK_ADMIN_APP).app

        # The deep page's cursor, as erlen-admin's own "Next" link carries it: checked on page 1.
        first = fetch(erlen_app, "/admin/m/rows/", cookie)
        link = re.search(r'<a rel="next" href="([^"]+)"', first)
        if link is None or encode_cursor([PER_PAGE]) not in link.group(1):
            raise BenchError("erlen-admin's next link on page 1 is not the cursor of its last row")
        last_before = (plan.deep_page - 1) * PER_PAGE
        deep_cursor = encode_cursor([last_before])
        paths = {
            ERLEN: {
                "page_1": "/admin/m/rows/",
                "page_deep": f"/admin/m/rows/?sort=id&per_page={PER_PAGE}&after={deep_cursor}&page={plan.deep_page}",
                "sorted": "/admin/m/rows/?sort=score",
                "search": f"/admin/m/rows/?q={SEARCH}",
                "search_none": f"/admin/m/rows/?q={SEARCH_NONE}",
            },
            FLASK_ADMIN: {
                "page_1": "/admin/rows/",
                "page_deep": f"/admin/rows/?page={plan.deep_page - 1}",
                "sorted": "/admin/rows/?sort=2",  # the index of score in column_list, as its header link has it
                "search": f"/admin/rows/?search={SEARCH}",
                "search_none": f"/admin/rows/?search={SEARCH_NONE}",
            },
        }
        apps = {ERLEN: (erlen_app, cookie), FLASK_ADMIN: (flask_admin_app, None)}

        # Both must show the same rows (the sorted page: rows of the lowest score; the search: matching titles).
        expected_deep = list(range(last_before + 1, last_before + PER_PAGE + 1))
        shown: dict[tuple[str, str], list[int]] = {}
        for contender, (app, session_cookie) in apps.items():
            for name in names:
                shown[contender, name] = row_ids(fetch(app, paths[contender][name], session_cookie))
        for contender in apps:
            checks = {
                "page_1": shown[contender, "page_1"] == list(range(1, PER_PAGE + 1)),
                "page_deep": shown[contender, "page_deep"] == expected_deep,
                "sorted": len(shown[contender, "sorted"]) == PER_PAGE
                and all(n * 7919 % 1000 == 0 for n in shown[contender, "sorted"]),
                "search": len(shown[contender, "search"]) == PER_PAGE
                and all(SEARCH in str(n) for n in shown[contender, "search"]),
                "search_none": shown[contender, "search_none"] == [],
            }
            wrong = [name for name, ok in checks.items() if not ok]
            if wrong:
                raise BenchError(
                    f"{contender} shows the wrong rows on {', '.join(wrong)}: {shown[contender, wrong[0]][:5]}"
                )

        import erlen_db

        engines = {ERLEN: erlen_db.database_of(erlen_app).engine}
        with flask_admin_app.app_context():
            engines[FLASK_ADMIN] = importlib.import_module(FLASK_ADMIN_APP).db.engine
        queries = {
            (contender, name): describe(
                statements_of(
                    engines[contender], caller(apps[contender][0], paths[contender][name], apps[contender][1])
                )
            )
            for contender in apps
            for name in names
        }

        def measure(call: Callable[[], object]) -> Callable[[], float]:
            return lambda: harness.mean_ms(call, seconds=plan.round_seconds, max_calls=plan.max_calls)

        contenders = {
            f"{contender} {name}": measure(caller(app, paths[contender][name], session_cookie))
            for name in names
            for contender, (app, session_cookie) in apps.items()
        }
        samples = harness.alternate(
            contenders, rounds=plan.rounds, max_seconds=plan.rounds * plan.round_seconds * len(contenders) * 4
        )
        erlen_db.database_of(erlen_app).dispose()
        with flask_admin_app.app_context():
            engines[FLASK_ADMIN].dispose()

    results = []
    for name in names:
        erlen_median = statistics.median(samples[f"{ERLEN} {name}"])
        result = harness.compare(
            name=name,
            title=titles[name] + where,
            unit="ms",
            samples={contender: samples[f"{contender} {name}"] for contender in (FLASK_ADMIN, ERLEN)},
            baseline=FLASK_ADMIN,
            subject=ERLEN,
            higher_is_better=False,
            notes=[
                f"erlen-admin {paths[ERLEN][name]} ({queries[ERLEN, name]}); "
                f"Flask-Admin {paths[FLASK_ADMIN][name]} ({queries[FLASK_ADMIN, name]}).",
                "In-process WSGI calls with a prepared environ (erlen-admin's carries a superuser's session cookie; "
                f"Flask-Admin has no log-in). Each sample is the mean of up to {plan.max_calls} calls or "
                f"{plan.round_seconds:g} s; all eight page/contender pairs alternate in rounds.",
                f"The table was built once ({build_seconds:.1f} s) and ANALYZEd. Before timing, both admins showed "
                "the expected rows on every page.",
            ],
            extra={
                "versions": harness.versions(DISTRIBUTIONS, sqlite=True),
                "table rows": plan.table_rows,
                "rows per page": PER_PAGE,
            },
        )
        if name == "search_none":
            result["notes"].insert(
                0,
                "No target: with no matching row, LIKE '%term%' reads every row in both admins (no index helps a "
                "substring search); erlen-admin reads them once, Flask-Admin twice (the page, then the count).",
            )
        else:
            result["target"] = f"{ERLEN} median <= {TARGET_MS:g} ms"
            result["target_met"] = erlen_median <= TARGET_MS
            result["paired_target_met"] = None
        results.append(result)
    return harness.with_plan(results, plan)
