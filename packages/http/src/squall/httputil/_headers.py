"""HTTPHeaders: a case-insensitive multi-dict, and its strict parser.

Strategy: a header block is checked for forbidden characters with one
precompiled regex over the whole text (C speed), then split into lines with
``str.split``; each line is split at its first colon with
``str.partition``. Field names are validated and normalized once and the
result cached, so a typical request head costs one regex search, one split
and a few dict lookups per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Self, TypeVar, overload

from squall.httputil._errors import MalformedHeaderError

__all__ = ["HTTPHeaders"]

_T = TypeVar("_T")

# RFC 9110 5.6.2: token = 1*tchar.
_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# RFC 9110 5.5: a field value is made of VCHAR, obs-text, SP and HTAB; any
# other control character is refused. CR and LF are allowed by this search
# because they end lines; CRs that do not end a line are caught by counting
# them. (Characters above U+00FF only occur in text decoded as UTF-8, such
# as multipart part headers, and are allowed there.) A negated class is the
# fastest search ``re`` offers.
_FORBIDDEN_RE = re.compile("[^\t\n\r\x20-\x7e\x80-\U0010ffff]")

_OWS = " \t"

# Normalized spellings of valid field names, keyed by the spelling seen.
# Bounded so that a peer sending random names cannot grow it forever.
_NAME_CACHE: dict[str, str] = {}
_NAME_CACHE_SIZE = 1000


def _is_token(name: str) -> bool:
    # strip() removes only characters of the set from both ends: the rest
    # is empty exactly when every character is a tchar.
    return bool(name) and not name.strip(_TOKEN_CHARS)


def _normalize_header(name: str) -> str:
    """Return the canonical spelling of a field name: ``content-type`` -> ``Content-Type``."""
    try:
        return _NAME_CACHE[name]
    except KeyError:
        pass
    normalized = "-".join(word.capitalize() for word in name.split("-"))
    if len(_NAME_CACHE) < _NAME_CACHE_SIZE and _is_token(name):
        _NAME_CACHE[name] = normalized
    return normalized


def _excerpt(text: str, limit: int = 60) -> str:
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


def _invalid_name(name: str, line: str) -> MalformedHeaderError:
    if not name:
        return MalformedHeaderError(f"empty header field name in line {_excerpt(line)}")
    if name[-1] in _OWS:
        return MalformedHeaderError(
            f"whitespace between header field name and colon in line {_excerpt(line)}"
        )
    bad = name.strip(_TOKEN_CHARS)[0]
    return MalformedHeaderError(f"invalid character {bad!r} in header field name {_excerpt(name)}")


def _forbidden_char(text: str, pos: int) -> MalformedHeaderError:
    line_no = text.count("\n", 0, pos) + 1
    return MalformedHeaderError(f"control character {text[pos]!r} in header line {line_no}")


def _bare_cr(line_no: int) -> MalformedHeaderError:
    return MalformedHeaderError(f"bare CR (not followed by LF) in header line {line_no}")


def _split_lines(text: str) -> list[str]:
    """Split at LF, removing a CR before it; refuse any other CR."""
    lines = text.split("\n")
    for index, raw in enumerate(lines):
        line = raw[:-1] if raw[-1:] == "\r" else raw
        if "\r" in line:
            raise _bare_cr(index + 1)
        lines[index] = line
    return lines


def _validated_name(name: str, line: str) -> str:
    normalized = _NAME_CACHE.get(name)
    if normalized is None:
        if not _is_token(name):
            raise _invalid_name(name, line)
        normalized = _normalize_header(name)
    return normalized


def _fill_unfolding(as_list: dict[str, list[str]], lines: list[str]) -> str | None:
    """Add the fields of ``lines`` to ``as_list``, unfolding obs-fold lines.

    Returns the name of the last field. The pieces of a folded value are
    collected and joined once, so many continuation lines cost linear time.
    """
    last: str | None = None
    values: list[str] | None = None  # the values of the last field
    folded: list[str] | None = None  # pieces of its last value, if folded
    for line in lines:
        if folded is not None and values is not None and (not line or line[0] not in _OWS):
            values[-1] = " ".join(folded)
            folded = None
        if not line:
            values = None
            continue
        if line[0] in _OWS:
            if values is None:
                raise MalformedHeaderError(
                    f"header continuation line without a field to continue: {_excerpt(line)}"
                )
            if folded is None:
                folded = [values[-1]] if values[-1] else []
            more = line.strip(_OWS)
            if more:
                folded.append(more)
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise MalformedHeaderError(f"header line without a colon: {_excerpt(line)}")
        last = _validated_name(name, line)
        values = as_list.get(last)
        if values is None:
            values = as_list[last] = [value.strip(_OWS)]
        else:
            values.append(value.strip(_OWS))
    if folded is not None and values is not None:
        values[-1] = " ".join(folded)
    return last


class HTTPHeaders(MutableMapping[str, str]):
    """A dictionary of HTTP header fields with case-insensitive names.

    A name may have several values (``Set-Cookie``, or any field sent on
    several lines). Plain item access sees them joined with ``,``, as RFC
    9110 5.3 allows; :meth:`get_list` and :meth:`get_all` see each one.
    Names are stored in their canonical spelling (``Content-Type``); names
    keep the order in which they were first added, and the values of one
    name keep their order (the relative order of different names carries no
    meaning in HTTP).

    >>> h = HTTPHeaders({"content-type": "text/html"})
    >>> h.add("Set-Cookie", "A=B")
    >>> h.add("Set-Cookie", "C=D")
    >>> h["CONTENT-TYPE"], h["set-cookie"], h.get_list("set-cookie")
    ('text/html', 'A=B,C=D', ['A=B', 'C=D'])

    The constructor takes what :class:`dict` takes (a mapping, pairs,
    keyword arguments; later values for a name replace earlier ones) or
    another :class:`HTTPHeaders`, whose repeated values are all copied.

    Mutating methods do not validate names or values: code that writes
    headers checks them on output. :meth:`parse` and :meth:`parse_line`
    validate what they read.

    .. versionadded:: 0.1.0
    """

    # (No per-object dict: two of these are made for every request.)
    __slots__ = ("_as_list", "_last_key")

    def __init__(self, *args: Any, **kwargs: str) -> None:
        self._as_list: dict[str, list[str]] = {}
        self._last_key: str | None = None
        if len(args) == 1 and not kwargs:
            arg = args[0]
            if type(arg) is dict:
                # The common case, HTTPHeaders({...}): later names that
                # normalize alike replace earlier ones, as with update().
                as_list = self._as_list
                for name, value in arg.items():
                    as_list[_normalize_header(name)] = [value]
                return
            if isinstance(arg, HTTPHeaders):
                for name, values in arg._as_list.items():
                    self._as_list[name] = list(values)
                return
        if args or kwargs:
            self.update(*args, **kwargs)

    # -- multi-value API ---------------------------------------------------

    def add(self, name: str, value: str) -> None:
        """Add a value for ``name``, keeping the values it already has.

        .. versionadded:: 0.1.0
        """
        normalized = _normalize_header(name)
        self._last_key = normalized
        values = self._as_list.get(normalized)
        if values is None:
            self._as_list[normalized] = [value]
        else:
            values.append(value)

    def get_list(self, name: str) -> list[str]:
        """Return every value of ``name`` as a new list (empty if absent).

        .. versionadded:: 0.1.0
        """
        return list(self._as_list.get(_normalize_header(name), ()))

    def get_all(self) -> Iterator[tuple[str, str]]:
        """Yield a ``(name, value)`` pair for every value of every field.

        A name with several values yields one pair per value.

        .. versionadded:: 0.1.0
        """
        for name, values in self._as_list.items():
            for value in values:
                yield name, value

    # -- parsing -----------------------------------------------------------

    def parse_line(self, line: str, *, allow_obs_fold: bool = False) -> None:
        r"""Parse one header line and add the field it holds.

        The line ending (``\\r\\n`` or ``\\n``) is optional; an empty line is
        ignored. A line starting with whitespace continues the previous
        field (obsolete line folding) and is only accepted with
        ``allow_obs_fold``; its text is appended to the previous value after
        one space. (Each continuation line copies the value it extends: to
        read a whole block, :meth:`parse` is linear in every case.)

        >>> h = HTTPHeaders()
        >>> h.parse_line("Content-Type: text/html")
        >>> h.get("content-type")
        'text/html'

        :param line: the line, as text (bytes decoded as Latin-1).
        :param allow_obs_fold: accept continuation lines (a client should;
            a server should not, RFC 9112 5.2).
        :raises MalformedHeaderError: if the line breaks RFC 9110/9112.

        .. versionadded:: 0.1.0
        """
        if line[-1:] == "\n":
            line = line[:-1]
        if line[-1:] == "\r":
            line = line[:-1]
        if not line:
            self._last_key = None
            return
        bad = _FORBIDDEN_RE.search(line)
        if bad is not None:
            raise _forbidden_char(line, bad.start())
        if "\r" in line or "\n" in line:
            raise MalformedHeaderError(f"CR or LF inside header line {_excerpt(line)}")
        if line[0] in _OWS:
            if not allow_obs_fold:
                raise MalformedHeaderError("obsolete line folding (obs-fold) is not allowed")
            if self._last_key is None or self._last_key not in self._as_list:
                raise MalformedHeaderError("header continuation line without a field to continue")
            values = self._as_list[self._last_key]
            more = line.strip(_OWS)
            if more:
                values[-1] = f"{values[-1]} {more}" if values[-1] else more
            return
        name, colon, value = line.partition(":")
        if not colon:
            raise MalformedHeaderError(f"header line without a colon: {_excerpt(line)}")
        self.add(_validated_name(name, line), value.strip(_OWS))

    @classmethod
    def parse(cls, headers: str | bytes, *, allow_obs_fold: bool = False) -> Self:
        r"""Parse a header block into a new :class:`HTTPHeaders`.

        Lines end with ``\\r\\n`` (a lone ``\\n`` is accepted too, RFC 9112
        2.2); empty lines are skipped. The parser is strict: a field name
        must be a token (RFC 9110 5.6.2) immediately followed by the colon;
        a value may hold no control character other than HTAB and no CR
        except in a line ending; a line starting with whitespace
        (obsolete line folding) is refused unless ``allow_obs_fold``, in
        which case it is unfolded into one space. Leading and trailing
        whitespace is stripped from values. The time taken is linear in
        ``len(headers)``.

        >>> h = HTTPHeaders.parse("Content-Type: text/html\\r\\nContent-Length: 42\\r\\n")
        >>> sorted(h.items())
        [('Content-Length', '42'), ('Content-Type', 'text/html')]

        :param headers: the header block (``bytes`` are decoded as
            Latin-1, the way HTTP/1.1 heads are read).
        :param allow_obs_fold: unfold continuation lines instead of
            refusing them (for the client side, RFC 9112 5.2).
        :raises MalformedHeaderError: naming the problem and the line.

        .. versionadded:: 0.1.0
        """
        if isinstance(headers, bytes):
            headers = headers.decode("latin-1")
        if headers[-1:] == "\r":
            headers = headers[:-1]  # a final line ending cut after its CR
        bad = _FORBIDDEN_RE.search(headers)
        if bad is not None:
            raise _forbidden_char(headers, bad.start())
        lines = headers.split("\r\n")
        breaks = len(lines) - 1
        if headers.count("\n") != breaks or headers.count("\r") != breaks:
            lines = _split_lines(headers)  # bare LFs, or bare CRs to refuse
        return cls._from_lines(lines, allow_obs_fold)

    @classmethod
    def _of(cls, as_list: dict[str, list[str]]) -> Self:
        """Headers that take ``as_list`` over: canonical names to lists of values.

        For code that builds a whole header set at once (a response's
        defaults): no copy, no name normalization; the caller made sure the
        names are canonical (as :func:`_normalize_header` returns them).
        """
        self = cls.__new__(cls)
        self._as_list = as_list
        self._last_key = None
        return self

    @classmethod
    def _from_lines(cls, lines: list[str], allow_obs_fold: bool = False) -> Self:
        """Build headers from lines already checked for forbidden characters.

        The lines hold no CR, LF or control character other than HTAB (the
        caller made sure); what is left to check is their structure.

        :raises MalformedHeaderError: for a line that is not a valid field.
        """
        if cls is HTTPHeaders:
            self = cls.__new__(cls)  # (skips __init__'s argument handling)
            self._as_list = {}
        else:
            self = cls()
        as_list = self._as_list
        if allow_obs_fold:
            self._last_key = _fill_unfolding(as_list, lines)
            return self
        ows = _OWS
        cache = _NAME_CACHE
        last = None
        for line in lines:
            if not line:
                continue
            if line[0] in ows:
                raise MalformedHeaderError(
                    f"obsolete line folding (obs-fold) is not allowed: {_excerpt(line)}"
                )
            name, colon, value = line.partition(":")
            if not colon:
                raise MalformedHeaderError(f"header line without a colon: {_excerpt(line)}")
            last = cache.get(name)
            if last is None:
                last = _validated_name(name, line)
            values = as_list.get(last)
            if values is None:
                as_list[last] = [value.strip(ows)]
            else:
                values.append(value.strip(ows))
        self._last_key = last
        return self

    # -- MutableMapping ----------------------------------------------------

    def __getitem__(self, name: str) -> str:
        values = self._as_list[_normalize_header(name)]
        return values[0] if len(values) == 1 else ",".join(values)

    def __setitem__(self, name: str, value: str) -> None:
        normalized = _normalize_header(name)
        self._as_list[normalized] = [value]
        self._last_key = normalized

    def __delitem__(self, name: str) -> None:
        del self._as_list[_normalize_header(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalize_header(name) in self._as_list

    def __len__(self) -> int:
        return len(self._as_list)

    def __iter__(self) -> Iterator[str]:
        return iter(self._as_list)

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | _T) -> str | _T: ...
    def get(self, name: str, /, default: object = None) -> object:
        """Return the value of ``name`` (values joined by ``,``), or ``default``.

        .. versionadded:: 0.1.0
        """
        values = self._as_list.get(_normalize_header(name))
        if values is None:
            return default
        return values[0] if len(values) == 1 else ",".join(values)

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HTTPHeaders):
            return self._as_list == other._as_list
        if isinstance(other, Mapping):
            mine = {name: self[name] for name in self._as_list}
            try:
                theirs = {_normalize_header(k): v for k, v in other.items()}
            except (AttributeError, TypeError):
                return False
            return mine == theirs
        return NotImplemented

    # -- copying and printing ----------------------------------------------

    def copy(self) -> Self:
        """Return a copy holding every value of every field.

        .. versionadded:: 0.1.0
        """
        cls = type(self)
        new = cls.__new__(cls)
        new._as_list = {name: values[:] for name, values in self._as_list.items()}
        new._last_key = None
        return new

    __copy__ = copy

    def __str__(self) -> str:
        return "".join(f"{name}: {value}\n" for name, value in self.get_all())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {list(self.get_all())!r}>"
