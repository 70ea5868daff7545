"""StaticFileHandler: serve the files of one directory, with validators and ranges.

How a request goes (:meth:`StaticFileHandler.get`)::

    parse_url_path -> get_absolute_path -> validate_absolute_path (403/404/redirect)
    -> get_modified_time, content version (the ETag) -> set_headers
    -> should_return_304 ? 304
    -> Range / If-Range -> 206 + Content-Range | 416 | 200
    -> get_content(abspath, start, end): 64 KiB chunks, each written and
       flushed (awaited), so memory stays bounded whatever the file size.

The content version (an MD5-sized BLAKE2b hex digest of the content) is both
the ``?v=`` of :meth:`StaticFileHandler.make_static_url` and the ``ETag``.
It is computed once per file and kept in a class-level dictionary guarded
by a lock (a per-file lock while hashing, so two requests never hash the
same file twice and hashing one file never blocks the others); the
``static_hash_cache`` setting set to false (the default under ``debug``)
computes it afresh on every use. Hashing a large file on a cache miss runs
in the loop's default executor, so it does not stall the loop.

Every file-system decision is made on resolved paths (:func:`os.path.realpath`),
so ``..`` in any encoding, absolute paths and symbolic links that leave the
root are refused alike.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import hashlib
import mimetypes
import os
import threading
from collections.abc import Generator, Iterable
from typing import Any, ClassVar

from squall.log import gen_log
from squall.web._errors import HTTPError
from squall.web._handler import RequestHandler

__all__ = ["StaticFileHandler"]

#: Bytes read from a file at a time, and written to the client per flush.
_CHUNK_SIZE = 64 * 1024

#: Files up to this size are hashed on the loop's thread on a cache miss;
#: larger ones in the executor.
_INLINE_HASH_LIMIT = 1024 * 1024

#: Media types, besides ``text/*``, that are text and get a charset.
_TEXT_TYPES = frozenset(
    {"application/javascript", "application/json", "application/xml", "application/x-javascript"}
)

#: :func:`mimetypes.guess_type` encodings and the media type sent for them.
_ENCODED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}

# What _parse_range returns for a range that cannot be satisfied (416).
_UNSATISFIABLE = (-1, -1)

_UTC = datetime.UTC


def _within(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or inside it (both resolved, ``root`` without trailing sep)."""
    if path == root:
        return True
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path.startswith(prefix)


def _digits(text: str) -> int | None:
    """The value of a run of ASCII digits, ``None`` if ``text`` is anything else."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    try:
        return int(text)
    except ValueError:  # more digits than int() converts
        return None


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """Resolve a ``Range`` header against a representation of ``size`` bytes.

    Returns ``(start, end)`` (``end`` exclusive) for one satisfiable range,
    :data:`_UNSATISFIABLE` for a range beyond the end, and ``None`` when the
    header is to be ignored (RFC 9110 14.2): another unit, a malformed or
    inverted range, or several ranges.
    """
    unit, equals, spec = value.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    ranges = [part.strip() for part in spec.split(",")]
    ranges = [part for part in ranges if part]
    if len(ranges) != 1:
        return None  # several ranges (or none): answered with the whole file
    first, dash, last = ranges[0].partition("-")
    if not dash:
        return None
    first = first.strip()
    last = last.strip()
    if not first:
        # A suffix range: the last N bytes.
        suffix = _digits(last)
        if suffix is None:
            return None
        if suffix == 0:
            return _UNSATISFIABLE
        if size == 0:
            return None  # nothing to select: the (empty) whole file
        return max(0, size - suffix), size
    start = _digits(first)
    if start is None:
        return None
    if last:
        stop = _digits(last)
        if stop is None or stop < start:
            return None
        end = min(stop + 1, size)
    else:
        end = size
    if start >= size:
        return _UNSATISFIABLE
    return start, end


def _parse_http_date(value: str) -> datetime.datetime | None:
    """An HTTP date as an aware UTC datetime, ``None`` if it is not one."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UTC)
    return parsed


