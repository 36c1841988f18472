"""``erlen new-plugin NAME``: scaffold a third-party plugin, ready to test and publish.

The package it writes has the structure of a plugin published on an index:
a ``pyproject.toml`` whose entry point in the group ``erlen.plugins`` lets apps
enable the plugin by name; a plugin module with settings, a model and its
migrations branch (whose table refers to the ``auth`` plugin's users),
pages with templates, a permission, a field added to the ``auth`` plugin's
registration form and an admin view; and tests on :mod:`erlen.testing`.

The command needs no app. The files come from ``plugin_template/`` beside
this module: ``$name``-style placeholders in the files, and ``PACKAGE``,
``NAME`` and ``REVISION`` in the paths.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import string
import uuid
from pathlib import Path

import click

from ..plugins.declaration import default_title

#: The folder of the template files, each ending in ``.tmpl``.
TEMPLATE = Path(__file__).parent / "plugin_template"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def plugin_files(name: str, *, description: str, author: str, auth_revision: str) -> dict[Path, str]:
    """The files of the plugin ``name``, relative paths to their text.

    :param name: the plugin's name (``bookmarks``); the distribution is
        ``erlen-bookmarks`` and the package ``erlen_bookmarks``.
    :param description: one line for ``pyproject.toml`` and ``erlen plugins``.
    :param author: the author in ``pyproject.toml``.
    :param auth_revision: the revision of the ``auth`` branch that creates
        ``auth_user``, which the first migration depends on.
    """
    check_name(name)
    package = f"erlen_{name}"
    values = {
        "name": name,
        "upper": name.upper(),
        "title": default_title(name),
        "package": package,
        "distribution": f"erlen-{name.replace('_', '-')}",
        "description": description,
        "author": author,
        "revision": uuid.uuid4().hex[:12],
        "auth_revision": auth_revision,
        "date": dt.date.today().isoformat(),
    }
    files: dict[Path, str] = {}
    for source in sorted(TEMPLATE.rglob("*.tmpl")):
        relative = source.relative_to(TEMPLATE).as_posix().removesuffix(".tmpl")
        relative = relative.replace("PACKAGE", package).replace("REVISION", values["revision"])
        relative = relative.replace("NAME", name)
        files[Path(relative)] = string.Template(source.read_text(encoding="utf-8")).substitute(values)
    return files


def check_name(name: str) -> None:
    """Refuse names that make no valid plugin, package and table prefix.

    :raises click.BadParameter: with the reason.
    """
    if not _NAME.match(name):
        raise click.BadParameter(
            f"{name!r} is not a valid plugin name: use lower-case letters, digits and '_', "
            "starting with a letter (such as 'bookmarks').",
            param_hint="NAME",
        )
    if name == "erlen" or name.startswith("erlen_"):
        raise click.BadParameter(f"{name!r}: leave out the 'erlen' prefix, it is added for you.", param_hint="NAME")


def auth_base_revision() -> str:
    """The revision of the installed erlen-auth that creates ``auth_user``.

    :raises click.ClickException: erlen-auth is not installed, or ships no such revision.
    """
    spec = importlib.util.find_spec("erlen_auth")
    if spec is None or not spec.submodule_search_locations:
        raise click.ClickException(
            "The plugin's table refers to the users of the auth plugin: install erlen-auth first "
            "(pip install erlen-auth erlen-migrate), then run erlen new-plugin again."
        )
    for folder in spec.submodule_search_locations:
        for path in sorted((Path(folder) / "migrations").glob("*.py")):
            text = path.read_text(encoding="utf-8")
            base = re.search(r"^down_revision\b[^=]*=\s*None\s*$", text, re.MULTILINE)
            creates = re.search(r"create_table\(\s*['\"]auth_user['\"]", text)
            revision = re.search(r"^revision\b[^=]*=\s*['\"]([0-9a-zA-Z_]+)['\"]", text, re.MULTILINE)
            if base and creates and revision:
                return revision.group(1)
    raise click.ClickException("The installed erlen-auth ships no migration that creates auth_user.")


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The folder to create the package's folder in.",
)
@click.option("--description", default=None, help="One line about the plugin.")
@click.option("--author", default="The author", show_default=True, help="The author in pyproject.toml.")
def new_plugin_command(name: str, directory: Path, description: str | None, author: str) -> None:
    """Scaffold the plugin NAME as a distribution, erlen-NAME, ready to test and publish.

    It has an entry point in the group erlen.plugins (apps enable it by
    name), settings, a model with its migrations branch, pages and templates,
    a permission, a field on the registration form, an admin view and tests.
    """
    check_name(name)
    target = directory / f"erlen-{name.replace('_', '-')}"
    if target.exists():
        raise click.ClickException(f"{target} exists already: choose another name or --directory.")
    files = plugin_files(
        name,
        description=description or f"The {name} plugin for Erlen apps.",
        author=author,
        auth_revision=auth_base_revision(),
    )
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    click.echo(f"Created the plugin {name!r} in {target}:")
    for relative in files:
        click.echo(f"  {relative.as_posix()}")
    click.echo(
        f"\nNext:\n  cd {target}\n  python -m pip install -e '.[test]'\n  python -m pytest\n"
        f'Then enable it in an app: plugins = ["db", "forms", "migrate", "auth", "{name}"]'
    )
