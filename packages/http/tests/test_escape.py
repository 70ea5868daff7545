"""Tests for squall.escape."""

from __future__ import annotations

import concurrent.futures
import gc
import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from squall import escape
from squall.escape import (
    json_decode,
    json_encode,
    linkify,
    native_str,
    parse_qs_bytes,
    recursive_unicode,
    squeeze,
    to_basestring,
    to_unicode,
    url_escape,
    url_unescape,
    utf8,
    xhtml_escape,
    xhtml_unescape,
)

PUBLIC_API = {
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
}


def test_public_api_is_pinned() -> None:
    assert set(escape.__all__) == PUBLIC_API
    compiled = not escape.__file__.endswith(".py")  # the compiled build (mypyc)
    for name in PUBLIC_API:
        obj = getattr(escape, name)
        if compiled and obj.__doc__ is None:
            continue  # (mypyc keeps most docstrings, not every one)
        assert obj.__doc__ and "versionadded" in obj.__doc__, name


# -- bytes and text ---------------------------------------------------------


def test_utf8() -> None:
    assert utf8("caf\u00e9") == b"caf\xc3\xa9"
    raw = b"\xff\x00"
    assert utf8(raw) is raw
    assert utf8(None) is None
    with pytest.raises(TypeError, match="int"):
        utf8(3)  # type: ignore[call-overload]


def test_to_unicode_and_aliases() -> None:
    assert to_unicode(b"caf\xc3\xa9") == "caf\u00e9"
    text = "x"
    assert to_unicode(text) is text
    assert to_unicode(None) is None
    with pytest.raises(TypeError, match="list"):
        to_unicode([])  # type: ignore[call-overload]
    with pytest.raises(UnicodeDecodeError):
        to_unicode(b"\xff")
    assert native_str is to_unicode
    assert to_basestring is to_unicode


def test_recursive_unicode() -> None:
    data = {b"a": [b"b", (b"c", 1)], "d": {b"e": None}}
    assert recursive_unicode(data) == {"a": ["b", ("c", 1)], "d": {"e": None}}
    assert isinstance(recursive_unicode((b"x",)), tuple)
    assert recursive_unicode(5) == 5


# -- HTML -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<foo>", "&lt;foo&gt;"),
        ("a & b", "a &amp; b"),
        ("\"quoted\" 'single'", "&quot;quoted&quot; &#x27;single&#x27;"),
        ("<\u00e9>", "&lt;\u00e9&gt;"),
        ("", ""),
        (b"<bytes>", "&lt;bytes&gt;"),
    ],
)
def test_xhtml_escape(raw: str | bytes, escaped: str) -> None:
    assert xhtml_escape(raw) == escaped


@pytest.mark.parametrize(
    ("escaped", "raw"),
    [
        ("&lt;a&gt; &amp; &quot;", '<a> & "'),
        ("&#39;&#x27;&#X27;", "'''"),
        ("&eacute;&#233;&#xe9;", "\u00e9\u00e9\u00e9"),
        (
            "&notanentity; &amp &#0; &#xD800; &#99999999;",
            "&notanentity; &amp &#0; &#xD800; &#99999999;",
        ),
        ("&NotNestedLessLess;", "\u2aa1\u0338"),
        ("plain", "plain"),
        (b"&amp;", "&"),
    ],
)
def test_xhtml_unescape(escaped: str | bytes, raw: str) -> None:
    assert xhtml_unescape(escaped) == raw


def test_xhtml_unescape_is_linear() -> None:
    assert_linear(xhtml_unescape, lambda n: "&amp;&#" * n, 5000)
    assert_linear(xhtml_unescape, lambda n: "&" + "a" * n, 50000)
    assert_linear(xhtml_unescape, lambda n: "&#x" + "1" * n + ";", 50000)


