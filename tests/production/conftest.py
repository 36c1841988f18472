"""Fixtures of the production suite: the deployment (one per run), each scenario, the printed report."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from erlen.testing import service_unavailable

from .deployment import KINDS, Deployment
from .report import Report
from .scenario import Scenario

#: The whole suite's budget, in seconds: a scenario that would start after it fails at once
#: (each test is bounded by pytest-timeout too, so the run ends within about budget + one test).
SUITE_BUDGET = 420.0

#: Confirmed accounts, one per simulated writer.
WRITERS = 10

REPORT_KEY = pytest.StashKey[Report]()
STARTED_KEY = pytest.StashKey[float]()

_NEEDED = {
    "notes_app": "the example app: pip install ./examples/profiles ./examples/notes",
    "gunicorn": "gunicorn: pip install gunicorn",
    "aiosmtpd": "aiosmtpd: pip install 'erlen-mail[testing]'",
    "redis": "the Redis client: pip install 'erlen-auth[redis]'",
    "psycopg": "psycopg: pip install erlen-db",
}


def pytest_configure(config: pytest.Config) -> None:
    config.stash[REPORT_KEY] = Report()
    config.stash[STARTED_KEY] = time.monotonic()
    config.addinivalue_line(
        "markers",
        "deployments(*kinds): the kinds of deployment ('mail', 'tasks') the test runs on; 'mail' alone by default",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test on the deployments its ``deployments`` mark names (``mail`` by default), one after the
    other: pytest groups the tests of each deployment, so each is started once."""
    if "deployment" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("deployments")
    kinds = list(marker.args) if marker is not None else ["mail"]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown deployments {sorted(unknown)}")
    metafunc.parametrize("deployment", kinds, indirect=True, scope="session")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    report = config.stash.get(REPORT_KEY, None)
    if report is None or not (report.scenarios or report.notes):
        return
    terminalreporter.section("production figures")
    for line in report.lines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"suite wall time: {time.monotonic() - config.stash[STARTED_KEY]:.1f} s")


@pytest.fixture(scope="session")
def report(pytestconfig: pytest.Config) -> Report:
    """The figures printed at the end of the run."""
    return pytestconfig.stash[REPORT_KEY]


@pytest.fixture(scope="session")
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, report: Report
) -> Iterator[Deployment]:
    """The example app on gunicorn, PostgreSQL, Redis, SMTP and a background worker of the suite's own: of
    the kind the test's parameter names (``mail`` or ``tasks``, see :func:`pytest_generate_tests`)."""
    kind = str(getattr(request, "param", "mail"))
    for module, what in _NEEDED.items():
        if importlib.util.find_spec(module) is None:
            service_unavailable(f"the production suite needs {what}")
    started = time.monotonic()
    running = Deployment.start(Path(tmp_path_factory.mktemp(f"production-{kind}")), accounts=WRITERS, kind=kind)
    broker = f", jobs on Redis :{running.broker.port}" if running.broker is not None else ""
    report.notes.append(
        f"deployment '{kind}': gunicorn with {running.gunicorn and running.gunicorn.workers} workers on 127.0.0.1:"
        f"{running.port}, erlen {kind} worker, PostgreSQL on :{running.postgres.port}, Redis on "
        f":{running.redis.port}{broker}, SMTP on :{running.smtp.port}; started in {time.monotonic() - started:.1f} s ("
        + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in running.timings.items())
        + ")"
    )
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def scenario(deployment: Deployment, report: Report, pytestconfig: pytest.Config) -> Iterator[Scenario]:
    """One scenario's users and counts; its users are stopped after the test whatever happens."""
    elapsed = time.monotonic() - pytestconfig.stash[STARTED_KEY]
    if elapsed > SUITE_BUDGET:
        pytest.fail(f"the production suite's budget of {SUITE_BUDGET:g} s ran out ({elapsed:.0f} s) before this one")
    running = Scenario(deployment, report)
    try:
        yield running
    finally:
        running.stop_load()
