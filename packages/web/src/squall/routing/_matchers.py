"""Rules and matchers: which requests a rule applies to, and reversing URLs."""

from __future__ import annotations

import re
from typing import Any

from squall.escape import url_escape, url_unescape, utf8
from squall.httputil import HTTPServerRequest
from squall.routing._errors import IrreversibleRouteError
from squall.util import import_object

__all__ = [
    "AnyMatches",
    "DefaultHostMatches",
    "HostMatches",
    "Matcher",
    "PathMatches",
    "Rule",
    "URLSpec",
    "url",
]


class Rule:
    """A routing rule: a :class:`Matcher` and the target it leads to.

    :param matcher: decides whether a request matches.
    :param target: what handles a matching request (see the module
        docstring); a string is imported with :func:`squall.util.import_object`.
    :param target_kwargs: keyword arguments for the target (a
        ``RequestHandler``'s ``initialize``).
    :param name: a name for :meth:`ReversibleRuleRouter.reverse_url`.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        matcher: Matcher,
        target: Any,
        target_kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(target, str):
            target = import_object(target)
        self.matcher = matcher
        self.target = target
        self.target_kwargs: dict[str, Any] = target_kwargs if target_kwargs else {}
        self.name = name

    def reverse(self, *args: Any) -> str | None:
        """Return the URL this rule matches for ``args`` (see :meth:`Matcher.reverse`).

        .. versionadded:: 0.1.0
        """
        return self.matcher.reverse(*args)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.matcher!r}, {self.target!r}, "
            f"kwargs={self.target_kwargs!r}, name={self.name!r})"
        )


class Matcher:
    """Decides whether a request matches a rule.

    .. versionadded:: 0.1.0
    """

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        """Return routing parameters for a matching request, else ``None``.

        The parameters are passed to the target; for a ``RequestHandler``
        they are ``path_args`` and ``path_kwargs``. An empty dict means
        "matches, no parameters".

        :raises NotImplementedError: unless overridden.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def reverse(self, *args: Any) -> str | None:
        """Return the URL this matcher accepts for ``args``, or ``None`` if it cannot tell.

        .. versionadded:: 0.1.0
        """
        return None


class AnyMatches(Matcher):
    """Matches every request.

    .. versionadded:: 0.1.0
    """

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        """Return ``{}``.

        .. versionadded:: 0.1.0
        """
        return {}

    def __repr__(self) -> str:
        return "AnyMatches()"


def _anchored(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, str):
        if not pattern.endswith("$"):
            pattern += "$"
        return re.compile(pattern)
    return pattern


class HostMatches(Matcher):
    """Matches requests whose host name (``request.host_name``) fits a pattern.

    :param host_pattern: a regular expression (``$`` is appended if
        missing) or a compiled one. It is matched against the lower-cased
        host without the port.

    .. versionadded:: 0.1.0
    """

    def __init__(self, host_pattern: str | re.Pattern[str]) -> None:
        self.host_pattern = _anchored(host_pattern)

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        """Return ``{}`` if the request's host matches, else ``None``.

        .. versionadded:: 0.1.0
        """
        if self.host_pattern.match(request.host_name):
            return {}
        return None

    def __repr__(self) -> str:
        return f"HostMatches({self.host_pattern.pattern!r})"


class DefaultHostMatches(Matcher):
    """Matches when the application's ``default_host`` fits a host pattern.

    Used by ``squall.web.Application`` for its ``default_host``: requests
    that are not forwarded by a proxy (no ``X-Real-Ip`` header) are routed
    as if they were for the default host.

    :param application: an object with a ``default_host`` attribute.
    :param host_pattern: a compiled regular expression.

    .. versionadded:: 0.1.0
    """

    def __init__(self, application: Any, host_pattern: re.Pattern[str]) -> None:
        self.application = application
        self.host_pattern = host_pattern

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        """Return ``{}`` if the default host matches and no proxy forwarded the request.

        .. versionadded:: 0.1.0
        """
        if "X-Real-Ip" not in request.headers:
            default_host = self.application.default_host
            if default_host is not None and self.host_pattern.match(default_host):
                return {}
        return None


# Characters with a meaning in a regular expression, outside a group.
_META = frozenset(".^$*+?{}[]|()")