@given(st.text())
def test_xhtml_round_trip(text: str) -> None:
    escaped = xhtml_escape(text)
    assert not set("<>\"'") & set(escaped)
    assert xhtml_unescape(escaped) == text


# -- URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plus", "escaped"),
    [
        ("a b/c", True, "a+b%2Fc"),
        ("a b/c", False, "a%20b/c"),
        ("caf\u00e9", True, "caf%C3%A9"),
        (b"\xff+", True, "%FF%2B"),
        ("~-_.", True, "~-_."),
        ("?&=#", False, "%3F%26%3D%23"),
    ],
)
def test_url_escape(raw: str | bytes, plus: bool, escaped: str) -> None:
    assert url_escape(raw, plus=plus) == escaped


def test_url_unescape() -> None:
    assert url_unescape("a+b%20c") == "a b c"
    assert url_unescape("a+b%20c", plus=False) == "a+b c"
    assert url_unescape(b"caf%C3%A9") == "caf\u00e9"
    assert url_unescape("%E9", encoding="latin-1") == "\u00e9"
    assert url_unescape("%FF+x", encoding=None) == b"\xff x"
    assert url_unescape("%FF+x", encoding=None, plus=False) == b"\xff+x"
    # Octets that do not decode become U+FFFD rather than raising.
    assert url_unescape("%FF") == "\ufffd"


# Bytes that stress percent-decoding: escapes well and badly formed, the
# characters quoted-printable treats specially, and ordinary text.
_ESCAPE_PIECES = st.sampled_from(
    [
        *(b"%", b"%4", b"%41", b"%c3", b"%C3%A9", b"%zz", b"%3D", b"%0A", b"%0d", b"%25"),
        *(b"=", b"\r", b"\n", b"\r\n", b"_", b"+", b" ", b"\t", b"\x00", b"\xff"),
        *(b"a", b"F", b"0", b"9", b"g", b"text"),
    ]
)


@settings(max_examples=500)
@given(st.lists(_ESCAPE_PIECES, max_size=12).map(b"".join))
def test_url_unescape_matches_the_standard_library(raw: bytes) -> None:
    # The fast path must agree with urllib on every input, malformed
    # escapes (kept verbatim) included.
    expected = urllib.parse.unquote_to_bytes(raw)
    assert url_unescape(raw, encoding=None, plus=False) == expected
    field = raw.replace(b"&", b"")
    expected_field = urllib.parse.unquote_to_bytes(field.replace(b"+", b" "))
    assert parse_qs_bytes(b"k=" + field) == ({"k": [expected_field]} if field else {})


@settings(max_examples=500)
@given(
    st.lists(st.sampled_from([b"a", b"b", b"=", b"&", b"+", b"%41", b"%3D", b"%26", b""])).map(
        b"".join
    ),
    st.booleans(),
    st.booleans(),
)
def test_parse_qs_bytes_matches_the_standard_library(
    raw: bytes, keep_blank_values: bool, strict_parsing: bool
) -> None:
    # Separators, blank values, escaped separators and the strict mode as
    # urllib.parse.parse_qs has them (ASCII, so the names agree too).
    try:
        expected: object = {
            name: [value.encode("latin-1") for value in values]
            for name, values in urllib.parse.parse_qs(
                raw.decode(),
                keep_blank_values=keep_blank_values,
                strict_parsing=strict_parsing,
                encoding="latin-1",
            ).items()
        }
    except ValueError:
        expected = ValueError
    try:
        got: object = parse_qs_bytes(raw, keep_blank_values, strict_parsing)
    except ValueError:
        got = ValueError
    assert got == expected


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (b"%", b"%"),
        (b"a%4", b"a%4"),
        (b"%41%zz%42", b"A%zzB"),
        (b"%%41", b"%A"),
        (b"%3D=%3d", b"==="),
        (b"x%0Ay\r\n%41", b"x\ny\r\nA"),
        (b"caf%C3%A9+%E2%98%83", b"caf\xc3\xa9+\xe2\x98\x83"),
    ],
)
def test_url_unescape_malformed_escapes(raw: bytes, decoded: bytes) -> None:
    assert url_unescape(raw, encoding=None, plus=False) == decoded


