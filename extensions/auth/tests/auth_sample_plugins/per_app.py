"""A plugin whose permissions depend on the app: erlen_auth_permissions may accept ``app``."""

from __future__ import annotations

from flask import Flask

import erlen

PLUGIN = erlen.Plugin(name="perapp", requires=["auth"])


@erlen.hookimpl
def erlen_auth_permissions(app: Flask) -> dict[str, str]:
    return {f"perapp.{name}": f"Manage {name}" for name in app.config.get("PERAPP_THINGS", [])}
