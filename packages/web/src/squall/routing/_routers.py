"""Routers: pick the delegate for each request from a list of rules."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, cast

from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
)
from squall.log import app_log
from squall.routing._errors import InvalidRuleError, RouteNotFoundError
from squall.routing._matchers import PathMatches, Rule

__all__ = ["ReversibleRouter", "ReversibleRuleRouter", "Router", "RuleRouter"]


class Router(HTTPServerConnectionDelegate):
    """Abstract router: picks the delegate that handles each request.

    Subclasses implement :meth:`find_handler`; :meth:`start_request` (the
    :class:`~squall.httputil.HTTPServerConnectionDelegate` method) builds the
    request from its head and asks :meth:`find_handler`, answering 404 when
    it returns ``None``.

    .. versionadded:: 0.1.0
    """

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HTTPMessageDelegate | None:
        """Return the delegate for ``request``, or ``None`` if nothing matches.

        Called once the request head has been read; the body, if any, has
        not arrived yet.

        :param request: the request (``body`` still empty).
        :param kwargs: extra routing parameters from an enclosing router.
        :raises NotImplementedError: unless overridden.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Return a delegate that routes the request once its head arrives.

        .. versionadded:: 0.1.0
        """
        return _RoutingDelegate(self, server_conn, request_conn)


class ReversibleRouter(Router):
    """A router that can also build URLs from route names.

    .. versionadded:: 0.1.0
    """

    def reverse_url(self, name: str, *args: Any) -> str | None:
        """Return the URL of the route called ``name``, or ``None``.

        :param args: values for the route's groups, in order.
        :raises NotImplementedError: unless overridden.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()


class _RoutingDelegate(HTTPMessageDelegate):
    """Builds the request from its head, routes it, then forwards everything."""

    __slots__ = ("delegate", "request_conn", "router", "server_conn")

    def __init__(self, router: Router, server_conn: object, request_conn: HTTPConnection) -> None:
        self.router = router
        self.server_conn = server_conn
        self.request_conn = request_conn
        self.delegate: HTTPMessageDelegate | None = None

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        if not isinstance(start_line, RequestStartLine):
            raise TypeError("a router receives requests, not responses")
        request = HTTPServerRequest(
            connection=self.request_conn,
            server_connection=self.server_conn,
            start_line=start_line,
            headers=headers,
        )
        delegate = self.router.find_handler(request)
        if delegate is None:
            app_log.debug("No route for %s %s", start_line.method, start_line.path)
            delegate = _NotFoundDelegate(self.request_conn)
        self.delegate = delegate
        return delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        delegate = self.delegate
        return None if delegate is None else delegate.data_received(chunk)

    def finish(self) -> None:
        if self.delegate is not None:
            self.delegate.finish()

    def on_connection_close(self) -> None:
        if self.delegate is not None:
            self.delegate.on_connection_close()


class _NotFoundDelegate(HTTPMessageDelegate):
    """Answers 404 with an empty body once the request is complete."""

    __slots__ = ("connection",)

    def __init__(self, connection: HTTPConnection) -> None:
        self.connection = connection

    def finish(self) -> None:
        self.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 404, "Not Found"),
            HTTPHeaders({"Content-Length": "0"}),
        )
        self.connection.finish()


class _CallableAdapter(HTTPMessageDelegate):
    """Collects the body, then calls a plain ``target(request)``."""

    __slots__ = ("chunks", "connection", "request", "target")

    def __init__(
        self, target: Callable[[HTTPServerRequest], Any], request: HTTPServerRequest
    ) -> None:
        self.target = target
        self.request = request
        self.connection = request.connection
        self.chunks: list[bytes] = []

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        request = self.request
        if self.chunks:
            request.body = b"".join(self.chunks)
            request._parse_body()
        self.chunks = []
        result = self.target(request)
        if result is not None and hasattr(result, "__await__"):
            from squall.ioloop import IOLoop

            # Keep it running, and have the loop log it if it fails.
            IOLoop.current().add_future(_as_future(result), _raise_result)

    def on_connection_close(self) -> None:
        self.chunks = []


def _as_future(awaitable: Any) -> Any:
    from squall.gen import convert_yielded

    return convert_yielded(awaitable)


def _raise_result(future: Any) -> None:
    future.result()


def _target_kind(target: Any) -> int:
    if isinstance(target, Router):
        return 1
    if isinstance(target, HTTPServerConnectionDelegate):
        return 2
    if callable(target):
        return 3
    return 0


