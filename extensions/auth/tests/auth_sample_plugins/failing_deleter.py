"""A plugin whose delete hook fails: the deletion of an account must then be undone whole."""

from __future__ import annotations

import erlen
from erlen_auth import User

PLUGIN = erlen.Plugin(name="failing_deleter", requires=["auth"])


@erlen.hookimpl
def erlen_auth_user_delete(user: User) -> None:
    raise RuntimeError("the archive service is down")
