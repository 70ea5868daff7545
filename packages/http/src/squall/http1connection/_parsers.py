"""The registry of request-head parsers: the pure-Python reference and httptools.

A parser is a function with the signature of
:func:`squall.http1connection._parser.parse_request_head`; every parser must
give the same answer (the same start line and headers, or an
:class:`~squall.httputil.HTTPInputError` with the same status code) on every
case of the conformance corpus.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from squall.http1connection._parser import parse_request_head

#: The environment variable naming the default parser.
PARSER_ENV_VAR = "SQUALL_HTTP_PARSER"

RequestHeadParser = Callable[..., Any]


class ParserUnavailableError(ImportError):
    """The configured parser cannot be used here (its extra is not installed)."""


def _default_parser() -> str:
    # The accelerator is used automatically when its extra is installed.
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "pure"
    return "httptools"


def resolve_parser_name(name: str | None) -> str:
    """Return the parser to use: ``name``, else ``$SQUALL_HTTP_PARSER``, else the default.

    The default is ``httptools`` when it is installed, else ``pure``.

    :raises ValueError: for an unknown name.
    """
    if name is None:
        name = os.environ.get(PARSER_ENV_VAR, "").strip() or _default_parser()
    if name not in ("pure", "httptools"):
        raise ValueError(f"unknown HTTP parser {name!r}: choose 'pure' or 'httptools'")
    return name


def request_head_parser(name: str) -> RequestHeadParser:
    """Return the request-head parsing function called ``name``.

    :raises ParserUnavailableError: for ``httptools`` without the extra.
    """
    if name == "pure":
        return parse_request_head
    try:
        from squall.http1connection._httptools import parse_request_head_httptools
    except ImportError as e:
        raise ParserUnavailableError(
            "the httptools parser needs the speedups extra: pip install 'squall-http[speedups]'"
        ) from e
    return parse_request_head_httptools
