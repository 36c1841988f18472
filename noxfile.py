"""Build, test and benchmark the Erlen monorepo.

``nox`` runs the default sessions, in this order:

``tests-<package>``
    Each distribution's tests in a virtual environment holding only that
    distribution and its declared dependencies, each at the lowest version the
    distributions declare (``uv pip install --resolution lowest-direct``;
    docs/compatibility.rst states the range), on SQLite. This proves each
    installs and works alone, and that its lower bounds hold without another
    distribution raising them. Tests needing a distribution the package does
    not declare (erlen-auth's mail pages need erlen-mail, ...) skip here.
``integration``
    Everything installed together at the newest releases: every package's
    tests on PostgreSQL (those that skipped alone included), then the
    cross-package and end-to-end tests (``tests/``, browser tests included) on
    both databases.
``production``
    The example app deployed and put under load and faults, see
    tests/production/README.md.
``lint``, ``typecheck``, ``docs``
    ruff, mypy and the Sphinx build with its doctests.

A test parametrized over both databases (erlen-db's ``database_url``) thus runs
once on each, at one end of the range each: ``ERLEN_TEST_DATABASES`` keeps
one database per session. Running every such test twice more does not fit CI's
40 minutes on two CPUs.

The tests run spread over every CPU with pytest-xdist (``-n auto``; the suites
that mostly wait on servers, in ``WAITING_SUITES``, with more workers): each test
has its own temporary folder, database file or PostgreSQL schema, Redis or
PostgreSQL server on a free port, and browser, so they are independent. Passing
pytest arguments replaces the defaults: ``nox -s tests-db -- -x -k url`` runs in
one process.

``nox -s bench`` runs the benchmarks. uv creates the environments when it is
installed; plain virtualenv otherwise (the ``tests-<package>`` sessions then install the newest
releases, and say so).
"""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_external_run = True

ROOT = Path(__file__).parent
PYTHON = "3.11"


def _distributions() -> dict[str, Path]:
    """Every distribution of the monorepo: its name to its folder."""
    folders = [ROOT / "core", *sorted(p.parent for p in (ROOT / "extensions").glob("*/pyproject.toml"))]
    found = {}
    for folder in folders:
        with (folder / "pyproject.toml").open("rb") as fh:
            found[tomllib.load(fh)["project"]["name"]] = folder
    return found


DISTRIBUTIONS = _distributions()

#: The example distributions: a third-party plugin and the app that enables it by name.
EXAMPLES = ["./examples/profiles", "./examples/notes"]
EXAMPLES_WITH_TESTS = [f"{example}[test]" for example in EXAMPLES]


def _local_requirements(name: str, seen: set[str] | None = None) -> list[Path]:
    """The folders of ``name`` and of the monorepo distributions it depends on, dependencies first."""
    seen = set() if seen is None else seen
    if name in seen:
        return []
    seen.add(name)
    with (DISTRIBUTIONS[name] / "pyproject.toml").open("rb") as fh:
        dependencies = tomllib.load(fh)["project"].get("dependencies", [])
    folders: list[Path] = []
    for requirement in dependencies:
        dependency = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        if dependency in DISTRIBUTIONS:
            folders += _local_requirements(dependency, seen)
    return [*folders, DISTRIBUTIONS[name]]


def _install_local(session: nox.Session, name: str, extras: str = "", *options: str) -> None:
    """Install the distribution ``name`` with the monorepo distributions it depends on, in one resolver run.

    :param session: the session whose environment it goes into.
    :param name: the distribution.
    :param extras: its extras, as ``"[test]"``.
    :param options: more options of the installer (``--resolution lowest-direct``).
    """
    folders = _local_requirements(name)
    *dependencies, own = folders
    # Local distributions are not on an index: install them by path, the
    # dependencies first so the resolver finds them installed.
    session.install(*options, *[str(folder) for folder in dependencies], f"{own}{extras}")


#: pytest-xdist, which spreads the tests over the CPUs (``--dist worksteal`` is 3.2's).
XDIST = "pytest-xdist>=3.5"

#: pytest's arguments unless the command line gives others: quiet, one worker per CPU, and a worker that is
#: done takes tests queued for another (the durations of tests vary from milliseconds to a minute).
PYTEST_DEFAULTS = ["-q", "-n", "auto", "--dist", "worksteal"]

