from __future__ import annotations

import pytest


@pytest.fixture
def erlen_plugins() -> list[str]:
    return ["forms"]
