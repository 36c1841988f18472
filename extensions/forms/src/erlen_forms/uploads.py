"""Uploaded files: fields and validators of size and type."""

from __future__ import annotations

import mimetypes
import re
import typing as t
from collections.abc import Iterable, Sequence

import wtforms
from werkzeug.datastructures import FileStorage
from wtforms.validators import StopValidation, ValidationError

#: Declared content types that say nothing about the file.
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})
#: Content types browsers send under another name than ``mimetypes`` knows.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "application/x-pdf": "application/pdf",
    "text/x-csv": "text/csv",
    "application/csv": "text/csv",
    "application/vnd.ms-excel": "text/csv",
    "image/x-icon": "image/vnd.microsoft.icon",
}
#: The first bytes of common formats, by extension. WebP is a RIFF container: its
#: ``WEBP`` tag follows the container's size, so a WAV or AVI file does not pass for one.
_SIGNATURES: dict[str, re.Pattern[bytes]] = {
    "png": re.compile(rb"\x89PNG\r\n\x1a\n"),
    "jpg": re.compile(rb"\xff\xd8\xff"),
    "jpeg": re.compile(rb"\xff\xd8\xff"),
    "gif": re.compile(rb"GIF8[79]a"),
    "pdf": re.compile(rb"%PDF-"),
    "zip": re.compile(rb"PK(?:\x03\x04|\x05\x06)"),
    "webp": re.compile(rb"RIFF.{4}WEBP", re.DOTALL),
}


def _is_file(value: object) -> t.TypeGuard[FileStorage]:
    return isinstance(value, FileStorage) and bool(value.filename)


class FileField(wtforms.FileField):
    """A file upload; its ``data`` is a :class:`werkzeug.datastructures.FileStorage`, or ``None``.

    The form must be posted as ``multipart/form-data`` (``render_form`` does
    it for forms with file fields).
    """

    def process_formdata(self, valuelist: list[t.Any]) -> None:
        self.data = next((value for value in valuelist if _is_file(value)), None)


class MultipleFileField(wtforms.MultipleFileField):
    """Several file uploads; its ``data`` is a list of :class:`~werkzeug.datastructures.FileStorage`."""

    def process_formdata(self, valuelist: list[t.Any]) -> None:
        self.data = [value for value in valuelist if _is_file(value)]


def _files(field: wtforms.Field) -> list[FileStorage]:
    data = field.data
    if isinstance(data, list):
        return [item for item in data if _is_file(item)]
    return [data] if _is_file(data) else []


class FileRequired:
    """Require at least one uploaded file.

    :param message: the error message.
    """

    field_flags: t.ClassVar[dict[str, bool]] = {"required": True}

    def __init__(self, message: str | None = None) -> None:
        self.message = message

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        if not _files(field):
            field.errors = []
            raise StopValidation(self.message or field.gettext("Choose a file to upload."))


def file_size(storage: FileStorage, limit: int) -> int:
    """The size of an uploaded file, reading at most ``limit + 1`` bytes, then rewinding.

    :param storage: the uploaded file.
    :param limit: the largest size of interest: larger files give ``limit + 1``.
    """
    stream = storage.stream
    start = stream.tell() if stream.seekable() else 0
    size = 0
    while size <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        size += len(chunk)
    if stream.seekable():
        stream.seek(start)
    return size


def _human(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class FileSize:
    """Limit the size of each uploaded file.

    :param max_size: the largest size in bytes.
    :param min_size: the smallest size in bytes.
    :param message: the error message; ``%(max)s`` and ``%(min)s`` are replaced.
    """

    def __init__(self, max_size: int, min_size: int = 0, message: str | None = None) -> None:
        if max_size < min_size:
            raise ValueError("FileSize: max_size must be at least min_size.")
        self.max_size = max_size
        self.min_size = min_size
        self.message = message

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        for storage in _files(field):
            size = file_size(storage, self.max_size)
            if size > self.max_size or size < self.min_size:
                message = self.message or (
                    field.gettext("The file must be at most %(max)s.")
                    if size > self.max_size
                    else field.gettext("The file must be at least %(min)s.")
                )
                raise ValidationError(message % {"max": _human(self.max_size), "min": _human(self.min_size)})


def extension_of(filename: str) -> str:
    """The lower-case extension of ``filename``, without the dot; ``""`` when it has none."""
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name.strip(".") else ""


def _normal_type(content_type: str) -> str:
    content_type = content_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(content_type, content_type)


class FileAllowed:
    """Accept only files of the given types, checked three ways.

    The file name's extension must be one of ``extensions``; the content type
    the browser declared must be the one that extension stands for (unless it
    is a generic one such as ``application/octet-stream``); and for formats
    with a known signature (PNG, JPEG, GIF, PDF, ZIP, WebP), the first bytes
    of the content must match.

    :param extensions: the accepted extensions, without dots (``["png", "jpg"]``).
    :param message: the error message; ``%(extensions)s`` is replaced.
    :param check_content: also check the declared type and the content's
        first bytes.
    """

    def __init__(self, extensions: Iterable[str], message: str | None = None, *, check_content: bool = True) -> None:
        self.extensions: Sequence[str] = tuple(e.lower().lstrip(".") for e in extensions)
        if not self.extensions:
            raise ValueError("FileAllowed needs at least one extension.")
        self.message = message
        self.check_content = check_content

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        allowed = ", ".join(self.extensions)
        for storage in _files(field):
            extension = extension_of(storage.filename or "")
            if extension not in self.extensions:
                message = self.message or field.gettext("Only files of these types are accepted: %(extensions)s.")
                raise ValidationError(message % {"extensions": allowed})
            if self.check_content and not self._content_matches(storage, extension):
                message = self.message or field.gettext("The file's content does not match its type (%(extensions)s).")
                raise ValidationError(message % {"extensions": extension})

    @staticmethod
    def _content_matches(storage: FileStorage, extension: str) -> bool:
        declared = _normal_type(storage.mimetype or "")
        expected, _ = mimetypes.guess_type(f"file.{extension}", strict=False)
        if declared not in _GENERIC_TYPES and expected is not None and declared != _normal_type(expected):
            return False
        signature = _SIGNATURES.get(extension)
        if signature is not None:
            stream = storage.stream
            start = stream.tell() if stream.seekable() else 0
            head = stream.read(16)
            if stream.seekable():
                stream.seek(start)
            return signature.match(head) is not None
        return True
