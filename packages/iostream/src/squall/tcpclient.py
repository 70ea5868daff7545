"""TCPClient: open a connection by host name, with happy eyeballs and a deadline.

::

    stream = await TCPClient().connect("example.com", 443, ssl_options={}, timeout=5)

The host name is resolved with a :class:`squall.netutil.Resolver`; the
addresses are tried as RFC 8305 ("happy eyeballs") recommends: those of the
first address family in order, and if no connection is up 0.3 s after the
first attempt started (or that family ran out of addresses), those of the
other family alongside.  The first connection up wins; the others are
closed.

Exceptions: :class:`ConnectTimeoutError` (the deadline passed; it names the
host, port and timeout), :class:`squall.iostream.ConnectError` (every
address failed; the last failure is its ``real_error``),
:class:`squall.iostream.TLSHandshakeError`, and
:class:`squall.netutil.ResolverError`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
from collections.abc import Sequence
from typing import Any

from squall.iostream import ConnectError, IOStream, StreamClosedError
from squall.netutil import Resolver
from squall.util import TimeoutError as _SquallTimeoutError

__all__ = ["ConnectTimeoutError", "TCPClient"]

#: Seconds to wait for the first address family before trying the other.
_INITIAL_CONNECT_TIMEOUT = 0.3

_Address = tuple[int, Any]


class ConnectTimeoutError(ConnectError, _SquallTimeoutError):
    """Connecting (resolving, connecting, the TLS handshake) took longer than ``timeout``.

    Usually the network's or the peer's fault (a silent firewall, an
    overloaded host).  It is a :class:`squall.util.TimeoutError` (and so a
    built-in :class:`TimeoutError`) as well as a
    :class:`squall.iostream.ConnectError`.

    :param host: the host that was asked for.
    :param port: the port.
    :param timeout: the timeout in seconds.

    .. versionadded:: 0.1.0
    """

    def __init__(self, host: str, port: int, timeout: float) -> None:
        super().__init__(
            message=f"timed out after {timeout:g} s connecting to {_host_port(host, port)}"
        )
        self.host = host
        self.port = port
        self.timeout = timeout


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split(addrinfo: Sequence[_Address]) -> tuple[list[_Address], list[_Address]]:
    """Split addresses into the first one's family and the others, order kept."""
    first_family = addrinfo[0][0]
    primary = [a for a in addrinfo if a[0] == first_family]
    secondary = [a for a in addrinfo if a[0] != first_family]
    return primary, secondary


