"""The pages of TOTP two-factor authentication: set it up, turn it off, new recovery codes.

Each needs a recent proof of who the user is (:func:`~erlen_auth.reauth.reauthentication_required`):
a stolen session cookie alone cannot turn the second factor off or read new recovery codes.

The rules of these views are in :data:`erlen_auth.blueprint.LAZY_RULES`: the app registers them when it is
created, and this module is imported by the first request for one of them (or the first security page).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from erlen_forms import Form

from . import totp, two_factor
from .forms import EmptyForm
from .models import User
from .reauth import reauthentication_required
from .redirects import safe_next
from .state import state_of


@dataclass(frozen=True)
class TwoFactorStatus:
    """What the security page says about a user's two-factor authentication.

    :param enabled: whether the user has a confirmed TOTP authenticator.
    :param confirmed_at: since when.
    :param recovery_codes_left: unused recovery codes.
    :param required: whether the user must have a second factor.
    :param can_turn_off: whether TOTP may be turned off: not when it is required and the user's only second factor.
    """

    enabled: bool
    confirmed_at: t.Any
    recovery_codes_left: int
    required: bool
    can_turn_off: bool


def _must_keep(user: User) -> bool:
    """Whether ``user`` must keep TOTP: a second factor is required of them and no other kind stands alone."""
    others = (factor for factor in state_of().second_factors if factor.name != "totp" and factor.standalone)
    return two_factor.required_for(user) and not any(factor.enrolled(user) for factor in others)


def two_factor_status(user: User) -> TwoFactorStatus:
    """The :class:`TwoFactorStatus` of ``user`` (a template global, for the security page)."""
    found = totp.credential_of(user)
    return TwoFactorStatus(
        enabled=found is not None,
        confirmed_at=found.confirmed_at if found is not None else None,
        recovery_codes_left=totp.remaining_recovery_codes(user) if found is not None else 0,
        required=two_factor.required_for(user),
        can_turn_off=found is not None and not _must_keep(user),
    )


class ConfirmTotpForm(Form):
    """A code of the authenticator app just set up."""

    form_id = "auth.two_factor_setup"
    code = StringField(
        "Code from the app",
        [DataRequired(), Length(max=16)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autocapitalize": "off"},
        description="The 6-digit code your authenticator app shows now.",
    )
    next = HiddenField()


def _user() -> User:
    return t.cast(User, current_user._get_current_object())


def _security() -> str:
    return url_for("auth.security")


@reauthentication_required
def setup() -> t.Any:
    """Set up an authenticator app: a QR code and the secret in text, then a code to confirm it."""
    user = _user()
    if totp.is_enrolled(user):
        flash("Two-factor authentication is on already.", "info")
        return redirect(_security())
    secret = totp.start_enrolment(user)
    form = ConfirmTotpForm()
    if form.validate_on_submit():
        codes = totp.verify_enrolment(user, form.code.data or "")
        if codes is not None:
            return render_template(
                "auth/two_factor/recovery_codes.html",
                codes=codes,
                enabled=True,
                continue_to=safe_next(_security()),
            )
        form.code.errors = [
            *form.code.errors,
            "This code is not right. Check that the time of your device is correct and type the code shown now.",
        ]
    elif request.method == "GET":
        form.next.data = request.args.get("next", "")
    uri = totp.provisioning_uri(user, secret)
    body = render_template(
        "auth/two_factor/setup.html",
        form=form,
        qr=totp.qr_svg(uri),
        secret=totp.format_secret(secret),
        issuer=totp.issuer(),
        required=two_factor.required_for(user),
    )
    return body


@reauthentication_required
def disable() -> t.Any:
    """Turn TOTP off (not when the account must have a second factor and has no other kind)."""
    user = _user()
    if not totp.is_enrolled(user):
        flash("Two-factor authentication is off already.", "info")
        return redirect(_security())
    if _must_keep(user):
        return render_template("auth/two_factor/disable.html", form=None, required=True), 403
    form = EmptyForm()
    if form.validate_on_submit():
        totp.disable(user)
        flash("Two-factor authentication is off. Logging in now needs only your password.", "success")
        return redirect(_security())
    return render_template("auth/two_factor/disable.html", form=form, required=False)


@reauthentication_required
def recovery_codes() -> t.Any:
    """How many recovery codes are left, and a new set (the old ones stop working)."""
    user = _user()
    if not totp.is_enrolled(user):
        flash("Turn two-factor authentication on first.", "info")
        return redirect(_security())
    form = EmptyForm()
    if form.validate_on_submit():
        codes = totp.regenerate_recovery_codes(user)
        return render_template(
            "auth/two_factor/recovery_codes.html", codes=codes, enabled=False, continue_to=_security()
        )
    return render_template("auth/two_factor/regenerate.html", form=form, remaining=totp.remaining_recovery_codes(user))
