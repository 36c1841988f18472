"""Password hashing with argon2id, re-hashing when the parameters change."""

from __future__ import annotations

import functools
import secrets
import typing as t

from flask import Flask

if t.TYPE_CHECKING:
    from argon2 import PasswordHasher

#: The start of a password hash that no password matches: an account without a password (made through an
#: OpenID Connect provider). argon2 hashes start with "$", so no real hash is mistaken for one.
UNUSABLE_PREFIX = "!"


def unusable_password() -> str:
    """A password hash that no password matches, for an account made without a password.

    Random, so two such accounts never share a hash; setting a password
    (a reset link, ``erlen user set-password``) replaces it.
    """
    return UNUSABLE_PREFIX + secrets.token_urlsafe(32)


def is_usable(password_hash: str) -> bool:
    """Whether some password can match ``password_hash`` (not the marker of :func:`unusable_password`)."""
    return not password_hash.startswith(UNUSABLE_PREFIX)


class Passwords:
    """The password hasher of one app: argon2id with the parameters of its settings.

    :param time_cost: ``AUTH_ARGON2_TIME_COST``, iterations.
    :param memory_cost: ``AUTH_ARGON2_MEMORY_COST``, KiB of memory.
    :param parallelism: ``AUTH_ARGON2_PARALLELISM``, lanes.
    """

    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self.time_cost = time_cost
        self.memory_cost = memory_cost
        self.parallelism = parallelism
        self._dummy_hash: str | None = None

    @functools.cached_property
    def hasher(self) -> PasswordHasher:
        """argon2-cffi's hasher with these parameters, made on first use.

        argon2-cffi loads its C library through cffi when imported: a cost that app creation, ``erlen``
        commands and workers that hash no password need not pay.
        """
        from argon2 import PasswordHasher, Type

        return PasswordHasher(
            time_cost=self.time_cost, memory_cost=self.memory_cost, parallelism=self.parallelism, type=Type.ID
        )

    @classmethod
    def from_config(cls, app: Flask) -> Passwords:
        """The hasher configured by ``app``'s ``AUTH_ARGON2_*`` settings."""
        config = app.config
        return cls(
            time_cost=config["AUTH_ARGON2_TIME_COST"],
            memory_cost=config["AUTH_ARGON2_MEMORY_COST"],
            parallelism=config["AUTH_ARGON2_PARALLELISM"],
        )

    def hash(self, password: str) -> str:
        """The argon2id hash of ``password``, with a random salt."""
        return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``; ``False`` for a malformed or unusable hash too.

        For an account without a password (:func:`unusable_password`) a dummy hash is verified, so
        the time taken does not tell that the account has no password.
        """
        if not is_usable(password_hash):
            return self.verify_dummy(password)
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        try:
            return bool(self.hasher.verify(password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether ``password_hash`` was made with other parameters (or another algorithm) than today's."""
        from argon2.exceptions import InvalidHashError

        try:
            return bool(self.hasher.check_needs_rehash(password_hash))
        except (InvalidHashError, ValueError):
            return True

    @property
    def dummy_hash(self) -> str:
        """A hash of a random password, made once, to verify against for unknown users."""
        if self._dummy_hash is None:
            self._dummy_hash = self.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def verify_dummy(self, password: str) -> t.Literal[False]:
        """Spend the time of a real verification, for a log-in with an unknown email; always ``False``.

        So the time of an answer does not tell whether an account exists.
        """
        self.verify(self.dummy_hash, password)
        return False
