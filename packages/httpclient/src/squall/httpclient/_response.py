"""HTTPResponse: what a fetch produced."""

from __future__ import annotations

import io
from typing import Any

from squall.httpclient._errors import HTTPClientError
from squall.httpclient._request import HTTPRequest, _RequestProxy
from squall.httputil import HTTPHeaders, responses

__all__ = ["HTTPResponse"]


class HTTPResponse:
    """The result of a fetch.

    :param request: the :class:`.HTTPRequest` (for a redirected fetch, the
        one the caller made).
    :param code: the status code (599 when no response was received).
    :param headers: the response header fields.
    :param buffer: an :class:`io.BytesIO` holding the body.
    :param effective_url: the URL of the last request, after redirects.
    :param error: the :class:`.HTTPClientError` of a failed fetch; by
        default an ``HTTPClientError(code)`` for any code outside 200-299.
    :param request_time: seconds from the start of the fetch to its end.
    :param time_info: timings of the phases of the fetch (keys ``queue``,
        ``connect``, ``pretransfer``, ``starttransfer``, ``total`` where
        known, in seconds from the start).
    :param reason: the reason phrase (default: the standard one for the code).
    :param start_time: wall-clock time the fetch started.

    Attributes: the parameters, plus :attr:`body`.

    .. versionadded:: 0.1.0
    """

    error: BaseException | None

    def __init__(
        self,
        request: HTTPRequest | _RequestProxy,
        code: int,
        headers: HTTPHeaders | None = None,
        buffer: io.BytesIO | None = None,
        effective_url: str | None = None,
        error: BaseException | None = None,
        request_time: float | None = None,
        time_info: dict[str, float] | None = None,
        reason: str | None = None,
        start_time: float | None = None,
        *,
        _body: bytes | None = None,
    ) -> None:
        if isinstance(request, _RequestProxy):
            request = request.request
        self.request: HTTPRequest = request
        self.code = code
        self.reason = reason or responses.get(code, "Unknown")
        self.headers = headers if headers is not None else HTTPHeaders()
        self._buffer = buffer
        self._body = _body
        self.effective_url = request.url if effective_url is None else effective_url
        self._error_is_response_code = False
        if error is None and (code < 200 or code >= 300):
            self._error_is_response_code = True
            error = HTTPClientError(code, message=self.reason, response=self)
        self.error = error
        self.request_time = request_time
        self.start_time = start_time
        self.time_info = time_info or {}

    @property
    def buffer(self) -> io.BytesIO | None:
        """The body as an :class:`io.BytesIO` (``None`` when there was no body).

        .. versionadded:: 0.1.0
        """
        if self._buffer is None and self._body is not None:
            self._buffer = io.BytesIO(self._body)
        return self._buffer

    @buffer.setter
    def buffer(self, value: io.BytesIO | None) -> None:
        self._buffer = value
        self._body = None

    @property
    def body(self) -> bytes:
        """The body as bytes (empty if there was none or it was streamed).

        .. versionadded:: 0.1.0
        """
        body = self._body
        if body is None:
            if self._buffer is None:
                return b""
            body = self._body = self._buffer.getvalue()
        return body

    def rethrow(self) -> None:
        """Raise :attr:`error` if there is one.

        .. versionadded:: 0.1.0
        """
        if self.error is not None:
            raise self.error

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in sorted(self._repr_fields().items()))
        return f"{type(self).__name__}({fields})"

    def _repr_fields(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "reason": self.reason,
            "effective_url": self.effective_url,
            "error": self.error,
            "request_time": self.request_time,
        }
