"""search index on profiles' display names, the admin's searched column

Without them every admin search reads the whole table. FTS5 trigram tables on SQLite, pg_trgm GIN indexes on
PostgreSQL (see erlen_db.search); a database that cannot hold them is left as it is, searches scan and
``erlen check`` says so (admin.W002).

Revision ID: 19797941b813
Revises: 2ee47c3dbedd
Create Date: 2026-12-03 08:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from erlen_db import create_search_index, drop_search_index

# revision identifiers, used by Alembic.
revision: str = "19797941b813"
down_revision: str | Sequence[str] | None = "2ee47c3dbedd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_search_index(op.get_bind(), "profiles_profile", ["display_name"], key="user_id")


def downgrade() -> None:
    drop_search_index(op.get_bind(), "profiles_profile", ["display_name"])
