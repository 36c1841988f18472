"""The admin's views: dashboard, model pages, bulk actions, export and custom pages.

:mod:`erlen_admin.blueprint` registers them (and checks ``admin.access`` before
each); this module is imported by the first request one of them answers.
"""

from __future__ import annotations

import functools
import typing as t

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from werkzeug.exceptions import HTTPException

import erlen_db
import erlen_forms
from erlen_db import InvalidCursorError

from . import (
    audit,
    counting,
    denied,
    edit_guard,
    export,
    filters,
    list_urls,
    listing,
    refusals,
    related,
    row_locks,
    scope_check,
)
from .actions import Action
from .list_rows import ListRow, RowWriter
from .object_actions import ActionRefused
from .object_routes import object_extras
from .views.model_view import ModelView
from .views.registry import registry_of
from .widgets import Widget

#: The most objects one bulk action takes.
MAX_BULK = 1000


def _view(slug: str, operation: str) -> ModelView:
    view = registry_of().models.get(slug)
    if view is None:
        abort(404)
    if not view.offers(operation):
        abort(404)
    if not view.allows(current_user, operation):
        denied.refuse(denied.missing_permission(view, current_user, operation))
    return view


def _dialect() -> str:
    """The name of the database's dialect, so values it cannot store are refused before a query."""
    return erlen_db.session.get_bind().dialect.name


def _object(view: ModelView, ident: str, *, lock: bool = False) -> t.Any:
    """The object ``ident`` of ``view``, or a 404.

    :param view: the model view.
    :param ident: the primary key, as in the URL.
    :param lock: see :func:`find_object`.
    """
    obj = find_object(view, ident, lock=lock)
    if obj is None:
        abort(404)
    return obj


def find_object(view: ModelView, ident: str, *, lock: bool = False, deleting: bool = False) -> t.Any | None:
    """The object ``ident`` of ``view``; ``None`` when no row has that key (a form posted for a row deleted since
    its page was shown), a 404 when ``ident`` is no value the key can hold.

    :param view: the model view.
    :param ident: the primary key, as in the URL.
    :param lock: hold it until this request's transaction ends, so that nobody changes or deletes it in between
        (``FOR NO KEY UPDATE``; SQLite's write lock, see :mod:`erlen_admin.row_locks`).
    :param deleting: the row is held to be deleted: ``FOR UPDATE``, which also keeps others from referring to it.

    A row outside the view's ``scope`` for the current user is not found: ``None``, as for a key no row has.
    """
    dialect = _dialect()
    try:
        key = view.coerce(view.pk_key, ident, dialect)
    except (ValueError, KeyError, TypeError):
        abort(404)
    session = erlen_db.session
    if view.scope is not None:
        # Read through the scope, never from the identity map: an object loaded there is no proof of scope.
        statement = view.scoped(sa.select(view.model), current_user._get_current_object())
        statement = statement.where(view.attribute(view.pk_key) == key)
        if lock:
            statement = row_locks.locking(session, statement, view.model, deleting=deleting)
            statement = statement.execution_options(populate_existing=True)
        return session.execute(statement).scalars().first()
    if lock and dialect == "sqlite":
        # SQLite has no row locks (FOR UPDATE is not even rendered): the write lock, taken before the read.
        row_locks.hold_sqlite_write_lock(session)
    # FOR [NO KEY] UPDATE OF the model's table alone: a relationship loaded with a LEFT OUTER JOIN (lazy="joined")
    # would otherwise be locked too, which PostgreSQL refuses for the join's nullable side.
    held = row_locks.for_update(view.model, deleting=deleting) if lock and dialect != "sqlite" else None
    return session.get(view.model, key, with_for_update=held, populate_existing=lock)


def index() -> str:
    user = current_user
    registry = registry_of()
    groups = []
    for group in registry.groups:
        models = [view for view in group.models if view.allows(user, "view")]
        pages = [page for page in group.pages if page.allowed(user)]
        if models or pages:
            groups.append((group.title, models, pages))
    widgets = [(widget, _render_widget(widget)) for widget in registry.widgets if widget.allowed(user)]
    return render_template("admin/index.html", groups=groups, widgets=widgets)


