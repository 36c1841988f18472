"""Names erlen-ops' modules share, apart from the metrics module (which imports prometheus-client)."""

from __future__ import annotations

import os

#: The environment variable of prometheus-client's multiprocess mode.
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

#: The WSGI environ key where a request's SQL statements are counted.
QUERIES_KEY = "erlen_ops.queries"

#: The endpoint label of requests that match no route (404s, 405s): one label, however many paths are tried.
UNMATCHED = "<unmatched>"


def multiprocess_dir() -> str | None:
    """The folder of prometheus-client's multiprocess mode, or ``None`` outside it."""
    return os.environ.get(MULTIPROCESS_VARIABLE) or None
