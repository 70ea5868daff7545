"""Tests for squall.httputil."""

from __future__ import annotations

import asyncio
import calendar
import copy
import datetime
import doctest
import gc
import http.cookies
import importlib
import pickle
import string
import time
import types
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from squall import httputil
from squall.httputil import (
    HTTPConnection,
    HTTPFile,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPOutputError,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    LimitExceededError,
    MalformedHeaderError,
    MalformedMultipartError,
    MalformedStartLineError,
    PartHeaderTooLargeError,
    RequestStartLine,
    ResponseStartLine,
    TooManyArgumentsError,
    TooManyPartsError,
    UnsupportedContentEncodingError,
    UnsupportedHTTPVersionError,
    encode_username_password,
    format_timestamp,
    parse_body_arguments,
    parse_cookie,
    parse_multipart_form_data,
    parse_request_start_line,
    parse_response_start_line,
    qs_to_qsl,
    responses,
    split_host_and_port,
    url_concat,
)

PUBLIC_API = {
    "DEFAULT_MAX_ARGUMENTS",
    "DEFAULT_MAX_PARTS",
    "DEFAULT_MAX_PART_HEADER_SIZE",
    "HTTPConnection",
    "HTTPFile",
    "HTTPHeaders",
    "HTTPInputError",
    "HTTPMessageDelegate",
    "HTTPOutputError",
    "HTTPServerConnectionDelegate",
    "HTTPServerRequest",
    "LimitExceededError",
    "MalformedHeaderError",
    "MalformedMultipartError",
    "MalformedStartLineError",
    "PartHeaderTooLargeError",
    "RequestStartLine",
    "ResponseStartLine",
    "TooManyArgumentsError",
    "TooManyPartsError",
    "UnsupportedContentEncodingError",
    "UnsupportedHTTPVersionError",
    "encode_username_password",
    "format_timestamp",
    "parse_body_arguments",
    "parse_cookie",
    "parse_multipart_form_data",
    "parse_request_start_line",
    "parse_response_start_line",
    "qs_to_qsl",
    "responses",
    "split_host_and_port",
    "url_concat",
}


def is_compiled(obj: object) -> bool:
    """Whether ``obj`` comes from a module of the compiled build (mypyc).

    Its functions, and a class's methods, are then built-in functions, and
    mypyc keeps no class docstrings.
    """
    if isinstance(obj, type):
        members = [v for v in vars(obj).values() if callable(v)]
        return bool(members) and not any(isinstance(v, types.FunctionType) for v in members)
    return callable(obj) and isinstance(obj, types.BuiltinFunctionType)


def test_public_api_is_pinned() -> None:
    assert set(httputil.__all__) == PUBLIC_API
    for name in PUBLIC_API:
        assert hasattr(httputil, name), name
        obj = getattr(httputil, name)
        if callable(obj):
            if not is_compiled(obj):
                assert obj.__doc__ and "versionadded" in obj.__doc__, name
            if isinstance(obj, type):
                assert obj.__module__ == "squall.httputil", name


@pytest.mark.parametrize(
    "module",
    [
        "squall.httputil",
        "squall.httputil._lines",
        "squall.httputil._misc",
        "squall.httputil._params",
    ],
)
def test_docstring_examples(module: str) -> None:
    results = doctest.testmod(importlib.import_module(module))
    assert results.attempted > 0
    assert results.failed == 0


def test_private_helpers_for_other_layers() -> None:
    # web and httpclient use these under their Tornado names.
    for name in (
        "_parse_header",
        "_encode_header",
        "_parse_request_range",
        "_get_content_range",
        "_normalize_header",
        "_int_or_none",
        "_unquote_cookie",
    ):
        assert callable(getattr(httputil, name)), name


# -- timing helper ----------------------------------------------------------


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
    """Input 10x larger must take at most ~20x longer (quadratic: 100x).

    The measurement is retried a few times so that a busy machine does not
    fail the test; a quadratic algorithm fails every attempt.
    """
    small, large = make(n), make(n * 10)
    ratios = []
    for _ in range(10):
        ratio = _best_time(fn, large, 5) / max(_best_time(fn, small, 5), 1e-6)
        if ratio <= 20:
            return
        ratios.append(ratio)
    pytest.fail(f"time grew {min(ratios):.1f}x for 10x input")


# -- exceptions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (HTTPInputError, 400),
        (MalformedStartLineError, 400),
        (UnsupportedHTTPVersionError, 505),
        (MalformedHeaderError, 400),
        (MalformedMultipartError, 400),
        (UnsupportedContentEncodingError, 415),
        (TooManyArgumentsError, 400),
        (TooManyPartsError, 400),
        (PartHeaderTooLargeError, 400),
    ],
)
def test_input_errors(cls: type[HTTPInputError], status: int) -> None:
    assert issubclass(cls, HTTPInputError)
    assert cls.status_code == status


def test_limit_errors_name_their_cap() -> None:
    for cls in (TooManyArgumentsError, TooManyPartsError, PartHeaderTooLargeError):
        assert issubclass(cls, LimitExceededError)
    err = TooManyArgumentsError("too many arguments", 5, "max_arguments")
    assert err.limit == 5
    assert err.setting == "max_arguments"
    assert str(err) == "too many arguments: the limit is 5 (max_arguments)"


def test_output_error_is_not_an_input_error() -> None:
    assert not issubclass(HTTPOutputError, HTTPInputError)
    assert issubclass(HTTPOutputError, Exception)


# -- HTTPHeaders: mapping behaviour -----------------------------------------


def test_headers_case_insensitive() -> None:
    h = HTTPHeaders()
    h["content-TYPE"] = "text/html"
    assert h["Content-Type"] == "text/html"
    assert h["CONTENT-TYPE"] == "text/html"
    assert "content-type" in h
    assert list(h) == ["Content-Type"]
    del h["CONTENT-type"]
    assert "Content-Type" not in h
    assert len(h) == 0
    with pytest.raises(KeyError):
        del h["Content-Type"]
    with pytest.raises(KeyError):
        h["missing"]


def test_headers_multiple_values() -> None:
    h = HTTPHeaders()
    h.add("Set-Cookie", "a=1")
    h.add("set-cookie", "b=2")
    h.add("X", "y")
    assert h["Set-Cookie"] == "a=1,b=2"
    assert h.get_list("SET-COOKIE") == ["a=1", "b=2"]
    assert h.get_list("missing") == []
    assert list(h.get_all()) == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X", "y")]
    assert len(h) == 2
    # get_list returns a copy.
    h.get_list("Set-Cookie").append("c=3")
    assert h.get_list("Set-Cookie") == ["a=1", "b=2"]
    # Assignment replaces every value.
    h["Set-Cookie"] = "z=9"
    assert h.get_list("Set-Cookie") == ["z=9"]


def test_headers_get() -> None:
    h = HTTPHeaders(A="1")
    h.add("B", "2")
    h.add("B", "3")
    assert h.get("a") == "1"
    assert h.get("b") == "2,3"
    assert h.get("c") is None
    assert h.get("c", "dflt") == "dflt"
    assert 3 not in h  # type: ignore[comparison-overlap]


def test_headers_is_a_mutable_mapping() -> None:
    h = HTTPHeaders({"a": "1"})
    assert isinstance(h, MutableMapping)
    h.update({"b": "2"}, c="3")
    assert h.setdefault("a", "x") == "1"
    assert h.setdefault("d", "4") == "4"
    assert h.pop("c") == "3"
    assert sorted(h.keys()) == ["A", "B", "D"]
    assert dict(h) == {"A": "1", "B": "2", "D": "4"}
    h.clear()
    assert not h


def test_headers_constructor_forms() -> None:
    assert HTTPHeaders({"a": "1"}) == HTTPHeaders(a="1") == HTTPHeaders([("A", "1")])
    # Later values replace earlier ones, as with dict().
    assert HTTPHeaders([("a", "1"), ("A", "2")]).get_list("a") == ["2"]
    original = HTTPHeaders()
    original.add("A", "1")
    original.add("A", "2")
    assert HTTPHeaders(original).get_list("a") == ["1", "2"]


