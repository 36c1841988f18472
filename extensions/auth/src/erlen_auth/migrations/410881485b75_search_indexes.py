"""search indexes on users' emails and roles' names, the admin's searched columns

Without them every admin search reads the whole table. FTS5 trigram tables on SQLite, pg_trgm GIN indexes on
PostgreSQL (see erlen_db.search); a database that cannot hold them is left as it is, searches scan and
``erlen check`` says so (admin.W002).

Revision ID: 410881485b75
Revises: 9b3e61c4d2a7
Create Date: 2026-12-03 08:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from erlen_db import create_search_index, drop_search_index

# revision identifiers, used by Alembic.
revision: str = "410881485b75"
down_revision: str | Sequence[str] | None = "9b3e61c4d2a7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_search_index(op.get_bind(), "auth_user", ["email"], key="id")
    create_search_index(op.get_bind(), "auth_role", ["name"], key="id")


def downgrade() -> None:
    drop_search_index(op.get_bind(), "auth_role", ["name"])
    drop_search_index(op.get_bind(), "auth_user", ["email"])
