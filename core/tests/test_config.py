"""Configuration from a mapping, a TOML file, a Python file, an object and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

import erlen


class ProductionConfig:
    PAGE_TITLE = "from an object"
    lower_case_is_ignored = True


def test_mapping() -> None:
    app = erlen.create_app(__name__, {"PAGE_TITLE": "from a mapping"}, environ={})
    assert app.config["PAGE_TITLE"] == "from a mapping"


def test_lower_case_keys_in_a_mapping_are_refused_not_ignored() -> None:
    with pytest.raises(erlen.ConfigError, match=r"'plugins' in the config mapping would be ignored. Write 'PLUGINS'"):
        erlen.create_app(__name__, {"plugins": ["db"]}, environ={})


def test_toml_file_with_plugin_sections(tmp_path: Path) -> None:
    (tmp_path / "erlen.toml").write_text(
        'page-title = "from TOML"\nplugins = []\n\n[db]\nurl = "sqlite:///x.db"\nengine-options = { pool_size = 5 }\n'
    )
    app = erlen.create_app(__name__, "erlen.toml", environ={}, root_path=str(tmp_path))
    assert app.config["PAGE_TITLE"] == "from TOML"
    assert app.config["DB_URL"] == "sqlite:///x.db"
    assert app.config["DB_ENGINE_OPTIONS"] == {"pool_size": 5}
    sources = erlen.plugins_of(app).config_sources
    assert sources.get("DB_URL") == "erlen.toml [db] url"


def test_python_file(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text("PAGE_TITLE = 'from Python'\nhelper = 1\n")
    app = erlen.create_app(__name__, "settings.py", environ={}, root_path=str(tmp_path))
    assert app.config["PAGE_TITLE"] == "from Python"
    assert erlen.plugins_of(app).config_sources.get("PAGE_TITLE") == "settings.py"


def test_object_and_dotted_path() -> None:
    app = erlen.create_app(__name__, ProductionConfig, environ={})
    assert app.config["PAGE_TITLE"] == "from an object"
    assert "LOWER_CASE_IS_IGNORED" not in app.config
    app = erlen.create_app(__name__, f"{__name__}.ProductionConfig", environ={})
    assert app.config["PAGE_TITLE"] == "from an object"
    assert erlen.plugins_of(app).config_sources.get("PAGE_TITLE") == "object ProductionConfig"


def test_environment_wins_over_the_file_and_is_decoded_like_flask(tmp_path: Path) -> None:
    (tmp_path / "erlen.toml").write_text('page_title = "from TOML"\n')
    environ = {
        "ERLEN_PAGE_TITLE": "from the environment",
        "ERLEN_ITEMS_PER_PAGE": "25",
        "ERLEN_FEATURE": "true",
        "ERLEN_SECRET_KEY": "12345",
        "ERLEN_APP": "not.config",
        "OTHER_PREFIX": "ignored",
    }
    app = erlen.create_app(__name__, "erlen.toml", environ=environ, root_path=str(tmp_path))
    assert app.config["PAGE_TITLE"] == "from the environment"
    assert app.config["ITEMS_PER_PAGE"] == 25
    assert app.config["FEATURE"] is True
    # SECRET_KEY is a declared string setting, so digits stay a string.
    assert app.config["SECRET_KEY"] == "12345"
    assert "APP" not in app.config
    assert "PREFIX" not in app.config


def test_plugins_from_the_environment(noop_plugin) -> None:
    first, second = noop_plugin("first"), noop_plugin("second")
    app = erlen.create_app(__name__, environ={"ERLEN_PLUGINS": f"{first}, {second}"})
    assert erlen.plugins_of(app).names() == ["erlen", "first", "second"]
    app = erlen.create_app(__name__, environ={"ERLEN_PLUGINS": f'["{second}"]'})
    assert erlen.plugins_of(app).names() == ["erlen", "second"]


def test_missing_file_names_the_path_and_root(tmp_path: Path) -> None:
    with pytest.raises(erlen.ConfigError, match=r"Config file '.*nope\.toml' does not exist.*root path"):
        erlen.create_app(__name__, "nope.toml", environ={}, root_path=str(tmp_path))


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "erlen.toml").write_text("plugins = [\n")
    with pytest.raises(erlen.ConfigError, match=r"erlen\.toml' is not valid TOML"):
        erlen.create_app(__name__, "erlen.toml", environ={}, root_path=str(tmp_path))


def test_failing_python_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text("1 / 0\n")
    with pytest.raises(erlen.ConfigError, match=r"settings\.py' failed to run: ZeroDivisionError"):
        erlen.create_app(__name__, "settings.py", environ={}, root_path=str(tmp_path))


def test_unimportable_config_object() -> None:
    with pytest.raises(erlen.ConfigError, match=r"Cannot import the config object 'no_such_module\.Config'"):
        erlen.create_app(__name__, "no_such_module.Config", environ={})
