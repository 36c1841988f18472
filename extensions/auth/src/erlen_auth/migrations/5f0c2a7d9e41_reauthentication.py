"""re-authentication: when the user last proved who they are in each log-in session

Revision ID: 5f0c2a7d9e41
Revises: 35303276e885
Create Date: 2026-12-02

Sensitive actions (changing the email, second factors, access tokens,
deleting the account) ask for the password again unless the session proved
it within ``AUTH_REAUTH_MINUTES``. Sessions older than this revision have no
time: they are asked.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5f0c2a7d9e41"
down_revision: str | Sequence[str] | None = "35303276e885"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auth_session") as batch:
        batch.add_column(sa.Column("reauthenticated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_session") as batch:
        batch.drop_column("reauthenticated_at")
