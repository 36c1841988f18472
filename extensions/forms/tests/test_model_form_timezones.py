"""Date-times of ``DateTime(timezone=True)`` columns are shown and taken in UTC, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import typing as t
from html.parser import HTMLParser

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: model forms need erlen-forms[models]")

import sqlalchemy as sa
import wtforms
from flask import Flask, jsonify, render_template_string
from forms_model_plugin import Event
from sqlalchemy.orm import Session

import erlen_db
from erlen.testing import MakeApp
from erlen_forms import UTCDateTimeField, model_form
from erlen_forms.testing import csrf_client_for

UTC = datetime.UTC
EventForm = model_form(Event)


@pytest.fixture
def erlen_plugins() -> list[str]:
    return ["forms", "db", "forms_model_plugin"]


@pytest.fixture
def erlen_config(database_url: str) -> dict[str, t.Any]:
    url = sa.make_url(database_url)
    if url.get_backend_name() == "postgresql":
        # A session time zone other than UTC: PostgreSQL reads a naive value written to timestamptz in it.
        url = url.update_query_dict({"options": f"{url.query['options']} -ctimezone=Europe/Berlin"})
    return {"DB_URL": url.render_as_string(hide_password=False)}


@pytest.fixture
def app(make_app: MakeApp, erlen_plugins: list[str], erlen_config: dict[str, t.Any]) -> Flask:
    app = make_app(erlen_plugins, erlen_config)

    @app.route("/events/<int:event_id>", methods=["GET", "POST"])
    def edit_event(event_id: int) -> t.Any:
        event = erlen_db.get_or_404(Event, event_id)
        form = EventForm(obj=event)
        if form.validate_on_submit():
            form.populate_obj(event)
            erlen_db.session.commit()
            return jsonify({"saved": True})
        page = '{% from "forms/macros.html" import render_form %}{{ render_form(form) }}'
        return render_template_string(page, form=form), (422 if form.is_submitted() else 200)

    return app


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("name"):
            self.values[str(found["name"])] = found.get("value") or ""


def inputs_of(html: str) -> dict[str, str]:
    """The name and value of every input of a page, as a browser submits them unchanged."""
    parser = _Inputs()
    parser.feed(html)
    return parser.values


def stored_instant(session: Session, event_id: int) -> datetime.datetime:
    """The stored ``starts_at`` as an aware date-time; SQLite keeps no zone, so its naive values are UTC."""
    value = session.execute(sa.select(Event.starts_at).where(Event.id == event_id)).scalar_one()
    # astimezone: Python never finds a time in the repeated hour of a ZoneInfo zone equal to one in another zone.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def add_event(session: Session, starts_at: datetime.datetime) -> int:
    event = Event(starts_at=starts_at, noted_at=datetime.datetime(2024, 3, 1, 9, 0))
    session.add(event)
    session.commit()
    event_id = event.id
    session.expunge_all()  # the request loads the row from the database, in the session's time zone
    return event_id


def test_aware_columns_get_a_utc_field_and_naive_ones_keep_theirs() -> None:
    assert EventForm.starts_at.field_class is UTCDateTimeField
    assert EventForm.starts_at.args[0] == "Starts at (UTC)"
    assert EventForm.noted_at.field_class is wtforms.DateTimeLocalField
    assert EventForm.noted_at.args[0] == "Noted at"


@pytest.mark.parametrize(
    "instant",
    [
        datetime.datetime(2024, 1, 15, 9, 30, 15, 123456, tzinfo=UTC),  # a fraction of a second the input hides
        datetime.datetime(2023, 10, 29, 0, 30, tzinfo=UTC),  # 02:30 in Berlin, summer time
        datetime.datetime(2023, 10, 29, 1, 30, tzinfo=UTC),  # 02:30 in Berlin again, winter time
    ],
)
def test_a_form_submitted_unchanged_keeps_the_stored_instant(
    app: Flask, db_session: Session, instant: datetime.datetime
) -> None:
    if db_session.get_bind().dialect.name == "postgresql":
        assert db_session.execute(sa.text("SHOW timezone")).scalar() == "Europe/Berlin"
    event_id = add_event(db_session, instant)
    client = csrf_client_for(app)
    page = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "Starts at (UTC)" in page
    values = inputs_of(page)
    assert values["starts_at"] == instant.strftime("%Y-%m-%d %H:%M:%S")
    assert values["noted_at"] == "2024-03-01 09:00:00"
    response = client.post(f"/events/{event_id}", data=values)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert stored_instant(db_session, event_id) == instant


def test_a_time_entered_is_taken_as_utc(app: Flask, db_session: Session) -> None:
    event_id = add_event(db_session, datetime.datetime(2024, 1, 1, tzinfo=UTC))
    client = csrf_client_for(app)
    response = client.post(
        f"/events/{event_id}", data={"starts_at": "2024-07-01T10:30", "noted_at": "2024-07-01T10:30"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert stored_instant(db_session, event_id) == datetime.datetime(2024, 7, 1, 10, 30, tzinfo=UTC)
    # A naive column stores the wall-clock time as entered, as before.
    noted = db_session.execute(sa.select(Event.noted_at).where(Event.id == event_id)).scalar_one()
    assert noted == datetime.datetime(2024, 7, 1, 10, 30)


def test_the_utc_field_on_its_own() -> None:
    class Form(wtforms.Form):
        at = UTCDateTimeField("At")

    berlin = datetime.timezone(datetime.timedelta(hours=2))
    stored = datetime.datetime(2024, 6, 1, 14, 0, 5, 250000, tzinfo=berlin)
    form = Form(data={"at": stored})
    assert form.at._value() == "2024-06-01 12:00:05"
    assert Form(data={"at": datetime.datetime(2024, 6, 1, 12, 0)}).at._value() == "2024-06-01 12:00:00"
    assert Form(data={"at": None}).at._value() == ""
    changed = Form(FormData({"at": ["2024-06-01T12:01"]}), data={"at": stored})
    assert changed.at.data == datetime.datetime(2024, 6, 1, 12, 1, tzinfo=UTC)
    unchanged = Form(FormData({"at": ["2024-06-01T12:00:05"]}), data={"at": stored})
    assert unchanged.at.data == stored and unchanged.at.data.tzinfo is UTC
    garbage = Form(FormData({"at": ["yesterday"]}))
    assert not garbage.validate() and garbage.at.errors == ["Not a valid datetime value."]


class FormData(dict[str, list[str]]):
    def getlist(self, key: str) -> list[str]:
        return self[key]
