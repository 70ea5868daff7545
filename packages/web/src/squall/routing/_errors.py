"""The exceptions of :mod:`squall.routing` (the tree is drawn in its docstring)."""

from __future__ import annotations

__all__ = ["InvalidRuleError", "IrreversibleRouteError", "RouteNotFoundError", "RoutingError"]


class RoutingError(Exception):
    """Base class of the errors raised by :mod:`squall.routing`.

    Each one means the routing table itself, or a call made on it, is
    wrong: the fault is in the application's code, not in a request.

    .. versionadded:: 0.1.0
    """


class InvalidRuleError(RoutingError, ValueError):
    """A rule cannot be built from what was given.

    Raised by :meth:`RuleRouter.add_rules` for a tuple of the wrong length
    or an object that is neither a tuple nor a :class:`Rule`.

    .. versionadded:: 0.1.0
    """


class RouteNotFoundError(RoutingError, KeyError):
    """No rule has the name passed to ``reverse_url``.

    It is also a :class:`KeyError`, which is what Tornado raised.

    .. versionadded:: 0.1.0
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class IrreversibleRouteError(RoutingError, ValueError):
    r"""A route cannot be turned back into a URL with the arguments given.

    Raised by :meth:`PathMatches.reverse` when the pattern is more than
    literal text and simple capturing groups (``/a/(\d+)`` reverses, ``/a/?``
    does not), or when the number of arguments is not the number of groups.

    .. versionadded:: 0.1.0
    """
