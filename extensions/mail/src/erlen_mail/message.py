"""Email messages, built on the standard library's :mod:`email` package."""

from __future__ import annotations

import functools
import mimetypes
import re
import secrets
import typing as t
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email import message_from_bytes, quoprimime
from email.message import EmailMessage, MIMEPart
from email.utils import formataddr, formatdate, getaddresses, make_msgid

from .errors import HeaderInjectionError, MessageError

if t.TYPE_CHECKING:
    from email.policy import EmailPolicy

#: An address: ``"ada@example.com"``, ``"Ada <ada@example.com>"`` or ``("Ada", "ada@example.com")``.
Address = str | tuple[str, str]

#: Headers the message sets from its own fields; ``headers`` may not set them.
MANAGED_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "subject", "mime-version", "content-type", "content-transfer-encoding"}
)

_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII except ':' (RFC 5322 field name); use fullmatch

#: The longest header line written as it is (RFC 5322 recommends 78); longer ones are folded.
_MAX_HEADER_LINE = 78
#: The longest body line sent as 7bit/8bit (RFC 5322's limit); a longer one makes the part quoted-printable.
_MAX_BODY_LINE = 998


def _smtp_policy(utf8: bool = False) -> EmailPolicy[EmailMessage]:
    """``email.policy.SMTP``, or ``SMTPUTF8`` for a message to or from an address that is not ASCII.

    It folds and encodes headers that are not plain short ASCII, and writes attachments, with CRLF line
    ends. :mod:`email.policy` (with the header registry and its parser, some 0.6 MiB) is imported here,
    when the first message is built, not by every process that creates the app and never sends mail.

    :param utf8: whether the message is sent with SMTPUTF8.
    """
    from email import policy

    return policy.SMTPUTF8 if utf8 else policy.SMTP


def _default_policy() -> EmailPolicy[EmailMessage]:
    """``email.policy.default``, to parse a written message back (imported on first use, see :func:`_smtp_policy`)."""
    from email import policy

    return policy.default


@functools.lru_cache(maxsize=4096)
def _parse_address(address: str) -> tuple[tuple[str, str], ...]:
    # An address string is parsed once, however often it is checked or its
    # bare address is needed (checks, the envelope, the recipients list).
    return tuple(getaddresses([address]))


def check_header_value(name: str, value: str) -> str:
    """Refuse a header value that contains a carriage return or a line feed.

    :param name: the header's name, for the error message.
    :param value: the value to check.
    :returns: ``value`` unchanged.
    :raises HeaderInjectionError: the value contains CR or LF.
    :raises MessageError: the value is not a string.
    """
    if not isinstance(value, str):
        raise MessageError(f"The {name} header value {value!r} must be a string, not {type(value).__name__}.")
    if "\r" in value or "\n" in value:
        raise HeaderInjectionError(
            f"The {name} header value {value!r} contains a line break (CR or LF). Line breaks in header values "
            "could inject headers, so they are refused: remove them before sending."
        )
    return value


#: Characters that cannot appear unquoted in an addr-spec (RFC 5322 specials), nor in its domain.
_ADDR_SPEC_SPECIALS = frozenset('<>()[],;:\\"@')


@functools.lru_cache(maxsize=4096)
def _is_addr_spec(email: str) -> bool:
    """Whether ``email`` is a usable envelope address: ``local@domain``, both parts present, no spaces or specials.

    A quoted local part (``"a b"@example.com``) and a domain literal
    (``ada@[192.0.2.1]``) are accepted; addresses that are not ASCII too
    (they are sent with SMTPUTF8).
    """
    local, at, domain = email.rpartition("@")
    if not (at and local and domain) or any(ord(char) < 32 or ord(char) == 127 for char in email):
        return False
    if not (len(local) >= 2 and local[0] == local[-1] == '"') and (
        any(char.isspace() for char in local) or not _ADDR_SPEC_SPECIALS.isdisjoint(local)
    ):
        return False
    if len(domain) >= 2 and domain[0] == "[" and domain[-1] == "]":
        domain = domain[1:-1]
    return not (any(char.isspace() for char in domain) or not _ADDR_SPEC_SPECIALS.isdisjoint(domain))


