"""passkeys: the auth_passkey table of WebAuthn credentials

Revision ID: b7e3c1a9d2f4
Revises: b7e4c1a9d2f3
Create Date: 2026-12-02

Each row is a passkey of a user: its credential id and public key, its
signature counter, its name, when it was added and last used.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b7e3c1a9d2f4"
down_revision: str | Sequence[str] | None = "b7e4c1a9d2f3"  # after OpenID Connect identities
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_passkey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("user_handle", sa.LargeBinary(length=64), nullable=False),
        sa.Column("transports", sa.String(length=255), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["auth_user.id"], name=op.f("fk_auth_passkey_user_id_auth_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_passkey")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_auth_passkey_credential_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_auth_passkey_user_id"), "auth_passkey", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_passkey_user_id"), table_name="auth_passkey")
    op.drop_table("auth_passkey")
