"""A plugin declaring a second periodic job every minute, loaded after the test plugin: its period is claimed in
the same scheduler tick as ``test.minutely``'s, after it."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

import erlen
from erlen_tasks import job

PLUGIN = erlen.Plugin(name="tasks_second_cron", requires=["db", "tasks", "tasks_testplugin"])


@job(name="test.minutely_too", cron="* * * * *")
def minutely_too() -> None:
    """Nothing: the tests only look at its claims."""


@erlen.hookimpl
def erlen_tasks_jobs() -> Iterable[t.Any]:
    return [minutely_too]
