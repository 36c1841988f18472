"""The views of signing in with OpenID Connect providers, in the ``auth`` blueprint.

Every sign-in starts with a POST carrying the form's CSRF token, never a
GET: a GET would let any site start a sign-in, or the linking of a provider,
in a visitor's browser (one hidden image), and with a provider that
remembers its consent the round trip completes without a click. The
callback is a GET (the provider redirects the browser there); what ties it
to the browser that started it is the ``state`` kept in that browser's
session, checked and cleared by Authlib, so a forged, missing or replayed
callback is refused before any code is exchanged.

Outcomes of a sign-in:

- the identity is linked: the user signs in (:func:`erlen_auth.accounts.finish_login`);
- it is not, and the provider says an account's address is the identity's and
  *verified*: nothing is linked yet; the page asks the owner to sign in to that
  account with its password (or, already signed in, to confirm), and only then links;
- neither: a new account without a password, when registration is open.

An unverified address never links anything.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from erlen_db import get_session
from erlen_forms import Form

from . import accounts, notices, oidc, reauth
from .forms import EmptyForm
from .models import EMAIL_MAX_LENGTH, User, email_key, email_key_problem
from .oidc_models import SUBJECT_MAX_LENGTH, AuthIdentity
from .passwords import unusable_password
from .permissions import login_required
from .redirects import is_safe_redirect
from .state import state_of

if t.TYPE_CHECKING:
    from .oidc_client import OIDCClient

log = logging.getLogger(__name__)

#: Purposes of a round trip to a provider.
LOGIN, LINK, REAUTH = "login", "link", "reauth"


#: What can go wrong while talking to a provider or checking what it sent.
def _provider_failures() -> tuple[type[BaseException], ...]:
    """What a provider's answers can raise in Authlib and the JOSE library (imported with the client, on use)."""
    from authlib.common.errors import AuthlibBaseError
    from joserfc.errors import JoseError

    return (AuthlibBaseError, JoseError, ValueError, KeyError, TypeError)


def _unreachable() -> tuple[type[BaseException], ...]:
    """What a provider that cannot be reached raises (Requests comes with Authlib, on use)."""
    import requests

    return (requests.RequestException, oidc.ProviderError)


class StartForm(Form):
    """The button that starts a sign-in with a provider (its CSRF token, and where to go afterwards)."""

    form_id = "auth.oidc_start"
    next = HiddenField()


class PendingPasswordForm(Form):
    """The password of the account a provider's identity waits to be linked to."""

    form_id = "auth.oidc_pending"
    password = PasswordField(
        "Password", [DataRequired(), Length(max=4096)], render_kw={"autocomplete": "current-password"}
    )


def register(bp: Blueprint, app: Flask) -> None:
    """Add the provider views to the auth blueprint (none when no provider is configured)."""
    if not oidc.oidc_state(app).providers:
        return
    bp.add_url_rule("/oidc/<provider>/login", "oidc_login", login, methods=["POST"])
    bp.add_url_rule("/oidc/<provider>/reauthenticate", "oidc_reauthenticate", reauthenticate, methods=["POST"])
    bp.add_url_rule("/oidc/<provider>/link", "oidc_link", link, methods=["GET", "POST"])
    bp.add_url_rule("/oidc/<provider>/callback", "oidc_callback", callback)
    bp.add_url_rule("/oidc/pending", "oidc_pending", pending, methods=["GET", "POST"])
    bp.add_url_rule("/oidc/pending/confirm", "oidc_pending_confirm", pending_confirm, methods=["POST"])
    bp.add_url_rule("/oidc/identities/<int:identity_id>/unlink", "oidc_unlink", unlink, methods=["GET", "POST"])
    app.add_template_global(providers_for_templates, "auth_oidc_providers")
    app.add_template_global(identities_for_templates, "auth_oidc_identities")


# Template helpers


def providers_for_templates() -> list[oidc.ProviderConfig]:
    """The configured providers, for the log-in page's buttons."""
    return list(oidc.oidc_state().providers.values())


class IdentityRow(t.NamedTuple):
    """A linked identity as the security page shows it."""

    identity: AuthIdentity
    label: str
    can_unlink: bool