@given(st.text(), st.booleans())
def test_url_round_trip(text: str, plus: bool) -> None:
    assert url_unescape(url_escape(text, plus=plus), plus=plus) == text


@given(st.binary(), st.booleans())
def test_url_round_trip_bytes(data: bytes, plus: bool) -> None:
    assert url_unescape(url_escape(data, plus=plus), encoding=None, plus=plus) == data


# -- query strings ----------------------------------------------------------


def test_parse_qs_bytes_basic() -> None:
    parsed = parse_qs_bytes("a=1&b=2&a=3&c=x+y%21")
    assert parsed == {"a": [b"1", b"3"], "b": [b"2"], "c": [b"x y!"]}


def test_parse_qs_bytes_blank_values() -> None:
    assert parse_qs_bytes("a=&b&c=1") == {"c": [b"1"]}
    assert parse_qs_bytes("a=&b&c=1", keep_blank_values=True) == {
        "a": [b""],
        "b": [b""],
        "c": [b"1"],
    }
    assert parse_qs_bytes("&&a=1&&") == {"a": [b"1"]}
    assert parse_qs_bytes("") == {}
    assert parse_qs_bytes(b"") == {}


def test_parse_qs_bytes_strict() -> None:
    assert parse_qs_bytes("a=1&b=2", strict_parsing=True) == {"a": [b"1"], "b": [b"2"]}
    with pytest.raises(ValueError, match="bad query field"):
        parse_qs_bytes("a=1&b", strict_parsing=True)
    with pytest.raises(ValueError, match="bad query field"):
        parse_qs_bytes("a=1&&b=2", strict_parsing=True)


def test_parse_qs_bytes_values_stay_raw() -> None:
    # Values are never decoded: non-UTF-8 octets survive.
    assert parse_qs_bytes(b"v=%FF%FE&w=\xe9") == {"v": [b"\xff\xfe"], "w": [b"\xe9"]}


def test_parse_qs_bytes_names() -> None:
    assert parse_qs_bytes("caf%C3%A9=1") == {"caf\u00e9": [b"1"]}
    # Names that are not UTF-8 fall back to Latin-1 instead of failing.
    assert parse_qs_bytes("%E9=1") == {"\u00e9": [b"1"]}
    assert parse_qs_bytes("a+b=1") == {"a b": [b"1"]}
    assert parse_qs_bytes("=1") == {"": [b"1"]}
    assert parse_qs_bytes("a==1") == {"a": [b"=1"]}


def test_parse_qs_bytes_str_input() -> None:
    # A str holding Latin-1 characters (as the HTTP layer decodes request
    # lines) is turned back into the bytes it came from.
    assert parse_qs_bytes("v=\u00e9") == {"v": [b"\xe9"]}
    # Characters beyond Latin-1 are encoded as UTF-8.
    assert parse_qs_bytes("v=\u20ac") == {"v": ["\u20ac".encode()]}


@given(st.dictionaries(st.text(min_size=1), st.lists(st.binary(), min_size=1, max_size=3)))
def test_parse_qs_bytes_inverts_url_escape(data: dict[str, list[bytes]]) -> None:
    qs = "&".join(f"{url_escape(k)}={url_escape(v)}" for k, values in data.items() for v in values)
    assert parse_qs_bytes(qs, keep_blank_values=True) == data