def test_headers_copy_keeps_repeats_and_is_independent() -> None:
    h = HTTPHeaders()
    h.add("A", "1")
    h.add("A", "2")
    for other in (h.copy(), copy.copy(h), copy.deepcopy(h), pickle.loads(pickle.dumps(h))):
        assert isinstance(other, HTTPHeaders)
        assert other == h
        assert other.get_list("A") == ["1", "2"]
        other.add("A", "3")
        assert h.get_list("A") == ["1", "2"]


def test_headers_copy_keeps_subclass() -> None:
    class MyHeaders(HTTPHeaders):
        pass

    h = MyHeaders(A="1")
    assert type(h.copy()) is MyHeaders
    assert type(MyHeaders.parse("A: 1")) is MyHeaders


def test_headers_equality() -> None:
    a = HTTPHeaders()
    a.add("X", "1")
    a.add("X", "2")
    b = HTTPHeaders()
    b.add("x", "1")
    b.add("x", "2")
    assert a == b
    assert a == {"x": "1,2"}
    assert a != {"x": "1"}
    c = HTTPHeaders(X="1,2")
    assert a != c  # one value "1,2" is not two values
    assert a != "X: 1"
    with pytest.raises(TypeError):
        hash(a)


def test_headers_str_and_repr() -> None:
    h = HTTPHeaders()
    h.add("A", "1")
    h.add("a", "2")
    h.add("B", "3")
    assert str(h) == "A: 1\nA: 2\nB: 3\n"
    assert repr(h) == "<HTTPHeaders [('A', '1'), ('A', '2'), ('B', '3')]>"


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("content-type", "Content-Type"),
        ("CONTENT-LENGTH", "Content-Length"),
        ("x-forwarded-for", "X-Forwarded-For"),
        ("etag", "Etag"),
        ("a--b", "A--B"),
        ("x_y", "X_y"),
    ],
)
def test_header_names_are_normalized(raw: str, normalized: str) -> None:
    h = HTTPHeaders()
    h[raw] = "v"
    assert list(h) == [normalized]
    assert list(HTTPHeaders.parse(f"{raw}: v")) == [normalized]


def test_header_name_cache_is_bounded() -> None:
    cache = httputil._headers._NAME_CACHE
    HTTPHeaders.parse("".join(f"X-Random-{i}: v\r\n" for i in range(3000)))
    assert len(cache) <= httputil._headers._NAME_CACHE_SIZE
    # Names the cache refused still work.
    h = HTTPHeaders.parse("x-random-2999: v")
    assert h["X-Random-2999"] == "v"


def test_invalid_names_are_not_cached() -> None:
    h = HTTPHeaders()
    h["Bad Name"] = "x"  # mutation does not validate
    assert h["bad name"] == "x"
    with pytest.raises(MalformedHeaderError):
        HTTPHeaders.parse("Bad Name: x")


# -- HTTPHeaders.parse ------------------------------------------------------

TYPICAL_HEAD = (
    "Host: example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: a=1; b=2\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Cache-Control: max-age=0\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
)


def test_parse_typical_head() -> None:
    h = HTTPHeaders.parse(TYPICAL_HEAD)
    assert len(h) == 10
    assert h["host"] == "example.com"
    assert h["Accept-Encoding"] == "gzip, deflate, br"
    assert h["content-length"] == "0"
    assert next(iter(h)) == "Host"


def test_parse_is_cheap() -> None:
    # A generous bound (a few microseconds are expected): catches an
    # accidental per-line regex compilation or quadratic step.
    n = 2000
    best = min(
        _best_time(lambda _: [HTTPHeaders.parse(TYPICAL_HEAD) for _ in range(n)], None)
        for _ in range(2)
    )
    assert best / n < 100e-6


def test_parse_line_endings() -> None:
    expected = {"A": "1", "B": "2"}
    assert HTTPHeaders.parse("A: 1\r\nB: 2\r\n\r\n") == expected
    assert HTTPHeaders.parse("A: 1\nB: 2\n\n") == expected  # bare LF (RFC 9112 2.2)
    assert HTTPHeaders.parse("A: 1\r\nB: 2\n") == expected  # mixed
    assert HTTPHeaders.parse("A: 1\r\nB: 2") == expected  # no final line ending
    assert HTTPHeaders.parse("A: 1\r\nB: 2\r") == expected  # cut after the CR
    assert HTTPHeaders.parse("\r\nA: 1\r\n\r\nB: 2") == expected  # empty lines skipped
    assert HTTPHeaders.parse("") == {}


def test_parse_values() -> None:
    h = HTTPHeaders.parse(
        "A:1\r\nB: \t spaced out \t \r\nC:\r\nD: with: colons\r\nE: a\tb\r\nF: \xe9\xff\r\n"
    )
    assert h["A"] == "1"
    assert h["B"] == "spaced out"
    assert h["C"] == ""
    assert h["D"] == "with: colons"
    assert h["E"] == "a\tb"
    assert h["F"] == "\xe9\xff"  # obs-text is allowed


def test_parse_bytes_is_latin1() -> None:
    h = HTTPHeaders.parse(b"X-Name: caf\xe9\r\n")
    assert h["X-Name"] == "caf\u00e9"


def test_parse_keeps_repeated_fields_in_order() -> None:
    h = HTTPHeaders.parse("Set-Cookie: a\r\nX: 1\r\nset-cookie: b\r\nSET-COOKIE: c\r\n")
    assert h.get_list("Set-Cookie") == ["a", "b", "c"]
    assert list(h.get_all()) == [
        ("Set-Cookie", "a"),
        ("Set-Cookie", "b"),
        ("Set-Cookie", "c"),
        ("X", "1"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A b: c\r\n", "invalid character ' ' in header field name"),
        ("A(b): c\r\n", "invalid character '(' in header field name"),
        ('A"b: c\r\n', "invalid character '\"' in header field name"),
        ("A/b: c\r\n", "invalid character '/' in header field name"),
        ("A@b: c\r\n", "invalid character '@' in header field name"),
        ("A{b}: c\r\n", "invalid character '{' in header field name"),
        ("A\xe9: c\r\n", "invalid character '\xe9' in header field name"),
        ("A : c\r\n", "whitespace between header field name and colon"),
        ("A\t: c\r\n", "whitespace between header field name and colon"),
        (": c\r\n", "empty header field name"),
        ("no colon here\r\n", "header line without a colon"),
        ("A: b\x00c\r\n", "control character '\\x00' in header line 1"),
        ("A: b\r\nB: \x01\r\n", "control character '\\x01' in header line 2"),
        ("A: \x7f\r\n", "control character '\\x7f'"),
        ("A: \x1b[31m\r\n", "control character '\\x1b'"),
        ("A: \x0b\r\n", "control character '\\x0b'"),
        ("A: \x0c\r\n", "control character '\\x0c'"),
        ("A: b\rc\r\n", "bare CR (not followed by LF) in header line 1"),
        ("A: b\r\nB: c\rD: e\r\n", "bare CR (not followed by LF) in header line 2"),
        ("A: b\r\r\n", "bare CR"),
        ("A: b\r\n c\r\n", "obsolete line folding (obs-fold) is not allowed"),
        (" A: b\r\n", "obsolete line folding (obs-fold) is not allowed"),
        ("A: b\r\n\tc\r\n", "obsolete line folding (obs-fold) is not allowed"),
    ],
)
def test_parse_is_strict(text: str, message: str) -> None:
    with pytest.raises(MalformedHeaderError) as info:
        HTTPHeaders.parse(text)
    assert message in str(info.value)


def test_parse_error_message_is_bounded() -> None:
    with pytest.raises(MalformedHeaderError) as info:
        HTTPHeaders.parse("x" * 100_000)
    assert len(str(info.value)) < 200


