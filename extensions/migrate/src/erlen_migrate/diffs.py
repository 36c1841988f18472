"""Readable descriptions of the differences Alembic's comparison finds."""

from __future__ import annotations

import typing as t


def describe(diff: t.Any) -> str:
    """One line for a difference from :func:`alembic.autogenerate.compare_metadata`.

    :param diff: a tuple such as ``("add_table", Table)``, or a list of
        ``modify_*`` tuples for one column.
    """
    if isinstance(diff, list):
        return "; ".join(describe(item) for item in diff)
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        return f"{kind.replace('_', ' ')} {diff[1].name}"
    if kind in ("add_column", "remove_column"):
        return f"{kind.replace('_', ' ')} {diff[2]}.{diff[3].name}"
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        obj = diff[1]
        table = getattr(getattr(obj, "table", None), "name", "?")
        return f"{kind.replace('_', ' ')} {obj.name or '(unnamed)'} on {table}"
    if kind in ("add_fk", "remove_fk"):
        obj = diff[1]
        return f"{kind.replace('_', ' ')} {obj.name or '(unnamed)'} on {obj.parent.name}"
    if kind.startswith("modify_"):
        what = kind.removeprefix("modify_").replace("_", " ")
        return f"change the {what} of {diff[2]}.{diff[3]} from {diff[5]!r} to {diff[6]!r}"
    return repr(diff)
