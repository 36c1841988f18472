"""erlen-api against APIFlask and FastAPI: a list, a read and a create, on SQLite and PostgreSQL.

Three endpoints, the same in every contender, under ``/api/v1``:

* ``list``: ``GET /api/v1/items?limit=50``, the first 50 rows by id as a
  JSON array (the ``limit`` query parameter validated: 1 to 100);
* ``read``: ``GET /api/v1/items/<id>``, one row by primary key (404 when there
  is none), the ids following one pseudo-random sequence;
* ``create``: ``POST /api/v1/items`` with a JSON body validated (a title of 1 to
  80 characters, a body of at most 2,000, a priority from 0 to 5, a flag),
  inserted and committed; answers 201 with the new row.

Three contenders, each written as its documentation recommends:

* **erlen-api**: ``erlen.create_app`` with ``PLUGINS = ["db", "api"]``, an
  ``erlen_api.Api`` whose views declare pydantic models (``ItemIn`` for the
  body, ``-> list[ItemOut]`` / ``-> ItemOut`` for the response) and return
  erlen-db's ORM rows (``erlen_db.session``, ``erlen_db.get_or_404``);
  production settings (no debug, no testing: responses are not re-checked).
  Served by gunicorn, 1 sync worker.
* **APIFlask**: ``APIFlask(__name__)`` with Flask-SQLAlchemy, marshmallow
  schemas (``apiflask.Schema``, ``apiflask.fields``, ``apiflask.validators``)
  in ``@app.input`` and ``@app.output``, ``db.get_or_404``. Served by gunicorn,
  1 sync worker.
* **FastAPI**: SQLAlchemy 2 with a ``Session`` dependency (``with
  Session(engine) as session: yield session``), sync ``def`` endpoints (run in
  FastAPI's thread pool), pydantic models (``from_attributes``) as return
  annotations, ``session.refresh`` after the commit, as FastAPI's SQL tutorial
  does. Served by uvicorn, 1 worker (uvloop and httptools, uvicorn's defaults
  when installed), no access log.

Each database holds one table of :data:`ROWS` rows that all three contenders
map (each with a model class of its own): an SQLite file in WAL mode, and a
schema of its own on ``ERLEN_BENCH_POSTGRES_URL`` (skipped, with the reason,
when there is no server). Before timing, every contender must answer the same
rows for the list and for 20 reads, 404 for a missing row, 201 with the new row
for a create, and 422 for an invalid body and an invalid ``limit``.

Measured for each endpoint and database:

* ``<endpoint>_<database>_inprocess``: requests/s with the app called
  in-process, the WSGI app (erlen-api, APIFlask) with prepared environs, the
  ASGI app (FastAPI) with prepared scopes in one event loop (uvloop when
  installed, as uvicorn picks): framework overhead and the database, no server.
* ``<endpoint>_<database>_http``: requests/s over HTTP to the servers above,
  from wrk in its own process (1 thread, 2 connections) on 127.0.0.1.
* ``<endpoint>_<database>_instructions``: instructions per request in-process,
  counted by valgrind's callgrind: one run per contender and database that
  imports the app, warms up every endpoint, then makes N requests of each
  endpoint in turn, callgrind dumping its counts between them
  (:func:`harness.instructions_by_part`). The database server's work is not
  in the count (it is another process); SQLite's is.

Targets (the issue's): erlen-api / APIFlask >= 1.3 and erlen-api / FastAPI >=
1.0 in requests/s on each endpoint; the same as costs for the instruction
counts (<= 1 / 1.3 and <= 1.0).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import functools
import http.client
import importlib
import importlib.util
import itertools
import json
import random
import sys
import time
import typing as t
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import harness
from harness import BenchError, Result, Target

#: Where ``run.py`` writes this module's results: ``results/api.json``.
SUITE = "api"

ERLEN = "erlen-api"
APIFLASK = "apiflask"
FASTAPI = "fastapi"
CONTENDERS = (APIFLASK, FASTAPI, ERLEN)

APIFLASK_TARGET = Target(">=", 1.3)
FASTAPI_TARGET = Target(">=", 1.0)
#: The requests/s targets as costs: fewer instructions per request by the same factors.
APIFLASK_INSTRUCTIONS_TARGET = Target("<=", round(1 / 1.3, 2))
FASTAPI_INSTRUCTIONS_TARGET = Target("<=", 1.0)

#: The rows of the table, ids 1 to ROWS.
ROWS = 1_000
LIST_LIMIT = 50
READ_SEQUENCE_LENGTH = 1_000
READ_SEED = 20_261_202

DATABASES = {"sqlite": "SQLite file", "postgresql": "PostgreSQL"}
ENDPOINTS = {
    "list": f"GET /api/v1/items?limit={LIST_LIMIT} ({LIST_LIMIT} rows as JSON)",
    "read": "GET /api/v1/items/<id> (one row by id)",
    "create": "POST /api/v1/items (validated JSON body, insert, commit, 201)",
}

CREATE_BODY = {"title": "Buy oat milk", "body": "From the shop on the corner, before it closes.", "priority": 3}
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass(frozen=True)
class Plan(harness.RequestPlan):
    """How much is measured; every figure is an upper bound (the request figures: ``RequestPlan``).

    :param instruction_requests: the requests of each endpoint counted by callgrind (0: no counts).
    :param instruction_warmup: the requests of each endpoint before counting starts.
    """

    instruction_requests: int
    instruction_warmup: int


FULL = Plan(
    wsgi_rounds=15,
    wsgi_round_seconds=0.15,
    http_rounds=10,
    http_round_seconds=0.5,
    http_threads=2,
    instruction_requests=100,
    instruction_warmup=20,
)
QUICK = Plan(
    wsgi_rounds=2,
    wsgi_round_seconds=0.1,
    http_rounds=1,
    http_round_seconds=0.25,
    http_threads=2,
    instruction_requests=0,
    instruction_warmup=0,
)


# --------------------------------------------------------------------------- requirements and versions

REQUIRED = (
    ("erlen_db", "erlen-db (./extensions/db)"),
    ("erlen_api", "erlen-api (./extensions/api)"),
    ("apiflask", "apiflask"),
    ("flask_sqlalchemy", "flask-sqlalchemy"),
    ("fastapi", "fastapi"),
)

#: The distributions whose versions the results name.
DISTRIBUTIONS = (
    "erlen-db",
    "erlen-api",
    "pydantic",
    "pydantic-core",
    "apiflask",
    "marshmallow",
    "webargs",
    "flask-sqlalchemy",
    "fastapi",
    "starlette",
    "anyio",
    "uvicorn",
    "uvloop",
    "httptools",
    "sqlalchemy",
    "psycopg",
)


#: What :func:`measure` can measure: requests/s in-process, over HTTP, and instructions per request.
PARTS = ("inprocess", "http", "instructions")


def run(quick: bool) -> list[Result]:
    """Run the API benchmarks; ``quick`` makes each a short smoke run, without instruction counts.

    The erlen-api apps' models live on the shared ``erlen_db.Model``: run the
    suite once per process, as ``run.py`` does.
    """
    return measure(QUICK if quick else FULL, list(DATABASES), list(PARTS))


def measure(plan: Plan, databases: Sequence[str], parts: Sequence[str]) -> list[Result]:
    """The benchmarks of ``parts`` (of :data:`PARTS`) on ``databases`` (of :data:`DATABASES`), as ``plan`` says."""
    wanted = {
        name: text
        for database in databases
        for name, text in all_titles(database).items()
        if name.rsplit("_", 1)[1] in parts
    }
    absent = harness.missing(REQUIRED)
    if absent:
        return harness.with_plan(harness.skipped_all(wanted, harness.not_installed(absent)), plan)
    with harness.module_dir("erlen-bench-api-") as root, contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        if "sqlite" in databases:
            urls["sqlite"] = f"sqlite:///{root / 'items.sqlite3'}"
        results: list[Result] = []
        skipped_postgres: str | None = None
        if "postgresql" in databases:
            try:
                urls["postgresql"] = stack.enter_context(harness.postgres_schema_url("erlen_bench_api"))
            except BenchError as exc:
                if "not reachable" not in str(exc):
                    raise
                skipped_postgres = str(exc)
        for database, url in urls.items():
            build_table(url, table_of(database))
            write_apps(root, database, url)
        harness.compile_tree(root)
        for database in databases:
            if database in urls:
                results.extend(bench_database(plan, root, database, parts))
            else:
                results.extend(
                    harness.skipped(name=name, title=text, reason=t.cast(str, skipped_postgres))
                    for name, text in wanted.items()
                    if f"_{database}_" in name
                )
        if "instructions" in parts:
            results.extend(bench_instructions(plan, root, list(urls)))
    return harness.with_plan(results, plan)


def all_titles(database: str | None = None) -> dict[str, str]:
    """Every benchmark's name to its title (of one ``database``, or of all)."""
    titles = {}
    for each in [database] if database else DATABASES:
        for endpoint in ENDPOINTS:
            for transport in ("inprocess", "http", "instructions"):
                titles[f"{endpoint}_{each}_{transport}"] = title(endpoint, each, transport)
    return titles


