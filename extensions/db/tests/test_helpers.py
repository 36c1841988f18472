from __future__ import annotations

import typing as t
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from app_models import Author
from flask import Flask
from sqlalchemy import ForeignKey, String
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

import erlen_db
from erlen_db.testing import MakeDbApp


@pytest.fixture
def app(make_db_app: MakeDbApp) -> Flask:
    app = make_db_app(create_all=True)
    with erlen_db.database_of(app).session_scope() as session:
        session.add(Author(id=1, name="ann"))

    @app.get("/authors/<int:ident>")
    def by_id(ident: int) -> str:
        return erlen_db.get_or_404(Author, ident).name

    @app.get("/by-name/<name>")
    def by_name(name: str) -> str:
        return str(erlen_db.first_or_404(sa.select(Author).where(Author.name == name), description="No such author").id)

    return app


def test_get_or_404(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/authors/1").text == "ann"
    assert client.get("/authors/2").status_code == 404


def test_first_or_404(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/by-name/ann").text == "1"
    response = client.get("/by-name/bob")
    assert response.status_code == 404 and "No such author" in response.text


class OtherBase(DeclarativeBase):
    """Models of these tests only, kept off the shared metadata that other tests list."""


class Shelf(OtherBase):
    __tablename__ = "helpers_shelf"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40))
    volumes: Mapped[list[Volume]] = relationship(lazy="joined", order_by="Volume.id")


class Volume(OtherBase):
    __tablename__ = "helpers_volume"

    id: Mapped[int] = mapped_column(primary_key=True)
    shelf_id: Mapped[int] = mapped_column(ForeignKey("helpers_shelf.id"))
    shelf: Mapped[Shelf] = relationship(lazy="joined", overlaps="volumes")


class Placement(OtherBase):
    __tablename__ = "helpers_placement"

    shelf_id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)


class Label(OtherBase):
    """Columns only: get() makes its instances from a row with every attribute loaded."""

    __tablename__ = "helpers_label"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(40))


class Item(OtherBase):
    __tablename__ = "helpers_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    __mapper_args__: t.ClassVar[dict[str, t.Any]] = {"polymorphic_on": "kind", "polymorphic_identity": "item"}


class Lamp(Item):
    __mapper_args__: t.ClassVar[dict[str, t.Any]] = {"polymorphic_identity": "lamp"}


@pytest.fixture
def shelves(app: Flask) -> Iterator[Flask]:
    database = erlen_db.database_of(app)
    OtherBase.metadata.create_all(database.engine)
    with database.session_scope() as session:
        session.add_all([Shelf(id=1, label="top"), Volume(id=1, shelf_id=1), Volume(id=2, shelf_id=1)])
        session.add_all([Placement(shelf_id=1, position=3), Item(id=1, kind="item"), Lamp(id=2, kind="lamp")])
    yield app
    OtherBase.metadata.drop_all(database.engine)


def test_get_loads_by_primary_key_and_answers_none_for_a_missing_row(app: Flask) -> None:
    with app.app_context():
        with erlen_db.count_queries() as queries:
            author = erlen_db.get(Author, 1)
            assert erlen_db.get(Author, 2) is None
        assert author is not None and author.name == "ann" and queries.count == 2
        assert erlen_db.get(Author, "1") is author  # converted as Session.get would


def test_get_answers_from_the_identity_map_without_a_query(app: Flask) -> None:
    with app.app_context():
        author = erlen_db.session.get(Author, 1)
        with erlen_db.count_queries() as queries:
            assert erlen_db.get(Author, 1) is author
        assert queries.count == 0


def test_get_sees_a_deleted_row_as_gone_and_flushes_pending_changes(app: Flask) -> None:
    with app.app_context():
        session = erlen_db.session
        session.delete(session.get(Author, 1))
        session.flush()
        assert erlen_db.get(Author, 1) is None
        session.add(Author(id=7, name="gil"))
        added = erlen_db.get(Author, 7)
        assert added is not None and added.name == "gil"
        session.rollback()


def test_get_with_a_given_session_outside_an_app_context(app: Flask) -> None:
    with erlen_db.database_of(app).session_scope() as session:
        author = erlen_db.get(Author, 1, session=session)
        assert author is not None and author.name == "ann"


def test_get_of_a_model_that_joins_a_collection_loads_one_object_with_its_collection(shelves: Flask) -> None:
    with shelves.app_context():
        shelf = erlen_db.get(Shelf, 1)
        assert shelf is not None and [volume.id for volume in shelf.volumes] == [1, 2]
        volume = erlen_db.get(Volume, 2)  # joins its shelf, which joins the shelf's volumes in turn
        assert volume is not None and volume.shelf is shelf


