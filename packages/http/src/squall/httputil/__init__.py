"""HTTP utilities shared by the server and the client, and the layer contract.

This module holds the protocol-independent pieces of HTTP: the header
dictionary and its strict parser (:class:`HTTPHeaders`), the request
object handed to applications (:class:`HTTPServerRequest`), form and
multipart body parsing, cookies, start lines, dates, and the interfaces
through which the HTTP/1.1 connection code meets the web application and
the HTTP client (:class:`HTTPServerConnectionDelegate`,
:class:`HTTPMessageDelegate`, :class:`HTTPConnection`). None of it does
I/O.

Exceptions, named for who is at fault::

    HTTPInputError                       -- the peer sent bad HTTP (status_code 400)
     +-- MalformedStartLineError         -- bad request line or status line
     +-- UnsupportedHTTPVersionError     -- well-formed, but not HTTP/1.x (505)
     +-- MalformedHeaderError            -- a header line breaks RFC 9110/9112
     +-- MalformedMultipartError         -- a multipart/form-data body is broken
     +-- UnsupportedContentEncodingError -- a form body still content-coded (415)
     +-- LimitExceededError              -- input over a configured cap
          +-- TooManyArgumentsError      -- max_arguments
          +-- TooManyPartsError          -- max_parts
          +-- PartHeaderTooLargeError    -- max_part_header_size
    HTTPOutputError                      -- our own code misused the API

Caps on parsing, each overridable per call with the keyword argument of
the same name (lower case, without ``DEFAULT_``) and globally by assigning
to these module attributes, which are read at call time:

* :data:`DEFAULT_MAX_ARGUMENTS` -- fields in one query string or
  urlencoded body;
* :data:`DEFAULT_MAX_PARTS` -- parts in one multipart body;
* :data:`DEFAULT_MAX_PART_HEADER_SIZE` -- bytes in one part's header block.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from squall.httputil._body import (
    HTTPFile,
    parse_body_arguments,
    parse_multipart_form_data,
)
from squall.httputil._errors import (
    HTTPInputError,
    HTTPOutputError,
    LimitExceededError,
    MalformedHeaderError,
    MalformedMultipartError,
    MalformedStartLineError,
    PartHeaderTooLargeError,
    TooManyArgumentsError,
    TooManyPartsError,
    UnsupportedContentEncodingError,
    UnsupportedHTTPVersionError,
)
from squall.httputil._headers import HTTPHeaders
from squall.httputil._headers import _normalize_header as _normalize_header
from squall.httputil._interfaces import (
    HTTPConnection,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
)
from squall.httputil._lines import (
    RequestStartLine,
    ResponseStartLine,
    parse_request_start_line,
    parse_response_start_line,
)
from squall.httputil._misc import _get_content_range as _get_content_range
from squall.httputil._misc import _int_or_none as _int_or_none
from squall.httputil._misc import _parse_request_range as _parse_request_range
from squall.httputil._misc import (
    encode_username_password,
    format_timestamp,
    qs_to_qsl,
    responses,
    split_host_and_port,
    url_concat,
)
from squall.httputil._params import _encode_header as _encode_header
from squall.httputil._params import _parse_header as _parse_header
from squall.httputil._params import _unquote_cookie as _unquote_cookie
from squall.httputil._params import parse_cookie
from squall.httputil._request import HTTPServerRequest

#: The most ``&``-separated fields (empty ones included) accepted in one
#: query string or ``application/x-www-form-urlencoded`` body.
#:
#: .. versionadded:: 0.1.0
DEFAULT_MAX_ARGUMENTS: int = 10_000

#: The most parts accepted in one ``multipart/form-data`` body.
#:
#: .. versionadded:: 0.1.0
DEFAULT_MAX_PARTS: int = 1_000

#: The largest header block, in bytes, accepted for one multipart part.
#:
#: .. versionadded:: 0.1.0
DEFAULT_MAX_PART_HEADER_SIZE: int = 10 * 1024

__all__ = [
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
]


# Public classes report the module users import them from.
for _cls in (
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
):
    _cls.__module__ = __name__
del _cls