def test_parse_obs_fold_allowed() -> None:
    h = HTTPHeaders.parse(
        "A: one\r\n  two\r\n\tthree \r\nB: x\r\nC:\r\n folded\r\nD: y\r\n \r\n",
        allow_obs_fold=True,
    )
    assert h["A"] == "one two three"
    assert h["B"] == "x"
    assert h["C"] == "folded"
    assert h["D"] == "y"


def test_parse_obs_fold_continues_last_value_of_repeated_field() -> None:
    h = HTTPHeaders.parse("A: 1\r\nA: 2\r\n more\r\n", allow_obs_fold=True)
    assert h.get_list("A") == ["1", "2 more"]


@pytest.mark.parametrize(
    "text",
    [" starts folded\r\n", "A: b\r\n\r\n continues after blank\r\n", "bad line\r\n x\r\n"],
)
def test_parse_obs_fold_errors(text: str) -> None:
    with pytest.raises(MalformedHeaderError):
        HTTPHeaders.parse(text, allow_obs_fold=True)


def test_parse_line() -> None:
    h = HTTPHeaders()
    h.parse_line("Content-Type: text/html\r\n")
    h.parse_line("X: 1\n")
    h.parse_line("x: 2")
    h.parse_line("\r\n")  # ignored
    assert h["Content-Type"] == "text/html"
    assert h.get_list("X") == ["1", "2"]


def test_parse_line_obs_fold() -> None:
    h = HTTPHeaders()
    h.parse_line("A: one")
    with pytest.raises(MalformedHeaderError, match="obs-fold"):
        h.parse_line("  two")
    h.parse_line("  two", allow_obs_fold=True)
    h.parse_line("\tthree", allow_obs_fold=True)
    assert h["A"] == "one two three"
    h.parse_line("")
    with pytest.raises(MalformedHeaderError, match="without a field"):
        h.parse_line(" orphan", allow_obs_fold=True)


@pytest.mark.parametrize(
    "line",
    ["A: b\x00", "A: b\rc", "A: b\nc", "A : b", "A", ": b", "A\x01: b"],
)
def test_parse_line_is_strict(line: str) -> None:
    with pytest.raises(MalformedHeaderError):
        HTTPHeaders().parse_line(line)


def test_parse_repeated_headers_is_linear() -> None:
    assert_linear(HTTPHeaders.parse, lambda n: "X-Same: value\r\n" * n, 2000)
    assert_linear(HTTPHeaders.parse, lambda n: "A: " + "v" * n + "\r\n", 50000)


def test_parse_obs_fold_is_linear() -> None:
    def parse(text: str) -> HTTPHeaders:
        return HTTPHeaders.parse(text, allow_obs_fold=True)

    assert_linear(parse, lambda n: "A: x\r\n" + " more\r\n" * n, 2000)


def test_add_repeated_is_linear() -> None:
    def add_many(n: int) -> str:
        h = HTTPHeaders()
        for _ in range(n):
            h.add("X", "v")
        return h["X"]

    assert_linear(add_many, lambda n: n, 3000)


_token = st.text(alphabet=httputil._headers._TOKEN_CHARS, min_size=1, max_size=20)
_field_value = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=30,
).map(lambda v: v.strip(" \t"))


@given(st.lists(st.tuples(_token, _field_value), max_size=15))
def test_parse_str_round_trip(fields: list[tuple[str, str]]) -> None:
    h = HTTPHeaders()
    for name, value in fields:
        h.add(name, value)
    assert HTTPHeaders.parse(str(h)) == h
    assert HTTPHeaders.parse(str(h).replace("\n", "\r\n").encode("latin-1")) == h


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_parse_random_bytes_raises_only_input_errors(data: bytes) -> None:
    for fold in (False, True):
        try:
            h = HTTPHeaders.parse(data, allow_obs_fold=fold)
        except HTTPInputError:
            continue
        for name, value in h.get_all():
            assert name and value == value.strip(" \t")
            assert "\r" not in value and "\n" not in value and "\x00" not in value


@given(st.text(alphabet="ab: \t\r\n\x00-", max_size=60))
@settings(max_examples=300)
def test_parse_random_text_raises_only_input_errors(text: str) -> None:
    try:
        HTTPHeaders.parse(text)
    except HTTPInputError:
        pass


# -- start lines ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("GET / HTTP/1.1", ("GET", "/", "HTTP/1.1")),
        ("POST /a/b?c=d&e HTTP/1.0", ("POST", "/a/b?c=d&e", "HTTP/1.0")),
        ("OPTIONS * HTTP/1.1", ("OPTIONS", "*", "HTTP/1.1")),
        ("CONNECT example.com:443 HTTP/1.1", ("CONNECT", "example.com:443", "HTTP/1.1")),
        ("GET http://x.org/p HTTP/1.1", ("GET", "http://x.org/p", "HTTP/1.1")),
        ("M-SEARCH * HTTP/1.1", ("M-SEARCH", "*", "HTTP/1.1")),
        ("GET /caf\xe9 HTTP/1.1", ("GET", "/caf\xe9", "HTTP/1.1")),
    ],
)
def test_parse_request_start_line(line: str, parsed: tuple[str, str, str]) -> None:
    result = parse_request_start_line(line)
    assert isinstance(result, RequestStartLine)
    assert result == parsed
    assert (result.method, result.path, result.version) == parsed


@pytest.mark.parametrize(
    "line",
    [
        "",
        "GET",
        "GET /",
        "GET  / HTTP/1.1",
        "GET / HTTP/1.1 ",
        " GET / HTTP/1.1",
        "GET\t/ HTTP/1.1",
        "GET / HTTP/1.1\r",
        "G(T / HTTP/1.1",
        "GET /a\x00b HTTP/1.1",
        "GET /a\x7fb HTTP/1.1",
        "GET /a\tb HTTP/1.1",
        "GET / HTTP/1",
        "GET / HTTP/1.",
        "GET / HTTP/1.10",
        "GET / http/1.1",
        "GET / HTTPS/1.1",
        "GET / HTTP/x.1",
    ],
)
def test_parse_request_start_line_errors(line: str) -> None:
    with pytest.raises(MalformedStartLineError):
        parse_request_start_line(line)


def test_unsupported_http_version() -> None:
    with pytest.raises(UnsupportedHTTPVersionError) as info:
        parse_request_start_line("GET / HTTP/2.0")
    assert info.value.status_code == 505
    with pytest.raises(UnsupportedHTTPVersionError):
        parse_response_start_line("HTTP/0.9 200 OK")


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("HTTP/1.1 200 OK", ("HTTP/1.1", 200, "OK")),
        ("HTTP/1.0 404 Not Found", ("HTTP/1.0", 404, "Not Found")),
        ("HTTP/1.1 200 ", ("HTTP/1.1", 200, "")),
        ("HTTP/1.1 200", ("HTTP/1.1", 200, "")),
        ("HTTP/1.1 599 Custom\tReason \xe9", ("HTTP/1.1", 599, "Custom\tReason \xe9")),
        ("HTTP/1.1 101 Switching Protocols", ("HTTP/1.1", 101, "Switching Protocols")),
    ],
)
def test_parse_response_start_line(line: str, parsed: tuple[str, int, str]) -> None:
    result = parse_response_start_line(line)
    assert isinstance(result, ResponseStartLine)
    assert result == parsed
    assert (result.version, result.code, result.reason) == parsed


@pytest.mark.parametrize(
    "line",
    [
        "",
        "HTTP/1.1",
        "HTTP/1.1 20 OK",
        "HTTP/1.1 2000 OK",
        "HTTP/1.1 abc OK",
        "HTTP/1.1 -20 OK",
        "HTTP/1.1 \xb2\xb2\xb2 OK",
        "HTTP/1.1 200 O\x00K",
        "HTTP/1.1 200 OK\r",
        "ICY 200 OK",
        "HTTP/1.1  200 OK",
    ],
)
def test_parse_response_start_line_errors(line: str) -> None:
    with pytest.raises(MalformedStartLineError):
        parse_response_start_line(line)


