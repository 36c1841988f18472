"""Dashboard widgets: boxes on the admin's index page that plugins add through ``erlen_admin_widgets``.

A widget is a title and a function returning HTML (usually
``render_template(...)``), called each time the dashboard is shown, after the
admin's access check and the widget's own permission. A dashboard must stay
fast whatever the tables' sizes: a widget counts with
:func:`erlen_admin.estimate` (the database's statistics, not ``COUNT(*)``),
lists with a ``LIMIT`` and aggregates over an indexed range (a table without
statistics is counted only up to :data:`erlen_admin.counting.SMALL_TABLE_ROWS`). The admin ships
three: the number of rows of each model, the latest audit entries, and a chart
of the audit log's entries per day.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field

from markupsafe import Markup

if t.TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .views.model_view import ModelView

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

#: Days the activity chart shows, today included.
ACTIVITY_DAYS = 14
#: Entries the "Recent changes" widget lists.
RECENT_ENTRIES = 8


@dataclass
class Widget:
    """A box on the admin's dashboard.

    :param title: the box's heading.
    :param render: returns the box's HTML (``render_template("blog/admin_widget.html", ...)``: escaped by
        Jinja); called each time the dashboard is shown. Keep its queries independent of the tables' sizes.
    :param slug: identifies the box (its element id); derived from ``title`` by default.
    :param permission: a permission needed on top of ``admin.access``.
    :param wide: span the dashboard's whole width (a chart, a table).
    """

    title: str
    render: Callable[[], str | Markup]
    slug: str = ""
    permission: str | None = None
    wide: bool = False
    #: The plugin that registered the widget; set by the registry.
    plugin: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if not self.slug:
            self.slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")
        if not _SLUG.match(self.slug):
            raise ValueError(
                f"Admin widget {self.title!r}: slug {self.slug!r} must be lower-case letters, digits, - or _."
            )

    def allowed(self, user: t.Any) -> bool:
        """Whether ``user`` (who may enter the admin) may see the widget."""
        return self.permission is None or bool(user.can(self.permission))


# -- the admin's own widgets -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRows:
    """A row of the "Records" widget: a model and about how many rows it has.

    :param view: the model's admin view.
    :param count: the database's estimate, or the exact number of a small table without statistics; ``None``
        when neither is known.
    :param more_than: set (to :data:`~erlen_admin.counting.SMALL_TABLE_ROWS`) when the table has no statistics
        and more rows than that.
    """

    view: ModelView
    count: int | None
    more_than: int | None = None


def _rows_of(session: Session, view: ModelView, user: t.Any) -> ModelRows:
    """The "Records" row of ``view``: of its scope for ``user`` when it narrows the rows.

    A scope's rows are counted exactly, up to :data:`~erlen_admin.counting.SMALL_TABLE_ROWS` (more: "more
    than" that), never estimated: the planner's estimate of the scoped statement comes from the whole table's
    statistics, which would tell how many rows outside the scope there are.

    :param session: the request's session.
    :param view: the model view.
    :param user: the user the dashboard is for.
    """
    import sqlalchemy as sa

    from . import counting

    scoped = view.scoped(sa.select(view.model), user) if view.narrows(user) else None
    found = counting.estimate(session, view.table) if scoped is None else None
    if found is not None:
        return ModelRows(view, found)
    limit = counting.SMALL_TABLE_ROWS
    try:
        counted = counting.count_if_small(session, view.table, limit, scoped)
    except sa.exc.DBAPIError:
        return ModelRows(view, None)
    return ModelRows(view, counted, None if counted is not None else limit)


def model_counts() -> str:
    """The "Records" widget: about how many rows each model the user may view has.

    From the database's statistics; a table without them is counted exactly if it is small, as a new app's are.
    """
    from flask import render_template
    from flask_login import current_user

    import erlen_db

    from .views.registry import registry_of

    session = erlen_db.session
    user = current_user._get_current_object()
    rows = [_rows_of(session, view, user) for view in registry_of().models.values() if view.allows(user, "view")]
    return render_template("admin/widgets/counts.html", rows=rows)


def recent_changes() -> str:
    """The "Recent changes" widget: the latest audit entries the user may see (one query with ``LIMIT``)."""
    import sqlalchemy as sa
    from flask import render_template
    from flask_login import current_user

    import erlen_db

    from .audit import heading_of, visible_entries
    from .models import AuditEntry
    from .views.registry import registry_of

    statement = visible_entries(sa.select(AuditEntry), current_user._get_current_object())
    entries = erlen_db.session.scalars(statement.order_by(AuditEntry.id.desc()).limit(RECENT_ENTRIES))
    models = registry_of().models
    headed = [(entry, heading_of(entry, models.get(entry.model))) for entry in entries]
    return render_template("admin/widgets/recent.html", entries=headed)


@dataclass(frozen=True)
class Bar:
    """One day of the activity chart, in the SVG's coordinates."""

    day: dt.date
    count: int
    x: float
    y: float
    width: float
    height: float


