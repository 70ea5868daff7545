"""Request bodies: urlencoded forms, ``multipart/form-data`` and queries.

The caps (number of arguments, number of parts, size of a part's header
block) default to the module-level settings of :mod:`squall.httputil`,
read at call time, so an application can change them once at start-up.

The multipart parser walks the body once: each boundary is found with one
``bytes.find`` starting where the previous part ended, and each part's
header block is searched for only within its cap.
"""

from __future__ import annotations

from collections.abc import Mapping

import squall.httputil as _settings
from squall.escape import parse_qs_bytes
from squall.httputil._errors import (
    HTTPInputError,
    MalformedMultipartError,
    PartHeaderTooLargeError,
    TooManyArgumentsError,
    TooManyPartsError,
    UnsupportedContentEncodingError,
)
from squall.httputil._headers import HTTPHeaders
from squall.httputil._params import _parse_header
from squall.util import ObjectDict

__all__ = [
    "HTTPFile",
    "parse_body_arguments",
    "parse_multipart_form_data",
]

# RFC 2046 5.1.1: bchars, and at most 70 of them.
_BOUNDARY_CHARS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'()+_,-./:=? "
_MAX_BOUNDARY = 70
# Whitespace allowed between a boundary and its CRLF (RFC 2046 "transport
# padding"); real senders use none.
_MAX_PADDING = 64


class HTTPFile(ObjectDict):
    """A file uploaded in a ``multipart/form-data`` body.

    A dict whose keys are also attributes:

    * ``filename``: the name the client gave (``str``; it comes from the
      peer: never use it as a path without sanitizing it),
    * ``body``: the content (``bytes``),
    * ``content_type``: the part's ``Content-Type``
      (``"application/unknown"`` if it had none).

    .. versionadded:: 0.1.0
    """

    filename: str
    body: bytes
    content_type: str


def _check_argument_count(qs: str | bytes, max_arguments: int | None, where: str) -> None:
    limit = _settings.DEFAULT_MAX_ARGUMENTS if max_arguments is None else max_arguments
    # (Fewer bytes than the limit cannot hold that many separators.)
    if len(qs) >= limit and (qs.count(b"&") if isinstance(qs, bytes) else qs.count("&")) >= limit:
        raise TooManyArgumentsError(
            f"too many arguments in the {where}",
            limit,
            "max_arguments, default squall.httputil.DEFAULT_MAX_ARGUMENTS",
        )


def _parse_query_arguments(
    query: str | bytes, max_arguments: int | None = None
) -> dict[str, list[bytes]]:
    """Parse a query string as :class:`.HTTPServerRequest` does, with the cap."""
    if not query:
        return {}
    _check_argument_count(query, max_arguments, "query string")
    return parse_qs_bytes(query, keep_blank_values=True)


def parse_body_arguments(
    content_type: str,
    body: bytes,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    headers: Mapping[str, str] | None = None,
    *,
    max_arguments: int | None = None,
    max_parts: int | None = None,
    max_part_header_size: int | None = None,
) -> None:
    """Parse a form body into ``arguments`` and ``files``.

    ``application/x-www-form-urlencoded`` bodies add their fields to
    ``arguments``; ``multipart/form-data`` bodies add plain fields to
    ``arguments`` and uploads to ``files`` (see
    :func:`parse_multipart_form_data`). Other content types are left alone.
    Values are appended to the lists already in the dicts.

    :param content_type: the request's ``Content-Type`` value.
    :param body: the request body.
    :param arguments: dict receiving ``name -> [value, ...]``.
    :param files: dict receiving ``name -> [HTTPFile, ...]``.
    :param headers: the request headers (an :class:`HTTPHeaders` or any
        mapping); a ``Content-Encoding`` other than
        ``identity`` means the body was not decoded and cannot be parsed.
    :param max_arguments: the most ``&``-separated fields (empty ones
        included) an urlencoded body may have; default
        :data:`DEFAULT_MAX_ARGUMENTS`.
    :param max_parts: passed to :func:`parse_multipart_form_data`.
    :param max_part_header_size: passed to
        :func:`parse_multipart_form_data`.
    :raises TooManyArgumentsError: if the body has too many fields.
    :raises UnsupportedContentEncodingError: for an undecoded body.
    :raises HTTPInputError: (a subclass) for a malformed multipart body.

    .. versionchanged:: 0.1.0
       Unlike Tornado, malformed bodies raise instead of being logged and
       ignored.

    .. versionadded:: 0.1.0
    """
    if content_type == "application/x-www-form-urlencoded":
        media_type, kind = content_type, "urlencoded"  # (as browsers send it)
    else:
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type == "application/x-www-form-urlencoded":
            kind = "urlencoded"
        elif media_type == "multipart/form-data":
            kind = "multipart"
        else:
            return
    if headers is not None and (
        "Content-Encoding" in headers._as_list  # (canonical keys: no normalizing)
        if isinstance(headers, HTTPHeaders)
        else "Content-Encoding" in headers
    ):
        encoding = headers.get("Content-Encoding")
        if encoding is not None and encoding.strip().lower() not in ("", "identity"):
            raise UnsupportedContentEncodingError(
                f"cannot parse a {media_type} body with Content-Encoding {encoding!r}"
            )
    if kind == "urlencoded":
        _check_argument_count(body, max_arguments, "urlencoded body")
        parsed = parse_qs_bytes(body, keep_blank_values=True)
        if not arguments:
            arguments.update(parsed)  # (the usual case: nothing to merge with)
            return
        for name, values in parsed.items():
            arguments.setdefault(name, []).extend(values)
        return
    boundary = _parse_header(content_type)[1].get("boundary")
    if not boundary:
        raise MalformedMultipartError("multipart/form-data without a boundary parameter")
    try:
        raw_boundary = boundary.encode("latin-1")
    except UnicodeEncodeError:
        raise MalformedMultipartError(f"invalid multipart boundary {boundary!r}") from None
    parse_multipart_form_data(
        raw_boundary,
        body,
        arguments,
        files,
        max_parts=max_parts,
        max_part_header_size=max_part_header_size,
    )


