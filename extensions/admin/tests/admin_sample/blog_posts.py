"""A third-party plugin that declares its title: the admin heads its group "Blog posts", not "Blog"."""

from __future__ import annotations

import typing as t

import erlen

PLUGIN = erlen.Plugin(name="blog", requires=["admin"], title="Blog posts")


def drafts() -> str:
    from flask import render_template_string

    return render_template_string('{% extends "admin/base.html" %}{% block content %}<h1>Drafts</h1>{% endblock %}')


@erlen.hookimpl
def erlen_admin_views() -> list[t.Any]:
    from erlen_admin import AdminPage

    return [AdminPage("Drafts", drafts)]
