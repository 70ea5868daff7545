"""A :class:`squall.netutil.Resolver` on c-ares, through the ``pycares`` binding.

c-ares is an asynchronous DNS library: its sockets are watched by the
IOLoop itself (through c-ares's socket-state callback), so no thread is
involved.  It reads ``/etc/hosts`` and ``/etc/resolv.conf`` but not the
rest of the system's name service configuration (``nsswitch.conf``, mDNS,
LDAP ...), so its answers can differ from ``getaddrinfo``'s.

``pycares`` is an optional dependency: ``pip install 'squall-iostream[cares]'``.
This module imports without it; constructing :class:`CaresResolver` then
raises an :class:`ImportError` naming the extra.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from squall.ioloop import IOLoop
from squall.netutil import Resolver, ResolverClosedError, ResolveResult
from squall.netutil._resolver import _check_request, _deliver, _resolution_failed

__all__ = ["CaresResolver"]

_pycares: Any = None

# c-ares is asked for its next deadline at least this often (seconds).
_MAX_TIMER = 1.0


def _load_pycares() -> Any:
    global _pycares
    if _pycares is None:
        try:
            import pycares
        except ImportError as e:
            raise ImportError(
                "CaresResolver needs the pycares package: "
                "install it with pip install 'squall-iostream[cares]'"
            ) from e
        _pycares = pycares
    return _pycares


class CaresResolver(Resolver):
    """Name resolution with c-ares, driven by the IOLoop.

    Requires ``pycares`` 4 or later (``pip install 'squall-iostream[cares]'``).
    The resolver belongs to the IOLoop that is current when it is built:
    use it from that loop's thread only.

    :param io_loop: the loop to use (Tornado 4); by default the current one.
    :param channel_options: extra keyword arguments for ``pycares.Channel``
        (for example ``timeout=`` or ``tries=``).
    :raises ImportError: naming the ``squall-iostream[cares]`` extra when
        ``pycares`` is not installed.

    .. versionadded:: 0.1.0
    """

    io_loop: IOLoop

    def initialize(self, io_loop: IOLoop | None = None, **channel_options: Any) -> None:
        """Create the c-ares channel; see the class docstring."""
        pycares = _load_pycares()
        self.io_loop = io_loop if io_loop is not None else IOLoop.current()
        self._fds: dict[int, int] = {}
        self._pending: dict[int, tuple[asyncio.Future[ResolveResult], str, int]] = {}
        self._next_query = 0
        self._timer: Any = None
        self._closed = False
        self.channel = pycares.Channel(sock_state_cb=self._sock_state_cb, **channel_options)

    def _sock_state_cb(self, fd: int, readable: bool, writable: bool) -> None:
        if self._closed:
            return
        events = (IOLoop.READ if readable else 0) | (IOLoop.WRITE if writable else 0)
        if not events:
            if self._fds.pop(fd, None) is not None:
                self.io_loop.remove_handler(fd)
        elif fd in self._fds:
            self.io_loop.update_handler(fd, events)
            self._fds[fd] = events
        else:
            self.io_loop.add_handler(fd, self._handle_events, events)
            self._fds[fd] = events

    def _handle_events(self, fd: int, events: int) -> None:
        if self._closed:
            return
        bad = _pycares.ARES_SOCKET_BAD
        read_fd = fd if events & (IOLoop.READ | IOLoop.ERROR) else bad
        write_fd = fd if events & IOLoop.WRITE else bad
        self.channel.process_fd(read_fd, write_fd)
        self._schedule_timer()

    def _on_timer(self) -> None:
        self._timer = None
        if self._closed:
            return
        bad = _pycares.ARES_SOCKET_BAD
        # With no socket ready this only expires the queries past their
        # deadline (retrying or failing them).
        self.channel.process_fd(bad, bad)
        self._schedule_timer()

    def _schedule_timer(self) -> None:
        if self._timer is not None:
            self.io_loop.remove_timeout(self._timer)
            self._timer = None
        if self._pending and not self._closed:
            delay = self.channel.timeout(_MAX_TIMER)
            self._timer = self.io_loop.call_later(max(delay, 0.0), self._on_timer)

    def resolve(
        self,
        host: str,
        port: int,
        family: int = socket.AF_UNSPEC,
        callback: Any = None,
    ) -> asyncio.Future[ResolveResult]:
        """Resolve ``host``; see :meth:`squall.netutil.Resolver.resolve`.

        :raises ResolverClosedError: if the resolver was closed.

        .. versionadded:: 0.1.0
        """
        _check_request(host, port)
        if self._closed:
            raise ResolverClosedError.for_lookup(self, host, port)
        future: asyncio.Future[ResolveResult] = self.io_loop.asyncio_loop.create_future()
        query = self._next_query
        self._next_query += 1
        self._pending[query] = (future, host, port)

        def on_result(result: Any, error: Any) -> None:
            self._pending.pop(query, None)
            if future.done():
                return
            if error:
                reason = _pycares.errno.strerror(error)
                if isinstance(reason, bytes):
                    reason = reason.decode("ascii", "replace")
                future.set_exception(_resolution_failed(host, port, str(reason)))
                return
            addresses = self._addresses(result, family)
            if not addresses:
                future.set_exception(_resolution_failed(host, port, "no address found"))
            else:
                future.set_result(addresses)

        try:
            self.channel.getaddrinfo(
                host, port, family=family, type=socket.SOCK_STREAM, callback=on_result
            )
        except (UnicodeError, ValueError, _pycares.AresError) as e:
            self._pending.pop(query, None)
            if not future.done():
                future.set_exception(_resolution_failed(host, port, str(e) or type(e).__name__))
        self._schedule_timer()
        return _deliver(self.io_loop, future, callback)

    @staticmethod
    def _addresses(result: Any, family: int) -> ResolveResult:
        addresses: ResolveResult = []
        seen: set[tuple[int, Any]] = set()
        for node in result.nodes:
            if family not in (socket.AF_UNSPEC, node.family):
                continue
            ip = node.addr[0]
            if isinstance(ip, bytes):
                ip = ip.decode("ascii")
            entry = (socket.AddressFamily(node.family), (ip, *node.addr[1:]))
            if entry not in seen:
                seen.add(entry)
                addresses.append(entry)
        return addresses

    def close(self) -> None:
        """Cancel pending lookups and release the channel and its sockets.

        Pending lookups fail with :class:`ResolverClosedError`, and so do
        later calls to :meth:`resolve`.  Calling it again does nothing.

        .. versionadded:: 0.1.0
        """
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self.io_loop.remove_timeout(self._timer)
            self._timer = None
        for fd in self._fds:
            self.io_loop.remove_handler(fd)
        self._fds.clear()
        pending = list(self._pending.values())
        self._pending.clear()
        for future, host, port in pending:
            if not future.done():
                future.set_exception(
                    ResolverClosedError(
                        f"cannot resolve host {host!r}: the CaresResolver was closed", host, port
                    )
                )
        # Cancelling runs the callbacks here, in this thread, with
        # ARES_ECANCELLED; they find their futures done.
        self.channel.cancel()
        close = getattr(self.channel, "close", None)
        if close is not None:
            close()
        self.channel = None
