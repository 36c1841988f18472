"""erlen-profiles: public profiles for Erlen apps, as the plugin ``profiles``.

A third-party plugin written against Erlen's public API only: it is enabled by
name (``plugins = ["db", "forms", "auth", "profiles"]``) once the distribution
is installed.
"""

from __future__ import annotations

__version__ = "0.1.0"
