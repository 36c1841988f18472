"""Form bodies that cannot be parsed are refused with a 400, not read as an empty form.

Werkzeug parses ``multipart/form-data`` silently: a body without its
boundary, cut off in the middle, or with a part lacking its
``Content-Disposition`` gives an empty ``request.form`` and ``request.files``.
A view then validates an empty form: with optional fields only, it is valid
and saves blanks over the stored values. The ``forms`` plugin makes the app's
request class parse strictly, so such a request is answered with a 400 that
says what is wrong, in the CSRF check already (it reads the form field) or
in the view.
"""

from __future__ import annotations

import typing as t

from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser
from werkzeug.wrappers import Request


class MalformedFormBody(BadRequest):
    """The request's form body cannot be parsed (a 400 with the reason)."""


class StrictFormDataParser(FormDataParser):
    """A form parser that refuses a malformed body with :class:`MalformedFormBody` instead of an empty form.

    :param args: as for :class:`~werkzeug.formparser.FormDataParser`.
    :param kwargs: as for :class:`~werkzeug.formparser.FormDataParser`; ``silent`` is always false.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        kwargs["silent"] = False
        super().__init__(*args, **kwargs)

    def parse(
        self,
        stream: t.IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> tuple[t.IO[bytes], t.Any, t.Any]:
        """Parse the body as Werkzeug does; a body it cannot parse raises :class:`MalformedFormBody`.

        :param stream: the request's input stream.
        :param mimetype: the request's mimetype.
        :param content_length: the request's ``Content-Length``, if any.
        :param options: the mimetype's parameters (the multipart boundary).
        """
        if content_length == 0:  # nothing sent: an empty form, as Werkzeug gives, not a malformed one
            return stream, self.cls(), self.cls()
        try:
            return super().parse(stream, mimetype, content_length, options)
        except ValueError as exc:
            raise MalformedFormBody(
                f"The request body is not valid {mimetype} ({exc}), so its fields cannot be read. "
                "Send the form as a browser does, or build the body with a library that writes it."
            ) from None


RequestClass = t.TypeVar("RequestClass", bound=Request)


def strict_request_class(base: type[RequestClass]) -> type[RequestClass]:
    """``base`` (the app's request class) with :class:`StrictFormDataParser` as its form parser.

    A subclass, so that what another plugin or the app changed in the request class is kept, its form parser
    included (made strict by a subclass of it); ``base`` itself when its parser is strict already (an app set up
    twice).

    :param base: the app's request class.
    """
    parser = base.form_data_parser_class
    if issubclass(parser, StrictFormDataParser):
        return base
    if parser is not FormDataParser:
        # The app's own parser (one that reads another form type, say) keeps its work: strictness goes on top.
        parser = type(f"Strict{parser.__name__}", (StrictFormDataParser, parser), {"__module__": __name__})
    else:
        parser = StrictFormDataParser
    namespace = {"form_data_parser_class": parser, "__module__": __name__}
    return t.cast("type[RequestClass]", type(base.__name__, (base,), namespace))


__all__ = ["MalformedFormBody", "StrictFormDataParser", "strict_request_class"]
