"""Gauges read at scrape time that hang: ``/metrics`` still answers, without piling up threads or connections."""

from __future__ import annotations

import math
import threading
import time
import typing as t
from collections.abc import Callable, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

import erlen
from erlen.testing import MakeApp

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}

#: The names of the threads reading each outbox gauge (see erlen_ops.metrics.MetricsFactory.gauge_reads).
OUTBOX_GAUGES = ("erlen_mail_outbox_messages", "erlen_mail_outbox_oldest_seconds")


def metric_names(body: bytes) -> set[str]:
    return {family.name for family in text_string_to_metric_families(body.decode())}


def gauge_threads(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == f"erlen-ops-gauge-{name}"]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait (at most 30 s, so a broken test fails rather than hangs) until ``condition()`` holds."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after 30 s"
        time.sleep(0.02)


def allow_slow_reads(app: t.Any) -> None:
    """Let the app's scrapes wait 30 s for their gauges: a test expecting a gauge in the answer must not depend on
    the short timeout that keeps its scrapes of a hung gauge quick."""
    from erlen_ops import state_of

    metrics = state_of(app).metrics
    assert metrics is not None
    metrics.factory.gauge_reads.timeout = 30


def scrape_in_thread(client: t.Any) -> t.Any:
    """Scrape on a thread of its own, waited for at most 60 s: the old code's scrape never returned."""
    answers: list[t.Any] = []
    scraper = threading.Thread(target=lambda: answers.append(client.get("/metrics", environ_base=LOCAL)), daemon=True)
    scraper.start()
    scraper.join(60)
    assert not scraper.is_alive() and answers, "/metrics did not answer while a gauge hangs"
    return answers[0]