@given(st.binary(max_size=60))
def test_start_line_parsers_raise_only_input_errors(data: bytes) -> None:
    line = data.decode("latin-1")
    for parser in (parse_request_start_line, parse_response_start_line):
        try:
            parser(line)
        except HTTPInputError:
            pass


# -- small helpers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "args", "expected"),
    [
        ("http://x.org/p", {"a": "1"}, "http://x.org/p?a=1"),
        ("http://x.org/p?", {"a": "1"}, "http://x.org/p?a=1"),
        ("http://x.org/p?z=0", {"a": "1"}, "http://x.org/p?z=0&a=1"),
        ("http://x.org/p?z=", [("a", "1"), ("a", "2")], "http://x.org/p?z=&a=1&a=2"),
        ("http://x.org/p?z=0", (("a", "b c"),), "http://x.org/p?z=0&a=b+c"),
        ("http://x.org/p#frag", {"a": "1"}, "http://x.org/p?a=1#frag"),
        ("http://x.org/p?z=0", None, "http://x.org/p?z=0"),
        ("http://x.org/p?z=0", {}, "http://x.org/p?z=0"),
        ("/relative", {"q": "\u00e9"}, "/relative?q=%C3%A9"),
    ],
)
def test_url_concat(url: str, args: Any, expected: str) -> None:
    assert url_concat(url, args) == expected


def test_url_concat_type_error() -> None:
    with pytest.raises(TypeError, match="'args' must be"):
        url_concat("http://x.org", "a=1")  # type: ignore[arg-type]


def test_format_timestamp() -> None:
    expected = "Sun, 27 Jan 2013 18:43:20 GMT"
    ts = 1359312200
    assert format_timestamp(ts) == expected
    assert format_timestamp(ts + 0.7) == expected
    assert format_timestamp(time.gmtime(ts)) == expected
    assert format_timestamp(tuple(time.gmtime(ts))) == expected
    naive = datetime.datetime(2013, 1, 27, 18, 43, 20)
    assert format_timestamp(naive) == expected
    aware = datetime.datetime(
        2013, 1, 27, 19, 43, 20, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
    )
    assert format_timestamp(aware) == expected
    assert format_timestamp(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    for bad in ("2013-01-27", None, True):
        with pytest.raises(TypeError):
            format_timestamp(bad)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=253402300799))
def test_format_timestamp_is_imf_fixdate(ts: int) -> None:
    text = format_timestamp(ts)
    assert len(text) == 29 and text.endswith(" GMT")
    parsed = time.strptime(text, "%a, %d %b %Y %H:%M:%S GMT")
    assert calendar.timegm(parsed) == ts


@pytest.mark.parametrize(
    ("netloc", "expected"),
    [
        ("example.com", ("example.com", None)),
        ("example.com:8080", ("example.com", 8080)),
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("[::1]:8888", ("[::1]", 8888)),
        ("[::1]", ("[::1]", None)),
        ("::1", ("::1", None)),
        ("example.com:", ("example.com:", None)),
        ("example.com:http", ("example.com:http", None)),
        (":80", (":80", None)),
        ("", ("", None)),
    ],
)
def test_split_host_and_port(netloc: str, expected: tuple[str, int | None]) -> None:
    assert split_host_and_port(netloc) == expected


def test_qs_to_qsl() -> None:
    assert list(qs_to_qsl({"a": [b"1", b"2"], "b": [b"3"]})) == [
        ("a", b"1"),
        ("a", b"2"),
        ("b", b"3"),
    ]
    assert list(qs_to_qsl({})) == []


def test_encode_username_password() -> None:
    assert encode_username_password("user", "p\u00e4ss") == b"user:p\xc3\xa4ss"
    assert encode_username_password(b"u", b"p:w") == b"u:p:w"


def test_responses() -> None:
    assert responses[200] == "OK"
    assert responses[404] == "Not Found"
    assert responses[500] == "Internal Server Error"
    assert responses[405] == "Method Not Allowed"
    assert 600 not in responses
    assert len(responses) >= 60


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-499", (0, 500)),
        ("bytes=500-", (500, None)),
        ("bytes=-500", (-500, None)),
        ("bytes=-0", (None, 0)),
        ("bytes = 1-1", (1, 2)),
        ("bytes=0-0,5-9", None),
        ("bytes=-", None),
        ("bytes=a-b", None),
        ("bytes=--5", None),
        ("items=0-5", None),
        ("bytes=5", None),
        ("", None),
    ],
)
def test_parse_request_range(header: str, expected: Any) -> None:
    assert httputil._parse_request_range(header) == expected


def test_get_content_range() -> None:
    assert httputil._get_content_range(0, 500, 1000) == "bytes 0-499/1000"
    assert httputil._get_content_range(None, 1, 4) == "bytes 0-0/4"
    assert httputil._get_content_range(500, None, 1000) == "bytes 500-999/1000"


# -- header parameters ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text/html", ("text/html", {})),
        ("text/html; charset=UTF-8", ("text/html", {"charset": "UTF-8"})),
        ("text/html ;CHARSET = utf-8 ", ("text/html", {"charset": "utf-8"})),
        (
            'form-data; name="a;b"; filename="c.txt"',
            ("form-data", {"name": "a;b", "filename": "c.txt"}),
        ),
        ('form-data; name="say \\"hi\\""', ("form-data", {"name": 'say "hi"'})),
        ('form-data; filename="C:\\dir\\f.txt"', ("form-data", {"filename": "C:\\dir\\f.txt"})),
        ('form-data; filename="a\\\\b"', ("form-data", {"filename": "a\\b"})),
        ("attachment; inline; x", ("attachment", {"inline": "", "x": ""})),
        ('form-data; name="unterminated; x=1', ("form-data", {"name": '"unterminated; x=1'})),
        (
            "attachment; filename=plain.txt; filename*=UTF-8''na%C3%AFve%20f.txt",
            ("attachment", {"filename": "na\u00efve f.txt"}),
        ),
        (
            "attachment; filename*=iso-8859-1'en'caf%E9.txt",
            ("attachment", {"filename": "caf\u00e9.txt"}),
        ),
        (
            "attachment; filename*=bogus-charset''x%41",
            ("attachment", {"filename": "xA"}),
        ),
        (
            'message/external-body; url*0="ftp://"; url*1*=%66oo; url*2="/b"',
            ("message/external-body", {"url": "ftp://foo/b"}),
        ),
        (
            "x; title*1*=%20b; title*0*=utf-8''a",
            ("x", {"title": "a b"}),
        ),
        ("; a=1", ("", {"a": "1"})),
        ("x;;=;a=1", ("x", {"a": "1"})),
    ],
)
def test_parse_header(value: str, expected: tuple[str, dict[str, str]]) -> None:
    assert httputil._parse_header(value) == expected


def test_parse_header_is_linear() -> None:
    parse = httputil._parse_header
    assert_linear(parse, lambda n: 'x; a="' + "\\" * n + '"', 20000)
    assert_linear(parse, lambda n: "x" + '; a=""' * n, 3000)
    assert_linear(parse, lambda n: 'x; a="' + '\\"' * n, 10000)
    assert_linear(parse, lambda n: "x" + '; a="b;c"' * n, 3000)
    assert_linear(parse, lambda n: '"' * n, 20000)


@given(st.text(max_size=80))
def test_parse_header_never_raises(value: str) -> None:
    key, params = httputil._parse_header(value)
    assert isinstance(key, str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())


def test_encode_header_round_trip() -> None:
    pdict: dict[str, str | None] = {"name": 'a "b"\\', "filename": "x.txt", "flag": None}
    encoded = httputil._encode_header("form-data", pdict)
    assert encoded == 'form-data; name="a \\"b\\"\\\\"; filename=x.txt; flag'
    assert httputil._parse_header(encoded) == (
        "form-data",
        {"name": 'a "b"\\', "filename": "x.txt", "flag": ""},
    )


