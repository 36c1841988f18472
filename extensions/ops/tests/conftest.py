from __future__ import annotations

import pytest

from erlen_ops.names import MULTIPROCESS_VARIABLE


@pytest.fixture(autouse=True)
def _single_process_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    # The in-process tests read this process's values; only the gunicorn test uses the multiprocess mode.
    monkeypatch.delenv(MULTIPROCESS_VARIABLE, raising=False)
