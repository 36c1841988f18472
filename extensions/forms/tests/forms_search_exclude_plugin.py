"""A second plugin narrowing the foreign-key search: with ?not=<label>, the rows of that label are left out."""

from __future__ import annotations

import typing as t

from flask import request

import erlen

PLUGIN = erlen.Plugin(name="searchexclude")


@erlen.hookimpl(optionalhook=True)
def erlen_forms_fk_search_rows(table: t.Any, column: t.Any, statement: t.Any) -> t.Any:
    left_out = request.args.get("not")
    if left_out is None:
        return None
    from forms_model_plugin import Author

    return statement.where(Author.name != left_out)
