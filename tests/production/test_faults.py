"""The example app in production: under load from many users, one fault injected per test.

Every test starts simulated users (log-ins, reading, writing notes,
registrations), injects its fault during the load, repairs it, and then
asserts counts, never timings: no acknowledged note lost or saved twice, no
promised or queued mail lost or delivered twice, no 500 (a 503 while the
database is down is right). The figures, recovery times included, are
printed at the end of the run.

A test runs on the deployment without ``tasks`` (``erlen mail worker``), and
those marked ``deployments("mail", "tasks")`` or ``deployments("tasks")`` on
the one with ``tasks`` too (``erlen tasks worker``, jobs on Redis): the
faults that concern the worker, the broker and the mail server.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

import pytest

from erlen_mail.testing import ReceivedMessage

from .deployment import ACCOUNT_LIMIT, ADMIN_EMAIL, EXAMPLE_PLUGINS, TESTS_FOLDER, WORKERS, Deployment
from .load import REQUEST_TIMEOUT, Browser, Ledger, UserPlan
from .processes import run_command, wait_until
from .report import latency_summary
from .scenario import Scenario, assert_nothing_lost


def _registrars(count: int) -> list[UserPlan]:
    return [UserPlan(None, think=0.1) for _ in range(count)]


def _outcomes_between(ledger: Ledger, kind: str, start: float, end: float) -> list[int | None]:
    return [o.status for o in ledger.of_kind(kind) if start <= o.started < end]


def test_load_alone(deployment: Deployment, scenario: Scenario) -> None:
    """The baseline: the same users without a fault lose nothing and see no 5xx."""
    load = scenario.begin("load alone", deployment.writers() + _registrars(2))
    load.pause(8)
    figures = scenario.finish()
    assert_nothing_lost(figures)
    assert figures.writes is not None and figures.writes.acknowledged > 0


def test_database_stopped_for_ten_seconds(deployment: Deployment, scenario: Scenario) -> None:
    """503 while PostgreSQL is down (never 500, logged in or not); the app recovers by itself when it returns."""
    probe = Browser(deployment.port, Ledger(), source="127.0.0.4")
    answer = probe.log_in(ADMIN_EMAIL)
    assert answer is not None and answer.status == 302, answer
    load = scenario.begin("database stopped for 10 s", deployment.writers() + _registrars(2))
    load.pause(3)
    down = time.monotonic()
    deployment.postgres.stop()
    time.sleep(10)
    deployment.postgres.start_again()
    back = time.monotonic()

    def page_served() -> bool:
        page = probe.request("probe", "GET", "/notes/")
        return page is not None and page.status == 200

    recovery = wait_until(page_served, timeout=30, interval=0.02, what="a logged-in page after the database returned")
    load.pause(3)
    saved_after = [
        o.started + o.seconds - back for o in load.ledger.of_kind("note.post") if o.status == 302 and o.started >= back
    ]
    during = load.ledger.statuses(down, back)
    figures = scenario.finish(
        **{
            "recovery after the database returned": f"{recovery:.2f} s to the first logged-in page (target <= 2 s)",
            "first acknowledged note after it returned": f"{min(saved_after):.2f} s" if saved_after else "none",
            "answers while it was down": ", ".join(f"{k} x{v}" for k, v in sorted(during.items())),
        }
    )
    assert during["503"] > 0, f"no request met the outage: {dict(during)}"
    assert_nothing_lost(figures, allowed_5xx=frozenset({503}))


#: How long Redis stays down at least; longer while the wrong passwords are still being answered, up to the maximum.
REDIS_OUTAGE_SECONDS = 6.0
REDIS_OUTAGE_MAX_SECONDS = 30.0


#: Wrong passwords sent during a Redis outage: one more than every worker's own limit allows
#: together, so that one worker at least must refuse one even if each counts alone.
WRONG_PASSWORDS = WORKERS * ACCOUNT_LIMIT + 1


def _wrong_passwords(
    deployment: Deployment, source: str, email: str, over: threading.Event, statuses: list[int | None]
) -> None:
    """Send :data:`WRONG_PASSWORDS` wrong passwords for ``email`` from ``source``, stopping once ``over`` is set.

    :param statuses: gets the status of each answer as it comes (``None``: no answer).
    """
    browser = Browser(deployment.port, Ledger(), source=source)
    token = browser.csrf_token("/auth/login")
    assert token is not None, "the log-in page has no CSRF token"
    for _ in range(WRONG_PASSWORDS):
        if over.is_set():
            return
        form = {"email": email, "password": "not the password", "csrf_token": token}
        answer = browser.request("login.post", "POST", "/auth/login", form)
        statuses.append(answer.status if answer is not None else None)


def _redis_outage(deployment: Deployment, scenario: Scenario, *, name: str, freeze: bool, source: str) -> None:
    load = scenario.begin(name, deployment.writers())
    load.pause(2)
    start = time.monotonic()
    if freeze:
        deployment.redis.freeze()
    else:
        deployment.redis.stop()
    # While Redis is out, failed log-ins must still be counted (per process): throttling never goes off.
    over = threading.Event()
    statuses: list[int | None] = []
    checker = threading.Thread(
        target=_wrong_passwords, args=(deployment, source, f"nobody-{source}@example.com", over, statuses), daemon=True
    )
    checker.start()
    load.pause(REDIS_OUTAGE_SECONDS)
    checker.join(max(0.0, start + REDIS_OUTAGE_MAX_SECONDS - time.monotonic()))
    over.set()
    answered_in_outage = len(statuses)
    if freeze:
        deployment.redis.thaw()
    else:
        deployment.redis.start_again()
    end = time.monotonic()
    checker.join(REQUEST_TIMEOUT + 5)
    load.pause(2)
    log_ins = [o for o in load.ledger.of_kind("login.post") if start <= o.started < end]
    attempts = WRONG_PASSWORDS
    refused = statuses[:answered_in_outage].count(429)
    figures = scenario.finish(
        **{
            "outage": f"{end - start:.1f} s",
            "log-ins during the outage": latency_summary([o.seconds for o in log_ins]),
            "log-in answers during the outage": json.dumps(Counter(o.label for o in log_ins)),
            "wrong passwords during the outage": f"{answered_in_outage} of {attempts} answered, {refused} refused "
            f"with 429 ({json.dumps(Counter(map(str, statuses)))})",
        }
    )
    assert_nothing_lost(figures)
    assert log_ins, "no user logged in during the outage"
    failed = [o.label for o in log_ins if o.status != 302]
    assert not failed, f"log-ins with the right password failed during the outage: {failed}"
    assert answered_in_outage == attempts, (
        f"only {answered_in_outage} of {attempts} log-ins with a wrong password were answered during the "
        f"{end - start:.0f} s outage"
    )
    assert refused > 0, (
        f"throttling was off while Redis was unreachable: {attempts} wrong passwords for one account, none refused"
    )


def test_redis_stopped(deployment: Deployment, scenario: Scenario) -> None:
    """Log-ins go on while Redis is down, and throttling holds (per process) meanwhile."""
    _redis_outage(deployment, scenario, name="redis stopped", freeze=False, source="127.0.0.2")


def test_redis_frozen(deployment: Deployment, scenario: Scenario) -> None:
    """A Redis that accepts connections but answers nothing (SIGSTOP) neither blocks log-ins nor lifts throttling."""
    _redis_outage(deployment, scenario, name="redis frozen", freeze=True, source="127.0.0.3")


@pytest.mark.deployments("mail", "tasks")
def test_smtp_stopped_during_registrations(deployment: Deployment, scenario: Scenario) -> None:
    """Registrations and notes go on while the SMTP server is down; their mail goes out once it is back."""
    load = scenario.begin("smtp stopped during registrations", deployment.writers(4) + _registrars(4))
    load.pause(2)
    down = time.monotonic()
    deployment.smtp.stop()
    load.pause(6)
    deployment.smtp.start()
    back = time.monotonic()
    load.pause(2)
    registrations = _outcomes_between(load.ledger, "register.post", down, back)
    # A message whose DATA was on the wire when the server went down has no answer: the worker marks it
    # uncertain, as it must (the server may have it). The operator looks it up and retries it if it is not there.
    settled = _settle_uncertain_mail(deployment, scenario)
    figures = scenario.finish(
        **{
            "registrations while SMTP was down": json.dumps(
                {str(s): registrations.count(s) for s in set(registrations)}
            ),
            "uncertain, retried by the operator": f"{settled[0]}, {settled[1]}",
        }
    )
    assert registrations, "nobody registered while the SMTP server was down"
    assert_nothing_lost(figures)


def test_gunicorn_worker_killed(deployment: Deployment, scenario: Scenario) -> None:
    """A SIGKILLed worker loses at most the request it was serving; gunicorn starts another."""
    gunicorn = deployment.gunicorn
    assert gunicorn is not None
    load = scenario.begin("gunicorn worker killed", deployment.writers() + _registrars(1))
    load.pause(3)
    victim = gunicorn.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    replaced = wait_until(
        lambda: victim not in gunicorn.worker_pids() and len(gunicorn.worker_pids()) == WORKERS,
        timeout=30,
        what="gunicorn replacing the killed worker",
    )
    load.pause(3)
    figures = scenario.finish(**{"worker replaced after": f"{replaced:.2f} s"})
    # A sync worker serves one request at a time: that one may go unanswered, never a saved write.
    assert_nothing_lost(figures, no_answer=1)


@pytest.mark.deployments("mail", "tasks")
def test_worker_killed_mid_batch(deployment: Deployment, scenario: Scenario) -> None:
    """The worker (``erlen mail worker``, or ``erlen tasks worker`` with its jobs) SIGKILLed while sending a batch
    of mail under load: a new worker delivers the rest, the notifications included; nothing lost or sent twice."""
    load = scenario.begin(f"{deployment.kind} worker killed mid-batch", deployment.writers(4))
    victim = deployment.worker
    # Killed at a message whose number no usual group size divides: mid-group, not at a group's end.
    batch_size, kill_at = 40, 7
    seen: list[str] = []
    killed = threading.Event()
    batch: set[str] = set()

    def slow_then_kill(message: ReceivedMessage) -> None:
        time.sleep(0.05)  # a slow server: the batch takes a while
        if str(message.email.get("Message-ID", "")).strip() in batch:
            seen.append(message.email["Message-ID"])
            if len(seen) == kill_at and not killed.is_set():
                # Before the server answers 250: the worker dies between sending and recording it.
                os.kill(victim.pid, signal.SIGKILL)
                killed.set()

    deployment.smtp.on_data = slow_then_kill
    batch.update(deployment.queue_mail(batch_size, to="batch@example.com"))
    assert len(batch) == batch_size
    assert killed.wait(30), "the mail worker never sent the batch"
    deployment.smtp.on_data = None
    victim.process.wait(timeout=10)  # type: ignore[union-attr]
    # What the dead worker held when it died: the messages marked sending, by delivery (its claim token).
    held = deployment.query(
        "SELECT claim_token, count(*) FROM mail_outbox WHERE id > :mark AND status = 'sending' GROUP BY claim_token",
        mark=scenario.mail_mark.outbox_id,
    )
    deployment.start_worker()
    load.pause(2)
    settled = _settle_uncertain_mail(deployment, scenario)
    figures = scenario.finish(
        **{
            "killed after": f"{kill_at} of the batch's {batch_size} messages were received",
            "sending when it died, by delivery": json.dumps(sorted(int(row[1]) for row in held)),
            "uncertain, retried by the operator": f"{settled[0]}, {settled[1]}",
        }
    )
    # A delivery sends in groups (1, 2, 4, ... up to MAIL_OUTBOX_GROUP_SIZE, 10), and the crash leaves its
    # open group uncertain, those the server never saw included (settled above): at most 10 messages per
    # delivery in progress. erlen mail worker runs one at a time; erlen tasks worker a delivery job per
    # thread (TASKS_WORKER_THREADS, 4) at most.
    deliveries = 1 if deployment.kind == "mail" else TASKS_WORKER_THREADS
    assert all(int(row[1]) <= GROUP_SIZE for row in held), held
    assert len(held) <= deliveries, held
    assert settled[0] <= sum(int(row[1]) for row in held), (settled, held)
    assert_nothing_lost(figures)


#: MAIL_OUTBOX_GROUP_SIZE's and TASKS_WORKER_THREADS' defaults, which the deployment keeps.
GROUP_SIZE = 10
TASKS_WORKER_THREADS = 4


def _settle_uncertain_mail(deployment: Deployment, scenario: Scenario) -> tuple[int, int]:
    """Act as the operator after a worker's crash: once the new worker has moved the dead one's
    ``sending`` rows to ``uncertain`` (its lease ran out), look each up by its Message-ID at the server and
    ``erlen mail retry`` those it never received (the others were delivered: left as they are).

    :returns: how many rows were uncertain, and how many of them were retried.
    """
    mark = scenario.mail_mark.outbox_id
    wait_until(
        lambda: not deployment.query("SELECT 1 FROM mail_outbox WHERE id > :mark AND status = 'sending'", mark=mark),
        timeout=60,
        interval=0.2,
        what="the new worker moving the dead one's messages to uncertain",
    )
    uncertain = deployment.query(
        "SELECT id, message_id FROM mail_outbox WHERE id > :mark AND status = 'uncertain'", mark=mark
    )
    received = {str(message.email.get("Message-ID", "")).strip() for message in list(deployment.smtp.messages)}
    missing = [str(row[0]) for row in uncertain if row[1] not in received]
    if missing:
        retried = run_command(deployment.environ, deployment.directory, "mail", "retry", *missing)
        assert retried.returncode == 0, retried.stdout + retried.stderr
    return len(uncertain), len(missing)


@pytest.mark.deployments("tasks")
def test_broker_stopped(deployment: Deployment, scenario: Scenario) -> None:
    """The jobs' Redis stopped while users write notes and register: requests go on (their jobs wait in the
    outbox table), and once it is back the relay hands the jobs over: every notification and mail arrives."""
    broker = deployment.broker
    assert broker is not None
    load = scenario.begin("broker stopped", deployment.writers() + _registrars(2))
    load.pause(2)
    down = time.monotonic()
    broker.stop()
    load.pause(BROKER_OUTAGE_SECONDS)
    waiting = deployment.job_statuses(scenario.mail_mark.job_id).get("pending", 0)
    broker.start_again()
    back = time.monotonic()
    load.pause(3)
    notes = _outcomes_between(load.ledger, "note.post", down, back)
    registrations = _outcomes_between(load.ledger, "register.post", down, back)
    figures = scenario.finish(
        **{
            "outage": f"{back - down:.1f} s",
            "answers to notes and registrations while it was down": json.dumps(
                Counter(map(str, notes + registrations))
            ),
            "jobs waiting in the outbox when it returned": str(waiting),
        }
    )
    assert notes.count(302) > 0, f"no note was acknowledged while the broker was down: {notes}"
    assert waiting > 0, "no job waited for the broker: the outage met no enqueued job"
    assert_nothing_lost(figures)


#: How long the jobs' Redis stays down.
BROKER_OUTAGE_SECONDS = 6.0


def test_failing_migration(deployment: Deployment, scenario: Scenario) -> None:
    """A release whose migration fails halfway, applied while the app serves: schema and data stay as they were."""
    load = scenario.begin("failing migration", deployment.writers() + _registrars(1))
    load.pause(2)
    version_table = "alembic_version"
    before_versions = sorted(row[0] for row in deployment.query(f"SELECT version_num FROM {version_table}"))
    before_tables = _tables(deployment)
    before_columns = _columns(deployment, "notes_note")
    (mark,) = deployment.query("SELECT max(id) FROM notes_note")
    before_notes = deployment.query("SELECT id, title FROM notes_note WHERE id <= :mark ORDER BY id", mark=mark[0])
    environ = {
        **deployment.environ,
        "ERLEN_PLUGINS": json.dumps([*EXAMPLE_PLUGINS, "production.failing_release"]),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_FOLDER), os.environ.get("PYTHONPATH")])),
    }
    assert deployment.gunicorn is not None
    upgrade = run_command(environ, deployment.directory, "db", "upgrade")
    load.pause(2)
    after_notes = deployment.query("SELECT id, title FROM notes_note WHERE id <= :mark ORDER BY id", mark=mark[0])
    figures = scenario.finish(
        **{
            "erlen db upgrade": f"exit status {upgrade.returncode}: {_last_line(upgrade.stderr or upgrade.stdout)}",
        }
    )
    output = upgrade.stdout + upgrade.stderr
    assert upgrade.returncode != 0, output
    # It failed where the release's bug is, after changing the schema and the notes: not before it began.
    assert "duplicate key" in output, output
    assert sorted(row[0] for row in deployment.query(f"SELECT version_num FROM {version_table}")) == before_versions
    assert _tables(deployment) == before_tables
    assert _columns(deployment, "notes_note") == before_columns
    assert after_notes == before_notes
    assert_nothing_lost(figures)


def _tables(deployment: Deployment) -> list[str]:
    rows = deployment.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [row[0] for row in rows]


def _columns(deployment: Deployment, table: str) -> list[tuple[str, str]]:
    rows = deployment.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = :table ORDER BY column_name",
        table=table,
    )
    return [(row[0], row[1]) for row in rows]


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
