"""The hook specifications of the forms plugin.

Plugins implement them with :data:`erlen.hookimpl`. A plugin that works with
or without the forms plugin marks its implementations
``@erlen.hookimpl(optionalhook=True)``, so it still loads when ``forms`` is
not enabled.
"""

# The specifications are stubs: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping

from erlen import hookspec

if t.TYPE_CHECKING:
    from sqlalchemy import Column, Select, Table

    from .extension import FormExtension
    from .form import Form


@hookspec
def erlen_forms_extend(form_id: str, form_class: type[Form]) -> FormExtension | Iterable[FormExtension] | None:
    """Add fields and validators to a form that another plugin defines.

    Called once per app and form class, the first time the form is
    instantiated; the extended class is cached. Return ``None`` for forms the
    plugin does not extend:

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_forms_extend(form_id):
            if form_id == "auth.register":
                return erlen_forms.FormExtension(
                    fields={"accept_terms": BooleanField("I accept the terms", [DataRequired()])},
                    validators={"email": [Length(max=200)]},
                )

    :param form_id: the form's ``form_id``, such as ``"auth.register"``.
    :param form_class: the form's class as its plugin defines it.
    :returns: a :class:`erlen_forms.FormExtension`, a list of them, or ``None``.
    """


@hookspec
def erlen_forms_csrf_exempt() -> Mapping[str, str]:
    """Exempt endpoints or whole blueprints of the plugin from CSRF checks.

    For views authenticated by something other than the session cookie (an
    API token, a webhook signature), when the plugin would rather not import
    :func:`erlen_forms.csrf_exempt`. Return names mapped to the reason:

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_forms_csrf_exempt():
            return {"api": "authenticated by bearer token", "hooks.stripe": "signed by Stripe"}

    A name is an endpoint (``"hooks.stripe"``) or a blueprint name (``"api"``),
    which exempts every endpoint of the blueprint.
    """


@hookspec(firstresult=True)
def erlen_forms_fk_search_allowed(table: Table, column: Column[t.Any]) -> bool | None:
    """Decide whether the current request may search the rows a foreign key refers to.

    The search endpoint of model forms (``erlen_forms.fk_search``) returns
    the keys and labels of the rows of the table that ``table.column``
    refers to. The first plugin to return ``True`` or ``False`` decides;
    when none does, the setting ``FORMS_FK_SEARCH_PUBLIC`` does (off by
    default). An admin plugin allows it to its staff:

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_forms_fk_search_allowed(table, column):
            return current_user_is_staff() or None

    :param table: the table holding the foreign key.
    :param column: the foreign-key column.
    """


@hookspec
def erlen_forms_fk_search_rows(table: Table, column: Column[t.Any], statement: Select[t.Any]) -> Select[t.Any] | None:
    """Narrow the rows the search endpoint may return for the current request (called once it is allowed).

    ``statement`` reads the key and label of the rows that ``table.column`` refers to. A plugin returns it with
    conditions added (the same columns; an admin view's row scope), or ``None`` to leave it as is. Every
    plugin's narrowing applies: the search returns only the rows that each statement returned keeps, so one
    plugin's narrowing never undoes another's (a row scope stays in force whatever else narrows the search).

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_forms_fk_search_rows(table, column, statement):
            if column.name == "team_id":
                return statement.where(Team.id == current_user.team_id)
            return None

    :param table: the table holding the foreign key.
    :param column: the foreign-key column.
    :param statement: the ``SELECT`` of the referred-to rows' key and label.
    """
