"""users' email keys, compatibility-normalised (NFKC) before lower-casing

``auth_user.email_key`` held the address stripped and lower-cased, so ``ada@example.com`` typed in
full-width letters and in ASCII could be two accounts. The key is now made as
:func:`erlen_auth.models.email_key` makes it; this revision makes the keys of existing users again.

If two accounts' addresses now have the same key, or an address's key no longer fits the column's 254
characters (NFKC expands some characters: U+FDFA to 18), the upgrade stops before changing anything and
names them: change those addresses (``erlen user`` commands, the admin) and upgrade again.

Links mailed before the upgrade to confirm an address, or to confirm or undo a change of address, stop
working for the accounts whose key changes (addresses with non-ASCII characters only): they are bound
to the key. Their users ask for another link. Password reset links are not bound to it.

Revision ID: c3f9a7e2b6d1
Revises: 410881485b75
Create Date: 2026-12-06 20:30:00.000000
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "c3f9a7e2b6d1"
down_revision: str | Sequence[str] | None = "410881485b75"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The length of the ``email_key`` column (``erlen_auth.models.EMAIL_MAX_LENGTH`` when this revision was made).
_KEY_MAX_LENGTH = 254

_USERS = sa.table("auth_user", sa.column("id", sa.Integer), sa.column("email", sa.String), sa.column("email_key"))


def _normalised_key(email: str) -> str:
    # This revision's own copy of erlen_auth.models.email_key: a later change there must not change what it did.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).strip().lower())


def _lower_cased_key(email: str) -> str:
    # The key as the revisions before this one made it.
    return email.strip().lower()


def _rekey(make_key: Callable[[str], str]) -> None:
    """Give every user the key ``make_key`` makes of their address, or change nothing if two would share one."""
    connection = op.get_bind()
    rows = connection.execute(sa.select(_USERS.c.id, _USERS.c.email, _USERS.c.email_key).order_by(_USERS.c.id)).all()
    holders: defaultdict[str, list[tuple[int, str]]] = defaultdict(list)
    for user_id, email, _ in rows:
        holders[make_key(email)].append((user_id, email))
    clashes = [users for users in holders.values() if len(users) > 1]
    # PostgreSQL would refuse such a key half-way (and SQLite keep it, longer than any form lets a key be).
    too_long = [user for key, users in holders.items() if len(key) > _KEY_MAX_LENGTH for user in users]
    problems = []
    if clashes:
        listed = "; ".join(" and ".join(f"user {user_id} ({email!r})" for user_id, email in users) for users in clashes)
        problems.append(f"these accounts' email addresses read the same and would share one email key: {listed}")
    if too_long:
        listed = "; ".join(f"user {user_id} ({email!r})" for user_id, email in too_long)
        problems.append(
            f"these accounts' email keys would be longer than the column's {_KEY_MAX_LENGTH} characters: {listed}"
        )
    if problems:
        raise RuntimeError(
            f"erlen-auth revision {revision}: {'; and '.join(problems)}. Nothing was changed. Give each account "
            "named another address (one account of each group that reads the same), with the admin or the "
            "erlen user commands, then run erlen db upgrade again."
        )
    changed = [(user_id, make_key(email)) for user_id, email, key in rows if make_key(email) != key]
    update = _USERS.update().where(_USERS.c.id == sa.bindparam("user_id")).values(email_key=sa.bindparam("new_key"))
    # In two steps, so that a key another row still holds (to be changed too) never breaks the unique constraint.
    # The keys between them are held by no row before or after: an address no form checked (a user made through
    # the Python API) may have the key "#2".
    taken = {key for _, _, key in rows} | {key for _, key in changed}
    marker = "#"
    while any(f"{marker}{user_id}" in taken for user_id, _ in changed):
        marker += "#"
    if changed:
        connection.execute(update, [{"user_id": user_id, "new_key": f"{marker}{user_id}"} for user_id, _ in changed])
        connection.execute(update, [{"user_id": user_id, "new_key": key} for user_id, key in changed])


def upgrade() -> None:
    _rekey(_normalised_key)


def downgrade() -> None:
    _rekey(_lower_cased_key)
