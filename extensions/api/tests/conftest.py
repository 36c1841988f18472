"""Fixtures of erlen-api's tests: an app with the ``api`` plugin and the sample APIs."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask


@pytest.fixture
def erlen_plugins() -> list[str]:
    """The ``api`` plugin alone: no database, no accounts."""
    return ["api"]


@pytest.fixture
def app(make_app: t.Any, erlen_plugins: list[str], erlen_config: dict[str, t.Any]) -> Flask:
    """An app with the ``api`` plugin and the sample API ``shapes`` under /api/v1."""
    from api_sample.shapes import api

    made = t.cast(Flask, make_app(erlen_plugins, erlen_config))
    made.register_blueprint(api)
    return made


@pytest.fixture
def auth_config() -> dict[str, t.Any]:
    """Settings of apps with accounts: cheap hashing."""
    from erlen_auth.testing import FAST_HASHING

    return {**FAST_HASHING}
