"""The exceptions of :mod:`squall.web` (the tree is drawn in the package docstring)."""

from __future__ import annotations

from typing import Any

from squall.httputil import responses

__all__ = [
    "Finish",
    "HTTPError",
    "MissingArgumentError",
    "MissingSettingError",
    "UnsafeCookieError",
    "UnsafeHeaderError",
    "UsageError",
    "WebError",
]


class WebError(Exception):
    """Base class of every exception defined by :mod:`squall.web`.

    .. versionadded:: 0.1.0
    """


class HTTPError(WebError):
    """Raise it in a handler to answer the request with an error status.

    It works from anywhere in a handler: ``prepare``, the method, a
    callback of an ``@asynchronous`` method, a coroutine. The handler's
    :meth:`~squall.web.RequestHandler.write_error` renders the page, with
    ``exc_info`` in its keyword arguments.

    ``raise HTTPError(404)`` is the usual form; the log message (formatted
    lazily with ``args``, ``%`` style) goes to the ``squall.general`` log as
    a warning and is never shown to the client.

    :param status_code: the HTTP status code; a code
        :data:`squall.httputil.responses` does not know needs ``reason``.
    :param log_message: a message for the log, ``%`` placeholders filled
        from ``args``.
    :param args: the values for ``log_message``.
    :param reason: the reason phrase of the status line (default: the
        standard one for ``status_code``).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        status_code: int = 500,
        log_message: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(status_code, log_message, *args)
        #: The status code of the response.
        self.status_code = status_code
        #: The log message (``None`` for none).
        self.log_message = log_message
        #: The values for the log message's placeholders.
        self.args = args
        #: The reason phrase, or ``None`` for the standard one.
        self.reason: str | None = kwargs.get("reason")
        if log_message and not args:
            # A message without arguments is printed as it is.
            self.log_message = log_message.replace("%", "%%")

    def __str__(self) -> str:
        message = f"HTTP {self.status_code}: " + (
            self.reason or responses.get(self.status_code, "Unknown")
        )
        if self.log_message:
            try:
                detail = self.log_message % self.args
            except (TypeError, ValueError):
                detail = f"{self.log_message} {self.args!r}"
            return f"{message} ({detail})"
        return message


class MissingArgumentError(HTTPError):
    """A required argument is missing from the request: the client's fault (400).

    Raised by :meth:`~squall.web.RequestHandler.get_argument` and its
    siblings when there is no default.

    :param arg_name: the name of the missing argument.

    .. versionadded:: 0.1.0
    """

    def __init__(self, arg_name: str) -> None:
        super().__init__(400, "Missing argument %s", arg_name)
        #: The name of the missing argument.
        self.arg_name = arg_name


class Finish(WebError):  # noqa: N818 -- Tornado's name
    """Raise it to end the request successfully, right now.

    Unlike :class:`HTTPError` it is not an error: the response written so
    far is sent as it is (``Finish(chunk)`` writes ``chunk`` first), with
    the status already set. Useful to stop from deep inside helpers, for
    example after ``self.set_status(401)`` and an authentication header.

    .. versionadded:: 0.1.0
    """


class UsageError(WebError, RuntimeError):
    """Your code used the web API in a way that cannot work.

    For example writing after ``finish()``, finishing twice, redirecting
    after the headers were sent, or a status code without a reason phrase.
    It is a :class:`RuntimeError`, what Tornado raised in these cases.

    .. versionadded:: 0.1.0
    """


class UnsafeHeaderError(UsageError, ValueError):
    """A response header name or value holds characters that could split the response.

    Header values may not contain CR, LF or other control characters (an
    attacker-controlled value could otherwise inject headers); names must
    be HTTP tokens. The message names the header. It is a
    :class:`ValueError`.

    .. versionadded:: 0.1.0
    """


class UnsafeCookieError(UsageError, ValueError):
    """A cookie name, value or attribute would corrupt the ``Set-Cookie`` header.

    Names and values may not contain whitespace or control characters;
    attribute values (``domain``, ``path``, ``samesite``, ...) may not
    contain ``;`` (which would add attributes) nor control characters. The
    message names the cookie and the attribute. It is a :class:`ValueError`.

    .. versionadded:: 0.1.0
    """


class MissingSettingError(UsageError):
    """A feature needs an ``Application`` setting that is not set.

    For example secure cookies without ``cookie_secret``, ``static_url``
    without ``static_path``, or ``@authenticated`` without ``login_url``.

    .. versionadded:: 0.1.0
    """
