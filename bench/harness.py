"""Shared helpers of Erlen's benchmarks.

Everything here is bounded: every loop stops after a number of iterations
*and* after a wall-clock budget, whichever comes first; every subprocess has a
timeout; every server is stopped in a ``finally``. Contenders are measured side
by side, alternating in rounds (A, B, A, B, ...), and compared by the ratio of
their medians. Timings are reported, never asserted: a benchmark fails only
when something does not work (a server that does not start, a wrong response).
"""

from __future__ import annotations

import compileall
import contextlib
import dataclasses
import functools
import gc
import html
import http.client
import importlib
import importlib.util
import io
import itertools
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import typing as t
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import flask
from werkzeug.test import EnvironBuilder

#: One benchmark's outcome, as ``run(quick)`` returns it and ``results/*.json`` stores it.
Result = dict[str, t.Any]

#: Environment variables that would change how an app or a CLI behaves; removed for subprocesses. ``DJANGO_``:
#: the admin suite sets ``DJANGO_SETTINGS_MODULE`` in this process, and Celery's worker then loads Django's settings.
_APP_ENV_PREFIXES = ("ERLEN_", "FLASK_", "DJANGO_")


class BenchError(RuntimeError):
    """A benchmark could not run (as opposed to: it ran slowly)."""


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class RequestPlan:
    """How long the requests/s benchmarks run, in-process and over HTTP; every figure is an upper bound.

    A suite with more to measure subclasses it, adding its own fields after these. ``http_threads`` is
    the number of connections wrk keeps open (:func:`http_load`; the name is from when threads of this
    process sent the requests).
    """

    wsgi_rounds: int
    wsgi_round_seconds: float
    http_rounds: int
    http_round_seconds: float
    http_threads: int


#: The request figures of every suite's ``--quick`` plan: a smoke run, the same for all (``Plan(**QUICK_REQUESTS)``).
QUICK_REQUESTS: Mapping[str, t.Any] = {
    "wsgi_rounds": 3,
    "wsgi_round_seconds": 0.15,
    "http_rounds": 2,
    "http_round_seconds": 0.5,
    "http_threads": 2,
}


def with_plan(results: list[Result], plan: object) -> list[Result]:
    """``results``, each given the ``plan`` it ran under, as ``results/*.json`` stores it.

    :param results: what the suite measured.
    :param plan: the suite's plan, a dataclass instance (stored as ``dataclasses.asdict``).
    """
    for result in results:
        result["plan"] = dataclasses.asdict(t.cast(t.Any, plan))
    return results


# --------------------------------------------------------------------------- requirements and versions

#: The skip reason of an HTTP benchmark without gunicorn.
GUNICORN_MISSING = "gunicorn is not installed (pip install -r bench/requirements.txt)"


def missing(modules: Sequence[tuple[str, str]]) -> list[str]:
    """The distributions whose module cannot be imported.

    :param modules: ``(module, distribution)`` pairs, the distribution as a reader would install it.
    """
    return [distribution for module, distribution in modules if importlib.util.find_spec(module) is None]


def not_installed(absent: Sequence[str]) -> str:
    """The skip reason of a benchmark whose distributions ``absent`` (from :func:`missing`) are not installed."""
    return f"not installed: {', '.join(absent)} (nox -s bench installs {'it' if len(absent) == 1 else 'them'})"


def skipped_all(titles: Mapping[str, str], reason: str) -> list[Result]:
    """One :func:`skipped` result per benchmark, all for the same ``reason``.

    :param titles: each benchmark's name to its title.
    :param reason: why none of them could run here.
    """
    return [skipped(name=name, title=title, reason=reason) for name, title in titles.items()]


def versions(distributions: Sequence[str], *, sqlite: bool = False) -> str:
    """The versions of the distributions a suite compares (``run.py`` reports only the core's).

    :param distributions: the distribution names, reported in this order (``not installed`` where absent).
    :param sqlite: add the SQLite library's version, for suites that time SQLite queries.
    """
    found = []
    for distribution in distributions:
        try:
            found.append(f"{distribution} {version(distribution)}")
        except PackageNotFoundError:
            found.append(f"{distribution} not installed")
    if sqlite:
        found.append(f"SQLite {sqlite3.sqlite_version}")
    return ", ".join(found)


# --------------------------------------------------------------------------- bounded loops


class Budget:
    """Iterate at most ``max_count`` times and for at most ``max_seconds``, whichever ends first.

    At least ``min_count`` iterations run, whatever the time, so that a round
    always produces a sample. The clock starts when iteration starts.
    """

    def __init__(self, max_count: int, max_seconds: float, *, min_count: int = 1) -> None:
        if max_count < 1 or max_seconds <= 0:
            raise ValueError("a budget needs max_count >= 1 and max_seconds > 0")
        self.max_count = max_count
        self.max_seconds = max_seconds
        self.min_count = min(min_count, max_count)

    def __iter__(self) -> Iterator[int]:
        deadline = time.perf_counter() + self.max_seconds
        for index in range(self.max_count):
            if index >= self.min_count and time.perf_counter() >= deadline:
                return
            yield index


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Collect garbage, then keep the collector off for the block (as :mod:`timeit` does)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def rate(call: Callable[[], object], *, seconds: float, max_calls: int, batch: int = 100) -> float:
    """Calls per second of ``call``, run in batches until ``seconds`` pass or ``max_calls`` were made."""
    calls = 0
    started = time.perf_counter()
    deadline = started + seconds
    while calls < max_calls:
        count = min(batch, max_calls - calls)
        for _ in range(count):
            call()
        calls += count
        if time.perf_counter() >= deadline:
            break
    return calls / (time.perf_counter() - started)


def mean_ms(
    call: Callable[[], object],
    *,
    seconds: float,
    max_calls: int,
    setup: Callable[[], object] | None = None,
) -> float:
    """Mean milliseconds per call of ``call`` over up to ``max_calls`` calls or ``seconds``.

    ``setup`` runs before each call, outside the timed region. The garbage
    collector is paused during the batch.
    """
    total = 0.0
    calls = 0
    with gc_paused():
        for _ in Budget(max_calls, seconds):
            if setup is not None:
                setup()
            started = time.perf_counter()
            call()
            total += time.perf_counter() - started
            calls += 1
    return total / calls * 1000


# --------------------------------------------------------------------------- alternating rounds