#: The suites that mostly wait (on the Redis, PostgreSQL and RabbitMQ servers their tests start and stop, on
#: outages and retries), with their number of workers: more than one per CPU finishes them sooner. Measured on
#: 2 CPUs: erlen-tasks took 191 s of wall time for 88 s of CPU with 2 workers, 119 s with 4; later (on PostgreSQL,
#: more tests) 84 s with 4 and 64 s with 8.
WAITING_SUITES = {"erlen-tasks": "8"}


def _pytest_args(session: nox.Session, name: str | None = None) -> list[str]:
    """pytest's arguments for the suite of the distribution ``name``: the command line's, else the defaults.

    :param session: the session, whose ``posargs`` replace the defaults.
    :param name: the distribution whose suite runs; ``None`` for the cross-package tests.
    """
    if session.posargs:
        return session.posargs
    workers = WAITING_SUITES.get(name or "")
    if workers is None:
        return PYTEST_DEFAULTS
    return ["-q", "-n", workers, "--dist", "worksteal"]


#: The workers of the cross-package tests (tests/), which wait on the servers, browsers and valgrind runs they
#: start: on 2 CPUs they took 524 s with 2 workers, 452 s with 3 and longer again with 4.
CROSS_PACKAGE_WORKERS = "3"

#: uv's resolution of each declared dependency to the lowest version its pyproject allows.
_LOWEST_VERSIONS = ["--resolution", "lowest-direct"]


def _make_test_session(name: str, folder: Path) -> None:
    short = "core" if folder.name == "core" else folder.name

    @nox.session(name=f"tests-{short}", python=PYTHON)
    def tests(session: nox.Session) -> None:
        lowest = _LOWEST_VERSIONS if shutil.which("uv") else []
        if not lowest:
            session.warn("uv is missing: the newest releases are installed, not the lowest declared (pip install uv)")
        _install_local(session, name, "[test]", *lowest)
        # pytest-xdist is not a declared dependency: an install of its own keeps it out of the lowest resolution.
        session.install(XDIST)
        _show_versions(session)
        session.chdir(folder)
        session.run("pytest", *_pytest_args(session, name), env={"ERLEN_TEST_DATABASES": "sqlite"})

    tests.__doc__ = f"Test {name} alone, with only its declared dependencies at their lowest versions, on SQLite."


for _name, _folder in DISTRIBUTIONS.items():
    _make_test_session(_name, _folder)


#: The libraries Erlen is built on, whose installed versions each test session prints.
BUILT_ON = ["flask", "werkzeug", "sqlalchemy", "alembic", "wtforms", "flask-login", "pluggy", "psycopg"]


def _every_distribution(extras: str = "") -> list[str]:
    """Every local distribution by its path (one resolver run finds them all), with ``extras``."""
    return [f"{folder}{extras}" for folder in DISTRIBUTIONS.values()]


def _show_versions(session: nox.Session) -> None:
    """Print the installed versions of the libraries Erlen is built on, for the log (those installed)."""
    session.run(
        "python",
        "-c",
        "import sys\n"
        "from importlib.metadata import PackageNotFoundError, version\n"
        "def found(name):\n"
        "    try:\n"
        "        return f'{name} {version(name)}'\n"
        "    except PackageNotFoundError:\n"
        "        return None\n"
        "print(', '.join(filter(None, map(found, sys.argv[1:]))))",
        *BUILT_ON,
        silent=False,
    )


#: VACUUM the test PostgreSQL server's catalog tables that creating and dropping schemas fills.
_VACUUM_CATALOG = """
import sqlalchemy as sa

from erlen_db.testing import postgres_url

tables = ["pg_class", "pg_attribute", "pg_attrdef", "pg_constraint", "pg_depend", "pg_index", "pg_type", "pg_trigger"]
engine = sa.create_engine(postgres_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
try:
    with engine.connect() as connection:
        connection.execute(sa.text("VACUUM " + ", ".join(f"pg_catalog.{table}" for table in tables)))
except sa.exc.OperationalError as exc:
    print(f"PostgreSQL's catalog not vacuumed: {str(exc).splitlines()[0]}")
"""