def identities_for_templates(user: User) -> list[IdentityRow]:
    """The identities linked to ``user``, with their provider's label and whether unlinking is allowed."""
    db, providers = get_session(), oidc.oidc_state().providers
    rows = []
    for identity in oidc.identities_of(db, user):
        provider = providers.get(identity.provider)
        label = provider.label if provider is not None else identity.provider
        rows.append(IdentityRow(identity, label, oidc.can_unlink(db, user, identity)))
    return rows


# Starting a round trip


def _provider(name: str) -> tuple[oidc.ProviderConfig, OIDCClient]:
    state = oidc.oidc_state()
    provider = state.providers.get(name)
    if provider is None:
        abort(404)
    return provider, state.clients[name]


def _page(template: str, status: int, provider: oidc.ProviderConfig | None = None, **context: t.Any) -> t.Any:
    return render_template(f"auth/oidc/{template}.html", provider=provider, **context), status


def _failed(provider: oidc.ProviderConfig, reason: str, status: int = 400) -> t.Any:
    """The page of a sign-in that did not work, saying why in words a user can act on."""
    return _page("failed", status, provider, reason=reason)


def _unavailable(provider: oidc.ProviderConfig, error: BaseException) -> t.Any:
    log.warning("OpenID Connect provider %r cannot be used: %s: %s", provider.name, type(error).__name__, error)
    return _failed(provider, f"{provider.label} cannot be reached right now. Try again in a moment.", 503)


def _start(name: str, purpose: str, next_target: str | None, user_id: int | None = None) -> t.Any:
    """Send the browser to the provider, keeping what the callback needs in this browser's session."""
    provider, client = _provider(name)
    redirect_uri = url_for("auth.oidc_callback", provider=name, _external=True)
    try:
        # state, nonce and the PKCE code_verifier are made here; the discovery document is loaded on first use.
        found = client.create_authorization_url(redirect_uri)
    except (*_unreachable(), *_provider_failures()) as error:
        return _unavailable(provider, error)
    target = next_target if next_target and is_safe_redirect(next_target) else None
    client.save_authorize_data(redirect_uri=redirect_uri, purpose=purpose, next=target, user_id=user_id, **found)
    return redirect(found["url"])


def login(provider: str) -> t.Any:
    """Start signing in with ``provider`` (POST, with the form's CSRF token)."""
    _provider(provider)
    form = StartForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.login"))
    return _start(provider, LOGIN, form.next.data)


@login_required
def reauthenticate(provider: str) -> t.Any:
    """Prove who one is again with a linked provider, before a sensitive action."""
    _provider(provider)
    form = StartForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.reauthenticate"))
    return _start(provider, REAUTH, form.next.data, user_id=current_user.id)


@reauth.reauthentication_required
def link(provider: str) -> t.Any:
    """Link an account at ``provider`` to the signed-in user's: the page asks, the POST goes to the provider.

    Linking adds a way into the account, so it needs a recent proof of who
    the user is, as changing the password does.
    """
    config, _ = _provider(provider)
    form = EmptyForm()
    if form.validate_on_submit():
        return _start(provider, LINK, url_for("auth.security"), user_id=current_user.id)
    return _page("link", 200, config, form=form)


# The callback


class Identity(t.NamedTuple):
    """What a provider vouched for, once the ID token was verified.

    :param subject: the ``sub`` claim.
    :param email: the address, checked for form (``None`` when the provider gave none, or a malformed one).
    :param verified: whether the provider says the address is verified.
    """

    subject: str
    email: str | None
    verified: bool


def _identity(client: OIDCClient, token: dict[str, t.Any]) -> Identity | None:
    claims = token.get("userinfo")
    if not claims:
        return None  # no ID token: a plain OAuth answer proves nobody's identity
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > SUBJECT_MAX_LENGTH:
        return None
    source: t.Mapping[str, t.Any] = claims
    if "email" not in claims and client.load_server_metadata().get("userinfo_endpoint"):
        # Some providers give the address only at their userinfo endpoint.
        info = client.userinfo(token=token)
        if info.get("sub") == subject:  # OpenID Connect Core 5.3.4: otherwise it must not be used
            source = info
    email = source.get("email")
    verified = source.get("email_verified") in (True, "true")  # some providers send the JSON string
    if not isinstance(email, str) or len(email) > EMAIL_MAX_LENGTH or "\x00" in email:
        return Identity(subject, None, False)
    if email_key_problem(email) is not None:  # no account could be made or found with it
        return Identity(subject, None, False)
    # Imported here: email_validator compiles large Unicode patterns on import, a cost every worker and
    # every `erlen` command would pay, and only a sign-in with a provider needs it.
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return Identity(subject, None, False)
    return Identity(subject, email.strip(), verified)