@pytest.fixture
def outbox_schema_url(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL schema of the test's own (erlen-db's fixture), for erlen-mail's outbox; the tests of the
    outbox gauge skip where ops is installed alone (nox's tests-ops)."""
    pytest.importorskip("erlen_db", reason="the outbox gauge reads erlen-db's database")
    pytest.importorskip("erlen_mail", reason="the outbox gauge is erlen-mail's")
    return t.cast(str, request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def locked_outbox(outbox_app: t.Any, outbox_schema_url: str) -> Iterator[Callable[[], None]]:
    """Holds an ACCESS EXCLUSIVE lock on the outbox table of the test's own schema, as a migration running on
    another host would; every read of the table waits for it. Yields the function that releases it."""
    import sqlalchemy as sa

    engine = sa.create_engine(outbox_schema_url, poolclass=sa.NullPool)
    connection = engine.connect()
    transaction = connection.begin()
    connection.execute(sa.text("LOCK TABLE mail_outbox IN ACCESS EXCLUSIVE MODE"))

    def release() -> None:
        if transaction.is_active:
            transaction.rollback()

    try:
        yield release
    finally:
        release()
        connection.close()
        engine.dispose()


@pytest.fixture
def outbox_app(make_app: MakeApp, outbox_schema_url: str) -> Iterator[t.Any]:
    """An app whose mail outbox is a table of the test's own schema on the shared PostgreSQL."""
    import erlen_db

    config = {
        "DB_URL": outbox_schema_url,
        "MAIL_BACKEND": "memory",
        "MAIL_DEFAULT_SENDER": "app@example.com",
        "OPS_METRICS": True,
        "OPS_METRICS_TIMEOUT": 0.5,
    }
    app = make_app(["db", "mail", "ops"], config)
    erlen_db.database_of(app).create_all()
    yield app
    erlen_db.database_of(app).dispose()


def test_a_hung_outbox_gauge_is_left_out_and_not_read_again_while_it_hangs(
    outbox_app: t.Any, locked_outbox: Callable[[], None], outbox_schema_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A scrape while the outbox table is locked hung for as long as the lock (forever, for a hung database),
    and each further scrape added a thread and a connection waiting the same way. Now each scrape answers with
    the other metrics, the hung gauges left out; each is read on one thread (one connection) until the read
    ends, and the operator is told once per gauge, naming it and its plugin."""
    import sqlalchemy as sa

    client = outbox_app.test_client()
    for _ in range(4):
        answer = scrape_in_thread(client)
        assert answer.status_code == 200
        names = metric_names(answer.data)
        assert "erlen_http_requests_in_flight" in names
        assert not names & set(OUTBOX_GAUGES)
    for gauge in OUTBOX_GAUGES:
        assert len(gauge_threads(gauge)) == 1, gauge
    # One connection per gauge waits for the lock, however many scrapes there were.
    observer = sa.create_engine(outbox_schema_url, poolclass=sa.NullPool)
    try:
        with observer.connect() as connection:
            waiting = connection.execute(
                sa.text("SELECT count(*) FROM pg_locks WHERE relation = 'mail_outbox'::regclass AND NOT granted")
            ).scalar_one()
    finally:
        observer.dispose()
    assert waiting == 2
    hung = [record.getMessage() for record in caplog.records if "did not answer within" in record.getMessage()]
    assert sorted(hung) == [
        f"Metric {gauge} of plugin 'mail' did not answer within 0.5 seconds (OPS_METRICS_TIMEOUT): left out of the "
        "scrapes until it answers. Does the database or service it reads hang?"
        for gauge in OUTBOX_GAUGES
    ]

    locked_outbox()  # the lock is released: the hung reads end, the next scrape reads the gauges again
    for gauge in OUTBOX_GAUGES:
        wait_for(lambda gauge=gauge: not gauge_threads(gauge), f"done reading {gauge}")  # type: ignore[misc]
    # Time enough for the reads on a loaded machine: within 0.5 s, a slow one would be left out and the test fail.
    allow_slow_reads(outbox_app)
    names = metric_names(scrape_in_thread(client).data)
    assert set(OUTBOX_GAUGES) <= names


def test_a_gauge_hanging_again_after_it_recovered_is_logged_again(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    """Once per hang: a gauge that hangs, recovers and hangs again is logged for each hang."""
    from erlen_ops import state_of

    app = make_app(["ops"], {"OPS_METRICS": True, "OPS_METRICS_TIMEOUT": 0.05})
    metrics = state_of(app).metrics
    assert metrics is not None
    release = threading.Event()
    metrics.factory.on_scrape("erlen_test_waits", "Waits for the test.", lambda: 1 if release.wait(30) else None)
    client = app.test_client()
    for _hang in range(2):
        release.clear()
        for _ in range(3):
            assert "erlen_test_waits" not in metric_names(scrape_in_thread(client).data)
        release.set()
        wait_for(lambda: not gauge_threads("erlen_test_waits"), "done reading")
    allow_slow_reads(app)  # within 0.05 s, a loaded machine could leave even a quick read out
    assert "erlen_test_waits" in metric_names(scrape_in_thread(client).data)
    logged = [record for record in caplog.records if "erlen_test_waits did not answer" in record.getMessage()]
    assert len(logged) == 2


@pytest.mark.parametrize("value", [math.nan, math.inf, 0, -1.0])
def test_a_metrics_timeout_that_is_not_a_positive_finite_number_names_the_setting(
    make_app: MakeApp, value: float
) -> None:
    with pytest.raises(erlen.SettingError, match=r"OPS_METRICS_TIMEOUT.*must be a number of seconds, finite and"):
        make_app(["ops"], {"OPS_METRICS": True, "OPS_METRICS_TIMEOUT": value})


def test_a_metrics_timeout_longer_than_a_thread_can_be_waited_for_names_the_setting(make_app: MakeApp) -> None:
    with pytest.raises(erlen.SettingError, match=r"OPS_METRICS_TIMEOUT.*finite and at most \d+"):
        make_app(["ops"], {"OPS_METRICS": True, "OPS_METRICS_TIMEOUT": threading.TIMEOUT_MAX * 2})
