"""index notes by title and creation time, the admin's sort columns

Revision ID: cdb19b604746
Revises: 1662761f822d
Create Date: 2026-12-02 21:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "cdb19b604746"
down_revision: str | Sequence[str] | None = "1662761f822d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notes_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notes_note_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notes_note_title"), ["title"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notes_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notes_note_title"))
        batch_op.drop_index(batch_op.f("ix_notes_note_created_at"))
