"""The dashboard's widgets: the admin's own (counts, recent changes, a chart) and those plugins add by hook."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
import sqlalchemy as sa
from conftest import PLUGINS

from erlen_admin import AdminConfigError, Widget
from erlen_admin.models import AuditEntry
from erlen_admin.widgets import chart_bars


@pytest.fixture
def erlen_plugins() -> list[str]:
    return [*PLUGINS, "admin_sample.dashboard_widgets"]


def add_entries(db_session, count: int, *, days: int = 1) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    db_session.add_all(
        AuditEntry(
            created_at=now - dt.timedelta(days=index % days, minutes=index),
            action="edit",
            model="library_book",
            object_id=str(index),
            object_repr=f"Book {index}",
            user_email="root@example.com",
        )
        for index in range(count)
    )
    db_session.commit()


def widget(html: str, slug: str) -> str:
    found = re.search(rf'<section class="card widget[^"]*" id="widget-{slug}".*?</section>', html, re.DOTALL)
    assert found is not None, html
    return found.group(0)


def test_the_admin_s_own_widgets(admin_client, books, db_session):
    add_entries(db_session, 5, days=3)
    html = admin_client.get("/admin/").text
    records = widget(html, "records")
    assert re.search(r'<a href="/admin/m/library_book/">Books</a></th>\s*<td class="number">', records)
    recent = widget(html, "recent-changes")
    assert recent.count("<li>") == 5 and "Edited book “Book 0”" in recent
    chart = widget(html, "activity")
    assert '<svg viewBox="0 0 280 101" role="img" aria-labelledby="activity-title activity-desc"' in chart
    assert '<title id="activity-title">' in chart and '<desc id="activity-desc">5 changes in all' in chart
    assert len(re.findall(r'<rect [^>]*class="chart-bar"', chart)) == 14
    assert "5 changes in 14 days" in chart


def test_the_counts_are_the_database_s_estimates(admin_client, books, db_session):
    bind = db_session.get_bind()
    db_session.execute(sa.text("ANALYZE"))
    db_session.commit()
    html = admin_client.get("/admin/").text
    records = widget(html, "records")
    row = re.search(r"Books</a></th>\s*<td class=\"number\">([^<]*)</td>", records).group(1)
    if bind.dialect.name == "sqlite":
        assert row == "45"  # sqlite_stat1 after ANALYZE
    else:
        assert row.replace(",", "").isdigit()


def records_row(html: str, plural: str) -> str:
    found = re.search(rf"{plural}</a></th>\s*<td class=\"number\">(.*?)</td>", widget(html, "records"), re.DOTALL)
    assert found is not None, html
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_a_small_table_without_statistics_is_counted_exactly(admin_client, books, db_session, count_queries):
    # A new app: the database has never analysed its tables, so there is no estimate ("—" before).
    if db_session.get_bind().dialect.name == "sqlite":
        assert db_session.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first() is None
    with count_queries() as counter:
        html = admin_client.get("/admin/").text
    assert records_row(html, "Books") == "45"
    assert records_row(html, "Audit log") == "0"
    # count(*) over at most SMALL_TABLE_ROWS + 1 rows, never the whole table.
    counts = [s for s in counter.statements if "count(" in s.lower() and "library_book" in s]
    assert counts and all("LIMIT" in s.upper() for s in counts), counter.statements


def test_a_large_table_without_statistics_shows_its_lower_bound(admin_client, books, db_session, monkeypatch):
    from erlen_admin import counting

    monkeypatch.setattr(counting, "SMALL_TABLE_ROWS", 10)
    html = admin_client.get("/admin/").text
    assert records_row(html, "Books") == "over 10"
    assert 'title="No statistics yet: open the list and count"' in widget(html, "records")


def test_queries_do_not_grow_with_the_tables(admin_client, books, db_session, models, count_queries):
    add_entries(db_session, 3)
    with count_queries() as few:
        assert admin_client.get("/admin/").status_code == 200
    add_entries(db_session, 400, days=14)
    author = db_session.scalar(sa.select(models.Author))
    db_session.add_all(models.Book(title=f"More {n}", author_id=author.id) for n in range(300))
    db_session.commit()
    with count_queries() as many:
        assert admin_client.get("/admin/").status_code == 200
    assert many.count == few.count, many.report()
    audit_reads = [s for s in many.statements if "from admin_audit_log" in s.lower()]
    grouped = [s for s in audit_reads if "group by" in s.lower()]
    assert len(grouped) == 1 and "where admin_audit_log.created_at >=" in grouped[0].lower()
    # No count(*) reads a whole table: only the chart's grouped one over a range, and the counts of tables without
    # statistics over a LIMIT.
    counted = [s.lower() for s in many.statements if "count(*)" in s.lower()]
    assert all("group by" in s or "limit" in s for s in counted), counted
    limited = [s for s in audit_reads if "order by admin_audit_log.id desc" in s.lower()]
    assert len(limited) == 1 and "limit" in limited[0].lower()


def test_a_plugin_s_widgets_and_a_failing_one(admin_client, books, caplog):
    with caplog.at_level(logging.ERROR):
        response = admin_client.get("/admin/")
    assert response.status_code == 200
    html = response.text
    assert "<li>Grace</li>" in widget(html, "newest-authors")
    assert "could not be shown" in widget(html, "broken")
    (record,) = [r for r in caplog.records if "widget" in r.getMessage()]
    assert "'broken'" in record.getMessage() and "'boxes'" in record.getMessage()
    assert record.exc_info is not None and "the widget's bug" in str(record.exc_info[1])
    # Ordered by plugin: the admin's own first.
    assert html.index('id="widget-records"') < html.index('id="widget-newest-authors"')


def test_a_widget_s_permission(app, client, create_user, db_session, books):
    from erlen_auth import Role, grant
    from erlen_auth.testing import login_as

    user = create_user("staff@example.com", roles=["staff"])
    role = db_session.scalar(sa.select(Role).where(Role.name == "staff"))
    grant(role, "admin.access", "admin.library_book.view", app=app)
    db_session.commit()
    login_as(client, user)
    html = client.get("/admin/").text
    assert 'id="widget-newest-authors"' in html
    assert 'id="widget-secret"' not in html and 'id="widget-recent-changes"' not in html
    records = widget(html, "records")
    assert "Books" in records and "Authors" not in records  # only the models the user may view


def test_bad_widgets_stop_the_app(make_app, erlen_config):
    with pytest.raises(ValueError, match="slug 'x y'"):
        Widget("Box", str, slug="x y")
    assert Widget("Sales, per day!", str).slug == "sales-per-day"
    with pytest.raises(AdminConfigError, match="erlen_admin_widgets must return Widget objects"):
        make_app(["db", "forms", "auth", "admin", "admin_sample.library", "admin_sample.bad_widgets"], erlen_config)


def test_chart_bars_scale_to_the_busiest_day():
    day = dt.date(2026, 1, 1)
    bars = chart_bars([(day, 0), (day + dt.timedelta(days=1), 4), (day + dt.timedelta(days=2), 2)], 300, 100)
    assert [bar.height for bar in bars] == [0, 100, 50]
    assert [bar.y for bar in bars] == [100, 0, 50]
    assert bars[1].x == 115.0 and bars[1].width == 70.0
    assert chart_bars([]) == []