class RuleRouter(Router):
    """A router that tries a list of :class:`Rule` objects in order.

    :param rules: rules to add, as for :meth:`add_rules`.
    :raises InvalidRuleError: as :meth:`add_rules`.

    .. versionadded:: 0.1.0
    """

    def __init__(self, rules: Sequence[Any] | None = None) -> None:
        #: The rules, in the order they are tried. Code may append to or
        #: insert into this list directly; the router notices.
        self.rules: list[Rule] = []
        self._plan: _Plan | None = None
        if rules:
            self.add_rules(rules)

    def add_rules(self, rules: Sequence[Any]) -> None:
        """Append rules to :attr:`rules`.

        Each item is a :class:`Rule`, or a tuple ``(matcher, target[,
        target_kwargs[, name]])``; when the first item of the tuple is a
        string it is a path pattern for :class:`PathMatches`.

        :raises InvalidRuleError: for a tuple of the wrong length or an
            item of another type.
        :raises re.error: for a path pattern that is not a valid regular
            expression.

        .. versionadded:: 0.1.0
        """
        for item in rules:
            if isinstance(item, (tuple, list)):
                if not 2 <= len(item) <= 4:
                    raise InvalidRuleError(
                        f"a rule tuple has 2 to 4 items (matcher or pattern, target, "
                        f"target_kwargs, name), not {len(item)}: {item!r}"
                    )
                if isinstance(item[0], str):
                    rule = Rule(PathMatches(item[0]), *item[1:])
                else:
                    rule = Rule(*item)
            elif isinstance(item, Rule):
                rule = item
            else:
                raise InvalidRuleError(f"expected a Rule or a tuple, got {item!r}")
            self.rules.append(self.process_rule(rule))
        self._plan = None

    def process_rule(self, rule: Rule) -> Rule:
        """Hook called for each rule added; returns the rule to store.

        The default returns it unchanged; subclasses turn nested rule lists
        into routers, record names, and so on.

        .. versionadded:: 0.1.0
        """
        return rule

    def _get_plan(self) -> _Plan:
        plan = self._plan
        if plan is None or plan.size != len(self.rules):
            plan = self._plan = _Plan(self.rules)
        return plan

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HTTPMessageDelegate | None:
        """Return the delegate of the first rule that matches and accepts.

        A rule whose target yields no delegate (a nested router that finds
        nothing) is skipped, and the search goes on with the next rule.

        .. versionadded:: 0.1.0
        """
        rules = self.rules
        plan = self._get_plan()
        start = 0
        found = plan.first_match(request, 0)
        while found is not None:
            index, params = found
            rule = rules[index]
            # An exact-path hit on a pattern rule has no parameters yet: match again.
            params = (rule.matcher.match(request) or {}) if params is None else dict(params)
            if rule.target_kwargs:
                params["target_kwargs"] = rule.target_kwargs
            delegate = self.get_target_delegate(rule.target, request, **params)
            if delegate is not None:
                return delegate
            start = index + 1
            found = plan.scan(request, start)
        return None

    def get_target_delegate(
        self, target: Any, request: HTTPServerRequest, **target_params: Any
    ) -> HTTPMessageDelegate | None:
        """Return the delegate for a matched rule's ``target``, or ``None``.

        Handles a :class:`Router` (asks its ``find_handler``), an
        :class:`~squall.httputil.HTTPServerConnectionDelegate` (calls its
        ``start_request``) and a callable (called with the request once the
        body is complete). Subclasses add other kinds of target.

        :param target: the rule's target.
        :param request: the request.
        :param target_params: what the matcher returned, plus the rule's
            ``target_kwargs`` under that name.

        .. versionadded:: 0.1.0
        """
        kind = _target_kind(target)
        if kind == 1:
            return target.find_handler(request, **target_params)  # type: ignore[no-any-return]
        if kind == 2:
            if request.connection is None:
                return None
            return target.start_request(  # type: ignore[no-any-return]
                request.server_connection, request.connection
            )
        if kind == 3:
            params = target_params.get("target_kwargs") or {}
            call = partial(target, **params) if params else target
            return _CallableAdapter(call, request)
        return None


