"""The links of a list page, built from one ``url_for`` per endpoint instead of one per link.

A list page has some 30 links to its own list (sort headings, pager, count) and to its rows
(detail, edit). ``url_for`` matches the endpoint's rule, runs the app's URL defaults and
quotes every value each time; here each endpoint's URL is built once per page and the
links are made from it, quoted as Werkzeug quotes them. When the app's URLs do something
this cannot reproduce (URL defaults that add query parameters, sorted parameters), every
link falls back to ``url_for``.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlencode

from flask import current_app, url_for

#: Stands for a row's key while the pattern of its links is built.
_IDENT_MARKER = "erlen-admin-row-ident"
#: The characters Werkzeug leaves unquoted in query strings (``werkzeug.urls``; the URL standard's set).
_QUERY_SAFE = "!$'()*,/:;?@"


def row_url_builder(endpoint: str, slug: str) -> t.Callable[[t.Any], str]:
    """The URL of ``endpoint`` for a row of view ``slug``, given its key: ``url_for`` once, not once per row.

    The key is quoted as the route's converter quotes it, so the links are the ones ``url_for`` builds.

    :param endpoint: ``"admin.detail"`` or ``"admin.edit"``.
    :param slug: the view's slug.
    """
    before, _, after = url_for(endpoint, slug=slug, ident=_IDENT_MARKER).partition(_IDENT_MARKER)
    converter = current_app.url_map.converters["default"](current_app.url_map)

    def build(ident: t.Any) -> str:
        # An integer key (the usual one) is digits, which need no quoting.
        text = str(ident) if type(ident) is int else converter.to_url(ident)
        return f"{before}{text}{after}"

    return build


def list_url_builder(slug: str) -> t.Callable[..., str]:
    """``list_url(**args)``: the URL of view ``slug``'s list with the query parameters ``args``, as
    ``url_for("admin.list", slug=slug, **args)`` builds it (``None`` values left out, the others in order).

    :param slug: the view's slug.
    """
    base = url_for("admin.list", slug=slug)
    if "?" in base or current_app.url_map.sort_parameters:
        # The app's URL defaults add parameters, or parameters are sorted: let url_for do it all.
        return lambda **args: url_for("admin.list", slug=slug, **args)

    def build(**args: t.Any) -> str:
        items = [(key, value) for key, value in args.items() if value is not None]
        return f"{base}?{urlencode(items, safe=_QUERY_SAFE)}" if items else base

    return build
