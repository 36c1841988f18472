"""a release whose migration fails halfway

Revision ID: 5eb1a5e0f0a1
Revises:
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5eb1a5e0f0a1"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("failing_release",)
depends_on: str | Sequence[str] | None = "1662761f822d"  # the notes branch's table

#: The suffix the migration gives every title before it fails: the suite checks that no title has it.
MARK = " [release 2]"


def upgrade() -> None:
    op.create_table("failing_release_audit", sa.Column("id", sa.Integer(), primary_key=True))
    op.add_column("notes_note", sa.Column("word_count", sa.Integer(), nullable=False, server_default="0"))
    op.execute(sa.text("UPDATE notes_note SET title = left(title, 180) || :mark").bindparams(mark=MARK))
    # A data step with a bug: the second row repeats the first one's key, and the migration fails here.
    op.execute(sa.text("INSERT INTO failing_release_audit (id) VALUES (1), (1)"))


def downgrade() -> None:
    op.drop_column("notes_note", "word_count")
    op.drop_table("failing_release_audit")
