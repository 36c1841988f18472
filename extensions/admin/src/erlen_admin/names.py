"""How the admin writes a dotted name, such as the permission ``admin.notes_note.create``: breakable where a person
would break it.

A name has no spaces, so a box too narrow for it (a role's page on a phone) broke it at whichever letter reached
the edge ("admin.notes_note.creat" and "e" on the next line). :func:`breakable_name` gives the browser a place to
break after each separator instead; a part that still does not fit breaks where it must (``overflow-wrap``).
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

#: The separators of a dotted name, after which a line may break.
_SEPARATOR = re.compile(r"([._])")


def breakable_name(name: str) -> Markup:
    """``name``, escaped, with a ``<wbr>`` (a line break opportunity, invisible and not copied) after each ``.``
    and ``_``: the template filter ``admin_breakable_name``.

    :param name: a dotted name, such as ``admin.notes_note.create``.
    """
    return Markup(_SEPARATOR.sub(r"\1<wbr>", str(escape(name))))
