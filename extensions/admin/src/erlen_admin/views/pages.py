"""Custom admin pages."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass
class AdminPage:
    """A page of the admin that is not a model view: statistics, a tool, a report.

    ``view`` is called like a Flask view (with no arguments) for ``GET`` and
    ``POST`` at ``/admin/p/<slug>``, after the admin's access check. Render a
    template that extends ``admin/base.html`` to get the admin's layout::

        def stats() -> str:
            return render_template("blog/admin_stats.html", posts=...)

        AdminPage("Statistics", stats, permission="blog.stats")

    :param title: the page's title in the navigation.
    :param view: the function that answers the page.
    :param slug: the URL part; derived from ``title`` by default.
    :param permission: a permission needed on top of ``admin.access`` (declared by its plugin).
    """

    title: str
    view: Callable[[], t.Any]
    slug: str = ""
    permission: str | None = None
    #: The plugin that registered the page; set by the registry.
    plugin: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if not self.slug:
            self.slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")
        if not _SLUG.match(self.slug):
            raise ValueError(
                f"Admin page {self.title!r}: slug {self.slug!r} must be lower-case letters, digits, - or _."
            )

    def allowed(self, user: t.Any) -> bool:
        """Whether ``user`` (who may enter the admin) may open the page."""
        return self.permission is None or bool(user.can(self.permission))
