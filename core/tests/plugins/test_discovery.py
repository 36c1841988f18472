"""Finding plugins through entry points and import paths, and the errors when that fails."""

from __future__ import annotations

import re

import pytest

import erlen


def test_installed_plugin_is_enabled_by_entry_point_name(plugins) -> None:
    plugins.module("erlen_shop", "import erlen\nPLUGIN = erlen.Plugin(requires=(), description='A shop')\n")
    plugins.distribution("erlen-shop", "2.3.1", plugins={"shop": "erlen_shop"})
    app = erlen.create_app(__name__, {"PLUGINS": ["shop"]}, environ={})
    shop = erlen.plugins_of(app).get("shop")
    assert shop is not None
    assert shop.version == "2.3.1"
    assert shop.distribution == "erlen-shop"
    assert shop.origin == "entry point shop = erlen_shop of distribution erlen-shop 2.3.1"


def test_installed_is_not_enabled(plugins) -> None:
    plugins.module("erlen_shop", "raise RuntimeError('must not be imported')\n")
    plugins.distribution("erlen-shop", plugins={"shop": "erlen_shop"})
    app = erlen.create_app(__name__, environ={})
    assert erlen.plugins_of(app).names() == ["erlen"]


def test_local_plugin_by_dotted_path_defaults_its_name_to_the_path(plugins) -> None:
    plugins.module("myapp.plugins.blog", "")
    app = erlen.create_app(__name__, {"PLUGINS": ["myapp.plugins.blog"]}, environ={})
    assert erlen.plugins_of(app).names() == ["erlen", "myapp.plugins.blog"]


def test_plugin_object_by_module_and_attribute(plugins) -> None:
    plugins.module(
        "objplug",
        """
        import erlen
        class Blog:
            PLUGIN = erlen.Plugin(name="blog")
            @erlen.hookimpl
            def erlen_init_app(self, app):
                app.extensions["blog"] = True
        blog = Blog()
        """,
    )
    app = erlen.create_app(__name__, {"PLUGINS": ["objplug:blog"]}, environ={})
    assert app.extensions["blog"] is True
    assert erlen.plugins_of(app).names() == ["erlen", "blog"]


def test_unknown_plugin_lists_what_is_installed(plugins) -> None:
    plugins.module("erlen_shop", "")
    plugins.distribution("erlen-shop", plugins={"shop": "erlen_shop"})
    with pytest.raises(erlen.UnknownPluginError) as caught:
        erlen.create_app(__name__, {"PLUGINS": ["shoop"]}, environ={})
    message = str(caught.value)
    assert "Unknown plugin 'shoop' in PLUGINS (from the config mapping passed to create_app)" in message
    assert "Did you mean 'shop'?" in message
    assert "Installed plugins: " in message and "shop" in message
    assert caught.value.plugin == "shoop"


def test_two_distributions_with_one_plugin_name(plugins) -> None:
    plugins.module("first_blog", "")
    plugins.module("second_blog", "")
    plugins.distribution("first-blog", plugins={"blog": "first_blog"})
    plugins.distribution("second-blog", plugins={"blog": "second_blog"})
    with pytest.raises(erlen.DuplicatePluginError) as caught:
        erlen.create_app(__name__, {"PLUGINS": ["blog"]}, environ={})
    message = str(caught.value)
    assert "Two installed distributions provide a plugin named 'blog'" in message
    assert "distribution first-blog 1.0 (first_blog)" in message
    assert "distribution second-blog 1.0 (second_blog)" in message


def test_two_enabled_plugins_with_one_name(plugins, noop_plugin) -> None:
    plugins.module("erlen_blog", "")
    plugins.distribution("erlen-blog", plugins={"blog": "erlen_blog"})
    local = noop_plugin("blog")
    with pytest.raises(erlen.DuplicatePluginError) as caught:
        erlen.create_app(__name__, {"PLUGINS": ["blog", local]}, environ={})
    message = str(caught.value)
    assert "Two enabled plugins are named 'blog'" in message
    assert f"module {local}" in message
    assert "Plugin(name=...)" in message