# -- cookies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", {}),
        ("a=1", {"a": "1"}),
        ("a=1; b=2;c=3", {"a": "1", "b": "2", "c": "3"}),
        ("  a = 1 ;  ", {"a": "1"}),
        ("a=1; a=2", {"a": "2"}),
        ("a=b=c", {"a": "b=c"}),
        ("nameless", {"": "nameless"}),
        ("a=; b", {"a": "", "": "b"}),
        ('a="quoted value"', {"a": "quoted value"}),
        ('a="esc\\"aped\\\\"', {"a": 'esc"aped\\'}),
        ('a="\\012\\073"', {"a": "\n;"}),
        ('a="unbalanced', {"a": '"unbalanced'}),
        ("a=caf\u00e9", {"a": "caf\u00e9"}),
        ('keebler=E=mc2; L="\\"Loves\\""; fudge=\\012;', None),
    ],
)
def test_parse_cookie(header: str, expected: dict[str, str] | None) -> None:
    if expected is None:
        expected = {"keebler": "E=mc2", "L": '"Loves"', "fudge": "\\012"}
    assert parse_cookie(header) == expected


def test_parse_cookie_agrees_with_http_cookies() -> None:
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    jar["a"] = 'va"lue;\\ with\n specials'
    jar["b"] = "plain"
    header = "; ".join(morsel.OutputString() for morsel in jar.values())
    assert parse_cookie(header) == {"a": 'va"lue;\\ with\n specials', "b": "plain"}


def test_parse_cookie_is_linear() -> None:
    assert_linear(parse_cookie, lambda n: "name=value; " * n, 2000)
    assert_linear(parse_cookie, lambda n: 'a="' + "\\012" * n + '"', 5000)
    assert_linear(parse_cookie, lambda n: ";" * n, 20000)


@given(st.text(max_size=100))
def test_parse_cookie_never_raises(header: str) -> None:
    assert isinstance(parse_cookie(header), dict)


# -- urlencoded bodies ------------------------------------------------------


def test_parse_body_urlencoded() -> None:
    args: dict[str, list[bytes]] = {"a": [b"0"]}
    files: dict[str, list[HTTPFile]] = {}
    parse_body_arguments("application/x-www-form-urlencoded", b"a=1&b=x+y&c=&a=%FF", args, files)
    assert args == {"a": [b"0", b"1", b"\xff"], "b": [b"x y"], "c": [b""]}
    assert files == {}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "Application/X-WWW-Form-Urlencoded",
        " application/x-www-form-urlencoded ;charset=utf-8",
    ],
)
def test_parse_body_urlencoded_content_type_variants(content_type: str) -> None:
    args: dict[str, list[bytes]] = {}
    parse_body_arguments(content_type, b"a=1", args, {})
    assert args == {"a": [b"1"]}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/json", "", "application/x-www-form-urlencodedx"]
)
def test_parse_body_other_content_types_are_left_alone(content_type: str) -> None:
    args: dict[str, list[bytes]] = {}
    parse_body_arguments(content_type, b"a=1", args, {})
    assert args == {}


def test_parse_body_content_encoding() -> None:
    args: dict[str, list[bytes]] = {}
    with pytest.raises(UnsupportedContentEncodingError, match="gzip") as info:
        parse_body_arguments(
            "application/x-www-form-urlencoded",
            b"\x1f\x8b",
            args,
            {},
            HTTPHeaders({"Content-Encoding": "gzip"}),
        )
    assert info.value.status_code == 415
    with pytest.raises(UnsupportedContentEncodingError, match="deflate"):
        headers = HTTPHeaders()
        headers.add("content-ENCODING", "deflate")  # (any spelling of the name)
        parse_body_arguments("application/x-www-form-urlencoded", b"x", args, {}, headers)
    # Any mapping with get() is accepted as the headers; the message names
    # the media type as given.
    with pytest.raises(UnsupportedContentEncodingError, match="form-data body with .*br"):
        parse_body_arguments(
            "multipart/form-data; boundary=x",
            b"",
            args,
            {},
            {"Content-Encoding": "br"},
        )
    parse_body_arguments(
        "application/x-www-form-urlencoded",
        b"a=1",
        args,
        {},
        HTTPHeaders({"Content-Encoding": "identity"}),
    )
    assert args == {"a": [b"1"]}


@given(st.binary(max_size=200))
def test_urlencoded_random_bytes(data: bytes) -> None:
    args: dict[str, list[bytes]] = {}
    try:
        parse_body_arguments("application/x-www-form-urlencoded", data, args, {}, max_arguments=20)
    except TooManyArgumentsError:
        assert data.count(b"&") >= 19
    else:
        assert all(isinstance(v, bytes) for values in args.values() for v in values)


def test_argument_cap_keyword() -> None:
    body = b"&".join(b"a%d=1" % i for i in range(11))
    args: dict[str, list[bytes]] = {}
    with pytest.raises(TooManyArgumentsError, match="max_arguments") as info:
        parse_body_arguments("application/x-www-form-urlencoded", body, args, {}, max_arguments=10)
    assert info.value.limit == 10
    assert "urlencoded body" in str(info.value)
    assert args == {}
    parse_body_arguments("application/x-www-form-urlencoded", body, args, {}, max_arguments=11)
    assert len(args) == 11


def test_argument_cap_module_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert httputil.DEFAULT_MAX_ARGUMENTS == 10_000
    monkeypatch.setattr(httputil, "DEFAULT_MAX_ARGUMENTS", 3)
    with pytest.raises(TooManyArgumentsError, match="DEFAULT_MAX_ARGUMENTS"):
        parse_body_arguments("application/x-www-form-urlencoded", b"a&b&c&d", {}, {})
    parse_body_arguments("application/x-www-form-urlencoded", b"a&b&c", {}, {})
    request = HTTPServerRequest("GET", "/?a=1&b=2&c=3&d=4")
    with pytest.raises(TooManyArgumentsError, match="query string"):
        request.arguments  # noqa: B018
    with pytest.raises(TooManyArgumentsError):
        request.query_arguments  # noqa: B018


def test_urlencoded_body_is_linear() -> None:
    def parse(body: bytes) -> None:
        parse_body_arguments("application/x-www-form-urlencoded", body, {}, {})

    assert_linear(parse, lambda n: b"field=value&" * n, 800)
    assert_linear(parse, lambda n: b"a=" + b"%20" * n, 10000)


# -- multipart bodies -------------------------------------------------------


def multipart(*parts: bytes, boundary: bytes = b"1234", epilogue: bytes = b"\r\n") -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + b"--" + boundary + b"--" + epilogue


def field(name: str, value: bytes, extra: bytes = b"") -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'.encode()
    return disposition + extra + b"\r\n\r\n" + value


def upload(name: str, filename: str, value: bytes, content_type: bytes | None = None) -> bytes:
    head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"'.encode()
    if content_type is not None:
        head += b"\r\nContent-Type: " + content_type
    return head + b"\r\n\r\n" + value


def parse_multipart(body: bytes, boundary: bytes = b"1234", **caps: int) -> tuple[Any, Any]:
    args: dict[str, list[bytes]] = {}
    files: dict[str, list[HTTPFile]] = {}
    parse_multipart_form_data(boundary, body, args, files, **caps)
    return args, files


def test_multipart_fields_and_files() -> None:
    body = multipart(
        field("a", b"1"),
        field("a", b"2"),
        upload("f", "hello.txt", b"line1\r\nline2\r\n", b"text/plain"),
        upload("g", "data.bin", b"\x00\xff--1234"),
    )
    args, files = parse_multipart(body)
    assert args == {"a": [b"1", b"2"]}
    (hello,) = files["f"]
    assert isinstance(hello, HTTPFile)
    assert hello.filename == "hello.txt"
    assert hello.body == b"line1\r\nline2\r\n"
    assert hello.content_type == "text/plain"
    assert hello["filename"] == "hello.txt"
    (data,) = files["g"]
    assert data.body == b"\x00\xff--1234"
    assert data.content_type == "application/unknown"