def _vacuum_test_catalog(session: nox.Session) -> None:
    """VACUUM the test PostgreSQL server's catalog tables that the last suite's schemas filled with dead rows.

    Each PostgreSQL test creates a schema of its own and drops it: a suite leaves tens of megabytes of dead rows
    in the catalog, which every later schema's DDL reads through unless autovacuum runs (it does not on CI's
    server). On 2 CPUs the auth suite took 79 s on a vacuumed catalog and 88 s after one earlier run of it.
    A plain VACUUM locks nothing, so that other work on the server goes on; it makes the dead rows' room free
    for the next suite's. A server that cannot be reached is said and skipped: the suites report it.

    :param session: the session, with erlen-db (SQLAlchemy and psycopg) installed.
    """
    session.run("python", "-c", _VACUUM_CATALOG)


def _run_package_suites(session: nox.Session) -> None:
    """Every distribution's tests, each from its folder (its own pytest configuration), on PostgreSQL.

    :param session: the session, whose ``posargs`` replace pytest's default arguments.
    """
    for name, folder in DISTRIBUTIONS.items():
        session.chdir(folder)
        session.run("pytest", *_pytest_args(session, name), env={"ERLEN_TEST_DATABASES": "postgresql"})
        _vacuum_test_catalog(session)
    session.chdir(ROOT)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Everything installed together at the newest releases: every package's tests on PostgreSQL, then the
    cross-package and end-to-end tests (tests/) on both databases."""
    session.install(*_every_distribution("[test]"), *EXAMPLES_WITH_TESTS, "-r", "bench/requirements.txt", XDIST)
    _show_versions(session)
    _run_package_suites(session)
    # axe-core, which the browser tests inject to check accessibility, from the npm registry.
    if shutil.which("npm"):
        session.run("npm", "ci", "--prefix", "tests/browser", "--no-audit", "--no-fund", external=True)
    else:
        session.warn("npm is missing: the accessibility checks of tests/browser will skip (install Node.js and npm)")
    # tests/production has a session of its own (it starts servers and runs for minutes).
    # Whole modules per worker: tests/browser's module-scoped fixtures (a sweep of every page) run once, not once per
    # worker; a worker that is free takes the next module.
    arguments = session.posargs or ["-q", "-n", CROSS_PACKAGE_WORKERS, "--dist", "loadscope"]
    session.run("pytest", "tests", "--ignore=tests/production", *arguments)


#: The production suite's limit per test, in seconds (the suite bounds its whole run too: see its conftest).
PRODUCTION_TEST_TIMEOUT = 120


@nox.session(python=PYTHON)
def production(session: nox.Session) -> None:
    """The example app deployed with gunicorn, PostgreSQL, Redis, SMTP and a background worker (``erlen mail
    worker``, then ``erlen tasks worker`` with its jobs on Redis), under load, with one fault injected per test;
    prints the figures (requests, statuses, recovery, mail and job counts)."""
    # One resolver run: every local distribution is named by its path.
    session.install(
        *_every_distribution("[test]"),
        *EXAMPLES,
        "gunicorn",
        "aiosmtpd",
        "redis",
        "psycopg[binary]",
        "pytest-timeout",
    )
    session.chdir(ROOT)
    session.run(
        "pytest",
        "tests/production",
        f"--timeout={PRODUCTION_TEST_TIMEOUT}",
        "--tb=short",
        "-p",
        "no:cacheprovider",
        # In one process: its tests deploy the app and put it under load one after another (a fault each).
        *(session.posargs or ["-q"]),
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy, strict for every package and the example apps (the folders of ``files`` in pyproject.toml)."""
    session.install(*_every_distribution("[test]"), *EXAMPLES_WITH_TESTS, "mypy")
    session.run("mypy")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors, and run its examples."""
    session.install(*_every_distribution(), *EXAMPLES, "-r", "docs/requirements.txt", "pytest")
    # The docs' own checks (the Sphinx extensions that refuse snippets a reader could not run), then the build.
    session.run("pytest", "docs/tests", "-q")
    session.run("sphinx-build", "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html")
    session.run("sphinx-build", "-W", "-q", "-b", "doctest", "docs", "docs/_build/doctest")


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks against plain Flask and the classic Flask extensions; prints ratios."""
    for name in DISTRIBUTIONS:
        _install_local(session, name)
    session.install("-r", "bench/requirements.txt")
    session.run("python", "bench/run.py", *session.posargs)
