"""Build, test and benchmark the Erlen monorepo.

``nox`` runs the default sessions: a test session per distribution in a
virtual environment holding only that distribution and its declared
dependencies (which proves each installs and works alone), ``integration``
with everything, ``production`` (the example app deployed and put under load
and faults, see tests/production/README.md), ``lint``, ``typecheck`` and ``docs``. ``nox -s bench`` runs
the benchmarks. uv creates the environments when it is installed; plain
virtualenv otherwise.
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


def _install_local(session: nox.Session, name: str, extras: str = "") -> None:
    folders = _local_requirements(name)
    *dependencies, own = folders
    # Local distributions are not on an index: install them by path, the
    # dependencies first so the resolver finds them installed.
    session.install(*[str(folder) for folder in dependencies], f"{own}{extras}")


def _pytest_args(session: nox.Session) -> list[str]:
    return session.posargs or ["-q"]


def _make_test_session(name: str, folder: Path) -> None:
    short = "core" if folder.name == "core" else folder.name

    @nox.session(name=f"tests-{short}", python=PYTHON)
    def tests(session: nox.Session) -> None:
        _install_local(session, name, "[test]")
        session.chdir(folder)
        session.run("pytest", *_pytest_args(session))

    tests.__doc__ = f"Test {name} alone, with only its declared dependencies."


for _name, _folder in DISTRIBUTIONS.items():
    _make_test_session(_name, _folder)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Every package's tests with every distribution installed (optional integrations
    such as model forms run here), then the cross-package and end-to-end tests."""
    for name in DISTRIBUTIONS:
        _install_local(session, name, "[test]")
    session.install("-r", "bench/requirements.txt")
    session.install(*EXAMPLES_WITH_TESTS)
    for folder in DISTRIBUTIONS.values():
        session.chdir(folder)
        session.run("pytest", *_pytest_args(session))
    session.chdir(ROOT)
    # axe-core, which the browser tests inject to check accessibility, from the npm registry.
    if shutil.which("npm"):
        session.run("npm", "ci", "--prefix", "tests/browser", "--no-audit", "--no-fund", external=True)
    else:
        session.warn("npm is missing: the accessibility checks of tests/browser will skip (install Node.js and npm)")
    # tests/production has a session of its own (it starts servers and runs for minutes).
    session.run("pytest", "tests", "--ignore=tests/production", *_pytest_args(session))


#: The production suite's limit per test, in seconds (the suite bounds its whole run too: see its conftest).
PRODUCTION_TEST_TIMEOUT = 120


@nox.session(python=PYTHON)
def production(session: nox.Session) -> None:
    """The example app deployed with gunicorn, PostgreSQL, Redis, SMTP and the mail worker, under load,
    with one fault injected per test; prints the figures (requests, statuses, recovery, mail counts)."""
    # One resolver run: every local distribution is named by its path.
    session.install(
        *[f"{folder}[test]" for folder in DISTRIBUTIONS.values()],
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
        *_pytest_args(session),
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy, strict for the core."""
    for name in DISTRIBUTIONS:
        _install_local(session, name, "[test]")
    session.install("mypy")
    session.run("mypy", *[str(folder / "src") for folder in DISTRIBUTIONS.values()])


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors, and run its examples."""
    for name in DISTRIBUTIONS:
        _install_local(session, name)
    session.install(*EXAMPLES)
    session.install("-r", "docs/requirements.txt", "pytest")
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
