"""The registry: extension hook specifications and calling hooks per plugin."""

from __future__ import annotations

import pytest

import erlen

SHOP = """
import erlen
from . import specs

PLUGIN = erlen.Plugin(name="shop")

@erlen.hookimpl
def erlen_hookspecs():
    return [specs]

@erlen.hookimpl
def erlen_init_app(app):
    registry = erlen.plugins_of(app)
    app.extensions["shop"] = {
        plugin.name: products for plugin, products in registry.call_each("erlen_shop_products", app=app)
    }
"""

SPECS = '''
import erlen

@erlen.hookspec
def erlen_shop_products(app):
    """Return the products a plugin sells."""
'''


@pytest.fixture
def shop(plugins) -> str:
    plugins.module("shop.specs", SPECS)
    plugins.module("shop.plugin", SHOP)
    return "shop.plugin"


def test_extension_hooks_let_plugins_extend_extensions(shop, noop_plugin) -> None:
    books = noop_plugin(
        "books",
        requires=("shop",),
        body="@erlen.hookimpl\ndef erlen_shop_products(app):\n    return ['novel']\n",
    )
    toys = noop_plugin(
        "toys", requires=("shop",), body="@erlen.hookimpl\ndef erlen_shop_products():\n    return ['kite']\n"
    )
    app = erlen.create_app(__name__, {"PLUGINS": [shop, toys, books]}, environ={})
    assert app.extensions["shop"] == {"toys": ["kite"], "books": ["novel"]}
    registry = erlen.plugins_of(app)
    assert registry.hook.erlen_shop_products(app=app) == [["kite"], ["novel"]]
    assert registry.implements("erlen_shop_products")
    assert not registry.implements("erlen_before_request")
    assert registry.hooks_of("shop") == ["erlen_hookspecs", "erlen_init_app"]


def test_extension_hooks_are_validated_too(shop, noop_plugin) -> None:
    bad = noop_plugin("bad", body="@erlen.hookimpl\ndef erlen_shop_products(app, currency):\n    return []\n")
    with pytest.raises(erlen.HookImplementationError, match=r"takes 'currency', which hook 'erlen_shop_products'"):
        erlen.create_app(__name__, {"PLUGINS": [shop, bad]}, environ={})


def test_redefining_an_existing_hook_is_refused(noop_plugin, plugins) -> None:
    plugins.module("clash_specs", "import erlen\n@erlen.hookspec\ndef erlen_init_app(app):\n    ''''''\n")
    plugin = noop_plugin(
        "clash", body="import clash_specs\n@erlen.hookimpl\ndef erlen_hookspecs():\n    return [clash_specs]\n"
    )
    with pytest.raises(erlen.PluginError, match=r"Plugin 'clash' adds hook specifications that already exist"):
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})


def test_registry_lookup(noop_plugin) -> None:
    blog = noop_plugin("blog")
    registry = erlen.plugins_of(erlen.create_app(__name__, {"PLUGINS": [blog]}, environ={}))
    assert "blog" in registry and "nope" not in registry
    assert len(registry) == 2
    assert [p.name for p in registry] == ["erlen", "blog"]
    assert registry.get("nope") is None
    core = registry.get("erlen")
    assert core is not None and core.builtin and core.version == erlen.__version__


def test_notify_calls_every_plugin_and_reports_failures(noop_plugin, caplog: pytest.LogCaptureFixture) -> None:
    body = """
    calls = []
    @erlen.hookimpl
    def erlen_teardown_request(exception):
        calls.append(exception)
        if PLUGIN.name == "failing":
            raise RuntimeError("audit log unreachable")
    """
    failing, after = noop_plugin("failing", body=body), noop_plugin("after", body=body)
    registry = erlen.plugins_of(erlen.create_app(__name__, {"PLUGINS": [failing, after]}, environ={}))
    marker = ValueError("the request failed")
    failures = registry.notify("erlen_teardown_request", exception=marker)
    assert [(plugin.name, str(exc)) for plugin, exc in failures] == [("failing", "audit log unreachable")]
    import sys

    assert sys.modules[after].calls == [marker]
    assert "Plugin 'failing' failed in erlen_teardown_request; the other plugins were still called" in caplog.text


def test_hookspecs_hook_returning_one_module_names_the_plugin(noop_plugin, plugins) -> None:
    plugins.module("lone_specs", "import erlen\n@erlen.hookspec\ndef erlen_lone_thing():\n    ''''''\n")
    plugin = noop_plugin(
        "lone", body="import lone_specs\n@erlen.hookimpl\ndef erlen_hookspecs():\n    return lone_specs\n"
    )
    with pytest.raises(
        erlen.PluginError, match=r"Plugin 'lone': erlen_hookspecs returned module; it must return a list"
    ):
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})


def test_an_optional_hook_of_a_plugin_loading_later_is_called(shop, noop_plugin, plugins) -> None:
    # erlen-db implements erlen-ops' erlen_health_checks without depending on erlen-ops: the
    # implementation sits in a module of its own, imported into the plugin module, marked
    # optionalhook, and the plugin that adds the specification loads after it (or not at all).
    plugins.module(
        "cart_health",
        "import erlen\n@erlen.hookimpl(optionalhook=True)\ndef erlen_shop_products(app):\n    return ['cart']\n",
    )
    body = "from cart_health import erlen_shop_products\n"
    cart = noop_plugin("cart", body=body)
    app = erlen.create_app(__name__, {"PLUGINS": [cart, shop]}, environ={})
    registry = erlen.plugins_of(app)
    assert registry.names() == ["erlen", "cart", "shop"]
    assert app.extensions["shop"] == {"cart": ["cart"]}
    alone = erlen.plugins_of(erlen.create_app(__name__, {"PLUGINS": [cart]}, environ={}))
    assert alone.hooks_of("cart") == ["erlen_shop_products"]


def test_wrap_implementations_sees_each_plugin_call(shop, noop_plugin) -> None:
    books = noop_plugin("books", body="@erlen.hookimpl\ndef erlen_shop_products(app):\n    return ['novel']\n")
    app = erlen.create_app(__name__, {"PLUGINS": [shop, books]}, environ={})
    registry = erlen.plugins_of(app)
    seen: list[tuple[str, str, tuple[object, ...]]] = []

    def wrap(function, hook, plugin):
        def wrapped(*args):
            seen.append((hook, plugin, args))
            return function(*args)

        return wrapped

    assert registry.wrap_implementations(wrap) >= 2
    assert registry.hook.erlen_shop_products(app=app) == [["novel"]]
    assert [(plugin.name, result) for plugin, result in registry.call_each("erlen_shop_products", app=app)] == [
        ("books", ["novel"])
    ]
    assert seen == [("erlen_shop_products", "books", (app,))] * 2
