"""A plugin whose background job reads, then writes: exports, numbered."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

import erlen
import erlen_db
from erlen_tasks import Job, job

PLUGIN = erlen.Plugin(name="reports", requires=["db", "tasks"])


class Export(erlen_db.Model):
    __tablename__ = "reports_export"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]
    number: Mapped[int]


@job(queue="reports")
def record_export(user_id: int) -> None:
    """Count the user's exports, then add the next: a read, then a write."""
    query = sa.select(sa.func.count()).where(Export.user_id == user_id)
    done = erlen_db.session.scalar(query) or 0
    erlen_db.session.add(Export(user_id=user_id, number=done + 1))
    # The worker commits when the job returns (and rolls back when it raises).


@erlen.hookimpl
def erlen_db_models() -> Iterable[type[t.Any]]:
    return [Export]


@erlen.hookimpl(optionalhook=True)
def erlen_tasks_jobs() -> Iterable[Job]:
    return [record_export]
