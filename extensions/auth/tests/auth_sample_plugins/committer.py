"""A plugin whose delete hook commits, which it must not do."""

from __future__ import annotations

import erlen
import erlen_db
from erlen_auth import User

PLUGIN = erlen.Plugin(name="committer", requires=["auth"])


@erlen.hookimpl
def erlen_auth_user_delete(user: User) -> None:
    erlen_db.session.commit()
