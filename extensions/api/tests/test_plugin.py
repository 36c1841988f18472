"""The plugin: its hooks, settings and what it needs of the app."""

from __future__ import annotations

import typing as t

import pytest

import erlen
from erlen.testing import assert_valid_plugin
from erlen_api import Api, hookspecs, plugin


def test_the_plugin_is_valid() -> None:
    assert_valid_plugin(plugin, hookspec_modules=[hookspecs], name="api")


def test_settings(make_app: t.Any) -> None:
    app = make_app(["api"])
    assert app.config["API_URL_PREFIX"] == "/api"
    assert app.config["API_TITLE"] == "API"
    with pytest.raises(erlen.SettingError, match="API_URL_PREFIX"):
        make_app(["api"], {"API_URL_PREFIX": "api/"})


def test_an_api_on_an_app_without_the_plugin(make_app: t.Any) -> None:
    app = make_app([])
    with pytest.raises(erlen.PluginNotEnabledError, match="'api'"):
        app.register_blueprint(Api("lonely", __name__))


def test_endpoints_that_need_a_user_need_a_way_to_authenticate(make_app: t.Any) -> None:
    guarded = Api("guarded", __name__)

    @guarded.get("/secret", login_required=True)
    def secret() -> str:
        return "s"

    from erlen_api import ApiDeclarationError

    with pytest.raises(ApiDeclarationError, match="enable the 'auth' plugin"):
        make_app(["api"]).register_blueprint(guarded)


def test_which_paths_the_prefixes_cover() -> None:
    from erlen_api.state import ApiState

    state = ApiState()
    state.add_prefix("/api")
    state.add_prefix("api/v2/")
    covered = ["/api", "/api/", "/api/v1/items/3", "/api/v2", "/api/v2/x"]
    assert [path for path in [*covered, "/apix", "/ap", "/other", "/"] if state.covers(path)] == covered
    # The prefixes are a public list: a change made to it directly counts too, and "/" covers every path.
    state.prefixes.append("/")
    assert state.covers("/other") and state.covers("/")
    state.prefixes.remove("/")
    assert not state.covers("/other")