def alternate(
    contenders: Mapping[str, Callable[[], float]],
    *,
    rounds: int,
    max_seconds: float,
    warmup: bool = True,
    reverse_every_other: bool = False,
) -> dict[str, list[float]]:
    """Sample every contender once per round, in turn (A, B, A, B, ...).

    Each callable measures one sample and returns it. Rounds stop after
    ``rounds`` or once ``max_seconds`` have passed (at least one round runs).
    With ``warmup``, each contender is run once first and that sample dropped.
    With ``reverse_every_other``, every second round runs them in reverse order (A, B, C, C, B, A, ...),
    so that no contender always follows the same one (a server still busy finishing the previous round's
    connections, say).
    """
    if warmup:
        for measure in contenders.values():
            measure()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders.items())
    for index in Budget(rounds, max_seconds):
        for name, measure in reversed(order) if reverse_every_other and index % 2 else order:
            gc.collect()
            samples[name].append(measure())
    return samples


def alternate_rates(
    plan: RequestPlan, callers: Mapping[str, Callable[[], object]], *, max_calls: int
) -> dict[str, list[float]]:
    """Calls per second of each caller, alternating in ``plan.wsgi_rounds`` rounds of ``plan.wsgi_round_seconds``.

    :param plan: the suite's request figures.
    :param callers: contender name to one request (from :func:`wsgi_caller`).
    :param max_calls: the most calls of one sample, should a round's clock run late.
    """
    return alternate(
        {
            name: functools.partial(rate, call, seconds=plan.wsgi_round_seconds, max_calls=max_calls)
            for name, call in callers.items()
        },
        rounds=plan.wsgi_rounds,
        max_seconds=plan.wsgi_rounds * plan.wsgi_round_seconds * len(callers) * 2,
    )


@dataclass(frozen=True)
class Target:
    """A goal for the ratio ``subject / baseline`` of medians: ``ratio <op> value``."""

    op: t.Literal[">=", "<="]
    value: float

    def met(self, ratio: float) -> bool:
        return ratio >= self.value if self.op == ">=" else ratio <= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


#: Above this 1-minute load average per CPU, a timing's target is not judged: other work had the cores, and
#: how much of them each contender got is chance. The benchmark itself accounts for about one per busy thread.
LOAD_PER_CPU_LIMIT = 1.5