def title(endpoint: str, database: str, transport: str) -> str:
    """The title of one benchmark in the table."""
    how = {
        "inprocess": "requests/s in-process (WSGI / ASGI app called directly)",
        "http": "requests/s over HTTP (gunicorn 1 sync worker / uvicorn 1 worker)",
        "instructions": "instructions per request in-process, callgrind",
    }[transport]
    return f"{endpoint.capitalize()}, {DATABASES[database]}: {ENDPOINTS[endpoint]}, {how}"


# --------------------------------------------------------------------------- the table


def table_of(database: str) -> str:
    """The table's name in ``database``: distinct per database, since erlen-db's models share one metadata."""
    return f"bench_api_item_{database}"


def row_values(n: int) -> dict[str, t.Any]:
    """The values of row ``n``, the same in every run."""
    return {
        "title": f"Item {n}",
        "body": f"Item {n} is a thing of some use, described in a sentence so that rows carry some text.",
        "priority": n % 6,
        "done": n % 3 == 0,
    }


def build_table(url: str, table: str) -> None:
    """Create ``table`` at ``url`` and insert :data:`ROWS` rows, ids 1 to ROWS; fail unless they are there."""
    import sqlalchemy as sa

    metadata = sa.MetaData()
    items = sa.Table(
        table,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(80), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
    )
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        metadata.create_all(engine)
        with engine.begin() as connection:
            # No ids given: the database numbers the rows 1 to ROWS, and PostgreSQL's sequence goes on from there.
            connection.execute(items.insert(), [row_values(n) for n in range(1, ROWS + 1)])
        with engine.connect() as connection:
            low, high, count = connection.execute(
                sa.select(sa.func.min(items.c.id), sa.func.max(items.c.id), sa.func.count())
            ).one()
    finally:
        engine.dispose()
    if (low, high, count) != (1, ROWS, ROWS):
        raise BenchError(f"the table {table} has ids {low} to {high} ({count} rows), expected 1 to {ROWS}")