def test_listing_a_plugin_twice(noop_plugin) -> None:
    blog = noop_plugin("blog")
    with pytest.raises(erlen.DuplicatePluginError, match=rf"Plugin '{blog}' is listed twice in PLUGINS"):
        erlen.create_app(__name__, {"PLUGINS": [blog, blog]}, environ={})


def test_core_cannot_be_listed(noop_plugin) -> None:
    with pytest.raises(erlen.PluginError, match="'erlen' is the core and always loaded"):
        erlen.create_app(__name__, {"PLUGINS": ["erlen"]}, environ={})


def test_import_failure_names_the_plugin_and_keeps_the_traceback(plugins) -> None:
    plugins.module("erlen_broken", "import erlen\n\ndef helper():\n    return 1 / 0\n\nhelper()\n")
    plugins.distribution("erlen-broken", "0.9", plugins={"broken": "erlen_broken"})
    with pytest.raises(erlen.PluginImportError) as caught:
        erlen.create_app(__name__, {"PLUGINS": ["broken"]}, environ={})
    message = str(caught.value)
    assert message.startswith(
        "Plugin 'broken' (entry point 'erlen_broken' of distribution erlen-broken 0.9) failed to import: "
        "ZeroDivisionError: division by zero"
    )
    assert "Original traceback:" in message
    assert 'erlen_broken.py", line 4, in helper' in message
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    assert caught.value.plugin == "broken"


def test_local_plugin_import_failure(plugins) -> None:
    plugins.module("badlocal", "import not_a_module_anywhere\n")
    with pytest.raises(erlen.PluginImportError, match=r"Plugin 'badlocal' failed to import: ModuleNotFoundError"):
        erlen.create_app(__name__, {"PLUGINS": ["badlocal"]}, environ={})


def test_declared_name_must_match_the_entry_point(plugins) -> None:
    plugins.module("erlen_shop", "import erlen\nPLUGIN = erlen.Plugin(name='store')\n")
    plugins.distribution("erlen-shop", plugins={"shop": "erlen_shop"})
    with pytest.raises(erlen.PluginError, match=r"declares the name 'store'; the entry-point name and Plugin"):
        erlen.create_app(__name__, {"PLUGINS": ["shop"]}, environ={})


def test_declaration_must_be_a_plugin(plugins) -> None:
    plugins.module("oddplug", "PLUGIN = {'name': 'odd'}\n")
    with pytest.raises(erlen.PluginError, match=r"Plugin 'oddplug': PLUGIN must be an erlen.Plugin, not dict"):
        erlen.create_app(__name__, {"PLUGINS": ["oddplug"]}, environ={})


def test_invalid_plugin_name() -> None:
    with pytest.raises(ValueError, match="Plugin name 'Bad Name' is not valid"):
        erlen.Plugin(name="Bad Name")


def test_plugins_must_be_a_list_of_names() -> None:
    with pytest.raises(erlen.SettingError, match=r"Setting PLUGINS of plugin 'erlen' has the invalid value 3"):
        erlen.create_app(__name__, {"PLUGINS": 3}, environ={})


@pytest.mark.parametrize("attribute", ["requires", "integrates_with"])
def test_requirements_given_as_one_string_are_refused(attribute: str) -> None:
    # A string is a sequence: requires="db" would otherwise mean the plugins 'd' and 'b'.
    with pytest.raises(ValueError, match=rf"Plugin {attribute} must be a list of plugin names.*{attribute}=\['db'\]"):
        erlen.Plugin(name="blog", **{attribute: "db"})


def test_one_module_enabled_by_entry_point_and_by_path(plugins) -> None:
    plugins.module("erlen_notes", "")
    plugins.distribution("erlen-notes", plugins={"notes": "erlen_notes"})
    with pytest.raises(erlen.DuplicatePluginError) as caught:
        erlen.create_app(__name__, {"PLUGINS": ["notes", "erlen_notes"]}, environ={})
    message = str(caught.value)
    assert "PLUGINS enables one plugin twice: as 'notes' (entry point notes = erlen_notes" in message
    assert "as 'erlen_notes' (module erlen_notes). List it once." in message


