"""Listening sockets: binding, Unix sockets and the accept loop.

Strategy: :func:`bind_sockets` resolves the listening address with
``getaddrinfo(AI_PASSIVE)`` and binds one non-blocking socket per address;
every failure closes what was already opened, so a failed call leaves no fd
behind.  :func:`add_accept_handler` drains the accept queue in bounded
batches from an IOLoop read handler and, when the process runs out of file
descriptors, stops watching the socket for a while instead of spinning on a
readiness that it cannot serve.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
from collections.abc import Callable
from typing import Any

from squall.ioloop import IOLoop

__all__ = [
    "_DEFAULT_BACKLOG",
    "add_accept_handler",
    "bind_sockets",
    "bind_unix_socket",
    "is_valid_ip",
]

_gen_log = logging.getLogger("squall.general")

# Never ask the kernel for a longer queue than this, whatever somaxconn says.
_MAX_BACKLOG = 4096


def _default_backlog() -> int:
    try:
        with open("/proc/sys/net/core/somaxconn", "rb") as f:
            value = int(f.read().strip() or b"0")
    except (OSError, ValueError):
        return 128
    return max(128, min(value, _MAX_BACKLOG))


#: The listen() backlog used when none is given: the system's
#: ``net.core.somaxconn`` where it can be read (at least 128, at most 4096),
#: otherwise 128.  Also the largest number of connections that
#: :func:`add_accept_handler` accepts in one batch.
_DEFAULT_BACKLOG = _default_backlog()

# accept() errors that mean "out of a resource": retrying at once would only
# spin, so the accept handler backs off.
_RESOURCE_ERRNOS = frozenset(
    code
    for code in (
        getattr(errno, "EMFILE", None),
        getattr(errno, "ENFILE", None),
        getattr(errno, "ENOBUFS", None),
        getattr(errno, "ENOMEM", None),
    )
    if code is not None
)
# accept() errors that concern one connection only: skip it and go on.
_PER_CONNECTION_ERRNOS = frozenset(
    code
    for code in (
        getattr(errno, "ECONNABORTED", None),
        getattr(errno, "EPROTO", None),
        getattr(errno, "EPERM", None),  # a firewall refused it
        getattr(errno, "ENETDOWN", None),
        getattr(errno, "ENOPROTOOPT", None),
        getattr(errno, "EHOSTDOWN", None),
        getattr(errno, "ENONET", None),
        getattr(errno, "EHOSTUNREACH", None),
        getattr(errno, "EOPNOTSUPP", None),
        getattr(errno, "ENETUNREACH", None),
    )
    if code is not None
)
_ACCEPT_BACKOFF_FIRST = 0.05
_ACCEPT_BACKOFF_MAX = 1.0


def _close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()


def _bind_once(
    infos: list[tuple[Any, ...]], port: int, backlog: int, reuse_port: bool
) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    bound_port: int | None = None
    try:
        for af, socktype, proto, _canonname, resolved_addr in infos:
            sockaddr = resolved_addr
            try:
                sock = socket.socket(af, socktype, proto)
            except OSError as e:
                # The address family exists in getaddrinfo's answer but not
                # in this kernel (IPv6 disabled): listen on the others.
                if e.errno == errno.EAFNOSUPPORT:
                    continue
                raise
            try:
                if os.name != "nt":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if af == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    # Without this a wildcard v6 socket would also take the v4
                    # traffic and the v4 socket's bind would fail.
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if port == 0 and bound_port is not None:
                    sockaddr = (sockaddr[0], bound_port, *sockaddr[2:])
                sock.setblocking(False)
                try:
                    sock.bind(sockaddr)
                except OSError as e:
                    raise OSError(
                        e.errno, f"cannot bind to {sockaddr[0]!r} port {sockaddr[1]}: {e.strerror}"
                    ) from e
                if port == 0:
                    bound_port = sock.getsockname()[1]
                sock.listen(backlog)
            except BaseException:
                sock.close()
                raise
            sockets.append(sock)
    except BaseException:
        _close_all(sockets)
        raise
    return sockets


def bind_sockets(  # noqa: PLR0917, RUF100 (Tornado's positional signature)
    port: int,
    address: str | None = None,
    family: socket.AddressFamily = socket.AF_UNSPEC,
    backlog: int = _DEFAULT_BACKLOG,
    flags: int | None = None,
    reuse_port: bool = False,
) -> list[socket.socket]:
    """Create listening sockets bound to ``port`` on every address of ``address``.

    One socket is created per address that ``address`` resolves to: with the
    default ``address=None`` (or ``""``) that is every interface, IPv4 and
    IPv6 alike.  Each socket is non-blocking, has ``SO_REUSEADDR`` set and,
    for IPv6, ``IPV6_V6ONLY`` (so the v4 and v6 sockets do not collide).
    With ``port=0`` the kernel picks a free port for the first socket and
    the others are bound to the same port.

    The sockets are ready for :func:`add_accept_handler` or
    ``TCPServer.add_sockets``.  On any error every socket already opened is
    closed again.

    :param port: the TCP port, 0 for any free port.
    :param address: a host name or IP address to listen on; ``None`` or
        ``""`` for all interfaces.
    :param family: ``socket.AF_INET`` or ``socket.AF_INET6`` to restrict the
        sockets to one family; ``AF_UNSPEC`` (the default) for both.
    :param backlog: the ``listen()`` queue length.
    :param flags: ``getaddrinfo`` flags (default ``AI_PASSIVE``); for example
        ``AI_PASSIVE | AI_NUMERICHOST`` refuses host names.
    :param reuse_port: set ``SO_REUSEPORT`` so that several processes can bind
        the same port and share the connections.
    :returns: the list of listening sockets (never empty).
    :raises ValueError: if ``reuse_port`` is requested on a platform without
        ``SO_REUSEPORT``, or ``port`` is not an integer in 0..65535.
    :raises socket.gaierror: if ``address`` cannot be resolved.
    :raises OSError: if binding fails (``EADDRINUSE``: the port is taken;
        ``EADDRNOTAVAIL``: the address is not local); the message names the
        address and port.

    .. versionadded:: 0.1.0
    """
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("reuse_port=True is not supported on this platform (no SO_REUSEPORT)")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer between 0 and 65535, not {port!r}")
    if address == "":
        address = None
    if not socket.has_ipv6 and family == socket.AF_UNSPEC:
        family = socket.AF_INET
    if flags is None:
        flags = socket.AI_PASSIVE
    infos: list[tuple[Any, ...]] = []
    seen: set[tuple[Any, ...]] = set()
    for info in socket.getaddrinfo(address, port, family, socket.SOCK_STREAM, 0, flags):
        key = (info[0], info[4])
        if key not in seen:
            seen.add(key)
            infos.append(info)
    # With port 0 the port chosen for the first address may already be taken
    # on another one; pick again a few times before giving up.
    attempts = 5 if port == 0 and len(infos) > 1 else 1
    for attempt in range(attempts):
        try:
            sockets = _bind_once(infos, port, backlog, reuse_port)
        except OSError as e:
            if e.errno == errno.EADDRINUSE and attempt + 1 < attempts:
                continue
            raise
        if not sockets:
            raise OSError(
                errno.EAFNOSUPPORT,
                f"no address of {address!r} has a family this system supports",
            )
        return sockets
    raise AssertionError("unreachable")  # pragma: no cover


def _unix_socket_in_use(path: str) -> bool:
    """Return whether a server is listening on the Unix socket at ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.setblocking(False)
        try:
            probe.connect(path)
        except (BlockingIOError, InterruptedError):
            return True  # listening, with a full accept queue
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        return True
    finally:
        probe.close()


