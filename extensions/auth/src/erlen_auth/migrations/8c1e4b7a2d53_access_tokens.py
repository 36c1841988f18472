"""personal access tokens: auth_access_token

Revision ID: 8c1e4b7a2d53
Revises: 5f0c2a7d9e41
Create Date: 2026-12-02

One row per token: its public id, the SHA-256 of its secret (never the
secret), its scopes, expiry, last use and revocation. Revoked tokens keep
their row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "8c1e4b7a2d53"
down_revision: str | Sequence[str] | None = "5f0c2a7d9e41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_access_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("public_id", sa.String(length=12), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_address", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["auth_user.id"], name=op.f("fk_auth_access_token_user_id_auth_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_access_token")),
        sa.UniqueConstraint("public_id", name=op.f("uq_auth_access_token_public_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_auth_access_token_user_id"), "auth_access_token", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_access_token_user_id"), table_name="auth_access_token")
    op.drop_table("auth_access_token")