class TCPClient:
    """Opens TCP (optionally TLS) connections by host name.

    :param resolver: the :class:`squall.netutil.Resolver` to use (default:
        a new ``Resolver()``, closed by :meth:`close`).
    :param io_loop: ignored (Tornado 4 passed it): connections are made on
        the loop :meth:`connect` runs on.

    .. versionadded:: 0.1.0
    """

    def __init__(self, resolver: Resolver | None = None, io_loop: Any = None) -> None:
        if resolver is not None:
            self.resolver = resolver
            self._own_resolver = False
        else:
            self.resolver = Resolver()
            self._own_resolver = True

    def close(self) -> None:
        """Close the resolver if this client created it.

        .. versionadded:: 0.1.0
        """
        if self._own_resolver:
            self.resolver.close()

    async def connect(
        self,
        host: str,
        port: int,
        af: socket.AddressFamily = socket.AF_UNSPEC,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        source_ip: str | None = None,
        source_port: int | None = None,
        timeout: float | datetime.timedelta | None = None,
    ) -> IOStream:
        """Connect to ``host``:``port`` and return the stream.

        :param host: a host name or IP address.
        :param port: the port.
        :param af: ``AF_INET`` or ``AF_INET6`` to use one family only.
        :param ssl_options: to speak TLS: an :class:`ssl.SSLContext` or a
            Tornado ``ssl_options`` dict; the result is then an
            :class:`~squall.iostream.SSLIOStream` whose certificate was
            checked against ``host``.
        :param max_buffer_size: the stream's ``max_buffer_size``.
        :param source_ip: the local address to connect from.
        :param source_port: the local port to connect from.
        :param timeout: seconds (or a timedelta) for the whole operation:
            resolving, connecting and the TLS handshake.
        :returns: the connected :class:`~squall.iostream.IOStream`.
        :raises ConnectTimeoutError: if ``timeout`` passed first.
        :raises squall.iostream.ConnectError: if every address failed.
        :raises squall.iostream.TLSHandshakeError: if the TLS handshake
            failed (a certificate that does not validate, for instance).
        :raises squall.netutil.ResolverError: if ``host`` cannot be resolved.

        .. versionadded:: 0.1.0
        """
        if isinstance(timeout, datetime.timedelta):
            timeout = timeout.total_seconds()
        if timeout is None:
            return await self._connect(
                host, port, af, ssl_options, max_buffer_size, source_ip, source_port
            )
        try:
            async with asyncio.timeout(timeout) as deadline:
                return await self._connect(
                    host, port, af, ssl_options, max_buffer_size, source_ip, source_port
                )
        except TimeoutError:
            if deadline.expired():
                raise ConnectTimeoutError(host, port, timeout) from None
            raise

    async def _connect(
        self,
        host: str,
        port: int,
        af: socket.AddressFamily,
        ssl_options: dict[str, Any] | ssl.SSLContext | None,
        max_buffer_size: int | None,
        source_ip: str | None,
        source_port: int | None,
    ) -> IOStream:
        addrinfo = await self.resolver.resolve(host, port, af)
        if not addrinfo:
            raise ConnectError(message=f"no address found for {_host_port(host, port)}")
        stream = await self._happy_eyeballs(list(addrinfo), max_buffer_size, source_ip, source_port)
        if ssl_options is None:
            return stream
        tls = stream._start_tls_stream(False, ssl_options, server_hostname=host)
        try:
            await tls.wait_for_handshake()
        except BaseException:
            tls.close()
            raise
        return tls

    async def _happy_eyeballs(
        self,
        addrinfo: list[_Address],
        max_buffer_size: int | None,
        source_ip: str | None,
        source_port: int | None,
    ) -> IOStream:
        primary, secondary = _split(addrinfo)

        def lane(addresses: list[_Address]) -> asyncio.Task[IOStream]:
            return asyncio.ensure_future(
                self._try_in_turn(addresses, max_buffer_size, source_ip, source_port)
            )

        first = lane(primary)
        second: asyncio.Task[IOStream] | None = None
        pending: set[asyncio.Task[IOStream]] = {first}
        errors: list[BaseException] = []
        try:
            if secondary:
                await asyncio.wait(pending, timeout=_INITIAL_CONNECT_TIMEOUT)
                if not first.done() or first.exception() is not None:
                    second = lane(secondary)
                    pending.add(second)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                winner: IOStream | None = None
                for task in done:
                    error = task.exception()
                    if error is not None:
                        errors.append(error)
                    elif winner is None:
                        winner = task.result()
                    else:
                        task.result().close()
                if winner is not None:
                    return winner
                if secondary and second is None:
                    second = lane(secondary)
                    pending.add(second)
        finally:
            for task in pending:
                task.cancel()
        raise errors[-1]

    async def _try_in_turn(
        self,
        addresses: list[_Address],
        max_buffer_size: int | None,
        source_ip: str | None,
        source_port: int | None,
    ) -> IOStream:
        last_error: BaseException | None = None
        for family, address in addresses:
            try:
                stream = self._create_stream(
                    socket.AddressFamily(family), max_buffer_size, source_ip, source_port
                )
            except OSError as e:
                last_error = ConnectError(
                    real_error=e, message=f"cannot bind the source address: {e}"
                )
                continue
            try:
                await stream.connect(address)
            except StreamClosedError as e:
                last_error = e
                continue
            except BaseException:
                stream.close()
                raise
            return stream
        if last_error is None:  # pragma: no cover - lanes are never empty
            last_error = ConnectError(message="no address to connect to")
        raise last_error

    def _create_stream(
        self,
        family: socket.AddressFamily,
        max_buffer_size: int | None,
        source_ip: str | None,
        source_port: int | None,
    ) -> IOStream:
        sock = socket.socket(family, socket.SOCK_STREAM)
        if source_ip is not None or source_port is not None:
            try:
                any_address = "::" if family == socket.AF_INET6 else "0.0.0.0"
                sock.bind((source_ip or any_address, source_port or 0))
            except OSError:
                sock.close()
                raise
        return IOStream(sock, max_buffer_size=max_buffer_size)
