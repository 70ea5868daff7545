"""Escaping and unescaping for HTML, URLs and JSON, and text/bytes helpers.

Everything here is a pure function of its arguments: no I/O, no global
state. The names and behaviour follow Tornado's ``tornado.escape`` so that
code written against it keeps working after renaming the import.

Conventions:

* "bytes" on the wire are UTF-8 unless a function says otherwise;
  :func:`utf8` and :func:`to_unicode` convert at the boundary and pass
  ``None`` through, so optional values need no special casing.
* Errors are the standard ones: :class:`TypeError` for a value of the wrong
  type, :class:`UnicodeDecodeError` for bytes that are not UTF-8,
  :class:`ValueError` for malformed input where strict parsing was asked for.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import binascii
import html
import html.entities
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any, overload

__all__ = [
    "json_decode",
    "json_encode",
    "linkify",
    "native_str",
    "parse_qs_bytes",
    "recursive_unicode",
    "squeeze",
    "to_basestring",
    "to_unicode",
    "url_escape",
    "url_unescape",
    "utf8",
    "xhtml_escape",
    "xhtml_unescape",
]


# ---------------------------------------------------------------------------
# bytes <-> str


@overload
def utf8(value: None) -> None: ...
@overload
def utf8(value: str | bytes) -> bytes: ...
def utf8(value: str | bytes | None) -> bytes | None:
    """Return ``value`` as bytes, encoding a ``str`` as UTF-8.

    :param value: a ``str`` (encoded), ``bytes`` (returned unchanged) or
        ``None`` (returned unchanged).
    :raises TypeError: for any other type.

    .. versionadded:: 0.1.0
    """
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"expected bytes, str or None; got {type(value).__name__}")


@overload
def to_unicode(value: None) -> None: ...
@overload
def to_unicode(value: str | bytes) -> str: ...
def to_unicode(value: str | bytes | None) -> str | None:
    """Return ``value`` as ``str``, decoding ``bytes`` as UTF-8.

    :param value: ``bytes`` (decoded), a ``str`` (returned unchanged) or
        ``None`` (returned unchanged).
    :raises TypeError: for any other type.
    :raises UnicodeDecodeError: if the bytes are not valid UTF-8.

    .. versionadded:: 0.1.0
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(f"expected bytes, str or None; got {type(value).__name__}")


#: Alias of :func:`to_unicode` (Python 3's native string type is ``str``).
#:
#: .. versionadded:: 0.1.0
native_str = to_unicode

#: Alias of :func:`to_unicode`, kept for code written against Tornado 4.
#:
#: .. versionadded:: 0.1.0
to_basestring = to_unicode

_unicode = to_unicode


