"""A plugin returning something else than Widget objects from erlen_admin_widgets."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="badwidgets", requires=["admin"])


@erlen.hookimpl
def erlen_admin_widgets() -> t.Any:
    return ["<p>not a widget</p>"]