def test_multipart_through_parse_body_arguments() -> None:
    args: dict[str, list[bytes]] = {"a": [b"0"]}
    files: dict[str, list[HTTPFile]] = {}
    body = multipart(field("a", b"1"), upload("f", "x.txt", b"X"), boundary=b"b:o=u'n(d)")
    parse_body_arguments('multipart/form-data; boundary="b:o=u\'n(d)"', body, args, files)
    assert args == {"a": [b"0", b"1"]}
    assert files["f"][0].body == b"X"


def test_multipart_quoted_boundary_argument() -> None:
    body = multipart(field("a", b"1"))
    assert parse_multipart(body, boundary=b'"1234"')[0] == {"a": [b"1"]}


def test_multipart_preamble_epilogue_and_padding() -> None:
    body = (
        b"This is the preamble.\r\n--1234 \t\r\n"
        + field("a", b"1")
        + b"\r\n--1234\r\n"
        + field("b", b"")
        + b"\r\n--1234--  trailing epilogue"
    )
    assert parse_multipart(body)[0] == {"a": [b"1"], "b": [b""]}


def test_multipart_empty_filename_is_an_argument() -> None:
    args, files = parse_multipart(multipart(upload("f", "", b"")))
    assert args == {"f": [b""]}
    assert files == {}


def test_multipart_unicode_names_and_filenames() -> None:
    part = (
        'Content-Disposition: form-data; name="caf\u00e9"; filename="r\u00e9sum\u00e9.pdf"\r\n\r\n'
    ).encode() + b"%PDF"
    rfc5987 = (
        b'Content-Disposition: form-data; name="doc"; filename="fallback.pdf"; '
        b"filename*=UTF-8''%E2%82%AC.pdf\r\n\r\nEUR"
    )
    _, files = parse_multipart(multipart(part, rfc5987))
    assert files["caf\u00e9"][0].filename == "r\u00e9sum\u00e9.pdf"
    assert files["doc"][0].filename == "\u20ac.pdf"


def test_multipart_disposition_case_and_params() -> None:
    part = b'content-disposition: FORM-DATA; NAME="a"\r\ncontent-type: text/x\r\n\r\nv'
    assert parse_multipart(multipart(part))[0] == {"a": [b"v"]}


def test_multipart_empty_body_between_boundaries() -> None:
    # Only the closing delimiter: no parts, no error.
    assert parse_multipart(b"--1234--\r\n") == ({}, {})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "does not contain its boundary"),
        (b"no boundary at all", "does not contain its boundary"),
        (b"--1234\r\n" + field("a", b"1"), "no closing boundary"),
        (b"--1234\r\n" + field("a", b"1") + b"\r\n--1234", "not followed by CRLF"),
        (b"--1234junk\r\n" + field("a", b"1") + b"\r\n--1234--", "not followed by CRLF"),
        (b"--1234\r\n" + b"\r\nno headers" + b"\r\n--1234--", "no Content-Disposition"),
        (
            multipart(b"Content-Type: text/plain\r\n\r\nx"),
            "no Content-Disposition",
        ),
        (
            multipart(b'Content-Disposition: attachment; name="a"\r\n\r\nx'),
            "not 'form-data'",
        ),
        (multipart(b"Content-Disposition: form-data\r\n\r\nx"), "has no name"),
        (multipart(b'Content-Disposition: form-data; name="a"'), "no end of headers"),
        (
            multipart(b'Content-Disposition: form-data; name="a"\r\nBad Header: x\r\n\r\nv'),
            "multipart part 1: invalid character ' '",
        ),
        (
            multipart(b'Content-Disposition: form-data; name="a"\x00\r\n\r\nv'),
            "multipart part 1: control character",
        ),
        (
            multipart(b'Content-Disposition: form-data; name="\xff"\r\n\r\nv'),
            "not UTF-8",
        ),
        (
            multipart(field("a", b"1"), b"Content-Disposition: form-data\r\n obs: fold\r\n\r\n"),
            "multipart part 2: obsolete line folding",
        ),
    ],
)
def test_multipart_malformed(body: bytes, message: str) -> None:
    with pytest.raises(MalformedMultipartError) as info:
        parse_multipart(body)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "boundary",
    [b"", b'""', b"x" * 71, b"bad\r\nboundary", b"semi;colon", b"trailing ", b"caf\xe9"],
)
def test_multipart_invalid_boundary(boundary: bytes) -> None:
    with pytest.raises(MalformedMultipartError, match="invalid multipart boundary"):
        parse_multipart(b"--" + boundary + b"--", boundary=boundary)


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; charset=utf-8",
        "multipart/form-data; boundary=\u20ac",
    ],
)
def test_multipart_content_type_without_usable_boundary(content_type: str) -> None:
    with pytest.raises(MalformedMultipartError, match="boundary"):
        parse_body_arguments(content_type, b"--x--", {}, {})


def test_multipart_part_cap() -> None:
    body = multipart(*(field(f"f{i}", b"v") for i in range(5)))
    assert len(parse_multipart(body, max_parts=5)[0]) == 5
    with pytest.raises(TooManyPartsError, match="max_parts") as info:
        parse_multipart(body, max_parts=4)
    assert info.value.limit == 4
    with pytest.raises(TooManyPartsError):
        parse_body_arguments("multipart/form-data; boundary=1234", body, {}, {}, max_parts=4)


def test_multipart_part_cap_module_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert httputil.DEFAULT_MAX_PARTS == 1000
    monkeypatch.setattr(httputil, "DEFAULT_MAX_PARTS", 2)
    body = multipart(*(field(f"f{i}", b"v") for i in range(3)))
    with pytest.raises(TooManyPartsError, match="DEFAULT_MAX_PARTS"):
        parse_multipart(body)


def test_multipart_part_header_cap() -> None:
    padding = b"\r\nX-Pad: " + b"p" * 200
    body = multipart(field("a", b"1", extra=padding))
    header_size = len(field("a", b"", extra=padding)) - 4
    assert parse_multipart(body, max_part_header_size=header_size)[0] == {"a": [b"1"]}
    with pytest.raises(PartHeaderTooLargeError, match="max_part_header_size") as info:
        parse_multipart(body, max_part_header_size=header_size - 1)
    assert info.value.limit == header_size - 1


def test_multipart_part_header_cap_module_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert httputil.DEFAULT_MAX_PART_HEADER_SIZE == 10 * 1024
    monkeypatch.setattr(httputil, "DEFAULT_MAX_PART_HEADER_SIZE", 50)
    body = multipart(field("a", b"1", extra=b"\r\nX-Pad: " + b"p" * 60))
    with pytest.raises(PartHeaderTooLargeError, match="DEFAULT_MAX_PART_HEADER_SIZE"):
        parse_multipart(body)


def test_multipart_header_cap_does_not_scan_large_bodies() -> None:
    # A part without a header terminator is refused after max_part_header_size
    # bytes, whatever the size of the rest of the body.
    body = b"--1234\r\n" + b"x" * 1_000_000 + b"\r\n--1234--"
    with pytest.raises(PartHeaderTooLargeError):
        parse_multipart(body, max_part_header_size=100)


def test_multipart_is_linear() -> None:
    def parse_uncapped(body: bytes) -> object:
        return parse_multipart(body, max_parts=10**6)

    assert_linear(parse_uncapped, lambda n: multipart(*[field("a", b"v")] * n), 300)
    assert_linear(parse_multipart, lambda n: multipart(field("a", b"-" * n)), 1_000_000)
    assert_linear(parse_multipart, lambda n: multipart(field("a", b"\r\n--123" * n)), 100_000)


