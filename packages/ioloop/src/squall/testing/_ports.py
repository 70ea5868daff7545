"""bind_unused_port: a listening socket on a free port, for test servers."""

from __future__ import annotations

import os
import socket

__all__ = ["bind_unused_port"]


def bind_unused_port(
    reuse_port: bool = False, address: str = "127.0.0.1"
) -> tuple[socket.socket, int]:
    """Bind a listening, non-blocking TCP socket to a free port of ``address``.

    Hand the socket to a server (``server.add_sockets([sock])``) and connect
    to the returned port; binding before choosing leaves no window in which
    another process could take the port.

    :param reuse_port: also set ``SO_REUSEPORT`` (several sockets may then
        bind the same port).
    :param address: the local IPv4 or IPv6 address (or name) to bind;
        loopback by default.
    :returns: ``(socket, port)``.
    :raises ValueError: if ``reuse_port`` is asked for on a platform
        without ``SO_REUSEPORT``.
    :raises OSError: if ``address`` cannot be resolved or bound.

    .. versionadded:: 0.1.0
    """
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("reuse_port=True needs SO_REUSEPORT, which this platform lacks")
    family, kind, proto, _, sockaddr = socket.getaddrinfo(
        address, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "posix":  # on Windows SO_REUSEADDR means something unsafe
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setblocking(False)
        sock.bind(sockaddr)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    port: int = sock.getsockname()[1]
    return sock, port