# --------------------------------------------------------------------------- generated apps


def module_of(contender: str, database: str) -> str:
    """The generated module serving ``contender`` on ``database``."""
    return f"api_{contender.replace('-', '_')}_{database}_app"


#: The columns of the model, as every contender's model class declares them (SQLAlchemy 2 style).
MODEL_COLUMNS = [
    "id: Mapped[int] = mapped_column(primary_key=True)",
    "title: Mapped[str] = mapped_column(String(80))",
    "body: Mapped[str] = mapped_column(Text)",
    "priority: Mapped[int]",
    "done: Mapped[bool]",
]

#: The pydantic models of erlen-api and FastAPI: the same fields and constraints.
PYDANTIC_MODELS = """
class ItemIn(BaseModel):
    title: str = Field(min_length=1, max_length=80)
    body: str = Field(default="", max_length=2000)
    priority: int = Field(default=0, ge=0, le=5)
    done: bool = False


class ItemOut(BaseModel):
    {config}id: int
    title: str
    body: str
    priority: int
    done: bool
"""


def write_apps(root: Path, database: str, url: str) -> None:
    """The three contenders' apps on ``database`` (at ``url``), as modules under ``root``."""
    table = table_of(database)
    harness.write_module(
        root,
        module_of(ERLEN, database),
        '''
        """erlen-api on erlen-db: typed endpoints with pydantic models, as erlen-api's documentation shows."""

        import typing as t

        from pydantic import BaseModel, Field
        from sqlalchemy import String, Text, select
        from sqlalchemy.orm import Mapped, mapped_column

        import erlen
        import erlen_api
        import erlen_db
        ''',
        harness.model_class("Item", "erlen_db.Model", table, MODEL_COLUMNS),
        PYDANTIC_MODELS.format(config=""),
        f'''
        api = erlen_api.Api("items", version="v1")  # served under /api/v1


        @api.get("/items")
        def list_items(limit: t.Annotated[int, Field(ge=1, le=100)] = 50) -> list[ItemOut]:
            """List the items, by id."""
            return erlen_db.session.scalars(select(Item).order_by(Item.id).limit(limit)).all()


        @api.get("/items/<int:id>")
        def read_item(id: int) -> ItemOut:
            """Read an item."""
            return erlen_db.get_or_404(Item, id)


        @api.post("/items", status=201)
        def create_item(item: ItemIn) -> ItemOut:
            """Create an item."""
            row = Item(**item.model_dump())
            erlen_db.session.add(row)
            erlen_db.session.commit()
            return row


        app = erlen.create_app(__name__, {{"PLUGINS": ["db", "api"], "DB_URL": {url!r}}}, environ={{}})
        app.register_blueprint(api)


        @app.get("/ping")
        def ping():
            return "ok"
        ''',
    )
    harness.write_module(
        root,
        module_of(APIFLASK, database),
        f'''
        """APIFlask with Flask-SQLAlchemy and marshmallow schemas, as APIFlask's documentation shows."""

        from apiflask import APIFlask, Schema
        from apiflask.fields import Boolean, Integer, String
        from apiflask.validators import Length, Range
        from flask_sqlalchemy import SQLAlchemy

        app = APIFlask(__name__)
        app.config["SQLALCHEMY_DATABASE_URI"] = {url!r}
        db = SQLAlchemy(app)


        class Item(db.Model):
            __tablename__ = {table!r}

            id = db.Column(db.Integer, primary_key=True)
            title = db.Column(db.String(80), nullable=False)
            body = db.Column(db.Text, nullable=False)
            priority = db.Column(db.Integer, nullable=False)
            done = db.Column(db.Boolean, nullable=False)


        class ItemIn(Schema):
            title = String(required=True, validate=Length(1, 80))
            body = String(load_default="", validate=Length(max=2000))
            priority = Integer(load_default=0, validate=Range(0, 5))
            done = Boolean(load_default=False)


        class ItemOut(Schema):
            id = Integer()
            title = String()
            body = String()
            priority = Integer()
            done = Boolean()


        class ListQuery(Schema):
            limit = Integer(load_default=50, validate=Range(1, 100))


        @app.get("/ping")
        def ping():
            return "ok"


        @app.get("/api/v1/items")
        @app.input(ListQuery, location="query")
        @app.output(ItemOut(many=True))
        def list_items(query_data):
            """List the items, by id."""
            return db.session.scalars(db.select(Item).order_by(Item.id).limit(query_data["limit"])).all()


        @app.get("/api/v1/items/<int:id>")
        @app.output(ItemOut)
        def read_item(id):
            """Read an item."""
            return db.get_or_404(Item, id)


        @app.post("/api/v1/items")
        @app.input(ItemIn)
        @app.output(ItemOut, status_code=201)
        def create_item(json_data):
            """Create an item."""
            item = Item(**json_data)
            db.session.add(item)
            db.session.commit()
            return item
        ''',
    )
    # FastAPI's SQL tutorial: check_same_thread off for SQLite, since sync endpoints run in a thread pool.
    engine_arguments = ', connect_args={"check_same_thread": False}' if database == "sqlite" else ""
    harness.write_module(
        root,
        module_of(FASTAPI, database),
        f'''
        """FastAPI with SQLAlchemy: sync endpoints with a Session dependency, as FastAPI's documentation shows."""

        from typing import Annotated

        from fastapi import Depends, FastAPI, HTTPException, Query
        from fastapi.responses import PlainTextResponse
        from pydantic import BaseModel, ConfigDict, Field
        from sqlalchemy import String, Text, create_engine, select
        from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

        engine = create_engine({url!r}{engine_arguments})


        class Base(DeclarativeBase):
            pass
        ''',
        harness.model_class("Item", "Base", table, MODEL_COLUMNS),
        PYDANTIC_MODELS.format(config="model_config = ConfigDict(from_attributes=True)\n\n    "),
        """
        def get_session():
            with Session(engine) as session:
                yield session


        SessionDep = Annotated[Session, Depends(get_session)]

        app = FastAPI()


        @app.get("/ping", response_class=PlainTextResponse)
        def ping():
            return "ok"


        @app.get("/api/v1/items")
        def list_items(session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 50) -> list[ItemOut]:
            \"\"\"List the items, by id.\"\"\"
            return session.scalars(select(Item).order_by(Item.id).limit(limit)).all()


        @app.get("/api/v1/items/{id}")
        def read_item(id: int, session: SessionDep) -> ItemOut:
            \"\"\"Read an item.\"\"\"
            item = session.get(Item, id)
            if item is None:
                raise HTTPException(status_code=404, detail="Item not found")
            return item


        @app.post("/api/v1/items", status_code=201)
        def create_item(item: ItemIn, session: SessionDep) -> ItemOut:
            \"\"\"Create an item.\"\"\"
            row = Item(**item.model_dump())
            session.add(row)
            session.commit()
            session.refresh(row)
            return row
        """,
    )


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Call:
    """One request: method, path with its query string, body (``b""`` for none)."""

    method: str
    path: str
    body: bytes = b""

    @property
    def headers(self) -> dict[str, str]:
        return dict(JSON_HEADERS) if self.body else {"Accept": "application/json"}


