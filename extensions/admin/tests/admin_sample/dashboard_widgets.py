"""A plugin adding dashboard widgets: one listing the newest authors, one whose function fails."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="boxes", requires=["auth", "admin", "library"])


def newest_authors() -> str:
    import sqlalchemy as sa
    from flask import render_template_string

    from admin_sample.library import Author
    from erlen_db import session

    authors = session.scalars(sa.select(Author).order_by(Author.id.desc()).limit(3))
    return render_template_string(
        '<ul class="newest">{% for a in authors %}<li>{{ a.name }}</li>{% endfor %}</ul>', authors=authors
    )


def broken() -> str:
    raise RuntimeError("the widget's bug")


@erlen.hookimpl
def erlen_admin_widgets() -> list[t.Any]:
    from erlen_admin import Widget

    return [
        Widget("Newest authors", newest_authors),
        Widget("Broken", broken),
        Widget("Secret", newest_authors, permission="boxes.secret"),
    ]


@erlen.hookimpl
def erlen_auth_permissions() -> dict[str, str]:
    return {"boxes.secret": "See the secret box"}
