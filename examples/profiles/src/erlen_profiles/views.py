"""The profile pages: ``/profiles/<id>`` for everyone, the edit page for its owner (or a permission)."""

from __future__ import annotations

import typing as t

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from erlen_auth import User, current_user, login_required
from erlen_db import get_or_404, session

from .forms import ProfileForm
from .models import Profile

bp = Blueprint("profiles", __name__)

#: The permission to edit anyone's profile (declared in :mod:`erlen_profiles.plugin`).
EDIT_ANY = "profiles.edit_any"


def profile_for(user: User) -> Profile:
    """The profile of ``user``, made on first use for accounts that predate the plugin."""
    profile = session.get(Profile, user.id)
    if profile is None:
        profile = Profile(user_id=user.id, display_name=user.email.split("@", 1)[0], bio="")
        session.add(profile)
        session.commit()
    return profile


@bp.get("/<int:user_id>")
def show(user_id: int) -> str:
    """A user's public profile."""
    user = get_or_404(User, user_id)
    can_edit = current_user.is_authenticated and (current_user.id == user.id or current_user.can(EDIT_ANY))
    return render_template("profiles/show.html", profile=profile_for(user), can_edit=can_edit)


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@login_required
def edit(user_id: int) -> t.Any:
    """Edit a profile: one's own, or anyone's with the permission ``profiles.edit_any``."""
    user = get_or_404(User, user_id)
    if current_user.id != user.id and not current_user.can(EDIT_ANY):
        abort(403)
    profile = profile_for(user)
    form = ProfileForm(obj=profile)
    if form.validate_on_submit():
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
