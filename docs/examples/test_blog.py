import pytest

import erlen
from erlen.testing import assert_valid_plugin
from myapp.plugins import blog


@pytest.fixture
def erlen_plugins():
    return ["myapp.plugins.blog"]


@pytest.fixture
def erlen_config():
    return {"BLOG_TITLE": "News"}


def test_index(client):
    response = client.get("/blog/")
    assert response.status_code == 200
    assert "NEWS!" in response.text


def test_settings_from_the_environment(make_app):
    app = make_app(["myapp.plugins.blog"], environ={"ERLEN_BLOG_PAGE_SIZE": "5"})
    assert app.config["BLOG_PAGE_SIZE"] == 5


def test_invalid_page_size(make_app):
    with pytest.raises(erlen.SettingError, match="must be at least 1"):
        make_app(["myapp.plugins.blog"], {"BLOG_PAGE_SIZE": 0})


def test_command(cli_runner):
    result = cli_runner.invoke(args=["blog", "info"])
    assert result.output == "News: 20 posts per page\n"


def test_hook_implementations():
    assert_valid_plugin(blog)
