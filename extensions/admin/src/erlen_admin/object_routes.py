"""The detail page's object actions and panels: the ``POST /admin/m/<slug>/<id>/do/<name>`` route and what
the detail page shows of them."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

import erlen_db

from . import audit, denied, scope_check
from .object_actions import ActionOutcome, ActionRefused, ObjectAction
from .views.model_view import ModelView


def object_extras(view: ModelView, obj: t.Any) -> dict[str, t.Any]:
    """The detail page's object-action buttons and rendered panels that the current user may use and see.

    :param view: the model view.
    :param obj: the object shown.
    :returns: ``object_actions`` (the :class:`ObjectAction` s with a button) and ``panels``
        (``(panel, html)`` pairs).
    """
    actions = [
        action
        for action in view.object_actions
        if action.button and view.allows(current_user, action.permission) and action.applies_to(obj)
    ]
    panels = [
        (panel, Markup(render_template(panel.template, **panel.variables(view, obj))))
        for panel in view.panels
        if view.allows(current_user, panel.permission)
    ]
    return {"object_actions": actions, "panels": panels}


def object_action_view(slug: str, ident: str, name: str) -> t.Any:
    """Run the object action ``name`` on one object, record it in the audit log and commit; back to its page."""
    from .routes import _view, find_object

    view = _view(slug, "view")
    action = view.object_action(name)
    if action is None:
        abort(404)
    if not view.allows(current_user, action.permission):
        denied.refuse(denied.missing_permission(view, current_user, action.permission))
    # Held until the commit, so that ``available`` and the audit's "before" are what the callback changes: a
    # change or deletion by another user waits for this action instead of slipping in after the check.
    obj = find_object(view, ident, lock=True, deleting=action.permission == "delete")
    if obj is None:
        return _deleted_meanwhile(view, ident)  # since its page was shown: not a wrong link
    back = url_for("admin.detail", slug=view.slug, ident=view.pk_of(obj))
    if not action.applies_to(obj):
        flash(f"{action.label}: this does not apply to {view.describe(obj)} now. Nothing was changed.", "warning")
        return redirect(back)
    session = erlen_db.session
    before = audit.snapshot(view, obj)
    try:
        with scope_check.written_rows(view, current_user._get_current_object()) as written:
            try:
                result = action.callback(view, obj)
            except ActionRefused as refused:
                session.rollback()
                flash(f"{action.label}: {refused} Nothing was changed.", "error")
                return redirect(back)
            except (HTTPException, sa.exc.IntegrityError, sa.exc.DataError, StaleDataError):
                raise  # an abort() the plugin meant; a refusal or a deletion the callback's own flush met, below
            except Exception as exc:
                if erlen_db.is_unavailable(exc):
                    raise
                return _crashed(view, action, back)
            session.flush()
        outcome = result if isinstance(result, ActionOutcome) else ActionOutcome(result or f"{action.label}: done.")
        # Like row-level security's WITH CHECK: the object, and every row of a scoped model the action added or
        # changed, must be in the user's scope after the change, or the whole action is undone.
        outside = scope_check.rows_outside(
            view, [obj, *written], current_user._get_current_object(), written.statements
        )
        if outside:
            outside = scope_check.undo(view, outside, current_user._get_current_object())  # rolled back
            flash(f"{action.label}: {scope_check.left_outside(view, outside)} Nothing was changed.", "error")
            return redirect(back)
        if written.gone(obj):  # by the session, or by a DELETE statement of the callback
            # The callback deleted the object: the deleted row's values, marked as a deletion, so that the
            # rows later given its key do not show its entries.
            audit.record(session, view, audit.deletion_action(f"action:{action.name}"), obj, before)
        else:
            changes = {**audit.diff(before, audit.snapshot(view, obj)), **outcome.changes}
            audit.record(session, view, f"action:{action.name}", obj, changes)
        session.commit()
    except StaleDataError:
        # The UPDATE matched no row: someone deleted the object after this request loaded it (found by the
        # callback's own flush or the admin's).
        session.rollback()
        return _deleted_meanwhile(view, ident)
    except (sa.exc.IntegrityError, sa.exc.DataError):
        # A constraint the change breaks (a duplicate name, a row others refer to), or a value the column cannot
        # hold (PostgreSQL refuses a string longer than its VARCHAR): said, as a bulk action says it.
        session.rollback()
        flash(
            f"{action.label} failed: the database refused the change (a value is a duplicate or too long for its "
            f"column, or other rows refer to this {view.name.lower()}). Nothing was changed.",
            "error",
        )
        return redirect(back)
    flash(outcome.message, "success")
    return redirect(back)


def _deleted_meanwhile(view: ModelView, ident: str) -> t.Any:
    """Back to the list, saying that the object was deleted by someone else and the action not done.

    :param view: the model view.
    :param ident: the object's key, as in the URL.
    """
    flash(f"{view.name} {ident} was deleted by someone else meanwhile; nothing was done.", "error")
    return redirect(url_for("admin.list", slug=view.slug))


def _crashed(view: ModelView, action: ObjectAction, back: str) -> t.Any:
    """Roll back an object action whose callback raised, log its traceback naming its plugin, and say so."""
    erlen_db.session.rollback()
    plugin = action.plugin or view.plugin
    current_app.logger.exception(
        "Admin object action %r of plugin %r failed on %s; rolled back, nothing was changed.",
        action.name,
        plugin,
        view.slug,
    )
    flash(
        f"{action.label} failed because of an error in the {plugin!r} plugin. Nothing was changed; "
        "the details are in the app's log.",
        "error",
    )
    return redirect(back)
