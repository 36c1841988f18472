"""What the outbox tests and their fixtures share, without importing erlen-db."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask

SENDER = "Erlen <noreply@example.com>"

#: make_outbox_app(config=None, plugins=("mail",)) -> Flask, with "db" before the plugins
OutboxApp = Callable[..., Flask]


class Clock:
    """A clock the test moves forward: retries become due without waiting.

    It starts a minute ahead of the real time, so messages the test queues (at the real time) are due.
    """

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