def callback(provider: str) -> t.Any:
    """Where the provider sends the browser back: check everything, then sign in, link or ask."""
    config, client = _provider(provider)
    state = request.args.get("state")
    flow = client.framework.get_state_data(session, state) if state else None
    if flow is None:
        # Missing, forged, used already, expired, or started in another browser: no code is exchanged.
        log.info("OpenID Connect callback of %r refused: no log-in with this state in the session", provider)
        return _failed(config, "This log-in was not started here, or was finished already. Start again.")
    if request.args.get("error"):
        client.framework.clear_state_data(session, state)
        if request.args["error"] == "access_denied":
            return _failed(config, f"You cancelled logging in with {config.label}.")
        log.info("OpenID Connect provider %r answered the error %r", provider, request.args["error"][:100])
        return _failed(config, f"{config.label} could not log you in. Try again.")
    try:
        token = client.authorize_access_token(claims_options=client.claims_options())
        identity = _identity(client, token)
    except _unreachable() as error:
        return _unavailable(config, error)
    except _provider_failures() as error:
        # A refused code (used already, expired), or an ID token that failed a check: its signature, algorithm,
        # issuer, audience, expiry, issue time or nonce. Said in the log, not to the visitor.
        log.warning("OpenID Connect log-in with %r refused: %s: %s", provider, type(error).__name__, error)
        return _failed(config, f"What {config.label} sent could not be verified. Start again.")
    if identity is None:
        log.warning("OpenID Connect log-in with %r refused: no usable ID token", provider)
        return _failed(config, f"What {config.label} sent could not be verified. Start again.")
    purpose = flow.get("purpose")
    if purpose == LINK:
        return _finish_link(config, identity, flow)
    if purpose == REAUTH:
        return _finish_reauthentication(config, identity, flow)
    return _finish_sign_in(config, identity, flow)


def _signed_in_as(user_id: object) -> User | None:
    user = current_user._get_current_object()
    if isinstance(user, User) and user_id is not None and user.id == user_id:
        return user
    return None


def _finish_link(config: oidc.ProviderConfig, identity: Identity, flow: dict[str, t.Any]) -> t.Any:
    user = _signed_in_as(flow.get("user_id"))
    if user is None:
        return _failed(config, "You are no longer logged in to the account that asked to link. Log in and start again.")
    db = get_session()
    existing = oidc.find_identity(db, config.name, identity.subject)
    if existing is not None:
        if existing.user_id == user.id:
            flash(f"This {config.label} account is linked to yours already.", "info")
            return redirect(url_for("auth.security"))
        return _failed(config, f"This {config.label} account is linked to another account here.", 409)
    try:
        oidc.link(db, user, config, identity.subject, identity.email)
        db.commit()
    except IntegrityError:
        db.rollback()
        return _failed(config, f"This {config.label} account was linked to an account a moment ago.", 409)
    flash(f"Your {config.label} account is linked: you can log in with it.", "success")
    return redirect(url_for("auth.security"))


def _finish_reauthentication(config: oidc.ProviderConfig, identity: Identity, flow: dict[str, t.Any]) -> t.Any:
    user = _signed_in_as(flow.get("user_id"))
    found = oidc.find_identity(get_session(), config.name, identity.subject)
    if user is None or found is None or found.user_id != user.id:
        return _failed(config, f"This {config.label} account is not linked to the account you are logged in to.", 403)
    reauth.mark_reauthenticated()
    target = flow.get("next")
    return redirect(target if isinstance(target, str) and is_safe_redirect(target) else url_for("auth.security"))


