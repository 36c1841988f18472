"""The table of the bad plugin :mod:`data_rights_orphans`."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

import erlen_db


class Bookmark(erlen_db.Model):
    __tablename__ = "orphans_bookmark"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id"))  # no ondelete: the database refuses
    url: Mapped[str] = mapped_column(String(200))
