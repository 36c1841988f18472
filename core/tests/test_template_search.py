"""A template no folder holds: the error names the folders searched, the plugins that gave them, and the hook."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import render_template
from jinja2 import TemplateNotFound

import erlen


def test_a_missing_template_says_where_it_was_searched_and_how_a_plugin_ships_templates(
    noop_plugin, tmp_path: Path
) -> None:
    """A plugin that forgot erlen_template_folders got Jinja's bare "TemplateNotFound: bookclub/index.html"."""
    folder = tmp_path / "base_templates"
    (folder / "base").mkdir(parents=True)
    (folder / "base" / "page.html").write_text("base page {% include 'base/part.html' %}")
    base = noop_plugin("base", body=f"@erlen.hookimpl\ndef erlen_template_folders():\n    return [{str(folder)!r}]\n")
    bookclub = noop_plugin("bookclub")
    app = erlen.create_app(__name__, {"PLUGINS": [base, bookclub]}, environ={}, root_path=str(tmp_path))
    with app.test_request_context(), pytest.raises(TemplateNotFound) as missing:
        render_template("bookclub/index.html")
    message = str(missing.value)
    assert missing.value.name == "bookclub/index.html"
    assert message.startswith("Template 'bookclub/index.html' not found. Searched the app's templates folder (")
    assert f"the folder of plugin 'base' ({folder})" in message
    assert "returning their folder from the erlen_template_folders hook" in message
    with app.test_request_context(), pytest.raises(TemplateNotFound) as included:
        render_template("base/page.html")  # found; what it includes is not
    assert included.value.name == "base/part.html"
    assert str(included.value).startswith("Template 'base/part.html' not found. Searched")


def test_found_templates_and_their_listing_are_as_before(noop_plugin, tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "page.html").write_text("app page")
    app = erlen.create_app(__name__, {"PLUGINS": []}, environ={}, root_path=str(tmp_path))
    with app.test_request_context():
        assert render_template("page.html") == "app page"
    assert "page.html" in app.jinja_env.list_templates()
