"""How a plugin declares itself."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

#: The attribute of a plugin module (or object) that holds its :class:`Plugin`.
DECLARATION_ATTRIBUTE = "PLUGIN"

_NAME = re.compile(r"^[a-z][a-z0-9_]*(?:[.-][a-z0-9_]+)*$")


@dataclass(frozen=True)
class Plugin:
    """What a plugin says about itself, beyond its hook implementations.

    Put an instance in the module-level variable ``PLUGIN`` of the plugin's
    module:

    .. code-block:: python

        PLUGIN = erlen.Plugin(name="blog", requires=["db"], integrates_with=["admin"], title="Blog posts")

    :param name: the short name (``db``). For an installed plugin it must
        match the entry-point name; for a local plugin enabled by dotted path
        it defaults to that path.
    :param requires: plugins that must be enabled, and load first.
    :param integrates_with: plugins used when they are enabled; when they
        are, they load first.
    :param description: one line shown by ``erlen plugins``.
    :param version: the version; by default, that of the distribution that
        ships the plugin.
    :param settings_prefix: the prefix of the plugin's configuration keys;
        by default its name in upper case followed by ``_``.
    :param title: the plugin's name for people, in headings (the admin's
        groups, erlen-auth's permission groups, ``erlen plugins``); by default
        its name made a word (:func:`default_title`). One line of text.
    :raises ValueError: a field has a value it cannot have, with what to write instead.
    """

    name: str | None = None
    requires: Sequence[str] = field(default=())
    integrates_with: Sequence[str] = field(default=())
    description: str = ""
    version: str | None = None
    settings_prefix: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        # Checked before anything reads them: a name of 123 failed on a regular expression, a settings_prefix of 5
        # on len(), integrates_with=None on iter(), each a TypeError of the core's code naming no field.
        _check_text("name", self.name, "name='blog'", optional=True)
        for attribute in ("requires", "integrates_with"):
            names = getattr(self, attribute)
            # A string is a sequence too: requires="db" would mean the plugins 'd' and 'b'.
            if isinstance(names, str):
                raise ValueError(
                    f"Plugin {attribute} must be a list of plugin names, not the string {names!r}: "
                    f"write {attribute}=[{names!r}]."
                )
            if not isinstance(names, Sequence) or not all(isinstance(name, str) for name in names):
                raise ValueError(
                    f"Plugin {attribute} must be a list of plugin names, not {names!r}: "
                    f"write {attribute}=['db'], or leave it out for none."
                )
        # Accept any sequence but keep the declaration hashable and immutable.
        object.__setattr__(self, "requires", tuple(self.requires))
        object.__setattr__(self, "integrates_with", tuple(self.integrates_with))
        _check_text("description", self.description, "description='Posts and their comments.'")
        _check_text("version", self.version, "version='1.2.0'", optional=True)
        _check_text("settings_prefix", self.settings_prefix, "settings_prefix='BLOG_'", optional=True)
        if self.name is not None and not _NAME.match(self.name):
            raise ValueError(
                f"Plugin name {self.name!r} is not valid: use lower-case letters, digits, "
                "'_' and '-', starting with a letter (such as 'blog' or 'my_blog')."
            )
        self._check_title()

    def _check_title(self) -> None:
        title: object = self.title
        # splitlines() splits at every line break str knows (\r, \x85, \u2028...), not only \n: one line is [title].
        if title is None or (isinstance(title, str) and title.strip() and title.splitlines() == [title]):
            return
        owner, default = "Plugin title", "its name made a word"
        if self.name is not None:
            owner, default = f"Plugin {self.name!r}: title", f"{default_title(self.name)!r}, {default}"
        raise ValueError(
            f"{owner} must be one line of text, the plugin's name in headings, not {title!r}: "
            f"write one such as title='Blog posts', or leave title out for {default}."
        )


def _check_text(attribute: str, value: object, example: str, *, optional: bool = False) -> None:
    """Refuse a declaration's ``attribute`` whose ``value`` is not a string (or ``None``, when ``optional``).

    :param attribute: the field's name, as the plugin wrote it.
    :param value: its value.
    :param example: the field written right, for the message.
    :param optional: ``None`` is allowed (the field's default).
    """
    if isinstance(value, str) or (optional and value is None):
        return
    leave_out = " or leave it out" if optional else ""
    raise ValueError(f"Plugin {attribute} must be a string, not {value!r}: write {example}{leave_out}.")


def default_prefix(name: str) -> str:
    """The settings prefix of a plugin called ``name``: ``my-blog`` gives ``MY_BLOG_``."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper() + "_"


def default_title(name: str) -> str:
    """The title of a plugin called ``name`` that declares none: its name as a word, ``my_blog`` gives ``My blog``.

    :param name: the plugin's name.
    """
    return re.sub(r"[-_.]+", " ", name).strip().capitalize()