@dataclass(frozen=True)
class Workload:
    """What one endpoint's benchmark sends: the requests, in turn, and the status each must answer."""

    endpoint: str
    calls: tuple[Call, ...]
    status: int


def read_ids() -> list[int]:
    """The bounded pseudo-random sequence of ids every contender is sent, the same every run."""
    chooser = random.Random(READ_SEED)
    return [chooser.randint(1, ROWS) for _ in range(READ_SEQUENCE_LENGTH)]


def workloads() -> dict[str, Workload]:
    """Each endpoint's requests."""
    return {
        "list": Workload("list", (Call("GET", f"/api/v1/items?limit={LIST_LIMIT}"),), 200),
        "read": Workload("read", tuple(Call("GET", f"/api/v1/items/{ident}") for ident in read_ids()), 200),
        "create": Workload("create", (Call("POST", "/api/v1/items", json.dumps(CREATE_BODY).encode()),), 201),
    }


# --------------------------------------------------------------------------- calling an app in-process


class InProcessApp(t.Protocol):
    """A contender's app called in-process."""

    def send(self, call: Call) -> tuple[int, bytes]:
        """One request; its status and body."""

    def measurer(self, workload: Workload, *, seconds: float, max_calls: int) -> Callable[[], float]:
        """A callable measuring requests/s of ``workload`` for one sample."""

    def repeater(self, workload: Workload) -> Callable[[int], None]:
        """A callable making ``count`` requests of ``workload``, each checked for its status.

        Everything the requests need is prepared here, before the callable runs: the callgrind script counts
        only what the callable does.
        """