@given(st.binary(max_size=300), st.sampled_from([b"1234", b"--", b"a b", b"x" * 70]))
@settings(max_examples=300)
def test_multipart_random_bytes_raise_only_input_errors(data: bytes, boundary: bytes) -> None:
    for body in (data, b"--" + boundary + b"\r\n" + data, data + b"\r\n--" + boundary + b"--"):
        try:
            parse_multipart(body, boundary=boundary)
        except HTTPInputError:
            pass


@given(
    st.lists(
        st.tuples(
            st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=8),
            st.binary(max_size=40),
        ),
        max_size=6,
    )
)
def test_multipart_round_trip(fields: list[tuple[str, bytes]]) -> None:
    boundary = b"----squallBoundary7MA4YWxk"
    body = multipart(*(field(name, value) for name, value in fields), boundary=boundary)
    expected: dict[str, list[bytes]] = {}
    for name, value in fields:
        expected.setdefault(name, []).append(value)
    args: dict[str, list[bytes]] = {}
    parse_body_arguments("multipart/form-data; boundary=" + boundary.decode(), body, args, {})
    assert args == expected


# -- HTTPServerRequest ------------------------------------------------------


class FakeContext:
    remote_ip = "10.1.2.3"
    protocol = "https"


class RecordingConnection(HTTPConnection):
    """An HTTPConnection that records what is written to it."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.context = FakeContext()
        self.loop = loop
        self.start_line: RequestStartLine | ResponseStartLine | None = None
        self.headers: HTTPHeaders | None = None
        self.chunks: list[bytes] = []
        self.finished = False

    def _done(self, callback: Callable[[], None] | None) -> asyncio.Future[None]:
        loop = self.loop or asyncio.get_running_loop()
        future = loop.create_future()
        future.set_result(None)
        if callback is not None:
            loop.call_soon(callback)
        return future

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
        callback: Callable[[], None] | None = None,
    ) -> asyncio.Future[None]:
        if self.start_line is not None:
            raise HTTPOutputError("headers already written")
        self.start_line, self.headers = start_line, headers
        if chunk:
            self.chunks.append(chunk)
        return self._done(callback)

    def write(
        self, chunk: bytes, callback: Callable[[], None] | None = None
    ) -> asyncio.Future[None]:
        if self.finished:
            raise HTTPOutputError("write after finish")
        self.chunks.append(chunk)
        return self._done(callback)

    def finish(self) -> None:
        self.finished = True


def test_request_basic_attributes() -> None:
    headers = HTTPHeaders({"Host": "Example.COM:8080"})
    request = HTTPServerRequest("POST", "/path/x?a=1&b=2", "HTTP/1.1", headers, b"body")
    assert request.method == "POST"
    assert request.uri == "/path/x?a=1&b=2"
    assert request.path == "/path/x"
    assert request.query == "a=1&b=2"
    assert request.version == "HTTP/1.1"
    assert request.headers is headers
    assert request.body == b"body"
    assert request.host == "Example.COM:8080"
    assert request.host_name == "example.com"
    assert request.remote_ip is None
    assert request.protocol == "http"
    assert request.files == {}
    assert request.connection is None
    assert request.server_connection is None
    assert request.full_url() == "http://Example.COM:8080/path/x?a=1&b=2"
    assert request.supports_http_1_1()


def test_request_defaults() -> None:
    request = HTTPServerRequest()
    assert request.method is None and request.uri is None
    assert request.version == "HTTP/1.0"
    assert request.path == "" and request.query == ""
    assert request.body == b""
    assert request.host == "127.0.0.1"
    assert request.arguments == {}
    assert request.cookies == {}
    assert not request.supports_http_1_1()


@pytest.mark.parametrize(
    ("target", "uri", "path", "query", "host"),
    [
        ("http://example.com:8/a/b?c=1", "/a/b?c=1", "/a/b", "c=1", "example.com:8"),
        ("https://x", "/", "/", "", "x"),
        ("http://x?c=1", "/?c=1", "/", "c=1", "x"),
        ("http://[::1]:8/p#frag", "/p", "/p", "", "[::1]:8"),
        ("/plain?q", "/plain?q", "/plain", "q", "header.example"),
        ("*", "*", "*", "", "header.example"),
    ],
)
def test_request_absolute_form_target_gives_path_and_host(
    target: str, uri: str, path: str, query: str, host: str
) -> None:
    # RFC 9112 3.2.2: the target's authority replaces the Host header.
    request = HTTPServerRequest(
        start_line=RequestStartLine("GET", target, "HTTP/1.1"),
        headers=HTTPHeaders(Host="header.example"),
    )
    assert (request.uri, request.path, request.query, request.host) == (uri, path, query, host)
    assert request.full_url() == f"http://{host}{uri}"


def test_request_host_argument_wins_over_absolute_form() -> None:
    request = HTTPServerRequest("GET", "http://a.example/x", host="b.example")
    assert (request.uri, request.host) == ("/x", "b.example")


def test_request_from_start_line_and_connection() -> None:
    connection = RecordingConnection()
    server_conn = object()
    request = HTTPServerRequest(
        start_line=RequestStartLine("GET", "/?q=%E2%82%AC", "HTTP/1.1"),
        connection=connection,
        server_connection=server_conn,
        host="[::1]:443",
    )
    assert (request.method, request.uri, request.version) == ("GET", "/?q=%E2%82%AC", "HTTP/1.1")
    assert request.remote_ip == "10.1.2.3"
    assert request.protocol == "https"
    assert request.host_name == "[::1]"
    assert request.connection is connection
    assert request.server_connection is server_conn
    assert request.full_url() == "https://[::1]:443/?q=%E2%82%AC"
    assert request.arguments == {"q": ["\u20ac".encode()]}


def test_request_arguments_are_lazy_and_separate() -> None:
    request = HTTPServerRequest("GET", "/?a=1&a=2&b=")
    assert request._query_arguments is None
    assert request.query_arguments == {"a": [b"1", b"2"], "b": [b""]}
    assert request.arguments == {"a": [b"1", b"2"], "b": [b""]}
    request.arguments["a"].append(b"3")
    assert request.query_arguments["a"] == [b"1", b"2"]
    request.arguments = {"x": [b"y"]}
    assert request.arguments == {"x": [b"y"]}
    request.query_arguments = {}
    assert request.query_arguments == {}


def _form_request() -> HTTPServerRequest:
    return HTTPServerRequest(
        "POST",
        "/?a=q",
        headers=HTTPHeaders({"Content-Type": "application/x-www-form-urlencoded"}),
        body=b"a=b&c=d",
    )


def test_request_parse_body_before_arguments_access() -> None:
    request = _form_request()
    request._parse_body()
    assert request.body_arguments == {"a": [b"b"], "c": [b"d"]}
    assert request.query_arguments == {"a": [b"q"]}
    assert request.arguments == {"a": [b"q", b"b"], "c": [b"d"]}


def test_request_parse_body_after_arguments_access() -> None:
    request = _form_request()
    assert request.arguments == {"a": [b"q"]}
    request._parse_body()
    assert request.arguments == {"a": [b"q", b"b"], "c": [b"d"]}
    assert request.query_arguments == {"a": [b"q"]}


def test_request_arguments_without_query_copy_the_body_lists() -> None:
    request = HTTPServerRequest(
        "POST",
        "/",
        headers=HTTPHeaders({"Content-Type": "application/x-www-form-urlencoded"}),
        body=b"a=1&a=2&b=",
    )
    request._parse_body()
    assert request.arguments == {"a": [b"1", b"2"], "b": [b""]}
    request.arguments["a"].append(b"3")
    assert request.body_arguments["a"] == [b"1", b"2"]


def test_request_parse_body_multipart_and_errors() -> None:
    body = multipart(field("a", b"1"), upload("f", "x.txt", b"X", b"text/plain"))
    request = HTTPServerRequest(
        "POST",
        "/",
        headers=HTTPHeaders({"Content-Type": "multipart/form-data; boundary=1234"}),
        body=body,
    )
    request._parse_body()
    assert request.arguments == {"a": [b"1"]}
    assert request.files["f"][0].content_type == "text/plain"
    bad = HTTPServerRequest(
        "POST",
        "/",
        headers=HTTPHeaders({"Content-Type": "multipart/form-data; boundary=1234"}),
        body=b"--1234\r\ntruncated",
    )
    with pytest.raises(MalformedMultipartError):
        bad._parse_body()


def test_request_cookies() -> None:
    headers = HTTPHeaders()
    headers.add("Cookie", 'a=1; b="two words"')
    headers.add("Cookie", "c=3; bad\x7fname=4; =nameless")
    request = HTTPServerRequest("GET", "/", headers=headers)
    assert request._cookies is None
    cookies = request.cookies
    assert isinstance(cookies, http.cookies.SimpleCookie)
    assert {name: morsel.value for name, morsel in cookies.items()} == {
        "a": "1",
        "b": "two words",
        "c": "3",
    }
    assert request.cookies is cookies


def test_request_cookies_are_linear() -> None:
    def cookies(header: str) -> object:
        return HTTPServerRequest("GET", "/", headers=HTTPHeaders(Cookie=header)).cookies

    assert_linear(cookies, lambda n: "; ".join(f"c{i}=v{i}" for i in range(n)), 300)


def test_request_query_is_linear() -> None:
    def arguments(query: str) -> object:
        return HTTPServerRequest("GET", "/?" + query).arguments

    assert_linear(arguments, lambda n: "a=1&" * n, 800)


def test_request_time() -> None:
    request = HTTPServerRequest("GET", "/")
    assert 0 <= request.request_time() < 60
    request._start_time = 100.0
    request._finish_time = 102.5
    assert request.request_time() == 2.5


def test_request_repr() -> None:
    request = HTTPServerRequest("GET", "/x", headers=HTTPHeaders(Host="h"))
    assert repr(request) == (
        "HTTPServerRequest(protocol='http', host='h', method='GET', uri='/x', "
        "version='HTTP/1.0', remote_ip=None)"
    )


def test_request_get_ssl_certificate() -> None:
    assert HTTPServerRequest("GET", "/").get_ssl_certificate() is None

    class Sock:
        def getpeercert(self, binary_form: bool = False) -> Any:
            return b"DER" if binary_form else {"subject": ()}

    class Stream:
        socket = Sock()

    connection = RecordingConnection()
    connection.stream = Stream()  # type: ignore[attr-defined]
    request = HTTPServerRequest("GET", "/", connection=connection)
    assert request.get_ssl_certificate() == {"subject": ()}
    assert request.get_ssl_certificate(binary_form=True) == b"DER"


def test_request_deprecated_write_and_finish() -> None:
    async def main() -> None:
        connection = RecordingConnection()
        request = HTTPServerRequest("GET", "/", connection=connection)
        called: list[bool] = []
        await request.write(b"abc", callback=lambda: called.append(True))
        await asyncio.sleep(0)
        request.finish()
        assert connection.chunks == [b"abc"]
        assert connection.finished
        assert called == [True]
        assert request._finish_time is not None
        with pytest.raises(HTTPOutputError):
            request.write(b"more")

    asyncio.run(main())


def test_request_without_connection_cannot_write() -> None:
    request = HTTPServerRequest("GET", "/")
    with pytest.raises(HTTPOutputError, match="no connection"):
        request.write(b"x")
    with pytest.raises(HTTPOutputError, match="no connection"):
        request.finish()


# -- the layer contract -----------------------------------------------------


def test_interface_defaults() -> None:
    delegate = HTTPMessageDelegate()
    assert (
        delegate.headers_received(RequestStartLine("GET", "/", "HTTP/1.1"), HTTPHeaders()) is None
    )
    assert delegate.data_received(b"x") is None
    delegate.finish()
    delegate.on_connection_close()
    server = HTTPServerConnectionDelegate()
    with pytest.raises(NotImplementedError):
        server.start_request(object(), HTTPConnection())
    server.on_close(object())
    connection = HTTPConnection()
    with pytest.raises(NotImplementedError):
        connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders())
    with pytest.raises(NotImplementedError):
        connection.write(b"")
    with pytest.raises(NotImplementedError):
        connection.finish()
    with pytest.raises(NotImplementedError):
        connection.detach()
    with pytest.raises(NotImplementedError):
        connection.set_close_callback(None)
    with pytest.raises(NotImplementedError):
        connection.set_max_body_size(10)
    with pytest.raises(NotImplementedError):
        connection.set_body_timeout(1.0)


class EchoApplication(HTTPServerConnectionDelegate):
    """A server application written only against the interfaces."""

    def __init__(self) -> None:
        self.closed: list[object] = []
        self.events: list[str] = []

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        return EchoDelegate(self, request_conn)

    def on_close(self, server_conn: object) -> None:
        self.closed.append(server_conn)


class EchoDelegate(HTTPMessageDelegate):
    def __init__(self, app: EchoApplication, connection: HTTPConnection) -> None:
        self.app = app
        self.connection = connection
        self.request: HTTPServerRequest | None = None
        self.chunks: list[bytes] = []

    async def _slow_consumer(self) -> None:
        self.app.events.append("paused")
        await asyncio.sleep(0)
        self.app.events.append("resumed")

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, RequestStartLine)
        self.request = HTTPServerRequest(
            start_line=start_line, headers=headers, connection=self.connection
        )
        self.app.events.append("headers")
        return self._slow_consumer()

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self.app.events.append("data")
        self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        assert self.request is not None
        self.request.body = b"".join(self.chunks)
        self.request._parse_body()
        self.app.events.append("finish")
        body = repr(sorted(self.request.arguments.items())).encode()
        self.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, responses[200]),
            HTTPHeaders({"Content-Length": str(len(body))}),
        )
        self.connection.write(body)
        self.connection.finish()


async def drive(app: HTTPServerConnectionDelegate, raw: bytes) -> RecordingConnection:
    """A miniature HTTP/1 connection: parse ``raw`` and call the delegates."""
    server_conn = object()
    head, _, body = raw.partition(b"\r\n\r\n")
    first, _, header_text = head.decode("latin-1").partition("\r\n")
    connection = RecordingConnection()
    delegate = app.start_request(server_conn, connection)
    headers = HTTPHeaders.parse(header_text)
    result = delegate.headers_received(parse_request_start_line(first), headers)
    if result is not None:
        await result
    for i in range(0, len(body), 4):
        result = delegate.data_received(body[i : i + 4])
        if result is not None:
            await result
    delegate.finish()
    app.on_close(server_conn)
    return connection


def test_layer_contract_round_trip() -> None:
    app = EchoApplication()
    raw = (
        b"POST /submit?q=1 HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\n"
        b"a=1&b=2&q=3"
    )
    connection = asyncio.run(drive(app, raw))
    assert app.events == ["headers", "paused", "resumed", "data", "data", "data", "finish"]
    assert len(app.closed) == 1
    assert connection.start_line == ResponseStartLine("HTTP/1.1", 200, "OK")
    assert connection.finished
    assert (
        b"".join(connection.chunks)
        == repr([("a", [b"1"]), ("b", [b"2"]), ("q", [b"1", b"3"])]).encode()
    )
    assert connection.headers is not None
    assert connection.headers["Content-Length"] == str(len(b"".join(connection.chunks)))


def test_argument_cap_counts_empty_fields_at_the_boundary() -> None:
    # The cap counts separators: a body made only of them is the shortest
    # one that reaches it.
    args: dict[str, list[bytes]] = {}
    with pytest.raises(TooManyArgumentsError):
        parse_body_arguments(
            "application/x-www-form-urlencoded", b"&" * 10, args, {}, max_arguments=10
        )
    parse_body_arguments("application/x-www-form-urlencoded", b"&" * 9, args, {}, max_arguments=10)
    assert args == {}  # (empty fields are skipped)
