"""Query parameters an endpoint does not know: refused where it says so, or where its query model forbids extra keys.

A client that mistypes a filter (``?staus=open`` for ``status``) or uses one the endpoint does not declare
would otherwise get the answer of a request without it (a whole unfiltered list, with a 200; a whole item for
``?fields=title``): a silent wrong answer. An endpoint declared with ``refuse_unknown_query=True`` (on itself
or on its :class:`~erlen_api.Api`), or with a query model (``Annotated[Model, Query()]``) whose pydantic config
says ``extra="forbid"``, refuses them instead, as pydantic refuses extra keys in a body: an error of type
``extra_forbidden`` for each, naming it and the parameters accepted (``none`` when it reads none). Every
operation of a :class:`~erlen_api.Resource` is such an endpoint. erlen-api reads no query parameter of its own
on any endpoint, so there is none to accept besides an endpoint's.
"""

from __future__ import annotations

import difflib
import typing as t
import unicodedata
from collections.abc import Iterable, Sequence

from pydantic import BaseModel

#: The error type of an unknown query parameter: pydantic's own for an extra key a model forbids.
UNKNOWN_PARAMETER_TYPE = "extra_forbidden"

#: How alike an unknown name and an accepted one must be for the error to suggest it (difflib's ratio):
#: ``staus`` for ``status`` is 0.91, ``limt`` for ``limit`` 0.89; ``page`` for ``limit`` is 0.22.
_SUGGESTION_CUTOFF = 0.75


def forbids_extra(annotation: t.Any) -> bool:
    """Whether the query model ``annotation`` forbids keys it does not declare (pydantic's ``extra="forbid"``).

    :param annotation: a pydantic model, a dataclass or a ``TypedDict`` (whose pydantic config, if any, is
        ``__pydantic_config__``: :func:`pydantic.with_config`, a pydantic dataclass's ``config``).
    """
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        config: t.Any = annotation.model_config
    else:
        config = getattr(annotation, "__pydantic_config__", None) or {}
    return bool(config.get("extra") == "forbid")


def unknown_parameter_errors(names: Iterable[str], accepted: Sequence[str]) -> list[dict[str, t.Any]]:
    """The errors of the query parameters among ``names`` that are not ``accepted``, one per name.

    :param names: the names of the request's query parameters, each once (``MultiDict.keys()``), in order.
    :param accepted: the names the endpoint reads, in the order its errors list them.
    """
    known = frozenset(accepted)
    listed = ", ".join(accepted) if accepted else "none"
    by_folded = {_folded(name): name for name in reversed(accepted)}  # the first of names folding alike
    errors = []
    for name in names:
        if name in known:
            continue
        # Quoted with repr(): a name holding a NUL or nothing at all is still visible in the sentence.
        detail = f"The query parameter {name!r} is unknown here"
        # Names are matched exactly; one differing only in case or Unicode form (LIMIT, a ligature's ﬂoor) is the
        # likeliest meant, though difflib finds LIMIT nothing like limit.
        same = by_folded.get(_folded(name))
        close = [same] if same else difflib.get_close_matches(name, accepted, n=1, cutoff=_SUGGESTION_CUTOFF)
        detail += f": did you mean {close[0]!r}?" if close else "."
        errors.append(
            {
                "detail": f"{detail} Accepted: {listed}.",
                "location": "query",
                "parameter": name,
                "type": UNKNOWN_PARAMETER_TYPE,
            }
        )
    return errors


def _folded(name: str) -> str:
    """``name`` without its differences of case and Unicode form (NFKC, then case-folded): ``ﬂoor`` is ``floor``."""
    return unicodedata.normalize("NFKC", name).casefold()
