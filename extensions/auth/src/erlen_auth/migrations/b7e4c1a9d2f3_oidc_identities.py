"""OpenID Connect identities: auth_identity links an account at a provider to a user

Revision ID: b7e4c1a9d2f3
Revises: 8c4d2f6a1b37
Create Date: 2026-12-02

An identity is the provider's name and its ``sub`` claim, unique together.
Accounts made through a provider have no usable password: their
``password_hash`` starts with "!", which no password matches.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b7e4c1a9d2f3"
down_revision: str | Sequence[str] | None = "8c4d2f6a1b37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["auth_user.id"], name=op.f("fk_auth_identity_user_id_auth_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_identity")),
        sa.UniqueConstraint("provider", "subject", name=op.f("uq_auth_identity_provider_subject")),
    )
    op.create_index(op.f("ix_auth_identity_user_id"), "auth_identity", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_identity_user_id"), table_name="auth_identity")
    op.drop_table("auth_identity")
