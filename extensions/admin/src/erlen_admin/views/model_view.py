"""Model views: the admin's list, detail, create, edit and delete pages of one mapped class."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import re
import typing as t
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy import types as satypes
from sqlalchemy.orm import Mapper

from erlen import ErlenError
from erlen_db import integer_range, python_type_of
from erlen_forms import is_sensitive

from ..actions import DELETE_SELECTED, OPERATIONS, Action
from ..object_actions import ObjectAction
from ..timestamps import time_tag
from .panels import Panel
from .query_filters import QueryFilter

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

#: The operations a model view checks a permission for: those of bulk actions, and the CSV export.
MODEL_OPERATIONS = (*OPERATIONS, "export")

#: ``scope(statement, user) -> statement``: a model view's row scope (see ``ModelView(scope=...)``).
Scope = Callable[[sa.Select[t.Any], t.Any], sa.Select[t.Any]]


class AdminConfigError(ErlenError, ValueError):
    """A model view or page is configured with something the admin cannot do safely; stops the app at startup."""


@dataclass(frozen=True)
class FilterSpec:
    """A filter of a list page: equality on one column.

    :param key: the column attribute.
    :param label: shown next to the control.
    :param choices: ``(value, label)`` pairs for a select; ``None`` for a text input.
    """

    key: str
    label: str
    choices: tuple[tuple[str, str], ...] | None


class ModelView:
    """The admin pages of one SQLAlchemy mapped class.

    :param model: the mapped class (single-column primary key).
    :param name: the singular name people see; from the class name by default.
    :param plural: the plural name; ``name + "s"`` by default. It names the rows wherever they are counted
        ("5 audit entries in all"), so it is a plural noun, not a title.
    :param heading: the list page's heading and the links to it (the navigation, the dashboard, breadcrumbs)
        when the rows together have a name of their own ("Audit log"); :attr:`plural` by default.
    :param slug: the URL part and the middle of the permission names
        (``admin.<slug>.view``); the table name by default.
    :param list_columns: the column attributes the list shows; the first few by default.
    :param sortable: the columns people may sort by (each ``NOT NULL``; index them on big tables).
    :param default_sort: the list's order, ``"column"`` or ``"-column"``; the primary key, newest first, by default.
    :param search: the text columns the search box looks in (``LIKE %term%``).
    :param filters: columns filtered by equality (selects for booleans and enums), and
        :class:`~erlen_admin.QueryFilter` s for other conditions (a role, ``IS NULL``).
    :param form_columns: the columns of the create and edit forms (``None``: every column but the key and
        the secret-looking ones, whose stored values a form would otherwise send to the browser).
    :param form_exclude: columns left out of the forms.
    :param detail_columns: the columns of the detail page; every non-secret column by default.
    :param formatters: ``{column: function(value) -> str}`` for the list and detail pages.
    :param actions: bulk actions of this view, besides "delete selected".
    :param can_create: offer creating rows.
    :param can_edit: offer editing rows.
    :param can_delete: offer deleting rows (and the bulk delete).
    :param can_export: offer the CSV export.
    :param separate_export_permission: whether the CSV export needs a permission of its own,
        ``admin.<slug>.export``, besides ``view`` (a whole table's rows in one file is a bulk read that a role
        allowed to look rows up may not be meant to make). ``None`` (the default) follows the app's
        ``ADMIN_EXPORT_PERMISSION`` setting, off unless the app turns it on; ``False`` keeps ``view`` enough even
        then. Naming a permission for ``export`` in ``permissions`` makes the export need that one instead.
    :param page_sizes: the page sizes people may choose; the first is the default.
    :param permissions: ``{operation: permission}`` naming, for some operations (``view``, ``create``,
        ``edit``, ``delete``, ``export``), a permission the registering plugin declares itself
        (``{"edit": "auth.manage_users"}``) instead of ``admin.<slug>.<operation>``, which is then not declared.
    :param object_actions: :class:`~erlen_admin.ObjectAction` s offered on the detail page.
    :param panels: :class:`~erlen_admin.Panel` s shown on the detail page under the fields.
    :param export_columns: the columns of the CSV export; the key and ``list_columns`` by default.
    :param scope: ``scope(statement, user) -> statement``: narrows the rows ``user`` (the current user, logged in
        and allowed the operation) may see and touch through this view. ``statement`` is a ``sqlalchemy.Select``
        reading this model's rows (the model itself, or some of its columns); return it with conditions added
        (``statement.where(Note.team_id == user.team_id)``, a ``where`` with an ``EXISTS`` subquery), never other
        columns, ``DISTINCT``, ``GROUP BY`` or ``LIMIT`` (the admin adds its own order, limits and
        ``FOR UPDATE``). The admin applies it wherever the view reads or writes rows: the list (pages, cursors,
        search, filters, sorts and counts; no estimate, which would come from the whole table's statistics), the
        CSV export, the detail, edit and delete pages, bulk and object actions, the dashboard's count (exact),
        erlen-forms' search of this model's rows, and every view's foreign keys to this model (their selects,
        filters and labels: :mod:`erlen_admin.related`). A row outside
        the scope answers as a row that does not exist; a selected one is left out of a bulk action as a row
        deleted meanwhile. A create, edit, bulk or object action that leaves a row outside the scope is rolled
        back (checked after its flush, through the scope), as is one that leaves a row of another scoped model
        outside its views' scopes (:mod:`erlen_admin.scope_check`). A scope that returns the very statement it was given
        (``if user.is_superuser: return statement``) narrows nothing: that user's list is counted and estimated
        as the whole table's.
        ``None`` (the default): every row.

    Subclasses change how rows are made and saved by overriding :meth:`create_form_class`,
    :meth:`edit_form_class`, :meth:`create_object` and :meth:`update_object`.

    A primary key that is also a foreign key (a profile keyed by its user's id) is chosen on the create form,
    as a select of the related rows (a search input on big tables), and shown read-only on the edit form.
    """

    def __init__(
        self,
        model: type,
        *,
        name: str | None = None,
        plural: str | None = None,
        heading: str | None = None,
        slug: str | None = None,
        list_columns: Sequence[str] | None = None,
        sortable: Sequence[str] | None = None,
        default_sort: str | None = None,
        search: Sequence[str] = (),
        filters: Sequence[str | QueryFilter] = (),
        form_columns: Sequence[str] | None = None,
        form_exclude: Sequence[str] = (),
        detail_columns: Sequence[str] | None = None,
        formatters: Mapping[str, Callable[[t.Any], str]] | None = None,
        actions: Sequence[Action] = (),
        can_create: bool = True,
        can_edit: bool = True,
        can_delete: bool = True,
        can_export: bool = True,
        separate_export_permission: bool | None = None,
        page_sizes: Sequence[int] = (20, 50, 100),
        permissions: Mapping[str, str] | None = None,
        object_actions: Sequence[ObjectAction] = (),
        panels: Sequence[Panel] = (),
        export_columns: Sequence[str] | None = None,
        scope: Scope | None = None,
    ) -> None:
        try:
            mapper = t.cast(Mapper[t.Any], sa.inspect(model))
        except sa.exc.NoInspectionAvailable:
            raise AdminConfigError(f"{model!r} is not a SQLAlchemy mapped class.") from None
        self.model = model
        self.mapper = mapper
        self.table = t.cast(sa.Table, mapper.local_table)
        if len(mapper.primary_key) != 1:
            raise AdminConfigError(f"{model.__name__}: the admin needs a single-column primary key.")
        self.columns: dict[str, sa.Column[t.Any]] = {
            prop.key: prop.columns[0] for prop in mapper.column_attrs if isinstance(prop.columns[0], sa.Column)
        }
        pk_column = mapper.primary_key[0]
        pk_keys = [key for key, column in self.columns.items() if column is pk_column]
        if not pk_keys:
            # A joined-table inheritance subclass: its key is its base table's column, and its own table holds
            # only part of each row, which the list, the forms and the scopes do not join.
            raise AdminConfigError(
                f"{model.__name__} inherits {mapper.inherits.class_.__name__ if mapper.inherits else 'a mapper'}'s "
                "table (joined-table inheritance), which the admin does not support: register a view of the base "
                "class, or map the class to a table of its own."
            )
        self.pk_key = pk_keys[0]
        self.pk_column = pk_column
        self.name = name or re.sub(r"(?<!^)(?=[A-Z])", " ", model.__name__).lower().capitalize()
        self.plural = plural or f"{self.name}s"
        self.heading = heading or self.plural
        self.slug = slug or self.table.name.lower()
        if not _SLUG.match(self.slug):
            raise AdminConfigError(f"{model.__name__}: slug {self.slug!r} must be lower-case letters, digits, - or _.")
        # Columns whose names suggest a secret are never listed, shown or exported unless asked for.
        visible = [key for key in self.columns if not is_sensitive(key)]
        self.list_columns = list(list_columns) if list_columns is not None else visible[:6]
        self.detail_columns = list(detail_columns) if detail_columns is not None else visible
        self.sortable = list(sortable) if sortable is not None else [self.pk_key]
        if self.pk_key not in self.sortable:
            self.sortable.append(self.pk_key)
        self.search = list(search)
        self.filter_keys = [key for key in filters if isinstance(key, str)]
        #: The filters that are not equality on a column, by key.
        self.query_filters = {item.key: item for item in filters if isinstance(item, QueryFilter)}
        clash = set(self.query_filters) & set(self.filter_keys)
        if clash:
            raise AdminConfigError(f"{model.__name__}: two filters use the key {sorted(clash)[0]!r}.")
        self.permission_names = dict(permissions or {})
        for operation in self.permission_names:
            if operation not in MODEL_OPERATIONS:
                raise AdminConfigError(
                    f"{model.__name__}: permissions names the operation {operation!r}; "
                    f"operations are {', '.join(MODEL_OPERATIONS)}."
                )
        self.object_actions: list[ObjectAction] = []
        self.panels = list(panels)
        self.form_columns = list(form_columns) if form_columns is not None else None
        self.form_exclude = list(form_exclude)
        self.formatters = dict(formatters or {})
        self.can_create = can_create
        self.can_edit = can_edit
        self.can_delete = can_delete
        self.can_export = can_export
        self.separate_export_permission = separate_export_permission
        #: Whether the export needs ``admin.<slug>.export``: :attr:`separate_export_permission`, or the app's
        #: ``ADMIN_EXPORT_PERMISSION`` when that is ``None`` (the registry sets it when it takes the view).
        self.export_separately = bool(separate_export_permission) or "export" in self.permission_names
        self.page_sizes = [int(size) for size in page_sizes]
        if not self.page_sizes or any(not 1 <= size <= 1000 for size in self.page_sizes):
            raise AdminConfigError(f"{model.__name__}: page sizes must be between 1 and 1000.")
        default_export = self.list_columns if self.pk_key in self.list_columns else [self.pk_key, *self.list_columns]
        self.export_columns = list(export_columns) if export_columns is not None else default_export
        if scope is not None and not callable(scope):
            raise AdminConfigError(
                f"{model.__name__}: scope must be a function scope(statement, user) returning the statement "
                f"narrowed, not {type(scope).__name__}."
            )
        self.scope = scope
        #: Whether the primary key is a foreign key, chosen on the create form (the database cannot make it).
        self.key_in_form = len(pk_column.foreign_keys) == 1
        for key in [
            *self.list_columns,
            *self.detail_columns,
            *self.sortable,
            *self.search,
            *self.filter_keys,
            *self.export_columns,
        ]:
            if key not in self.columns:
                raise AdminConfigError(
                    f"{model.__name__} has no column attribute {key!r}; its columns: {', '.join(self.columns)}."
                )
        for key in self.sortable:
            if self.columns[key].nullable and key != self.pk_key:
                raise AdminConfigError(
                    f"{model.__name__}.{key} may hold NULL, so it cannot be a keyset sort column; "
                    "make it NOT NULL or leave it out of sortable."
                )
        for key in self.search:
            if not isinstance(self.columns[key].type, satypes.String):
                raise AdminConfigError(f"{model.__name__}.{key}: only text columns can be searched.")
        self._refuse_probing_secrets()
        sort = default_sort or f"-{self.pk_key}"
        if sort.lstrip("-") not in self.sortable:
            raise AdminConfigError(f"{model.__name__}: default_sort {sort!r} is not a sortable column.")
        self.default_sort = sort
        self.actions: list[Action] = ([DELETE_SELECTED] if can_delete else []) + list(actions)
        self.filters: list[FilterSpec | QueryFilter] = [
            self._filter_spec(item) if isinstance(item, str) else item for item in filters
        ]
        self.add_actions(object_actions)
        #: The plugin that registered the view; set by the registry.
        self.plugin = ""
        self._form_classes: dict[bool, t.Any] = {}

    def _refuse_probing_secrets(self) -> None:
        """Refuse searching, filtering or sorting on a secret-looking column the view does not show.

        Each answers a question about the hidden values (``LIKE %a%``, ``= 'x'``, an order, and the sort value in
        the next page's cursor): whoever may view the list could work a password hash or a token out one guess
        at a time. A view that shows the column (``list_columns`` or ``detail_columns``) has chosen to reveal it.

        :raises AdminConfigError: such a column is in ``search``, ``filters`` or ``sortable``.
        """
        shown = {*self.list_columns, *self.detail_columns}
        for option, keys in (("search", self.search), ("filters", self.filter_keys), ("sortable", self.sortable)):
            for key in keys:
                if is_sensitive(key) and key not in shown and key != self.pk_key:
                    raise AdminConfigError(
                        f"{self.model.__name__}.{key} looks like a secret, which the admin does not show, yet it is "
                        f"in {option}: anyone who may view the list could work its values out one guess at a time. "
                        f"Leave it out of {option}, or show it (list_columns or detail_columns) if it is no secret."
                    )

    # -- permissions -------------------------------------------------------------------------------------------------

    def permission(self, operation: str) -> str:
        """The permission name of ``operation`` (view, create, edit, delete, export) on this model.

        The export's is the view's unless :attr:`export_separately`.
        """
        if operation not in MODEL_OPERATIONS:
            raise ValueError(f"unknown admin operation {operation!r}")
        if operation == "export" and not self.export_separately:
            return self.permission("view")
        return self.permission_names.get(operation) or f"admin.{self.slug}.{operation}"

    def permissions(self) -> dict[str, str]:
        """The view's own permissions with their descriptions, for erlen-auth's registry (not those it borrows).

        Only the operations the view offers: a read-only view (the audit log, ``can_edit=False``) declaring
        ``edit`` would put a permission on the role page that grants nothing.
        """
        operations = [*OPERATIONS, *(["export"] if self.export_separately else [])]
        return {
            self.permission(op): f"Admin: {op} {self.plural.lower()}"
            for op in operations
            if self.offers(op) and op not in self.permission_names
        }

    def offers(self, operation: str) -> bool:
        """Whether the view offers ``operation`` at all (``can_create=False`` turns creating off)."""
        offered = {
            "create": self.can_create,
            "edit": self.can_edit,
            "delete": self.can_delete,
            "export": self.can_export,
        }
        return offered.get(operation, True)

    def allows(self, user: t.Any, operation: str) -> bool:
        """Whether ``user`` may do ``operation``; ``False`` for operations the view does not offer.

        Exporting needs ``view`` as well as the export's own permission (a file of the rows one may not see).
        """
        if not (self.offers(operation) and bool(user.is_authenticated)):
            return False
        if operation == "export" and not user.can(self.permission("view")):
            return False
        return bool(user.can(self.permission(operation)))

    def add_actions(self, actions: Iterable[Action | ObjectAction], plugin: str = "") -> None:
        """Add bulk and object actions (those plugins give through ``erlen_admin_actions``).

        :param actions: the actions.
        :param plugin: the plugin giving them, for the actions that do not name one.
        """
        names = {action.name for action in self.actions}
        for action in actions:
            if isinstance(action, ObjectAction):
                self._add_object_action(action, plugin)
                continue
            if not isinstance(action, Action):
                raise AdminConfigError(
                    f"Plugin {plugin!r}: erlen_admin_actions must return Action objects, not {type(action).__name__}."
                )
            action = action if action.plugin or not plugin else replace(action, plugin=plugin)
            if action.name in names:
                raise AdminConfigError(f"{self.model.__name__}: two bulk actions are named {action.name!r}.")
            names.add(action.name)
            self.actions.append(action)

    def _add_object_action(self, action: ObjectAction, plugin: str) -> None:
        if any(found.name == action.name for found in self.object_actions):
            raise AdminConfigError(f"{self.model.__name__}: two object actions are named {action.name!r}.")
        self.object_actions.append(action if action.plugin or not plugin else replace(action, plugin=plugin))

    def action(self, name: str) -> Action | None:
        """The bulk action called ``name``, if the view has one."""
        return next((action for action in self.actions if action.name == name), None)

    def object_action(self, name: str) -> ObjectAction | None:
        """The object action called ``name``, if the view has one."""
        return next((action for action in self.object_actions if action.name == name), None)

    def coerce_filter(self, key: str, raw: str, dialect: str | None = None) -> t.Any:
        """``raw`` as a value of the filter ``key`` (a column's or a :class:`QueryFilter`'s).

        :raises ValueError: it is not one.
        """
        found = self.query_filters.get(key)
        return found.coerce(raw) if found is not None else self.coerce(key, raw, dialect)

    def filter_label(self, key: str) -> str:
        """The label of the filter ``key``."""
        found = self.query_filters.get(key)
        return found.label if found is not None else self.label(key)

    # -- rows ------------------------------------------------------------------------------------------------------

    def scoped(self, statement: sa.Select[t.Any], user: t.Any) -> sa.Select[t.Any]:
        """``statement`` narrowed by the view's ``scope`` to the rows ``user`` may see; as is without a scope.

        :param statement: a ``SELECT`` of this model's rows (or of some of its columns).
        :param user: the user the rows are for (the current user).
        :raises AdminConfigError: the scope returned something other than a ``Select``.
        :raises ValueError: ``user`` is ``None``: a scoped view's rows are always read for someone.
        """
        if self.scope is None:
            return statement
        if user is None:
            raise ValueError(f"Admin view {self.slug!r} has a scope: read its rows for a user (user=...), not None.")
        narrowed = self.scope(statement, user)
        if not isinstance(narrowed, sa.Select):
            raise AdminConfigError(
                f"Admin view {self.slug!r}: its scope returned {type(narrowed).__name__}, not a Select; return the "
                "statement it is given with conditions added (statement.where(...))."
            )
        return narrowed

    def narrows(self, user: t.Any) -> bool:
        """Whether the scope narrows the rows for ``user``: ``False`` without a scope, or when it returns the
        statement it is given (a superuser's), whose list is then counted and estimated as the whole table's.

        :param user: the user the rows are for.
        """
        if self.scope is None:
            return False
        probe: sa.Select[t.Any] = sa.select(self.model)
        return self.scoped(probe, user) is not probe

    # -- columns -----------------------------------------------------------------------------------------------------

    def attribute(self, key: str) -> t.Any:
        """The mapped attribute ``key`` (``Model.key``), for statements."""
        return getattr(self.model, key)

    def label(self, key: str) -> str:
        """A column's heading."""
        column = self.columns[key]
        name = key.removesuffix("_id") if column.foreign_keys and key != "_id" else key
        return str(column.info.get("label") or name.replace("_", " ").capitalize())

    def foreign_key(self, key: str) -> sa.Column[t.Any] | None:
        """The column that ``key`` refers to, for single foreign keys."""
        keys = tuple(self.columns[key].foreign_keys)
        return keys[0].column if len(keys) == 1 else None

    def coerce(self, key: str, raw: str, dialect: str | None = None) -> t.Any:
        """``raw`` as a value of column ``key`` that the database can store.

        :param key: the column attribute.
        :param raw: the text from the URL or form.
        :param dialect: the database's dialect name (``"postgresql"``), for the range of integers.
        :raises ValueError: it is not one.
        """
        return coerce_value(self.columns[key], raw, dialect)

    def pk_of(self, obj: t.Any) -> t.Any:
        """The primary key value of ``obj``."""
        return getattr(obj, self.pk_key)

    def describe(self, obj: t.Any) -> str:
        """A short text naming ``obj`` (its ``__str__`` when it has one of its own)."""
        if type(obj).__str__ is not object.__str__:  # type: ignore[comparison-overlap]
            return str(obj)[:200]
        return f"{self.name} {self.pk_of(obj)}"

    def title(self, obj: t.Any) -> str:
        """``obj`` named for a sentence or a heading, with the model's name said once.

        ``Note 26`` for a model without ``__str__``, ``Note 26`` too when ``__str__`` already begins with
        the name, otherwise the name and the text in quotes: ``Note “Shopping list”``.
        """
        text = self.describe(obj)
        if text.lower().startswith(self.name.lower()):
            return text
        return f"{self.name} “{text}”"

    def display(self, key: str, value: t.Any) -> str:
        """The text of ``value`` in column ``key`` (escaped by the templates), as the CSV export writes it."""
        formatter = self.formatters.get(key)
        if formatter is not None:
            return formatter(value)
        return display_value(value)

    def display_html(self, key: str, value: t.Any) -> str | Markup:
        """``value`` in column ``key`` on a page: :meth:`display`'s text, but a time in the admin's one format, in a
        ``<time>`` element giving the exact value (:mod:`erlen_admin.timestamps`).

        :param key: the column attribute.
        :param value: the value.
        """
        if key not in self.formatters and isinstance(value, dt.datetime):
            return time_tag(value)
        return self.display(key, value)

    def form_class(self, creating: bool = False) -> t.Any:
        """The create or edit form, built once each by erlen-forms' ``model_form``.

        :param creating: the create form, which has a field for a primary key that is a foreign key
            (:attr:`key_in_form`); the edit form never has one.
        """
        creating = creating and self.key_in_form
        form_class = self._form_classes.get(creating)
        if form_class is None:
            from erlen_forms import model_form

            fields = {self.pk_key: self._key_field()} if creating else {}
            exclude = list(self.form_exclude)
            if self.form_columns is None:
                # A secret's stored value (a password hash, a session token) would be sent as the input's
                # value; edit such columns only when the view lists them in form_columns.
                exclude += [key for key in self.columns if is_sensitive(key) and key not in exclude]
            if not creating and self.pk_key not in exclude:
                exclude.append(self.pk_key)  # a row's key is never edited
            only = self.form_columns
            if only is not None and creating and self.pk_key not in only:
                only = [self.pk_key, *only]
            form_class = self._form_classes[creating] = model_form(
                self.model, only=only, exclude=exclude, fields=fields
            )
        return form_class

    def _key_field(self) -> t.Any:
        """The create form's field for a primary key that is a foreign key: a required select of the rows."""
        from wtforms.validators import InputRequired

        from erlen_forms import ModelSelectField, Unique

        target = self.label(self.pk_key).lower()
        taken = f"This {target} already has a {self.name.lower()}; choose another."
        return ModelSelectField(
            self.label(self.pk_key),
            [InputRequired(), Unique(self.model, self.pk_key, message=taken)],
            column=self.columns[self.pk_key],
            blank_text=f"Choose the {target}",
            description=f"The {target} this {self.name.lower()} belongs to; it cannot be changed later.",
        )

    def create_form_class(self) -> t.Any:
        """The form of the create page; :meth:`form_class` with ``creating=True`` by default."""
        return self.form_class(creating=True)

    def edit_form_class(self) -> t.Any:
        """The form of the edit page (made with ``obj=``); :meth:`form_class` by default."""
        return self.form_class()

    def create_object(self, form: t.Any, session: t.Any) -> t.Any:
        """Make the object of a validated create form and add it to ``session`` (the admin flushes,
        records and commits). By default, a new model instance filled by ``form.populate_obj``.

        It may add or change other rows too (and flush them): every row of a scoped model it writes must be in
        the user's scope after the save, or the whole save is rolled back and the form says which rows.

        :param form: the validated form.
        :param session: the request's database session.
        """
        obj = self.model()
        form.populate_obj(obj)
        session.add(obj)
        return obj

    def update_object(self, form: t.Any, obj: t.Any) -> None:
        """Apply a validated edit form to ``obj`` (the admin records and commits); ``form.populate_obj`` by default.

        It may change or add other rows too (and flush them): every row of a scoped model it writes must be in
        the user's scope after the save, or the whole save is rolled back and the form says which rows.

        :param form: the validated form.
        :param obj: the object being edited.
        """
        form.populate_obj(obj)

    def _filter_spec(self, key: str) -> FilterSpec:
        column = self.columns[key]
        choices: tuple[tuple[str, str], ...] | None = None
        if isinstance(column.type, satypes.Boolean):
            choices = (("1", "Yes"), ("0", "No"))
        elif isinstance(column.type, satypes.Enum):
            enum_class = column.type.enum_class
            if enum_class is not None:
                choices = tuple((member.name, str(member.value)) for member in enum_class)
            else:
                choices = tuple((str(value), str(value)) for value in column.type.enums)
        return FilterSpec(key, self.label(key), choices)

    def __repr__(self) -> str:
        return f"<ModelView {self.slug} of {self.model.__name__}>"


#: The widest decimal PostgreSQL's ``numeric`` stores: digits before the point, digits after it.
_NUMERIC_DIGITS = (131072, 16383)


def _decimal(column: sa.Column[t.Any], raw: str, dialect: str | None) -> decimal.Decimal:
    try:
        value = decimal.Decimal(raw)
    except decimal.InvalidOperation:
        raise ValueError(raw) from None
    if not value.is_finite():
        raise ValueError(raw)
    if dialect in (None, "sqlite") or value.is_zero():
        return value
    digits = value.adjusted() + 1  # digits before the point
    precision, scale = getattr(column.type, "precision", None), getattr(column.type, "scale", None) or 0
    if precision is not None and digits > precision - scale:
        raise ValueError(raw)
    if digits > _NUMERIC_DIGITS[0] or -t.cast(int, value.as_tuple().exponent) > _NUMERIC_DIGITS[1]:
        raise ValueError(raw)
    return value


def coerce_value(column: sa.Column[t.Any], raw: str, dialect: str | None = None) -> t.Any:
    """``raw`` (from a URL) as a Python value of ``column``'s type that the database can store.

    :param column: the column.
    :param raw: the text.
    :param dialect: the database's dialect name, for the range of integers and decimals; ``None``: the widest.
    :raises ValueError: ``raw`` is not such a value.
    """
    kind = column.type
    if isinstance(kind, satypes.Boolean):
        if raw in ("1", "true", "yes"):
            return True
        if raw in ("0", "false", "no"):
            return False
        raise ValueError(raw)
    if isinstance(kind, satypes.Enum):
        enum_class = kind.enum_class
        if enum_class is not None:
            return enum_class[raw]
        if raw in kind.enums:
            return raw
        raise ValueError(raw)
    python_type = python_type_of(column)
    if python_type is None:
        return raw
    if python_type is bool:
        return coerce_value(sa.Column(sa.Boolean()), raw)
    if python_type is int:
        number = int(raw)
        if number not in integer_range(column, dialect):
            raise ValueError(raw)
        return number
    if python_type is decimal.Decimal:
        return _decimal(column, raw, dialect)
    if python_type is float:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return value
    if python_type in (dt.datetime, dt.date, dt.time):
        return python_type.fromisoformat(raw)
    if python_type is uuid.UUID:
        return uuid.UUID(raw)
    if python_type is str:
        if "\x00" in raw:
            raise ValueError("NUL character")
        return raw
    return raw


def display_value(value: t.Any) -> str:
    """A plain-text rendering of a stored value."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return str(value)
