"""account deletion: the accounts their owners asked to delete, until the grace period ends

Revision ID: 8c4e1b7a2d90
Revises: b7e3c1a9d2f4
Create Date: 2026-12-02

A user deleting their account is kept for AUTH_DELETION_GRACE_DAYS in
auth_account_deletion; `erlen user purge-deleted` deletes the accounts whose
time has come.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "8c4e1b7a2d90"
down_revision: str | Sequence[str] | None = "b7e3c1a9d2f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_account_deletion",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delete_after", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["auth_user.id"], name=op.f("fk_auth_account_deletion_user_id_auth_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_auth_account_deletion")),
    )
    op.create_index(
        op.f("ix_auth_account_deletion_delete_after"), "auth_account_deletion", ["delete_after"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_account_deletion_delete_after"), table_name="auth_account_deletion")
    op.drop_table("auth_account_deletion")