def recursive_unicode(obj: Any) -> Any:
    """Convert every ``bytes`` inside ``obj`` to ``str``, recursively.

    Dictionaries (keys and values), lists and tuples are rebuilt with their
    contents converted; ``bytes`` are decoded as UTF-8; anything else is
    returned unchanged.

    :raises UnicodeDecodeError: if some bytes are not valid UTF-8.

    .. versionadded:: 0.1.0
    """
    if isinstance(obj, bytes):
        return obj.decode("utf-8")
    if isinstance(obj, dict):
        return {recursive_unicode(k): recursive_unicode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [recursive_unicode(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(recursive_unicode(item) for item in obj)
    return obj


# ---------------------------------------------------------------------------
# HTML


def xhtml_escape(value: str | bytes) -> str:
    """Escape ``value`` for use in HTML or XML text and attribute values.

    ``&``, ``<``, ``>``, ``"`` and ``'`` become ``&amp;``, ``&lt;``,
    ``&gt;``, ``&quot;`` and ``&#x27;``.

    :param value: text; ``bytes`` are decoded as UTF-8 first.

    .. versionadded:: 0.1.0
    """
    return html.escape(to_unicode(value), quote=True)


# A character reference as XML writes them: always ending with ";". The
# bounded repetitions keep the scan linear.
_CHAR_REF_RE = re.compile(
    r"&(?:#[xX]([0-9a-fA-F]{1,8})|#([0-9]{1,10})|([A-Za-z][A-Za-z0-9]{0,31}));"
)


def _char_for_reference(match: re.Match[str]) -> str:
    hexadecimal, decimal, name = match.groups()
    if name is not None:
        return html.entities.html5.get(name + ";", match.group(0))
    code = int(hexadecimal, 16) if hexadecimal is not None else int(decimal)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return match.group(0)
    return chr(code)


def xhtml_unescape(value: str | bytes) -> str:
    """Replace the character references in ``value`` by the characters.

    Named (``&amp;``, any HTML5 name), decimal (``&#39;``) and hexadecimal
    (``&#x27;``) references are decoded. As in XHTML a reference must end
    with ``;``; unknown names and references to invalid code points are
    left as they are.

    :param value: text; ``bytes`` are decoded as UTF-8 first.

    .. versionadded:: 0.1.0
    """
    text = to_unicode(value)
    if "&" not in text:
        return text
    return _CHAR_REF_RE.sub(_char_for_reference, text)


# ---------------------------------------------------------------------------
# URLs


def url_escape(value: str | bytes, plus: bool = True) -> str:
    """Percent-encode ``value`` for use in a URL.

    :param value: text (encoded as UTF-8) or bytes.
    :param plus: if true (the default) spaces become ``+`` and ``/`` is
        escaped, as in a query string; if false spaces become ``%20`` and
        ``/`` is kept, as in a path.

    .. versionadded:: 0.1.0
    """
    if plus:
        return urllib.parse.quote_plus(utf8(value))
    return urllib.parse.quote(utf8(value))


@overload
def url_unescape(value: str | bytes, encoding: None, plus: bool = True) -> bytes: ...
@overload
def url_unescape(value: str | bytes, encoding: str = "utf-8", plus: bool = True) -> str: ...
def url_unescape(
    value: str | bytes, encoding: str | None = "utf-8", plus: bool = True
) -> str | bytes:
    """Decode a percent-encoded URL component.

    :param value: the encoded text or bytes.
    :param encoding: the text encoding of the decoded octets; ``None``
        returns the raw bytes instead of text. Sequences that do not decode
        become U+FFFD, as with :func:`urllib.parse.unquote`.
    :param plus: if true (the default) ``+`` means a space, as in a query
        string; if false it stays ``+``, as in a path.

    .. versionadded:: 0.1.0
    """
    octets = _percent_decode(utf8(value), plus)
    if encoding is None:
        return octets
    return octets.decode(encoding, "replace")


# For :func:`_percent_decode`: ``%`` becomes quoted-printable's ``=`` and,
# for form fields, ``+`` a space, in one pass.
_TO_QUOTED_PRINTABLE = bytes.maketrans(b"%", b"=")
_FORM_TO_QUOTED_PRINTABLE = bytes.maketrans(b"%+", b"= ")

# Byte values, for membership tests: ``37 in data`` is a plain search, while
# ``b"%" in data`` first tries the needle as an integer and builds (and
# discards) a TypeError message each time, ~80 ns of a hot loop's time.
_PERCENT = 0x25
_PLUS = 0x2B
_EQUALS = 0x3D
_LF = 0x0A
_CR = 0x0D


def _percent_decode(data: bytes, plus: bool = False) -> bytes:
    """Decode the ``%XX`` escapes of ``data``, as :func:`urllib.parse.unquote_to_bytes`.

    With ``plus``, ``+`` means a space (as in a query string or a form).

    ``unquote_to_bytes`` is pure Python, one loop pass per escape: a 1 KB
    form field of escaped text costs it ~13 µs. The C quoted-printable
    decoder of :mod:`binascii` does the same job (``=XX`` instead of
    ``%XX``) in under 1 µs, so: when ``data`` holds no ``=`` and no line
    break (the only bytes quoted-printable treats differently), turn ``%``
    into ``=`` and decode there. A malformed escape (``%`` not followed by
    two hex digits, kept verbatim by ``unquote_to_bytes``) comes out as an
    ``=``, or is dropped when it ends the text; when the result has an
    ``=`` anyway, its length decides (every well-formed escape shortens the
    text by two bytes, a malformed one by fewer). Otherwise the standard
    library decodes it.
    """
    if _PERCENT not in data:
        return data.replace(b"+", b" ") if plus and _PLUS in data else data
    if _EQUALS not in data and _LF not in data and _CR not in data:
        table = _FORM_TO_QUOTED_PRINTABLE if plus else _TO_QUOTED_PRINTABLE
        decoded = binascii.a2b_qp(data.translate(table))
        # A malformed escape leaves an "=" (a final "%" is dropped); so does
        # a well-formed "%3D", which the length check then tells apart.
        if _EQUALS not in decoded and data[-1] != _PERCENT:
            return decoded
        if len(decoded) == len(data) - 2 * data.count(b"%"):
            return decoded
    if plus:
        data = data.replace(b"+", b" ")
    return urllib.parse.unquote_to_bytes(data)


def parse_qs_bytes(
    qs: str | bytes, keep_blank_values: bool = False, strict_parsing: bool = False
) -> dict[str, list[bytes]]:
    """Parse a query string into a dict of names to lists of raw byte values.

    Like :func:`urllib.parse.parse_qs`, but the values stay ``bytes``, so
    the application decides on their encoding. Fields are separated by
    ``&``; ``+`` means a space; percent-escapes are decoded. Names are
    decoded as UTF-8 (or, if they are not valid UTF-8, as Latin-1). A ``str``
    argument is first encoded back to the bytes it came from (Latin-1, as
    the HTTP layer decodes request lines; UTF-8 if it holds characters
    outside Latin-1). The running time is linear in ``len(qs)``.

    :param qs: the query string, without the leading ``?``.
    :param keep_blank_values: keep fields with an empty value (``a=`` or
        ``a``) as ``b""`` instead of dropping them.
    :param strict_parsing: raise instead of skipping a field with no ``=``.
    :raises ValueError: with ``strict_parsing``, for a field with no ``=``.

    .. versionchanged:: 0.1.0
       Unlike Tornado, names are decoded as UTF-8, not Latin-1.

    .. versionadded:: 0.1.0
    """
    if isinstance(qs, str):
        try:
            data = qs.encode("latin-1")
        except UnicodeEncodeError:
            data = qs.encode("utf-8")
    else:
        data = qs
    if strict_parsing and data:
        for field in data.split(b"&"):
            if _EQUALS not in field:
                raise ValueError(f"bad query field: {field!r}")
    result = _parse_form(data)
    if not keep_blank_values:
        for name, values in list(result.items()):
            if not all(values):
                values[:] = filter(None, values)
                if not values:
                    del result[name]
    return result


def _parse_form(data: bytes) -> dict[str, list[bytes]]:
    """:func:`parse_qs_bytes` of ``data`` with ``keep_blank_values`` (a form body).

    The loop of a request with a form body: no options to test.
    """
    result: dict[str, list[bytes]] = {}
    if not data:
        return result
    unquote = _percent_decode
    a2b_qp = binascii.a2b_qp
    for field in data.split(b"&"):
        if not field:
            continue
        raw_name, _, raw_value = field.partition(b"=")
        if _PERCENT in raw_name or _PLUS in raw_name:
            raw_name = unquote(raw_name, True)
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            name = raw_name.decode("latin-1")
        if _PERCENT in raw_value:
            # (_percent_decode's fast path, inline: see there.)
            if _EQUALS not in raw_value and _LF not in raw_value and _CR not in raw_value:
                decoded = a2b_qp(raw_value.translate(_FORM_TO_QUOTED_PRINTABLE))
                if _EQUALS not in decoded and raw_value[-1] != _PERCENT:
                    raw_value = decoded
                else:
                    raw_value = unquote(raw_value, True)
            else:
                raw_value = unquote(raw_value, True)
        elif _PLUS in raw_value:
            raw_value = raw_value.replace(b"+", b" ")
        values = result.get(name)
        if values is None:
            result[name] = [raw_value]
        else:
            values.append(raw_value)
    return result


# ---------------------------------------------------------------------------
# JSON


_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_encode_basestring_ascii: Any = json.encoder.encode_basestring_ascii
_DEFAULT_JSON_DEFAULT = json.JSONEncoder().default
# ``json.dumps`` through the C encoder, without dumps' Python layers: one
# encoder, built with dumps' default arguments but no circular-reference
# markers (that bookkeeping was a third of the time of encoding a small
# object). Stateless without markers, it serves every call and thread. A
# cycle then ends in RecursionError at the recursion limit, and the value is
# encoded again by json.dumps, which raises its usual ValueError for a cycle
# (or the RecursionError for a value nested too deep).
_c_encoder: Any = (
    _c_make_encoder(
        None, _DEFAULT_JSON_DEFAULT, _encode_basestring_ascii, None, ": ", ", ", False, False, True
    )
    if _c_make_encoder is not None
    else None
)

try:  # (a private interface: use it only while it answers as dumps does)
    if _c_encoder is not None and "".join(_c_encoder({"a": [1.5, "\u00e9"]}, 0)) != json.dumps(
        {"a": [1.5, "\u00e9"]}
    ):
        _c_encoder = None
except Exception:
    _c_encoder = None


def json_encode(value: Any) -> str:
    r"""Serialize ``value`` to JSON that is safe inside an HTML ``<script>``.

    Every ``</`` is written ``<\\/`` (an equivalent JSON string escape), so
    the output cannot close the surrounding script element.

    :raises TypeError: if ``value`` holds something JSON cannot represent.
    :raises ValueError: if ``value`` contains itself.

    .. versionadded:: 0.1.0
    """
    if _c_encoder is None:
        text = json.dumps(value)
    else:
        try:
            text = "".join(_c_encoder(value, 0))
        except RecursionError:
            text = json.dumps(value)
    return text.replace("</", "<\\/")


def json_decode(value: str | bytes) -> Any:
    """Parse JSON text (``bytes`` are decoded as UTF-8 first).

    :raises json.JSONDecodeError: (a :class:`ValueError`) for invalid JSON.

    .. versionadded:: 0.1.0
    """
    return json.loads(to_unicode(value))


# ---------------------------------------------------------------------------
# Text


_WHITESPACE_RUN_RE = re.compile(r"[\x00-\x20]+")


def squeeze(value: str) -> str:
    """Replace each run of whitespace and control characters by one space.

    The result is also stripped at both ends.

    .. versionadded:: 0.1.0
    """
    return _WHITESPACE_RUN_RE.sub(" ", value).strip()


# A URL candidate starts at a word boundary with "scheme:/" (one to three
# slashes) or with "www.", and runs to the next character that cannot be in
# a bare URL in prose. The scheme length is bounded so that the scan stays
# linear even on text made only of scheme characters.
_URL_CANDIDATE_RE = re.compile(r"\b(?:([A-Za-z][A-Za-z0-9+.\-]{0,31}):(/{1,3})|www\.)[^\s<>\"]+")

_TRAILING_PUNCTUATION = frozenset(".,;:!?'*")
_CLOSERS = {")": "(", "]": "[", "}": "{"}

_SHORTEN_TO = 30


def _url_end(url: str, start: int) -> int:
    """Return where the URL in ``url`` ends once trailing prose is removed.

    ``start`` is the length of the prefix (``scheme://`` or ``www.``) that
    cannot be trimmed.
    """
    end = len(url)
    counts = {opener: url.count(opener) - url.count(closer) for closer, opener in _CLOSERS.items()}
    while end > start:
        last = url[end - 1]
        if last in _TRAILING_PUNCTUATION:
            end -= 1
        elif last in _CLOSERS and counts[_CLOSERS[last]] < 0:
            counts[_CLOSERS[last]] += 1
            end -= 1
        else:
            break
    return end


def _shortened(display: str) -> str:
    if len(display) <= _SHORTEN_TO:
        return display
    head = display[:_SHORTEN_TO]
    slash = head.rfind("/")
    if slash > _SHORTEN_TO // 2:
        head = head[: slash + 1]
    return head + "..."


def linkify(
    text: str | bytes,
    shorten: bool = False,
    extra_params: str | Callable[[str], str] = "",
    require_protocol: bool = False,
    permitted_protocols: Iterable[str] = ("http", "https"),
) -> str:
    """Escape ``text`` as HTML and turn the URLs in it into links.

    A URL is found where a word starts with ``scheme://`` (or ``scheme:/``)
    or with ``www.``; it runs to the next whitespace, ``<``, ``>`` or ``"``,
    minus trailing punctuation (``.,;:!?'*``) and unbalanced closing
    brackets, so ``(see http://example.com/a_(b).)`` links
    ``http://example.com/a_(b)``. A ``www.`` URL gets ``http://`` prepended
    in its ``href``. All text, inside links or not, is HTML-escaped.

    :param text: the plain text (``bytes`` are decoded as UTF-8).
    :param shorten: shorten the visible text of URLs longer than 30
        characters (the scheme is dropped and ``...`` added); the full URL is
        kept in the ``href`` and in a ``title`` attribute.
    :param extra_params: extra attributes for each ``<a>`` tag, such as
        ``'rel="nofollow" class="external"'``; or a callable receiving the
        ``href`` and returning them. They are inserted verbatim: they must
        already be valid, escaped HTML.
    :param require_protocol: link only URLs with a scheme, not bare
        ``www.`` ones.
    :param permitted_protocols: the schemes (case-insensitive) that may
        become links; other URLs stay plain text. Never add ``javascript``
        or ``data`` when the text comes from users.

    .. versionadded:: 0.1.0
    """
    source = to_unicode(text)
    permitted = frozenset(p.lower() for p in permitted_protocols)
    static_params = ""
    if extra_params and not callable(extra_params):
        static_params = " " + extra_params.strip()
    out: list[str] = []
    pos = 0
    for match in _URL_CANDIDATE_RE.finditer(source):
        scheme = match.group(1)
        start = match.start(0)
        if scheme is None:
            if require_protocol:
                continue
            prefix_len = 4  # "www."
        else:
            if scheme.lower() not in permitted:
                continue
            prefix_len = match.end(2) - start
            while source.startswith("/", start + prefix_len):
                prefix_len += 1
        url = match.group(0)
        end = _url_end(url, prefix_len)
        if end <= prefix_len:
            continue
        url = url[:end]
        href = url if scheme is not None else "http://" + url
        params = " " + extra_params(href).strip() if callable(extra_params) else static_params
        display = url
        if shorten and len(url) > _SHORTEN_TO:
            short = _shortened(url[prefix_len:] if scheme is not None else url)
            if len(short) < len(url):
                display = short
                params += f' title="{xhtml_escape(href)}"'
        out.append(xhtml_escape(source[pos:start]))
        out.append(f'<a href="{xhtml_escape(href)}"{params}>{xhtml_escape(display)}</a>')
        pos = start + end
    out.append(xhtml_escape(source[pos:]))
    return "".join(out)
