"""Which row locks a change holds on PostgreSQL: ``FOR NO KEY UPDATE`` when it keeps the rows' keys, so that
others may meanwhile insert rows that refer to them; ``FOR UPDATE`` for a deletion.

Another user adds a book of the author the admin's request holds, from a connection of their own, just before
the admin's flush (a ``before_flush`` listener). It never waits: it first takes the lock a foreign key's check
takes on the referred-to row (``FOR KEY SHARE``) with ``NOWAIT``, which fails at once if the row is held against
it, and only then inserts.
"""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
import test_refused_saves as saves
from conftest import PLUGINS
from sqlalchemy.orm import Session

from erlen_auth.testing import FAST_HASHING

committed = saves.committed
before_flush = saves.before_flush

AUTHORS = "/admin/m/library_author/"


@pytest.fixture
def erlen_plugins() -> list[str]:
    return [*PLUGINS, "admin_sample.author_actions"]


@pytest.fixture
def erlen_config(database_url: str) -> dict[str, t.Any]:
    return {"DB_URL": database_url, **FAST_HASHING}


def add_book_unless_blocked(database: t.Any, models: t.Any, author_id: int) -> bool:
    """Another user's new book of author ``author_id``, committed, unless the author's row is held against the
    foreign key's check; never waits.

    :returns: whether the book was added (``False``: the insert would have waited for the admin's commit).
    """
    author = models.Author.__table__
    with database.engine.connect() as other:
        try:
            other.execute(
                sa.select(author.c.id)
                .where(author.c.id == author_id)
                .with_for_update(read=True, key_share=True, nowait=True)
            )
        except sa.exc.OperationalError:
            return False
        other.execute(sa.insert(models.Book.__table__).values(title="Theirs", pages=1, author_id=author_id))
        other.commit()
        return True


def post(client: t.Any, how: str, ids: dict[str, int]) -> t.Any:
    ada = ids["ada"]
    if how == "edit":
        return client.post(f"{AUTHORS}{ada}/edit", data={"name": "Ada!"})
    if how == "bulk":
        return client.post(AUTHORS + "action", data={"action": "rename", "ids": [str(ada)]})
    return client.post(f"{AUTHORS}{ada}/do/rename")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("how", ["edit", "bulk", "object"])
def test_a_change_that_keeps_the_key_lets_others_refer_to_its_row(app, client, committed, models, how):
    database, ids = committed
    added: list[bool] = []

    def another_user_adds_a_book_of_ada(session: Session) -> None:
        if not added and any(isinstance(obj, models.Author) for obj in session.dirty):
            added.append(add_book_unless_blocked(database, models, ids["ada"]))

    with before_flush(another_user_adds_a_book_of_ada):
        response = post(client, how, ids)
    assert response.status_code == 302, response.text
    # Before: the author was held FOR UPDATE, and the other user's insert waited for this change's commit.
    assert added == [True]
    with database.session_scope() as session:
        assert session.get(models.Author, ids["ada"]).name == "Ada!"
        books = session.scalars(sa.select(models.Book.title).where(models.Book.author_id == ids["ada"]))
        assert sorted(books) == ["Notes", "Theirs"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("how", ["page", "bulk"])
def test_a_deletion_still_keeps_others_from_referring_to_its_row(app, client, committed, models, how):
    database, ids = committed
    added: list[bool] = []

    def another_user_adds_a_book_of_spare(session: Session) -> None:
        if not added and any(isinstance(obj, models.Author) for obj in session.deleted):
            added.append(add_book_unless_blocked(database, models, ids["spare"]))

    with before_flush(another_user_adds_a_book_of_spare):
        if how == "page":
            response = client.post(f"{AUTHORS}{ids['spare']}/delete")
        else:
            response = client.post(
                AUTHORS + "action", data={"action": "delete", "ids": [str(ids["spare"])], "confirmed": "1"}
            )
    assert response.status_code == 302, response.text
    assert added == [False]  # it would wait for the deletion's commit, and then find the author gone
    with database.session_scope() as session:
        assert session.get(models.Author, ids["spare"]) is None
