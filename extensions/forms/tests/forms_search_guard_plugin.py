"""A plugin that allows the foreign-key search only to requests with ?staff=1, and with ?only=<label> narrows it
to the rows of that label."""

from __future__ import annotations

import typing as t

from flask import request

import erlen

PLUGIN = erlen.Plugin(name="searchguard")


@erlen.hookimpl(optionalhook=True)
def erlen_forms_fk_search_allowed(table: t.Any, column: t.Any) -> bool | None:
    return request.args.get("staff") == "1" or None


@erlen.hookimpl(optionalhook=True)
def erlen_forms_fk_search_rows(table: t.Any, column: t.Any, statement: t.Any) -> t.Any:
    only = request.args.get("only")
    if only is None:
        return None
    from forms_model_plugin import Author

    return statement.where(Author.name == only)
