r"""TCPServer: accept connections and hand each one, as a stream, to your code.

Subclass :class:`TCPServer` and override :meth:`~TCPServer.handle_stream`::

    class EchoServer(TCPServer):
        async def handle_stream(self, stream, address):
            try:
                while True:
                    line = await stream.read_until(b"\n", max_bytes=65536)
                    await stream.write(line)
            except StreamClosedError:
                pass

    server = EchoServer()
    server.listen(8888)
    IOLoop.current().start()

Three ways to start, as in Tornado:

1. ``listen(port)``: one process;
2. ``bind(port)`` then ``start(n)``: fork ``n`` processes sharing the
   sockets (``start(0)``: one per CPU);
3. ``sockets = bind_sockets(port)``; ``fork_processes(n)``;
   ``server.add_sockets(sockets)``: the same, spelled out.

Accepting, and the TLS handshake when ``ssl_options`` is given, are done by
the asyncio loop (libuv under uvloop); ``handle_stream`` only sees
connections that are up.  A connection that fails before that (a failed
handshake, a client resetting at once, a descriptor the select poller
cannot watch) is closed and logged on ``squall.general`` at INFO level;
nothing else notices.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Iterable
from typing import Any

from squall.ioloop import IOLoop, PollerError, get_poller
from squall.iostream import BaseIOStream, IOStream, SSLIOStream
from squall.netutil import _DEFAULT_BACKLOG, bind_sockets, ssl_options_to_context

__all__ = ["TCPServer"]

app_log = logging.getLogger("squall.application")
gen_log = logging.getLogger("squall.general")


class TCPServer:
    """A non-blocking, single-threaded TCP server.

    :param ssl_options: to serve TLS: an :class:`ssl.SSLContext` or a
        Tornado ``ssl_options`` dict (``certfile``, ``keyfile``, ...).
    :param max_buffer_size: each stream's ``max_buffer_size``.
    :param read_chunk_size: each stream's ``read_chunk_size``.
    :param io_loop: the loop to accept on (default: the current one when
        sockets are added); kept for Tornado 4 code.
    :raises ValueError: if an ``ssl_options`` dict has no ``certfile``.
    :raises OSError: if the certificate or key cannot be loaded.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        *,
        io_loop: IOLoop | None = None,
    ) -> None:
        self.io_loop = io_loop
        self.ssl_options = ssl_options
        self.max_buffer_size = max_buffer_size
        self.read_chunk_size = read_chunk_size
        self._ssl_context: ssl.SSLContext | None = None
        if ssl_options is not None:
            if isinstance(ssl_options, dict) and "certfile" not in ssl_options:
                raise ValueError('ssl_options needs a "certfile" to serve TLS')
            self._ssl_context = ssl_options_to_context(ssl_options, server_side=True)
        self._sockets: dict[int, socket.socket] = {}
        self._servers: dict[int, asyncio.AbstractServer] = {}
        self._pending_sockets: list[socket.socket] = []
        self._started = False
        self._stopped = False
        self._tls_upgrade = False

    # ------------------------------------------------------------------ setup

    def listen(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = _DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Listen on ``port`` (all interfaces unless ``address`` is given).

        Accepting starts once the IOLoop runs.  Arguments are those of
        :func:`squall.netutil.bind_sockets`.

        :raises OSError: if the port cannot be bound.

        .. versionadded:: 0.1.0
        """
        sockets = bind_sockets(port, address, family, backlog, flags, reuse_port)
        self.add_sockets(sockets)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        """Accept connections on these listening sockets (from :func:`bind_sockets`).

        The server owns them from now on; :meth:`stop` closes them.

        .. versionadded:: 0.1.0
        """
        loop = (self.io_loop or IOLoop.current()).asyncio_loop
        for sock in sockets:
            fd = sock.fileno()
            self._sockets[fd] = sock
            loop.create_task(self._serve(loop, sock, fd))

    def add_socket(self, socket: socket.socket) -> None:
        """Accept connections on one listening socket; see :meth:`add_sockets`.

        .. versionadded:: 0.1.0
        """
        self.add_sockets([socket])

    def bind(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = _DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Bind to ``port`` now and accept once :meth:`start` is called.

        May be called several times before :meth:`start` (several ports or
        addresses).  Arguments are those of
        :func:`squall.netutil.bind_sockets`.

        :raises OSError: if the port cannot be bound.

        .. versionadded:: 0.1.0
        """
        sockets = bind_sockets(port, address, family, backlog, flags, reuse_port)
        if self._started:
            self.add_sockets(sockets)
        else:
            self._pending_sockets.extend(sockets)

    def start(self, num_processes: int | None = 1, max_restarts: int | None = None) -> None:
        """Start accepting on the sockets from :meth:`bind`.

        :param num_processes: 1 (the default) serves from this process;
            any other value forks that many processes first (``None`` or
            0: one per CPU) with :func:`squall.process.fork_processes`,
            which must happen before any IOLoop exists.
        :param max_restarts: how many times a crashed child is restarted
            (default 100).
        :raises RuntimeError: if called twice.

        .. versionadded:: 0.1.0
        """
        if self._started:
            raise RuntimeError("TCPServer.start() was already called")
        self._started = True
        if num_processes != 1:
            from squall import process

            if max_restarts is None:
                process.fork_processes(num_processes)
            else:
                process.fork_processes(num_processes, max_restarts)
        sockets = self._pending_sockets
        self._pending_sockets = []
        self.add_sockets(sockets)

    def stop(self) -> None:
        """Stop accepting and close the listening sockets.

        Connections already accepted go on.  Calling it again does nothing.

        .. versionadded:: 0.1.0
        """
        if self._stopped:
            return
        self._stopped = True
        for fd, sock in list(self._sockets.items()):
            server = self._servers.pop(fd, None)
            if server is not None:
                server.close()
                sock.close()
            # Otherwise _serve has not run yet: it closes the socket itself.
        self._sockets.clear()
        for sock in self._pending_sockets:
            sock.close()
        self._pending_sockets = []

    # ------------------------------------------------------------------ connections

    def handle_stream(self, stream: IOStream, address: Any) -> Awaitable[None] | None:
        """Override to handle a new connection.

        May be a coroutine; an exception it raises is logged on
        ``squall.application`` and closes that stream, nothing more.

        :param stream: the connection, an :class:`~squall.iostream.IOStream`
            (an :class:`~squall.iostream.SSLIOStream` whose handshake is
            done, when serving TLS).
        :param address: the client's address, as ``getpeername()`` gives it.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    async def _serve(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, fd: int) -> None:
        if self._stopped or self._sockets.get(fd) is not sock:
            sock.close()
            return
        # The loop does the TLS handshake itself, except under a poller that
        # cannot watch every descriptor (select): there each connection is
        # checked first, then upgraded (see _make_protocol).
        context = self._ssl_context
        if context is not None and self._upgrade_tls(loop):
            self._tls_upgrade = True
            context = None
        try:
            server = await loop.create_server(
                self._make_protocol, sock=sock, backlog=_DEFAULT_BACKLOG, ssl=context
            )
        except Exception:
            app_log.error("cannot accept connections on %r", sock, exc_info=True)
            self._sockets.pop(fd, None)
            sock.close()
            return
        if self._stopped or self._sockets.get(fd) is not sock:
            server.close()
            sock.close()
            return
        self._servers[fd] = server

    def _upgrade_tls(self, loop: asyncio.AbstractEventLoop) -> bool:
        try:
            return get_poller(IOLoop.current().poller).max_fd is not None
        except PollerError:
            return getattr(getattr(loop, "_selector", None), "max_fd", None) is not None

    def _make_protocol(self) -> Any:
        stream: IOStream
        if self._ssl_context is not None:
            stream = SSLIOStream(
                None,
                max_buffer_size=self.max_buffer_size,
                read_chunk_size=self.read_chunk_size,
                ssl_options=self._ssl_context,
                server_side=True,
            )
            stream._tls_pending = self._tls_upgrade
        else:
            stream = IOStream(
                None, max_buffer_size=self.max_buffer_size, read_chunk_size=self.read_chunk_size
            )
        stream._on_ready = self._on_stream_ready
        return stream._protocol

    def _on_stream_ready(self, stream: BaseIOStream) -> None:
        transport = stream._rtransport
        address = transport.get_extra_info("peername") if transport is not None else None
        try:
            result = self.handle_stream(stream, address)  # type: ignore[arg-type]
        except Exception:
            app_log.error("Error in connection callback for %s", address, exc_info=True)
            stream.close(exc_info=True)
            return
        if result is not None:
            task = asyncio.ensure_future(result)
            task.add_done_callback(lambda t: self._check_handler(t, stream, address))

    def _check_handler(self, task: asyncio.Future[Any], stream: BaseIOStream, address: Any) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            app_log.error(
                "Error in connection handler for %s",
                address,
                exc_info=(type(error), error, error.__traceback__),
            )
            stream.close(exc_info=error)
