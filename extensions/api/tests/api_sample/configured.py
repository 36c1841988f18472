"""A plugin serving the resources its app's ``SAMPLE_RESOURCES`` lists: for tests of declarations."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

from flask import Flask

import erlen

PLUGIN = erlen.Plugin(name="api_sample_configured", requires=["api"])


@erlen.hookimpl
def erlen_api_resources(app: Flask) -> Iterable[t.Any]:
    return list(app.config.get("SAMPLE_RESOURCES", []))
