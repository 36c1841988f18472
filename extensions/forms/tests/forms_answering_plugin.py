"""A plugin whose before-request hook answers every request itself: CSRF checks must still come first."""

from __future__ import annotations

import erlen

PLUGIN = erlen.Plugin(name="answering")


@erlen.hookimpl
def erlen_before_request() -> str:
    return "answered by the plugin"
