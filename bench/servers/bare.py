"""The ceiling: a bare asyncio Protocol that answers every request head.

It only looks for the end of each request head (``\\r\\n\\r\\n``) and writes a
fixed ``Hello, world`` response; a head containing ``Connection: close`` gets
the same response with ``Connection: close`` and the connection is closed.
No parsing, no routing, no request object: what is left is the cost of the
event loop and the sockets, i.e. the most any framework on this loop can do.

Usage: ``python bench/servers/bare.py [--uvloop] [--port N] [--cpu N]``
"""

from __future__ import annotations

import asyncio

from _common import listening_socket, loop_name, parse_args, ready, run_asyncio

KEEP_ALIVE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello, world"
)
CLOSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
    b"Connection: close\r\n\r\nHello, world"
)


class HelloProtocol(asyncio.Protocol):
    __slots__ = ("buffer", "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        transport = self.transport
        if transport is None:
            return
        start = 0
        while True:
            end = buffer.find(b"\r\n\r\n", start)
            if end < 0:
                break
            head = buffer[start:end]
            start = end + 4
            if b"onnection: close" in head or b"onnection: Close" in head:
                transport.write(CLOSE)
                transport.close()
                self.buffer = b""
                return
            transport.write(KEEP_ALIVE)
        self.buffer = buffer[start:]


def main() -> None:
    args = parse_args(__doc__ or "")
    sock = listening_socket(args.host, args.port)

    async def start() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(HelloProtocol, sock=sock)
        ready(sock, server="bare asyncio Protocol", loop=loop_name())

    run_asyncio(start, args.uvloop)


if __name__ == "__main__":
    main()