def _group_end(pattern: str, start: int) -> int:
    """Index of the ``)`` closing the group opened at ``start``, or -1.

    Returns -1 as well when the group holds a nested group, so that only
    simple groups are reversible.
    """
    i = start + 1
    n = len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if pattern.startswith("]", i + 1) or pattern.startswith("^]", i + 1):
                i += 2 if pattern[i + 1] == "]" else 3
                continue
        elif c == "(":
            return -1
        elif c == ")":
            return i
        i += 1
    return -1


def _split_pattern(pattern: str) -> list[str] | None:
    r"""Split a path pattern into the literal text around its groups.

    ``"/user/(\d+)/post/(?P<slug>[a-z]+)$"`` gives ``["/user/", "/post/",
    ""]``. Returns ``None`` when something outside a group is not literal
    text (so the pattern cannot be reversed), or a group is not a plain
    capturing group.
    """
    if pattern.startswith("^"):
        pattern = pattern[1:]
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1]
    pieces: list[str] = []
    current: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n or pattern[i + 1].isalnum():
                return None  # \d, \w, \1 ...: not one literal character
            current.append(pattern[i + 1])
            i += 2
        elif c == "(":
            if pattern.startswith("(?", i) and not pattern.startswith("(?P<", i):
                return None  # non-capturing group, lookaround, inline flags
            end = _group_end(pattern, i)
            if end < 0:
                return None
            pieces.append("".join(current))
            current = []
            i = end + 1
        elif c in _META:
            return None
        else:
            current.append(c)
            i += 1
    pieces.append("".join(current))
    return pieces


def _unquote_or_none(value: str | None) -> bytes | None:
    """Percent-decode a path group to bytes (``None`` for a group that did not match)."""
    if value is None:
        return None
    if "%" not in value:
        return value.encode()
    return url_unescape(value, encoding=None, plus=False)


def _text_or_bytes(value: str | None) -> str | bytes | None:
    """A path group as the handler's default ``decode_argument`` will see it.

    Text without escapes stays text; escaped text becomes its bytes.
    """
    if value is None or "%" not in value:
        return value
    return url_unescape(value, encoding=None, plus=False)


