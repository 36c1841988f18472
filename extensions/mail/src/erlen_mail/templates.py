"""Messages from Jinja templates: ``mail/<name>.subject.txt``, ``mail/<name>.txt``, ``mail/<name>.html``."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping

from jinja2 import TemplateNotFound

from .bulk.sending import SendResult, _app, send
from .errors import MessageError
from .message import Address, Attachment, Message

if t.TYPE_CHECKING:
    from flask import Flask

#: The folder of mail templates, in the app's and plugins' template folders.
TEMPLATE_FOLDER = "mail"


def _render(app: Flask, name: str, context: Mapping[str, t.Any]) -> str | None:
    try:
        template = app.jinja_env.get_template(name)
    except TemplateNotFound as exc:
        if exc.name == name:
            return None
        raise
    values = dict(context)
    app.update_template_context(values)
    return template.render(values)


def render_message(
    name: str,
    /,
    *,
    to: Address | Iterable[Address] | None = None,
    subject: str | None = None,
    context: Mapping[str, t.Any] | None = None,
    app: Flask | None = None,
    **fields: t.Any,
) -> Message:
    """Make a :class:`Message` from the templates of ``name``.

    ``mail/<name>.txt`` is the text body and ``mail/<name>.html`` the HTML
    body (autoescaped); either may be absent, not both.
    ``mail/<name>.subject.txt`` is the subject, its whitespace collapsed to
    one line; a ``subject=`` argument takes its place. Templates are found
    through the app's Jinja loader: the app's ``templates/mail/`` first, then
    the plugins', so an app overrides a plugin's mail by placing a file of
    the same name.

    :param name: the template name, such as ``"welcome"`` or ``"auth/reset"``.
    :param to: the recipients.
    :param subject: the subject, instead of the subject template.
    :param context: the template variables.
    :param app: the app; the current app by default.
    :param fields: more :class:`Message` fields (``cc``, ``bcc``,
        ``reply_to``, ``sender``, ``headers``, ``attachments``).
    :raises MessageError: neither body template exists, or there is no subject.
    """
    app = _app(app)
    values = dict(context or {})
    base = f"{TEMPLATE_FOLDER}/{name}"
    text = _render(app, f"{base}.txt", values)
    html = _render(app, f"{base}.html", values)
    if text is None and html is None:
        raise MessageError(
            f"No mail template {base}.txt or {base}.html was found; put one in the app's templates folder "
            "or a plugin's (see erlen_template_folders)."
        )
    if subject is None:
        rendered = _render(app, f"{base}.subject.txt", values)
        if rendered is None:
            raise MessageError(
                f"The mail {name!r} has no subject: add the template {base}.subject.txt or pass subject=."
            )
        subject = " ".join(rendered.split())
    attachments: list[Attachment] = list(fields.pop("attachments", None) or [])
    return Message(subject=subject, to=t.cast(t.Any, to), body=text, html=html, attachments=attachments, **fields)


def send_template(
    name: str,
    /,
    *,
    to: Address | Iterable[Address] | None = None,
    subject: str | None = None,
    cc: Address | Iterable[Address] | None = None,
    bcc: Address | Iterable[Address] | None = None,
    reply_to: Address | Iterable[Address] | None = None,
    sender: Address | None = None,
    headers: Mapping[str, str] | None = None,
    attachments: Iterable[Attachment] | None = None,
    app: Flask | None = None,
    **context: t.Any,
) -> SendResult:
    """Render the mail templates of ``name`` (see :func:`render_message`) and send the message.

    .. code-block:: python

        send_template("welcome", to=user.email, user=user)

    :param name: the template name.
    :param to: the recipients.
    :param subject: the subject, instead of ``mail/<name>.subject.txt``.
    :param context: the template variables, as keyword arguments (``name``
        is a fine variable name: the template name is positional only).
    :returns: as :func:`erlen_mail.send`; raises as it does.
    """
    message = render_message(
        name,
        to=to,
        subject=subject,
        context=context,
        app=app,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        sender=sender,
        headers=dict(headers or {}),
        attachments=list(attachments or []),
    )
    return send(message, app=app)
