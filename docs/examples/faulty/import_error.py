"""Needs a module that is not installed."""

import erlen_nonexistent_dependency  # noqa: F401
