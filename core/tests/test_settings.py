"""Typed plugin settings: defaults, conversion, validation and their error messages."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

import erlen
from erlen.settings import Setting, convert, describe_type

SETTINGS_PLUGIN = """
import typing as t
from pathlib import Path

@erlen.hookimpl
def erlen_settings():
    return [
        erlen.Setting("PAGE_SIZE", int, default=20, help="Posts per page."),
        erlen.Setting("RATIO", float, default=0.5),
        erlen.Setting("ENABLED", bool, default=True),
        erlen.Setting("TAGS", list[str], default=["news"]),
        erlen.Setting("FOLDER", Path, default=Path("uploads")),
        erlen.Setting("MODE", t.Literal["fast", "safe"], default="safe"),
        erlen.Setting("TITLE", str | None, default=None),
        erlen.Setting("API_KEY", str, secret=True),
    ]
"""


@pytest.fixture
def blog(noop_plugin) -> str:
    return noop_plugin("blog", body=SETTINGS_PLUGIN)


def test_defaults_fill_in_and_values_are_converted(blog: str) -> None:
    app = erlen.create_app(__name__, {"PLUGINS": [blog], "BLOG_API_KEY": "k", "BLOG_RATIO": 2}, environ={})
    assert app.config["BLOG_PAGE_SIZE"] == 20
    assert app.config["BLOG_RATIO"] == 2.0
    assert app.config["BLOG_TAGS"] == ["news"]
    assert app.config["BLOG_FOLDER"] == Path("uploads")
    registry = erlen.plugins_of(app)
    assert registry.settings_of("blog", app.config)["PAGE_SIZE"] == 20
    assert registry.config_sources.get("BLOG_PAGE_SIZE") == "the default of plugin 'blog'"


def test_mutable_defaults_are_not_shared_between_apps(blog: str) -> None:
    first = erlen.create_app(__name__, {"PLUGINS": [blog], "BLOG_API_KEY": "k"}, environ={})
    first.config["BLOG_TAGS"].append("changed")
    second = erlen.create_app(__name__, {"PLUGINS": [blog], "BLOG_API_KEY": "k"}, environ={})
    assert second.config["BLOG_TAGS"] == ["news"]


def test_environment_strings_are_parsed_by_type(blog: str) -> None:
    environ = {
        "ERLEN_PLUGINS": blog,
        "ERLEN_BLOG_API_KEY": "k",
        "ERLEN_BLOG_PAGE_SIZE": "50",
        "ERLEN_BLOG_ENABLED": "off",
        "ERLEN_BLOG_TAGS": "a, b,c",
        "ERLEN_BLOG_MODE": "fast",
        "ERLEN_BLOG_TITLE": "",
    }
    app = erlen.create_app(__name__, environ=environ)
    assert app.config["BLOG_PAGE_SIZE"] == 50
    assert app.config["BLOG_ENABLED"] is False
    assert app.config["BLOG_TAGS"] == ["a", "b", "c"]
    assert app.config["BLOG_MODE"] == "fast"
    assert app.config["BLOG_TITLE"] is None


def test_bad_value_names_key_value_type_plugin_and_source(blog: str, tmp_path: Path) -> None:
    (tmp_path / "erlen.toml").write_text(f'plugins = ["{blog}"]\n[blog]\npage_size = "many"\napi_key = "k"\n')
    with pytest.raises(erlen.SettingError) as caught:
        erlen.create_app(__name__, "erlen.toml", environ={}, root_path=str(tmp_path))
    message = str(caught.value)
    assert "Setting BLOG_PAGE_SIZE of plugin 'blog'" in message
    assert "'many'" in message
    assert "erlen.toml [blog] page_size" in message
    assert "must be an integer" in message
    assert "Expected type: int" in message
    assert "Posts per page." in message
    assert caught.value.key == "BLOG_PAGE_SIZE"
    assert caught.value.plugin == "blog"


def test_bad_environment_value_names_the_variable(blog: str) -> None:
    environ = {"ERLEN_PLUGINS": blog, "ERLEN_BLOG_API_KEY": "k", "ERLEN_BLOG_ENABLED": "perhaps"}
    with pytest.raises(erlen.SettingError, match=r"'perhaps' \(from environment variable ERLEN_BLOG_ENABLED\)"):
        erlen.create_app(__name__, environ=environ)


def test_literal_lists_the_choices(blog: str) -> None:
    config = {"PLUGINS": [blog], "BLOG_API_KEY": "k", "BLOG_MODE": "slow"}
    with pytest.raises(erlen.SettingError, match=r"must be one of 'fast', 'safe'"):
        erlen.create_app(__name__, config, environ={})


def test_secret_values_are_never_shown(blog: str) -> None:
    with pytest.raises(erlen.SettingError) as caught:
        erlen.create_app(__name__, {"PLUGINS": [blog], "BLOG_API_KEY": 123456789}, environ={})
    assert "123456789" not in str(caught.value)
    assert "'********'" in str(caught.value)


def test_required_setting_says_where_to_set_it(blog: str) -> None:
    with pytest.raises(erlen.SettingError, match=r"BLOG_API_KEY of plugin 'blog' is required.*ERLEN_BLOG_API_KEY"):
        erlen.create_app(__name__, {"PLUGINS": [blog]}, environ={})


def test_at_least_refuses_smaller_numbers_and_names_the_bound(noop_plugin) -> None:
    plugin = noop_plugin(
        "pager",
        body="""
        @erlen.hookimpl
        def erlen_settings():
            return [erlen.Setting("SIZE", int | None, default=10, validate=erlen.at_least(1))]
        """,
    )
    with pytest.raises(erlen.SettingError, match=r"PAGER_SIZE .* 0 .*it must be at least 1"):
        erlen.create_app(__name__, {"PLUGINS": [plugin], "PAGER_SIZE": 0}, environ={})
    for accepted in (1, 500, None):  # the bound itself, above it, and an optional setting left unset
        app = erlen.create_app(__name__, {"PLUGINS": [plugin], "PAGER_SIZE": accepted}, environ={})
        assert app.config["PAGER_SIZE"] == accepted


def test_greater_than_refuses_the_bound_and_smaller_numbers_and_names_the_bound(noop_plugin) -> None:
    plugin = noop_plugin(
        "timer",
        body="""
        @erlen.hookimpl
        def erlen_settings():
            return [
                erlen.Setting("SECONDS", float | None, default=1.0, validate=erlen.greater_than(0)),
                erlen.Setting("COUNT", int, default=5, validate=erlen.greater_than(2)),
            ]
        """,
    )
    for refused in (0, -1.5):  # the bound itself, and below it
        with pytest.raises(erlen.SettingError, match=rf"TIMER_SECONDS .* {refused} .*it must be greater than 0\."):
            erlen.create_app(__name__, {"PLUGINS": [plugin], "TIMER_SECONDS": refused}, environ={})
    with pytest.raises(erlen.SettingError, match=r"TIMER_COUNT .* 2 .*it must be greater than 2\."):
        erlen.create_app(__name__, {"PLUGINS": [plugin], "TIMER_COUNT": 2}, environ={})
    for accepted in (0.001, 30.0, None):  # just above the bound, above it, and an optional setting left unset
        app = erlen.create_app(__name__, {"PLUGINS": [plugin], "TIMER_SECONDS": accepted}, environ={})
        assert app.config["TIMER_SECONDS"] == accepted
    assert erlen.create_app(__name__, {"PLUGINS": [plugin], "TIMER_COUNT": 3}, environ={}).config["TIMER_COUNT"] == 3


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "Infinity"])
def test_the_bounds_refuse_nan_and_the_infinities_a_float_setting_reads_from_text(noop_plugin, text: str) -> None:
    # float("nan") passes every comparison it is not part of: "nan" in the environment was taken for a bound.
    plugin = noop_plugin(
        "timer",
        body="""
        @erlen.hookimpl
        def erlen_settings():
            return [
                erlen.Setting("SECONDS", float, default=1.0, validate=erlen.greater_than(0)),
                erlen.Setting("DELAY", float, default=1.0, validate=erlen.at_least(0)),
            ]
        """,
    )
    with pytest.raises(erlen.SettingError, match=r"TIMER_SECONDS .*it must be a finite number greater than 0\."):
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={"ERLEN_TIMER_SECONDS": text})
    with pytest.raises(erlen.SettingError, match=r"TIMER_DELAY .*it must be a finite number of at least 0\."):
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={"ERLEN_TIMER_DELAY": text})


def test_the_bounds_take_an_int_beyond_a_floats_range() -> None:
    # math.isfinite() raises OverflowError for it (create_app failed with a bare traceback): an int is finite,
    # and an int setting given one was accepted before NaN was refused.
    huge = 10**400
    erlen.greater_than(0)(huge)
    erlen.at_least(1)(huge)
    with pytest.raises(ValueError, match=r"^must be at least 1$"):
        erlen.at_least(1)(-huge)


def test_a_float_setting_given_an_int_beyond_a_floats_range_names_the_setting(noop_plugin) -> None:
    # float() raises OverflowError for it: create_app failed with a bare traceback.
    plugin = noop_plugin(
        "timer",
        body="""
        @erlen.hookimpl
        def erlen_settings():
            return [erlen.Setting("SECONDS", float, default=1.0)]
        """,
    )
    with pytest.raises(erlen.SettingError, match=r"TIMER_SECONDS .*it must be a number within a float's range"):
        erlen.create_app(__name__, {"PLUGINS": [plugin], "TIMER_SECONDS": 10**400}, environ={})


def test_at_least_zero_and_greater_than_zero_word_the_bound_plainly() -> None:
    # The messages continue "it ..." in a SettingError: what the plugins' own validators said before.
    with pytest.raises(ValueError, match=r"^must be at least 0$"):
        erlen.at_least(0)(-1)
    with pytest.raises(ValueError, match=r"^must be greater than 0$"):
        erlen.greater_than(0)(0)
    erlen.at_least(0)(0)
    erlen.greater_than(0)(1)


def test_custom_validator_reason_is_shown(noop_plugin) -> None:
    def positive(value: int) -> None:
        if value <= 0:
            raise ValueError("must be positive")

    plugin = noop_plugin(
        "pager",
        body="""
        import tests_validators
        @erlen.hookimpl
        def erlen_settings():
            return [erlen.Setting("SIZE", int, default=10, validate=tests_validators.positive)]
        """,
    )
    import sys
    import types

    module = types.ModuleType("tests_validators")
    module.positive = positive  # type: ignore[attr-defined]
    sys.modules["tests_validators"] = module
    try:
        with pytest.raises(erlen.SettingError, match=r"PAGER_SIZE .* -3 .*it must be positive"):
            erlen.create_app(__name__, {"PLUGINS": [plugin], "PAGER_SIZE": -3}, environ={})
    finally:
        del sys.modules["tests_validators"]


def test_two_plugins_declaring_one_key(noop_plugin) -> None:
    body = """
    @erlen.hookimpl
    def erlen_settings():
        return [erlen.Setting("URL", str, default="")]
    """
    first = noop_plugin("first", body=body)
    second = noop_plugin(
        "second",
        body="""
        PLUGIN = erlen.Plugin(name="second", settings_prefix="FIRST_")
        @erlen.hookimpl
        def erlen_settings():
            return [erlen.Setting("URL", str, default="")]
        """,
    )
    with pytest.raises(erlen.PluginError, match=r"Plugins 'first' and 'second' both declare the setting FIRST_URL"):
        erlen.create_app(__name__, {"PLUGINS": [first, second]}, environ={})


def test_settings_hook_must_return_settings(noop_plugin) -> None:
    plugin = noop_plugin(
        "odd",
        body="""
        @erlen.hookimpl
        def erlen_settings():
            return [("URL", str)]
        """,
    )
    with pytest.raises(erlen.PluginError, match=r"Plugin 'odd': erlen_settings must return erlen.Setting objects"):
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})


def test_setting_names_are_upper_case() -> None:
    with pytest.raises(ValueError, match="must be upper-case letters, digits and underscores"):
        Setting("url")


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("max proposals", "MAX_PROPOSALS"),
        ("max-proposals", "MAX_PROPOSALS"),
        ("", "URL"),
        ("MAX PROPOSALS", "MAX_PROPOSALS"),
        ("MAX-PROPOSALS", "MAX_PROPOSALS"),
        ("2FA_ISSUER", "X_2FA_ISSUER"),
        ("_PRIVATE", "PRIVATE"),
    ],
)
def test_a_setting_name_config_keys_cannot_reach_is_refused_with_one_they_can(name: str, suggestion: str) -> None:
    """It suggested 'MAX PROPOSALS' for 'max proposals', and accepted 'MAX PROPOSALS' and 'MAX-PROPOSALS', which
    no ERLEN_* variable a shell exports (nor a bare erlen.toml key) can set."""
    with pytest.raises(ValueError, match=f"such as '{suggestion}'"):
        Setting(name)
    Setting(suggestion)


@pytest.mark.parametrize(
    ("tp", "text"),
    [
        (int, "int"),
        (list[str], "list[str]"),
        (str | None, "str | None"),
        (t.Literal["a", "b"], "'a' | 'b'"),
        (dict[str, int], "dict[str, int]"),
        (tuple[int, ...], "tuple[int, ...]"),
        (t.Any, "any"),
    ],
)
def test_types_are_described_as_users_write_them(tp: object, text: str) -> None:
    assert describe_type(tp) == text


@pytest.mark.parametrize(
    ("tp", "value", "from_text", "expected"),
    [
        (int, "7", True, 7),
        (float, 3, False, 3.0),
        (bool, "YES", True, True),
        (list[int], "[1, 2]", True, [1, 2]),
        (tuple[str, ...], ["a"], False, ("a",)),
        (dict[str, int], '{"a": 1}', True, {"a": 1}),
        (str | None, None, False, None),
        (int | None, "", True, None),
    ],
)
def test_conversion(tp: object, value: object, from_text: bool, expected: object) -> None:
    assert convert(tp, value, from_text=from_text) == expected


@pytest.mark.parametrize(
    ("tp", "value", "from_text", "reason"),
    [
        (int, "7", False, "must be an integer"),
        (int, True, False, "not a boolean"),
        (bool, "yes", False, "must be true or false"),
        (list[str], "a", False, "must be a list"),
        (dict[str, int], "{", True, "is not valid JSON"),
        (Path, 3, False, "must be a path"),
    ],
)
def test_conversion_refuses(tp: object, value: object, from_text: bool, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        convert(tp, value, from_text=from_text)


def test_literal_choices_that_are_not_strings_are_read_from_the_environment(noop_plugin) -> None:
    plugin = noop_plugin(
        "levels",
        body="""
        import typing as t

        @erlen.hookimpl
        def erlen_settings():
            return [erlen.Setting("LEVEL", t.Literal[1, 2, 3], default=1)]
        """,
    )
    app = erlen.create_app(__name__, environ={"ERLEN_PLUGINS": plugin, "ERLEN_LEVELS_LEVEL": "2"})
    assert app.config["LEVELS_LEVEL"] == 2


@pytest.mark.parametrize(
    ("tp", "value", "from_text", "expected"),
    [
        (t.Literal[1, 2], " 2", True, 2),
        (t.Literal[True, "auto"], "yes", True, True),
        (t.Literal[True, "auto"], "auto", True, "auto"),
        (t.Literal[0.5, 1.0], "0.5", True, 0.5),
    ],
)
def test_literal_conversion_from_text(tp: object, value: object, from_text: bool, expected: object) -> None:
    assert convert(tp, value, from_text=from_text) == expected


def test_a_boolean_is_not_an_integer_choice() -> None:
    # 1 == True in Python; without the check DEBUG-style true would pass for Literal[0, 1].
    with pytest.raises(ValueError, match="must be one of 0, 1"):
        convert(t.Literal[0, 1], True, from_text=False)


@pytest.mark.parametrize("tp", [set[str], list[set[int]], t.Callable[[], int], "str"])
def test_unsupported_setting_types_are_refused_where_declared(tp: object) -> None:
    with pytest.raises(TypeError, match=r"Setting TAGS has the unsupported type .*Use str, int"):
        Setting("TAGS", tp)


def test_unsupported_setting_type_names_the_plugin(noop_plugin) -> None:
    plugin = noop_plugin(
        "tags", body='@erlen.hookimpl\ndef erlen_settings():\n    return [erlen.Setting("NAMES", set[str])]\n'
    )
    with pytest.raises(
        erlen.PluginHookError, match=r"Plugin 'tags' failed in erlen_settings: TypeError: Setting NAMES"
    ):
        erlen.create_app(__name__, {"PLUGINS": [plugin], "TAGS_NAMES": {"a"}}, environ={})