def parse_multipart_form_data(
    boundary: bytes,
    data: bytes,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    *,
    max_parts: int | None = None,
    max_part_header_size: int | None = None,
) -> None:
    """Parse a ``multipart/form-data`` body (RFC 7578).

    Each part needs a ``Content-Disposition: form-data`` header with a
    ``name``; a part with a non-empty ``filename`` is an upload, stored in
    ``files`` as an :class:`HTTPFile`; other parts are stored in
    ``arguments`` as bytes. A preamble before the first boundary and an
    epilogue after the closing one are ignored. Part headers are decoded
    as UTF-8 and parsed strictly (:meth:`HTTPHeaders.parse`). The time
    taken is linear in ``len(data)``.

    :param boundary: the ``boundary`` parameter of the ``Content-Type``
        (surrounding double quotes are removed).
    :param data: the body.
    :param arguments: dict receiving ``name -> [value, ...]``.
    :param files: dict receiving ``name -> [HTTPFile, ...]``.
    :param max_parts: the most parts the body may have; default
        :data:`DEFAULT_MAX_PARTS`.
    :param max_part_header_size: the largest header block, in bytes, of one
        part; default :data:`DEFAULT_MAX_PART_HEADER_SIZE`.
    :raises MalformedMultipartError: if the body is malformed (bad or
        missing boundary, missing closing boundary, a part without
        headers, name or ``form-data`` disposition...).
    :raises TooManyPartsError: past ``max_parts`` parts.
    :raises PartHeaderTooLargeError: for a part header block over
        ``max_part_header_size`` bytes.

    .. versionadded:: 0.1.0
    """
    if max_parts is None:
        max_parts = _settings.DEFAULT_MAX_PARTS
    if max_part_header_size is None:
        max_part_header_size = _settings.DEFAULT_MAX_PART_HEADER_SIZE
    if len(boundary) >= 2 and boundary[:1] == b'"' and boundary[-1:] == b'"':
        boundary = boundary[1:-1]
    if (
        not boundary
        or len(boundary) > _MAX_BOUNDARY
        or boundary.strip(_BOUNDARY_CHARS)
        or boundary.endswith(b" ")
    ):
        raise MalformedMultipartError(f"invalid multipart boundary {boundary[:80]!r}")
    dash_boundary = b"--" + boundary
    delimiter = b"\r\n" + dash_boundary
    if data.startswith(dash_boundary):
        pos = len(dash_boundary)
    else:
        first = data.find(delimiter)
        if first == -1:
            raise MalformedMultipartError("multipart body does not contain its boundary")
        pos = first + len(delimiter)
    count = 0
    while True:
        # ``pos`` is just past a delimiter: either "--" (the close
        # delimiter) or optional transport padding and CRLF follow.
        if data.startswith(b"--", pos):
            return
        eol = data.find(b"\r\n", pos, pos + _MAX_PADDING + 2)
        if eol == -1 or data[pos:eol].strip(b" \t"):
            raise MalformedMultipartError("multipart boundary not followed by CRLF")
        start = eol + 2
        end = data.find(delimiter, start)
        if end == -1:
            raise MalformedMultipartError("multipart body has no closing boundary")
        count += 1
        if count > max_parts:
            raise TooManyPartsError(
                "too many parts in multipart body",
                max_parts,
                "max_parts, default squall.httputil.DEFAULT_MAX_PARTS",
            )
        _parse_part(
            data,
            start,
            end,
            number=count,
            max_header_size=max_part_header_size,
            arguments=arguments,
            files=files,
        )
        pos = end + len(delimiter)


def _parse_part(
    data: bytes,
    start: int,
    end: int,
    *,
    number: int,
    max_header_size: int,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
) -> None:
    if data.startswith(b"\r\n", start):
        header_end = start
        body_start = start + 2
    else:
        window = min(end, start + max_header_size + 4)
        header_end = data.find(b"\r\n\r\n", start, window)
        if header_end == -1:
            if window < end:
                raise PartHeaderTooLargeError(
                    f"header block of multipart part {number} too large",
                    max_header_size,
                    "max_part_header_size, default squall.httputil.DEFAULT_MAX_PART_HEADER_SIZE",
                )
            raise MalformedMultipartError(f"multipart part {number} has no end of headers")
        body_start = header_end + 4
    try:
        headers = HTTPHeaders.parse(data[start:header_end].decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedMultipartError(f"headers of multipart part {number} are not UTF-8") from None
    except HTTPInputError as exc:
        raise MalformedMultipartError(f"multipart part {number}: {exc}") from exc
    disposition = headers.get("Content-Disposition")
    if disposition is None:
        raise MalformedMultipartError(f"multipart part {number} has no Content-Disposition")
    kind, params = _parse_header(disposition)
    if kind.lower() != "form-data":
        raise MalformedMultipartError(
            f"multipart part {number} has disposition {kind!r}, not 'form-data'"
        )
    name = params.get("name")
    if name is None:
        raise MalformedMultipartError(f"multipart part {number} has no name")
    value = data[body_start:end]
    filename = params.get("filename")
    if filename:
        content_type = headers.get("Content-Type", "application/unknown")
        upload = HTTPFile(filename=filename, body=value, content_type=content_type)
        files.setdefault(name, []).append(upload)
    else:
        arguments.setdefault(name, []).append(value)
