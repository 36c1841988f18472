"""A plugin that declares a permission the blog plugin declares too."""

from __future__ import annotations

import erlen

PLUGIN = erlen.Plugin(name="dupe", requires=["auth"])


@erlen.hookimpl
def erlen_auth_permissions() -> dict[str, str]:
    return {"blog.publish": "Also publish posts"}
