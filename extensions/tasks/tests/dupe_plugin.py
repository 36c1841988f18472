"""A plugin that declares a job under a name the test plugin already uses, and one bad item."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

import erlen
from erlen_tasks import job

PLUGIN = erlen.Plugin(name="dupe_plugin", requires=["tasks"])

BAD = False


@job(name="test.record")
def other_record(label: str) -> None: ...


@erlen.hookimpl
def erlen_tasks_jobs() -> Iterable[t.Any]:
    return ["not a job"] if BAD else [other_record]
