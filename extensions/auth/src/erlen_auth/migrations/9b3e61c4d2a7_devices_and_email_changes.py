"""known devices and email changes: new-device sign-in notices, email change with confirmation and undo

Revision ID: 9b3e61c4d2a7
Revises: 8c4e1b7a2d90
Create Date: 2026-12-02

Users known before this revision have no known device: their first sign-in
after it records the browser without a notice (as a new account's does).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "9b3e61c4d2a7"
down_revision: str | Sequence[str] | None = "8c4e1b7a2d90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_known_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["auth_user.id"], name=op.f("fk_auth_known_device_user_id_auth_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_known_device")),
        sa.UniqueConstraint("user_id", "device_hash", name=op.f("uq_auth_known_device_user_id_device_hash")),
    )
    op.create_index(op.f("ix_auth_known_device_user_id"), "auth_known_device", ["user_id"], unique=False)
    op.create_table(
        "auth_email_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["auth_user.id"], name=op.f("fk_auth_email_change_user_id_auth_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_email_change")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_auth_email_change_user_id"), "auth_email_change", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_email_change_user_id"), table_name="auth_email_change")
    op.drop_table("auth_email_change")
    op.drop_index(op.f("ix_auth_known_device_user_id"), table_name="auth_known_device")
    op.drop_table("auth_known_device")