def _render_widget(widget: Widget) -> Markup | None:
    """A dashboard widget's HTML, or ``None`` (logged, naming its plugin) when its function raises."""
    try:
        return Markup(widget.render())
    except HTTPException:
        raise
    except Exception as exc:
        if erlen_db.is_unavailable(exc):
            raise  # the database, not the plugin: erlen-db answers 503
        current_app.logger.exception(
            "Admin dashboard widget %r of plugin %r failed; the dashboard shows a notice instead.",
            widget.slug,
            widget.plugin,
        )
        return None


def fk_link(view: ModelView, key: str, value: t.Any, labels: dict[t.Any, str]) -> Markup | str:
    """A foreign-key value as a link to the related row's admin page, when there is one the user may see.

    A related row ``labels`` has no entry for (outside its view's scope for the user, see
    :mod:`erlen_admin.related`) is its bare key, without a link.
    """
    if value is None:
        return view.display_html(key, value)
    remote = view.foreign_key(key)
    text = listing.related_text(value, labels)
    if remote is None or value not in labels:
        return text
    views = registry_of().views_for_table(remote.table.name)
    target = next((found for found in views if found.allows(current_user, "view")), None)
    if target is None or remote.key != target.pk_column.key:
        return text
    # Escaped parts in an f-string: what Markup.format does, without its pure-Python formatter (one link per row).
    return Markup(f'<a href="{escape(url_for("admin.detail", slug=target.slug, ident=value))}">{escape(text)}</a>')


def list_view(slug: str) -> t.Any:
    view = _view(slug, "view")
    params = listing.parse(view, request.args, _dialect())
    for message in params.errors:
        flash(message, "warning")
    session = erlen_db.session
    # The user is read through flask-login's proxy once, not on every permission check.
    user = current_user._get_current_object()
    try:
        page = listing.fetch(view, params, session, load=view.list_columns, user=user)
    except InvalidCursorError:
        flash("That page link is no longer valid; here is the first page.", "warning")
        return redirect(url_for("admin.list", slug=slug, **params.query_args()))
    # A scoped list is counted within its scope, and never estimated: an estimate, the whole table's or the
    # planner's of the scoped statement, comes from the whole table's statistics, so it would tell how many rows
    # outside the scope there are, or match a filter or search ("About 3040" for another team, "About 1" for none).
    total = listing.whole_list_count(params, page)
    estimate = None
    if total is None:
        scoped = view.narrows(user)
        narrowed = params.filtered or scoped
        statement = (
            listing.filtered_statement(view, params, _dialect(), user=user) if narrowed or params.count else None
        )
        total = counting.exact(session, statement) if statement is not None and params.count else None
        estimates = current_app.extensions.setdefault(counting.CACHE_KEY, {})
        if total is None and not scoped:
            estimate = counting.estimate(session, view.table, statement, estimates)
    links = {
        key: related_labels
        for key in view.list_columns
        if view.foreign_key(key) is not None
        for related_labels in [listing.related_labels(view, key, page.items, session, user=user)]
    }
    # What is the same on every row is worked out once: the permissions, the headings, the links' pattern.
    can = functools.cache(lambda operation: view.allows(user, operation))
    detail_url = list_urls.row_url_builder("admin.detail", slug)
    edit_url = list_urls.row_url_builder("admin.edit", slug) if can("edit") else None
    actions = [action for action in view.actions if can(action.permission)]
    labels = [view.label(key) for key in view.list_columns]
    writer = RowWriter(labels, view.name.lower(), selectable=bool(actions))
    rows = []
    html = []
    for obj in page.items:
        cells = []
        for key in view.list_columns:
            value = getattr(obj, key)
            cells.append(fk_link(view, key, value, links[key]) if key in links else view.display_html(key, value))
        ident = view.pk_of(obj)
        row = ListRow(ident, cells, detail_url(ident), edit_url(ident) if edit_url else None)
        rows.append(row)
        html.append(writer.row(*row))
    return render_template(
        "admin/list.html",
        view=view,
        params=params,
        page=page,
        rows=rows,
        rows_html=Markup("".join(html)),
        list_url=list_urls.list_url_builder(slug),
        labels=labels,
        total=total,
        estimate=estimate,
        actions=actions,
        fk_filters=filters.controls(view, params, user),
        can=can,
        # The page has two forms that post (log out, bulk actions): one token serves both, signed once.
        csrf_token=functools.cache(erlen_forms.csrf_token),
    )