def bind_unix_socket(
    file: str, mode: int = 0o600, backlog: int = _DEFAULT_BACKLOG
) -> socket.socket:
    """Create a listening Unix stream socket at the path ``file``.

    A socket file left behind by a server that is gone is removed first.
    The socket is non-blocking and its file gets the permissions ``mode``.
    A name starting with a NUL byte is a Linux abstract socket and has no
    file at all.

    :param file: the socket's path.
    :param mode: permission bits for the socket file.
    :param backlog: the ``listen()`` queue length.
    :returns: the listening socket.
    :raises ValueError: if ``file`` exists and is not a socket (it is never
        removed).
    :raises OSError: ``EADDRINUSE`` if a server is still listening on
        ``file``; any error from ``bind`` or ``chmod``.

    .. versionadded:: 0.1.0
    """
    abstract = file.startswith("\0")
    if not abstract:
        try:
            st = os.lstat(file)
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISSOCK(st.st_mode):
                raise ValueError(
                    f"cannot bind a Unix socket at {file!r}: it exists and is not a socket"
                )
            if _unix_socket_in_use(file):
                raise OSError(
                    errno.EADDRINUSE, f"a server is already listening on the Unix socket {file!r}"
                )
            os.remove(file)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.bind(file)
        if not abstract:
            os.chmod(file, mode)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


