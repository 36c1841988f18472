"""The test app of erlen-profiles: Erlen's testing kit builds it from these two fixtures."""

from __future__ import annotations

import typing as t

import pytest

from erlen_auth.testing import FAST_HASHING


@pytest.fixture
def erlen_plugins() -> list[str]:
    """The plugins of the ``app`` fixture: ``profiles`` and the plugins it requires."""
    return ["db", "forms", "auth", "profiles"]


@pytest.fixture
def erlen_config() -> dict[str, t.Any]:
    """Cheap password hashing: for tests only."""
    return {**FAST_HASHING}
