"""IOStream (sockets) and SSLIOStream (TLS over sockets)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any

from squall.ioloop import FD_SETSIZE, FDSetSizeError, IOLoop
from squall.iostream._base import BaseIOStream, fd_refusal, gen_log
from squall.iostream._errors import ConnectError, StreamClosedError, TLSHandshakeError
from squall.netutil import _client_ssl_defaults, _server_ssl_defaults, ssl_options_to_context

_SSLOptions = dict[str, Any] | ssl.SSLContext | None

# Attributes of the TLS session that SSLIOStream.socket answers (Tornado's
# SSLIOStream.socket was an ssl.SSLSocket).
_SSL_OBJECT_ATTRIBUTES = frozenset(
    [
        "getpeercert",
        "cipher",
        "shared_ciphers",
        "compression",
        "version",
        "selected_alpn_protocol",
        "get_channel_binding",
        "server_hostname",
        "server_side",
        "session",
        "session_reused",
    ]
)


def _is_connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


def _describe_address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = address[0]
        return f"[{host}]:{address[1]}" if ":" in str(host) else f"{host}:{address[1]}"
    return repr(address)


class _TLSSocket:
    """The socket of a TLS stream, answering TLS questions too.

    ``getpeercert()``, ``cipher()``, ``version()`` ... come from the TLS
    session; everything else (``fileno``, ``getpeername``, ``setsockopt``
    ...) from the underlying socket, as with Tornado's ``ssl.SSLSocket``.
    """

    def __init__(self, sock: Any, ssl_object: Any) -> None:
        self._sock = sock
        self._ssl_object = ssl_object

    def __getattr__(self, name: str) -> Any:
        if name in _SSL_OBJECT_ATTRIBUTES:
            return getattr(self._ssl_object, name)
        return getattr(self._sock, name)

    def __repr__(self) -> str:
        return f"<TLS socket over {self._sock!r}>"


class IOStream(BaseIOStream):
    r"""A stream over a TCP or Unix-domain socket.

    Give it a connected socket, or an unconnected one and call
    :meth:`connect`::

        stream = IOStream(socket.socket())
        await stream.connect(("127.0.0.1", 8888))
        await stream.write(b"ping\n")
        print(await stream.read_until(b"\n"))

    The stream owns the socket from then on and closes it.  Reads and
    writes may be issued before the connection is up; they start once it
    is.

    :param socket: the socket (made non-blocking).
    :param max_buffer_size: see :class:`BaseIOStream`.
    :param read_chunk_size: see :class:`BaseIOStream`.
    :param max_write_buffer_size: see :class:`BaseIOStream`.
    :param io_loop: see :class:`BaseIOStream`.

    .. versionadded:: 0.1.0
    """

    _tls: tuple[ssl.SSLContext, bool, str | None] | None = None
    # True when a plain transport must be upgraded with loop.start_tls.
    _tls_pending = False

    def __init__(
        self,
        socket: socket.socket | None,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
        *,
        io_loop: IOLoop | None = None,
    ) -> None:
        super().__init__(max_buffer_size, read_chunk_size, max_write_buffer_size, io_loop=io_loop)
        self.socket: Any = socket
        self._connect_task: asyncio.Task[None] | None = None
        self._raw_transport: Any = None
        self._owns_socket = socket is not None
        self._address: Any = None
        if socket is not None:
            socket.setblocking(False)
            if _is_connected(socket):
                self._connect_task = self._loop.create_task(self._attach())

    def fileno(self) -> int:
        """Return the socket's file descriptor (-1 once it is closed).

        .. versionadded:: 0.1.0
        """
        sock = self.socket
        return -1 if sock is None else int(sock.fileno())

    def set_nodelay(self, value: bool) -> None:
        """Set ``TCP_NODELAY`` (True: send small writes at once).

        Squall's transports start with it on, as asyncio's do; a no-op on
        Unix-domain sockets and closed streams.

        .. versionadded:: 0.1.0
        """
        sock = self.socket
        if sock is None or self._closed or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if value else 0)
        except OSError:
            # The peer may have reset the connection: nothing left to tune.
            pass

    # ------------------------------------------------------------------ connecting

    def connect(
        self,
        address: Any,
        callback: Callable[[], Any] | None = None,
        server_hostname: str | None = None,
    ) -> asyncio.Future[IOStream]:
        """Connect the socket to ``address``.

        :param address: what :meth:`socket.socket.connect` takes, e.g.
            ``("127.0.0.1", 80)``.
        :param callback: classic style: called with no argument once
            connected.
        :param server_hostname: for :class:`SSLIOStream`, the name to send
            (SNI) and to check the certificate against.
        :returns: a Future resolving to the stream once connected (for TLS,
            once the handshake is done).  It fails with
            :class:`ConnectError` (refused, unreachable, descriptor beyond
            the poller's limit) or :class:`TLSHandshakeError`, and the
            stream is closed.
        :raises StreamClosedError: if the stream is closed.
        :raises ValueError: if the stream is already connecting or
            connected.

        .. versionadded:: 0.1.0
        """
        if self._closed:
            raise StreamClosedError(real_error=self.error)
        if self._connect_task is not None or self._ready or self.socket is None:
            raise ValueError("this stream is already connecting or connected")
        self._address = address
        self._prepare_connect(address, server_hostname)
        future = self._new_ready_future()
        self._connect_task = self._loop.create_task(self._connect(address))
        if callback is not None:
            future.add_done_callback(lambda f: self._deliver_no_arg(callback, f))
        return future

    def _prepare_connect(self, address: Any, server_hostname: str | None) -> None:
        """Hook for SSLIOStream: remember the host name to verify."""

    async def _connect(self, address: Any) -> None:
        sock = self.socket
        try:
            refusal = fd_refusal(self.io_loop, sock.fileno())
            if refusal is not None:
                raise refusal
            await self._loop.sock_connect(sock, address)
        except asyncio.CancelledError:
            self._owns_socket = False
            sock.close()
            raise
        except Exception as e:
            self._owns_socket = False
            sock.close()
            self._fail(
                ConnectError(
                    real_error=e,
                    message=f"connecting to {_describe_address(address)} failed: {e}",
                )
            )
            return
        await self._attach()

    async def _attach(self) -> None:
        """Put a transport (a TLS one, for SSLIOStream) on the connected socket."""
        sock = self.socket
        tls = self._tls
        try:
            refusal = fd_refusal(self.io_loop, sock.fileno())
            if refusal is not None:
                raise refusal
            factory = self._get_protocol
            if tls is not None:
                context, server_side, server_hostname = tls
                if server_side:
                    await self._loop.connect_accepted_socket(factory, sock=sock, ssl=context)
                else:
                    await self._loop.create_connection(
                        factory, sock=sock, ssl=context, server_hostname=server_hostname or ""
                    )
            elif sock.family == socket.AF_UNIX:
                await self._loop.create_unix_connection(factory, sock=sock)
            else:
                await self._loop.create_connection(factory, sock=sock)
        except asyncio.CancelledError:
            if self._owns_socket:
                self._owns_socket = False
                sock.close()
            raise
        except Exception as e:
            peer = self._address
            if self._owns_socket:
                self._owns_socket = False
                if peer is None:
                    try:
                        peer = sock.getpeername()
                    except OSError:
                        pass
                sock.close()
            error: StreamClosedError
            if tls is not None and not isinstance(e, FDSetSizeError):
                error = TLSHandshakeError(
                    real_error=e,
                    message=f"TLS handshake with {_describe_address(peer)} failed: {e}",
                )
            else:
                error = ConnectError(real_error=e, message=f"cannot use the socket: {e}")
            self._fail(error)
            return
        self._connect_task = None

    def _get_protocol(self) -> Any:
        return self._protocol

    def _fail(self, error: BaseException) -> None:
        self._connect_task = None
        self._ready_error = error
        if not self._ready_waiters:
            # Nobody awaits this connection (a server's): say why it died.
            gen_log.info("%s", error)
        self.close(exc_info=error)

    def _connection_made(self, transport: Any) -> None:
        if self._closed:
            transport.abort()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            fd = sock.fileno()
            if fd >= FD_SETSIZE:
                refusal = fd_refusal(self.io_loop, fd)
                if refusal is not None:
                    transport.abort()
                    self._fail(ConnectError(real_error=refusal, message=str(refusal)))
                    return
            if self.socket is None:
                self.socket = sock
        self._owns_socket = False
        if self._tls_pending:
            # TLS is started on this plain transport (TCPServer on a poller
            # with a descriptor limit): nothing may reach the plain protocol.
            transport.pause_reading()
            self._raw_transport = transport
            self._connect_task = self._loop.create_task(self._handshake())
            return
        if self._tls is not None:
            self._tls_ready(transport)
        self._set_transports(transport, transport)

    async def _handshake(self) -> None:
        tls = self._tls
        raw = self._raw_transport
        if tls is None or raw is None:
            return
        context, server_side, server_hostname = tls
        try:
            transport = await self._loop.start_tls(
                raw,
                self._protocol,
                context,
                server_side=server_side,
                server_hostname=None if server_side else server_hostname,
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._raw_transport = None
            raw.abort()
            peer = _describe_address(raw.get_extra_info("peername"))
            self._fail(
                TLSHandshakeError(real_error=e, message=f"TLS handshake with {peer} failed: {e}")
            )
            return
        self._raw_transport = None
        self._connect_task = None
        self._tls_pending = False
        if transport is None:  # pragma: no cover - start_tls contract
            self._fail(TLSHandshakeError(message="TLS handshake gave no transport"))
            return
        self._tls_ready(transport)
        self._set_transports(transport, transport)

    def _tls_ready(self, transport: Any) -> None:
        """Hook for SSLIOStream: expose the TLS session."""

    def _close_resources(self) -> None:
        raw = self._raw_transport
        if raw is not None:
            self._raw_transport = None
            raw.abort()
        task = self._connect_task
        if task is not None:
            self._connect_task = None
            if not task.done():
                # The task closes the socket if it had started; if it had
                # not, nothing else will.
                task.cancel()
                task.add_done_callback(self._release_socket)
                return
        self._release_socket()

    def _release_socket(self, task: Any = None) -> None:
        if self._owns_socket and self.socket is not None:
            self._owns_socket = False
            self.socket.close()

    # ------------------------------------------------------------------ TLS upgrade

    def start_tls(
        self,
        server_side: bool,
        ssl_options: _SSLOptions = None,
        server_hostname: str | None = None,
    ) -> asyncio.Future[SSLIOStream]:
        """Upgrade this connected, idle stream to TLS (STARTTLS).

        This stream is no longer usable afterwards; use the
        :class:`SSLIOStream` the Future resolves to.  The close callback
        moves to it.

        :param server_side: True on the server's end.
        :param ssl_options: an :class:`ssl.SSLContext` or a Tornado
            ``ssl_options`` dict (default: verify the server against the
            system's authorities, on the client).
        :param server_hostname: the name to check the server's certificate
            against (client side).
        :returns: a Future resolving to the new stream once the handshake is
            done; it fails with :class:`TLSHandshakeError`.
        :raises ValueError: if the stream is not connected, is closed, or
            has a read or write pending or unread bytes buffered.

        .. versionadded:: 0.1.0
        """
        new = self._start_tls_stream(server_side, ssl_options, server_hostname)
        future: asyncio.Future[SSLIOStream] = new._new_ready_future()
        return future

    def _start_tls_stream(
        self,
        server_side: bool,
        ssl_options: _SSLOptions = None,
        server_hostname: str | None = None,
    ) -> SSLIOStream:
        """Hand the connection to a new SSLIOStream and start its handshake."""
        transport = self._rtransport
        if (
            self._closed
            or not self._ready
            or transport is None
            or self._read_future is not None
            or self.writing()
            or self._start != self._end
        ):
            raise ValueError(
                "start_tls needs a connected, idle stream: no pending read or write "
                "and no unread bytes"
            )
        if ssl_options is None:
            ssl_options = _server_ssl_defaults if server_side else _client_ssl_defaults
        context = ssl_options_to_context(ssl_options, server_side=server_side)
        new = SSLIOStream(
            None,
            max_buffer_size=self.max_buffer_size,
            read_chunk_size=self.read_chunk_size,
            max_write_buffer_size=self.max_write_buffer_size,
            ssl_options=context,
            server_side=server_side,
            server_hostname=server_hostname,
            io_loop=self.io_loop,
        )
        transport.pause_reading()
        new.socket = self.socket
        new._owns_socket = False
        new._protocol = self._protocol
        self._protocol.bind(new)
        new._raw_transport = transport
        new._close_callback = self._close_callback
        self._close_callback = None
        # Detach: this object no longer refers to the connection.
        self._rtransport = self._wtransport = None
        self._closed = True
        new._connect_task = self._loop.create_task(new._handshake())
        return new


class SSLIOStream(IOStream):
    """A TLS stream over a socket.

    Client side: give it an unconnected socket and call :meth:`connect`
    (with ``server_hostname``), or use :class:`squall.tcpclient.TCPClient`.
    Server side: :class:`squall.tcpserver.TCPServer` builds them.  Reads
    and writes issued before the handshake completes wait for it.

    :param socket: the socket; an :class:`ssl.SSLSocket` made with
        ``do_handshake_on_connect=False`` (the Tornado 4 convention) is
        unwrapped and its context, side and host name are used.
    :param ssl_options: an :class:`ssl.SSLContext` or a Tornado
        ``ssl_options`` dict; default: a client context verifying against
        the system's authorities.
    :param server_side: True on the server's end.
    :param server_hostname: the name to send and verify (client side).

    Other arguments are :class:`IOStream`'s.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        socket: socket.socket | None,
        *args: Any,
        ssl_options: _SSLOptions = None,
        server_side: bool | None = None,
        server_hostname: str | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(socket, ssl.SSLSocket):
            if ssl_options is None:
                ssl_options = socket.context
            if server_side is None:
                server_side = socket.server_side
            if server_hostname is None:
                server_hostname = socket.server_hostname
            socket = _unwrap(socket)
        server_side = bool(server_side)
        if ssl_options is None:
            ssl_options = _server_ssl_defaults if server_side else _client_ssl_defaults
        context = ssl_options_to_context(ssl_options, server_side=server_side)
        self._ssl_options = ssl_options
        self._ssl_object: Any = None
        self._tls = (context, server_side, server_hostname)
        super().__init__(socket, *args, **kwargs)

    def _prepare_connect(self, address: Any, server_hostname: str | None) -> None:
        context, server_side, current = self._tls or (_client_ssl_defaults, False, None)
        if server_hostname is None:
            server_hostname = current
        if server_hostname is None and isinstance(address, tuple) and address:
            server_hostname = str(address[0])
        self._tls = (context, server_side, server_hostname)

    def _tls_ready(self, transport: Any) -> None:
        self._ssl_object = transport.get_extra_info("ssl_object")
        self.socket = _TLSSocket(self.socket, self._ssl_object)

    def wait_for_handshake(
        self, callback: Callable[[], Any] | None = None
    ) -> asyncio.Future[SSLIOStream]:
        """Wait for the TLS handshake to complete.

        :param callback: classic style: called with no argument once done.
        :returns: a Future resolving to the stream; it fails with
            :class:`TLSHandshakeError` if the handshake failed (a bad
            certificate, a peer that hung up) or :class:`StreamClosedError`
            if the stream closed first.

        .. versionadded:: 0.1.0
        """
        future: asyncio.Future[SSLIOStream] = self._new_ready_future()
        if callback is not None:
            future.add_done_callback(lambda f: self._deliver_no_arg(callback, f))
        return future


def _unwrap(sock: ssl.SSLSocket) -> socket.socket:
    """Turn a not-yet-handshaken SSLSocket back into its plain socket."""
    fileno = sock.detach()
    return socket.socket(sock.family, sock.type, sock.proto, fileno=fileno)
