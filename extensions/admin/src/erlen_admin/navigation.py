"""The admin's sidebar: the sections the user may open, worked out in Python for every admin page.

The sidebar is on every admin page. In the template, each section cost a permission
check through flask-login's ``current_user`` proxy (itself several look-ups per
attribute), a ``url_for`` and a ``request.path`` read; here the user and the path are
read once, and the links of all model lists come from one ``url_for``: a model view's
slug is letters, digits, ``-`` and ``_`` (checked by :class:`ModelView`), which a URL
carries as they are. Pages (few, and their slugs are not checked) each get their own.
"""

from __future__ import annotations

import typing as t

from flask import request, url_for
from flask_login import current_user

from .views.registry import registry_of

#: Stands for a slug while the pattern of the sections' links is built.
_SLUG_MARKER = "erlen-admin-slug"


class NavLink(t.NamedTuple):
    """A link of the sidebar.

    :param href: its URL.
    :param text: its text.
    :param current: whether it is the current page's section (``aria-current="page"``).
    """

    href: str
    text: str
    current: bool


class NavGroup(t.NamedTuple):
    """The sidebar's links of one plugin.

    :param title: the group's heading, its plugin's title (``erlen_admin.plugin_title``).
    :param links: the links, models first, then pages.
    """

    title: str
    links: list[NavLink]


def admin_nav() -> list[NavGroup]:
    """The sidebar's groups for the current request's user: the model lists and pages they may open.

    Groups the user may open nothing of are left out. Available in templates as ``admin_nav()``.
    """
    user = current_user._get_current_object()
    path = request.path
    registry = registry_of()
    before = after = ""
    if registry.models:
        before, _, after = url_for("admin.list", slug=_SLUG_MARKER).partition(_SLUG_MARKER)
    groups = []
    for group in registry.groups:
        hrefs = [(f"{before}{v.slug}{after}", v.heading) for v in group.models if v.allows(user, "view")]
        hrefs += [(url_for("admin.page", slug=p.slug), p.title) for p in group.pages if p.allowed(user)]
        if hrefs:
            groups.append(NavGroup(group.title, [NavLink(href, text, path.startswith(href)) for href, text in hrefs]))
    return groups