def _invalid_address(header: str, address: object, reason: str) -> MessageError:
    return MessageError(
        f"The {header} address {address!r} {reason}; use an address such as 'ada@example.com' or "
        "'Ada Lovelace <ada@example.com>'."
    )


def format_address(address: Address, *, header: str = "address") -> str:
    """Format one address for a header, refusing line breaks, lists and addresses that are not valid.

    :param address: a string or a ``(name, email)`` pair.
    :param header: the header it is for, in error messages.
    :raises HeaderInjectionError: the address contains CR or LF.
    :raises MessageError: it is not one valid address: another type, a tuple
        of another length, a string listing several (``"a@x, b@y"``), whose
        recipients past the first would be left out of the SMTP envelope, or
        an address the parser would silently turn into another one
        (``"ada@example.com extra"`` reads as ``ada@example.comextra``,
        ``"not an address"`` as ``not``): mail must go where it was meant to,
        or not at all.
    """
    if isinstance(address, tuple):
        if len(address) != 2:
            raise MessageError(f"The {header} address {address!r} must be a (name, email) pair.")
        name, email = address
        check_header_value(header, name)
        check_header_value(header, email)
        if not _is_addr_spec(email):
            raise _invalid_address(header, address, f"has {email!r}, which is not an email address")
        return formataddr((name, email))
    if not isinstance(address, str):
        raise MessageError(f"The {header} address {address!r} must be a string or a (name, email) pair.")
    check_header_value(header, address)
    parsed = _parse_address(address)
    if len(parsed) > 1:
        raise MessageError(
            f"The {header} address {address!r} holds several addresses; pass them as a list, one address each."
        )
    email = parsed[0][1] if parsed else ""
    if not email:
        raise _invalid_address(header, address, "holds no email address")
    # The parser drops what it cannot read (spaces, a missing '>'): the address it found
    # must be written out in full in what was given, between <> when there are any.
    if not _is_addr_spec(email) or email not in address or ("<" in address and f"<{email}>" not in address):
        raise _invalid_address(header, address, f"is not a valid email address (it reads as {email!r})")
    return address


def address_email(address: Address) -> str:
    """The bare email address of ``address``, for the SMTP envelope."""
    if isinstance(address, tuple):
        return address[1]
    parsed = _parse_address(address)
    return parsed[0][1] if parsed and parsed[0][1] else address  # format_address refuses the latter


def _header_text(address: Address) -> str:
    """``address`` as it appears in a header; it has been checked."""
    return formataddr(address) if isinstance(address, tuple) else address


def _header_line(name: str, value: str, utf8: bool) -> bytes:
    """One header field, CRLF-terminated: as it is when short ASCII, else encoded (RFC 2047) and folded."""
    if value.isascii() and len(name) + len(value) + 2 <= _MAX_HEADER_LINE:
        return f"{name}: {value}\r\n".encode("ascii")
    fold_policy = _smtp_policy(utf8)
    folded: str = fold_policy.header_factory(name, value).fold(policy=fold_policy)
    return folded.encode("utf-8")


def _text_part(text: str, subtype: str) -> bytes:
    """A ``text/<subtype>`` UTF-8 part: its headers, a blank line and the CRLF body.

    7bit for ASCII, 8bit otherwise, quoted-printable when a line is longer
    than SMTP allows (998 octets).
    """
    lines = text.encode("utf-8").splitlines()
    if max(map(len, lines), default=0) <= _MAX_BODY_LINE:
        body = b"\r\n".join(lines) + b"\r\n"
        cte = b"7bit" if body.isascii() else b"8bit"
    else:
        cte = b"quoted-printable"
        latin = (b"\n".join(lines) + b"\n").decode("latin-1")
        body = quoprimime.body_encode(latin, 76, eol="\r\n").encode("ascii")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
    return (
        b"Content-Type: text/" + subtype.encode("ascii") + b'; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: " + cte + b"\r\n\r\n" + body
    )


