"""Opening connections: direct, TLS, and through an HTTP proxy (CONNECT).

Every failure is translated at this boundary into the
:mod:`squall.httpclient` exception that names it (``from`` the original):
a name that does not resolve or a refused connection is an
:class:`.HTTPConnectionError`, a failed handshake an :class:`.HTTPTLSError`,
a proxy that refuses the tunnel an :class:`.HTTPProxyError`.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

from squall.httpclient._errors import (
    HTTPConnectionError,
    HTTPProxyError,
    HTTPTLSError,
)
from squall.httputil import HTTPHeaders, HTTPInputError, parse_response_start_line
from squall.iostream import StreamClosedError, StreamError, TLSHandshakeError
from squall.netutil import ResolverError, ssl_options_to_context
from squall.simple_httpclient._prepare import format_host_port

__all__ = ["SSLContextCache", "open_stream"]


class SSLContextCache:
    """Client TLS contexts, built once per combination of options.

    Loading certificate authorities costs milliseconds; a context is
    built once per (validate_cert, ca_certs, client_key, client_cert) and
    shared by every connection with those options.
    """

    def __init__(self) -> None:
        self._contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}

    def get(
        self,
        validate_cert: bool,
        ca_certs: str | None,
        client_key: str | None,
        client_cert: str | None,
        ssl_options: dict[str, Any] | ssl.SSLContext | None,
    ) -> ssl.SSLContext:
        """Return the context for these options (``ssl_options`` wins when given)."""
        if isinstance(ssl_options, ssl.SSLContext):
            return ssl_options
        if ssl_options is not None:
            key: tuple[Any, ...] = (
                "options",
                *sorted((k, repr(v)) for k, v in ssl_options.items()),
            )
        else:
            key = (validate_cert, ca_certs, client_key, client_cert)
        context = self._contexts.get(key)
        if context is None:
            if ssl_options is not None:
                context = ssl_options_to_context(ssl_options, server_side=False)
            else:
                context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_certs)
                if not validate_cert:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                if client_cert is not None:
                    context.load_cert_chain(client_cert, client_key)
            self._contexts[key] = context
        return context


def ssl_key(
    validate_cert: bool,
    ca_certs: str | None,
    client_key: str | None,
    client_cert: str | None,
    ssl_options: dict[str, Any] | ssl.SSLContext | None,
) -> tuple[Any, ...]:
    """The part of a pool key that identifies the TLS settings."""
    if ssl_options is None:
        return (validate_cert, ca_certs, client_key, client_cert)
    if isinstance(ssl_options, ssl.SSLContext):
        return ("context", id(ssl_options))
    return ("options", *sorted((k, repr(v)) for k, v in ssl_options.items()))


async def open_stream(
    tcp_client: Any,
    scheme: str,
    host: str,
    port: int,
    *,
    af: socket.AddressFamily,
    source_ip: str | None,
    max_buffer_size: int,
    ssl_context: ssl.SSLContext | None,
    proxy: tuple[str, int, str | None] | None,
    max_header_size: int,
) -> Any:
    """Open a stream to ``host:port`` (through ``proxy`` if given), with TLS for https.

    :param proxy: ``(proxy_host, proxy_port, proxy_authorization)``; an
        https target is reached through a CONNECT tunnel, an http one is
        simply a connection to the proxy.
    :raises HTTPConnectionError: and its subclasses, for every failure.
    """
    if proxy is not None:
        proxy_host, proxy_port, proxy_auth = proxy
        stream = await _connect(
            tcp_client, proxy_host, proxy_port, af, source_ip, max_buffer_size, None, "proxy "
        )
        if scheme == "https":
            try:
                await _tunnel(
                    stream, host, port, proxy_host, proxy_port, proxy_auth, max_header_size
                )
                stream = await stream.start_tls(False, ssl_context, server_hostname=host)
            except TLSHandshakeError as e:
                stream.close()
                raise HTTPTLSError(
                    f"TLS handshake with {format_host_port(host, port)} (through proxy "
                    f"{format_host_port(proxy_host, proxy_port)}) failed: {_reason(e)}"
                ) from e
            except (StreamError, OSError, ValueError) as e:
                stream.close()
                raise HTTPProxyError(
                    f"tunnel through proxy {format_host_port(proxy_host, proxy_port)} to "
                    f"{format_host_port(host, port)} failed: {_reason(e)}"
                ) from e
            except BaseException:
                stream.close()
                raise
    else:
        stream = await _connect(
            tcp_client, host, port, af, source_ip, max_buffer_size, ssl_context, ""
        )
    stream.set_nodelay(True)
    return stream


async def _connect(
    tcp_client: Any,
    host: str,
    port: int,
    af: socket.AddressFamily,
    source_ip: str | None,
    max_buffer_size: int,
    ssl_context: ssl.SSLContext | None,
    what: str,
) -> Any:
    where = format_host_port(host, port)
    try:
        return await tcp_client.connect(
            host,
            port,
            af=af,
            ssl_options=ssl_context,
            max_buffer_size=max_buffer_size,
            source_ip=source_ip,
        )
    except ResolverError as e:
        text = str(e) or f"cannot resolve host {host!r}"
        raise HTTPConnectionError(f"proxy: {text}" if what else text) from e
    except TLSHandshakeError as e:
        raise HTTPTLSError(f"TLS handshake with {where} failed: {_reason(e)}") from e
    except (StreamError, OSError) as e:
        raise HTTPConnectionError(f"cannot connect to {what}{where}: {_reason(e)}") from e


async def _tunnel(
    stream: Any,
    host: str,
    port: int,
    proxy_host: str,
    proxy_port: int,
    proxy_auth: str | None,
    max_header_size: int,
) -> None:
    authority = format_host_port(host, port)
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy_auth is not None:
        lines.append(f"Proxy-Authorization: {proxy_auth}")
    stream.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        head = await stream.read_until(b"\r\n\r\n", max_bytes=max_header_size)
    except StreamClosedError as e:
        raise HTTPProxyError(
            f"proxy {format_host_port(proxy_host, proxy_port)} closed the connection "
            f"instead of answering CONNECT {authority}"
        ) from e
    except StreamError as e:
        raise HTTPProxyError(
            f"proxy {format_host_port(proxy_host, proxy_port)} sent an oversized or "
            f"malformed answer to CONNECT {authority}: {_reason(e)}"
        ) from e
    text = head.decode("latin-1")
    first, _, rest = text.partition("\r\n")
    try:
        start_line = parse_response_start_line(first)
        HTTPHeaders.parse(rest)
    except HTTPInputError as e:
        raise HTTPProxyError(
            f"proxy {format_host_port(proxy_host, proxy_port)} sent a malformed answer to "
            f"CONNECT {authority}: {e}"
        ) from e
    if not 200 <= start_line.code < 300:
        raise HTTPProxyError(
            f"proxy {format_host_port(proxy_host, proxy_port)} refused CONNECT {authority}: "
            f"{start_line.code} {start_line.reason}",
            proxy_code=start_line.code,
        )


def _reason(exc: BaseException) -> str:
    """What went wrong, from the innermost error (without repeating the address)."""
    real = getattr(exc, "real_error", None) or exc
    if isinstance(real, ConnectionRefusedError):
        return "connection refused"
    if isinstance(real, ConnectionResetError):
        return "connection reset by peer"
    text = str(real)
    return text or type(real).__name__