class PathMatches(Matcher):
    """Matches requests whose path fits a regular expression.

    The groups of the expression become the routing parameters:
    ``path_kwargs`` from named groups if there are any, else ``path_args``
    from positional groups, each percent-decoded to ``bytes`` (the handler
    decodes them to text).

    :param path_pattern: a regular expression matched from the start of
        the path (``$`` is appended if missing), or a compiled one.
    :raises re.error: if the pattern is not a valid regular expression.

    .. versionadded:: 0.1.0
    """

    def __init__(self, path_pattern: str | re.Pattern[str]) -> None:
        #: The compiled pattern.
        self.regex = _anchored(path_pattern)
        pattern = self.regex.pattern
        pieces: list[str] | None = None
        if isinstance(pattern, str):
            pieces = _split_pattern(pattern)
        if pieces is not None and len(pieces) - 1 != self.regex.groups:
            pieces = None
        self._pieces = pieces
        # The one path this matcher accepts, when it is plain text.
        self._literal: str | None = None
        if (
            pieces is not None
            and len(pieces) == 1
            and pattern.endswith("$")
            and not self.regex.flags & ~re.UNICODE
        ):
            self._literal = pieces[0]
        self._group_count = self.regex.groups
        self._named = bool(self.regex.groupindex)

    @property
    def _path(self) -> str | None:
        """The pattern as a ``%s`` template (Tornado's attribute), or ``None``."""
        if self._pieces is None:
            return None
        return "%s".join(piece.replace("%", "%%") for piece in self._pieces)

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        """Return ``{"path_args": [...], "path_kwargs": {...}}`` for a matching path.

        Returns ``{}`` for a pattern without groups and ``None`` when the
        path does not match.

        .. versionadded:: 0.1.0
        """
        match = self.regex.match(request.path)
        if match is None:
            return None
        if not self._group_count:
            return {}
        if self._named:
            return {
                "path_args": [],
                "path_kwargs": {
                    str(key): _unquote_or_none(value) for key, value in match.groupdict().items()
                },
            }
        return {
            "path_args": [_unquote_or_none(value) for value in match.groups()],
            "path_kwargs": {},
        }

    def _path_params(
        self, match: re.Match[str] | None, text: bool
    ) -> tuple[list[str | bytes | None], dict[str, str | bytes | None], bool]:
        """``(path_args, path_kwargs, decoded)`` from a match of this pattern.

        ``match`` is ``None`` for a literal pattern. The values are what
        :meth:`match` returns (percent-decoded bytes), except, with
        ``text`` (a handler whose ``decode_argument`` is the default one),
        a group without a ``%`` escape: it stays the matched text, which is
        what decoding its UTF-8 bytes again gives. ``decoded`` is true when
        every value is such text, so the handler has nothing left to decode.
        The list and the dict are new: the handler takes them over.
        """
        if match is None or not self._group_count:
            return [], {}, True
        if self._named:
            named: dict[str, Any] = match.groupdict()  # (a new dict: str or None values)
            if text:
                values = named.values()
                if None not in values and "%" not in "".join(values):
                    return [], named, True
                return [], {key: _text_or_bytes(value) for key, value in named.items()}, False
            return [], {key: _unquote_or_none(value) for key, value in named.items()}, False
        groups = match.groups()
        if text:
            if None not in groups and "%" not in "".join(groups):  # (the usual case)
                return list(groups), {}, True
            return [_text_or_bytes(value) for value in groups], {}, False
        return [_unquote_or_none(value) for value in groups], {}, False

    def reverse(self, *args: Any) -> str | None:
        """Return the path for ``args``, one per group, percent-encoded.

        Arguments that are not strings or bytes are converted with
        :func:`str`; ``/`` is kept as it is.

        :raises IrreversibleRouteError: if the pattern cannot be reversed
            or the number of arguments is not the number of groups.

        .. versionadded:: 0.1.0
        """
        pieces = self._pieces
        if pieces is None:
            raise IrreversibleRouteError(f"cannot reverse the URL pattern {self.regex.pattern!r}")
        if len(args) != self._group_count:
            raise IrreversibleRouteError(
                f"the URL pattern {self.regex.pattern!r} needs {self._group_count} "
                f"argument(s), got {len(args)}"
            )
        if not args:
            return pieces[0]
        out = [pieces[0]]
        for arg, piece in zip(args, pieces[1:], strict=True):
            text = arg if isinstance(arg, (str, bytes)) else str(arg)
            out.append(url_escape(utf8(text), plus=False))
            out.append(piece)
        return "".join(out)

    def __repr__(self) -> str:
        return f"PathMatches({self.regex.pattern!r})"


class URLSpec(Rule):
    r"""A rule mapping a path pattern to a handler: the classic ``url()`` entry.

    ``URLSpec(r"/user/(\d+)", UserHandler, {"db": db}, name="user")`` is
    ``Rule(PathMatches(r"/user/(\d+)"), UserHandler, {"db": db}, "user")``.

    :param pattern: the path pattern (see :class:`PathMatches`).
    :param handler: the target, usually a ``RequestHandler`` subclass, or
        its dotted name.
    :param kwargs: keyword arguments for the handler's ``initialize``.
    :param name: a name for ``reverse_url``.
    :raises re.error: if the pattern is not a valid regular expression.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        pattern: str | re.Pattern[str],
        handler: Any,
        kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        matcher = PathMatches(pattern)
        super().__init__(matcher, handler, kwargs, name)
        #: The compiled pattern.
        self.regex = matcher.regex

    @property
    def handler_class(self) -> Any:
        """The target (Tornado's name).

        .. versionadded:: 0.1.0
        """
        return self.target

    @handler_class.setter
    def handler_class(self, value: Any) -> None:
        self.target = value

    @property
    def kwargs(self) -> dict[str, Any]:
        """The target's keyword arguments (Tornado's name).

        .. versionadded:: 0.1.0
        """
        return self.target_kwargs

    @kwargs.setter
    def kwargs(self, value: dict[str, Any] | None) -> None:
        self.target_kwargs = value or {}

    @property
    def _path(self) -> str | None:
        matcher = self.matcher
        return matcher._path if isinstance(matcher, PathMatches) else None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.regex.pattern!r}, {self.target!r}, "
            f"kwargs={self.target_kwargs!r}, name={self.name!r})"
        )


#: Tornado's short name for :class:`URLSpec`, for handler lists.
#:
#: .. versionadded:: 0.1.0
url = URLSpec
