"""Header parameters (``type/sub; a=1; b="x"``) and the ``Cookie`` header.

Both parsers run in time linear in their input: every ``find`` moves
forward and no character is examined more than a bounded number of times,
whatever the arrangement of quotes, backslashes and separators.
"""

from __future__ import annotations

import re
import urllib.parse

__all__ = ["_encode_header", "_parse_header", "parse_cookie"]

# quoted-pair inside a quoted-string. Only \" and \\ are undone: browsers
# send Windows file names ("C:\dir\file") with lone backslashes that must
# survive.
_QUOTED_PAIR_RE = re.compile(r'\\([\\"])')

# In a cookie value, the escapes Python's http.cookies writes: \ooo octal
# and \<char>.
_COOKIE_ESCAPE_RE = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))", re.DOTALL)

_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _split_params(text: str) -> list[str]:
    """Split ``text`` at the semicolons that are not inside a quoted string."""
    parts: list[str] = []
    start = pos = 0
    length = len(text)
    semi = text.find(";")
    while True:
        if semi != -1 and semi < pos:
            semi = text.find(";", pos)
        quote = text.find('"', pos, length if semi == -1 else semi)
        if quote == -1:
            if semi == -1:
                parts.append(text[start:])
                return parts
            parts.append(text[start:semi])
            start = pos = semi + 1
            continue
        # Skip the quoted string; an unterminated one runs to the end.
        scan = quote + 1
        while True:
            close = text.find('"', scan)
            if close == -1:
                parts.append(text[start:])
                return parts
            back = close - 1
            while back > quote and text[back] == "\\":
                back -= 1
            if (close - 1 - back) % 2 == 0:
                break
            scan = close + 1
        pos = close + 1


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
        if "\\" in value:
            value = _QUOTED_PAIR_RE.sub(r"\1", value)
    return value


def _decode_extended(value: str, charset: str | None) -> str:
    """Percent-decode an RFC 8187 value in ``charset`` (UTF-8 if unknown)."""
    octets = urllib.parse.unquote_to_bytes(value)
    try:
        return octets.decode(charset or "utf-8", "replace")
    except LookupError:
        return octets.decode("utf-8", "replace")


def _parse_header(line: str) -> tuple[str, dict[str, str]]:
    """Parse a header value with parameters, such as ``Content-Type``.

    >>> _parse_header('form-data; name="a"; filename="b.txt"')
    ('form-data', {'name': 'a', 'filename': 'b.txt'})

    Parameter names are lowercased; quoted values are unquoted; a parameter
    without ``=`` maps to ``""``. RFC 8187/2231 extended parameters
    (``filename*=UTF-8''na%C3%AFve.txt``, and continuations ``name*0``,
    ``name*1*``...) are decoded and take precedence over the plain form.
    Never raises: malformed parameters are kept as well as can be.
    """
    parts = _split_params(line)
    key = parts[0].strip()
    params: dict[str, str] = {}
    extended: dict[str, str] = {}
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        if not name:
            continue
        value = value.strip()
        if not eq:
            params.setdefault(name, "")
            continue
        star = name.find("*")
        if star == -1:
            params[name] = _unquote(value)
            continue
        base, rest = name[:star], name[star + 1 :]
        if not rest:
            declared, _, rest_value = _unquote(value).partition("'")
            _, _, encoded = rest_value.partition("'")
            extended[base] = _decode_extended(encoded, declared)
            continue
        encoded_section = rest.endswith("*")
        number = rest[:-1] if encoded_section else rest
        if number.isascii() and number.isdigit() and len(number) < 4:
            sections.setdefault(base, []).append((int(number), encoded_section, value))
    for base, pieces in sections.items():
        pieces.sort(key=lambda piece: piece[0])
        charset: str | None = None
        raw: list[str] = []
        for index, encoded_section, value in pieces:
            if encoded_section:
                text = value
                if index == 0:
                    charset, _, text = text.partition("'")
                    _, _, text = text.partition("'")
                raw.append(text)
            else:
                raw.append(urllib.parse.quote(_unquote(value), safe=""))
        extended.setdefault(base, _decode_extended("".join(raw), charset))
    params.update(extended)
    return key, params


def _encode_header(key: str, pdict: dict[str, str | None]) -> str:
    """Format a header value with parameters; the inverse of :func:`_parse_header`.

    >>> _encode_header("form-data", {"name": "a b", "x": None})
    'form-data; name="a b"; x'
    """
    out = [key]
    for name, value in pdict.items():
        if value is None:
            out.append(name)
        elif value and not value.strip(_TOKEN_CHARS):
            out.append(f"{name}={value}")
        else:
            quoted = value.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'{name}="{quoted}"')
    return "; ".join(out)


def _unescape_cookie_char(match: re.Match[str]) -> str:
    octal = match.group(1)
    if octal is not None:
        return chr(int(octal, 8))
    return match.group(2)


def _unquote_cookie(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    value = value[1:-1]
    if "\\" in value:
        value = _COOKIE_ESCAPE_RE.sub(_unescape_cookie_char, value)
    return value


def parse_cookie(cookie: str) -> dict[str, str]:
    r"""Parse a ``Cookie`` request header into a dict of names to values.

    Follows what browsers do rather than the stricter RFC 6265 grammar:
    pairs are separated by ``;``; a pair without ``=`` is a cookie with an
    empty name; names and values are stripped of whitespace; a double-quoted
    value is unquoted (undoing the ``\\`` escapes of :mod:`http.cookies`).
    When a name repeats, the last value wins. Never raises; the time taken
    is linear in ``len(cookie)``.

    >>> parse_cookie('a=1; b="two words"; c')
    {'a': '1', 'b': 'two words', '': 'c'}

    .. versionadded:: 0.1.0
    """
    cookies: dict[str, str] = {}
    for chunk in cookie.split(";"):
        name, eq, value = chunk.partition("=")
        if not eq:
            name, value = "", name
        name = name.strip()
        value = value.strip()
        if name or value:
            cookies[name] = _unquote_cookie(value)
    return cookies