def _attachment_part(attachment: Attachment) -> bytes:
    """An attachment part (headers, blank line, body), written by the standard library under policy SMTP.

    The standard library quotes and encodes the file name (RFC 2231 for a
    name that is not ASCII) and base64-encodes binary content.
    """
    part = MIMEPart(policy=_smtp_policy())
    maintype, _, subtype = (attachment.mimetype or "application/octet-stream").partition("/")
    disposition = "inline" if attachment.inline else "attachment"
    if isinstance(attachment.content, str) and maintype == "text":
        part.set_content(attachment.content, subtype=subtype, filename=attachment.filename, disposition=disposition)
    else:
        content = attachment.content.encode() if isinstance(attachment.content, str) else attachment.content
        part.set_content(
            content, maintype=maintype, subtype=subtype, filename=attachment.filename, disposition=disposition
        )
    return part.as_bytes(policy=_smtp_policy())


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    """A ``multipart/<subtype>`` of ``parts`` (each headers, blank line, body ending in CRLF)."""
    while True:
        boundary = b"=_" + secrets.token_hex(16).encode("ascii")
        if not any(boundary in part for part in parts):
            break
    delimiter = b"--" + boundary + b"\r\n"
    return (
        b"Content-Type: multipart/" + subtype.encode("ascii") + b';\r\n boundary="' + boundary + b'"\r\n\r\n'
        + delimiter
        + (b"\r\n" + delimiter).join(parts)
        + b"\r\n--" + boundary + b"--\r\n"
    )  # fmt: skip


def _address_list(value: Address | Iterable[Address] | None) -> list[Address]:
    if value is None:
        return []
    if isinstance(value, (str, tuple)):
        return [value]
    return list(value)


@dataclass
class Attachment:
    """A file attached to a message.

    :param filename: the name shown to the recipient.
    :param content: the file's bytes, or text (sent as UTF-8).
    :param mimetype: such as ``application/pdf``; guessed from ``filename``
        when not given, ``application/octet-stream`` when it cannot be.
    :param inline: show it inline (``Content-Disposition: inline``) rather
        than as an attachment.
    """

    filename: str
    content: bytes | str
    mimetype: str | None = None
    inline: bool = False

    def __post_init__(self) -> None:
        check_header_value("attachment filename", self.filename)
        if self.mimetype is None:
            guessed, _ = mimetypes.guess_type(self.filename)
            self.mimetype = guessed or "application/octet-stream"
        if "/" not in self.mimetype:
            raise MessageError(f"Attachment {self.filename!r}: {self.mimetype!r} is not a MIME type like 'text/csv'.")
        check_header_value("attachment MIME type", self.mimetype)