def test_get_with_a_composite_key(shelves: Flask) -> None:
    with shelves.app_context():
        placement = erlen_db.get(Placement, (1, 3))
        assert placement is not None and placement.position == 3
        assert erlen_db.get(Placement, {"shelf_id": 1, "position": 3}) is placement
        assert erlen_db.get(Placement, (1, 4)) is None


def test_get_of_a_subclass_refuses_a_row_of_another_class(shelves: Flask) -> None:
    with shelves.app_context():
        assert erlen_db.get(Lamp, 1) is None
        lamp = erlen_db.get(Item, 2)
        assert isinstance(lamp, Lamp)
        assert erlen_db.get(Lamp, 2) is lamp


def test_get_leaves_a_session_class_with_its_own_lookup_to_it(app: Flask) -> None:
    calls: list[object] = []

    class AuditedSession(Session):
        def get(self, entity: t.Any, ident: t.Any, **kwargs: t.Any) -> t.Any:
            calls.append(ident)
            return super().get(entity, ident, **kwargs)

    with AuditedSession(erlen_db.database_of(app).engine) as session:
        author = erlen_db.get(Author, 1, session=session)
    assert author is not None and calls == [1]


def test_get_of_none_behaves_as_session_get(app: Flask) -> None:
    with app.app_context(), pytest.warns(SAWarning, match="fully NULL primary key"):
        assert erlen_db.get(Author, None) is None


class Ticket(OtherBase):
    __tablename__ = "helpers_ticket"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


@pytest.mark.parametrize("text", ["abc", "1.5", "", "99999999999999999999999", "0x1"])
def test_get_or_404_of_text_that_cannot_be_an_integer_key_is_a_404(app: Flask, text: str) -> None:
    @app.get("/authors-by-text/<path:ident>")
    def by_text(ident: str) -> str:
        return erlen_db.get_or_404(Author, ident).name

    client = app.test_client()
    assert client.get("/authors-by-text/1").text == "ann"
    assert client.get(f"/authors-by-text/{text}").status_code == 404


@pytest.mark.parametrize("ident", [2**31, 2**63 - 1, 2**63, 10**30])
def test_get_or_404_of_a_number_the_key_column_cannot_hold_is_a_404(app: Flask, ident: int) -> None:
    # <int:ident> takes any number of digits: PostgreSQL refuses more than 32 bits for an integer
    # column and SQLite more than 64 with an error, which was a 500.
    @app.get("/authors-by-text/<ident>")
    def by_text(ident: str) -> str:
        return erlen_db.get_or_404(Author, ident).name

    client = app.test_client()
    assert client.get(f"/authors/{ident}").status_code == 404
    assert client.get(f"/authors-by-text/{ident}").status_code == 404
    assert client.get("/authors/1").text == "ann"


def test_get_or_404_of_a_uuid_key_given_as_text(shelves: Flask) -> None:
    with erlen_db.database_of(shelves).session_scope() as session:
        ticket = Ticket()
        session.add(ticket)
        session.flush()
        known = str(ticket.id)

    @shelves.get("/tickets/<ident>")
    def ticket_page(ident: str) -> str:
        return str(erlen_db.get_or_404(Ticket, ident).id)

    client = shelves.test_client()
    assert client.get(f"/tickets/{known}").text == known
    assert client.get(f"/tickets/{uuid.uuid4()}").status_code == 404
    assert client.get("/tickets/not-a-uuid").status_code == 404


def test_get_without_a_session_makes_a_detached_instance_of_a_model_of_columns_only(shelves: Flask) -> None:
    database = erlen_db.database_of(shelves)
    with database.session_scope() as session:
        session.add(Label(id=1, text="fragile"))
    with shelves.app_context():
        label = erlen_db.get(Label, 1)
        assert label is not None and database.current_session is None  # read on the connection
        state = sa.inspect(label)
        assert state.detached and state.key == (Label, (1,), None)
        assert not state.unloaded and not state.expired_attributes and not state.committed_state
        assert not state.modified
        assert erlen_db.get(Label, 1) is label  # one instance per row in the app context
        label.text = "glass"
        assert erlen_db.session.identity_map[(Label, (1,), None)] is label  # adopted by the session
        erlen_db.session.commit()
    with database.session_scope() as session:
        saved = session.get(Label, 1)  # not get_one: SQLAlchemy 2.0's first releases have no such method
        assert saved is not None and saved.text == "glass"
    # A listener of the class's "expire" event hears each instance made, as make_transient_to_detached tells it.
    heard: list[tuple[int, set[str]]] = []

    def expired(target: Label, attrs: set[str] | None) -> None:
        heard.append((target.id, set(attrs or ())))

    sa.event.listen(Label, "expire", expired)
    try:
        with shelves.app_context():
            erlen_db.get(Label, 1)
    finally:
        sa.event.remove(Label, "expire", expired)
    assert heard == [(1, set())]
