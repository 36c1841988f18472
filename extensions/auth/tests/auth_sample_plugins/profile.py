"""An app-side extension of the user: a profile table of its own, filled in at registration."""

from __future__ import annotations

import typing as t

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from wtforms import StringField

import erlen
import erlen_db
import erlen_forms
from erlen_auth import User

PLUGIN = erlen.Plugin(name="profile", requires=["auth"])


class Profile(erlen_db.Model):
    __tablename__ = "profile_profile"

    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(80))
    user: Mapped[User] = relationship()


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [Profile]


@erlen.hookimpl
def erlen_forms_extend(form_id: str) -> erlen_forms.FormExtension | None:
    if form_id == "auth.register":
        return erlen_forms.FormExtension(fields={"display_name": StringField("Display name")})
    return None


@erlen.hookimpl
def erlen_auth_user_registered(user: User, form: t.Any) -> None:
    erlen_db.session.add(Profile(user_id=user.id, display_name=form.display_name.data or user.email))
    erlen_db.session.commit()