def _aware(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` as an aware datetime (naive ones are UTC), without microseconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return moment.replace(microsecond=0)


def _safe_redirect_path(path: str) -> bool:
    r"""Whether ``path + "/"`` as a ``Location`` stays on this site.

    ``//host`` and ``/\\host`` (which browsers read as ``//host``) would send
    the client elsewhere, as would whitespace or control characters that
    URL parsers strip.
    """
    if not path.startswith("/"):
        return False
    if len(path) > 1 and (path[1] in "/\\" or path[1].isspace()):
        return False
    return path.isprintable() and " " not in path


class StaticFileHandler(RequestHandler):
    r"""Serves the files of a directory.

    Usually set up by the ``static_path`` setting of ``Application``, which
    maps ``static_url_prefix`` (default ``/static/``) to that directory
    (``static_handler_class`` and ``static_handler_args`` change the class
    and its arguments). Map it yourself for other directories; the pattern
    needs one group, the path of the file inside ``path``::

        Application([
            (r"/content/(.*)", StaticFileHandler, {"path": "/var/www"}),
            (r"/(.*)", StaticFileHandler, {"path": "site", "default_filename": "index.html"}),
        ])

    What it does:

    * ``ETag`` (the content hash) and ``Last-Modified`` on every file;
      ``If-None-Match`` (weak comparison, lists, ``*``) and, when there is no
      ``If-None-Match``, ``If-Modified-Since`` answer 304.
    * ``Range``: one range (``bytes=0-99``, ``bytes=100-``, ``bytes=-500``)
      is answered 206 with ``Content-Range``; a range past the end 416 with
      ``Content-Range: bytes */<size>``; a malformed ``Range`` is ignored
      (200). Several ranges (``bytes=0-1,5-6``) are answered with the whole
      file, 200, as Tornado does and RFC 9110 allows, not with
      ``multipart/byteranges``. ``If-Range`` (an ETag or a date) that no
      longer matches turns the request into a plain 200.
    * ``HEAD``: the same headers, ``Content-Length`` of what ``GET`` would
      send, and no body.
    * ``Cache-Control: public, max-age=<10 years>`` and ``Expires`` for
      versioned URLs (with ``?v=``, as made by ``static_url``); see
      :meth:`get_cache_time`.
    * ``Content-Type`` from :mod:`mimetypes`; text types get
      ``; charset=UTF-8`` (:attr:`TEXT_CHARSET`).
    * Directories: with ``default_filename`` a request for ``dir/`` serves
      ``dir/<default_filename>`` and ``dir`` is redirected (301) to
      ``dir/``; without it, 403.
    * Refused: paths outside the root (``..``, ``%2e%2e``, absolute paths,
      symbolic links leading out) with 403, missing files with 404, and a
      redirect that would leave the site (a request path starting ``//`` or
      ``/\\``) with 403.
    * Large files are streamed in 64 KiB chunks, each flushed and awaited:
      memory use does not depend on the file's size. The response goes
      through the application's transforms, so ``compress_response``
      compresses text files.

    Override the methods below to serve from elsewhere than the file
    system (a subclass that overrides :meth:`get_content` should also
    override :meth:`get_content_size`, :meth:`get_modified_time`,
    :meth:`get_absolute_path` and :meth:`validate_absolute_path`), or to
    change headers (:meth:`set_extra_headers`, :meth:`get_cache_time`,
    :meth:`get_content_type`) and URLs (:meth:`make_static_url`,
    :meth:`parse_url_path`).

    :param path: the directory (root) to serve.
    :param default_filename: the file served for a directory, such as
        ``"index.html"``.

    .. versionadded:: 0.1.0
    """

    #: Seconds cached for versioned URLs: 10 years.
    CACHE_MAX_AGE: ClassVar[int] = 86400 * 365 * 10
    #: The charset declared for text types (``None``: declare none).
    TEXT_CHARSET: ClassVar[str | None] = "UTF-8"

    # Content versions by (class, absolute path); see the module docstring.
    _static_hashes: ClassVar[dict[tuple[type, str], str | None]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()
    _hashing: ClassVar[dict[tuple[type, str], threading.Lock]] = {}

    root: str
    default_filename: str | None
    #: The requested path, as :meth:`parse_url_path` returned it.
    path: str
    #: The file served, as :meth:`validate_absolute_path` returned it.
    absolute_path: str
    #: The file's modification time (:meth:`get_modified_time`).
    modified: datetime.datetime | None

    def initialize(self, path: str, default_filename: str | None = None) -> None:
        """Store the root directory and the default file name; see the class docstring.

        .. versionadded:: 0.1.0
        """
        self.root = path
        self.default_filename = default_filename
        self._stat_result: os.stat_result | None = None
        self._version: str | None = None
        self._version_known = False

    @classmethod
    def reset(cls) -> None:
        """Forget every cached content version (they are computed again on next use).

        .. versionadded:: 0.1.0
        """
        with cls._lock:
            cls._static_hashes.clear()

    # -- the request -------------------------------------------------------------

    async def head(self, path: str) -> None:
        """Answer like :meth:`get`, without the body.

        .. versionadded:: 0.1.0
        """
        await self.get(path, include_body=False)

    async def get(self, path: str, include_body: bool = True) -> None:
        """Serve the file at ``path`` (relative to the root).

        :param path: the route's group: the file's path under the root.
        :param include_body: ``False`` for ``HEAD``.
        :raises HTTPError: 403 for a path outside the root or a directory
            that cannot be served, 404 for a missing file.

        .. versionadded:: 0.1.0
        """
        self.path = self.parse_url_path(path)
        del path
        absolute_path = self.get_absolute_path(self.root, self.path)
        validated = self.validate_absolute_path(self.root, absolute_path)
        if validated is None:
            return  # already answered (a redirect)
        self.absolute_path = validated
        self.modified = self.get_modified_time()
        await self._compute_version()
        self.set_headers()
        if self.should_return_304():
            self.set_status(304)
            return
        size = self.get_content_size()
        start: int | None = None
        end: int | None = None
        range_header = self.request.headers.get("Range")
        if range_header is not None and self._if_range_matches():
            selected = _parse_range(range_header, size)
            if selected is _UNSATISFIABLE:
                self.set_status(416)
                self.set_header("Content-Type", "text/plain")
                self.set_header("Content-Range", f"bytes */{size}")
                return
            if selected is not None:
                start, end = selected
                self.set_status(206)
                self.set_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        length = size if start is None or end is None else end - start
        self.set_header("Content-Length", length)
        if not include_body:
            return
        content = self.get_content(self.absolute_path, start, end)
        chunks: Iterable[bytes] = [content] if isinstance(content, bytes) else content
        remaining = length
        try:
            for piece in chunks:
                # Never more than announced, should the file have grown.
                chunk = piece[:remaining] if len(piece) > remaining else piece
                if chunk:
                    remaining -= len(chunk)
                    self.write(chunk)
                    flushed = self.flush()
                    if flushed.done():
                        flushed.result()
                        # Let the loop run anyway: a connection that was lost
                        # is only noticed in a later iteration, and the
                        # transport drops writes silently until then.
                        await asyncio.sleep(0)
                    else:
                        await flushed
                if remaining <= 0:
                    break
        finally:
            close = getattr(content, "close", None)
            if close is not None:
                close()  # closes the file now, even if the client went away

    def _if_range_matches(self) -> bool:
        """Whether ``Range`` applies: no ``If-Range``, or one that still matches."""
        if_range = self.request.headers.get("If-Range")
        if if_range is None:
            return True
        if_range = if_range.strip()
        if if_range.startswith(('"', "W/")):
            # Strong comparison: a weak tag never matches.
            etag = self._headers.get("Etag")
            return bool(etag) and not if_range.startswith("W/") and etag == if_range
        date = _parse_http_date(if_range)
        return date is not None and self.modified is not None and date == _aware(self.modified)

    # -- paths -------------------------------------------------------------------

    def parse_url_path(self, url_path: str) -> str:
        """Turn the route's path argument into a relative file path.

        The default turns ``/`` into the platform's separator. Override it
        to map URLs to files some other way (the result is what
        :meth:`get_absolute_path` receives).

        .. versionadded:: 0.1.0
        """
        if os.sep != "/":
            url_path = url_path.replace("/", os.sep)
        return url_path

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        """Return the absolute path of ``path`` under ``root``.

        Not checked here: :meth:`validate_absolute_path` does that. A
        classmethod, so :meth:`make_static_url` can use it without a request.

        .. versionadded:: 0.1.0
        """
        return os.path.abspath(os.path.join(root, path))

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        r"""Check that ``absolute_path`` may be served; return the file to serve.

        The check is made on resolved paths, so a symbolic link pointing out
        of ``root`` is refused like ``..``. For a directory, returns its
        ``default_filename``; a directory requested without a trailing
        slash is redirected (301) to the path with one, and ``None`` is
        returned (the response is complete).

        :raises HTTPError: 403 outside ``root``, for a directory without
            ``default_filename``, for something that is not a regular file,
            or when adding the slash would redirect to another site
            (``//host``, ``/\\host``); 404 when the file does not exist.

        .. versionadded:: 0.1.0
        """
        if "\x00" in absolute_path:
            raise HTTPError(404, "NUL byte in static path %r", self.path)
        real_root = os.path.realpath(os.path.abspath(root))
        real_path = os.path.realpath(absolute_path)
        if not _within(real_path, real_root):
            raise HTTPError(403, "%s is not in root static directory", self.path)
        if os.path.isdir(real_path):
            if self.default_filename is None:
                raise HTTPError(403, "%s is a directory", self.path)
            request_path = self.request.path
            if not request_path.endswith("/"):
                if not _safe_redirect_path(request_path):
                    raise HTTPError(403, "will not redirect %r to another site", request_path)
                query = self.request.query
                self.redirect(request_path + "/" + ("?" + query if query else ""), permanent=True)
                return None
            absolute_path = os.path.join(absolute_path, self.default_filename)
            real_path = os.path.realpath(absolute_path)
            if not _within(real_path, real_root):
                raise HTTPError(403, "%s is not in root static directory", self.path)
        if not os.path.exists(real_path):
            raise HTTPError(404)
        if not os.path.isfile(real_path):
            raise HTTPError(403, "%s is not a file", self.path)
        return absolute_path

    # -- content -----------------------------------------------------------------

    @classmethod
    def get_content(
        cls, abspath: str, start: int | None = None, end: int | None = None
    ) -> Iterable[bytes] | bytes:
        """Yield the content of ``abspath`` from ``start`` to ``end`` (exclusive), in 64 KiB chunks.

        A generator, so the file is never in memory at once; it is opened on
        the first ``next()`` and closed when exhausted or closed. Overrides
        may return ``bytes`` (the whole content) or any iterable of ``bytes``.

        :param abspath: the file (as :meth:`validate_absolute_path` returned it).
        :param start: the first byte (default: the beginning).
        :param end: one past the last byte (default: the end of the file).

        .. versionadded:: 0.1.0
        """
        return _read_file(abspath, start, end)

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        """Return a version string for the content of ``abspath``: its hash.

        The default hashes :meth:`get_content`'s chunks (BLAKE2b, 128-bit,
        hex). It is cached by :meth:`get_version`; called only on a miss.

        .. versionadded:: 0.1.0
        """
        hasher = hashlib.blake2b(digest_size=16)
        content = cls.get_content(abspath)
        if isinstance(content, bytes):
            hasher.update(content)
        else:
            for chunk in content:
                hasher.update(chunk)
        return hasher.hexdigest()

    def _stat(self) -> os.stat_result:
        result = self._stat_result
        if result is None:
            result = self._stat_result = os.stat(self.absolute_path)
        return result

    def get_content_size(self) -> int:
        """Return the size in bytes of the file being served.

        .. versionadded:: 0.1.0
        """
        return self._stat().st_size

    def get_modified_time(self) -> datetime.datetime | None:
        """Return the file's modification time (aware, UTC, whole seconds), or ``None``.

        ``Last-Modified`` and ``If-Modified-Since`` use it; overrides may
        return a naive datetime (taken as UTC).

        .. versionadded:: 0.1.0
        """
        return datetime.datetime.fromtimestamp(int(self._stat().st_mtime), _UTC)

    def get_content_type(self) -> str:
        """Return the ``Content-Type`` of the file being served.

        Guessed from the file name by :mod:`mimetypes`; text types get
        ``; charset=`` :attr:`TEXT_CHARSET`. A compressed file (``.gz``,
        ``.bz2``, ``.xz``) is its archive type, anything unknown
        ``application/octet-stream``.

        .. versionadded:: 0.1.0
        """
        mime_type, encoding = mimetypes.guess_type(self.absolute_path)
        if encoding is not None:
            return _ENCODED_TYPES.get(encoding, "application/octet-stream")
        if mime_type is None:
            return "application/octet-stream"
        charset = self.TEXT_CHARSET
        if charset and (mime_type.startswith("text/") or mime_type in _TEXT_TYPES):
            return f"{mime_type}; charset={charset}"
        return mime_type

    # -- headers -----------------------------------------------------------------

    def set_headers(self) -> None:
        """Set the headers of the response (all but the range and length ones).

        ``Accept-Ranges``, ``Etag``, ``Last-Modified``, ``Content-Type``,
        and ``Expires``/``Cache-Control`` when :meth:`get_cache_time` is
        positive; then calls :meth:`set_extra_headers`.

        .. versionadded:: 0.1.0
        """
        self.set_header("Accept-Ranges", "bytes")
        self.set_etag_header()
        if self.modified is not None:
            self.set_header("Last-Modified", self.modified)
        content_type = self.get_content_type()
        if content_type:
            self.set_header("Content-Type", content_type)
        cache_time = self.get_cache_time(self.path, self.modified, content_type)
        if cache_time > 0:
            expires = datetime.datetime.now(_UTC) + datetime.timedelta(seconds=cache_time)
            self.set_header("Expires", expires)
            self.set_header("Cache-Control", f"public, max-age={cache_time}")
        self.set_extra_headers(self.path)

    def should_return_304(self) -> bool:
        """Return whether the client's cached copy is current (answer 304).

        ``If-None-Match`` decides when present (see
        :meth:`check_etag_header`); otherwise ``If-Modified-Since`` at or
        after the file's modification time.

        .. versionadded:: 0.1.0
        """
        headers = self.request.headers
        if headers.get("If-None-Match"):
            return self.check_etag_header()
        since = headers.get("If-Modified-Since")
        if since is None or self.modified is None:
            return False
        date = _parse_http_date(since)
        return date is not None and date >= _aware(self.modified)

    def compute_etag(self) -> str | None:
        """Return the ``Etag``: the content version in quotes, or ``None`` if unknown.

        .. versionadded:: 0.1.0
        """
        if not self._version_known:
            self._version = self._versioned(self.absolute_path, self._use_hash_cache(self.settings))
            self._version_known = True
        version = self._version
        return f'"{version}"' if version else None

    def set_extra_headers(self, path: str) -> None:
        """Hook: set more headers on every response (the default sets none).

        :param path: the requested path (:attr:`path`).

        .. versionadded:: 0.1.0
        """

    def get_cache_time(self, path: str, modified: datetime.datetime | None, mime_type: str) -> int:
        """Return how many seconds clients may cache the file (0: no caching headers).

        The default is :attr:`CACHE_MAX_AGE` (10 years) for a versioned URL
        (with a ``v`` query argument, which changes with the content) and
        0 otherwise.

        .. versionadded:: 0.1.0
        """
        return self.CACHE_MAX_AGE if "v" in self.request.query_arguments else 0

    # -- versioned URLs -----------------------------------------------------------

    @classmethod
    def make_static_url(
        cls, settings: dict[str, Any], path: str, include_version: bool = True
    ) -> str:
        """Return the URL of static file ``path``: prefix, path and ``?v=<version>``.

        ``RequestHandler.static_url`` calls it. Without a version (the file
        cannot be read) there is no ``?v=``.

        :param settings: the application's settings (``static_path``,
            ``static_url_prefix``, ``static_hash_cache``).
        :param path: the file's path under ``static_path``.
        :param include_version: add ``?v=``.

        .. versionadded:: 0.1.0
        """
        url = str(settings.get("static_url_prefix", "/static/")) + path
        if not include_version:
            return url
        version = cls.get_version(settings, path)
        if not version:
            return url
        return f"{url}?v={version}"

    @classmethod
    def get_version(cls, settings: dict[str, Any], path: str) -> str | None:
        """Return the content version of static file ``path``, or ``None`` if it cannot be read.

        Cached per file unless the ``static_hash_cache`` setting is false
        (its default under ``debug``). A path that leads out of
        ``static_path`` has no version.

        .. versionadded:: 0.1.0
        """
        abs_path = cls.get_absolute_path(settings["static_path"], path)
        use_cache = cls._use_hash_cache(settings)
        if use_cache:
            with cls._lock:
                key = (cls, abs_path)
                if key in cls._static_hashes:
                    return cls._static_hashes[key]
        root = os.path.realpath(os.path.abspath(settings["static_path"]))
        if not _within(os.path.realpath(abs_path), root):
            gen_log.warning("static file %r is not in static_path", path)
            return None
        return cls._versioned(abs_path, use_cache)

    @classmethod
    def _get_cached_version(cls, abs_path: str) -> str | None:
        """The cached content version of ``abs_path`` (Tornado's name)."""
        return cls._versioned(abs_path, True)

    @staticmethod
    def _use_hash_cache(settings: dict[str, Any]) -> bool:
        return bool(settings.get("static_hash_cache", not settings.get("debug", False)))

    @classmethod
    def _versioned(cls, abs_path: str, use_cache: bool) -> str | None:
        """The content version, from the cache or computed (then cached)."""
        if not use_cache:
            return cls._hash_or_none(abs_path)
        key = (cls, abs_path)
        with cls._lock:
            hashes = cls._static_hashes
            if key in hashes:
                return hashes[key]
            file_lock = cls._hashing.setdefault(key, threading.Lock())
        with file_lock:
            with cls._lock:
                if key in hashes:
                    return hashes[key]
            version = cls._hash_or_none(abs_path)
            with cls._lock:
                hashes[key] = version
                cls._hashing.pop(key, None)
        return version

    @classmethod
    def _hash_or_none(cls, abs_path: str) -> str | None:
        try:
            return cls.get_content_version(abs_path)
        except Exception:
            gen_log.error("Could not open static file %r", abs_path, exc_info=True)
            return None

    async def _compute_version(self) -> None:
        """Know the content version before the headers, hashing big files in the executor."""
        if self._version_known:
            return
        use_cache = self._use_hash_cache(self.settings)
        cls = type(self)
        key = (cls, self.absolute_path)
        if use_cache:
            with cls._lock:
                if key in cls._static_hashes:
                    self._version = cls._static_hashes[key]
                    self._version_known = True
                    return
        # Hash in a thread only the files this class reads itself: an
        # override of get_content may expect the loop's thread.
        own_reader = (
            getattr(cls.get_content, "__func__", None) is _GET_CONTENT
            and getattr(cls.get_content_version, "__func__", None) is _GET_CONTENT_VERSION
        )
        if own_reader and self.get_content_size() > _INLINE_HASH_LIMIT:
            from squall.ioloop import IOLoop

            self._version = await IOLoop.current().run_in_executor(
                None, cls._versioned, self.absolute_path, use_cache
            )
        else:
            self._version = cls._versioned(self.absolute_path, use_cache)
        self._version_known = True


_GET_CONTENT = StaticFileHandler.get_content.__func__  # type: ignore[attr-defined]
_GET_CONTENT_VERSION = StaticFileHandler.get_content_version.__func__  # type: ignore[attr-defined]


def _read_file(abspath: str, start: int | None, end: int | None) -> Generator[bytes, None, None]:
    with open(abspath, "rb") as file:
        if start:
            file.seek(start)
        remaining = None if end is None else end - (start or 0)
        while remaining is None or remaining > 0:
            size = _CHUNK_SIZE if remaining is None else min(remaining, _CHUNK_SIZE)
            chunk = file.read(size)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
