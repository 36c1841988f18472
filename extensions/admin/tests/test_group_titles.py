"""Each plugin's group on the dashboard and in the sidebar is headed by the plugin's title: the ``title`` its
``erlen.Plugin`` declares, else its name made a word."""

from __future__ import annotations

import re

import pytest
from conftest import PLUGINS

import erlen
from erlen_admin import plugin_title, registry_of


@pytest.fixture
def erlen_plugins() -> list[str]:
    return [*PLUGINS, "admin_sample.blog_posts"]


def dashboard_headings(html: str) -> list[str]:
    return re.findall(r'<h2 id="group-\d+">([^<]*)</h2>', html)


def sidebar_headings(html: str) -> list[str]:
    return re.findall(r'<h2 class="nav-group">([^<]*)</h2>', html)


def test_a_plugin_s_declared_title_heads_its_group_on_the_dashboard_and_in_the_sidebar(admin_client):
    """A third-party plugin named 'blog' says title="Blog posts"; erlen-auth says "Accounts". Before, every group
    was headed by its plugin's name made a word: "Blog", "Auth"."""
    dashboard = admin_client.get("/admin/").text
    expected = ["Accounts", "Admin", "Library", "Blog posts"]
    assert dashboard_headings(dashboard) == expected
    assert sidebar_headings(dashboard) == expected
    # The sidebar of any admin page, here the plugin's own.
    drafts = admin_client.get("/admin/p/drafts").text
    assert "<h1>Drafts</h1>" in drafts and sidebar_headings(drafts) == expected


def test_plugin_title_reads_the_core_s_title_of_the_current_app_or_a_given_one(app):
    assert [group.plugin for group in registry_of(app).groups] == ["auth", "admin", "library", "blog"]
    assert plugin_title("blog", app) == "Blog posts" == erlen.plugins_of(app).title_of("blog")
    assert plugin_title("auth", app) == "Accounts"
    assert plugin_title("library", app) == "Library"  # declares no title: its name made a word
    # A name no enabled plugin has, such as "app" (the owner of erlen-auth's AUTH_PERMISSIONS), is made a word too.
    assert plugin_title("my_notes", app) == "My notes"
    with app.app_context():
        assert plugin_title("blog") == "Blog posts"
