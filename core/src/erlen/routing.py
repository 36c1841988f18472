"""URL rules whose builders are made on first use: what Erlen's apps use for ``app.url_rule_class``.

Werkzeug compiles each rule twice when it is added: a regular expression for
matching requests, and two Python functions, generated from an abstract syntax
tree and compiled, that ``url_for`` calls to build the rule's URLs. An app with
every shipped extension adds some seventy rules, so the builders were a good
part of the app's creation (and of ``erlen --help``, which creates it), while a
worker builds URLs for a few of them and a command for none.
:class:`LazyBuilderRule` makes a rule's builders when a URL is first built
from it; matching is unchanged.

A threaded worker (gunicorn's ``gthread``, Flask's development server) may
build its first URLs from several threads at once. Werkzeug makes a builder
with :func:`ast.parse`, and CPython 3.11 keeps the depth of the syntax tree it
is converting in one place per interpreter: two threads converting at once
(a thread switch happens when the garbage collector runs a finalizer midway)
fail with ``SystemError: AST constructor recursion depth mismatch``
(python/cpython#106905). Werkzeug compiles its builders as rules are added,
in one thread; the lazy builders compile one at a time, under one lock.
"""

from __future__ import annotations

import threading
import typing as t

from flask import Flask
from werkzeug.routing import Rule

#: Held while a builder compiles: the syntax trees of a process are converted one at a time (see above).
#: One lock for the process, not one per app, because what it guards is the interpreter's.
_COMPILING = threading.Lock()


class LazyBuilderRule(Rule):
    """A :class:`werkzeug.routing.Rule` that compiles its URL builders when a URL is first built from it."""

    def _compile_builder(self, *args: t.Any, **kwargs: t.Any) -> t.Callable[..., tuple[str, str]]:
        # Werkzeug's compile() binds what this returns to the rule as _build (append_unknown False) and
        # _build_unknown (True). The stand-in compiles the real builder on its first call and puts it in
        # its own place, so later calls go straight to it; should Werkzeug name the attributes otherwise,
        # the stand-in keeps calling the builder it compiled.
        compile_builder = super()._compile_builder
        append_unknown = bool(args[0] if args else kwargs.get("append_unknown", True))
        compiled: list[t.Callable[..., tuple[str, str]]] = []

        def build_on_first_use(rule: Rule, **values: t.Any) -> tuple[str, str]:
            if not compiled:
                with _COMPILING:
                    if not compiled:  # another thread may have compiled it while this one waited
                        compiled.append(compile_builder(*args, **kwargs))
                        setattr(rule, "_build_unknown" if append_unknown else "_build", compiled[0].__get__(rule, None))
            return compiled[0](rule, **values)

        return build_on_first_use


def use_lazy_builders(app: Flask) -> None:
    """Make the rules added to ``app`` from now on :class:`LazyBuilderRule` objects.

    An app that set its own ``url_rule_class`` keeps it.

    :param app: the app.
    """
    if app.url_rule_class is Rule:
        app.url_rule_class = LazyBuilderRule