class WsgiTarget:
    """A WSGI app (erlen-api, APIFlask), called with prepared environs."""

    def __init__(self, app: t.Any) -> None:
        self.app = app

    def send(self, call: Call) -> tuple[int, bytes]:
        started: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> t.Any:
            started.append(status)
            return lambda data: None

        iterable = self.app(environ(call), start_response)
        try:
            body = b"".join(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        return int(started[-1].split()[0]), body

    def caller(self, workload: Workload) -> Callable[[], None]:
        return harness.wsgi_caller(self.app, [environ(call) for call in workload.calls], expect_status=workload.status)

    def measurer(self, workload: Workload, *, seconds: float, max_calls: int) -> Callable[[], float]:
        return functools.partial(harness.rate, self.caller(workload), seconds=seconds, max_calls=max_calls)

    def repeater(self, workload: Workload) -> Callable[[int], None]:
        call = self.caller(workload)

        def repeat(count: int) -> None:
            for _ in range(count):
                call()

        return repeat


def environ(call: Call) -> dict[str, t.Any]:
    """The WSGI environ of ``call`` from 127.0.0.1, as gunicorn would make it."""
    return harness.wsgi_environ(
        call.path,
        method=call.method,
        headers=call.headers,
        body=call.body,
        base_url="http://127.0.0.1/",
        remote_addr="127.0.0.1",
    )


def loop_name() -> str:
    """The event loop :func:`new_event_loop` makes: ``uvloop`` or ``asyncio``."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """An event loop as uvicorn's default (``--loop auto``) makes one: uvloop's when it is installed."""
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        return t.cast(asyncio.AbstractEventLoop, uvloop.new_event_loop())
    return asyncio.new_event_loop()


class AsgiTarget:
    """An ASGI app (FastAPI), called with prepared scopes in one event loop, as an ASGI server calls it.

    Each request gets a copy of its prepared scope, a ``receive`` that hands
    over the body once (then waits for the response to end and reports a
    disconnect) and a ``send`` that collects the status and the body.
    """

    def __init__(self, app: t.Any, runner: asyncio.Runner) -> None:
        self.app = app
        self.runner = runner

    async def call(self, scope: Mapping[str, t.Any], body: bytes) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, t.Any]:
            if pending:
                return pending.pop()
            await finished
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, t.Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and not finished.done():
                    finished.set_result(None)

        await self.app(dict(scope), receive, send)
        return status, b"".join(chunks)

    def send(self, call: Call) -> tuple[int, bytes]:
        return self.runner.run(self.call(scope(call), call.body))

    async def _repeat(
        self, prepared: Sequence[tuple[dict[str, t.Any], bytes]], status: int, count: int, seconds: float | None
    ) -> float:
        """``count`` of the ``prepared`` requests in turn (fewer once ``seconds`` pass, checked every 100); requests/s.

        :param prepared: each request's scope and body.
        :param status: the status each must answer.
        :param count: how many requests.
        :param seconds: the time limit, if any.
        """
        turn = itertools.cycle(prepared)
        calls = 0
        started = time.perf_counter()
        deadline = started + seconds if seconds is not None else None
        while calls < count:
            batch = min(100, count - calls)
            for _ in range(batch):
                request_scope, body = next(turn)
                answered, _ = await self.call(request_scope, body)
                if answered != status:
                    raise BenchError(f"a timed request answered {answered}, expected {status}")
            calls += batch
            if deadline is not None and time.perf_counter() >= deadline:
                break
        return calls / (time.perf_counter() - started)

    def measurer(self, workload: Workload, *, seconds: float, max_calls: int) -> Callable[[], float]:
        prepared = [(scope(call), call.body) for call in workload.calls]
        return lambda: self.runner.run(self._repeat(prepared, workload.status, max_calls, seconds))

    def repeater(self, workload: Workload) -> Callable[[int], None]:
        prepared = [(scope(call), call.body) for call in workload.calls]

        def repeat(count: int) -> None:
            self.runner.run(self._repeat(prepared, workload.status, count, None))

        return repeat


def scope(call: Call) -> dict[str, t.Any]:
    """The ASGI scope of ``call`` from 127.0.0.1, as uvicorn would make it."""
    path, _, query = call.path.partition("?")
    headers = [(b"host", b"127.0.0.1"), *((k.lower().encode(), v.encode()) for k, v in call.headers.items())]
    if call.body:
        headers.append((b"content-length", str(len(call.body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": call.method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "state": {},
    }


@contextlib.contextmanager
def in_process(database: str) -> Iterator[dict[str, InProcessApp]]:
    """Each contender's app on ``database``, imported into this process, ready to be called; closed after."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        yield {
            contender: (
                AsgiTarget(harness.import_app(module_of(contender, database)), runner)
                if contender == FASTAPI
                else WsgiTarget(harness.import_app(module_of(contender, database)))
            )
            for contender in CONTENDERS
        }


