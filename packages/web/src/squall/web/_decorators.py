"""Decorators for handler classes and methods."""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

from squall import stack_context
from squall.web._errors import HTTPError
from squall.web._handler import RequestHandler

__all__ = [
    "addslash",
    "asynchronous",
    "authenticated",
    "removeslash",
    "stream_request_body",
]

_H = TypeVar("_H", bound=type[RequestHandler])
_M = TypeVar("_M", bound=Callable[..., Any])


def asynchronous(method: _M) -> _M:
    """Keep the response open after the method returns, until ``self.finish()``.

    The Tornado 4/5 style of asynchronous handler::

        class MainHandler(RequestHandler):
            @asynchronous
            def get(self):
                client = AsyncHTTPClient()
                client.fetch("http://example.com", callback=self.on_response)

            def on_response(self, response):
                self.write(response.body)
                self.finish()

    An exception raised by the method, or later by a callback it scheduled
    on the IOLoop (directly, through ``gen.Task``, ``callback=`` arguments
    or ``@gen.engine``), answers the request with an error page through
    :meth:`~RequestHandler.write_error` instead of leaving it hanging: the
    method runs inside a :class:`squall.stack_context.ExceptionStackContext`
    that follows its callbacks.

    If the method returns a Future (it is also a coroutine), the response
    is finished when it completes, unless it was already.

    It is not needed for ``async def`` or ``@gen.coroutine`` methods.

    .. versionadded:: 0.1.0
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> None:
        self._auto_finish = False
        with stack_context.ExceptionStackContext(self._stack_context_handle_exception):
            result = method(self, *args, **kwargs)
            if result is None:
                return
            from squall.gen import convert_yielded
            from squall.ioloop import IOLoop

            future = convert_yielded(result)

            def finish_when_done(done: Any) -> None:
                done.result()  # an exception goes to the stack context
                if not self._finished:
                    self.finish()

            IOLoop.current().add_future(future, finish_when_done)

    return wrapper  # type: ignore[return-value]


def authenticated(method: _M) -> _M:
    """Require a logged-in user (``self.current_user``) for the method.

    Without one, a GET or HEAD is redirected to the ``login_url`` setting,
    with ``?next=<this URL>`` added when the login URL has no query yet;
    other methods are answered 403.

    :raises MissingSettingError: (when not logged in) without ``login_url``.

    .. versionadded:: 0.1.0
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        if not self.current_user:
            if self.request.method in ("GET", "HEAD"):
                url = self.get_login_url()
                if "?" not in url:
                    if urllib.parse.urlsplit(url).scheme:
                        next_url = self.request.full_url()
                    else:
                        next_url = self.request.uri or "/"
                    url += "?" + urllib.parse.urlencode({"next": next_url})
                self.redirect(url)
                return None
            raise HTTPError(403)
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _local_path(path: str) -> str:
    r"""Keep a redirect on this site: ``//host`` and ``/\host`` become ``/host``."""
    if path.startswith(("//", "/\\")):
        return "/" + path.lstrip("/\\")
    return path


def removeslash(method: _M) -> _M:
    """Redirect ``/path/`` to ``/path`` (permanently) before the method runs.

    Only GET and HEAD are redirected; other methods on a path with a
    trailing slash are answered 404. Use with a pattern like ``r"/foo/*"``.
    The redirect always stays on this site.

    .. versionadded:: 0.1.0
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        path = self.request.path
        if path.endswith("/"):
            if self.request.method not in ("GET", "HEAD"):
                raise HTTPError(404)
            uri = path.rstrip("/")
            if uri:  # "/" stays "/"
                uri = _local_path(uri)
                if self.request.query:
                    uri += "?" + self.request.query
                self.redirect(uri, permanent=True)
                return None
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def addslash(method: _M) -> _M:
    """Redirect ``/path`` to ``/path/`` (permanently) before the method runs.

    Only GET and HEAD are redirected; other methods on a path without a
    trailing slash are answered 404. Use with a pattern like ``r"/foo/?"``.
    The redirect always stays on this site.

    .. versionadded:: 0.1.0
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        path = self.request.path
        if not path.endswith("/"):
            if self.request.method not in ("GET", "HEAD"):
                raise HTTPError(404)
            uri = _local_path(path + "/")
            if self.request.query:
                uri += "?" + self.request.query
            self.redirect(uri, permanent=True)
            return None
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def stream_request_body(cls: _H) -> _H:
    """Class decorator: hand the request body to the handler as it arrives.

    Instead of ``self.request.body`` being filled before the method runs,
    ``prepare()`` runs as soon as the headers are in, then
    ``data_received(chunk)`` for each piece of the body, then the HTTP
    method once the body is complete. ``prepare()`` may be a coroutine (no
    body is read until it completes) and may raise the body size limit
    with ``self.request.connection.set_max_body_size(n)``;
    ``data_received`` may return an awaitable for flow control.

    :raises TypeError: if ``cls`` is not a ``RequestHandler`` subclass.

    .. versionadded:: 0.1.0
    """
    if not (isinstance(cls, type) and issubclass(cls, RequestHandler)):
        raise TypeError(f"expected a subclass of RequestHandler, got {cls!r}")
    cls._stream_request_body = True
    return cls


def _has_stream_request_body(cls: type[RequestHandler]) -> bool:
    if not (isinstance(cls, type) and issubclass(cls, RequestHandler)):
        raise TypeError(f"expected a subclass of RequestHandler, got {cls!r}")
    return cls._stream_request_body
