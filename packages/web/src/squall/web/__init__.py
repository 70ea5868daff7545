"""The web framework: applications, request handlers, cookies, templates.

A minimal application::

    from squall import ioloop, web

    class MainHandler(web.RequestHandler):
        def get(self):
            self.write("Hello, world")

    app = web.Application([(r"/", MainHandler)])
    app.listen(8888)
    ioloop.IOLoop.current().start()

An :class:`Application` maps URL patterns to :class:`RequestHandler`
subclasses (routing is :mod:`squall.routing`); each request gets a new
handler whose ``get()``, ``post()``, ... method writes the response.

Status codes follow Tornado's:

* no route matches the path: 404;
* a required argument is missing (:meth:`RequestHandler.get_argument`
  without default): 400, :class:`MissingArgumentError`;
* the handler does not define the request's method: 405, with an
  ``Allow`` header listing those it defines;
* an uncaught exception: 500, logged with its traceback on
  ``squall.application`` (the traceback is shown to the client only with
  the ``serve_traceback`` or ``debug`` setting);
* otherwise the status the handler set, 200 by default.

:meth:`RequestHandler.write_error` renders every error page; override it
for your own.

Handler methods may be written in four styles, side by side:

1. ``@asynchronous`` with callbacks, ending with ``self.finish()``;
2. ``@asynchronous`` on ``@gen.engine``, with ``yield gen.Task(...)``;
3. ``@gen.coroutine``, yielding futures;
4. ``async def``, awaiting anything.

An exception raised later, in a callback or a coroutine, still answers
the request with an error page.

Exceptions::

    WebError (Exception)                       -- base of those below
     +-- HTTPError                             -- raise it to answer with an error status
     |    +-- MissingArgumentError             -- 400: the client left out an argument
     +-- Finish                                -- raise it to end the request (not an error)
     +-- UsageError (RuntimeError)             -- your code misused the API (write after
          |                                       finish, redirect after the headers ...)
          +-- UnsafeHeaderError (ValueError)   -- a header name or value with CR, LF ...
          +-- UnsafeCookieError (ValueError)   -- a cookie that would inject attributes
          +-- MissingSettingError              -- a feature needs a setting (cookie_secret ...)

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from squall.routing import URLSpec, url
from squall.web._application import Application, _ApplicationRouter, _HandlerDelegate
from squall.web._cookies import (
    DEFAULT_SIGNED_VALUE_MIN_VERSION,
    DEFAULT_SIGNED_VALUE_VERSION,
    MAX_SUPPORTED_SIGNED_VALUE_VERSION,
    MIN_SUPPORTED_SIGNED_VALUE_VERSION,
    create_signed_value,
    decode_signed_value,
    get_signature_key_version,
)
from squall.web._decorators import (
    _has_stream_request_body,
    addslash,
    asynchronous,
    authenticated,
    removeslash,
    stream_request_body,
)
from squall.web._errors import (
    Finish,
    HTTPError,
    MissingArgumentError,
    MissingSettingError,
    UnsafeCookieError,
    UnsafeHeaderError,
    UsageError,
    WebError,
)
from squall.web._handler import RequestHandler
from squall.web._handlers_misc import ErrorHandler, FallbackHandler, RedirectHandler
from squall.web._transforms import (
    ChunkedTransferEncoding,
    GZipContentEncoding,
    OutputTransform,
)
from squall.web._uimodules import TemplateModule, UIModule, _UIModuleNamespace

if TYPE_CHECKING:
    from squall.web._static import StaticFileHandler  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "DEFAULT_SIGNED_VALUE_MIN_VERSION",
    "DEFAULT_SIGNED_VALUE_VERSION",
    "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
    "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
    "Application",
    "ChunkedTransferEncoding",
    "ErrorHandler",
    "FallbackHandler",
    "Finish",
    "GZipContentEncoding",
    "HTTPError",
    "MissingArgumentError",
    "MissingSettingError",
    "OutputTransform",
    "RedirectHandler",
    "RequestHandler",
    "StaticFileHandler",
    "TemplateModule",
    "UIModule",
    "URLSpec",
    "UnsafeCookieError",
    "UnsafeHeaderError",
    "UsageError",
    "WebError",
    "addslash",
    "asynchronous",
    "authenticated",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
    "removeslash",
    "stream_request_body",
    "url",
]

# Private names Tornado code sometimes reaches for; not part of the API.
_PRIVATE_EXPORTS = (
    _ApplicationRouter,
    _HandlerDelegate,
    _UIModuleNamespace,
    _has_stream_request_body,
)

# Public classes report the module users import them from.
for _cls in (
    Application,
    ErrorHandler,
    FallbackHandler,
    Finish,
    ChunkedTransferEncoding,
    GZipContentEncoding,
    HTTPError,
    MissingArgumentError,
    MissingSettingError,
    OutputTransform,
    RedirectHandler,
    RequestHandler,
    TemplateModule,
    UIModule,
    UnsafeCookieError,
    UnsafeHeaderError,
    UsageError,
    WebError,
):
    _cls.__module__ = __name__
del _cls


def __getattr__(name: str) -> Any:
    # StaticFileHandler lives in squall/web/_static.py, loaded on first use.
    if name == "StaticFileHandler":
        from squall.web._static import StaticFileHandler

        globals()[name] = StaticFileHandler
        return StaticFileHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