class _AcceptHandler:
    """The read handler installed by :func:`add_accept_handler`."""

    def __init__(
        self,
        sock: socket.socket,
        callback: Callable[[socket.socket, Any], None],
        io_loop: IOLoop,
    ) -> None:
        self.sock = sock
        self.callback = callback
        self.io_loop = io_loop
        self.removed = False
        self.watching = False
        self.backoff_handle: Any = None
        self.backoff_delay = _ACCEPT_BACKOFF_FIRST

    def start(self) -> None:
        self.io_loop.add_handler(self.sock, self.on_readable, IOLoop.READ)
        self.watching = True

    def remove(self) -> None:
        if self.removed:
            return
        self.removed = True
        if self.backoff_handle is not None:
            self.io_loop.remove_timeout(self.backoff_handle)
            self.backoff_handle = None
        if self.watching:
            self.watching = False
            self.io_loop.remove_handler(self.sock)

    def on_readable(self, fd: Any, events: int) -> None:
        # A bounded batch: enough to drain a burst without starving the
        # loop's other handlers when connections keep arriving.
        for _ in range(_DEFAULT_BACKLOG):
            if self.removed:
                return
            try:
                connection, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in _PER_CONNECTION_ERRNOS:
                    continue
                # Out of descriptors or memory, or something stranger: the
                # connection stays queued and the socket readable, so retrying
                # at once would spin.
                self.back_off(e)
                return
            self.backoff_delay = _ACCEPT_BACKOFF_FIRST
            try:
                self.callback(connection, address)
            except Exception:
                # Logged (or given to the active stack context) by the loop;
                # the next connection is still accepted.
                self.io_loop.handle_callback_exception(self.callback)

    def back_off(self, error: OSError) -> None:
        # The pending connection stays in the queue, so the socket stays
        # readable: stop watching it until resources may have been freed.
        _gen_log.error(
            "accept() on %r failed (%s); not accepting for %.2f s",
            self.sock,
            error,
            self.backoff_delay,
            exc_info=None if error.errno in _RESOURCE_ERRNOS else error,
        )
        self.io_loop.remove_handler(self.sock)
        self.watching = False
        self.backoff_handle = self.io_loop.call_later(self.backoff_delay, self.resume)
        self.backoff_delay = min(self.backoff_delay * 2, _ACCEPT_BACKOFF_MAX)

    def resume(self) -> None:
        self.backoff_handle = None
        if self.removed or self.sock.fileno() < 0:
            return
        self.start()


def add_accept_handler(
    sock: socket.socket,
    callback: Callable[[socket.socket, Any], None],
    io_loop: IOLoop | None = None,
) -> Callable[[], None]:
    """Accept connections on the listening socket ``sock`` from the current IOLoop.

    Whenever ``sock`` is readable, pending connections are accepted in a
    batch (at most :data:`_DEFAULT_BACKLOG` per readiness event) and
    ``callback(connection, address)`` is called for each, with
    ``connection`` a new socket and ``address`` the peer's address.
    An exception from ``callback`` is logged and the next connection is
    still accepted.  A connection aborted by the peer before it was
    accepted (``ECONNABORTED``) is skipped.  When the process runs out of
    descriptors or memory (``EMFILE``, ``ENFILE``, ``ENOBUFS``, ``ENOMEM``)
    the error is logged and accepting pauses, 50 ms at first and doubling
    up to one second, so the loop does not spin while nothing can be
    accepted.

    :param sock: a listening, non-blocking socket (see :func:`bind_sockets`).
    :param callback: called as ``callback(connection, address)``.
    :param io_loop: the loop to accept on (Tornado 4); by default the
        current one.
    :returns: a function that stops accepting (the socket stays open);
        calling it again does nothing.

    .. versionadded:: 0.1.0
    """
    handler = _AcceptHandler(sock, callback, io_loop or IOLoop.current())
    handler.start()
    return handler.remove


def is_valid_ip(ip: str) -> bool:
    """Return whether ``ip`` is an IPv4 or IPv6 address in numeric form.

    Host names, empty strings and strings with surrounding whitespace or NUL
    bytes are not addresses.  No name lookup is ever done.

    :param ip: the string to check.

    .. versionadded:: 0.1.0
    """
    if not isinstance(ip, str) or not ip or "\x00" in ip or ip != ip.strip():
        return False
    try:
        infos = socket.getaddrinfo(
            ip, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
        )
    except (socket.gaierror, UnicodeError, ValueError):
        return False
    return bool(infos)
