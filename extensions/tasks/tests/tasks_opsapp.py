"""The app of ``erlen tasks`` subprocesses with erlen-ops enabled: ``erlen --app tasks_opsapp:create``.

Its settings come from ``ERLEN_*`` variables (``ERLEN_DB_URL``, ``ERLEN_OPS_METRICS``...).
"""

from __future__ import annotations

from flask import Flask

import erlen


def create() -> Flask:
    return erlen.create_app(
        "tasks_opsapp",
        {"PLUGINS": ["db", "tasks", "tasks_testplugin", "ops"], "SECRET_KEY": "tasks-ops-tests-not-secret"},
    )