@dataclass(init=False)
class Message:
    """An email: recipients, subject, a text body with an HTML alternative, attachments.

    Every header value is checked for line breaks when the message is made
    and again when it is sent (a hook may have changed it).

    :param subject: the subject line.
    :param to: the recipients: one address or a list of them.
    :param body: the plain text body.
    :param html: the HTML body; sent as an alternative to ``body`` when both
        are given.
    :param sender: the ``From`` address; ``MAIL_DEFAULT_SENDER`` when not given.
    :param cc: carbon-copy recipients.
    :param bcc: blind-copy recipients: in the SMTP envelope, never in the headers.
    :param reply_to: the ``Reply-To`` addresses.
    :param headers: more headers, by name (``{"X-Campaign": "spring"}``).
        ``From``, ``To``, ``Subject`` and the MIME headers come from the
        fields above and cannot be set here.
    :param attachments: :class:`Attachment` objects; see also :meth:`attach`.
    """

    subject: str
    to: list[Address]
    body: str | None
    html: str | None
    sender: Address | None
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    headers: dict[str, str]
    attachments: list[Attachment]

    # Written out rather than generated: the recipients accept one address or
    # several, and the generated __init__ would type them as the stored lists.
    def __init__(
        self,
        subject: str = "",
        to: Address | Iterable[Address] | None = None,
        body: str | None = None,
        html: str | None = None,
        sender: Address | None = None,
        cc: Address | Iterable[Address] | None = None,
        bcc: Address | Iterable[Address] | None = None,
        reply_to: Address | Iterable[Address] | None = None,
        headers: Mapping[str, str] | None = None,
        attachments: Iterable[Attachment] | None = None,
    ) -> None:
        self.subject = subject
        self.to = _address_list(to)
        self.body = body
        self.html = html
        self.sender = sender
        self.cc = _address_list(cc)
        self.bcc = _address_list(bcc)
        self.reply_to = _address_list(reply_to)
        self.headers = dict(headers or {})
        self.attachments = list(attachments or [])
        self.check_headers()

    def attach(self, filename: str, content: bytes | str, mimetype: str | None = None, *, inline: bool = False) -> None:
        """Attach a file; see :class:`Attachment`."""
        self.attachments.append(Attachment(filename, content, mimetype, inline))

    @property
    def recipients(self) -> list[str]:
        """Every envelope recipient (to, cc and bcc), as bare addresses, without duplicates."""
        seen: dict[str, None] = {}
        for address in [*self.to, *self.cc, *self.bcc]:
            seen.setdefault(address_email(address), None)
        return list(seen)

    @property
    def message_id(self) -> str | None:
        """The ``Message-ID`` header, set when the message is sent."""
        for name, value in self.headers.items():
            if name.lower() == "message-id":
                return value
        return None

    def check_headers(self) -> None:
        """Check every header value for line breaks, and custom header names.

        :raises HeaderInjectionError: a value contains CR or LF.
        :raises MessageError: a custom header name is invalid or managed by the message.
        """
        check_header_value("Subject", self.subject)
        if self.sender is not None:
            format_address(self.sender, header="From")
        for header, addresses in (("To", self.to), ("Cc", self.cc), ("Bcc", self.bcc), ("Reply-To", self.reply_to)):
            for address in addresses:
                format_address(address, header=header)
        for name, value in self.headers.items():
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                raise MessageError(f"{name!r} is not a valid header name: use printable ASCII without ':' or spaces.")
            if name.lower() in MANAGED_HEADERS:
                raise MessageError(
                    f"The {name} header comes from the message's own fields; set it through them, not headers."
                )
            check_header_value(name, value)
        for attachment in self.attachments:
            check_header_value("attachment filename", attachment.filename)

    def prepare(self, default_sender: Address | None = None, *, check: bool = True) -> None:
        """Fill in the sender, ``Date`` and ``Message-ID`` before sending, and check the message.

        :param default_sender: the sender when the message has none.
        :param check: check every header value (:meth:`check_headers`);
            sending turns it off when no plugin implements
            ``erlen_mail_before_send``, since it checks the message again
            right after that hook's turn, and again when it is built.
        :raises MessageError: no sender or no recipient.
        :raises HeaderInjectionError: a header value contains CR or LF.
        """
        if self.sender is None:
            self.sender = default_sender
        if self.sender is None:
            raise MessageError(f"The message {self.subject!r} has no sender: pass sender= or set MAIL_DEFAULT_SENDER.")
        if not (self.to or self.cc or self.bcc):  # each address gives one recipient
            raise MessageError(f"The message {self.subject!r} has no recipient: pass to=, cc= or bcc=.")
        lowered = {name.lower() for name in self.headers}
        if "date" not in lowered:
            self.headers["Date"] = formatdate(localtime=True)
        if "message-id" not in lowered:
            sender = address_email(self.sender) if isinstance(self.sender, (str, tuple)) else ""
            domain = sender.rpartition("@")[2] or None
            self.headers["Message-ID"] = make_msgid(domain=domain)
        if check:
            self.check_headers()

    def to_bytes(self) -> bytes:
        """The message as sent over SMTP: MIME, headers encoded, CRLF line ends; ``Bcc`` is left out.

        Header values that are short ASCII are written as they are; the others
        are encoded (RFC 2047, RFC 2231 for attachment names) and folded by
        the standard library's ``email.policy.SMTP``. Text parts are UTF-8,
        7bit or 8bit, quoted-printable when a line is too long for SMTP.

        :raises HeaderInjectionError: a header value contains CR or LF.
        :raises MessageError: a header (name) is invalid.
        """
        self.check_headers()
        envelope = [*self.to, *self.cc, *self.bcc]
        if self.sender is not None:
            envelope.append(self.sender)
        utf8 = not all(address_email(address).isascii() for address in envelope)
        lines: list[bytes] = []
        if self.sender is not None:
            lines.append(_header_line("From", _header_text(self.sender), utf8))
        for header, addresses in (("To", self.to), ("Cc", self.cc), ("Reply-To", self.reply_to)):
            if addresses:
                lines.append(_header_line(header, ", ".join(map(_header_text, addresses)), utf8))
        lines.append(_header_line("Subject", self.subject, utf8))
        for name, value in self.headers.items():
            lines.append(_header_line(name, value, utf8))
        lines.append(b"MIME-Version: 1.0\r\n")
        if self.html is not None and self.body is not None:
            content = _multipart("alternative", [_text_part(self.body, "plain"), _text_part(self.html, "html")])
        elif self.html is not None:
            content = _text_part(self.html, "html")
        else:
            content = _text_part(self.body or "", "plain")
        if self.attachments:
            content = _multipart("mixed", [content, *map(_attachment_part, self.attachments)])
        lines.append(content)
        return b"".join(lines)

    def to_email(self) -> EmailMessage:
        """The message as an :class:`email.message.EmailMessage`; ``Bcc`` is left out.

        It is :meth:`to_bytes` parsed back (``email.policy.default``, with
        ``\\n`` line ends): what would be sent, for inspection.

        :raises HeaderInjectionError: a header value contains CR or LF.
        """
        # Every line of to_bytes() ends in CRLF and none holds a bare CR or LF.
        data = self.to_bytes().replace(b"\r\n", b"\n")
        return message_from_bytes(data, policy=_default_policy())