def export_view(slug: str) -> t.Any:
    view = _view(slug, "view")
    if not view.can_export:
        abort(404)
    if not view.allows(current_user, "export"):
        denied.refuse(
            denied.missing_permission(view, current_user, "export")
        )  # ADMIN_EXPORT_PERMISSION: viewing the rows is not enough to take them all away in a file
    params = listing.parse(view, request.args, _dialect())
    if params.unapplied:
        # The list page shows its rows with a warning; a file exported without the filter asked for would
        # hold rows nobody meant to export, unnoticed. Not the list's messages: they say what was done instead.
        abort(
            400,
            description=f"Nothing was exported: this export cannot apply {'; '.join(params.unapplied)}. "
            "Correct the link, or export from the list page.",
        )
    session = erlen_db.session
    lines = export.rows(view, params, session, user=current_user._get_current_object())
    response = Response(stream_with_context(lines), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{view.slug}.csv"'
    return response


def detail_view(slug: str, ident: str) -> str:
    from .models import AuditEntry

    view = _view(slug, "view")
    obj = _object(view, ident)
    session = erlen_db.session
    user = current_user._get_current_object()
    fields = []
    changes = None
    if isinstance(obj, AuditEntry):
        # What changed, as a before/after table instead of the column's JSON.
        changes = audit.changes_of(obj.action, obj.changes, registry_of().models.get(obj.model))
    for key in view.detail_columns:
        if changes is not None and key == "changes":
            continue
        value = getattr(obj, key)
        if view.foreign_key(key) is not None:
            fields.append(
                (
                    view.label(key),
                    fk_link(view, key, value, listing.related_labels(view, key, [obj], session, user=user)),
                )
            )
        else:
            fields.append((view.label(key), view.display_html(key, value)))
    audit_view = registry_of().models.get("audit")
    history = None
    if audit_view is not None and audit_view.allows(current_user, "view") and view is not audit_view:
        history = url_for("admin.list", slug="audit", f_model=view.slug, f_object_id=str(view.pk_of(obj)))
    return render_template(
        "admin/detail.html",
        view=view,
        obj=obj,
        ident=view.pk_of(obj),
        fields=fields,
        changes=changes,
        history=history,
        can=lambda operation: view.allows(current_user, operation),
        **object_extras(view, obj),
    )


def _form_keys(form: t.Any) -> list[str]:
    return [field.name for field in form if field.name != "csrf_token"]


def create_view(slug: str) -> t.Any:
    view = _view(slug, "create")
    form = view.create_form_class()()
    user = current_user._get_current_object()
    # Foreign keys offer and accept only the related rows the user may see (their views' scopes).
    related.restrict_choices(form, user)
    session = erlen_db.session
    if form.validate_on_submit():
        keys = [key for key in _form_keys(form) if key in view.columns]
        try:
            # The view's create_object may add or change other rows, and flush them itself: each flush is
            # watched, so that every row of a scoped model the save writes is checked (scope_check).
            with scope_check.written_rows(view, user) as written:
                obj = view.create_object(form, session)
                session.flush()
            outside = scope_check.rows_outside(view, [obj, *written], user, written.statements)
            if outside:
                outside = scope_check.undo(view, outside, user)  # rolled back; the rows the user could not see
                form.form_errors.append(scope_check.save_refused(view, obj, outside))
                return render_template("admin/form.html", view=view, form=form, obj=None)
            audit.record(session, view, "create", obj, audit.diff({}, audit.snapshot(view, obj, keys)))
            session.commit()
        except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
            _refused(view, form, keys, exc)
        else:
            flash(f"{view.title(obj)} created.", "success")
            return redirect(url_for("admin.detail", slug=slug, ident=view.pk_of(obj)))
    return render_template("admin/form.html", view=view, form=form, obj=None)


def edit_view(slug: str, ident: str) -> t.Any:
    view = _view(slug, "edit")
    # A save is locked from the stale-edit check to its commit: a change committed in between would be
    # overwritten unseen, the very thing the check is for.
    obj = find_object(view, ident, lock=request.method == "POST")
    if obj is None:
        if request.method == "POST":
            return _deleted_meanwhile(view, ident)  # since the form was opened: not a wrong link
        abort(404)
    form = view.edit_form_class()(obj=obj)
    related.restrict_choices(form, current_user._get_current_object())
    session = erlen_db.session
    keys = [key for key in _form_keys(form) if key in view.columns]
    current = edit_guard.fingerprint(view, obj, keys)
    # The values the user saw: those of the form's first showing, kept through the form's errors.
    loaded = request.form.get(edit_guard.FIELD) if request.method == "POST" else current
    valid = form.validate_on_submit()
    if valid and edit_guard.changed_meanwhile(loaded, current):
        form.form_errors.append(edit_guard.CHANGED_MEANWHILE.format(name=view.name.lower()))
        loaded = current  # a second save, made knowingly, overwrites
        valid = False
    if valid:
        before = audit.snapshot(view, obj, keys)
        outside: list[scope_check.Outside] = []
        try:
            # The view's update_object may change or add other rows, and flush them itself: each flush is
            # watched, so that every row of a scoped model the save writes is checked (scope_check).
            with scope_check.written_rows(view, current_user._get_current_object()) as written:
                view.update_object(form, obj)
                changes = audit.diff(before, audit.snapshot(view, obj, keys))
                session.flush()
            if written.statements.updated:
                # A statement may have changed the row too (its object expired): what the database holds now.
                changes = audit.diff(before, audit.snapshot(view, obj, keys))
            outside = scope_check.rows_outside(
                view, [obj, *written], current_user._get_current_object(), written.statements
            )
            if outside:
                # Rolled back: the form shows the values again, saying why.
                outside = scope_check.undo(view, outside, current_user._get_current_object())
            else:
                if changes:
                    audit.record(session, view, "edit", obj, changes)
                session.commit()
        except StaleDataError:
            # The UPDATE matched no row: someone deleted it after this request loaded it.
            session.rollback()
            return _deleted_meanwhile(view, ident)
        except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
            _refused(view, form, keys, exc)
            try:
                # Reloads the row the rollback expired; SQLite's lock may hide a deletion or another's save.
                now = edit_guard.fingerprint(view, obj, keys)
            except ObjectDeletedError:
                return _deleted_meanwhile(view, ident)
            if isinstance(exc, sa.exc.OperationalError) and edit_guard.changed_meanwhile(loaded, now):
                # SQLite refused to write on a snapshot older than another user's save of this row (one snapshot
                # per request, DB_LONE_READS off): say what happened, as the check would have, not "busy".
                form.form_errors[:] = [edit_guard.CHANGED_MEANWHILE.format(name=view.name.lower())]
                loaded = now
        else:
            if not outside:
                flash(f"{view.title(obj)} saved." if changes else "Nothing changed.", "success")
                return redirect(url_for("admin.detail", slug=slug, ident=view.pk_of(obj)))
            form.form_errors.append(scope_check.save_refused(view, obj, outside))
    key = None
    if view.key_in_form:
        labels = listing.related_labels(view, view.pk_key, [obj], session, user=current_user._get_current_object())
        key = (view.label(view.pk_key), fk_link(view, view.pk_key, view.pk_of(obj), labels))
    return render_template(
        "admin/form.html", view=view, form=form, obj=obj, ident=view.pk_of(obj), key=key, loaded=loaded
    )


def _deleted_meanwhile(view: ModelView, ident: str, outcome: str = "nothing was saved") -> t.Any:
    """Back to the list, saying that the row being edited or deleted was deleted by someone else.

    :param view: the model view.
    :param ident: the row's key, as in the URL.
    :param outcome: what this request did not do.
    """
    flash(f"{view.name} {ident} was deleted by someone else meanwhile; {outcome}.", "error")
    return redirect(url_for("admin.list", slug=view.slug))


def _refused(view: ModelView, form: t.Any, keys: list[str], error: sa.exc.DBAPIError) -> None:
    """Roll back a save the database refused and put its reason on ``form``, on the field it names if any.

    :param view: the model view whose object was being saved.
    :param form: the validated form, shown again.
    :param keys: the form's column attributes.
    :param error: what the flush or commit raised; re-raised unless it is a constraint or SQLite's lock.
    :raises sa.exc.OperationalError: ``error``, when it is not another writer's lock (erlen-db answers 503).
    """
    session = erlen_db.session
    busy = isinstance(error, sa.exc.OperationalError)
    if busy and not erlen_db.is_sqlite_lock(error):
        raise error
    # Rolled back before anything else: the audit entry and the object go with it, and the session is usable
    # again for the look-ups below and for rendering the form.
    session.rollback()
    reason = refusals.BUSY if busy else refusals.explain(error, view, session, {key: form[key].data for key in keys})
    if reason.field is not None:
        form[reason.field].errors.append(reason.message)
    else:
        form.form_errors.append(reason.message)


def delete_view(slug: str, ident: str) -> t.Any:
    view = _view(slug, "delete")
    if request.method != "POST":
        obj = _object(view, ident)
        return render_template("admin/confirm_delete.html", view=view, obj=obj, ident=view.pk_of(obj))
    # Held until the commit, so that the audit entry has the values of the row deleted, not of an older read.
    obj = find_object(view, ident, lock=True, deleting=True)
    if obj is None:
        return _deleted_meanwhile(view, ident, "nothing was deleted")
    session = erlen_db.session
    description = view.title(obj)
    audit.record(session, view, "delete", obj, audit.snapshot(view, obj))
    session.delete(obj)
    try:
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
        flash(f"{description} cannot be deleted: other rows refer to it.", "error")
        return redirect(url_for("admin.detail", slug=slug, ident=ident))
    flash(f"{description} deleted.", "success")
    return redirect(url_for("admin.list", slug=slug))


def action_view(slug: str) -> t.Any:
    view = _view(slug, "view")
    action = view.action(request.form.get("action", ""))
    if action is None:
        flash("Choose an action.", "warning")
        return redirect(_back(view))
    if not view.allows(current_user, action.permission):
        denied.refuse(denied.missing_permission(view, current_user, action.permission))
    raw_keys = list(dict.fromkeys(request.form.getlist("ids")))
    if len(raw_keys) > MAX_BULK:
        # Acting on the first MAX_BULK alone would leave the others undone without a word.
        flash(
            f"{action.label}: at most {MAX_BULK:,} rows can be selected at a time, not {len(raw_keys):,}; "
            "narrow the list with a search or filter. Nothing was changed.",
            "warning",
        )
        return redirect(_back(view))
    keys = []
    dialect = _dialect()
    for raw in raw_keys:
        try:
            keys.append(view.coerce(view.pk_key, raw, dialect))
        except (ValueError, KeyError, TypeError):
            flash(f"The selection is not valid: each row must be a {view.name.lower()} of this list.", "warning")
            return redirect(_back(view))
    if not keys:
        flash("Select at least one row.", "warning")
        return redirect(_back(view))
    session = erlen_db.session
    pk = view.attribute(view.pk_key)
    confirming = action.confirm and request.form.get("confirmed") != "1"
    # Through the scope: a selected row outside it is left out, reported as a row deleted meanwhile (as for a key
    # no row has), so that a forged selection neither acts on it nor tells that it exists.
    statement = view.scoped(sa.select(view.model), current_user._get_current_object()).where(pk.in_(keys)).order_by(pk)
    if not confirming:
        # Held until the commit: a row another user deletes or changes meanwhile waits for this action, or is
        # gone before it reads (and left out, said so below); otherwise it would be reported, and audited, as
        # this user's deletion or change. In the key's order, so that two actions lock in the same order. An action
        # that needs the delete permission holds them FOR UPDATE; others FOR NO KEY UPDATE (row_locks).
        deleting = action.permission == "delete"
        statement = row_locks.locking(session, statement, view.model, deleting=deleting)
        statement = statement.execution_options(populate_existing=True)
    objects: list[t.Any] = list(session.execute(statement).scalars())
    missing = len(set(keys)) - len(objects)
    if not objects:
        flash(
            f"{action.label}: the selected {view.plural.lower()} no longer exist (deleted meanwhile). "
            "Nothing was changed.",
            "warning",
        )
        return redirect(_back(view))
    if missing:
        flash(
            f"{missing} of the selected {view.plural.lower()} no longer exist (deleted meanwhile) and are left out.",
            "warning",
        )
    if confirming:
        return render_template("admin/confirm_action.html", view=view, action=action, objects=objects, back=_back(view))
    before = {view.pk_of(obj): audit.snapshot(view, obj) for obj in objects}
    label = f"bulk:{action.name}"
    # The flush is where the database refuses a change (deleting a row others refer to): inside the
    # try, so the whole action is rolled back and reported instead of answering 500.
    try:
        with scope_check.written_rows(view, current_user._get_current_object()) as written:
            try:
                message = action.callback(view, objects)
            except ActionRefused as refused:
                session.rollback()
                flash(f"{action.label}: {refused} Nothing was changed.", "error")
                return redirect(_back(view))
            except (HTTPException, sa.exc.IntegrityError, sa.exc.DataError, StaleDataError):
                # an abort() the plugin meant; a refusal or a deletion the callback's own flush met, reported below
                raise
            except Exception as exc:
                if erlen_db.is_unavailable(exc):
                    raise  # the database, not the plugin: erlen-db answers 503
                return _action_crashed(view, action, objects)
            session.flush()
        # Like row-level security's WITH CHECK: the selected rows, and every row of a scoped model the callback
        # added or changed, must be in the user's scope after the change, or the whole action is undone.
        outside = scope_check.rows_outside(
            view, [*objects, *written], current_user._get_current_object(), written.statements
        )
        if outside:
            outside = scope_check.undo(view, outside, current_user._get_current_object())  # rolled back
            flash(f"{action.label}: {scope_check.left_outside(view, outside)} Nothing was changed.", "error")
            return redirect(_back(view))
        for obj in objects:
            old = before[view.pk_of(obj)]
            if action.name == "delete":
                audit.record(session, view, label, obj, old)
            elif written.gone(obj):  # by the session, or by a DELETE statement of the callback
                # Marked as a deletion, so that the rows later given its key do not show its entries.
                audit.record(session, view, audit.deletion_action(label), obj, old)
            else:
                audit.record(session, view, label, obj, audit.diff(old, audit.snapshot(view, obj)))
        session.commit()
    except StaleDataError:
        # An UPDATE matched no row: someone deleted a selected row after this request loaded it.
        session.rollback()
        flash(
            f"{action.label} failed: a selected {view.name.lower()} was deleted by someone else meanwhile. "
            "Nothing was changed.",
            "error",
        )
        return redirect(_back(view))
    except (sa.exc.IntegrityError, sa.exc.DataError):
        # A constraint the change breaks, or a value the column cannot hold (PostgreSQL refuses a string longer
        # than its VARCHAR): the whole action is rolled back.
        session.rollback()
        flash(
            f"{action.label} failed: the database refused the change (other rows may refer to the selected "
            f"{view.plural.lower()}, or a value is a duplicate or too long for its column). Nothing was changed.",
            "error",
        )
        return redirect(_back(view))
    flash(message or f"{action.label}: done for {len(objects)} {view.plural.lower()}.", "success")
    return redirect(_back(view))


def _action_crashed(view: ModelView, action: Action, objects: t.Sequence[t.Any]) -> t.Any:
    """Roll back a bulk action whose callback raised, log the traceback naming its plugin, and tell the user.

    Called from the ``except`` block, so the log record carries the callback's traceback.

    :param view: the model view.
    :param action: the action whose callback raised.
    :param objects: the selected objects.
    """
    erlen_db.session.rollback()
    current_app.logger.exception(
        "Admin bulk action %r of plugin %r failed on %d %s; rolled back, nothing was changed.",
        action.name,
        action.plugin or view.plugin,
        len(objects),
        view.slug,
    )
    flash(
        f"{action.label} failed because of an error in the {action.plugin or view.plugin!r} plugin. Nothing was "
        "changed; the details are in the app's log.",
        "error",
    )
    return redirect(_back(view))


def _back(view: ModelView) -> str:
    target = request.form.get("next", "")
    from erlen_auth import is_safe_redirect

    if target and is_safe_redirect(target) and target.startswith(url_for("admin.list", slug=view.slug)):
        return target
    return url_for("admin.list", slug=view.slug)


def page_view(slug: str) -> t.Any:
    page = registry_of().pages.get(slug)
    if page is None:
        abort(404)
    if not page.allowed(current_user):
        denied.refuse(str(page.permission))
    return page.view()
