"""``erlen plugins``: enabled and installed plugins with their hooks."""

from __future__ import annotations

import json

import erlen


def test_table_and_json_list_enabled_and_installed_plugins(plugins, noop_plugin) -> None:
    plugins.module(
        "erlen_shop",
        "import erlen\nPLUGIN = erlen.Plugin(description='A shop')\n"
        "@erlen.hookimpl\ndef erlen_init_app(app):\n    pass\n",
    )
    plugins.module("erlen_cart", "import erlen\nPLUGIN = erlen.Plugin(requires=['shop'], title='Shopping cart')\n")
    plugins.module("erlen_broken", "raise RuntimeError('boom')\n")
    plugins.distribution("erlen-shop", "1.2", plugins={"shop": "erlen_shop"})
    plugins.distribution("erlen-cart", "0.3", plugins={"cart": "erlen_cart"})
    plugins.distribution("erlen-broken", "0.1", plugins={"broken": "erlen_broken"})
    blog = noop_plugin("blog", requires=("shop",))
    app = erlen.create_app(__name__, {"PLUGINS": [blog, "shop"]}, environ={})
    runner = app.test_cli_runner()

    rows = json.loads(runner.invoke(args=["plugins", "--json"]).output)
    by_name = {row["name"]: row for row in rows}
    assert [row["name"] for row in rows][:3] == ["erlen", "shop", "blog"]
    assert by_name["shop"] | {"origin": ""} == {
        "name": "shop",
        "title": "Shop",
        "enabled": True,
        "version": "1.2",
        "distribution": "erlen-shop",
        "requires": [],
        "integrates_with": [],
        "hooks": ["erlen_init_app"],
        "origin": "",
        "description": "A shop",
    }
    assert by_name["blog"]["requires"] == ["shop"]
    assert by_name["blog"]["distribution"] is None
    assert by_name["cart"]["enabled"] is False and by_name["cart"]["version"] == "0.3"
    assert by_name["cart"]["title"] == "Shopping cart"  # declared by a plugin that is installed, not enabled
    assert by_name["broken"]["enabled"] is False and by_name["broken"]["title"] is None
    assert "failed to import: RuntimeError: boom" in by_name["broken"]["error"]
    assert "erlen_cli_commands" in by_name["erlen"]["hooks"]

    table = runner.invoke(args=["plugins"]).output.splitlines()
    assert table[0].split() == ["name", "title", "enabled", "version", "distribution", "requires", "hooks"]
    # The title column shows only a title that says more than the name: shop's, its name made a word, is "-".
    shop_line = next(line for line in table if line.startswith("shop "))
    assert shop_line.split()[:5] == ["shop", "-", "yes", "1.2", "erlen-shop"]
    cart_line = next(line for line in table if line.startswith("cart "))
    assert cart_line.split()[:5] == ["cart", "Shopping", "cart", "no", "0.3"]
    # The columns line up: each title cell as wide as the longest.
    assert table[0].index("enabled") == shop_line.index("yes") == cart_line.index("no ")
