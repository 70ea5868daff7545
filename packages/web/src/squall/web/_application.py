"""Application: the routing table and settings of a web application.

An :class:`Application` is the
:class:`~squall.httputil.HTTPServerConnectionDelegate` an HTTP server
hands requests to. For each request it returns a :class:`_RequestDispatcher`
which, once the head is parsed, builds the request, routes it, collects the
body and runs the handler.

Hot path: routing is one dictionary lookup for a literal path (see
:mod:`squall.routing`); the dispatcher is the handler delegate itself (one
object per request besides the request and the handler); a GET needs no
body buffer; the handler runs synchronously unless it is asynchronous.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import types
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
)
from squall.log import access_log, app_log
from squall.routing import (
    AnyMatches,
    DefaultHostMatches,
    HostMatches,
    ReversibleRouter,
    ReversibleRuleRouter,
    RouteNotFoundError,
    Rule,
    RuleRouter,
)
from squall.web._errors import UsageError
from squall.web._handler import RequestHandler, _awaitable
from squall.web._handlers_misc import ErrorHandler
from squall.web._input import _DEFAULT_DECODE_ARGUMENT
from squall.web._render import _static_handler_class
from squall.web._transforms import GZipContentEncoding, OutputTransform
from squall.web._uimodules import TemplateModule, UIModule, _linkify, _xsrf_form_html

__all__ = ["Application"]

# The methods every HTTP server understands; others must be declared to it.
_STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)

_INFO = logging.INFO
_WARNING = logging.WARNING
_ERROR = logging.ERROR


class _ApplicationRouter(ReversibleRuleRouter):
    """The router of an :class:`Application`: knows ``RequestHandler`` targets.

    Nested lists of rules become nested routers of the same application.
    """

    def __init__(self, application: Application, rules: Sequence[Any] | None = None) -> None:
        self.application = application
        super().__init__(rules)

    def process_rule(self, rule: Rule) -> Rule:
        rule = super().process_rule(rule)
        if isinstance(rule.target, (list, tuple)):
            rule.target = _ApplicationRouter(self.application, rule.target)
        return rule

    def get_target_delegate(
        self, target: Any, request: HTTPServerRequest, **target_params: Any
    ) -> HTTPMessageDelegate | None:
        if isinstance(target, type) and issubclass(target, RequestHandler):
            return self.application.get_handler_delegate(request, target, **target_params)
        return super().get_target_delegate(target, request, **target_params)


class _HandlerDelegate(HTTPMessageDelegate):
    """Receives one request for a ``RequestHandler`` class and runs it."""

    __slots__ = (
        "_body_error",
        "application",
        "chunks",
        "connection",
        "handler",
        "handler_class",
        "handler_kwargs",
        "path_args",
        "path_decoded",
        "path_kwargs",
        "request",
        "stream_request_body",
    )

    def __init__(
        self,
        application: Application,
        request: HTTPServerRequest,
        handler_class: type[RequestHandler],
        handler_kwargs: dict[str, Any] | None,
        path_args: Sequence[bytes | None] | None,
        path_kwargs: dict[str, bytes | None] | None,
    ) -> None:
        self.application = application
        self.request = request
        self.connection = request.connection
        self._route_to(handler_class, handler_kwargs, path_args, path_kwargs)
        self.chunks: list[bytes] | None = None
        self.handler: RequestHandler | None = None
        self._body_error: HTTPInputError | None = None

    def _route_to(
        self,
        handler_class: type[RequestHandler],
        handler_kwargs: dict[str, Any] | None,
        path_args: Sequence[bytes | None] | None,
        path_kwargs: dict[str, bytes | None] | None,
    ) -> None:
        """Run ``handler_class`` with raw path arguments (the handler decodes them)."""
        self.handler_class = handler_class
        self.handler_kwargs = handler_kwargs or {}
        self.path_args = path_args or ()
        self.path_kwargs = path_kwargs or {}
        self.path_decoded = False
        self.stream_request_body = handler_class._stream_request_body

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        if self.stream_request_body:
            return self._start_streaming()
        return None

    def _start_streaming(self) -> Awaitable[None] | None:
        loop = asyncio.get_running_loop()
        self.request._body_future = loop.create_future()  # type: ignore[attr-defined]
        return self.execute()

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if not self.stream_request_body:
            chunks = self.chunks
            if chunks is None:
                self.chunks = [chunk]
            else:
                chunks.append(chunk)
            return None
        handler = self.handler
        if handler is None or handler._finished:
            return None  # the handler already answered: drop the rest of the body
        try:
            result = handler.data_received(chunk)
        except Exception as e:
            handler._handle_exception_safely(e)
            return None
        if result is None:
            return None
        return self._guard(handler, result)

    @staticmethod
    async def _guard(handler: RequestHandler, result: Any) -> None:
        try:
            await _awaitable(result)
        except Exception as e:
            handler._handle_exception_safely(e)

    def finish(self) -> None:
        request = self.request
        if self.stream_request_body:
            body = request._body_future  # type: ignore[attr-defined]
            if not body.done():
                body.set_result(None)
            return
        chunks = self.chunks
        if chunks is not None:
            request.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self.chunks = None
            try:
                request._parse_body()
            except HTTPInputError as e:
                self._body_error = e
        self.execute()

    def on_connection_close(self) -> None:
        if self.stream_request_body:
            if self.handler is not None:
                self.handler._on_connection_close()
        else:
            self.chunks = None

    def execute(self) -> Awaitable[None] | None:
        """Create the handler and run it; returns what the connection should wait for."""
        application = self.application
        request = self.request
        if application._reset_caches:
            application._reset_debug_caches()
        try:
            kwargs = self.handler_kwargs
            handler = (
                self.handler_class(application, request, **kwargs)
                if kwargs
                else self.handler_class(application, request)  # (no star-call)
            )
        except Exception:
            app_log.error(
                "Exception creating %s for %s %s",
                self.handler_class.__name__,
                request.method,
                request.uri,
                exc_info=True,
            )
            handler = RequestHandler(application, request)
            handler.send_error(500)
            return None
        self.handler = handler
        transform_classes = application.transforms
        transforms = [cls(request) for cls in transform_classes] if transform_classes else ()
        if self.stream_request_body:
            prepared = handler._prepared_future = asyncio.get_running_loop().create_future()
            handler._run(transforms, self.path_args, self.path_kwargs, self.path_decoded)
            return None if prepared.done() else prepared
        error = self._body_error
        if error is not None:
            handler._transforms = transforms
            handler._handle_exception_safely(error)
            return None
        handler._run(transforms, self.path_args, self.path_kwargs, self.path_decoded)
        return None


_NOT_A_HANDLER = ()


def _handler_route(rule: Rule) -> tuple[Any, ...]:
    """How to run ``rule``'s target: ``(handler class, its kwargs, matcher)``.

    ``_NOT_A_HANDLER`` when the target is something else (a nested router,
    a delegate), which the general path handles.
    """
    target = rule.target
    if isinstance(target, type) and issubclass(target, RequestHandler):
        return (target, rule.target_kwargs, rule.matcher)
    return _NOT_A_HANDLER


class _RequestDispatcher(_HandlerDelegate):
    """What :meth:`Application.start_request` returns: routes, then runs the handler.

    When the route leads to something other than a handler class (a nested
    application, a plain callable ...), everything is forwarded to that
    target's delegate instead.
    """

    __slots__ = ("delegate", "server_conn")

    def __init__(
        self, application: Application, server_conn: object, connection: HTTPConnection
    ) -> None:
        # The handler fields are filled once the request is routed.
        self.application = application
        self.server_conn = server_conn
        self.connection = connection
        self.delegate: HTTPMessageDelegate | None = None
        self.chunks = None
        self.handler = None
        self.stream_request_body = False
        self._body_error = None

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        if not isinstance(start_line, RequestStartLine):
            raise TypeError("an Application receives requests, not responses")
        # (Positional: binding four keywords to its ten parameters cost
        # ~0.15 µs. The order is the documented one, as in Tornado:
        # method, uri, version, headers, body, host, files, connection,
        # start_line, server_connection.)
        request = HTTPServerRequest(
            None, None, "HTTP/1.0", headers, None, None, None,
            self.connection, start_line, self.server_conn,
        )  # fmt: skip
        self.request = request
        application = self.application
        path = request.path
        exact = None
        if application._fast_routing and len(application.default_router.rules) == 1:
            router = application.wildcard_router
            cached = router._plan
            plan = (
                cached
                if cached is not None and cached.size == len(router.rules)
                else router._get_plan()
            )
            if "\n" not in path:
                exact = plan.exact  # (None: not all rules are paths; the general way)
        if exact is not None:
            found: Any = exact.get(path)  # (a literal rule's hit is its answer)
            if found is None:
                found = plan.match_patterns(path)
            elif found[1] is not None:  # (an earlier pattern rule takes the literal)
                found = plan.match_path(path)
            if found is None:
                handler_class, kwargs = application._default_handler()
                self._route_to(handler_class, kwargs, None, None)
            else:
                index, match = found
                route = plan.targets.get(index)
                if route is None:
                    route = plan.targets[index] = _handler_route(router.rules[index])
                if route is _NOT_A_HANDLER:
                    return self._forward(application.find_handler(request), start_line, headers)
                handler_class, self.handler_kwargs, matcher = route
                self.handler_class = handler_class
                if match is None:  # (a literal path: no groups)
                    self.path_args = []
                    self.path_kwargs = {}
                    self.path_decoded = True
                else:
                    # Text groups go only to the default decode_argument
                    # (looked up now: a class may be patched at run time).
                    text = handler_class.decode_argument is _DEFAULT_DECODE_ARGUMENT
                    self.path_args, self.path_kwargs, self.path_decoded = matcher._path_params(
                        match, text
                    )
                self.stream_request_body = handler_class._stream_request_body
        else:
            delegate = application.find_handler(request)
            if isinstance(delegate, _HandlerDelegate):
                self._route_to(
                    delegate.handler_class,
                    delegate.handler_kwargs,
                    delegate.path_args,
                    delegate.path_kwargs,
                )
            else:
                return self._forward(delegate, start_line, headers)
        if self.stream_request_body:
            return self._start_streaming()
        return None

    def _forward(
        self,
        delegate: HTTPMessageDelegate,
        start_line: RequestStartLine,
        headers: HTTPHeaders,
    ) -> Awaitable[None] | None:
        self.delegate = delegate
        self.stream_request_body = False
        return delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        delegate = self.delegate
        if delegate is not None:
            return delegate.data_received(chunk)
        if not self.stream_request_body and self.chunks is None:
            self.chunks = [chunk]  # (the usual one-piece body, inline)
            return None
        return super().data_received(chunk)

    def finish(self) -> None:
        delegate = self.delegate
        if delegate is not None:
            delegate.finish()
        elif not self.stream_request_body and self.chunks is None:
            self.execute()  # (no body: what the base class would do, inline)
        else:
            _HandlerDelegate.finish(self)  # (no super() object)

    def on_connection_close(self) -> None:
        delegate = self.delegate
        if delegate is not None:
            delegate.on_connection_close()
        else:
            super().on_connection_close()


class Application(ReversibleRouter):
    r"""A web application: routes, settings, and the server delegate serving them.

    ::

        application = Application([
            (r"/", MainHandler),
            url(r"/user/(\d+)", UserHandler, {"db": db}, name="user"),
        ], cookie_secret="...", debug=True)
        application.listen(8888)
        IOLoop.current().start()

    Each item of ``handlers`` is a :class:`~squall.routing.Rule`, a
    :class:`~squall.routing.URLSpec` (``url(...)``) or a tuple ``(pattern,
    handler[, kwargs[, name]])``; a handler is a :class:`RequestHandler`
    subclass, a nested list of rules, another router or application, or a
    callable taking the request. Rules are tried in order; a request no rule
    matches gets 404 (or the ``default_handler_class`` setting).

    Settings (keyword arguments, kept in :attr:`settings`):

    * ``debug``: development mode; implies ``autoreload``,
      ``serve_traceback``, ``compiled_template_cache=False`` and
      ``static_hash_cache=False`` (each may still be set explicitly);
    * ``autoreload``: restart the process when a source file changes;
    * ``serve_traceback``: show tracebacks on error pages;
    * ``compress_response`` (or ``gzip``): gzip compressible responses;
    * ``default_handler_class``, ``default_handler_args``: the handler
      for requests no route matches;
    * ``log_function``: called with each finished handler instead of the
      access log;
    * ``cookie_secret`` (a string, or a dict of them by version with
      ``key_version``): the key of signed cookies;
    * ``xsrf_cookies``, ``xsrf_cookie_version``, ``xsrf_cookie_name``,
      ``xsrf_cookie_kwargs``: cross-site request forgery protection;
    * ``login_url``: where ``@authenticated`` sends anonymous users;
    * ``template_path``, ``template_loader``, ``autoescape``,
      ``template_whitespace``, ``compiled_template_cache``: templates;
    * ``ui_modules``, ``ui_methods``: template helpers (a dict, a module
      or a list of them);
    * ``static_path``, ``static_url_prefix`` (default ``/static/``),
      ``static_handler_class``, ``static_handler_args``,
      ``static_hash_cache``: static files; with ``static_path`` set,
      ``/static/...``, ``/favicon.ico`` and ``/robots.txt`` are served from it;
    * ``websocket_ping_interval``, ``websocket_ping_timeout``,
      ``websocket_max_message_size``: read by WebSocket handlers.

    :param handlers: the routing rules of the default host.
    :param default_host: the host name whose rules requests without
        another matching host (and not from a proxy) use.
    :param transforms: output transform classes (default: gzip when
        ``compress_response`` is set, else none).
    :param settings: see above.
    :raises re.error: for an invalid route pattern.
    :raises ImportError: with ``static_path`` but no static file handler.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        handlers: Sequence[Any] | None = None,
        default_host: str | None = None,
        transforms: Sequence[type[OutputTransform]] | None = None,
        **settings: Any,
    ) -> None:
        if transforms is None:
            #: The output transform classes, one instance of each per request.
            self.transforms: list[type[OutputTransform]] = []
            if settings.get("compress_response") or settings.get("gzip"):
                self.transforms.append(GZipContentEncoding)
        else:
            self.transforms = list(transforms)
        #: The default host (see the class docstring).
        self.default_host = default_host
        #: The settings.
        self.settings: dict[str, Any] = settings
        #: UI modules by name.
        self.ui_modules: dict[str, type[UIModule]] = {
            "linkify": _linkify,
            "xsrf_form_html": _xsrf_form_html,
            "Template": TemplateModule,
        }
        #: UI methods by name.
        self.ui_methods: dict[str, Callable[..., Any]] = {}
        self._load_ui_modules(settings.get("ui_modules", {}))
        self._load_ui_methods(settings.get("ui_methods", {}))
        static_path = settings.get("static_path")
        if static_path:
            handlers = list(handlers or [])
            prefix = settings.get("static_url_prefix", "/static/")
            static_class = _static_handler_class(settings)
            static_args = dict(settings.get("static_handler_args", {}))
            static_args["path"] = static_path
            for pattern in (re.escape(prefix) + r"(.*)", r"/(favicon\.ico)", r"/(robots\.txt)"):
                handlers.insert(0, (pattern, static_class, static_args))
        if settings.get("debug"):
            settings.setdefault("autoreload", True)
            settings.setdefault("compiled_template_cache", False)
            settings.setdefault("static_hash_cache", False)
            settings.setdefault("serve_traceback", True)
        #: The router of the default host's rules.
        self.wildcard_router = _ApplicationRouter(self, handlers)
        #: The top router: host rules, then the wildcard router.
        self.default_router = _ApplicationRouter(self, [Rule(AnyMatches(), self.wildcard_router)])
        self._fast_routing = type(self).find_handler is Application.find_handler
        self._plain_access_log = type(self).log_request is Application.log_request
        self._reset_caches = not settings.get("compiled_template_cache", True) or not settings.get(
            "static_hash_cache", True
        )
        if settings.get("autoreload"):
            from squall import autoreload

            autoreload.start()

    # -- configuration ---------------------------------------------------------

    def listen(self, port: int, address: str = "", **kwargs: Any) -> Any:
        """Serve this application on ``port`` with a new ``squall.httpserver.HTTPServer``.

        Keyword arguments go to the ``HTTPServer`` (``xheaders``,
        ``max_body_size``, ``ssl_options``, ...), except ``family``,
        ``backlog``, ``flags`` and ``reuse_port`` which go to its
        ``listen``. Non-standard methods in the handlers'
        ``SUPPORTED_METHODS`` are passed as ``extra_methods`` so the server
        accepts them. Start the IOLoop afterwards.

        :returns: the server (to ``stop()`` it later).
        :raises OSError: if the port cannot be bound.

        .. versionadded:: 0.1.0
        """
        from squall.httpserver import HTTPServer

        listen_kwargs = {
            name: kwargs.pop(name)
            for name in ("family", "backlog", "flags", "reuse_port")
            if name in kwargs
        }
        if "extra_methods" not in kwargs:
            extra = self._extra_methods()
            if extra:
                kwargs["extra_methods"] = extra
        server = HTTPServer(self, **kwargs)
        server.listen(port, address, **listen_kwargs)
        return server

    def _handler_classes(self) -> Iterator[type[RequestHandler]]:
        seen: set[int] = set()
        pending: list[RuleRouter] = [self.default_router]
        while pending:
            router = pending.pop()
            if id(router) in seen:
                continue
            seen.add(id(router))
            for rule in router.rules:
                target = rule.target
                if isinstance(target, type) and issubclass(target, RequestHandler):
                    yield target
                elif isinstance(target, RuleRouter):
                    pending.append(target)
        default = self.settings.get("default_handler_class")
        if default is not None:
            yield default

    def _extra_methods(self) -> frozenset[str]:
        methods: set[str] = set()
        for cls in self._handler_classes():
            methods.update(cls.SUPPORTED_METHODS)
        return frozenset(methods - _STANDARD_METHODS)

    def add_handlers(self, host_pattern: str, host_handlers: Sequence[Any]) -> None:
        """Add rules for requests to hosts matching ``host_pattern``.

        Host rule sets are tried in the order they were added, before the
        rules given to the constructor (which match any host).

        :param host_pattern: a regular expression for the host name
            (``$`` is appended).
        :param host_handlers: rules, as for the constructor.

        .. versionadded:: 0.1.0
        """
        host_matcher = HostMatches(host_pattern)
        rule = Rule(host_matcher, _ApplicationRouter(self, host_handlers))
        self.default_router.rules.insert(-1, rule)
        if self.default_host is not None:
            self.wildcard_router.add_rules(
                [(DefaultHostMatches(self, host_matcher.host_pattern), host_handlers)]
            )

    def add_transform(self, transform_class: type[OutputTransform]) -> None:
        """Add an output transform class (applied to every later response).

        .. versionadded:: 0.1.0
        """
        self.transforms.append(transform_class)

    def _load_ui_methods(self, methods: Any) -> None:
        if isinstance(methods, types.ModuleType):
            self._load_ui_methods({name: getattr(methods, name) for name in dir(methods)})
        elif isinstance(methods, list):
            for item in methods:
                self._load_ui_methods(item)
        else:
            for name, function in methods.items():
                if not name.startswith("_") and callable(function) and name[0].islower():
                    self.ui_methods[name] = function

    def _load_ui_modules(self, modules: Any) -> None:
        if isinstance(modules, types.ModuleType):
            self._load_ui_modules({name: getattr(modules, name) for name in dir(modules)})
        elif isinstance(modules, list):
            for item in modules:
                self._load_ui_modules(item)
        else:
            for name, cls in modules.items():
                if isinstance(cls, type) and issubclass(cls, UIModule):
                    self.ui_modules[name] = cls

    def _reset_debug_caches(self) -> None:
        settings = self.settings
        if not settings.get("compiled_template_cache", True):
            with RequestHandler._template_loader_lock:
                for loader in RequestHandler._template_loaders.values():
                    reset = getattr(loader, "reset", None)
                    if reset is not None:
                        reset()
        if not settings.get("static_hash_cache", True):
            try:
                static_class = _static_handler_class(settings)
            except ImportError:
                return
            reset = getattr(static_class, "reset", None)
            if reset is not None:
                reset()

    # -- serving ---------------------------------------------------------------

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Return the delegate for a new request (the server delegate contract).

        .. versionadded:: 0.1.0
        """
        return _RequestDispatcher(self, server_conn, request_conn)

    def _request_starter(self) -> Callable[[object, HTTPConnection], HTTPMessageDelegate]:
        # What a server connection calls for start_request (see HTTPServer):
        # the dispatcher class itself, unless a subclass overrides it.
        if type(self).start_request is not Application.start_request:
            return self.start_request
        return functools.partial(_RequestDispatcher, self)

    def __call__(self, request: HTTPServerRequest) -> Awaitable[None] | None:
        """Run a complete request (body included): the Tornado 4 callable style.

        :raises UsageError: if the route does not lead to a
            ``RequestHandler`` or leads to a ``@stream_request_body`` one.

        .. versionadded:: 0.1.0
        """
        delegate = self.find_handler(request)
        if not isinstance(delegate, _HandlerDelegate) or delegate.stream_request_body:
            raise UsageError(
                "calling an Application with a request needs a route to a RequestHandler "
                "that does not stream its body"
            )
        return delegate.execute()

    def _default_handler(self) -> tuple[type[RequestHandler], dict[str, Any]]:
        settings = self.settings
        handler_class = settings.get("default_handler_class")
        if handler_class is not None:
            return handler_class, settings.get("default_handler_args", {})
        return ErrorHandler, {"status_code": 404}

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HTTPMessageDelegate:
        """Return the delegate for ``request``: its route's, or the default handler's.

        .. versionadded:: 0.1.0
        """
        delegate = self.default_router.find_handler(request)
        if delegate is not None:
            return delegate
        handler_class, handler_kwargs = self._default_handler()
        return self.get_handler_delegate(request, handler_class, handler_kwargs)

    def get_handler_delegate(
        self,
        request: HTTPServerRequest,
        target_class: type[RequestHandler],
        target_kwargs: dict[str, Any] | None = None,
        path_args: Sequence[bytes | None] | None = None,
        path_kwargs: dict[str, bytes | None] | None = None,
    ) -> HTTPMessageDelegate:
        """Return a delegate that runs ``target_class`` for ``request``.

        :param target_kwargs: keyword arguments for its ``initialize``.
        :param path_args: positional arguments for its method.
        :param path_kwargs: keyword arguments for its method.

        .. versionadded:: 0.1.0
        """
        return _HandlerDelegate(self, request, target_class, target_kwargs, path_args, path_kwargs)

    def reverse_url(self, name: str, *args: Any) -> str:
        r"""Return the path of the route called ``name``, filled with ``args``.

        ``reverse_url("user", 42)`` for ``url(r"/user/(\d+)", ..., name="user")``
        gives ``"/user/42"`` (arguments are percent-encoded).

        :raises RouteNotFoundError: (a :class:`KeyError`) if no route has
            that name.
        :raises IrreversibleRouteError: if the pattern cannot be reversed
            or the number of arguments is wrong.

        .. versionadded:: 0.1.0
        """
        found = self.default_router.reverse_url(name, *args)
        if found is None:
            raise RouteNotFoundError(f"{name!r} not found in named urls")
        return found

    def log_request(self, handler: RequestHandler) -> None:
        """Log a finished request on ``squall.access`` (or call the ``log_function`` setting).

        The line holds the status, the method, the URI, the client's
        address and the time taken in milliseconds; the level is INFO for
        1xx-3xx, WARNING for 4xx and ERROR for 5xx. Nothing is formatted
        when that level is disabled.

        .. versionadded:: 0.1.0
        """
        log_function = self.settings.get("log_function")
        if log_function is not None:
            log_function(handler)
            return
        status = handler.get_status()
        level = _INFO if status < 400 else _WARNING if status < 500 else _ERROR
        if not access_log.isEnabledFor(level):
            return
        access_log.log(
            level,
            "%d %s %.2fms",
            status,
            handler._request_summary(),
            1000.0 * handler.request.request_time(),
        )
