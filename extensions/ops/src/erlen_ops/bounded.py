"""Calls that must answer in time: readiness checks and gauges read at scrape time.

Each call runs on a thread of its own, in an app context, and the round waits
for them together at most a timeout. A call still running when the round ends
(it hangs: a database that stopped answering) is left running, and is not
started again by later rounds while it runs: otherwise every probe or scrape
would add one more thread stuck the same way (and one more database
connection), until the process could start no more. A round that finds a
call started by another round still within that round's timeout (two
scrapes at once) waits for that run's outcome as that round does, rather
than leaving the call out of its answer.
"""

from __future__ import annotations

import threading
import time
import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from flask import Flask

#: ``ok``: returned; ``fail``: raised; ``timeout``: started in this round, not finished within it;
#: ``still_running``: not started in this round, since its run of an earlier round has not ended.
Status = t.Literal["ok", "fail", "timeout", "still_running"]


@dataclass(frozen=True)
class Outcome:
    """What one call did in a round.

    :param status: see :data:`Status`.
    :param seconds: how long it ran (the timeout, for one that did not finish).
    :param value: what it returned (``ok`` only).
    :param error: what it raised (``fail`` only).
    """

    status: Status
    seconds: float
    value: object = None
    error: BaseException | None = None


class _Run:
    """One run of a call, which rounds that start or find it running read the outcome of.

    :param deadline: when the round that started it stops waiting for it (its clock's time).
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.outcome: Outcome | None = None
        self.thread: threading.Thread | None = None


class BoundedCalls:
    """Runs rounds of named calls in parallel, each round bounded by ``timeout`` seconds.

    :param app: the app, pushed as the app context of each call.
    :param timeout: seconds a round waits for its calls.
    :param thread_prefix: the start of the calls' thread names (the call's name follows), for debugging.
    :param clock: the time source, in seconds.
    """

    def __init__(
        self,
        app: Flask,
        *,
        timeout: float,
        thread_prefix: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.timeout = timeout
        self.thread_prefix = thread_prefix
        self._clock = clock
        #: Guards ``_runs``: rounds may run at once (scrapes on several threads of a worker).
        self._lock = threading.Lock()
        #: Each call's latest run, by name: one still running (a hung call) is not started again.
        self._runs: dict[str, _Run] = {}

    def run(self, calls: Mapping[str, Callable[[], object]]) -> dict[str, Outcome]:
        """Run ``calls`` (by name), wait for them at most the timeout, and return each one's outcome.

        :param calls: functions without arguments, by a name unique among every round's calls.
        :returns: the outcome of each call, by name, in the order of ``calls``.
        """
        started = self._clock()
        deadline = started + self.timeout
        #: This round's run of each call, and whether this round started it.
        runs: dict[str, tuple[_Run, bool]] = {}
        with self._lock:
            for name, call in calls.items():
                previous = self._runs.get(name)
                if previous is not None and previous.thread is not None and previous.thread.is_alive():
                    runs[name] = (previous, False)
                    continue
                run = _Run(deadline)
                run.thread = threading.Thread(
                    target=self._run_one,
                    args=(run, call),
                    name=f"{self.thread_prefix}{name}",
                    daemon=True,  # a hung call must not keep the process from exiting
                )
                run.thread.start()
                self._runs[name] = run
                runs[name] = (run, True)
        answered: dict[str, Outcome] = {}
        for name in calls:
            run, started_here = runs[name]
            # A run of another round is waited for as long as that round waits (two scrapes at once both get
            # its value), not beyond: one past its round's timeout hangs, and is left out at once.
            wait_until = deadline if started_here else min(deadline, run.deadline)
            t.cast(threading.Thread, run.thread).join(max(0.0, wait_until - self._clock()))
            # Read once: a call ending right now writes its outcome after this round has given up on it.
            outcome = run.outcome
            if outcome is None:
                outcome = Outcome("timeout" if started_here else "still_running", self.timeout)
            answered[name] = outcome
        return answered

    def _run_one(self, run: _Run, call: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            with self.app.app_context():
                value = call()
        except BaseException as exc:  # SystemExit too: on this thread it would end it without an outcome
            run.outcome = Outcome("fail", time.perf_counter() - started, error=exc)
            return
        run.outcome = Outcome("ok", time.perf_counter() - started, value=value)
