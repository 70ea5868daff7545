"""The request side of a request handler: query, body and path arguments.

Arguments are parsed lazily by the request (on first access); this layer
only decodes and cleans the values a handler asks for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, overload

from squall.web._errors import HTTPError, MissingArgumentError
from squall.web._output import _OutputHandler

__all__: list[str] = []

_T = TypeVar("_T")

# Control characters replaced by a space in decoded arguments (tab, newlines,
# vertical tab and form feed are kept).
_CONTROL_CHARS_RE = re.compile("[\x00-\x08\x0e-\x1f]")
# The same characters as bytes: in UTF-8 they are exactly these octets, so
# a raw value without them decodes to text the pattern would not change.
_CONTROL_BYTES = bytes(range(0x00, 0x09)) + bytes(range(0x0E, 0x20))


class _ArgDefaultMarker:
    """The default of ``default``: the argument is required."""

    def __repr__(self) -> str:
        return "<required>"


_ARG_DEFAULT: Any = _ArgDefaultMarker()


class _InputHandler(_OutputHandler):
    """Argument access for a request handler (see ``RequestHandler``)."""

    path_args: Sequence[Any]
    path_kwargs: Mapping[str, Any]

    @overload
    def get_argument(self, name: str, default: str = ..., strip: bool = True) -> str: ...
    @overload
    def get_argument(self, name: str, default: _T, strip: bool = True) -> str | _T: ...
    def get_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """Return the last value of argument ``name``, from the query or the body.

        :param default: returned when the argument is absent; without one
            the argument is required.
        :param strip: strip whitespace from both ends of the value.
        :raises MissingArgumentError: (400) if absent and required.
        :raises HTTPError: (400) if the value is not valid UTF-8.

        .. versionadded:: 0.1.0
        """
        values = self.request._argument_source().get(name)
        if not values:
            if default is _ARG_DEFAULT:
                raise MissingArgumentError(name)
            return default
        raw = values[-1]
        if type(self).decode_argument is not _DEFAULT_DECODE_ARGUMENT:
            return self._clean(name, raw, strip)
        # (The default decoding, inline: _clean's first branch.)
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._clean(name, raw, strip)  # raises the 400
        if len(raw.translate(None, _CONTROL_BYTES)) != len(raw):
            value = _CONTROL_CHARS_RE.sub(" ", value)
        return value.strip() if strip else value

    def get_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Return every value of argument ``name`` (query then body); maybe empty.

        .. versionadded:: 0.1.0
        """
        return self._get_arguments(name, self.request._argument_source(), strip)

    @overload
    def get_body_argument(self, name: str, default: str = ..., strip: bool = True) -> str: ...
    @overload
    def get_body_argument(self, name: str, default: _T, strip: bool = True) -> str | _T: ...
    def get_body_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """Like :meth:`get_argument`, reading only the request body.

        .. versionadded:: 0.1.0
        """
        return self._get_argument(name, default, self.request.body_arguments, strip)

    def get_body_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Like :meth:`get_arguments`, reading only the request body.

        .. versionadded:: 0.1.0
        """
        return self._get_arguments(name, self.request.body_arguments, strip)

    @overload
    def get_query_argument(self, name: str, default: str = ..., strip: bool = True) -> str: ...
    @overload
    def get_query_argument(self, name: str, default: _T, strip: bool = True) -> str | _T: ...
    def get_query_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """Like :meth:`get_argument`, reading only the query string.

        .. versionadded:: 0.1.0
        """
        return self._get_argument(name, default, self.request.query_arguments, strip)

    def get_query_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Like :meth:`get_arguments`, reading only the query string.

        .. versionadded:: 0.1.0
        """
        return self._get_arguments(name, self.request.query_arguments, strip)

    def _get_argument(
        self, name: str, default: Any, source: dict[str, list[bytes]], strip: bool
    ) -> Any:
        values = source.get(name)
        if not values:
            if default is _ARG_DEFAULT:
                raise MissingArgumentError(name)
            return default
        return self._clean(name, values[-1], strip)

    def _get_arguments(self, name: str, source: dict[str, list[bytes]], strip: bool) -> list[Any]:
        return [self._clean(name, value, strip) for value in source.get(name, ())]

    def _clean(self, name: str, raw: bytes, strip: bool) -> Any:
        if type(self).decode_argument is _DEFAULT_DECODE_ARGUMENT:
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.decode_argument(raw, name=name)  # raises the 400
                raise
            # (Checking the octets is cheaper than str.isprintable.)
            if len(raw.translate(None, _CONTROL_BYTES)) != len(raw):
                value = _CONTROL_CHARS_RE.sub(" ", value)
            return value.strip() if strip else value
        value = self.decode_argument(raw, name=name)
        if isinstance(value, str):
            if not value.isprintable():
                value = _CONTROL_CHARS_RE.sub(" ", value)
            if strip:
                value = value.strip()
        return value

    def decode_argument(self, value: bytes, name: str | None = None) -> Any:
        """Decode an argument (query, body or path) from bytes; override to change it.

        The default decodes UTF-8. A path argument that did not match (an
        optional group) is ``None`` and stays ``None``.

        :param value: the raw value.
        :param name: the argument's name, ``None`` for a path argument.
        :raises HTTPError: (400) if ``value`` is not valid UTF-8.

        .. versionadded:: 0.1.0
        """
        if value is None or isinstance(value, str):
            return value
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(400, "Invalid unicode in %s: %r", name or "url", value[:40]) from None


_DEFAULT_DECODE_ARGUMENT = _InputHandler.decode_argument
