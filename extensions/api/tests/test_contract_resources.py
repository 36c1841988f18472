"""Contract tests of the sample library's resources, on SQLite and PostgreSQL, called with a librarian's token.

Apart from test_contract.py: ``make_db_app`` comes from erlen-db's testing kit, which erlen-api's own
session (erlen-api installed alone) does not have; these run in nox's integration session.
"""

from __future__ import annotations

import typing as t

import pytest

pytest.importorskip("schemathesis", reason='schemathesis is not installed: pip install "erlen-api[contract]"')
for _name in ("erlen_db", "erlen_forms", "erlen_auth"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

import sqlalchemy as sa  # noqa: E402
from api_sample.library import Book, Shelf  # noqa: E402

from erlen_api.contract import check_contract  # noqa: E402
from erlen_auth import Role, grant  # noqa: E402
from erlen_auth.testing import make_user  # noqa: E402
from erlen_db import database_of  # noqa: E402


def test_resources_keep_their_contract(make_db_app: t.Any, auth_config: dict[str, t.Any]) -> None:
    app = make_db_app(["forms", "auth", "api", "api_sample.tokens", "api_sample.library"], auth_config, create_all=True)
    user = make_user(app, "ada@example.com", roles=["librarian"])
    db = database_of(app).new_session()
    try:
        grant(db.scalars(sa.select(Role).where(Role.name == "librarian")).one(), "books.edit", app=app)
        shelf = Shelf(name="Fiction")
        db.add(shelf)
        db.flush()
        db.add_all(Book(title=f"Book {n}", owner_id=user.id, shelf_id=shelf.id) for n in range(3))
        db.commit()
    finally:
        db.close()
    report = check_contract(app, headers={"Authorization": f"Bearer user-{user.id}"}, max_examples=4)
    assert "PATCH /api/v1/books/{id}" in report.operations and "DELETE /api/v1/shelves/{id}" in report.operations
