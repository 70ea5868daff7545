r"""Routing: rules that decide what handles each request.

A :class:`Router` is an :class:`~squall.httputil.HTTPServerConnectionDelegate`
that picks, for every request, the :class:`~squall.httputil.HTTPMessageDelegate`
that will receive it. :class:`RuleRouter` does so with an ordered list of
:class:`Rule` objects: the first rule whose :class:`Matcher` accepts the
request wins, and its *target* handles it. A target may be

* another :class:`Router` (routing continues there),
* an :class:`~squall.httputil.HTTPServerConnectionDelegate` (its
  ``start_request`` is called),
* a callable taking the :class:`~squall.httputil.HTTPServerRequest` once its
  body has arrived, or
* in a ``squall.web.Application``, a ``RequestHandler`` subclass.

For example, plain callables and a web application side by side::

    router = RuleRouter([
        Rule(PathMatches("/legacy/.*"), legacy_callable),
        Rule(HostMatches("api\.example\.com"), api_application),
        Rule(AnyMatches(), web_application),
    ])
    HTTPServer(router).listen(8888)

Matching is cheap: patterns are compiled once, when the rule is made, and a
router whose rules all match on the path keeps a dictionary from every
literal path (``"/"``, ``"/about"``) to the rule that answers it, so most
requests are routed with one dictionary lookup; only the remaining paths
try the regular expressions, in order.

Exceptions, all raised while building or reversing routes, never while
routing a request::

    RoutingError (Exception)                  -- base: a routing table was misused
     +-- InvalidRuleError (ValueError)        -- a rule cannot be built from what was given
     +-- RouteNotFoundError (KeyError)        -- reverse_url() of a name no rule has
     +-- IrreversibleRouteError (ValueError)  -- a pattern that cannot be turned back into
                                                 a URL, or the wrong number of arguments

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from squall.routing._errors import (
    InvalidRuleError,
    IrreversibleRouteError,
    RouteNotFoundError,
    RoutingError,
)
from squall.routing._matchers import (
    AnyMatches,
    DefaultHostMatches,
    HostMatches,
    Matcher,
    PathMatches,
    Rule,
    URLSpec,
    url,
)
from squall.routing._routers import ReversibleRouter, ReversibleRuleRouter, Router, RuleRouter

__all__ = [
    "AnyMatches",
    "DefaultHostMatches",
    "HostMatches",
    "InvalidRuleError",
    "IrreversibleRouteError",
    "Matcher",
    "PathMatches",
    "ReversibleRouter",
    "ReversibleRuleRouter",
    "RouteNotFoundError",
    "Router",
    "RoutingError",
    "Rule",
    "RuleRouter",
    "URLSpec",
    "url",
]

# Public classes report the module users import them from.
for _cls in (
    AnyMatches,
    DefaultHostMatches,
    HostMatches,
    InvalidRuleError,
    IrreversibleRouteError,
    Matcher,
    PathMatches,
    ReversibleRouter,
    ReversibleRuleRouter,
    RouteNotFoundError,
    Router,
    RoutingError,
    Rule,
    RuleRouter,
    URLSpec,
):
    _cls.__module__ = __name__
del _cls
