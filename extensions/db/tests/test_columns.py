from __future__ import annotations

import datetime

import sqlalchemy as sa

import erlen_db


def test_python_type_of_a_column_and_of_a_type_without_one() -> None:
    assert erlen_db.python_type_of(sa.Column("n", sa.Integer())) is int
    assert erlen_db.python_type_of(sa.Column("at", sa.DateTime(timezone=True))) is datetime.datetime
    assert erlen_db.python_type_of(sa.literal_column("x", type_=sa.types.NullType())) is None
