"""Admin views: model views, custom pages and their registry."""

from __future__ import annotations

from .model_view import AdminConfigError, FilterSpec, ModelView
from .pages import AdminPage
from .panels import Panel
from .query_filters import QueryFilter
from .registry import AdminRegistry, Group, registry_of

__all__ = [
    "AdminConfigError",
    "AdminPage",
    "AdminRegistry",
    "FilterSpec",
    "Group",
    "ModelView",
    "Panel",
    "QueryFilter",
    "registry_of",
]
