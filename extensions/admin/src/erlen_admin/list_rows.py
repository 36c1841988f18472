"""The rows of the list page, made in Python once per row instead of piece by piece in the template.

A list page of 20 rows and 4 columns is mostly its table body: done in Jinja, each row
is some 25 separate outputs, each escaped, with a loop context per row to pair a cell
with its column's heading. Here a row is one string: the headings are escaped once per
page, each cell once, and the text around them is joined with them in one step. The
HTML is the same as the template wrote (cells labelled for the phone layout, the
checkbox and the row links named for screen readers).

A project that overrides ``admin/list.html`` gets each row's parts too (``rows``, a list of
:class:`ListRow`, and ``labels``), to write its own markup instead of ``{{ rows_html }}``.
"""

from __future__ import annotations

import typing as t

from markupsafe import escape


class ListRow(t.NamedTuple):
    """A row of the list page, for templates that write rows their own way.

    :param ident: the row's primary key.
    :param cells: its cells' values, in the order of the view's ``list_columns`` (plain text, escaped when
        written, or :class:`~markupsafe.Markup`: a link); ``labels`` in the page's context are their headings.
    :param detail_url: the link to its detail page.
    :param edit_url: the link to its edit page, or ``None`` when the user may not edit.
    """

    ident: t.Any
    cells: list[t.Any]
    detail_url: str
    edit_url: str | None


class RowWriter:
    """Writes the rows of one list page; what is the same on every row is escaped once, here.

    :param labels: the headings of the listed columns, in order.
    :param name: the model's name in lower case (``"note"``), for the row links' screen-reader text.
    :param selectable: whether rows have a checkbox (the view has bulk actions the user may run).
    """

    def __init__(self, labels: t.Sequence[str], name: str, selectable: bool) -> None:
        self.labels = list(labels)
        self._cell_starts = [f'<td data-label="{escape(label)}">' for label in self.labels]
        self._name = str(escape(name))
        self._selectable = selectable
        self._count = 0

    def row(self, ident: t.Any, values: t.Sequence[t.Any], detail_url: str, edit_url: str | None) -> str:
        """The HTML of the next row of the page: its ``<tr>`` element.

        :param ident: the row's primary key.
        :param values: its cells' values (text, or Markup kept as is), in the order of the labels.
        :param detail_url: the link to its detail page.
        :param edit_url: the link to its edit page, or ``None``.
        """
        self._count += 1
        # An integer key (the usual one) is digits: nothing to escape.
        key = str(ident) if type(ident) is int else str(escape(ident))
        # The row's name for screen readers: "note 12", after "View", "Edit" and "Select".
        spoken = f"{self._name} {key}"
        select = (
            f'<td class="select"><input type="checkbox" name="ids" value="{key}" id="select-{self._count}" '
            f'aria-label="Select {spoken}"></td>'
            if self._selectable
            else ""
        )
        cells = "".join(
            [f"{start}{escape(value)}</td>" for start, value in zip(self._cell_starts, values, strict=True)]
        )
        edit = (
            ""
            if edit_url is None
            else f'<a href="{escape(edit_url)}">Edit<span class="visually-hidden"> {spoken}</span></a>'
        )
        return (
            f"\n      <tr>\n        {select}\n        {cells}\n        "
            f'<td class="row-links"><a href="{escape(detail_url)}">View<span class="visually-hidden"> {spoken}</span>'
            f"</a>\n          {edit}</td>\n      </tr>\n      "
        )
