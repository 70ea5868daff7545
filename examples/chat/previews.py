"""Link previews: fetch the first URL of a message and show the page's title.

Fetching a URL a user typed, from the server, is a classic way to reach
what only the server can reach (server-side request forgery). So:

* only ``http`` and ``https`` URLs, with a host name and a sane port;
* the host is resolved first and every address checked with
  :mod:`ipaddress`: private, loopback, link-local, multicast, reserved and
  other non-global addresses are refused (unless ``allow_private``, for
  tests and local development);
* the HTTP client itself connects through :class:`PublicAddressResolver`,
  so the same check applies to every connection it makes: after a
  redirect, and when the name resolves differently the second time (DNS
  rebinding);
* a time limit, a body size limit, a few redirects at most, HTML only;
* the title is plain text, whitespace-collapsed and truncated; the pages
  that show it escape it (Jinja2 autoescaping, ``textContent`` in the
  browser).
"""

from __future__ import annotations

import asyncio
import html.parser
import ipaddress
import logging
import re
import socket
import urllib.parse
from typing import Any

from squall.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from squall.netutil import Resolver, ResolverError

log = logging.getLogger("chat.previews")

_URL_RE = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_WHITESPACE = re.compile(r"\s+")
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)

MAX_TITLE = 200


class PreviewError(Exception):
    """No preview for this URL; the message says why."""


class PreviewRefusedError(PreviewError):
    """The URL may not be fetched (scheme, host, non-public address)."""


class PreviewFetchError(PreviewError):
    """The page could not be fetched or has no usable title."""


def first_url(text: str) -> str | None:
    """The first http(s) URL in ``text``, without trailing punctuation."""
    match = _URL_RE.search(text)
    if match is None:
        return None
    url = match.group(0).rstrip(_TRAILING)
    return url if len(url) > len("https://") else None


