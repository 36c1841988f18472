"""The table of account deletion requests, ``auth_account_deletion``: one row per account scheduled for deletion.

The settings of the data rights are here too, not in :mod:`erlen_auth.data_rights`: every app reads them
when it is created, and that module (some 100 KiB) serves only the export, deletion and purge it implements.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from erlen_db import Model

from .feature_settings import DATA_RIGHTS_SETTINGS


class AccountDeletion(Model):
    """An account its owner asked to delete, kept until :attr:`delete_after` (the grace period).

    Signing in again, or following the cancel link of the notice mail,
    deletes the row; ``erlen user purge-deleted`` deletes the accounts whose
    time has come. The time is stored rather than computed from
    ``AUTH_DELETION_GRACE_DAYS``, so changing the setting does not move the
    date the user was promised.
    """

    __tablename__ = "auth_account_deletion"

    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), primary_key=True)
    #: When the user asked (UTC); the cancel link carries it, so a link of an earlier request does not work.
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: When the account is deleted, at the first ``erlen user purge-deleted`` from then on (UTC).
    delete_after: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)

    def __repr__(self) -> str:
        return f"<AccountDeletion of user {self.user_id} after {self.delete_after:%Y-%m-%d %H:%M}>"


MODELS: tuple[type[Model], ...] = (AccountDeletion,)


#: Declared in :mod:`erlen_auth.feature_settings` (importable without this module's libraries).
SETTINGS = DATA_RIGHTS_SETTINGS