def _finish_sign_in(config: oidc.ProviderConfig, identity: Identity, flow: dict[str, t.Any]) -> t.Any:
    db = get_session()
    linked = oidc.find_identity(db, config.name, identity.subject)
    if linked is not None:
        user = db.get(User, linked.user_id)
        if user is None or not user.is_active:
            return _failed(config, "This account cannot log in.", 403)
        if _needs_confirmation(user, identity):
            return _failed(config, "Confirm your email address first: follow the link we sent you.", 403)
        linked.last_used_at = dt.datetime.now(dt.UTC)
        if identity.email is not None:
            linked.email = identity.email
        db.commit()
        return _sign_in(user, flow)
    existing = accounts.find_user(identity.email, db=db) if identity.email is not None else None
    if existing is not None:
        if identity.verified and existing.is_active:
            # Not linked, not signed in: the owner of the account proves it first (see `pending`).
            waiting = oidc.PendingLink(
                provider=config.name,
                subject=identity.subject,
                email=identity.email or "",
                user_id=existing.id,
                expires=dt.datetime.now(dt.UTC).timestamp() + oidc.PENDING_SECONDS,
            )
            session[oidc.PENDING_KEY] = waiting.as_dict()
            return redirect(url_for("auth.oidc_pending"))
        return _page("email_taken", 409, config, email=identity.email)
    if identity.email is None:
        return _failed(config, f"{config.label} did not tell us your email address, which an account needs.")
    if not current_app.config["AUTH_REGISTRATION_ENABLED"]:
        return _failed(config, f"No account here is linked to this {config.label} account.", 403)
    return _register(config, identity, flow)


def _needs_confirmation(user: User, identity: Identity) -> bool:
    """Whether ``user`` may not sign in yet for want of a confirmed address (confirming it when the provider can)."""
    config = current_app.config
    if not (config["AUTH_REQUIRE_CONFIRMED_EMAIL"] and state_of().confirmation_enabled) or user.email_confirmed_at:
        return False
    if identity.verified and identity.email is not None and email_key(identity.email) == user.email_key:
        user.email_confirmed_at = dt.datetime.now(dt.UTC)  # the provider confirmed it (committed by the caller)
        return False
    return True


def _register(config: oidc.ProviderConfig, identity: Identity, flow: dict[str, t.Any]) -> t.Any:
    """A new account for the identity: no password (a reset link sets one), the address confirmed when verified."""
    from .views import send_confirmation

    db = get_session()
    email = t.cast(str, identity.email)
    user = User(
        email=email,
        password_hash=unusable_password(),
        email_confirmed_at=dt.datetime.now(dt.UTC) if identity.verified else None,
    )
    confirm = state_of().confirmation_enabled and not identity.verified
    db.add(user)
    try:
        db.flush()
        db.add(
            AuthIdentity(
                user_id=user.id,
                provider=config.name,
                subject=identity.subject,
                email=email,
                last_used_at=dt.datetime.now(dt.UTC),
            )
        )
        if confirm:
            send_confirmation(user)
        db.commit()
    except IntegrityError:
        # The address was registered, or the identity linked, between the checks and the commit.
        db.rollback()
        return _failed(config, "Logging in did not work this time. Start again.", 409)
    if confirm and current_app.config["AUTH_REQUIRE_CONFIRMED_EMAIL"]:
        return render_template("auth/confirm_sent.html", email=user.email)
    return _sign_in(user, flow)


def _sign_in(user: User, flow: dict[str, t.Any]) -> t.Any:
    response = accounts.finish_login(user, method="oidc")
    target = flow.get("next")
    # finish_login reads `next` from the request, which here is the provider's redirect: the target chosen when the
    # sign-in started applies once the user is signed in (not while a second step is pending).
    if _signed_in_as(user.id) is not None and isinstance(target, str) and is_safe_redirect(target):
        return redirect(target)
    return response


# The identity waiting for the owner of the account with its address


def _pending() -> tuple[oidc.PendingLink, User, oidc.ProviderConfig] | None:
    waiting = oidc.PendingLink.load(session.get(oidc.PENDING_KEY))
    if waiting is None:
        session.pop(oidc.PENDING_KEY, None)
        return None
    user = get_session().get(User, waiting.user_id)
    provider = oidc.oidc_state().providers.get(waiting.provider)
    if user is None or not user.is_active or provider is None:
        session.pop(oidc.PENDING_KEY, None)
        return None
    return waiting, user, provider


