"""``TRUSTED_HOSTS`` with ports: the host *and port* a request names must be the app's own.

Flask refuses a request whose ``Host`` names a host not in
``TRUSTED_HOSTS``, but Werkzeug's check ignores the port, so
``Host: notes.example.com:666`` passed and links built from the request
(password reset and confirmation mail, ``url_for(..., _external=True)``)
pointed at that port. Erlen checks the port as well:

* an entry without a port (``"notes.example.com"``, ``".example.com"``)
  allows the default port of the request's scheme only: 80 for ``http``,
  443 for ``https``;
* an entry with a port (``"notes.example.com:8443"``) allows that port.

A request for another port gets a 400, as one for another host does. The
check is a ``before_request`` function registered only when
``TRUSTED_HOSTS`` is set, so apps without it pay nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from flask import Flask, current_app, request
from werkzeug.exceptions import SecurityError

#: The port of each scheme when a request names none (Werkzeug leaves it out of ``request.host`` then).
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

#: A ``TRUSTED_HOSTS`` entry: an optional leading dot, a host name or IPv4 address, an optional port.
_ENTRY = re.compile(r"(\.?)([^\s:/@\[\]]+)(?::([0-9]{1,5}))?")


@dataclass(frozen=True)
class TrustedHost:
    """One ``TRUSTED_HOSTS`` entry.

    :param name: the host name (IDNA-encoded, lower case) or IPv4 address.
    :param subdomains: the entry began with a dot: the name's subdomains match too, as in Werkzeug.
    :param port: the port it allows; ``None`` for the default port of the request's scheme.
    """

    name: str
    subdomains: bool = False
    port: int | None = None

    def allows(self, name: str, port: int | None, scheme: str) -> bool:
        """Whether a request for ``name`` on ``port`` (``None``: none named) over ``scheme`` is allowed."""
        name = name.lower()
        if name != self.name and not (self.subdomains and name.endswith("." + self.name)):
            return False
        default = DEFAULT_PORTS.get(scheme)
        return (port if port is not None else default) == (self.port if self.port is not None else default)


def parse_trusted_host(entry: str) -> TrustedHost:
    """Parse a ``TRUSTED_HOSTS`` entry, such as ``"notes.example.com"`` or ``".example.com:8443"``.

    :raises ValueError: the entry is not a host name with an optional port from 1 to 65535.
    """
    if entry.startswith("["):
        # Werkzeug's own check cuts entries at their first colon, so it can never match one.
        raise ValueError(f"cannot list IPv6 addresses (Werkzeug does not match them), and {entry!r} is one")
    found = _ENTRY.fullmatch(entry)
    port = int(found.group(3)) if found and found.group(3) else None
    if found is None or (port is not None and not 1 <= port <= 65535):
        raise ValueError(
            f"must list host names with an optional port, such as 'notes.example.com' or "
            f"'notes.example.com:8443', and {entry!r} is not one"
        )
    try:
        name = found.group(2).encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(f"must list valid host names, and {entry!r} is not one") from None
    return TrustedHost(name, subdomains=bool(found.group(1)), port=port)


def validate_trusted_hosts(entries: list[str] | None) -> None:
    """The ``TRUSTED_HOSTS`` setting's validator: every entry must parse with :func:`parse_trusted_host`."""
    for entry in entries or ():
        parse_trusted_host(entry)


@functools.lru_cache(maxsize=16)
def _parsed(entries: tuple[str, ...]) -> tuple[TrustedHost, ...]:
    return tuple(parse_trusted_host(entry) for entry in entries)


def split_host(host: str) -> tuple[str, int | None]:
    """``"example.com:8443"`` as ``("example.com", 8443)``; ``"[::1]"`` as ``("[::1]", None)``."""
    name, colon, port = host.rpartition(":")
    if not colon or not port.isdigit() or (name.startswith("[") and not name.endswith("]")):
        return host, None  # no port (an IPv6 address's colons are inside its brackets)
    return name, int(port)


def host_is_allowed(host: str, scheme: str, entries: Iterable[str]) -> bool:
    """Whether ``host`` (``request.host``: a name, and a port unless the scheme's default) is in ``entries``.

    :param host: the request's host, as Werkzeug gives it.
    :param scheme: the request's scheme.
    :param entries: ``TRUSTED_HOSTS``.
    """
    name, port = split_host(host)
    return any(rule.allows(name, port, scheme) for rule in _parsed(tuple(entries)))


def check_request_host() -> None:
    """Refuse the current request (400) when its host's port is not allowed by ``TRUSTED_HOSTS``.

    Flask has already refused hosts not in the list; this adds the port.

    :raises SecurityError: a 400 Bad Request.
    """
    entries = current_app.config.get("TRUSTED_HOSTS")
    if entries and not host_is_allowed(request.host, request.scheme, entries):
        raise SecurityError(f"The host {request.host!r} is not trusted: its port is not in TRUSTED_HOSTS.")


def register_host_check(app: Flask) -> None:
    """Check each request's port against ``TRUSTED_HOSTS``, when it is set, before any other request hook."""
    if app.config.get("TRUSTED_HOSTS"):
        app.before_request_funcs.setdefault(None, []).insert(0, check_request_host)
