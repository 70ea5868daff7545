"""Output transforms: code that rewrites a response on its way out (gzip)."""

from __future__ import annotations

import zlib

from squall.httputil import HTTPHeaders, HTTPServerRequest

__all__ = ["ChunkedTransferEncoding", "GZipContentEncoding", "OutputTransform"]


class OutputTransform:
    """Rewrites the response of one request as it is written.

    An ``Application`` makes one instance of each of its transform classes
    per request (``transforms=`` argument, or ``compress_response``). The
    handler passes the first piece of the response through
    :meth:`transform_first_chunk` (with the status and headers, which it
    may change) and every later piece through :meth:`transform_chunk`.

    :param request: the request being answered.

    .. versionadded:: 0.1.0
    """

    def __init__(self, request: HTTPServerRequest) -> None:
        pass

    def transform_first_chunk(
        self,
        status_code: int,
        headers: HTTPHeaders,
        chunk: bytes,
        finishing: bool,
    ) -> tuple[int, HTTPHeaders, bytes]:
        """Transform the head and first piece of the response.

        :param status_code: the status about to be sent.
        :param headers: the headers about to be sent (may be changed in place).
        :param chunk: the first piece of the body (maybe empty).
        :param finishing: whether this is also the last piece.
        :returns: the status, headers and body piece to send instead.

        .. versionadded:: 0.1.0
        """
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        """Transform a later piece of the body.

        .. versionadded:: 0.1.0
        """
        return chunk


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110 12.5.3)."""
    gzip_q: float | None = None
    star_q: float | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding == "*":
            star_q = q
        else:
            gzip_q = q if gzip_q is None else max(gzip_q, q)
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


class GZipContentEncoding(OutputTransform):
    """Compresses responses with gzip when the client accepts it (RFC 9110 8.4).

    Enabled by the ``compress_response`` setting (``gzip`` is the old name).
    Only bodies of a compressible type (:attr:`CONTENT_TYPES` and any
    ``text/*``) are compressed, and only when the response is either
    streamed or at least :attr:`MIN_LENGTH` bytes long, has no
    ``Content-Encoding`` yet and has a status that carries a body. Every
    response gets ``Vary: Accept-Encoding``, since its form depends on that
    header.

    .. versionadded:: 0.1.0
    """

    #: Media types, besides ``text/*``, worth compressing (a set: add yours).
    CONTENT_TYPES = set(
        {
            "application/javascript",
            "application/x-javascript",
            "application/xml",
            "application/atom+xml",
            "application/json",
            "application/xhtml+xml",
            "image/svg+xml",
        }
    )
    #: The zlib compression level.
    GZIP_LEVEL = 6
    #: Bodies shorter than this (when the whole body is known) are sent as
    #: they are: compression would gain little and cost time.
    MIN_LENGTH = 1024

    def __init__(self, request: HTTPServerRequest) -> None:
        accept = request.headers.get("Accept-Encoding")
        self._gzipping = accept is not None and _accepts_gzip(accept)
        self._compressor: zlib._Compress | None = None

    def _compressible_type(self, ctype: str) -> bool:
        return ctype.startswith("text/") or ctype in self.CONTENT_TYPES

    def transform_first_chunk(
        self,
        status_code: int,
        headers: HTTPHeaders,
        chunk: bytes,
        finishing: bool,
    ) -> tuple[int, HTTPHeaders, bytes]:
        """Add ``Vary``; start compressing if the response qualifies.

        .. versionadded:: 0.1.0
        """
        vary = headers.get("Vary")
        if vary is None:
            headers["Vary"] = "Accept-Encoding"
        elif "accept-encoding" not in vary.lower():
            headers["Vary"] = vary + ", Accept-Encoding"
        if self._gzipping:
            ctype = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            self._gzipping = (
                self._compressible_type(ctype)
                and (not finishing or len(chunk) >= self.MIN_LENGTH)
                and "Content-Encoding" not in headers
                # A range of the identity body cannot be compressed alone.
                and "Content-Range" not in headers
                and status_code not in (204, 206, 304)
                and not 100 <= status_code < 200
            )
        if self._gzipping:
            headers["Content-Encoding"] = "gzip"
            self._compressor = zlib.compressobj(self.GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            chunk = self.transform_chunk(chunk, finishing)
            if "Content-Length" in headers:
                if finishing:
                    headers["Content-Length"] = str(len(chunk))
                else:
                    del headers["Content-Length"]
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        """Compress a piece; flush so that it reaches the client now.

        .. versionadded:: 0.1.0
        """
        compressor = self._compressor
        if not self._gzipping or compressor is None:
            return chunk
        data = compressor.compress(chunk)
        if finishing:
            data += compressor.flush(zlib.Z_FINISH)
            self._compressor = None
        elif chunk:
            data += compressor.flush(zlib.Z_SYNC_FLUSH)
        return data


class ChunkedTransferEncoding(OutputTransform):
    """Kept for Tornado 4 applications that list it in ``transforms``.

    Squall's HTTP/1.1 layer already frames a response of unknown length with
    ``Transfer-Encoding: chunked`` (and an HTTP/1.0 one by closing the
    connection), so this transform changes nothing.

    .. versionadded:: 0.1.0
    """