__all__ = ["Address", "Attachment", "Message", "check_header_value", "format_address"]


def message_from_raw(sender: str, recipients: list[str], data: bytes) -> Message:
    """A :class:`Message` made back from serialised bytes and their envelope, as the durable outbox keeps them.

    Recipients of the envelope that are in neither ``To`` nor ``Cc`` become
    ``bcc``; ``Date``, ``Message-ID`` and custom headers are kept.

    :param sender: the envelope sender.
    :param recipients: the envelope recipients.
    :param data: the message as :meth:`Message.to_bytes` made it.
    """
    parsed = message_from_bytes(data.replace(b"\r\n", b"\n"), policy=_default_policy())

    def addresses(name: str) -> list[str]:
        return [formataddr(pair) for pair in getaddresses([str(value) for value in parsed.get_all(name, [])])]

    to, cc = addresses("To"), addresses("Cc")
    visible = {email for _, email in getaddresses([*to, *cc])}
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    headers = {
        name: str(value) for name, value in parsed.items() if name.lower() not in MANAGED_HEADERS and name != "Bcc"
    }
    attachments = [
        Attachment(part.get_filename() or "attachment", part.get_content(), part.get_content_type())
        for part in parsed.iter_attachments()
    ]
    return Message(
        subject=str(parsed.get("Subject", "")),
        to=t.cast(t.Any, to),
        cc=t.cast(t.Any, cc),
        bcc=[address for address in recipients if address not in visible],
        sender=str(parsed.get("From", sender)),
        reply_to=t.cast(t.Any, addresses("Reply-To")),
        body=t.cast(str, text.get_content()) if text is not None else None,
        html=t.cast(str, html.get_content()) if html is not None else None,
        headers=headers,
        attachments=attachments,
    )