def daily_activity(today: dt.date | None = None, days: int = ACTIVITY_DAYS) -> list[tuple[dt.date, int]]:
    """The audit entries the current user may see of each of the last ``days`` days (UTC), oldest first, zeros
    included.

    One grouped query over the indexed ``created_at`` range: its cost follows the entries of those days,
    not the log's size.

    :param today: the last day; today (UTC) by default.
    :param days: how many days.
    """
    import sqlalchemy as sa
    from flask_login import current_user

    import erlen_db

    from .audit import visible_entries
    from .models import AuditEntry

    today = today or dt.datetime.now(dt.UTC).date()
    first = today - dt.timedelta(days=days - 1)
    day = sa.func.date(AuditEntry.created_at)
    statement = (
        sa.select(day, sa.func.count())
        .where(AuditEntry.created_at >= dt.datetime.combine(first, dt.time()))
        .group_by(day)
    )
    statement = visible_entries(statement, current_user._get_current_object())
    counts: dict[dt.date, int] = {}
    for value, count in erlen_db.session.execute(statement):
        # PostgreSQL's date() gives a date, SQLite's the text YYYY-MM-DD.
        counts[value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])] = int(count)
    return [(first + dt.timedelta(days=n), counts.get(first + dt.timedelta(days=n), 0)) for n in range(days)]


def chart_bars(series: list[tuple[dt.date, int]], width: float = 280, height: float = 100) -> list[Bar]:
    """The bars of a bar chart of ``series`` in a box ``width`` wide and ``height`` high (bars touch the bottom).

    :param series: ``(day, count)`` pairs.
    :param width: the box's width.
    :param height: the box's height.
    """
    if not series:
        return []
    top = max(count for _, count in series) or 1
    slot = width / len(series)
    bars = []
    for index, (day, count) in enumerate(series):
        tall = round(height * count / top, 2)
        bars.append(
            Bar(day, count, round(index * slot + slot * 0.15, 2), round(height - tall, 2), round(slot * 0.7, 2), tall)
        )
    return bars


def activity_chart() -> str:
    """The "Activity" widget: the audit log's entries per day over two weeks, as an inline SVG bar chart."""
    from flask import render_template

    series = daily_activity()
    total = sum(count for _, count in series)
    busiest = max(series, key=lambda item: (item[1], item[0]))
    return render_template(
        "admin/widgets/activity.html", bars=chart_bars(series), total=total, busiest=busiest, days=len(series)
    )


def admin_widgets() -> list[Widget]:
    """The widgets the admin plugin gives its own dashboard."""
    return [
        Widget("Records", model_counts, slug="records"),
        Widget("Recent changes", recent_changes, slug="recent-changes", permission="admin.audit.view"),
        Widget(
            f"Changes per day, last {ACTIVITY_DAYS} days",
            activity_chart,
            slug="activity",
            permission="admin.audit.view",
            wide=True,
        ),
    ]
