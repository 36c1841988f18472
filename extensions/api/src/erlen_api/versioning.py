"""API versions: the headers that tell clients a version is deprecated and when it goes away.

An :class:`~erlen_api.Api` declared with ``deprecated=`` sends, with every
response, ``Deprecation`` (RFC 9745: the date it was deprecated, as
``@<seconds since the epoch>``); with ``sunset=``, ``Sunset`` (RFC 8594: the
HTTP date after which it may stop answering); and with ``successor=``, a
``Link`` to the version that replaces it (``rel="successor-version"``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from werkzeug.http import http_date
from werkzeug.wrappers import Response


@dataclass(frozen=True)
class Lifecycle:
    """When a version of an API was deprecated and when it goes away.

    :param deprecated: when it was (or will be) deprecated; ``None`` while it is current.
    :param sunset: when it may stop answering.
    :param successor: the URL of the version that replaces it (its documentation or its root).
    """

    deprecated: datetime.datetime | None = None
    sunset: datetime.datetime | None = None
    successor: str | None = None

    def __post_init__(self) -> None:
        for name in ("deprecated", "sunset"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime.datetime) or value.tzinfo is None):
                raise ValueError(
                    f"{name} must be a datetime with a time zone, such as datetime(2027, 1, 1, tzinfo=UTC)."
                )

    @property
    def is_deprecated(self) -> bool:
        """Whether the version is deprecated (or announced to be)."""
        return self.deprecated is not None

    def headers(self) -> dict[str, str]:
        """The headers to send with each response of the version."""
        found: dict[str, str] = {}
        if self.deprecated is not None:
            found["Deprecation"] = f"@{int(self.deprecated.timestamp())}"
        if self.sunset is not None:
            found["Sunset"] = http_date(self.sunset)
        if self.successor is not None:
            found["Link"] = f'<{self.successor}>; rel="successor-version"'
        return found

    def apply(self, response: Response) -> Response:
        """Add the headers to ``response`` (a ``Link`` the view set is kept, the successor's appended).

        :param response: a response of the version.
        """
        for name, value in self.headers().items():
            if name == "Link" and "Link" in response.headers:
                response.headers["Link"] = f"{response.headers['Link']}, {value}"
            else:
                response.headers[name] = value
        return response
