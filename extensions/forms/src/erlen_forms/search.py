"""The search-as-you-type endpoint of foreign-key fields in model forms (needs erlen-db).

``GET /_forms/fk/<table>/<column>?q=text`` answers
``{"results": [{"value": ..., "label": ...}, ...]}``: rows of the table that
the foreign key ``table.column`` refers to, whose label contains ``text``
(or whose key is ``text``), at most 20 (``limit``, up to 50).

Only rows' keys and labels (see :func:`erlen_forms.model_forms.label_column`)
are returned, and only when allowed: a plugin answers the hook
``erlen_forms_fk_search_allowed`` (an admin plugin checks its permissions),
else the setting ``FORMS_FK_SEARCH_PUBLIC`` decides (off by default). Plugins may
narrow the rows further through ``erlen_forms_fk_search_rows``: a row is returned
only if every plugin's narrowing keeps it.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask, abort, current_app, jsonify, request

if t.TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Select

import erlen

#: The most results one search returns.
MAX_RESULTS = 50
#: The longest search text.
MAX_QUERY_LENGTH = 100


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def narrowed_by_all(
    statement: Select[t.Any], key: ColumnElement[t.Any], narrowings: list[Select[t.Any]]
) -> Select[t.Any]:
    """``statement``'s rows that every one of ``narrowings`` keeps: each plugin's answer to
    ``erlen_forms_fk_search_rows``, so that none undoes another's (a row scope and a plugin's own rule).

    One narrowing is run as it is; each further one adds ``key IN (its keys)`` to the first.

    :param statement: the search's ``SELECT`` of the referred-to rows' key and label.
    :param key: the referred-to key column.
    :param narrowings: the statements the plugins returned (``statement`` with conditions added).
    """
    if not narrowings:
        return statement
    first, *others = narrowings
    for other in others:
        first = first.where(key.in_(other.with_only_columns(key)))
    return first


def fk_search(table: str, column: str) -> t.Any:
    """The view of the endpoint ``erlen_forms.fk_search``; see the module documentation."""
    import sqlalchemy as sa

    import erlen_db

    from .model_forms import _coerce, label_column

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        database = erlen_db.database_of(app)
    except Exception:
        abort(404)
    found = next((tb for tb in database.tables() if tb.name == table or tb.key == table), None)
    if found is None or column not in found.c or len(found.c[column].foreign_keys) != 1:
        return jsonify({"error": "not_found", "message": f"No foreign key {table}.{column}."}), 404
    source = found.c[column]
    allowed = erlen.plugins_of(app).hook.erlen_forms_fk_search_allowed(table=found, column=source)
    if allowed is None:
        allowed = bool(app.config.get("FORMS_FK_SEARCH_PUBLIC", False))
    if not allowed:
        return jsonify({"error": "forbidden", "message": "Searching this foreign key is not allowed."}), 403
    (foreign_key,) = tuple(source.foreign_keys)
    remote = foreign_key.column
    label = label_column(remote.table)
    text = (request.args.get("q") or "").strip()[:MAX_QUERY_LENGTH]
    if "\x00" in text:
        # PostgreSQL refuses NUL in a text parameter (a 500), and no label or key can hold one: nothing matches.
        return jsonify({"results": []})
    try:
        limit = max(1, min(int(request.args.get("limit", 20)), MAX_RESULTS))
    except ValueError:
        limit = 20
    statement: Select[t.Any] = sa.select(remote, label)
    # Narrowed before the order and limit are added: plugins add conditions (an admin view's row scope).
    narrowings = erlen.plugins_of(app).hook.erlen_forms_fk_search_rows(table=found, column=source, statement=statement)
    statement = narrowed_by_all(statement, remote, narrowings).order_by(label, remote).limit(limit)
    if text:
        conditions: list[sa.ColumnElement[bool]] = [
            sa.cast(label, sa.String).ilike(f"%{_escape_like(text)}%", escape="\\")
        ]
        try:
            key = _coerce(remote, text)
        except (ValueError, TypeError):
            key = None
        if key is not None:
            conditions.append(remote == key)
        statement = statement.where(sa.or_(*conditions))
    rows = database.session.execute(statement).all()
    results = [{"value": str(value), "label": "" if name is None else str(name)} for value, name in rows]
    return jsonify({"results": results})


def make_blueprint() -> Blueprint:
    """The blueprint of the search endpoint, registered at ``/_forms`` when erlen-db is enabled."""
    blueprint = Blueprint("erlen_forms", __name__)
    blueprint.add_url_rule("/fk/<table>/<column>", view_func=fk_search, methods=["GET"])
    return blueprint
