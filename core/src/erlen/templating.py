"""Templates whose globals are merged at C speed on each render: what Erlen's apps use for ``template_class``.

Jinja gives each template its globals as a :class:`collections.ChainMap` of
the template's own globals over the environment's, so that globals added to
the environment later still show. Every render copies that chain into the
render's context twice (``dict(globals, **vars)`` and ``set(globals)``), and
a ``ChainMap`` copies key by key in Python: with the globals the plugins add
(two dozen), that was some sixty thousand instructions per rendered page.
:class:`FlatGlobalsTemplate` merges the chain's maps into one ``dict`` first
(``dict.update``, in C) and hands Jinja that dict; the context gets the same
names and values, read from the environment at each render as before.
"""

from __future__ import annotations

import typing as t
from collections import ChainMap

from flask import Flask
from jinja2 import Template
from jinja2.runtime import Context, new_context


class FlatGlobalsTemplate(Template):
    """A :class:`jinja2.Template` whose renders read its globals from one merged ``dict``, not a ``ChainMap``."""

    def new_context(
        self,
        vars: dict[str, t.Any] | None = None,
        shared: bool = False,
        locals: t.Mapping[str, t.Any] | None = None,
    ) -> Context:
        """A new context for this template, as :meth:`jinja2.Template.new_context` makes it.

        :param vars: the render's variables.
        :param shared: whether ``vars`` is used as it is, without the globals (an imported template's).
        :param locals: local variables for Jinja's internal use.
        """
        # A shared context does not read the globals: nothing to merge.
        globals = self.globals if shared else flat_globals(self.globals)
        return new_context(self.environment, self.name, self.blocks, vars, shared, globals, locals)


def flat_globals(globals: t.MutableMapping[str, t.Any]) -> t.MutableMapping[str, t.Any]:
    """``globals`` as one ``dict`` with the names and values a copy of it would have; other mappings as they are.

    :param globals: a template's globals: Jinja's ``ChainMap`` (the first map's names win).
    """
    if type(globals) is not ChainMap:
        return globals
    merged: dict[str, t.Any] = {}
    # Later maps first, so that the earlier maps' values win, as in a ChainMap.
    for mapping in reversed(globals.maps):
        merged.update(mapping)
    return merged


def use_flat_globals(app: Flask) -> None:
    """Make the templates ``app`` loads from now on :class:`FlatGlobalsTemplate` objects.

    An app whose environment has a template class of its own keeps it.

    :param app: the app.
    """
    environment = app.jinja_env
    if environment.template_class is Template:
        environment.template_class = FlatGlobalsTemplate