class ReversibleRuleRouter(ReversibleRouter, RuleRouter):
    """A :class:`RuleRouter` whose named rules can be reversed into URLs.

    :param rules: as :class:`RuleRouter`.

    .. versionadded:: 0.1.0
    """

    def __init__(self, rules: Sequence[Any] | None = None) -> None:
        #: Named rules, by name.
        self.named_rules: dict[str, Rule] = {}
        super().__init__(rules)

    def process_rule(self, rule: Rule) -> Rule:
        """Record the rule's name, if it has one (a later rule replaces it).

        .. versionadded:: 0.1.0
        """
        rule = super().process_rule(rule)
        if rule.name:
            if rule.name in self.named_rules:
                app_log.warning("Several routes are named %r; the last one wins", rule.name)
            self.named_rules[rule.name] = rule
        return rule

    def reverse_url(self, name: str, *args: Any) -> str | None:
        """Return the URL of the rule called ``name`` here or in a nested router.

        :returns: the URL, or ``None`` if no rule has that name.
        :raises IrreversibleRouteError: if the rule's pattern cannot be
            reversed with these arguments.

        .. versionadded:: 0.1.0
        """
        rule = self.named_rules.get(name)
        if rule is not None:
            return rule.matcher.reverse(*args)
        for rule in self.rules:
            if isinstance(rule.target, ReversibleRouter):
                try:
                    found = rule.target.reverse_url(name, *args)
                except RouteNotFoundError:  # an Application says so by raising
                    continue
                if found is not None:
                    return found
        return None


class _Plan:
    """A router's rules, prepared for matching.

    When every rule is a plain :class:`PathMatches`, a dictionary maps each
    literal path to the first rule that matches it; other paths try only the
    rules with real patterns. Otherwise every rule is tried in order.
    """

    __slots__ = ("exact", "matchers", "patterns", "size", "targets")

    def __init__(self, rules: list[Rule]) -> None:
        self.size = len(rules)
        # What the router's owner derives from a rule's target, by rule
        # index, computed on first use (rebuilt with the plan).
        self.targets: dict[int, Any] = {}
        self.matchers = [rule.matcher for rule in rules]
        # Literal path -> (index of its rule, None), or (index, matcher) when
        # an earlier pattern rule matches the literal first.
        self.exact: dict[str, tuple[int, PathMatches | None]] | None = None
        self.patterns: list[tuple[int, PathMatches]] = []
        if not all(type(m) is PathMatches for m in self.matchers):
            return
        exact: dict[str, tuple[int, PathMatches | None]] = {}
        patterns: list[tuple[int, PathMatches]] = []
        for index, any_matcher in enumerate(self.matchers):
            matcher = cast(PathMatches, any_matcher)  # checked just above
            literal = matcher._literal
            if literal is None:
                patterns.append((index, matcher))
                continue
            if literal in exact:
                continue  # an earlier rule with the same path wins
            for earlier, pattern in patterns:
                match = pattern.regex.match(literal)
                if match is not None:
                    exact[literal] = (earlier, pattern)
                    break
            else:
                exact[literal] = (index, None)
        self.exact = exact
        self.patterns = patterns

    def first_match(
        self, request: HTTPServerRequest, start: int
    ) -> tuple[int, dict[str, Any] | None] | None:
        """The first rule at or after ``start`` that matches, with its parameters.

        Parameters are ``None`` for an exact hit on a pattern rule (the
        caller matches again to get them).
        """
        exact = self.exact
        if exact is not None and start == 0:
            path = request.path
            hit = exact.get(path)
            if hit is not None:
                return hit[0], (_NO_PARAMS if hit[1] is None else None)
            if "\n" not in path:
                for index, matcher in self.patterns:
                    params = matcher.match(request)
                    if params is not None:
                        return index, params
                return None
        return self.scan(request, start)

    def match_path(self, path: str) -> tuple[int, re.Match[str] | None] | None:
        """The first rule that matches ``path``, with the regular expression's match.

        For a plan whose rules are all :class:`PathMatches` (``exact`` is
        set) and a path without a line feed (which a pattern's ``$`` would
        accept before it, and a literal would not). The match is ``None``
        for a rule whose pattern is a literal path (no groups); ``None``
        alone when no rule matches.
        """
        hit = self.exact.get(path) if self.exact is not None else None
        if hit is not None:
            index, pattern = hit
            if pattern is None:
                return index, None
            # An earlier pattern rule that also matches this literal path.
            return index, pattern.regex.match(path)
        return self.match_patterns(path)

    def match_patterns(self, path: str) -> tuple[int, re.Match[str]] | None:
        """Like :meth:`match_path` for a path known not to be a literal rule's."""
        for index, matcher in self.patterns:
            match = matcher.regex.match(path)
            if match is not None:
                return index, match
        return None

    def scan(
        self, request: HTTPServerRequest, start: int
    ) -> tuple[int, dict[str, Any] | None] | None:
        """Try every rule from ``start`` on, in order."""
        matchers = self.matchers
        for index in range(start, len(matchers)):
            params = matchers[index].match(request)
            if params is not None:
                return index, params
        return None


_NO_PARAMS: dict[str, Any] = {}
