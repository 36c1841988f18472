"""Admin views: model views, custom pages and their registry."""

from __future__ import annotations

import typing as t

import erlen

if t.TYPE_CHECKING:
    from .model_view import AdminConfigError, FilterSpec, ModelView
    from .pages import AdminPage
    from .panels import Panel
    from .query_filters import QueryFilter
    from .registry import AdminRegistry, Group, plugin_title, registry_of

# Imported on first use, as erlen_admin's names: the registry needs no model view (nor SQLAlchemy).
__getattr__ = erlen.lazy_exports(
    __name__,
    {
        **dict.fromkeys(("AdminConfigError", "FilterSpec", "ModelView"), "erlen_admin.views.model_view"),
        "AdminPage": "erlen_admin.views.pages",
        "Panel": "erlen_admin.views.panels",
        "QueryFilter": "erlen_admin.views.query_filters",
        **dict.fromkeys(("AdminRegistry", "Group", "plugin_title", "registry_of"), "erlen_admin.views.registry"),
    },
)

__all__ = [
    "AdminConfigError",
    "AdminPage",
    "AdminRegistry",
    "FilterSpec",
    "Group",
    "ModelView",
    "Panel",
    "QueryFilter",
    "plugin_title",
    "registry_of",
]
