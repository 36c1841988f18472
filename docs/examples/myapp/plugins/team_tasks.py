"""A plugin that serves its model as a REST resource: a team's tasks."""

from __future__ import annotations

import enum
import typing as t
from collections.abc import Iterable

from flask import Flask
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

import erlen
import erlen_api
import erlen_db

# Not "tasks": that is erlen-tasks' name, and two plugins may not share one.
PLUGIN = erlen.Plugin(name="team_tasks", requires=["db", "api"])


class Priority(enum.Enum):
    low = "low"
    high = "high"


class Task(erlen_db.Model):
    __tablename__ = "team_tasks_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80), unique=True)
    priority: Mapped[Priority] = mapped_column(default=Priority.low)
    done: Mapped[bool] = mapped_column(default=False)
    share_token: Mapped[str] = mapped_column(String(64), default="")


@erlen.hookimpl
def erlen_db_models() -> Iterable[type[t.Any]]:
    return [Task]


@erlen.hookimpl
def erlen_api_resources(app: Flask) -> Iterable[erlen_api.Resource]:
    return [
        erlen_api.Resource(
            Task,
            name="tasks",
            filters=["done", "priority"],
            sorts=["title"],
            per_page=2,
        )
    ]