def _best_time(fn: Callable[[Any], object], arg: Any, repeat: int = 3) -> float:
    # CPU time of this process (other processes on a busy machine do not
    # count), with the cyclic GC off so a collection does not land in one run.
    best = float("inf")
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.process_time()
            fn(arg)
            best = min(best, time.process_time() - start)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def assert_linear(fn: Callable[[Any], object], make: Callable[[int], Any], n: int) -> None:
    """Input 10x larger must take at most ~20x longer (quadratic: 100x)."""
    small, large = make(n), make(n * 10)
    ratios = []
    for _ in range(5):
        ratio = _best_time(fn, large) / max(_best_time(fn, small), 1e-6)
        if ratio <= 20:
            return
        ratios.append(ratio)
    pytest.fail(f"time grew {min(ratios):.1f}x for 10x input")


def test_parse_qs_bytes_is_linear() -> None:
    assert_linear(parse_qs_bytes, lambda n: b"a=1&" * n, 3000)
    assert_linear(parse_qs_bytes, lambda n: b"a=" + b"%41" * n, 10000)
    assert_linear(parse_qs_bytes, lambda n: b"&" * n, 30000)


# -- JSON -------------------------------------------------------------------


def test_json_encode_is_safe_in_script() -> None:
    encoded = json_encode({"html": "</script><script>alert(1)</script>"})
    assert "</" not in encoded
    assert json.loads(encoded) == {"html": "</script><script>alert(1)</script>"}


def test_json_encode_types() -> None:
    assert json_encode([1, "a", None, True]) == '[1, "a", null, true]'
    with pytest.raises(TypeError):
        json_encode(object())


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_json_encode_matches_json_dumps(value: Any) -> None:
    # The fast path drives the C encoder directly: same text as json.dumps.
    assert json_encode(value) == json.dumps(value).replace("</", "<\\/")


def test_json_encode_errors_match_json_dumps() -> None:
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        json_encode(circular)
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_encode({"a": [1, object()]})
    # A failed call leaves nothing behind for the next one.
    assert json_encode({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert json_encode({1: 2.5, "nan": float("nan")}) == '{"1": 2.5, "nan": NaN}'


def test_json_encode_cycles_and_deep_values_fail_like_json_dumps() -> None:
    # The shared encoder keeps no cycle markers: a cycle anywhere in the
    # value still ends in dumps' ValueError, not a RecursionError.
    record: dict[str, Any] = {"id": 1}
    record["friends"] = [{"self": record}]
    with pytest.raises(ValueError, match="Circular reference"):
        json_encode(record)
    deep: list[Any] = []
    innermost = deep
    for _ in range(100_000):
        innermost.append([])
        innermost = innermost[0]
    with pytest.raises(RecursionError):
        json_encode(deep)
    assert json_encode({"after": "failures"}) == '{"after": "failures"}'


def test_json_encode_from_many_threads() -> None:
    # One encoder serves every thread: concurrent calls do not mix output.
    values = [{"n": n, "items": list(range(n % 50)), "name": f"t{n}"} for n in range(400)]
    expected = [json.dumps(value) for value in values]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            assert list(pool.map(json_encode, values)) == expected


def test_json_decode() -> None:
    assert json_decode('{"a": [1, 2]}') == {"a": [1, 2]}
    assert json_decode(b'"caf\xc3\xa9"') == "caf\u00e9"
    with pytest.raises(ValueError):
        json_decode("{")


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_json_round_trip(value: Any) -> None:
    encoded = json_encode(value)
    assert "</" not in encoded
    assert json_decode(encoded) == value


# -- squeeze ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "squeezed"),
    [
        ("  a \t\n b  ", "a b"),
        ("a\x00\x01b", "a b"),
        ("", ""),
        ("one", "one"),
    ],
)
def test_squeeze(raw: str, squeezed: str) -> None:
    assert squeeze(raw) == squeezed


# -- linkify ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("hello", "hello"),
        (
            "see http://example.com now",
            'see <a href="http://example.com">http://example.com</a> now',
        ),
        (
            "https://example.com/a?b=1&c=2",
            '<a href="https://example.com/a?b=1&amp;c=2">https://example.com/a?b=1&amp;c=2</a>',
        ),
        ("www.example.com", '<a href="http://www.example.com">www.example.com</a>'),
        (
            "go to http://example.com/x.",
            'go to <a href="http://example.com/x">http://example.com/x</a>.',
        ),
        (
            "(http://example.com/wiki/A_(b))",
            '(<a href="http://example.com/wiki/A_(b)">http://example.com/wiki/A_(b)</a>)',
        ),
        (
            "http://example.com/a?!,;:",
            '<a href="http://example.com/a">http://example.com/a</a>?!,;:',
        ),
        ("<b>http://x.org</b>", '&lt;b&gt;<a href="http://x.org">http://x.org</a>&lt;/b&gt;'),
        ('"http://x.org"', '&quot;<a href="http://x.org">http://x.org</a>&quot;'),
        ("javascript://alert(1)", "javascript://alert(1)"),
        ("ftp://example.com", "ftp://example.com"),
        ("http://", "http://"),
        ("http:///", "http:///"),
        ("www.", "www."),
        (b"bytes http://x.org", 'bytes <a href="http://x.org">http://x.org</a>'),
        (
            "two http://a.org and http://b.org.",
            'two <a href="http://a.org">http://a.org</a> and <a href="http://b.org">http://b.org</a>.',
        ),
        ("HTTP://X.ORG", '<a href="HTTP://X.ORG">HTTP://X.ORG</a>'),
    ],
)
def test_linkify(text: str | bytes, html: str) -> None:
    assert linkify(text) == html


