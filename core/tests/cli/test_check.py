"""``erlen check``: system checks of every plugin, with ``--deploy`` for production."""

from __future__ import annotations

import logging

import erlen
from erlen.checks import Level, run_checks

STRONG_SECRET = "q3J9v-Xw2LkPz8RtYb7NcFmD4sHgUe6A"


def test_no_problems(make_app) -> None:
    result = make_app().test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0
    assert result.output == "System check found no problems.\n"


def test_deploy_flags_missing_secret_and_debug() -> None:
    app = erlen.create_app(__name__, {"DEBUG": True}, environ={})
    result = app.test_cli_runner().invoke(args=["check", "--deploy"])
    assert result.exit_code == 1
    assert "ERROR erlen.E001 [erlen] SECRET_KEY is not set" in result.output
    assert "ERROR erlen.E003 [erlen] Debug mode is on" in result.output
    assert "secrets.token_urlsafe" in result.output
    assert "WARNING erlen.W003 [erlen] SECURITY_HEADERS is empty" in result.output
    assert result.output.endswith("System check found 2 errors and 1 warning.\n")


def test_deploy_flags_weak_secrets() -> None:
    for weak in ("dev", "a" * 40, "short-but-random-x7", "hello-example-development-key-change-me"):
        app = erlen.create_app(__name__, {"SECRET_KEY": weak}, environ={})
        ids = [m.id for m in run_checks(app, deploy=True)]
        assert ids == ["erlen.E002", "erlen.W003", "erlen.I001"], weak


def test_deploy_passes_with_a_strong_secret() -> None:
    app = erlen.create_app(__name__, {"SECRET_KEY": STRONG_SECRET}, environ={})
    result = app.test_cli_runner().invoke(args=["check", "--deploy"])
    assert result.exit_code == 0, result.output


def test_plugin_checks_are_attributed_and_sorted(noop_plugin) -> None:
    plugin = noop_plugin(
        "shop",
        body="""
        from erlen.checks import info, warning
        @erlen.hookimpl
        def erlen_checks(app, deploy):
            return [
                info("shop.I001", "Using the demo catalogue."),
                warning("shop.W001", "No currency set.", "Set SHOP_CURRENCY."),
            ]
        """,
    )
    app = erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    messages = run_checks(app)
    assert [(m.level, m.plugin, m.id) for m in messages] == [
        (Level.WARNING, "shop", "shop.W001"),
        (Level.INFO, "shop", "shop.I001"),
    ]
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0
    assert "WARNING shop.W001 [shop] No currency set.\n    hint: Set SHOP_CURRENCY." in result.output
    assert result.output.endswith("System check found 0 errors and 1 warning.\n")


def test_a_crashing_check_is_reported_not_raised(noop_plugin) -> None:
    plugin = noop_plugin("flaky", body="@erlen.hookimpl\ndef erlen_checks():\n    raise OSError('disk gone')\n")
    app = erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1
    assert "ERROR erlen.E000 [flaky] The system check of plugin 'flaky' failed: OSError: disk gone" in result.output


def test_a_check_returning_one_message_instead_of_a_list_says_so(noop_plugin) -> None:
    plugin = noop_plugin(
        "shop",
        body="""
        from erlen.checks import warning
        @erlen.hookimpl
        def erlen_checks():
            return warning("shop.W001", "No currency set.")
        """,
    )
    app = erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    (message,) = run_checks(app)
    assert (message.level, message.plugin, message.id) == (Level.ERROR, "shop", "erlen.E000")
    # Was "failed: TypeError: 'CheckMessage' object is not iterable".
    assert message.message == (
        "The system check of plugin 'shop' failed: PluginError: Plugin 'shop': erlen_checks returned CheckMessage; "
        "it must return a list of CheckMessage objects. Wrap a single one in a list."
    )