def load_average() -> float:
    """The machine's 1-minute load average (0.0 where the system does not tell)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def too_loaded(load_averages: Sequence[float]) -> str | None:
    """Why a timing taken while the load averages were ``load_averages`` cannot be judged, or ``None`` if it can.

    :param load_averages: 1-minute load averages sampled around the measurement.
    """
    cpus = os.cpu_count() or 1
    limit = LOAD_PER_CPU_LIMIT * cpus
    worst = max(load_averages, default=0.0)
    if worst <= limit:
        return None
    return (
        f"not judged: the machine was too loaded (load average {worst:.1f} on {cpus} CPUs, over {limit:g}); "
        "compare instruction counts, or run again on a quiet machine"
    )


def judged(result: Result, load_averages: Sequence[float]) -> Result:
    """``result`` with its target left unjudged (``too_loaded``) when the machine was too loaded to time it.

    :param result: a timing's result, from :func:`compare` or :func:`compare_rates`.
    :param load_averages: 1-minute load averages sampled around the measurement.
    """
    result["load_averages"] = [round(value, 2) for value in load_averages]
    reason = too_loaded(load_averages)
    if reason is not None and result.get("target"):
        result["too_loaded"] = reason
    return result


def verdict(met: bool | None, paired_met: bool | None, too_loaded_reason: str | None) -> str:
    """How the table says whether a target was met: met, NOT met, or why it was not judged.

    :param met: whether the ratio of medians meets it.
    :param paired_met: whether the median of per-round ratios does (``None``: no pairs).
    :param too_loaded_reason: set when the machine was too loaded to judge (:func:`too_loaded`).
    """
    if too_loaded_reason is not None:
        return too_loaded_reason
    text = "met" if met else "NOT met"
    if paired_met is not None:
        text += f" (by per-round ratios: {'met' if paired_met else 'NOT met'})"
    return text


def compare(
    *,
    name: str,
    title: str,
    unit: str,
    samples: Mapping[str, Sequence[float]],
    baseline: str,
    subject: str,
    higher_is_better: bool,
    target: Target | None = None,
    notes: Sequence[str] = (),
    extra: Mapping[str, t.Any] | None = None,
) -> Result:
    """Summarise alternating samples: the median of each contender and its ratio to ``baseline``.

    ``subject`` names the contender whose ratio the ``target`` applies to;
    every other contender gets an informational ratio too.
    """
    base = statistics.median(samples[baseline])
    contenders = []
    for contender, values in samples.items():
        median = statistics.median(values)
        contenders.append(
            {
                "name": contender,
                "median": median,
                "min": min(values),
                "max": max(values),
                "n": len(values),
                "ratio": median / base if base else None,
                "samples": list(values),
            }
        )
    ratio = statistics.median(samples[subject]) / base if base else float("nan")
    # Samples of one round were taken back to back, so their ratios cancel slow drift (other load on the machine).
    paired = [s / b for s, b in zip(samples[subject], samples[baseline], strict=True) if b]
    return {
        "name": name,
        "title": title,
        "unit": unit,
        "higher_is_better": higher_is_better,
        "baseline": baseline,
        "subject": subject,
        "contenders": contenders,
        "ratio": ratio,
        "paired_ratio": statistics.median(paired) if paired else None,
        "target": str(target) if target else None,
        "target_met": target.met(ratio) if target else None,
        "paired_target_met": target.met(statistics.median(paired)) if target and paired else None,
        "notes": list(notes),
        "extra": dict(extra or {}),
    }


def compare_rates(
    *,
    name: str,
    title: str,
    samples: Mapping[str, Sequence[float]],
    baseline: str,
    subject: str,
    target: Target,
    notes: Sequence[str],
    extra: Mapping[str, t.Any] | None = None,
) -> Result:
    """:func:`compare` for a requests/s benchmark (higher is better), in-process or over HTTP.

    :param name: the benchmark's name in the results.
    :param title: its title in the table.
    :param samples: contender name to its requests/s samples.
    :param baseline: the contender the ratios divide by.
    :param subject: the contender the ``target`` applies to.
    :param target: the goal for ``subject / baseline``.
    :param notes: what the reader needs to know to read the figures.
    :param extra: further figures for the table and the JSON.
    """
    return compare(
        name=name,
        title=title,
        unit="req/s",
        samples=samples,
        baseline=baseline,
        subject=subject,
        higher_is_better=True,
        target=target,
        notes=notes,
        extra=extra,
    )


def skipped(*, name: str, title: str, reason: str) -> Result:
    """A benchmark that could not run here, with the reason (shown in the table and the JSON)."""
    return {"name": name, "title": title, "skipped": reason}


# --------------------------------------------------------------------------- SQLite tables


def build_sqlite_table(
    path: Path, *, table: str, columns: Mapping[str, str], select: str, rows: int, after: Sequence[str] = ()
) -> float:
    """Create ``table`` in the SQLite file ``path`` and fill it with ``rows`` rows in one ``INSERT ... SELECT``.

    The rows come from a recursive CTE counting ``n`` from 1 to ``rows``; the
    file is in WAL mode and written without syncs (it is rebuilt every run).
    Fails unless the table then holds ``rows`` rows. Returns the seconds taken.

    :param path: the database file.
    :param table: the table's name.
    :param columns: column name to its type and constraints (``"INTEGER PRIMARY KEY"``); the
        ``INSERT`` fills them in this order.
    :param select: the values of row ``n``, as after ``SELECT`` (``"n, 'Row ' || n"``).
    :param rows: how many rows.
    :param after: statements to run once the rows are in (an index, ``ANALYZE``).
    """
    started = time.perf_counter()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute(f"CREATE TABLE {table} ({', '.join(f'{name} {kind}' for name, kind in columns.items())})")
        connection.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?) "
            f"SELECT {select} FROM seq",
            (rows,),
        )
        for statement in after:
            connection.execute(statement)
    # sqlite3's context manager commits but does not close.
    connection.close()
    with sqlite3.connect(path) as connection:
        (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    connection.close()
    if count != rows:
        raise BenchError(f"the table {table} has {count} rows, expected {rows}")
    return time.perf_counter() - started


# --------------------------------------------------------------------------- PostgreSQL

#: The PostgreSQL server of the benchmarks that use one (each in a schema of its own, created and dropped).
POSTGRES_URL = os.environ.get("ERLEN_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def postgres_schema_url(prefix: str = "erlen_bench") -> Iterator[str]:
    """A fresh schema on :data:`POSTGRES_URL`, as a URL whose connections use it; dropped after.

    :param prefix: the start of the schema's name; a random suffix makes it unique, so runs in parallel
        do not meet.
    :raises BenchError: PostgreSQL cannot be reached (the caller reports the benchmark skipped); the message
        says "not reachable".
    """
    import uuid

    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise BenchError(
            f"PostgreSQL is not reachable at {sa.make_url(POSTGRES_URL).render_as_string(hide_password=True)} "
            f"({reason}); set ERLEN_BENCH_POSTGRES_URL"
        ) from None
    try:
        yield (
            sa.make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


# --------------------------------------------------------------------------- temporary modules


@contextlib.contextmanager
def module_dir(prefix: str = "erlen-bench-") -> Iterator[Path]:
    """A temporary folder on ``sys.path`` for generated modules; removed (and its modules forgotten) after."""
    root = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield root
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(root))
        forget_modules(root)
        shutil.rmtree(root, ignore_errors=True)


def forget_modules(root: Path) -> None:
    """Remove from ``sys.modules`` every module loaded from a file under ``root``."""
    prefix = str(root) + os.sep
    for module_name, module in list(sys.modules.items()):
        module_file = getattr(module, "__file__", None) or ""
        if module_file.startswith(prefix):
            del sys.modules[module_name]
    importlib.invalidate_caches()


def compile_tree(root: Path) -> None:
    """Write the bytecode of every module under ``root``, so imports load it as they would once installed."""
    if not compileall.compile_dir(str(root), quiet=1):
        raise BenchError(f"generated modules under {root} do not compile")


def write_module(root: Path, dotted: str, *sources: str) -> Path:
    """Write the module ``dotted`` under ``root``, creating packages on the way.

    :param root: the folder on ``sys.path`` (from :func:`module_dir`).
    :param dotted: the module's dotted name.
    :param sources: the module's source in parts, each dedented on its own (so a part made by
        :func:`model_class` can stand between two indented literals), joined by two blank lines.
    """
    *packages, module = dotted.split(".")
    folder = root
    for package in packages:
        folder = folder / package
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").touch()
    path = folder / f"{module}.py"
    text = "\n\n\n".join(textwrap.dedent(source).strip("\n") for source in sources)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def model_class(name: str, base: str, table: str, columns: Sequence[str]) -> str:
    """The source of a declarative SQLAlchemy model, a part for :func:`write_module`.

    Suites that map one table in two apps write it with this, so both map the same columns.

    :param name: the class name.
    :param base: the base class(es), as written between the parentheses (``"erlen_db.Model"``).
    :param table: the ``__tablename__``.
    :param columns: one line a column, as in the class body (``"id: Mapped[int] = mapped_column(primary_key=True)"``).
    """
    body = "".join(f"    {column}\n" for column in columns)
    return f"class {name}({base}):\n    __tablename__ = {table!r}\n\n{body}"


def write_templates(root: Path, templates: Mapping[str, str]) -> None:
    """Write template files into ``root/templates``, where the generated apps (``Flask(__name__)``) look.

    :param root: the folder of the generated app modules.
    :param templates: file name to template source.
    """
    folder = root / "templates"
    folder.mkdir()
    for name, text in templates.items():
        (folder / name).write_text(text, encoding="utf-8")


def import_app(module: str) -> flask.Flask:
    """The ``app`` of the generated module ``module`` (importable from a :func:`module_dir`)."""
    return t.cast(flask.Flask, importlib.import_module(module).app)


# --------------------------------------------------------------------------- in-process WSGI

#: A WSGI application, as the suites' apps are called in-process.
WSGIApp = Callable[[dict[str, t.Any], Callable[..., t.Any]], Iterable[bytes]]


def wsgi_environ(
    path: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    base_url: str = "http://localhost/",
    remote_addr: str | None = None,
) -> dict[str, t.Any]:
    """The WSGI environ of one request, prepared once so that timed calls only copy it.

    :param path: the path and query string.
    :param method: the HTTP method.
    :param headers: request headers (a session ``Cookie``, say).
    :param body: the request body (``b""`` for none).
    :param base_url: scheme and host the request is addressed to.
    :param remote_addr: the client address to set, as a server would (werkzeug leaves it out otherwise).
    """
    environ = EnvironBuilder(
        path=path, base_url=base_url, method=method, headers=list((headers or {}).items()), data=body or None
    ).get_environ()
    if remote_addr is not None:
        environ["REMOTE_ADDR"] = remote_addr
    return environ


def _discard(data: bytes) -> None:
    pass


def _start_response_any(
    status: str, headers: list[tuple[str, str]], exc_info: object = None
) -> Callable[[bytes], None]:
    return _discard


def _start_response_200(
    status: str, headers: list[tuple[str, str]], exc_info: object = None
) -> Callable[[bytes], None]:
    if not status.startswith("200 "):
        raise BenchError(f"a timed request answered {status}")
    return _discard


def _start_response_expecting(expected: int) -> Callable[..., Callable[[bytes], None]]:
    prefix = f"{expected} "

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Callable[[bytes], None]:
        if not status.startswith(prefix):
            raise BenchError(f"a timed request answered {status}, expected {expected}")
        return _discard

    return start_response


def _body_of(environ: Mapping[str, t.Any]) -> bytes:
    """The request body a prepared environ holds (``b""`` for none), read without consuming its stream."""
    stream = environ.get("wsgi.input")
    if not int(environ.get("CONTENT_LENGTH") or 0) or stream is None:
        return b""
    position = stream.tell()
    body = t.cast(bytes, stream.read())
    stream.seek(position)
    return body


def wsgi_caller(
    app: WSGIApp, environs: Sequence[dict[str, t.Any]], *, require_200: bool = True, expect_status: int = 200
) -> Callable[[], None]:
    """One request through ``app``'s WSGI interface, its body consumed and closed as a server would.

    :param app: the WSGI application, called directly (framework overhead only: no server, no socket).
    :param environs: the prepared environs (:func:`wsgi_environ`); each call copies the next one in turn, and
        gives a request with a body (a POST) a fresh ``wsgi.input`` holding it.
    :param require_200: fail on an answer other than ``expect_status`` (``start_response`` checks the status).
    :param expect_status: the status every answer must have (201 for a create), when ``require_200``.
    """
    if not require_200:
        start_response = _start_response_any
    elif expect_status == 200:
        start_response = _start_response_200
    else:
        start_response = _start_response_expecting(expect_status)
    bodies = [_body_of(environ) for environ in environs]
    if any(bodies):
        # The stream of a prepared environ is read once: each call gets a new one with the same bytes.
        turn_with_body = itertools.cycle(list(zip(environs, bodies, strict=True)))

        def next_environ() -> dict[str, t.Any]:
            environ, body = next(turn_with_body)
            copied = environ.copy()
            copied["wsgi.input"] = io.BytesIO(body)
            return copied

    elif len(environs) == 1:
        # One request, as before the rotation existed: no iterator to advance on every call.
        next_environ = environs[0].copy
    else:
        # Endless, but only ever advanced by rate(), which is bounded in calls and time.
        turn = itertools.cycle(environs)

        def next_environ() -> dict[str, t.Any]:
            return next(turn).copy()

    def call() -> None:
        body = app(next_environ(), start_response)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return call


#: The ``csrf_token`` field of a form, and the value in it.
_VALUE = re.compile(r"\bvalue=\"([^\"]*)\"", re.IGNORECASE)


def csrf_token_in(page: str | bytes, name: str, field: str = "csrf_token") -> str:
    """The value of the CSRF token's field of the (log-in) form on ``page``.

    :param page: the page's HTML.
    :param name: the contender, for the error message.
    :param field: the field's name (Django's is ``csrfmiddlewaretoken``).
    """
    text = page.decode("utf-8", "replace") if isinstance(page, bytes) else page
    found = re.search(rf"<input\b[^>]*\bname=\"{re.escape(field)}\"[^>]*>", text, re.IGNORECASE)
    value = _VALUE.search(found.group(0)) if found else None
    if value is None:
        raise BenchError(f"{name}: the page has no {field} field: {text[:500]!r}")
    return html.unescape(value.group(1))


# --------------------------------------------------------------------------- subprocesses


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without ``ERLEN_*``/``FLASK_*``/``DJANGO_*`` variables, plus ``extra``.

    ``PYTHONDONTWRITEBYTECODE`` is dropped too, so that subprocesses cache
    bytecode as an installed app does; otherwise a package imported from a
    source tree without ``__pycache__`` (an editable install) would be
    compiled anew by every run while site-packages come precompiled.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_APP_ENV_PREFIXES) and key != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(extra)
    return env


def venv_executable(name: str) -> Path | None:
    """The console script ``name`` next to the running interpreter, if there is one."""
    folder = Path(sys.executable).parent
    for candidate in (folder / name, folder / f"{name}.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_checked(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[str, str]:
    """Run a command once, failing with its output unless it exits 0; return its stdout and stderr."""
    try:
        completed = subprocess.run(
            list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv)} did not finish within {timeout:g} s") from exc
    if completed.returncode != 0:
        raise BenchError(
            f"{' '.join(argv)} exited with {completed.returncode}:\n{completed.stdout}\n{completed.stderr}".rstrip()
        )
    return completed.stdout, completed.stderr


def wall_ms(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> float:
    """Wall-clock milliseconds of one run of a command (output discarded); it must exit 0."""
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv)} did not finish within {timeout:g} s") from exc
    elapsed = (time.perf_counter() - started) * 1000
    if completed.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited with {completed.returncode}: {completed.stderr.decode()}")
    return elapsed


def valgrind_available() -> bool:
    """Whether ``valgrind`` is on the PATH, for the instruction counts."""
    return shutil.which("valgrind") is not None


#: Why an instruction count is skipped on a machine without valgrind.
VALGRIND_MISSING = "valgrind is not installed (Debian: apt-get install valgrind)"


def instructions(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> int:
    """The instructions one run of ``argv`` executes, counted by valgrind's callgrind (which must exit 0).

    Unlike a time, the count does not move with what else the machine does.
    """
    with tempfile.TemporaryDirectory(prefix="erlen-bench-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        run_checked(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv], cwd=cwd, env=env, timeout=timeout
        )
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise BenchError(f"callgrind wrote no total for {' '.join(argv)}")


def instructions_per_call(
    argv: Sequence[str], counts: tuple[int, int], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> float:
    """Instructions per call of what ``argv`` repeats: ``argv`` with the number of calls appended, run twice.

    The difference of the two runs divided by the difference of their calls
    leaves out what both do once (start-up, imports, logging in, warming up).

    :param argv: the command; it must repeat its work as many times as its last argument says.
    :param counts: the two numbers of calls, the smaller first.
    """
    low, high = counts
    few = instructions([*argv, str(low)], cwd=cwd, env=env, timeout=timeout)
    many = instructions([*argv, str(high)], cwd=cwd, env=env, timeout=timeout)
    return (many - few) / (high - low)


#: The C function whose calls end the parts of a run under :func:`instructions_by_part`: :func:`mark` calls it,
#: and nothing a benchmark measures does.
MARK_FUNCTION = "getppid"


def mark() -> None:
    """End a part of a run counted by :func:`instructions_by_part` (callgrind dumps its counts here)."""
    os.getppid()


def instructions_by_part(
    argv: Sequence[str],
    *,
    marks: int,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    valgrind_options: Sequence[str] = (),
) -> list[int]:
    """The instructions of each part of one run of ``argv`` under callgrind, the parts separated by :func:`mark`.

    Callgrind dumps its counts and starts afresh on entering :data:`MARK_FUNCTION`,
    so one run measures several things in turn: a script imports and warms up
    (part 0), calls :func:`mark`, repeats one request N times, calls :func:`mark`,
    and so on; part ``i`` divided by N is the cost of one request of the ``i``-th
    kind, without the start-up that :func:`instructions_per_call` needs a second
    run to subtract.

    :param argv: the command; it must call :func:`mark` exactly ``marks`` times.
    :param marks: how many times it calls it.
    :param valgrind_options: more options of valgrind, such as ``--instr-atstart=no`` for a command that
        starts callgrind's instrumentation itself (see :func:`instrumentation_starter`).
    :returns: ``marks + 1`` counts: before the first mark, between each two, after the last.
    :raises BenchError: the command failed, or the run had another number of parts (something else called
        :data:`MARK_FUNCTION`).
    """
    with tempfile.TemporaryDirectory(prefix="erlen-bench-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        run_checked(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                f"--dump-before={MARK_FUNCTION}",
                *valgrind_options,
                *argv,
            ],
            cwd=cwd,
            env=env,
            timeout=timeout,
        )
        parts: dict[int, int] = {}
        for path in Path(folder).glob("callgrind.out*"):
            part = total = None
            for line in path.read_text().splitlines():
                if line.startswith("part:"):
                    part = int(line.split()[1])
                elif line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
            if part is None or total is None:
                raise BenchError(f"callgrind wrote no part or total in {path.name} for {' '.join(argv)}")
            parts[part] = total
    if sorted(parts) != list(range(1, marks + 2)):
        raise BenchError(
            f"{' '.join(argv)}: callgrind counted parts {sorted(parts)}, expected 1 to {marks + 1}: something other "
            f"than harness.mark() called {MARK_FUNCTION}()"
        )
    return [parts[index] for index in range(1, marks + 2)]


#: A C function starting callgrind's instrumentation, for runs with ``--instr-atstart=no``.
_STARTER_SOURCE = """#include <valgrind/callgrind.h>
void erlen_bench_start_instrumentation(void) { CALLGRIND_START_INSTRUMENTATION; }
"""


def instrumentation_starter(folder: Path) -> Path | None:
    """A shared library whose ``erlen_bench_start_instrumentation()`` starts callgrind's instrumentation.

    Under ``valgrind --tool=callgrind --instr-atstart=no`` a process runs uninstrumented, several times
    faster, until it calls the function (through :mod:`ctypes`): imports and set-up then cost minutes less
    on a busy machine, and the counts after the call are the same. Built with the C compiler from
    valgrind's own header; ``None`` without either (then run instrumented from the start).

    :param folder: where to build it.
    """
    header = Path("/usr/include/valgrind/callgrind.h")
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not header.exists():
        return None
    source = folder / "erlen_bench_callgrind.c"
    library = folder / "erlen_bench_callgrind.so"
    source.write_text(_STARTER_SOURCE)
    try:
        subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(library), str(source)], check=True, timeout=60)
    except (subprocess.SubprocessError, OSError):
        return None
    return library


def start_instrumentation() -> None:
    """Start callgrind's instrumentation, when ``ERLEN_BENCH_CALLGRIND_STARTER`` names the starter library.

    A no-op otherwise (a run instrumented from the start); see :func:`instrumentation_starter`.
    """
    library = os.environ.get("ERLEN_BENCH_CALLGRIND_STARTER")
    if library:
        import ctypes

        ctypes.CDLL(library).erlen_bench_start_instrumentation()


# --------------------------------------------------------------------------- HTTP server and client


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_available() -> bool:
    return importlib.util.find_spec("gunicorn") is not None


@contextlib.contextmanager
def gunicorn_server(
    app: str,
    *,
    chdir: Path,
    expect_body: bytes | None,
    path: str = "/",
    start_timeout: float = 30.0,
    pythonpath: Sequence[Path] = (),
) -> Iterator[int]:
    """Serve ``app`` (``module:variable`` importable from ``chdir``) with gunicorn, 1 sync worker.

    Yields the port once ``GET path`` answers 200 with ``expect_body`` (any body if ``None``: a form
    whose CSRF token changes). The
    server (arbiter and worker, in their own process group) is stopped on exit,
    whatever happens. ``pythonpath`` adds folders the app imports from (the bench folder, for its
    ``harness``), after ``chdir``.
    """
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(chdir),
        "--pythonpath",
        ",".join(str(folder) for folder in [chdir, *pythonpath]),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--worker-class",
        "sync",
        "--graceful-timeout",
        "3",
        "--log-level",
        "warning",
        app,
    ]
    with serving(
        argv,
        port=port,
        log_path=chdir / f"gunicorn-{app.replace(':', '-')}-{port}.log",
        chdir=chdir,
        expect_body=expect_body,
        path=path,
        start_timeout=start_timeout,
    ):
        yield port


def uvicorn_available() -> bool:
    return importlib.util.find_spec("uvicorn") is not None


#: The skip reason of an HTTP benchmark without uvicorn.
UVICORN_MISSING = "uvicorn is not installed (pip install -r bench/requirements.txt)"


@contextlib.contextmanager
def uvicorn_server(
    app: str,
    *,
    chdir: Path,
    expect_body: bytes,
    path: str = "/",
    start_timeout: float = 30.0,
) -> Iterator[int]:
    """Serve the ASGI ``app`` (``module:variable`` importable from ``chdir``) with uvicorn, 1 worker (one process).

    uvicorn's defaults otherwise (uvloop and httptools when installed, keep-alive), without the access log,
    which gunicorn does not write either. Yields the port once ``GET path`` answers 200 with ``expect_body``;
    the server is stopped on exit, whatever happens.
    """
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(chdir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
        app,
    ]
    with serving(
        argv,
        port=port,
        log_path=chdir / f"uvicorn-{app.replace(':', '-')}-{port}.log",
        chdir=chdir,
        expect_body=expect_body,
        path=path,
        start_timeout=start_timeout,
    ):
        yield port


@contextlib.contextmanager
def serving(
    argv: Sequence[str],
    *,
    port: int,
    log_path: Path,
    chdir: Path,
    expect_body: bytes | None,
    path: str = "/",
    start_timeout: float = 30.0,
) -> Iterator[None]:
    """Run the server ``argv`` (listening on 127.0.0.1:``port``) until the block ends.

    Enters the block once ``GET path`` answers 200 with ``expect_body``. The
    server runs in a session of its own, without ``ERLEN_*``/``FLASK_*``
    variables, its output in ``log_path``; on exit its whole process group is
    stopped, whatever happens.

    :param argv: the command starting the server.
    :param port: the port it listens on.
    :param log_path: where its output goes (shown when it fails to start).
    :param chdir: the folder it runs in.
    :param expect_body: what ``GET path`` must answer before it counts as started (``None``: any body).
    :param path: the path probed.
    :param start_timeout: how long it may take to start.
    """
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(argv), cwd=chdir, env=clean_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_until_serving(process, port, path, expect_body, start_timeout, log_path)
            yield
        finally:
            _stop(process)


def _wait_until_serving(
    process: subprocess.Popen[bytes],
    port: int,
    path: str,
    expect_body: bytes | None,
    timeout: float,
    log_path: Path,
) -> None:
    last_error = "no attempt"
    for _ in Budget(10_000, timeout):
        if process.poll() is not None:
            raise BenchError(f"{log_path.stem} exited with {process.returncode}:\n{_tail(log_path)}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status == 200 and (expect_body is None or body == expect_body):
                return
            raise BenchError(f"GET {path} answered {response.status} {body[:200]!r}, expected 200 {expect_body!r}")
        except OSError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        time.sleep(0.05)
    raise BenchError(f"{log_path.stem} did not serve within {timeout:g} s ({last_error}):\n{_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    # The worker is in the arbiter's process group (its own session); end any straggler by that id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=5)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class LoadOutcome:
    """What one load round achieved.

    :param ok: answers with the expected status.
    :param errors: answers with another status, plus socket errors (connect, read, write, timeout).
    :param seconds: how long the round sent requests, from the first request to the last answer counted.
    """

    ok: int
    errors: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


#: The skip reason of an HTTP benchmark without wrk, the load generator of :func:`http_load`.
WRK_MISSING = "wrk is not installed (Debian: apt-get install wrk), the HTTP benchmarks' load generator"

#: wrk's per-request timeout (``--timeout``, whole seconds): an answer slower than this counts as a socket error.
WRK_TIMEOUT_SECONDS = 5

#: How long after a round's ``seconds`` :func:`http_load` interrupts wrk, should it still run: its Lua script
#: stops the load ``seconds`` after the first request (sent a few milliseconds after wrk starts) and ends wrk.
_WRK_GRACE_SECONDS = 0.05

#: How long wrk may take to print its summary once interrupted (it stops within 100 ms: its rate timer's period).
_WRK_EXIT_SECONDS = 10.0

#: The line the generated script prints in ``done()``, parsed by :func:`http_load`.
_WRK_SUMMARY = re.compile(
    r"^ERLEN_WRK completed=(?P<completed>\d+) good=(?P<good>\d+) bad=(?P<bad>\d+) "
    r"socket_errors=(?P<socket_errors>\d+) seconds=(?P<seconds>[0-9.]+)$",
    re.MULTILINE,
)


def wrk_path() -> str | None:
    """Where wrk (the HTTP load generator of :func:`http_load`) is installed, or ``None``."""
    return shutil.which("wrk")


def wrk_available() -> bool:
    """Whether :func:`http_load` can run (wrk is installed)."""
    return wrk_path() is not None


def load_generator(connections: int) -> str:
    """How an over-HTTP result's load was generated, for its notes.

    :param connections: the connections wrk kept open (the plan's ``http_threads``).
    """
    return f"Load from wrk in its own process (1 thread, {connections} connection{'s' if connections != 1 else ''})"


def _lua_string(value: str | bytes) -> str:
    """``value`` as a Lua string literal: every byte but letters, digits and a few marks as a decimal escape."""
    data = value.encode() if isinstance(value, str) else value
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /-_.,:;=?&%+*()<>{}[]!@#$^~|"
    return '"' + "".join(chr(byte) if byte in safe else f"\\{byte:03d}" for byte in data) + '"'


def wrk_script(
    *,
    paths: Sequence[str],
    method: str,
    headers: Mapping[str, str],
    body: bytes | None,
    expect_status: int,
    seconds: float,
    max_requests: int,
    max_errors: int,
    expect_location: str | None = None,
) -> str:
    """The Lua script of one :func:`http_load` round, for wrk 4.1 (LuaJIT) with one thread.

    Request ``n`` goes to ``paths[n % len(paths)]``. The thread counts each answer as good (status
    ``expect_status``) or bad, and stops itself (``wrk.thread:stop()``) once ``seconds`` have passed since
    its first request, ``max_requests`` answers were counted, or ``max_errors`` bad ones, then sends wrk
    SIGINT so that its main thread stops sleeping out ``-d`` and exits; answers arriving after that (the
    other connection's, in the same turn of the event loop) are not counted. ``done()``
    prints one ``ERLEN_WRK ...`` line: answers counted, good, bad, wrk's socket errors, and the seconds
    from the first request to the last answer counted.

    :param paths: the paths requested in turn (at least one).
    :param method: every request's method.
    :param headers: sent with every request (wrk adds ``Host``, and ``Content-Length`` with a body).
    :param body: every request's body, or ``None``.
    :param expect_status: the status of a good answer.
    :param seconds: how long the thread sends requests.
    :param max_requests: the most answers counted.
    :param max_errors: the most bad answers counted.
    :param expect_location: if set, a Lua pattern (``string.find``) that a good answer's ``Location`` path must
        match, scheme, host and query dropped (``"^/notes/%d+$"``): a redirect to the log-in page, or back to the
        form, has the status of a redirect to the created row.
    """
    lua_paths = ", ".join(_lua_string(path) for path in paths)
    lua_headers = ", ".join(f"[{_lua_string(name)}] = {_lua_string(value)}" for name, value in headers.items())
    lua_body = "nil" if body is None else _lua_string(body)
    return f"""\
-- Generated by Erlen's bench/harness.py (http_load) for wrk 4.1, run with one thread (-t1).
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} erlen_timespec;
int clock_gettime(int clock_id, erlen_timespec *tp);
int getpid(void);
int kill(int pid, int sig);
int sigaction(int sig, const void *act, void *oldact);
int usleep(unsigned int usec);
]]
local CLOCK_MONOTONIC = 1
local SIGINT = 2
local clock = ffi.new("erlen_timespec")