def test_linkify_require_protocol() -> None:
    assert linkify("www.example.com", require_protocol=True) == "www.example.com"
    assert (
        linkify("http://x.org", require_protocol=True) == '<a href="http://x.org">http://x.org</a>'
    )


def test_linkify_permitted_protocols() -> None:
    assert (
        linkify("ftp://example.com/f", permitted_protocols=["ftp"])
        == '<a href="ftp://example.com/f">ftp://example.com/f</a>'
    )
    assert linkify("http://x.org", permitted_protocols=["ftp"]) == "http://x.org"


def test_linkify_extra_params() -> None:
    assert (
        linkify("http://x.org", extra_params=' rel="nofollow" ')
        == '<a href="http://x.org" rel="nofollow">http://x.org</a>'
    )

    def params(href: str) -> str:
        return 'class="internal"' if "x.org" in href else 'class="external"'

    assert (
        linkify("http://x.org www.y.org", extra_params=params)
        == '<a href="http://x.org" class="internal">http://x.org</a> '
        '<a href="http://www.y.org" class="external">www.y.org</a>'
    )


def test_linkify_shorten() -> None:
    url = "http://www.example.com/some/really/long/path/to/a/file.html?x=1&y=2"
    html = linkify(url, shorten=True)
    href = url.replace("&", "&amp;")
    assert html.startswith(f'<a href="{href}" title="{href}">')
    text = html[html.index(">") + 1 : html.index("</a>")]
    assert text.endswith("...")
    assert not text.startswith("http")
    assert len(text) <= 33
    # Short URLs are left alone.
    assert linkify("http://x.org/a", shorten=True) == '<a href="http://x.org/a">http://x.org/a</a>'


def test_linkify_is_linear() -> None:
    assert_linear(linkify, lambda n: "a.b-c+" * n, 2000)
    assert_linear(linkify, lambda n: "http://x.org/" + ")" * n, 5000)
    assert_linear(linkify, lambda n: "www.x " * n, 1000)


@given(st.text())
@settings(max_examples=200)
def test_linkify_never_leaks_markup(text: str) -> None:
    html = linkify(text)
    # Whatever the input, the only tags in the output are our links.
    stripped = html.replace("</a>", "")
    while "<a href=" in stripped:
        start = stripped.index("<a href=")
        stripped = stripped[:start] + stripped[stripped.index(">", start) + 1 :]
    assert "<" not in stripped and ">" not in stripped
