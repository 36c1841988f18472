"""Saving, deleting and acting on rows of a model that loads a nullable relationship with an outer join."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import PLUGINS

from erlen_admin.models import AuditEntry

LOANS = "/admin/m/eager_loan/"


@pytest.fixture
def erlen_plugins() -> list[str]:
    return [*PLUGINS, "admin_sample.eager_loads"]


@pytest.fixture
def loans(db_session):
    from admin_sample.eager_loads import Loan

    made = [Loan(borrower=f"Reader {index}") for index in range(3)]  # no book yet: the join's nullable side
    db_session.add_all(made)
    db_session.commit()
    return [loan.id for loan in made]


def test_rows_with_a_joined_nullable_relationship_can_be_held(admin_client, loans, db_session):
    """Before: the edit's save, the deletion and the object action read the row ``FOR UPDATE`` with its book's
    LEFT OUTER JOIN, which PostgreSQL refuses ("FOR UPDATE cannot be applied to the nullable side of an outer
    join"): a 500. They now hold the loan's row alone (``FOR UPDATE OF``), as the bulk actions do."""
    from admin_sample.eager_loads import Loan

    first, second, third = loans
    edit = f"{LOANS}{first}/edit"
    response = admin_client.get(edit)
    assert response.status_code == 200
    (loaded,) = [part.split('"')[0] for part in response.text.split('name="admin_loaded" value="')[1:]]
    saved = admin_client.post(edit, data={"borrower": "Ada", "book_id": "", "admin_loaded": loaded})
    assert saved.status_code == 302, saved.text
    acted = admin_client.post(f"{LOANS}{second}/do/return")
    assert acted.status_code == 302, acted.text
    bulk = admin_client.post(f"{LOANS}action", data={"action": "return_all", "ids": [str(first), str(third)]})
    assert bulk.status_code == 302, bulk.text
    deleted = admin_client.post(f"{LOANS}{third}/delete")
    assert deleted.status_code == 302, deleted.text
    db_session.expire_all()
    rows = {loan.id: (loan.borrower, loan.returned) for loan in db_session.scalars(sa.select(Loan))}
    assert rows == {first: ("Ada", True), second: ("Reader 1", True)}
    actions = [entry.action for entry in db_session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["edit", "action:return", "bulk:return_all", "bulk:return_all", "delete"]
