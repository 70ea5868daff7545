"""A line-based chat server built on squall.ioloop alone.

Every line a client sends is broadcast to every connected client, prefixed by
the sender's address.  Clients type ``/who`` to list who is connected and
``/quit`` to leave.  It uses nothing but non-blocking sockets,
``IOLoop.add_handler`` and a ``PeriodicCallback`` (an idle-client reaper), so
it runs under every poller::

    python examples/linechat/server.py --port 8888
    nc 127.0.0.1 8888            # in two other terminals

``SQUALL_POLLER=select`` (or poll, epoll, uvloop) picks the poller.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import socket
import time

from squall.ioloop import IOLoop, PeriodicCallback

log = logging.getLogger("linechat")

MAX_LINE = 4096
IDLE_SECONDS = 600


class Client:
    def __init__(self, server: ChatServer, sock: socket.socket, address: tuple[str, int]) -> None:
        self.server = server
        self.sock = sock
        self.name = f"{address[0]}:{address[1]}"
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.last_seen = time.monotonic()
        self.closed = False

    def on_events(self, sock: socket.socket, events: int) -> None:
        if events & IOLoop.READ:
            self.on_readable()
        if not self.closed and events & IOLoop.WRITE:
            self.flush()

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            self.close(f"error: {e}")
            return
        if not data:
            self.close("disconnected")
            return
        self.last_seen = time.monotonic()
        self.inbuf += data
        while b"\n" in self.inbuf:
            line, _, rest = bytes(self.inbuf).partition(b"\n")
            self.inbuf = bytearray(rest)
            self.on_line(line.rstrip(b"\r").decode("utf-8", "replace"))
            if self.closed:
                return
        if len(self.inbuf) > MAX_LINE:
            self.send("! line too long; bye\n")
            self.close("line too long")

    def on_line(self, line: str) -> None:
        if line == "/quit":
            self.send("bye\n")
            self.close("quit")
        elif line == "/who":
            self.send("".join(f"* {c.name}\n" for c in self.server.clients))
        elif line.strip():
            self.server.broadcast(f"<{self.name}> {line}\n")

    def send(self, text: str) -> None:
        if self.closed:
            return
        self.outbuf += text.encode()
        if len(self.outbuf) > 1 << 20:
            self.close("not reading (output buffer over 1 MiB)")
            return
        self.flush()

    def flush(self) -> None:
        try:
            sent = self.sock.send(self.outbuf)
        except BlockingIOError:
            sent = 0
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                self.close(f"error: {e}")
                return
            sent = 0
        del self.outbuf[:sent]
        events = IOLoop.READ | (IOLoop.WRITE if self.outbuf else 0)
        self.server.io_loop.update_handler(self.sock, events)

    def close(self, why: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.server.io_loop.remove_handler(self.sock)
        self.sock.close()
        self.server.clients.discard(self)
        log.info("%s left (%s)", self.name, why)
        self.server.broadcast(f"* {self.name} left\n")


class ChatServer:
    def __init__(self, io_loop: IOLoop, port: int, address: str) -> None:
        self.io_loop = io_loop
        self.clients: set[Client] = set()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((address, port))
        self.listener.listen(128)
        self.listener.setblocking(False)
        io_loop.add_handler(self.listener, self.on_accept, IOLoop.READ)
        self.reaper = PeriodicCallback(self.reap_idle, 10_000, jitter=0.1)
        self.reaper.start()

    def on_accept(self, listener: socket.socket, events: int) -> None:
        for _ in range(64):
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.warning("accept failed: %s", e)
                return
            sock.setblocking(False)
            client = Client(self, sock, address)
            try:
                self.io_loop.add_handler(sock, client.on_events, IOLoop.READ)
            except ValueError as e:  # e.g. the select poller's FD_SETSIZE limit
                log.warning("refusing %s: %s", client.name, e)
                sock.close()
                continue
            self.clients.add(client)
            log.info("%s joined", client.name)
            client.send(f"welcome {client.name}; {len(self.clients)} here. /who, /quit\n")
            self.broadcast(f"* {client.name} joined\n", exclude=client)

    def broadcast(self, text: str, exclude: Client | None = None) -> None:
        for client in list(self.clients):
            if client is not exclude:
                client.send(text)

    def reap_idle(self) -> None:
        deadline = time.monotonic() - IDLE_SECONDS
        for client in list(self.clients):
            if client.last_seen < deadline:
                client.send("! idle too long; bye\n")
                client.close("idle")

    def close(self) -> None:
        self.reaper.stop()
        for client in list(self.clients):
            client.close("server shutting down")
        self.io_loop.remove_handler(self.listener)
        self.listener.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    io_loop = IOLoop.current()
    server = ChatServer(io_loop, args.port, args.address)

    def shutdown(signum: int, frame: object) -> None:
        io_loop.add_callback_from_signal(io_loop.stop)

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    log.info(
        "line chat on %s:%d (poller: %s); connect with: nc %s %d",
        args.address,
        args.port,
        io_loop.poller,
        args.address,
        args.port,
    )
    io_loop.start()
    server.close()
    io_loop.close()


if __name__ == "__main__":
    main()
