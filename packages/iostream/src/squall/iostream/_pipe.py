"""PipeIOStream: a stream over a pipe (or FIFO, or character device) descriptor."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import select
import socket
import stat
from typing import Any

from squall.ioloop import IOLoop
from squall.iostream._base import BaseIOStream, fd_refusal
from squall.iostream._errors import ConnectError


def _check_pollable(fd: int) -> bool:
    """Raise ValueError unless the loop can wait for ``fd``; return whether it is a socket.

    uvloop aborts the whole process when asked to watch a regular file or a
    device that epoll refuses (``/dev/null``), so this is checked first.
    """
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        raise ValueError(
            f"descriptor {fd} is not a pipe, FIFO, socket or character device: "
            "there is nothing to wait for on it"
        )
    if stat.S_ISCHR(mode) and hasattr(select, "epoll"):
        probe = select.epoll()
        try:
            probe.register(fd, select.EPOLLIN)
        except OSError as e:
            raise ValueError(f"descriptor {fd} cannot be polled: {e}") from e
        finally:
            probe.close()
    return stat.S_ISSOCK(mode)


class _WritePipeProtocol(asyncio.Protocol):
    """The protocol of a pipe stream's write side: forwards flow control."""

    def __init__(self, stream: PipeIOStream) -> None:
        self.stream = stream

    def pause_writing(self) -> None:
        self.stream._pause_writing()

    def resume_writing(self) -> None:
        self.stream._resume_writing()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.stream._connection_lost(exc)


class PipeIOStream(BaseIOStream):
    """A stream over a pipe's file descriptor, such as ``os.pipe()`` gives.

    The descriptor's open mode decides what the stream can do: the read end
    of a pipe reads, the write end writes, a descriptor opened read-write
    does both.  The stream owns the descriptor and closes it.  Pipes and
    FIFOs, sockets and character devices are accepted; regular files are
    not (they are always "ready", so there is nothing to wait for).

    :param fd: the file descriptor.
    :param max_buffer_size: see :class:`BaseIOStream`.
    :param read_chunk_size: see :class:`BaseIOStream`.
    :param max_write_buffer_size: see :class:`BaseIOStream`.
    :param io_loop: see :class:`BaseIOStream`.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        fd: int,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
        *,
        io_loop: IOLoop | None = None,
    ) -> None:
        super().__init__(max_buffer_size, read_chunk_size, max_write_buffer_size, io_loop=io_loop)
        self.fd = fd
        access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        self._readable = access in (os.O_RDONLY, os.O_RDWR)
        self._writable = access in (os.O_WRONLY, os.O_RDWR)
        self._fd_owned = True
        self._attach_task: asyncio.Task[None] | None = self._loop.create_task(self._attach())

    def fileno(self) -> int:
        """Return the pipe's file descriptor.

        .. versionadded:: 0.1.0
        """
        return self.fd

    def write(self, data: bytes | bytearray | memoryview, callback: Any = None) -> Any:
        """Write ``data``; see :meth:`BaseIOStream.write`.

        :raises ValueError: if the descriptor was opened read-only.

        .. versionadded:: 0.1.0
        """
        if not self._writable and not self._closed:
            raise ValueError(f"pipe descriptor {self.fd} is open read-only: it cannot be written")
        return super().write(data, callback)

    def _connection_made(self, transport: Any) -> None:
        # The read side's transport; the stream starts using both sides
        # once both exist (see _attach).
        self._rtransport = transport

    async def _attach(self) -> None:
        loop = self._loop
        fd = self.fd
        rtransport: Any = None
        wtransport: Any = None
        rfile: io.FileIO | None = None
        wfile: io.FileIO | None = None
        sock: socket.socket | None = None
        try:
            refusal = fd_refusal(self.io_loop, fd)
            if refusal is not None:
                raise refusal
            if _check_pollable(fd):
                # A socket: one socket transport does both directions (the
                # pipe transports would take incoming data for end of file).
                sock = socket.socket(fileno=fd)
                self._fd_owned = False
                factory = self._get_protocol
                if sock.family == socket.AF_UNIX:
                    rtransport, _ = await loop.create_unix_connection(factory, sock=sock)
                else:
                    rtransport, _ = await loop.create_connection(factory, sock=sock)
                wtransport = rtransport
                self._attach_task = None
                self._set_transports(rtransport, wtransport)
                return
            if self._readable:
                rfile = io.FileIO(fd, "r+b" if self._writable else "rb", closefd=True)
                self._fd_owned = False  # the file object closes it now
                rtransport, _ = await loop.connect_read_pipe(self._get_protocol, rfile)
            if self._writable:
                wfile = io.FileIO(os.dup(fd) if self._readable else fd, "wb", closefd=True)
                self._fd_owned = False
                refusal = fd_refusal(self.io_loop, wfile.fileno())
                if refusal is not None:
                    raise refusal
                wtransport, _ = await loop.connect_write_pipe(
                    lambda: _WritePipeProtocol(self), wfile
                )
        except BaseException as e:
            # Whatever no transport took is closed here.
            if sock is not None:
                if rtransport is not None:
                    rtransport.abort()
                else:
                    sock.close()
            elif rtransport is not None and rtransport is wtransport:
                rtransport.abort()
            else:
                for transport, f in ((rtransport, rfile), (wtransport, wfile)):
                    if transport is not None:
                        transport.abort()
                    elif f is not None:
                        f.close()
            if rfile is None and wfile is None:
                self._release_fd()
            self._attach_task = None
            if isinstance(e, asyncio.CancelledError):
                raise
            if not isinstance(e, Exception):
                raise
            self._ready_error = ConnectError(
                real_error=e, message=f"cannot use pipe descriptor {fd}: {e}"
            )
            self.close(exc_info=e)
            return
        self._attach_task = None
        self._set_transports(rtransport, wtransport)

    def _get_protocol(self) -> Any:
        return self._protocol

    def _close_resources(self) -> None:
        task = self._attach_task
        if task is not None:
            self._attach_task = None
            if not task.done():
                task.cancel()
                task.add_done_callback(self._release_fd)

    def _release_fd(self, task: Any = None) -> None:
        # Closed before _attach ever ran: the descriptor is still ours.
        if self._fd_owned:
            self._fd_owned = False
            os.close(self.fd)
