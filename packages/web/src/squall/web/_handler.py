"""RequestHandler: one instance answers one request.

Life cycle, driven by ``Application`` (see :meth:`RequestHandler._execute`):
``initialize(**kwargs)`` -> ``prepare()`` -> the HTTP method (``get()``,
``post()``, ...) -> ``finish()`` (automatic unless the method is
``@asynchronous``) -> ``on_finish()``.

The common case costs no Future and no Task: ``prepare()`` and the method
are called directly, and ``finish()`` runs before ``_execute`` returns.
Only when one of them returns an awaitable (a coroutine method, a
``@gen.coroutine``, an asynchronous ``prepare``) does the rest of the life
cycle continue in one Task.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any

from squall.httputil import HTTPInputError, HTTPServerRequest
from squall.iostream import StreamClosedError
from squall.log import app_log, gen_log
from squall.web._errors import Finish, HTTPError
from squall.web._output import _DEFAULT_SET_DEFAULT_HEADERS, _HTML, _SERVER, _headers_of
from squall.web._render import _RenderHandler

if TYPE_CHECKING:
    from squall.web._application import Application
    from squall.web._transforms import OutputTransform

__all__ = ["RequestHandler"]

# Methods that cannot change state, hence exempt from the XSRF check.
_XSRF_EXEMPT = frozenset({"GET", "HEAD", "OPTIONS"})

_METHOD_ATTRS = {
    name: name.lower() for name in ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")
}

_PREPARE = 0
_BODY = 1
_METHOD = 2


def _unimplemented_method(self: RequestHandler, *args: Any, **kwargs: Any) -> None:
    raise HTTPError(405)


_unimplemented_method._squall_unimplemented = True  # type: ignore[attr-defined]


def _awaitable(value: Any) -> Awaitable[Any]:
    if isinstance(value, asyncio.Future) or inspect.iscoroutine(value):
        return value
    from squall.gen import convert_yielded

    return convert_yielded(value)


def _template_location(tb: TracebackType | None) -> str:
    """`` (template name:line)`` when the traceback passes through a template."""
    template = sys.modules.get("squall.template")
    locate = getattr(template, "template_location", None)
    if locate is None or tb is None:
        return ""
    try:
        location = locate(tb)
    except Exception:
        return ""
    if not location:
        return ""
    if isinstance(location, tuple) and len(location) == 2:
        return f" (in template {location[0]}:{location[1]})"
    return f" (in template {location})"


class RequestHandler(_RenderHandler):
    """Base class of the handlers an ``Application`` routes requests to.

    Subclass it and define the methods of the HTTP verbs you answer
    (``get``, ``post``, ...); the positional or named groups of the route
    pattern are passed as arguments. A verb you do not define is answered
    405 with an ``Allow`` header listing the ones you do.

    The method may be a plain function (the response is finished when it
    returns), ``async def`` or ``@gen.coroutine`` (finished when it
    completes), or ``@asynchronous`` (finished when you call
    :meth:`finish`, typically from a callback).

    :param application: the application.
    :param request: the request.
    :param kwargs: passed to :meth:`initialize` (the route's third item).

    .. versionadded:: 0.1.0
    """

    #: The methods this handler accepts at all; others are answered 405.
    #: Add non-standard ones here (the server accepts them only then).
    SUPPORTED_METHODS: Sequence[str] = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    _stream_request_body = False
    _prepared_future: asyncio.Future[None] | None = None
    _task: asyncio.Future[None] | None = None
    #: The positional path arguments, decoded (set before ``prepare``; a
    #: list when the route has groups).
    path_args: Sequence[Any] = ()
    #: The named path arguments, decoded (set before ``prepare``).
    path_kwargs: Mapping[str, Any] = MappingProxyType({})

    def __init__(self, application: Application, request: HTTPServerRequest, **kwargs: Any) -> None:
        cls = type(self)
        self.application = application
        self.request = request
        # (_default_headers(), inline.)
        self._headers = _headers_of({"Server": [_SERVER], "Content-Type": [_HTML]})
        self._write_buffer = []
        # (_status_code and _reason start at their class-level defaults.)
        # Hooks are looked up on the class; the default ones are not called.
        if cls.set_default_headers is not _DEFAULT_SET_DEFAULT_HEADERS:
            self.set_default_headers()
        if self._stream_request_body:
            self._watch_connection()
        if kwargs or cls.initialize is not _DEFAULT_INITIALIZE:
            self.initialize(**kwargs)

    def _initialize(self) -> None:
        """Hook: receives the keyword arguments of the route (its third item).

        ``(r"/user/(.*)", UserHandler, {"db": db})`` calls
        ``initialize(db=db)`` on every new handler; store them on ``self``.

        .. versionadded:: 0.1.0
        """

    initialize: Callable[..., None] = _initialize

    # -- hooks -----------------------------------------------------------------

    def prepare(self) -> Awaitable[None] | None:
        """Hook called before the HTTP method, for work common to all of them.

        May be a coroutine (``async def``, ``@gen.coroutine``); the method
        runs once it completes. Calling :meth:`finish` (or :meth:`redirect`,
        :meth:`send_error`) here skips the method.

        .. versionadded:: 0.1.0
        """
        return None

    def on_connection_close(self) -> None:
        """Hook called if the client closes the connection before the response is finished.

        Override it to stop work for a long request (long polling,
        streaming). The default does nothing. Pending work of the handler is
        not an error: a later :meth:`finish` does nothing harmful.

        .. versionadded:: 0.1.0
        """

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Receive a piece of the body, for ``@stream_request_body`` handlers.

        May return an awaitable: no more body is read until it completes.

        :raises NotImplementedError: unless overridden.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    head: Callable[..., Any] = _unimplemented_method
    get: Callable[..., Any] = _unimplemented_method
    post: Callable[..., Any] = _unimplemented_method
    delete: Callable[..., Any] = _unimplemented_method
    patch: Callable[..., Any] = _unimplemented_method
    put: Callable[..., Any] = _unimplemented_method
    options: Callable[..., Any] = _unimplemented_method

    def _watch_connection(self) -> None:
        # Have the connection tell us if the client goes away. Only needed
        # once the handler outlives the synchronous call that created it
        # (asynchronous methods, streamed bodies): until then nothing else
        # runs, so the connection cannot close under it.
        if self._close_callback_set or self._finished:
            return
        set_close_callback = getattr(self.request.connection, "set_close_callback", None)
        if set_close_callback is not None:
            set_close_callback(self._on_connection_close)
            self._close_callback_set = True

    def _on_connection_close(self) -> None:
        if self._finished or self._connection_closed:
            return
        self._connection_closed = True
        if self._stream_request_body:
            body = getattr(self.request, "_body_future", None)
            if body is not None and not body.done():
                body.set_exception(StreamClosedError())
                body.exception()  # retrieved: a client going away is not an error
        try:
            self.on_connection_close()
        except Exception:
            app_log.error("Exception in on_connection_close of %r", self, exc_info=True)

    # -- running the request ---------------------------------------------------

    def _execute(
        self,
        transforms: Sequence[OutputTransform],
        *args: str | bytes | None,
        **kwargs: str | bytes | None,
    ) -> asyncio.Future[None] | None:
        """Run the life cycle with the route's raw path arguments (see :meth:`_run`)."""
        return self._run(transforms, args, kwargs, False)

    def _run(
        self,
        transforms: Sequence[OutputTransform],
        path_args: Sequence[str | bytes | None],
        path_kwargs: Mapping[str, str | bytes | None],
        decoded: bool,
    ) -> asyncio.Future[None] | None:
        """Run the life cycle with the route's path arguments.

        The arguments are raw bytes for :meth:`decode_argument`, or already
        text (``str``, passed on as is) when the router found them free of
        escapes and the handler's ``decode_argument`` is the default one.
        With ``decoded`` every one is such text: the handler takes the list
        and the dict over as its ``path_args`` and ``path_kwargs``.
        Returns ``None`` when everything ran synchronously, else the Task
        running the rest. Never raises: errors become error responses.
        """
        if transforms:
            self._transforms = transforms
        try:
            request = self.request
            method = request.method or ""
            if method not in self.SUPPORTED_METHODS:
                raise HTTPError(405)
            if decoded:
                self.path_args = path_args
                self.path_kwargs = path_kwargs
            elif path_args or path_kwargs:
                self._decode_path_arguments(path_args, path_kwargs)
            else:
                self.path_args = []
                self.path_kwargs = {}
            if method not in _XSRF_EXEMPT and self.application.settings.get("xsrf_cookies"):
                self.check_xsrf_cookie()
            if type(self).prepare is not _DEFAULT_PREPARE:
                result = self.prepare()
                if result is not None:
                    return self._run_async(result, _PREPARE)
            if self._prepared_future is not None:
                self._prepared_future.set_result(None)
            if self._finished:
                return None
            if self._stream_request_body:
                body = request._body_future  # type: ignore[attr-defined]
                if not body.done():
                    return self._run_async(body, _BODY)
                body.result()
                if self._finished:
                    return None
            function = getattr(self, _METHOD_ATTRS.get(method) or method.lower(), None)
            if function is None:
                raise HTTPError(405)
            args = self.path_args
            kwargs = self.path_kwargs
            # (A plain call when there are no path arguments: no star-call.)
            result = function(*args, **kwargs) if args or kwargs else function()
            if result is not None:
                if isinstance(result, asyncio.Future) and result.done():
                    result.result()
                else:
                    return self._run_async(result, _METHOD)
            if not self._finished:
                if self._auto_finish:
                    self.finish()
                else:  # @asynchronous: the response is finished later
                    self._watch_connection()
        except Exception as e:
            self._handle_exception_safely(e)
        except asyncio.CancelledError:
            self._on_cancelled()
        return None

    def _decode_path_arguments(
        self, args: Sequence[str | bytes | None], kwargs: Mapping[str, str | bytes | None]
    ) -> None:
        """Set ``path_args`` and ``path_kwargs``: raw values go through decode_argument."""
        decode = self.decode_argument
        # (Routes have positional or named groups, not both: build only one.)
        self.path_args = (
            [arg if isinstance(arg, str) else decode(arg) for arg in args]  # type: ignore[arg-type]
            if args
            else []
        )
        self.path_kwargs = (
            {
                name: value if isinstance(value, str) else decode(value, name=name)  # type: ignore[arg-type]
                for name, value in kwargs.items()
            }
            if kwargs
            else {}
        )

    def _call_method(self, method: str) -> Any:
        function = getattr(self, _METHOD_ATTRS.get(method) or method.lower(), None)
        if function is None:
            raise HTTPError(405)
        return function(*self.path_args, **self.path_kwargs)

    def _run_async(self, pending: Any, stage: int) -> asyncio.Future[None]:
        self._watch_connection()
        task = asyncio.ensure_future(self._resume(pending, stage))
        self._task = task
        return task

    async def _resume(self, pending: Any, stage: int) -> None:
        try:
            if stage == _PREPARE:
                await _awaitable(pending)
                prepared = self._prepared_future
                if prepared is not None and not prepared.done():
                    prepared.set_result(None)
                if self._finished:
                    return
                stage = _BODY
                pending = self.request._body_future if self._stream_request_body else None  # type: ignore[attr-defined]
            if stage == _BODY:
                if pending is not None:
                    await pending
                if self._finished:  # answered while the body was streaming in
                    return
                result = self._call_method(self.request.method or "")
                if result is not None:
                    await _awaitable(result)
            else:
                await _awaitable(pending)
            if self._auto_finish and not self._finished:
                self.finish()
        except Exception as e:
            self._handle_exception_safely(e)
        except asyncio.CancelledError:
            self._on_cancelled()
        finally:
            prepared = self._prepared_future
            if prepared is not None and not prepared.done():
                prepared.set_result(None)

    def _on_cancelled(self) -> None:
        # The handler's coroutine was cancelled (shutdown, a timeout around
        # it): answer rather than leave the client hanging.
        if self._finished or self._connection_closed:
            return
        gen_log.warning("Request cancelled: %s", self._request_summary())
        try:
            self.send_error(503)
        except Exception:
            app_log.error("Exception answering a cancelled request", exc_info=True)

    def _handle_exception_safely(self, e: BaseException) -> None:
        try:
            self._handle_request_exception(e)
        except Exception:
            app_log.error("Exception in the exception handler of %r", self, exc_info=True)
        finally:
            prepared = self._prepared_future
            if prepared is not None and not prepared.done():
                prepared.set_result(None)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, Finish):
            if not self._finished:
                self.finish(*e.args)
            return
        if isinstance(e, StreamClosedError) and (self._connection_closed or self._stream_closed()):
            # The client went away: nothing to answer, nothing wrong here.
            gen_log.debug("Client disconnected during %s", self._request_summary())
            return
        exc_info = (type(e), e, e.__traceback__)
        try:
            self.log_exception(*exc_info)
        except Exception:
            app_log.error("Error in exception logger", exc_info=True)
        if self._finished:
            # Logged above; the response is already complete.
            return
        if isinstance(e, (HTTPError, HTTPInputError)):
            self.send_error(e.status_code, exc_info=exc_info)
        else:
            self.send_error(500, exc_info=exc_info)

    def _stream_closed(self) -> bool:
        stream = getattr(self.request.connection, "stream", None)
        closed = getattr(stream, "closed", None)
        return bool(closed is not None and closed())

    def _stack_context_handle_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """Handle an exception raised in a callback of an ``@asynchronous`` method."""
        if not isinstance(value, Exception):
            return False
        self._handle_exception_safely(value)
        return True

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Log an exception raised while handling the request; override to change how.

        :class:`HTTPError` (and a malformed request) is logged as a warning,
        without traceback, on ``squall.general`` (only when it has a log
        message); anything else as an error with its traceback, the
        request and, for an error inside a template, its name and line, on
        ``squall.application``.

        .. versionadded:: 0.1.0
        """
        if isinstance(value, HTTPError):
            if value.log_message:
                gen_log.warning(
                    "%d %s: " + value.log_message,
                    value.status_code,
                    self._request_summary(),
                    *value.args,
                )
        elif isinstance(value, HTTPInputError):
            gen_log.warning("%d %s: %s", value.status_code, self._request_summary(), value)
        else:
            app_log.error(
                "Uncaught exception %s%s\n%r",
                self._request_summary(),
                _template_location(tb),
                self.request,
                exc_info=(typ, value, tb),  # type: ignore[arg-type]
            )


_DEFAULT_INITIALIZE = RequestHandler.initialize
_DEFAULT_PREPARE = RequestHandler.prepare
