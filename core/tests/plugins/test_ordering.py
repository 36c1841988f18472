"""Load order: requirements first, then config order, and the errors that stop it."""

from __future__ import annotations

import pytest

import erlen

RECORD = """
@erlen.hookimpl
def erlen_init_app(app):
    app.config.setdefault("INIT_ORDER", []).append(PLUGIN.name)
"""


def names(config: dict) -> list[str]:
    return erlen.plugins_of(erlen.create_app(__name__, config, environ={})).names()


def test_config_order_is_kept_without_requirements(noop_plugin) -> None:
    a, b, c = noop_plugin("a"), noop_plugin("b"), noop_plugin("c")
    assert names({"PLUGINS": [c, a, b]}) == ["erlen", "c", "a", "b"]


def test_requirements_load_first_and_hooks_run_in_load_order(noop_plugin) -> None:
    db = noop_plugin("db", body=RECORD)
    forms = noop_plugin("forms", body=RECORD)
    auth = noop_plugin("auth", requires=("db", "forms"), body=RECORD)
    app = erlen.create_app(__name__, {"PLUGINS": [auth, forms, db]}, environ={})
    assert erlen.plugins_of(app).names() == ["erlen", "db", "forms", "auth"]
    assert app.config["INIT_ORDER"] == ["db", "forms", "auth"]


def test_integrates_with_orders_only_when_present(noop_plugin) -> None:
    mail = noop_plugin("mail")
    auth = noop_plugin("auth", integrates_with=("mail", "admin"))
    assert names({"PLUGINS": [auth, mail]}) == ["erlen", "mail", "auth"]
    assert names({"PLUGINS": [auth]}) == ["erlen", "auth"]


def test_order_is_deterministic(noop_plugin) -> None:
    plugins = [noop_plugin(f"p{i}", requires=(f"p{i - 1}",) if i % 3 else ()) for i in range(12)]
    listed = list(reversed(plugins))
    assert len({tuple(names({"PLUGINS": listed})) for _ in range(5)}) == 1


def test_missing_requirement_says_what_to_add(noop_plugin) -> None:
    forms = noop_plugin("forms")
    auth = noop_plugin("auth", requires=("db", "forms"))
    with pytest.raises(erlen.MissingRequirementError) as caught:
        erlen.create_app(__name__, {"PLUGINS": [forms, auth]}, environ={})
    assert str(caught.value) == (
        "Plugin 'auth' requires 'db', which is not enabled. Add 'db' to PLUGINS "
        f"(from the config mapping passed to create_app): PLUGINS = ['{forms}', 'db', '{auth}'] "
        "(for a local plugin, use the dotted path of the module that declares that name)"
    )
    assert caught.value.plugin == "auth"


def test_cycle_is_shown(noop_plugin) -> None:
    a = noop_plugin("a", requires=("b",))
    b = noop_plugin("b", requires=("c",))
    c = noop_plugin("c", integrates_with=("a",))
    with pytest.raises(erlen.PluginCycleError) as caught:
        erlen.create_app(__name__, {"PLUGINS": [a, b, c]}, environ={})
    assert (
        "Plugins depend on each other in a cycle: 'a' requires 'b', 'b' requires 'c', 'c' integrates with 'a'."
        in str(caught.value)
    )
