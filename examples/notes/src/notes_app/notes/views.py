"""The notes pages, under ``/notes``: the list, a note, writing one, deleting one."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload

from erlen_auth import current_user, login_required
from erlen_db import encode_cursor, get_or_404, paginate_keyset, session

from .forms import NoteForm
from .models import Note

bp = Blueprint("notes", __name__)

#: Delete anyone's notes (declared by the plugin through ``erlen_auth_permissions``).
MODERATE = "notes.moderate"


@bp.get("/")
@login_required
def index() -> t.Any:
    """The newest notes first, a page at a time, with links to older and newer pages.

    Both directions are keyset pages (one indexed range query each, wherever
    the page is): ``after`` a note's cursor lists older notes, ``before`` one
    lists newer notes (read oldest first, then shown newest first).
    """
    per_page = current_app.config["NOTES_PER_PAGE"]
    notes = sa.select(Note).options(selectinload(Note.author))
    before = request.args.get("before")
    if before:
        page = paginate_keyset(notes, [Note.id], after=before, per_page=per_page)
        if not page.items:  # the newer notes were deleted meanwhile: the first page is the newest
            return redirect(url_for("notes.index"))
        items = list(reversed(page.items))
        has_newer, has_older = page.has_next, True
    else:
        page = paginate_keyset(notes, [Note.id.desc()], after=request.args.get("after"), per_page=per_page)
        items = page.items
        has_newer, has_older = bool(request.args.get("after")), page.has_next
    return render_template(
        "notes/index.html",
        notes=items,
        newer=encode_cursor([items[0].id]) if items and has_newer else None,
        older=encode_cursor([items[-1].id]) if items and has_older else None,
    )


@bp.get("/<int:note_id>")
@login_required
def show(note_id: int) -> str:
    """One note."""
    note = get_or_404(Note, note_id)
    can_delete = note.author_id == current_user.id or current_user.can(MODERATE)
    return render_template("notes/show.html", note=note, can_delete=can_delete)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> t.Any:
    """Write a note; the admins are told by mail, queued with the note: both are saved, or neither."""
    form = NoteForm()
    if form.validate_on_submit():
        note = Note(title=form.title.data or "", body=form.body.data or "", author_id=current_user.id)
        session.add(note)
        session.flush()  # gives the note its id, for the link in the mail
        notify_admins(note)
        session.commit()
        flash("The note is saved.", "success")
        return redirect(url_for("notes.show", note_id=note.id))
    return render_template("notes/new.html", form=form)


@bp.route("/<int:note_id>/delete", methods=["GET", "POST"])
@login_required
def delete(note_id: int) -> t.Any:
    """Delete a note, once confirmed: its author may, and so may whoever has ``notes.moderate``.

    A GET asks for the confirmation; the page's form POSTs it.
    """
    note = get_or_404(Note, note_id)
    if note.author_id != current_user.id and not current_user.can(MODERATE):
        abort(403)
    if request.method == "GET":
        return render_template("notes/delete.html", note=note)
    session.delete(note)
    session.commit()
    flash("The note is deleted.", "success")
    return redirect(url_for("notes.index"))


def notify_admins(note: Note) -> None:
    """Mail the superusers about a new note, unless ``NOTES_NOTIFY_ADMINS`` is off.

    With the ``tasks`` plugin, the job ``notes.notify_admins`` is enqueued in
    the note's transaction and mails them from a worker; without it, the mail
    is queued in the outbox here, in that transaction. Either way it leaves
    once the note is committed, never without it, and waits while the mail
    server is down.
    """
    if not current_app.config["NOTES_NOTIFY_ADMINS"]:
        return
    from . import jobs

    link = url_for("notes.show", note_id=note.id, _external=True)
    if jobs.tasks_enabled(current_app):
        jobs.notify_admins_job().enqueue(note.id, link)
    else:
        jobs.notify_admins(note, link)