def test_misspelt_plugin_setting_is_reported(noop_plugin, tmp_path) -> None:
    plugin = noop_plugin(
        "shop",
        body='@erlen.hookimpl\ndef erlen_settings():\n    return [erlen.Setting("CURRENCY", default="EUR")]\n',
    )
    config = tmp_path / "erlen.toml"
    config.write_text(f'plugins = ["{plugin}"]\nsite_name = "Shop"\n[shop]\ncurency = "USD"\n')
    environ = {"ERLEN_SHOP_COLOUR": "red", "ERLEN_SESSION_COOKIE_SECURE": "true"}
    app = erlen.create_app(__name__, config, environ=environ)
    # The typo is otherwise silently ignored and the app runs on the default.
    assert app.config["SHOP_CURRENCY"] == "EUR"
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0
    assert (
        "WARNING erlen.W002 [erlen] SHOP_CURENCY (from erlen.toml [shop] curency) is not a setting of plugin 'shop', "
        "so it has no effect.\n    hint: Did you mean SHOP_CURRENCY? Plugin 'shop' declares: SHOP_CURRENCY.\n"
    ) in result.output
    assert (
        "SHOP_COLOUR (from environment variable ERLEN_SHOP_COLOUR) is not a setting of plugin 'shop'" in result.output
    )
    # Keys outside any plugin's namespace, and Flask's own, are not flagged.
    assert "SITE_NAME" not in result.output and "SESSION_COOKIE_SECURE" not in result.output
    assert result.output.endswith("System check found 0 errors and 2 warnings.\n")


def test_misspelt_settings_and_tables_are_logged_at_startup(noop_plugin, tmp_path, caplog) -> None:
    plugin = noop_plugin(
        "bookings",
        body='@erlen.hookimpl\ndef erlen_settings():\n    return [erlen.Setting("ROOMS", default=1)]\n',
    )
    config = tmp_path / "erlen.toml"
    config.write_text(
        f'plugins = ["{plugin}"]\n[booking]\nrooms = 4\n[bookings]\nromos = 5\n[analytics]\nsite_id = "x"\n'
    )
    with caplog.at_level(logging.WARNING, logger="erlen.config"):
        app = erlen.create_app(__name__, config, environ={})
    assert app.config["BOOKINGS_ROOMS"] == 1
    warnings = [record.getMessage() for record in caplog.records if record.name == "erlen.config"]
    assert warnings == [
        "BOOKINGS_ROMOS (from erlen.toml [bookings] romos) is not a setting of plugin 'bookings', so it has no "
        "effect. Did you mean BOOKINGS_ROOMS? Plugin 'bookings' declares: BOOKINGS_ROOMS.",
        "BOOKING_ROOMS (from erlen.toml [booking] rooms) has no effect: the table [booking] of erlen.toml "
        "configures no enabled plugin. Did you mean [bookings]? The enabled plugins' tables: [bookings].",
    ]
    # erlen check says the same.
    output = app.test_cli_runner().invoke(args=["check"]).output
    assert "WARNING erlen.W002 [erlen] BOOKING_ROOMS (from erlen.toml [booking] rooms) has no effect" in output
    assert "ANALYTICS_SITE_ID" not in output  # a table close to no plugin's may be the app's own


def test_two_plugins_with_one_title_are_reported(noop_plugin) -> None:
    """Two plugins the admin would head alike (titles equal but for case) are named, with what to set."""
    posts = noop_plugin("posts", title="Blog")
    blog = noop_plugin("blog")  # no title: its name made a word, "Blog"
    shop = noop_plugin("shop", title="Shop")
    app = erlen.create_app(__name__, {"PLUGINS": [posts, blog, shop]}, environ={})
    (message,) = [m for m in run_checks(app) if m.id == "erlen.W005"]
    assert (message.level, message.plugin) == (Level.WARNING, "erlen")
    assert message.message.startswith("The plugins 'posts' and 'blog' have the same title, 'Blog': ")
    assert message.hint.startswith("Set title= on one of them, in its erlen.Plugin(...) declaration")
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0
    assert "WARNING erlen.W005 [erlen] The plugins 'posts' and 'blog' have the same title" in result.output


def test_titles_alike_but_for_case_are_reported_and_distinct_ones_are_not(noop_plugin) -> None:
    shouting = noop_plugin("shouting", title="MY BLOG")
    whispering = noop_plugin("whispering", title="my blog")
    app = erlen.create_app(__name__, {"PLUGINS": [shouting, whispering]}, environ={})
    (message,) = [m for m in run_checks(app) if m.id == "erlen.W005"]
    assert "'shouting' and 'whispering' have the same title but for case ('MY BLOG', 'my blog')" in message.message
    app = erlen.create_app(__name__, {"PLUGINS": [noop_plugin("blog"), noop_plugin("shop")]}, environ={})
    assert [m.id for m in run_checks(app)] == []
