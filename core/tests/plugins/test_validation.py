"""Hook implementations are checked against the specifications at startup."""

from __future__ import annotations

import pytest

import erlen
from erlen.testing import assert_valid_plugin, validate_plugin


def test_misspelt_hook_is_refused_with_a_suggestion(noop_plugin) -> None:
    plugin = noop_plugin("typo", body="@erlen.hookimpl\ndef erlen_int_app(app):\n    pass\n")
    with pytest.raises(erlen.HookImplementationError) as caught:
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    message = str(caught.value)
    assert "Plugin 'typo' implements hook 'erlen_int_app', which no hook specification defines." in message
    assert "Did you mean 'erlen_init_app'?" in message
    assert "optionalhook=True" in message


def test_a_hook_of_a_plugin_not_enabled_gets_no_unrelated_suggestion(noop_plugin) -> None:
    """It suggested 'erlen_template_globals' for erlen-migrate's hook: every hook name shares 'erlen_'."""
    body = "@erlen.hookimpl\ndef erlen_migrate_locations():\n    return 'migrations'\n"
    plugin = noop_plugin("nomigrate", body=body)
    with pytest.raises(erlen.HookImplementationError) as caught:
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    message = str(caught.value)
    assert "Did you mean" not in message
    assert "If the hook belongs to a plugin that may not be enabled" in message


def test_wrong_argument_name_is_refused(noop_plugin) -> None:
    plugin = noop_plugin("args", body="@erlen.hookimpl\ndef erlen_init_app(application):\n    pass\n")
    with pytest.raises(erlen.HookImplementationError) as caught:
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    assert str(caught.value) == (
        "Plugin 'args': erlen_init_app(application) takes 'application', which hook 'erlen_init_app' "
        "does not provide. Rename the argument: the hook provides app."
    )


def test_hook_function_without_the_marker_is_refused(noop_plugin) -> None:
    plugin = noop_plugin("nomark", body="def erlen_init_app(app):\n    pass\n")
    with pytest.raises(erlen.HookImplementationError, match=r"defines erlen_init_app\(\) without @erlen.hookimpl"):
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})


def test_optional_hook_of_a_disabled_plugin_is_accepted(noop_plugin) -> None:
    plugin = noop_plugin("opt", body="@erlen.hookimpl(optionalhook=True)\ndef erlen_admin_views():\n    return []\n")
    app = erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    assert erlen.plugins_of(app).hooks_of("opt") == ["erlen_admin_views"]


def test_a_subset_of_arguments_is_fine(noop_plugin) -> None:
    plugin = noop_plugin("subset", body="@erlen.hookimpl\ndef erlen_checks(deploy):\n    return []\n")
    erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})


def test_validate_plugin_helper_reports_every_problem(plugins) -> None:
    plugins.module(
        "several_problems",
        """
        import erlen
        @erlen.hookimpl
        def erlen_int_app(app): ...
        @erlen.hookimpl
        def erlen_checks(app, deploy, verbose): ...
        def erlen_settings(): ...
        """,
    )
    import several_problems

    problems = validate_plugin(several_problems, name="several")
    assert len(problems) == 3
    assert any("'verbose'" in p for p in problems)
    with pytest.raises(AssertionError, match="erlen_int_app"):
        assert_valid_plugin(several_problems)


def test_validate_plugin_accepts_extension_hooks(plugins) -> None:
    plugins.module(
        "shop_specs",
        "import erlen\n@erlen.hookspec\ndef erlen_shop_products(app):\n    '''Return products.'''\n",
    )
    plugins.module("shop_user", "import erlen\n@erlen.hookimpl\ndef erlen_shop_products(app):\n    return []\n")
    import shop_specs
    import shop_user

    assert validate_plugin(shop_user) != []
    assert validate_plugin(shop_user, hookspec_modules=[shop_specs]) == []


def test_wrapper_on_a_hook_called_plugin_by_plugin_is_refused(noop_plugin) -> None:
    plugin = noop_plugin(
        "wrapping",
        body="@erlen.hookimpl(wrapper=True)\ndef erlen_init_app(app):\n    return (yield)\n",
    )
    with pytest.raises(erlen.HookImplementationError, match=r"erlen_init_app is called plugin by plugin"):
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})


def test_wrapper_on_a_per_request_hook_works(noop_plugin) -> None:
    plugin = noop_plugin(
        "around",
        body="""
        @erlen.hookimpl(wrapper=True)
        def erlen_after_request(response):
            result = yield
            response.headers["X-Wrapped"] = "yes"
            return result
        """,
    )
    app = erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    app.add_url_rule("/", "index", lambda: "ok")
    assert app.test_client().get("/").headers["X-Wrapped"] == "yes"
