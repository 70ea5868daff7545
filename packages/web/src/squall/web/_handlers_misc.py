"""Small ready-made handlers: redirects, fixed errors, and other applications."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from squall.httputil import HTTPServerRequest, qs_to_qsl, url_concat
from squall.web._decorators import _local_path
from squall.web._errors import HTTPError
from squall.web._handler import RequestHandler

__all__ = ["ErrorHandler", "FallbackHandler", "RedirectHandler"]


class ErrorHandler(RequestHandler):
    """Answers every request with one error status.

    ``Application`` uses it, with 404, for paths no route matches (unless
    the ``default_handler_class`` setting names another handler)::

        (r"/gone/.*", ErrorHandler, {"status_code": 410})

    Every standard method gets that status (``TRACE`` and ``CONNECT``
    included): there is no resource whose methods a 405 could list.

    :param status_code: the status to answer.

    .. versionadded:: 0.1.0
    """

    SUPPORTED_METHODS = (
        *RequestHandler.SUPPORTED_METHODS,
        "TRACE",
        "CONNECT",
    )

    def initialize(self, status_code: int) -> None:
        """Store the status code; see the class docstring.

        .. versionadded:: 0.1.0
        """
        self.set_status(status_code)

    def prepare(self) -> None:
        """Raise the :class:`HTTPError`.

        .. versionadded:: 0.1.0
        """
        raise HTTPError(self._status_code)

    def check_xsrf_cookie(self) -> None:
        """Do nothing: an error page needs no XSRF token (a POST to a missing path is a 404).

        .. versionadded:: 0.1.0
        """


class RedirectHandler(RequestHandler):
    r"""Redirects GET and HEAD requests to another URL.

    ``url`` is a :meth:`str.format` template filled with the route's
    groups, and the request's query string is kept::

        (r"/old/(.*)", RedirectHandler, {"url": "/new/{0}"}),
        (r"/u/(?P<id>\d+)", RedirectHandler, {"url": "/user/{id}"}),

    A path filled in from the request never turns the target into another
    site (``//host`` or ``/\host``) unless the template itself was one.

    :param url: the target template.
    :param permanent: 301 (default) rather than 302.

    .. versionadded:: 0.1.0
    """

    def initialize(self, url: str, permanent: bool = True) -> None:
        """Store the target; see the class docstring.

        .. versionadded:: 0.1.0
        """
        self._url = url
        self._permanent = permanent

    def get(self, *args: Any, **kwargs: Any) -> None:
        """Redirect.

        .. versionadded:: 0.1.0
        """
        target = self._url.format(*args, **kwargs)
        if not self._url.startswith(("//", "/\\")):
            target = _local_path(target)
        if self.request.query_arguments:
            # The raw bytes go back out percent-encoded, whatever their charset.
            pairs = list(qs_to_qsl(self.request.query_arguments))
            target = url_concat(target, cast(list[tuple[str, str]], pairs))
        self.redirect(target, permanent=self._permanent)

    head = get


class FallbackHandler(RequestHandler):
    """Hands requests to another server application, such as a ``WSGIContainer``.

    The fallback is called with the complete ``HTTPServerRequest`` and
    writes the response itself through ``request.connection``::

        wsgi_app = WSGIContainer(flask_app)
        Application([
            (r"/api/.*", ApiHandler),
            (r".*", FallbackHandler, {"fallback": wsgi_app}),
        ])

    :param fallback: a callable taking the request.

    .. versionadded:: 0.1.0
    """

    def initialize(self, fallback: Callable[[HTTPServerRequest], Any]) -> None:
        """Store the fallback; see the class docstring.

        .. versionadded:: 0.1.0
        """
        self.fallback = fallback

    def prepare(self) -> None:
        """Call the fallback and consider the response finished.

        .. versionadded:: 0.1.0
        """
        self.fallback(self.request)
        self._finished = True
        self._break_cycles()
        self.on_finish()
