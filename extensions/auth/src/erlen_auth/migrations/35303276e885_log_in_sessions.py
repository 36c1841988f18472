"""log-in sessions: one auth_session row per log-in of a user on a device

Revision ID: 35303276e885
Revises: 3040392e085a
Create Date: 2026-12-02

Cookies made before this revision carry "<user id>:<session token>", which
is no session key: everyone logs in again once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "35303276e885"
down_revision: str | Sequence[str] | None = "3040392e085a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["auth_user.id"], name=op.f("fk_auth_session_user_id_auth_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_session")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_auth_session_key_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_auth_session_last_seen_at"), "auth_session", ["last_seen_at"], unique=False)
    op.create_index(op.f("ix_auth_session_user_id"), "auth_session", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_session_user_id"), table_name="auth_session")
    op.drop_index(op.f("ix_auth_session_last_seen_at"), table_name="auth_session")
    op.drop_table("auth_session")
