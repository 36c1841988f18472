"""``ModelForm.save``: a unique value taken, or a chosen row deleted, by a concurrent request is a field error.

These tests commit for real (no rolled-back test transaction): the conflicting row is
inserted and committed on another connection after the form was validated and before it
is saved, as a second request would. Each test has an empty SQLite file or PostgreSQL schema.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: model forms need erlen-forms[models]")

import sqlalchemy as sa
from flask import Flask
from forms_model_plugin import Author, Post

import erlen_db
from erlen.testing import MakeApp
from erlen_db.database import database_of
from erlen_forms import ModelFormError, model_form

AuthorForm = model_form(Author, exclude=["password_hash"])
PostForm = model_form(Post, only=["title", "status", "views", "author_id"])


@pytest.fixture
def erlen_plugins() -> list[str]:
    return ["forms", "db", "forms_model_plugin"]


@pytest.fixture
def erlen_config(database_url: str) -> dict[str, t.Any]:
    return {"DB_URL": database_url}


@pytest.fixture
def app(make_app: MakeApp, erlen_plugins: list[str], erlen_config: dict[str, t.Any]) -> Iterator[Flask]:
    app = make_app(erlen_plugins, erlen_config)
    database_of(app).create_all()
    yield app
    database_of(app).dispose()


def commit_elsewhere(app: Flask, statement: sa.Executable) -> None:
    """Run ``statement`` on another connection and commit it, as a concurrent request would."""
    session = erlen_db.session
    if session.get_bind().dialect.name == "sqlite":
        # SQLite (WAL) refuses a write from a transaction that read before another connection committed
        # ("database is locked"): there, the race needs the check's transaction to have ended.
        session.commit()
    with database_of(app).engine.begin() as connection:
        connection.execute(statement)


def names(app: Flask) -> list[str]:
    with database_of(app).engine.connect() as connection:
        return list(connection.execute(sa.select(Author.name).order_by(Author.name)).scalars())


def test_a_new_row_is_saved(app: Flask) -> None:
    with app.test_request_context("/", method="POST", data={"name": "Ada", "email": "ada@example.com"}):
        form = AuthorForm()
        assert form.validate_on_submit()
        author = form.save()
        assert isinstance(author, Author) and author.id is not None
    assert names(app) == ["Ada"]


def test_a_value_taken_after_validation_is_a_field_error(app: Flask) -> None:
    with app.test_request_context("/", method="POST", data={"name": "Ada", "email": "mine@example.com"}):
        form = AuthorForm()
        assert form.validate_on_submit()
        commit_elsewhere(app, sa.insert(Author).values(name="Ada", email="theirs@example.com"))
        assert form.save() is None
        assert form.errors == {"name": ["This value is already taken."]}
        # The session was rolled back and is usable: the other request's row is the one stored.
        assert erlen_db.session.execute(sa.select(Author.email)).scalars().all() == ["theirs@example.com"]
    assert names(app) == ["Ada"]


def test_an_edit_to_a_value_taken_after_validation_is_a_field_error(app: Flask) -> None:
    with database_of(app).engine.begin() as connection:
        connection.execute(sa.insert(Author).values(name="Bob"))
    with app.test_request_context("/", method="POST", data={"name": "Ada"}):
        bob = erlen_db.session.execute(sa.select(Author).where(Author.name == "Bob")).scalar_one()
        form = AuthorForm(obj=bob)
        assert form.validate_on_submit()
        commit_elsewhere(app, sa.insert(Author).values(name="Ada"))
        assert form.save(commit=False) is None
        assert form.errors == {"name": ["This value is already taken."]}
        assert bob.name == "Bob"  # the rollback undid the change to the object too
    assert names(app) == ["Ada", "Bob"]


def test_an_edit_keeping_its_own_value_is_saved(app: Flask) -> None:
    with database_of(app).engine.begin() as connection:
        connection.execute(sa.insert(Author).values(name="Bob"))
    with app.test_request_context("/", method="POST", data={"name": "Bob", "email": "bob@example.com"}):
        bob = erlen_db.session.execute(sa.select(Author)).scalar_one()
        form = AuthorForm(obj=bob)
        assert form.validate_on_submit()
        assert form.save() is bob
    with database_of(app).engine.connect() as connection:
        assert connection.execute(sa.select(Author.email)).scalar_one() == "bob@example.com"


def test_a_related_row_deleted_after_validation_is_a_field_error(app: Flask) -> None:
    with database_of(app).engine.begin() as connection:
        ada = connection.execute(sa.insert(Author).values(name="Ada").returning(Author.id)).scalar_one()
        connection.execute(sa.insert(Author).values(name="Bob"))
    data = {"title": "Hello", "status": "DRAFT", "views": "1", "author_id": str(ada)}
    with app.test_request_context("/", method="POST", data=data):
        form = PostForm()
        assert form.validate_on_submit()
        assert [label for _, label in form.author_id.choices] == ["Ada", "Bob"]
        commit_elsewhere(app, sa.delete(Author).where(Author.id == ada))
        assert form.save() is None
        assert form.errors == {"author_id": ["The chosen item no longer exists. Choose another."]}
        # The form shown again offers the rows that are left.
        assert [label for _, label in form.author_id.choices] == ["Bob"]
        assert not erlen_db.session.new
        assert erlen_db.session.execute(sa.select(sa.func.count()).select_from(Post)).scalar() == 0


def test_other_refusals_are_raised_after_a_rollback(app: Flask) -> None:
    with database_of(app).engine.begin() as connection:
        author_id = connection.execute(sa.insert(Author).values(name="Ada").returning(Author.id)).scalar_one()
    data = {"title": "Hello", "status": "DRAFT", "views": "-1", "author_id": str(author_id)}
    with app.test_request_context("/", method="POST", data=data):
        form = PostForm()
        assert form.validate_on_submit()
        with pytest.raises(sa.exc.IntegrityError, match=r"views_not_negative|CHECK constraint failed"):
            form.save()
        assert not form.errors
        assert not erlen_db.session.new
        assert erlen_db.session.execute(sa.select(sa.func.count()).select_from(Post)).scalar() == 0


def test_a_form_without_a_model_needs_an_object(app: Flask) -> None:
    from erlen_forms import ModelForm

    with app.test_request_context("/", method="POST", data={}), pytest.raises(ModelFormError, match="needs an object"):
        ModelForm().save()