def is_public_address(address: str) -> bool:
    """Whether ``address`` (an IP address) is a public, routable unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> tuple[str, int]:
    """Check the form of ``url``; return its host and port.

    :raises PreviewRefusedError: for a scheme other than http(s), no host,
        credentials in the URL, or a bad port.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PreviewRefusedError(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise PreviewRefusedError(f"only http and https URLs get previews, not {scheme!r}")
    if not parts.hostname:
        raise PreviewRefusedError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise PreviewRefusedError("URLs with credentials get no preview")
    if port is None:
        port = 443 if scheme == "https" else 80
    if not 0 < port < 65536:
        raise PreviewRefusedError(f"bad port {port}")
    return parts.hostname, port


class PublicAddressResolver(Resolver):
    """A resolver that drops non-public addresses (see :func:`is_public_address`).

    :param resolver: the resolver doing the work (default: a new ``Resolver()``).
    :param allow_private: keep every address (tests, local development).
    """

    def initialize(self, resolver: Resolver | None = None, allow_private: bool = False) -> None:
        self.resolver = resolver if resolver is not None else Resolver()
        self.allow_private = allow_private

    def close(self) -> None:
        self.resolver.close()

    async def resolve(
        self, host: str, port: int, family: int = socket.AF_UNSPEC, callback: Any = None
    ) -> list[tuple[int, Any]]:
        addresses = list(await self.resolver.resolve(host, port, family))
        if self.allow_private:
            return addresses
        public = [(fam, addr) for fam, addr in addresses if is_public_address(addr[0])]
        if not public:
            shown = ", ".join(sorted({addr[0] for _, addr in addresses}))
            raise ResolverError(f"{host} resolves only to non-public addresses ({shown})")
        return public


class _TitleParser(html.parser.HTMLParser):
    """Finds ``<title>`` (or ``og:title``) and stops reading at ``<body>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: str | None = None
        self.og_title: str | None = None
        self._in_title = False
        self._parts: list[str] = []
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if self._in_title:
            # Browsers read a title as text (RCDATA): "<b>" in it is not a tag.
            self._parts.append(self.get_starttag_text() or "")
        elif tag == "title" and self.title is None:
            self._in_title = True
        elif tag == "meta":
            values = dict(attrs)
            if (values.get("property") or values.get("name")) == "og:title":
                self.og_title = values.get("content")
        elif tag in ("body", "svg"):
            self.done = True

    def handle_endtag(self, tag: str) -> None:
        if self.done or not self._in_title:
            return
        if tag == "title":
            self._in_title = False
            self.title = "".join(self._parts)
            self.done = True
        else:
            self._parts.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self._in_title and not self.done:
            self._parts.append(data)


def _charset(content_type: str, body: bytes) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    match = _CHARSET_RE.search(body[:4096])
    return match.group(1).decode("ascii") if match else "utf-8"


def extract_title(body: bytes, content_type: str = "text/html") -> str | None:
    """The title of an HTML page: plain text, whitespace-collapsed, at most 200 chars."""
    encoding = _charset(content_type, body)
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    parser = _TitleParser()
    # Feed in pieces so a huge page stops as soon as the title is found.
    for start in range(0, len(text), 8192):
        parser.feed(text[start : start + 8192])
        if parser.done:
            break
    title = parser.title if parser.title and parser.title.strip() else parser.og_title
    if not title:
        return None
    title = _WHITESPACE.sub(" ", title).strip()
    title = "".join(ch for ch in title if ch.isprintable())
    if len(title) > MAX_TITLE:
        title = title[: MAX_TITLE - 1].rstrip() + "\u2026"
    return title or None


class PreviewFetcher:
    """Fetches link previews with its own HTTP client and address policy.

    :param allow_private: allow non-public targets (tests only).
    :param timeout: seconds for the whole fetch.
    :param max_body_size: the largest page read.
    :param concurrency: how many fetches run at once.
    :param resolver: the resolver under the address check (default ``Resolver()``).
    """

    def __init__(
        self,
        allow_private: bool = False,
        timeout: float = 5.0,
        max_body_size: int = 1024 * 1024,
        concurrency: int = 4,
        resolver: Resolver | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.max_body_size = max_body_size
        self.resolver = PublicAddressResolver(resolver=resolver, allow_private=allow_private)
        self.client = AsyncHTTPClient(
            force_instance=True, resolver=self.resolver, max_clients=concurrency
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._cache: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()
        self.resolver.close()

    async def check_target(self, url: str) -> None:
        """Refuse ``url`` unless it is http(s) and its host resolves to allowed addresses.

        :raises PreviewRefusedError: with the reason.
        """
        host, port = check_url(url)
        try:
            await self.resolver.resolve(host, port)
        except ResolverError as exc:
            raise PreviewRefusedError(str(exc)) from exc

    async def title_of(self, url: str) -> str:
        """Fetch ``url`` and return its title.

        :raises PreviewRefusedError: the URL may not be fetched.
        :raises PreviewFetchError: the fetch failed, or the page has no title.
        """
        cached = self._cache.get(url)
        if cached is not None:
            return cached
        await self.check_target(url)
        request = HTTPRequest(
            url,
            request_timeout=self.timeout,
            connect_timeout=self.timeout,
            follow_redirects=True,
            max_redirects=3,
            max_body_size=self.max_body_size,
            headers={"Accept": "text/html,application/xhtml+xml;q=0.9"},
            user_agent="SquallChat-LinkPreview/0.1",
        )
        async with self._slots:
            try:
                response = await self.client.fetch(request)
            except HTTPClientError as exc:
                cause = exc.__cause__ if isinstance(exc.__cause__, ResolverError) else None
                if cause is not None:
                    raise PreviewRefusedError(str(cause)) from exc
                raise PreviewFetchError(f"fetching {url} failed: {exc}") from exc
            except OSError as exc:
                raise PreviewFetchError(f"fetching {url} failed: {exc}") from exc
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() not in ("text/html", "application/xhtml+xml"):
            raise PreviewFetchError(f"{url} is not an HTML page ({content_type or 'no type'})")
        title = extract_title(response.body or b"", content_type)
        if not title:
            raise PreviewFetchError(f"{url} has no title")
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[url] = title
        return title
