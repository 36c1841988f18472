"""erlen-admin: an admin interface for Erlen apps, as the plugin ``admin``.

Model classes are defined only when the plugin is enabled: import
:class:`AuditEntry` from :mod:`erlen_admin.models` inside an app that enables it.
"""

from __future__ import annotations

from .actions import DELETE_SELECTED, Action
from .counting import estimate, exact
from .object_actions import ActionOutcome, ActionRefused, ObjectAction
from .views import (
    AdminConfigError,
    AdminPage,
    AdminRegistry,
    FilterSpec,
    Group,
    ModelView,
    Panel,
    QueryFilter,
    registry_of,
)
from .widgets import Widget

__version__ = "0.1.0"

__all__ = [
    "DELETE_SELECTED",
    "Action",
    "ActionOutcome",
    "ActionRefused",
    "AdminConfigError",
    "AdminPage",
    "AdminRegistry",
    "FilterSpec",
    "Group",
    "ModelView",
    "ObjectAction",
    "Panel",
    "QueryFilter",
    "Widget",
    "estimate",
    "exact",
    "registry_of",
]