-- Whether wrk's SIGINT handler is installed yet (main() installs it just after starting the thread; before,
-- SIGINT is ignored). Every libc's struct sigaction (at most 152 bytes on Linux) begins with the handler.
local function sigint_handled()
  local old = ffi.new("void *[64]")
  ffi.C.sigaction(SIGINT, nil, old)
  local handler = tonumber(ffi.cast("intptr_t", old[0]))
  return handler ~= 0 and handler ~= 1  -- SIG_DFL, SIG_IGN
end

-- wrk's own clock is whole seconds (-d); the round's bound is read from the monotonic clock instead.
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

local METHOD = {_lua_string(method)}
local PATHS = {{ {lua_paths} }}
local HEADERS = {{ {lua_headers} }}
local BODY = {lua_body}
local EXPECT_STATUS = {int(expect_status)}
local SECONDS = {float(seconds)!r}
local MAX_REQUESTS = {int(max_requests)}
local MAX_ERRORS = {int(max_errors)}
local EXPECT_LOCATION = {"nil" if expect_location is None else _lua_string(expect_location)}

-- In the main Lua state: the threads, read in done().
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
  thread:set("erlen_index", #threads)
end

-- In each thread's state; globals, so that done() reads them with thread:get().
erlen_good, erlen_bad, erlen_seconds = 0, 0, 0
local formatted = {{}}
local sent = 0
local started = nil
local stopped = false
-- wrk calls the first thread's request() once before it starts, to check the request parses: not sent.
local checking = nil

function init(args)
  checking = erlen_index == 1
  for index, path in ipairs(PATHS) do
    local headers = {{}}
    for name, value in pairs(HEADERS) do headers[name] = value end
    formatted[index] = wrk.format(METHOD, path, headers, BODY)
  end
end

function request()
  if checking then
    checking = false
    return formatted[1]
  end
  if started == nil then started = now() end
  local chosen = formatted[sent % #formatted + 1]
  sent = sent + 1
  return chosen
end

-- Whether the answer's Location path (scheme, host and query dropped) matches the Lua pattern EXPECT_LOCATION,
-- when one is expected.
local function location_expected(headers)
  if EXPECT_LOCATION == nil then return true end
  for name, value in pairs(headers) do
    if string.lower(name) == "location" then
      local path = string.gsub(string.gsub(value, "^https?://[^/]*", ""), "[?#].*$", "")
      return string.find(path, EXPECT_LOCATION) ~= nil
    end
  end
  return false
end

function response(status, headers, body)
  if stopped then return end
  local at = now()
  if status == EXPECT_STATUS and location_expected(headers) then
    erlen_good = erlen_good + 1
  else
    erlen_bad = erlen_bad + 1
  end
  erlen_seconds = at - started
  if erlen_seconds >= SECONDS or erlen_good + erlen_bad >= MAX_REQUESTS or erlen_bad >= MAX_ERRORS then
    stopped = true
    wrk.thread:stop()
    -- wrk's main thread sleeps its whole -d (whole seconds) before it joins the thread and calls done();
    -- SIGINT ends that sleep, so wrk exits now. A round of a few requests can end before main() installs
    -- the handler (when it is not scheduled meanwhile): wait for it, 2 s at most (then http_load's SIGINT,
    -- just after the round's seconds, or -d ends wrk).
    for _ = 1, 2000 do
      if sigint_handled() then break end
      ffi.C.usleep(1000)
    end
    ffi.C.kill(ffi.C.getpid(), SIGINT)
  end
end

function done(summary, latency, requests)
  local good, bad, seconds = 0, 0, 0
  for _, thread in ipairs(threads) do
    good = good + thread:get("erlen_good")
    bad = bad + thread:get("erlen_bad")
    seconds = math.max(seconds, thread:get("erlen_seconds"))
  end
  local errors = summary.errors
  io.write(string.format("ERLEN_WRK completed=%d good=%d bad=%d socket_errors=%d seconds=%.6f\\n",
    good + bad, good, bad, errors.connect + errors.read + errors.write + errors.timeout, seconds))
end
"""


def http_load(
    port: int,
    *,
    path: str = "/",
    paths: Sequence[str] = (),
    seconds: float,
    max_requests: int,
    threads: int,
    max_errors: int = 50,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
    expect_status: int = 200,
    expect_location: str | None = None,
) -> LoadOutcome:
    """Send ``method path`` to 127.0.0.1:``port`` for ``seconds`` from wrk, in a process of its own.

    wrk runs one thread keeping ``threads`` connections busy (HTTP/1.1 keep-alive; it reconnects when the
    server closes, as gunicorn's sync worker does after every response): the load costs this process
    nothing while it runs, and wrk far less CPU per request than Python client threads did. With
    ``paths``, the requests go to them in turn instead (request ``n`` to ``paths[n % len(paths)]``). Stops
    after ``seconds``, ``max_requests`` answers, or ``max_errors`` answers without ``expect_status``,
    whichever comes first (:func:`wrk_script`); socket errors are not seen by the script, so a server that
    drops connections is bounded by the time alone. ``headers`` are sent with every request (a session
    ``Cookie``, say); ``method`` and ``body`` make them another request than a GET (a JSON ``POST``).

    :param port: the server's port on 127.0.0.1.
    :param path: the path of every request, unless ``paths`` are given.
    :param paths: the paths requested in turn.
    :param seconds: how long the round sends requests.
    :param max_requests: the most answers counted.
    :param threads: how many connections wrk keeps open (the plans' ``http_threads``).
    :param max_errors: the most answers with another status than ``expect_status`` before it stops.
    :param headers: sent with every request.
    :param method: every request's method.
    :param body: every request's body (its ``Content-Type`` in ``headers``).
    :param expect_status: the status a good answer has.
    :param expect_location: the Lua pattern a good answer's ``Location`` path matches (see :func:`wrk_script`).
    :raises BenchError: wrk is not installed, or did not end with its summary.
    """
    executable = wrk_path()
    if executable is None:
        raise BenchError(WRK_MISSING)
    if threads < 1 or max_requests < 1 or max_errors < 1 or seconds <= 0:
        raise ValueError("http_load needs threads, max_requests and max_errors >= 1 and seconds > 0")
    script = wrk_script(
        paths=list(paths) or [path],
        method=method,
        headers=dict(headers or {}),
        body=body,
        expect_status=expect_status,
        seconds=seconds,
        max_requests=max_requests,
        max_errors=max_errors,
        expect_location=expect_location,
    )
    with tempfile.TemporaryDirectory(prefix="erlen-wrk-") as folder:
        script_path = Path(folder) / "load.lua"
        script_path.write_text(script)
        argv = [
            executable,
            "-t1",
            f"-c{threads}",
            # wrk's duration is whole seconds: the bound it keeps by itself, should the interrupt below be lost.
            f"-d{max(1, math.ceil(seconds))}s",
            f"--timeout={WRK_TIMEOUT_SECONDS}s",
            "-s",
            str(script_path),
            f"http://127.0.0.1:{port}/",
        ]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            try:
                out, err = process.communicate(timeout=seconds + _WRK_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                # The script's own SIGINT was lost (sent before wrk's handler was installed), or no answer
                # came: SIGINT ends wrk's sleep, its thread stops within 100 ms, then it calls done().
                process.send_signal(signal.SIGINT)
                out, err = process.communicate(timeout=_WRK_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=_WRK_EXIT_SECONDS)
            raise BenchError(f"wrk did not end within {seconds + _WRK_GRACE_SECONDS + _WRK_EXIT_SECONDS:g} s") from None
    found = _WRK_SUMMARY.search(out)
    if process.returncode != 0 or found is None:
        raise BenchError(f"wrk exited with {process.returncode} without its summary:\n{out}\n{err}".rstrip())
    return LoadOutcome(
        ok=int(found["good"]),
        errors=int(found["bad"]) + int(found["socket_errors"]),
        seconds=float(found["seconds"]),
    )


#: Every over-HTTP result says so: the load generator competes with the server for the cores.
SHARED_CORES_NOTE = "Client and server share the machine's cores: the ratio matters more than the absolute figures."


@contextlib.contextmanager
def gunicorn_servers(
    apps: Mapping[str, str], *, chdir: Path, expect_body: bytes, path: str = "/"
) -> Iterator[dict[str, int]]:
    """One :func:`gunicorn_server` per contender, started in order; yields their ports; all stopped on exit.

    :param apps: contender name to ``module:variable``.
    :param chdir: the folder the modules are importable from.
    :param expect_body: what ``GET path`` must answer (200) before a server counts as started.
    :param path: the path probed at start.
    """
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(gunicorn_server(app, chdir=chdir, expect_body=expect_body, path=path))
            for name, app in apps.items()
        }


def alternate_http(
    plan: RequestPlan,
    ports: Mapping[str, int],
    *,
    path: str = "/",
    paths: Sequence[str] = (),
    headers: Mapping[str, Mapping[str, str]] | None = None,
    fail_on_error: bool = False,
    method: str = "GET",
    body: bytes | None = None,
    bodies: Mapping[str, bytes] | None = None,
    expect_status: int = 200,
    expect_location: str | None = None,
    reverse_every_other: bool = False,
) -> tuple[dict[str, list[float]], int]:
    """Requests/s of each server under :func:`http_load`, alternating in ``plan.http_rounds`` rounds.

    Returns the samples and how many requests failed in all. A round with no
    successful request fails the benchmark.

    :param plan: the suite's request figures (rounds, seconds a round, wrk's connections).
    :param ports: contender name to its server's port on 127.0.0.1.
    :param path: the path every request goes to, unless ``paths`` are given.
    :param paths: paths the requests go to in turn (see :func:`http_load`).
    :param headers: contender name to the headers of its requests (its session cookie, say).
    :param fail_on_error: fail on any request that does not answer ``expect_status``, not only on a round without one.
    :param method: the requests' method.
    :param body: the requests' body (with its ``Content-Type`` in ``headers``), for a ``POST``.
    :param bodies: contender name to the body of its requests, where they differ (a form's CSRF token).
    :param expect_status: the status a request must answer to count (201 for a create).
    :param expect_location: the Lua pattern an answer's ``Location`` path must match to count (see :func:`wrk_script`).
    :param reverse_every_other: run the contenders in reverse order every second round (see :func:`alternate`).
    """
    errors = dict.fromkeys(ports, 0)

    def load(name: str) -> float:
        outcome = http_load(
            ports[name],
            path=path,
            paths=paths,
            headers=(headers or {}).get(name),
            seconds=plan.http_round_seconds,
            max_requests=1_000_000,
            threads=plan.http_threads,
            method=method,
            body=(bodies or {}).get(name, body),
            expect_status=expect_status,
            expect_location=expect_location,
        )
        errors[name] += outcome.errors
        if fail_on_error and outcome.errors:
            raise BenchError(f"{name}: {outcome.errors} request(s) to {path} did not answer {expect_status} in a round")
        if outcome.ok == 0:
            raise BenchError(f"{name}: no successful request in a round ({outcome.errors} errors)")
        return outcome.per_second

    samples = alternate(
        {name: functools.partial(load, name) for name in ports},
        rounds=plan.http_rounds,
        max_seconds=plan.http_rounds * plan.http_round_seconds * len(ports) * 2,
        reverse_every_other=reverse_every_other,
    )
    return samples, sum(errors.values())


# --------------------------------------------------------------------------- output


def _format_value(value: float, unit: str) -> str:
    if unit == "req/s" or unit.startswith("instructions"):
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.3f}"


def format_results(suite: str, results: Sequence[Result]) -> str:
    """A plain-text table of ``results``: each contender's median and ratio, then the target."""
    lines = [f"== {suite} =="]
    for result in results:
        lines.append("")
        lines.append(result["title"])
        if "skipped" in result:
            lines.append(f"  SKIPPED: {result['skipped']}")
            continue
        unit = result["unit"]
        width = max(len(c["name"]) for c in result["contenders"]) + 2
        better = "higher" if result["higher_is_better"] else "lower"
        figures = {
            key: [_format_value(contender[key], unit) for contender in result["contenders"]]
            for key in ("median", "min", "max")
        }
        # Each figure's column as wide as its widest figure, with two spaces before it: a billion instructions
        # would otherwise run into the next column.
        median_width, min_width, max_width = (
            max(len(heading), *map(len, figures[key])) + 2
            for key, heading in (("median", "median " + unit), ("min", "min"), ("max", "max"))
        )
        lines.append(
            f"  {'contender':<{width}}{'median ' + unit:>{median_width}}{'min':>{min_width}}{'max':>{max_width}}"
            f"{'n':>5}{'ratio':>9}   ({better} is better; ratio = median / median of {result['baseline']})"
        )
        for index, contender in enumerate(result["contenders"]):
            ratio = contender["ratio"]
            lines.append(
                f"  {contender['name']:<{width}}{figures['median'][index]:>{median_width}}"
                f"{figures['min'][index]:>{min_width}}{figures['max'][index]:>{max_width}}"
                f"{contender['n']:>5}{'' if ratio is None else f'{ratio:.3f}':>9}"
            )
        summary = f"  ratio {result['subject']} / {result['baseline']} = {result['ratio']:.3f}"
        if result.get("paired_ratio") is not None:
            summary += f" (median of per-round ratios {result['paired_ratio']:.3f})"
        if result["target"]:
            summary += f"   target {result['target']}: " + verdict(
                result["target_met"], result.get("paired_target_met"), result.get("too_loaded")
            )
        lines.append(summary)
        for key, value in result["extra"].items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            lines.append(f"  {key}: {shown}")
        for note in result["notes"]:
            lines.append(f"  note: {note}")
    return "\n".join(lines)
