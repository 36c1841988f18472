"""The password policy: what a new password must be, and how the forms say it before it is typed.

A new password (registration, change, reset, ``erlen user create`` and
``set-password``) must have between ``AUTH_PASSWORD_MIN_LENGTH`` and
``AUTH_PASSWORD_MAX_LENGTH`` characters, must not be one of the most common
passwords (``AUTH_PASSWORD_REJECT_COMMON``), and must not be, or contain, the
part of the user's email address before the ``@``.

The list of common passwords ships with the package (``data/common-passwords.txt.gz``,
20,000 passwords taken from Django, BSD-licensed: see ``data/NOTICE``); nothing
is fetched from the network. ``AUTH_PASSWORD_COMMON_LIST`` names the app's own
list instead (one password a line, plain text or gzip). A list is read once per
process, on first use, and compared case-insensitively, as Django does.
"""

from __future__ import annotations

import functools
import typing as t
from pathlib import Path

import erlen

#: The list that ships with the package.
SHIPPED_LIST = Path(__file__).parent / "data" / "common-passwords.txt.gz"

#: The shortest part of an address before the ``@`` that a password may not contain: shorter ones
#: ("al", "jo") are parts of too many good passwords to refuse them.
LOCAL_PART_MIN_LENGTH = 3


def _existing_file(value: str | None) -> None:
    if value and not Path(value).is_file():
        raise ValueError(f"there is no file at {value!r}: give the path of a list of passwords, one a line")


SETTINGS = [
    erlen.Setting(
        "PASSWORD_REJECT_COMMON",
        bool,
        default=True,
        help="Refuse new passwords found in the list of common passwords (20,000 shipped with erlen-auth, "
        "or AUTH_PASSWORD_COMMON_LIST).",
    ),
    erlen.Setting(
        "PASSWORD_COMMON_LIST",
        str | None,
        default=None,
        validate=_existing_file,
        help="The path of the app's own list of common passwords to refuse, one a line, plain text or gzip "
        "(instead of the list shipped with erlen-auth).",
    ),
]


@functools.cache
def load_list(path: str) -> frozenset[str]:
    """The passwords of the list at ``path``, stripped and lower-cased; read once per process.

    :param path: a text file with one password a line, gzip-compressed or not.
    :raises erlen.ConfigError: the file cannot be read.
    """
    import gzip  # here: only the pages and commands that set a password read the list

    try:
        with gzip.open(path, "rt", encoding="utf-8") as compressed:
            lines = compressed.read().splitlines()
    except gzip.BadGzipFile:
        lines = _read_plain(path)
    except OSError as exc:
        raise erlen.ConfigError(
            f"AUTH_PASSWORD_COMMON_LIST: the list of common passwords {path!r} cannot be read ({exc}). "
            "Give the path of a text file with one password a line (gzip-compressed or not), or unset it "
            "to use the list shipped with erlen-auth."
        ) from None
    return frozenset(line.strip().lower() for line in lines if line.strip())


def _read_plain(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise erlen.ConfigError(
            f"AUTH_PASSWORD_COMMON_LIST: the list of common passwords {path!r} cannot be read ({exc}). "
            "Give the path of a UTF-8 text file with one password a line (gzip-compressed or not)."
        ) from None


def common_passwords(config: t.Mapping[str, t.Any]) -> frozenset[str]:
    """The common passwords the app refuses: its own list, else the shipped one; empty when the check is off.

    :param config: the app's configuration.
    """
    if not config.get("AUTH_PASSWORD_REJECT_COMMON", True):
        return frozenset()
    return load_list(str(config.get("AUTH_PASSWORD_COMMON_LIST") or SHIPPED_LIST))


def _local_part(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    return email.strip().rsplit("@", 1)[0].lower()


def problems(password: str, config: t.Mapping[str, t.Any], *, email: str | None = None) -> list[str]:
    """What is wrong with ``password`` as a new password, as messages for the user; empty when it is good.

    :param password: the new password, as typed.
    :param config: the app's configuration (``AUTH_PASSWORD_*``).
    :param email: the address of the account, to refuse a password made of it; ``None`` when unknown.
    """
    low, high = config["AUTH_PASSWORD_MIN_LENGTH"], config["AUTH_PASSWORD_MAX_LENGTH"]
    if len(password) < low:
        return [f"Use at least {low} characters."]
    if len(password) > high:
        return [f"Use at most {high} characters."]
    found = []
    if password.strip().lower() in common_passwords(config):
        found.append("This password is one of the most common ones: choose one that is harder to guess.")
    local = _local_part(email)
    if len(local) >= LOCAL_PART_MIN_LENGTH and local in password.lower():
        found.append("The password must not contain your email address: choose one that is harder to guess.")
    return found


def describe(config: t.Mapping[str, t.Any]) -> str:
    """The policy in a sentence or three, for the help text of new-password fields.

    :param config: the app's configuration.
    """
    text = f"At least {config['AUTH_PASSWORD_MIN_LENGTH']} characters."
    if config.get("AUTH_PASSWORD_REJECT_COMMON", True):
        text += " Not a common password."
    return text + " Not your email address."
