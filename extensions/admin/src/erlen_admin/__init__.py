"""erlen-admin: an admin interface for Erlen apps, as the plugin ``admin``.

Model classes are defined only when the plugin is enabled: import
:class:`AuditEntry` from :mod:`erlen_admin.models` inside an app that enables it.
"""

from __future__ import annotations

import typing as t

import erlen

if t.TYPE_CHECKING:
    from .actions import DELETE_SELECTED, Action
    from .audit import stored_time
    from .counting import estimate, exact
    from .object_actions import ActionOutcome, ActionRefused, ObjectAction
    from .statement_guard import StatementRefused
    from .timestamps import time_tag
    from .views import (
        AdminConfigError,
        AdminPage,
        AdminRegistry,
        FilterSpec,
        Group,
        ModelView,
        Panel,
        QueryFilter,
        plugin_title,
        registry_of,
    )
    from .widgets import Widget

__version__ = "0.1.0"

# Imported on first use: every process imports this package (the plugin module is in it), and `erlen --help`
# creates the app without SQLAlchemy, which the views, actions and counting import (see erlen.defer_setup).
__getattr__ = erlen.lazy_exports(
    __name__,
    {
        **dict.fromkeys(("DELETE_SELECTED", "Action"), "erlen_admin.actions"),
        **dict.fromkeys(("estimate", "exact"), "erlen_admin.counting"),
        **dict.fromkeys(("ActionOutcome", "ActionRefused", "ObjectAction"), "erlen_admin.object_actions"),
        **dict.fromkeys(("AdminConfigError", "FilterSpec", "ModelView"), "erlen_admin.views.model_view"),
        "AdminPage": "erlen_admin.views.pages",
        "Panel": "erlen_admin.views.panels",
        "QueryFilter": "erlen_admin.views.query_filters",
        "StatementRefused": "erlen_admin.statement_guard",
        "stored_time": "erlen_admin.audit",
        "time_tag": "erlen_admin.timestamps",
        **dict.fromkeys(("AdminRegistry", "Group", "plugin_title", "registry_of"), "erlen_admin.views.registry"),
        "Widget": "erlen_admin.widgets",
    },
)

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
    "StatementRefused",
    "Widget",
    "estimate",
    "exact",
    "plugin_title",
    "registry_of",
    "stored_time",
    "time_tag",
]