def _can_confirm(user: User) -> bool:
    return _signed_in_as(user.id) is not None and reauth.recently_authenticated()


def pending() -> t.Any:
    """ "An account with this email exists": sign in to it with its password to link the provider's identity.

    The password proves the owner: a provider saying the address is verified
    is not enough (an attacker's account at a careless provider can claim any
    address). A user signed in to that account who proved it recently
    confirms instead (:func:`pending_confirm`).
    """
    found = _pending()
    if found is None:
        return _page("pending_expired", 400)
    waiting, user, provider = found
    form = PendingPasswordForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        result = accounts.authenticate(user.email, form.password.data or "")
        if result.user is not None and result.user.id == user.id:
            session.pop(oidc.PENDING_KEY, None)
            response = accounts.finish_login(user, method="password")
            if _signed_in_as(user.id) is None:
                # A second step of the sign-in is pending: the identity is linked only once the user is signed in.
                return response
            return _link_pending(waiting, user, provider, response)
        if result.throttled is not None:
            status = 429
            headers["Retry-After"] = str(result.throttled.retry_after)
            form.form_errors.append(
                f"Too many failed attempts. Try again in {accounts.duration(result.throttled.retry_after)}."
            )
        elif result.reason == "unconfirmed":
            form.form_errors.append("Confirm your email address first: follow the link we sent you.")
        else:
            form.password.errors = [*form.password.errors, "This is not the password of this account."]
    body = render_template(
        "auth/oidc/pending.html",
        provider=provider,
        email=waiting.email,
        form=form,
        confirm_form=EmptyForm(),
        can_confirm=_can_confirm(user),
    )
    return body, status, headers


def pending_confirm() -> t.Any:
    """Link the waiting identity to the signed-in user's account, who proved who they are recently (POST)."""
    found = _pending()
    if found is None:
        return _page("pending_expired", 400)
    waiting, user, provider = found
    if not EmptyForm().validate_on_submit() or not _can_confirm(user):
        return redirect(url_for("auth.oidc_pending"))
    session.pop(oidc.PENDING_KEY, None)
    return _link_pending(waiting, user, provider, redirect(url_for("auth.security")))


def _link_pending(waiting: oidc.PendingLink, user: User, provider: oidc.ProviderConfig, response: t.Any) -> t.Any:
    db = get_session()
    if oidc.find_identity(db, provider.name, waiting.subject) is not None:
        flash(f"That {provider.label} account was linked to an account a moment ago.", "error")
        return response
    try:
        oidc.link(db, user, provider, waiting.subject, waiting.email)
        db.commit()
    except IntegrityError:
        db.rollback()
        flash(f"That {provider.label} account was linked to an account a moment ago.", "error")
        return response
    flash(f"Your {provider.label} account is linked: you can log in with it.", "success")
    return response


# Unlinking


@reauth.reauthentication_required
def unlink(identity_id: int) -> t.Any:
    """Unlink an identity from the signed-in user's account: the page asks, the POST unlinks.

    Refused when it is the last way in: no usable password, no other identity, no passkey.
    """
    db = get_session()
    user = t.cast(User, current_user._get_current_object())
    identity = db.get(AuthIdentity, identity_id)
    if identity is None or identity.user_id != user.id:
        abort(404)
    provider = oidc.oidc_state().providers.get(identity.provider)
    label = provider.label if provider is not None else identity.provider
    form = EmptyForm()
    if form.validate_on_submit():
        # Two unlinks at once must not both see the other identity as the remaining way in.
        db.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
        if oidc.can_unlink(db, user, identity):
            db.delete(identity)
            notices.notify(user, "provider_unlinked", provider=label, identity_email=identity.email)
            db.commit()
            flash(f"Your {label} account is no longer linked.", "success")
            return redirect(url_for("auth.security"))
        db.rollback()
    allowed = oidc.can_unlink(db, user, identity)
    return _page(
        "unlink", 200 if allowed else 409, provider, form=form, identity=identity, label=label, allowed=allowed
    )