def test_a_plugin_s_title_is_its_declared_title_else_its_name_made_a_word(plugins, noop_plugin) -> None:
    plugins.module("erlen_shop", "import erlen\nPLUGIN = erlen.Plugin(title='Orders and invoices')\n")
    plugins.distribution("erlen-shop", plugins={"shop": "erlen_shop"})
    app = erlen.create_app(__name__, {"PLUGINS": ["shop", noop_plugin("my_blog")]}, environ={})
    registry = erlen.plugins_of(app)
    assert registry.title_of("shop") == "Orders and invoices" == registry.get("shop").title
    assert registry.title_of("my_blog") == "My blog" == registry.get("my_blog").title
    assert registry.title_of("erlen") == "Erlen"
    # A name no enabled plugin has (erlen-auth's "app", the owner of AUTH_PERMISSIONS) is made a word too.
    assert registry.title_of("app") == "App"
    assert registry.title_of("blog-posts.admin") == "Blog posts admin"


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("''", "''"),
        ("'   '", "'   '"),
        ("'Blog\\nposts'", "'Blog\\\\nposts'"),
        ("'Blog posts\\n'", "'Blog posts\\\\n'"),
        ("'Blog\\u2028posts'", "'Blog\\\\u2028posts'"),
        ("3", "3"),
        ("b'Blog'", "b'Blog'"),
        ("['Blog']", "\\['Blog'\\]"),
    ],
)
def test_a_title_that_is_not_one_line_of_text_stops_the_app_naming_the_plugin(plugins, title: str, shown: str) -> None:
    plugins.module("erlen_shop", f"import erlen\nPLUGIN = erlen.Plugin(name='shop', title={title})\n")
    plugins.distribution("erlen-shop", plugins={"shop": "erlen_shop"})
    with pytest.raises(erlen.PluginImportError) as caught:
        erlen.create_app(__name__, {"PLUGINS": ["shop"]}, environ={})
    assert caught.value.plugin == "shop"
    assert re.match(
        rf"Plugin 'shop' \(entry point 'erlen_shop' of distribution erlen-shop 1.0\) failed to import: ValueError: "
        rf"Plugin 'shop': title must be one line of text, the plugin's name in headings, not {shown}: write one "
        r"such as title='Blog posts', or leave title out for 'Shop', its name made a word.",
        str(caught.value),
    ), str(caught.value)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("name=123", "Plugin name must be a string, not 123: write name='blog' or leave it out."),
        (
            "requires=['db', 3]",
            "Plugin requires must be a list of plugin names, not ['db', 3]: write requires=['db'], or leave it out "
            "for none.",
        ),
        (
            "integrates_with=None",
            "Plugin integrates_with must be a list of plugin names, not None: write integrates_with=['db'], or leave "
            "it out for none.",
        ),
        ("description=5", "Plugin description must be a string, not 5: write description='Posts and their comments.'."),
        ("version=3.0", "Plugin version must be a string, not 3.0: write version='1.2.0' or leave it out."),
        (
            "settings_prefix=5",
            "Plugin settings_prefix must be a string, not 5: write settings_prefix='BLOG_' or leave it out.",
        ),
    ],
)
def test_a_declaration_field_of_the_wrong_type_stops_the_app_naming_the_field(
    plugins, field: str, expected: str
) -> None:
    # A name of 123 failed on a regular expression, a settings_prefix of 5 on len(), integrates_with=None on iter():
    # TypeErrors of the core's code naming no field; a version of 3.0 and a description of 5 were taken as they were.
    plugins.module("myapp_notes", f"import erlen\nPLUGIN = erlen.Plugin({field})\n")
    with pytest.raises(erlen.PluginImportError) as caught:
        erlen.create_app(__name__, {"PLUGINS": ["myapp_notes"]}, environ={})
    assert str(caught.value).startswith(f"Plugin 'myapp_notes' failed to import: ValueError: {expected}")


def test_a_local_plugin_s_bad_title_names_the_module(plugins) -> None:
    plugins.module("myapp_notes", "import erlen\nPLUGIN = erlen.Plugin(title='')\n")
    with pytest.raises(erlen.PluginImportError) as caught:
        erlen.create_app(__name__, {"PLUGINS": ["myapp_notes"]}, environ={})
    assert str(caught.value).startswith(
        "Plugin 'myapp_notes' failed to import: ValueError: Plugin title must be one line of text, the plugin's name "
        "in headings, not '': write one such as title='Blog posts', or leave title out for its name made a word."
    )