# --------------------------------------------------------------------------- checking the answers


#: Sends one request to a contender; its status and body.
Send = Callable[[Call], tuple[int, bytes]]


def http_sender(port: int) -> Send:
    """Requests over HTTP to 127.0.0.1:``port``, each on a new connection."""

    def send(call: Call) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request(call.method, call.path, body=call.body or None, headers=call.headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    return send


def expected_row(ident: int) -> dict[str, t.Any]:
    return {"id": ident, **row_values(ident)}


def check_answers(senders: Mapping[str, Send], where: str) -> None:
    """Fail unless every contender answers the expected rows, 404, 201 and 422 (before timing).

    :param senders: contender name to its way of sending a request.
    :param where: in-process or over HTTP, for the messages.
    """

    def answer(name: str, send: Send, call: Call, status: int) -> t.Any:
        got, body = send(call)
        if got != status:
            raise BenchError(
                f"{name} ({where}): {call.method} {call.path} answered {got} {body[:300]!r}, expected {status}"
            )
        try:
            return json.loads(body)
        except ValueError:
            raise BenchError(f"{name} ({where}): {call.method} {call.path} answered no JSON: {body[:300]!r}") from None

    listed = [expected_row(n) for n in range(1, LIST_LIMIT + 1)]
    for name, send in senders.items():
        got = answer(name, send, Call("GET", f"/api/v1/items?limit={LIST_LIMIT}"), 200)
        if got != listed:
            raise BenchError(f"{name} ({where}): the list answered {str(got)[:300]}, expected rows 1 to {LIST_LIMIT}")
        for ident in read_ids()[:20]:
            got = answer(name, send, Call("GET", f"/api/v1/items/{ident}"), 200)
            if got != expected_row(ident):
                raise BenchError(f"{name} ({where}): item {ident} answered {got}, expected {expected_row(ident)}")
        answer(name, send, Call("GET", f"/api/v1/items/{ROWS * 1000}"), 404)
        answer(name, send, Call("GET", "/api/v1/items?limit=0"), 422)
        created = answer(name, send, Call("POST", "/api/v1/items", json.dumps(CREATE_BODY).encode()), 201)
        if (
            not isinstance(created, dict)
            or created.get("id", 0) <= ROWS
            or created
            != {
                "id": created["id"],
                **CREATE_BODY,
                "done": False,
            }
        ):
            raise BenchError(f"{name} ({where}): the create answered {created}, expected the new row")
        invalid = {**CREATE_BODY, "title": "", "priority": 9}
        answer(name, send, Call("POST", "/api/v1/items", json.dumps(invalid).encode()), 422)


# --------------------------------------------------------------------------- the benchmarks


def bench_database(plan: Plan, root: Path, database: str, parts: Sequence[str] = PARTS) -> list[Result]:
    """The in-process and HTTP benchmarks (those of ``parts``) of every endpoint on ``database``."""
    extra = {"versions": harness.versions(DISTRIBUTIONS, sqlite=database == "sqlite")}
    by_endpoint: dict[str, list[Result]] = {endpoint: [] for endpoint in ENDPOINTS}
    if "inprocess" in parts:
        with in_process(database) as targets:
            check_answers({name: target.send for name, target in targets.items()}, "in-process")
            for endpoint, workload in workloads().items():
                load_before = harness.load_average()
                samples = harness.alternate(
                    {
                        name: target.measurer(workload, seconds=plan.wsgi_round_seconds, max_calls=200_000)
                        for name, target in targets.items()
                    },
                    rounds=plan.wsgi_rounds,
                    max_seconds=plan.wsgi_rounds * plan.wsgi_round_seconds * len(targets) * 2,
                )
                by_endpoint[endpoint].append(
                    compared(
                        f"{endpoint}_{database}_inprocess",
                        title(endpoint, database, "inprocess"),
                        samples,
                        notes=[
                            "erlen-api and APIFlask: app(environ, start_response) with prepared environs; "
                            "FastAPI: await app(scope, receive, send) with prepared scopes, in one "
                            f"{loop_name()} event loop (as uvicorn picks), its sync endpoints in its thread pool. "
                            "Framework overhead and the database only: no server, no socket.",
                            *common_notes(database),
                        ],
                        extra=extra,
                        load_averages=[load_before, harness.load_average()],
                    )
                )
    if "http" in parts:
        reason = (
            harness.GUNICORN_MISSING
            if not harness.gunicorn_available()
            else harness.UVICORN_MISSING
            if not harness.uvicorn_available()
            else harness.WRK_MISSING
            if not harness.wrk_available()
            else None
        )
        if reason is not None:
            for endpoint in ENDPOINTS:
                name = f"{endpoint}_{database}_http"
                by_endpoint[endpoint].append(
                    harness.skipped(name=name, title=title(endpoint, database, "http"), reason=reason)
                )
        else:
            with servers(root, database) as ports:
                check_answers({name: http_sender(port) for name, port in ports.items()}, "over HTTP")
                for endpoint, workload in workloads().items():
                    load_before = harness.load_average()
                    samples, failed = harness.alternate_http(
                        plan,
                        ports,
                        paths=[call.path for call in workload.calls],
                        method=workload.calls[0].method,
                        body=workload.calls[0].body or None,
                        headers=dict.fromkeys(ports, workload.calls[0].headers),
                        expect_status=workload.status,
                        fail_on_error=True,
                    )
                    by_endpoint[endpoint].append(
                        compared(
                            f"{endpoint}_{database}_http",
                            title(endpoint, database, "http"),
                            samples,
                            notes=[
                                f"{harness.load_generator(plan.http_threads)}; gunicorn's "
                                "sync worker closes the connection after each response, uvicorn keeps it open "
                                "(keep-alive), so FastAPI's requests skip a TCP connect. Every answer had to have "
                                "the expected status.",
                                harness.SHARED_CORES_NOTE,
                                *common_notes(database),
                            ],
                            extra={**extra, "failed requests": failed},
                            load_averages=[load_before, harness.load_average()],
                        )
                    )
    return [result for endpoint in ENDPOINTS for result in by_endpoint[endpoint]]


@contextlib.contextmanager
def servers(root: Path, database: str) -> Iterator[dict[str, int]]:
    """Each contender's server on ``database``: gunicorn (1 sync worker) or uvicorn (1 worker); stopped after."""
    with contextlib.ExitStack() as stack:
        ports = {}
        for contender in CONTENDERS:
            serve = harness.uvicorn_server if contender == FASTAPI else harness.gunicorn_server
            ports[contender] = stack.enter_context(
                serve(f"{module_of(contender, database)}:app", chdir=root, expect_body=b"ok", path="/ping")
            )
        yield ports


def common_notes(database: str) -> list[str]:
    where = (
        "an SQLite file in WAL mode"
        if database == "sqlite"
        else "PostgreSQL (ERLEN_BENCH_POSTGRES_URL), in a schema of the run's own"
    )
    return [
        f"One table of {ROWS:,} rows in {where}, mapped by each contender's own model class. list: the first "
        f"{LIST_LIMIT} rows by id, limit validated (1 to 100); read: ids in a pseudo-random sequence of "
        f"{READ_SEQUENCE_LENGTH:,} (seed {READ_SEED}); create: a JSON body validated, inserted and committed, "
        "answered 201 with the row (the table grows during the run).",
        "erlen-api: pydantic models, erlen_db.session / get_or_404, production settings (responses not re-checked). "
        "APIFlask: marshmallow schemas in @app.input / @app.output, Flask-SQLAlchemy. FastAPI: pydantic models "
        "(from_attributes) as return annotations, sync def endpoints with a Session dependency, session.refresh "
        "after the commit (its SQL tutorial; Flask-SQLAlchemy also expires rows on commit, erlen-db does not).",
        "Before timing, every contender answered the same rows for the list and 20 reads, 404 for a missing row, "
        "201 with the new row for a create, and 422 for an invalid body and an invalid limit.",
    ]


def compared(
    name: str,
    result_title: str,
    samples: Mapping[str, Sequence[float]],
    *,
    notes: Sequence[str],
    extra: Mapping[str, t.Any],
    load_averages: Sequence[float],
) -> Result:
    """The requests/s comparison: erlen-api against APIFlask (the target of the table), then against FastAPI.

    :param load_averages: the machine's 1-minute load averages before and after the samples: above
        :data:`harness.LOAD_PER_CPU_LIMIT` per CPU, the targets are not judged (the table says why).
    """
    result = harness.compare_rates(
        name=name,
        title=result_title,
        samples=samples,
        baseline=APIFLASK,
        subject=ERLEN,
        target=APIFLASK_TARGET,
        notes=notes,
        extra={**extra, "load average (1 min) before, after": ", ".join(f"{value:.2f}" for value in load_averages)},
    )
    return with_second_target(harness.judged(result, load_averages), samples, FASTAPI, FASTAPI_TARGET)


def with_second_target(result: Result, samples: Mapping[str, Sequence[float]], other: str, target: Target) -> Result:
    """``result`` with the ratio of erlen-api to a second contender, ``other``, and whether it meets ``target``.

    Stored as ``second`` in the JSON and shown as a line of the table.
    """
    second = harness.compare(
        name=result["name"],
        title=result["title"],
        unit=result["unit"],
        samples={other: samples[other], ERLEN: samples[ERLEN]},
        baseline=other,
        subject=ERLEN,
        higher_is_better=result["higher_is_better"],
        target=target,
    )
    result["second"] = {
        "baseline": other,
        "ratio": second["ratio"],
        "paired_ratio": second["paired_ratio"],
        "target": second["target"],
        "target_met": second["target_met"],
        "paired_target_met": second["paired_target_met"],
    }
    line = f"{second['ratio']:.3f}"
    if second["paired_ratio"] is not None:
        line += f" (median of per-round ratios {second['paired_ratio']:.3f})"
    line += f"   target {target}: " + harness.verdict(
        second["target_met"], second["paired_target_met"], result.get("too_loaded")
    )
    result["extra"] = {f"ratio {ERLEN} / {other}": line, **result["extra"]}
    return result


# --------------------------------------------------------------------------- instruction counts

#: The script counted by callgrind: one contender's app on one database, imported, checked and warmed up, then
#: N requests of each endpoint in turn, each group ended by harness.mark() (callgrind dumps its counts there).
CALLS_SCRIPT = """
import sys

sys.path[:0] = [{root!r}, {bench!r}]
import bench_api
import harness

contender, database, count, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with bench_api.in_process_one(contender, database) as target:
    repeaters = [target.repeater(workload) for workload in bench_api.workloads().values()]
    for repeat in repeaters:
        repeat(warmup)
    for repeat in repeaters:
        harness.mark()
        repeat(count)
    harness.mark()
"""


@contextlib.contextmanager
def in_process_one(contender: str, database: str) -> Iterator[InProcessApp]:
    """One contender's app on ``database``, imported and ready to be called (for the callgrind script)."""
    app = harness.import_app(module_of(contender, database))
    if contender != FASTAPI:
        yield WsgiTarget(app)
        return
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        yield AsgiTarget(app, runner)


def bench_instructions(plan: Plan, root: Path, databases: Sequence[str]) -> list[Result]:
    """Instructions per request of each endpoint, contender and database, counted by callgrind."""
    reason = None
    if not harness.valgrind_available():
        reason = harness.VALGRIND_MISSING
    elif not plan.instruction_requests:
        reason = "not counted in a --quick run (each count is a run under valgrind: minutes)"
    if reason is not None:
        return [
            harness.skipped(
                name=f"{endpoint}_{database}_instructions",
                title=title(endpoint, database, "instructions"),
                reason=reason,
            )
            for database in databases
            for endpoint in ENDPOINTS
        ]
    script = root / "api_calls.py"
    script.write_text(CALLS_SCRIPT.format(root=str(root), bench=str(Path(__file__).resolve().parent)))
    env = harness.clean_env(PYTHONHASHSEED="0")
    counts: dict[tuple[str, str], list[int]] = {}

    def count(contender: str, database: str) -> list[int]:
        argv = [
            sys.executable,
            str(script),
            contender,
            database,
            str(plan.instruction_requests),
            str(plan.instruction_warmup),
        ]
        return harness.instructions_by_part(argv, marks=len(ENDPOINTS) + 1, cwd=root, env=env, timeout=1800)

    # The databases' runs in parallel (a contender on each at once: no two writers of one SQLite file); the
    # counts do not depend on what else the machine does.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(databases)) as pool:
        for contender in CONTENDERS:
            futures = {database: pool.submit(count, contender, database) for database in databases}
            for database, future in futures.items():
                counts[contender, database] = future.result()
    results = []
    for database in databases:
        for index, endpoint in enumerate(ENDPOINTS):
            samples = {
                contender: [counts[contender, database][index + 1] / plan.instruction_requests]
                for contender in CONTENDERS
            }
            result = harness.compare(
                name=f"{endpoint}_{database}_instructions",
                title=title(endpoint, database, "instructions"),
                unit="instructions/request",
                samples=samples,
                baseline=APIFLASK,
                subject=ERLEN,
                higher_is_better=False,
                target=APIFLASK_INSTRUCTIONS_TARGET,
                notes=[
                    f"valgrind --tool=callgrind of one subprocess per contender and database: import the app, "
                    f"{plan.instruction_warmup} requests of each endpoint, then {plan.instruction_requests} of each "
                    "in turn, callgrind dumping its counts between them (--dump-before=getppid, harness.mark()); "
                    f"the count of each group divided by {plan.instruction_requests}. PYTHONHASHSEED=0.",
                    "Only the Python process is counted: not PostgreSQL's server, nor any HTTP server (in-process "
                    "calls, as for the in-process requests/s). FastAPI's requests include its thread pool's "
                    "hand-offs and the event loop.",
                    *common_notes(database),
                ],
                extra={"versions": harness.versions(DISTRIBUTIONS, sqlite=database == "sqlite")},
            )
            results.append(with_second_target(result, samples, FASTAPI, FASTAPI_INSTRUCTIONS_TARGET))
    return results


def main(argv: list[str] | None = None) -> int:
    """Run some of the benchmarks: ``python bench/bench_api.py [--quick] [--database ...] [--parts ...]``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run, without instruction counts")
    parser.add_argument("--database", nargs="+", default=list(DATABASES), choices=list(DATABASES))
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    args = parser.parse_args(argv)
    results = measure(QUICK if args.quick else FULL, args.database, args.parts)
    print(harness.format_results(SUITE, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
