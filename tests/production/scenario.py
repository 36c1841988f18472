"""One fault injected under load: start the users, let the test break something, then count.

A test does::

    run = scenario.begin("database stopped 10 s", deployment.writers())
    ...inject the fault, wait, repair it...
    figures = scenario.finish()

``finish`` stops the users, waits (bounded) for the outbox to settle, counts
writes and mail, collects the tracebacks the app logged meanwhile, and adds
the figures to the report printed at the end of the run.
"""

from __future__ import annotations

import re
import time
from collections import Counter

from .accounting import count_mail, count_writes, mark_mail, settle_mail
from .deployment import Deployment
from .load import Load, UserPlan
from .report import Figures, Report

#: The longest a scenario waits for mail held back by its fault to be delivered, in seconds.
MAIL_SETTLE_TIMEOUT = 30.0

#: The same with ``tasks``: a message retried after its backoff goes out with the next delivery job, or at
#: the latest with the outbox's sweep, a periodic job run once a minute.
TASKS_MAIL_SETTLE_TIMEOUT = 75.0


def tracebacks(log: str) -> list[str]:
    """A line per traceback in a gunicorn log: the message logged before it and the exception that ends it."""
    found = []
    lines = log.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("Traceback (most recent call last)"):
            continue
        context = lines[index - 1].strip() if index else ""
        end = index + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
            end += 1
        exception = lines[end].strip() if end < len(lines) else "?"
        found.append(f"{context[-160:]} -> {exception[:240]}")
    return found


_ACCESS = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (5\d\d) ')


def server_errors_by_route(log: str) -> Counter[str]:
    """``METHOD /path status`` of each 5xx answer in gunicorn's access log, numbers in paths as ``<n>``."""
    found: Counter[str] = Counter()
    for method, target, status in _ACCESS.findall(log):
        path = re.sub(r"/\d+(?=/|$)", "/<n>", target.split("?", 1)[0])
        found[f"{method} {path} {status}"] += 1
    return found


class Scenario:
    """The users and the counts of one scenario; see the module's documentation.

    :param deployment: the running deployment.
    :param report: where the figures go.
    """

    def __init__(self, deployment: Deployment, report: Report) -> None:
        self.deployment = deployment
        self.report = report
        self.load: Load | None = None

    def begin(self, name: str, plans: list[UserPlan], *, duration: float = 60.0) -> Load:
        """Repair what an earlier scenario may have left, mark the outbox and logs, and start the users.

        :param name: the scenario's name in the report; also prefixes its note titles and addresses.
        :param plans: the users.
        :param duration: the users' deadline, in seconds.
        """
        self.deployment.make_healthy()
        self.name = name
        self.mail_mark = mark_mail(self.deployment)
        assert self.deployment.gunicorn is not None
        self.log_mark = self.deployment.gunicorn.log_size()
        self.started = time.monotonic()
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        self.load = Load(self.deployment.port, plans, name=slug, duration=duration).start()
        return self.load

    def stop_load(self) -> None:
        """Stop the users (bounded); safe to call twice."""
        if self.load is not None and not self.load.stopping.is_set():
            self.load.stop()

    def finish(self, **extra: str) -> Figures:
        """Stop the users, let the outbox settle, count, and report.

        :param extra: more figures to print, by name.
        """
        assert self.load is not None
        self.stop_load()
        seconds = time.monotonic() - self.started
        ledger = self.load.ledger
        figures = Figures(self.name, seconds=seconds, statuses=ledger.statuses(), extra=dict(extra))
        self.report.scenarios.append(figures)
        timeout = TASKS_MAIL_SETTLE_TIMEOUT if self.deployment.kind == "tasks" else MAIL_SETTLE_TIMEOUT
        figures.mail_settled_seconds = settle_mail(self.deployment, ledger, self.mail_mark, timeout=timeout)
        figures.writes = count_writes(self.deployment, ledger)
        figures.mail = count_mail(self.deployment, ledger, self.mail_mark)
        if self.deployment.kind == "tasks":
            figures.jobs = self.deployment.job_statuses(self.mail_mark.job_id)
        assert self.deployment.gunicorn is not None
        log = self.deployment.gunicorn.log(self.log_mark)
        figures.app_errors = tracebacks(log)
        figures.server_errors_by_route = server_errors_by_route(log)
        if self.load.errors:
            raise AssertionError(f"the simulated users failed: {self.load.errors}")
        return figures


def assert_nothing_lost(figures: Figures, *, allowed_5xx: frozenset[int] = frozenset(), no_answer: int = 0) -> None:
    """The counts every scenario asserts: no lost or doubled write or mail, no dead job, no unexpected 5xx.

    :param allowed_5xx: statuses that are right here (503 while the database is down).
    :param no_answer: the most requests that may go unanswered (those a killed worker was serving).
    """
    problems = []
    writes, mail = figures.writes, figures.mail
    assert writes is not None and mail is not None
    if writes.lost or writes.doubled:
        problems.append(
            f"notes lost {writes.lost[:5]} ({len(writes.lost)}), doubled {writes.doubled[:5]} ({len(writes.doubled)})"
        )
    if mail.lost or mail.doubled:
        problems.append(
            f"mail lost {mail.lost[:5]} ({len(mail.lost)}), doubled {mail.doubled[:5]} ({len(mail.doubled)})"
        )
    server_errors = figures.server_errors(allowed=allowed_5xx)
    if server_errors:
        problems.append(
            f"{server_errors} answers with a 5xx status other than {sorted(allowed_5xx)}: "
            f"{dict(figures.statuses)}; the app logged: {figures.app_errors[:5]}"
        )
    if figures.jobs and figures.jobs.get("dead"):
        problems.append(f"{figures.jobs['dead']} jobs dead (failed on every try): {figures.jobs}")
    if figures.no_answer > no_answer:
        problems.append(f"{figures.no_answer} requests got no answer (at most {no_answer} may)")
    assert not problems, f"{figures.scenario}: " + "; ".join(problems)


__all__ = ["MAIL_SETTLE_TIMEOUT", "TASKS_MAIL_SETTLE_TIMEOUT", "Scenario", "assert_nothing_lost", "tracebacks"]
