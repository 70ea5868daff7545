"""Squall's HTTPServer with a delegate answering ``Hello, world``.

The twin of ``tornado_http.py``: the same delegate classes written against
Squall's public, Tornado-compatible API, run Tornado 4/5 style on
``IOLoop.current().start()``.  The poller comes from ``SQUALL_POLLER``
(``epoll`` by default here, ``uvloop`` with ``--uvloop``); ``--httptools``
sets ``SQUALL_HTTP_PARSER=httptools``.

Usage: ``python bench/servers/squall_http.py [--uvloop] [--httptools] [--port N] [--cpu N]``
"""

from __future__ import annotations

from typing import Any

from _common import HELLO, listening_socket, parse_args, ready
from squall.http1connection import HTTP1ConnectionParameters
from squall.httpserver import HTTPServer
from squall.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    ResponseStartLine,
)
from squall.ioloop import IOLoop

OK = ResponseStartLine("HTTP/1.1", 200, "OK")


class HelloMessage(HTTPMessageDelegate):
    def __init__(self, request_conn: Any) -> None:
        self.request_conn = request_conn

    def finish(self) -> None:
        self.request_conn.write_headers(
            OK, HTTPHeaders({"Content-Type": "text/plain", "Content-Length": "12"}), HELLO
        )
        self.request_conn.finish()


class HelloDelegate(HTTPServerConnectionDelegate):
    def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
        return HelloMessage(request_conn)


def main() -> None:
    args = parse_args(__doc__ or "")
    sock = listening_socket(args.host, args.port)
    io_loop = IOLoop.current()
    server = HTTPServer(HelloDelegate())
    server.add_sockets([sock])
    ready(
        sock,
        server="squall HTTPServer",
        poller=io_loop.poller,
        parser=HTTP1ConnectionParameters().parser,
    )
    try:
        io_loop.start()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
