"""The profile pages: ``/profiles/<id>`` for everyone, the edit page for its owner (or a permission)."""

from __future__ import annotations

import typing as t

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from erlen_auth import User, current_user, login_required
from erlen_db import get_or_404, session

from .forms import ProfileForm
from .models import Profile, default_profile, insert_missing_profile

bp = Blueprint("profiles", __name__)

#: The permission to edit anyone's profile (declared in :mod:`erlen_profiles.plugin`).
EDIT_ANY = "profiles.edit_any"


def profile_or_default(user: User) -> Profile:
    """The stored profile of ``user``, or an unsaved default one for accounts that predate the plugin.

    Reading a page never writes: the row of such an account is made when its profile is first saved.
    """
    return session.get(Profile, user.id) or default_profile(user)


@bp.get("/<int:user_id>")
def show(user_id: int) -> str:
    """A user's public profile."""
    user = get_or_404(User, user_id)
    can_edit = current_user.is_authenticated and (current_user.id == user.id or current_user.can(EDIT_ANY))
    return render_template("profiles/show.html", profile=profile_or_default(user), can_edit=can_edit)


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@login_required
def edit(user_id: int) -> t.Any:
    """Edit a profile: one's own, or anyone's with the permission ``profiles.edit_any``."""
    user = get_or_404(User, user_id)
    if current_user.id != user.id and not current_user.can(EDIT_ANY):
        abort(403)
    profile = profile_or_default(user)
    form = ProfileForm(obj=profile)
    if form.validate_on_submit():
        # Two first saves at once must not collide on the primary key: the insert does nothing if the row exists.
        insert_missing_profile(session, user)
        profile = session.get_one(Profile, user.id)
        profile.display_name = form.display_name.data or ""
        profile.bio = form.bio.data or ""
        session.commit()
        flash("The profile is saved.", "success")
        return redirect(url_for("profiles.show", user_id=user.id))
    return render_template("profiles/edit.html", form=form, profile=profile)


@bp.get("/me")
@login_required
def me() -> t.Any:
    """The current user's profile."""
    return redirect(url_for("profiles.show", user_id=current_user.id))
