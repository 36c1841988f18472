"""search index on the audit log's object and user, the admin's searched columns

Without them every admin search reads the whole table. FTS5 trigram tables on SQLite, pg_trgm GIN indexes on
PostgreSQL (see erlen_db.search); a database that cannot hold them is left as it is, searches scan and
``erlen check`` says so (admin.W002).

Revision ID: e4b08ce2066c
Revises: f53c35871e3d
Create Date: 2026-12-03 08:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from erlen_db import create_search_index, drop_search_index

# revision identifiers, used by Alembic.
revision: str = "e4b08ce2066c"
down_revision: str | Sequence[str] | None = "f53c35871e3d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_search_index(op.get_bind(), "admin_audit_log", ["object_repr", "user_email"], key="id")


def downgrade() -> None:
    drop_search_index(op.get_bind(), "admin_audit_log", ["object_repr", "user_email"])
