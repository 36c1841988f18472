"""The app that ``erlen tasks`` subprocesses of the tests load: ``erlen --app tasks_cliapp:create``.

Its settings come from ``ERLEN_*`` variables (``ERLEN_DB_URL``, ``ERLEN_TASKS_BROKER``...).
"""

from __future__ import annotations

from flask import Flask

import erlen


def create() -> Flask:
    return erlen.create_app(
        "tasks_cliapp",
        {"PLUGINS": ["db", "tasks", "tasks_testplugin"], "SECRET_KEY": "tasks-cli-tests-not-secret"},
    )
