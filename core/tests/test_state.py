from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

import erlen

COUNTER = """
@erlen.hookimpl
def erlen_init_app(app):
    app.extensions["counter"] = {"calls": 0}
"""


def test_extension_state_is_what_the_plugin_set_up_on_that_app(noop_plugin: Callable[..., str]) -> None:
    counter = noop_plugin("counter", body=COUNTER)
    first = erlen.create_app(__name__, {"PLUGINS": [counter]}, environ={})
    second = erlen.create_app(__name__, {"PLUGINS": [counter]}, environ={})
    assert erlen.extension_state("counter", first) is first.extensions["counter"]
    assert erlen.extension_state("counter", first) is not erlen.extension_state("counter", second)
    with second.app_context():
        assert erlen.extension_state("counter") is second.extensions["counter"]


def test_a_plugin_that_is_not_enabled_is_named_with_where_to_enable_it() -> None:
    app = erlen.create_app("shop", {"PLUGINS": []}, environ={})
    with pytest.raises(erlen.PluginNotEnabledError) as caught:
        erlen.extension_state("counter", app)
    assert str(caught.value) == (
        "The app 'shop' does not enable the plugin 'counter': add 'counter' to PLUGINS, which this app takes from "
        "the config mapping passed to create_app."
    )
    assert caught.value.plugin == "counter"
    # One type for every plugin's lookup, caught as a plugin error, a configuration error or a failed lookup.
    assert isinstance(caught.value, erlen.PluginError)
    assert isinstance(caught.value, erlen.ConfigError)
    assert isinstance(caught.value, LookupError)


def test_the_message_says_where_plugins_come_from(tmp_path: Path) -> None:
    from_environment = erlen.create_app("shop", environ={"ERLEN_PLUGINS": "[]"})
    with pytest.raises(erlen.PluginNotEnabledError, match=r"PLUGINS, which this app takes from environment variable "):
        erlen.extension_state("counter", from_environment)
    (tmp_path / "erlen.toml").write_text("PLUGINS = []\n")
    from_file = erlen.create_app("shop", "erlen.toml", environ={}, root_path=str(tmp_path))
    with pytest.raises(erlen.PluginNotEnabledError, match=r"PLUGINS, which this app takes from erlen\.toml"):
        erlen.extension_state("counter", from_file)
    nowhere = erlen.create_app("shop", environ={})
    with pytest.raises(erlen.PluginNotEnabledError) as caught:
        erlen.extension_state("counter", nowhere)
    assert str(caught.value).endswith(
        ": add 'counter' to PLUGINS in erlen.toml, or to the ERLEN_PLUGINS environment variable."
    )


def test_the_plugin_named_can_differ_from_the_key(plugins) -> None:
    plugins.module("shop_plugin", "import erlen\nPLUGIN = erlen.Plugin(name='shop')\n")
    plugins.distribution("erlen-shop", plugins={"shop": "shop_plugin"})
    app = erlen.create_app("store", {"PLUGINS": []}, environ={})
    with pytest.raises(erlen.PluginNotEnabledError) as caught:
        erlen.extension_state("shop.carts", app, plugin="shop")
    assert caught.value.plugin == "shop"
    assert "does not enable the plugin 'shop' (the erlen-shop distribution): add 'shop' to PLUGINS" in str(caught.value)


def test_state_asked_for_before_its_plugin_set_it_up_says_to_load_after_it(noop_plugin: Callable[..., str]) -> None:
    counter = noop_plugin("counter", body=COUNTER)
    early = noop_plugin(
        "early",
        body="""
        @erlen.hookimpl
        def erlen_init_app(app):
            erlen.extension_state("counter", app)
        """,
    )
    with pytest.raises(erlen.PluginNotEnabledError) as caught:
        erlen.create_app("shop", {"PLUGINS": [early, counter]}, environ={})
    assert "The plugin 'counter' is enabled on the app 'shop' but has not set up its state yet" in str(caught.value)
    assert "declare requires=['counter'] (or integrates_with)" in str(caught.value)
    # Loading after it is the fix the message gives.
    late = noop_plugin(
        "late",
        requires=("counter",),
        body="""
        @erlen.hookimpl
        def erlen_init_app(app):
            app.extensions["late"] = erlen.extension_state("counter", app)
        """,
    )
    app = erlen.create_app("shop", {"PLUGINS": [late, counter]}, environ={})
    assert erlen.extension_state("late", app) is app.extensions["counter"]


def test_a_flask_app_without_erlen_is_told_how_to_get_plugins() -> None:
    with pytest.raises(erlen.PluginNotEnabledError, match=r"'plain' was not created by Erlen.*erlen\.create_app\(\)"):
        erlen.extension_state("counter", Flask("plain"))
