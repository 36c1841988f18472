"""Dotted names (a role's permissions) written breakable after their separators, by the filter admin_breakable_name."""

from __future__ import annotations

from flask import Flask

from erlen_admin.names import breakable_name


def test_a_name_may_break_after_each_dot_and_underscore_and_nowhere_else() -> None:
    assert breakable_name("admin.notes_note.create") == "admin.<wbr>notes_<wbr>note.<wbr>create"
    assert breakable_name("notes-moderate") == "notes-moderate"  # a browser breaks after a hyphen already


def test_the_name_is_escaped_and_only_the_breaks_are_markup() -> None:
    assert breakable_name('x.<b title="a_b">') == "x.<wbr>&lt;b title=&#34;a_<wbr>b&#34;&gt;"


def test_templates_have_it_as_a_filter(app: Flask) -> None:
    template = app.jinja_env.from_string("<code>{{ name | admin_breakable_name }}</code>")
    assert template.render(name="auth.manage_users") == "<code>auth.<wbr>manage_<wbr>users</code>"
