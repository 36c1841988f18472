"""The ``erlen`` command line, built on Flask's."""

from __future__ import annotations

from .main import ErlenGroup, cli, main

__all__ = ["ErlenGroup", "cli", "main"]
