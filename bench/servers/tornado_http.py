"""Tornado 6's HTTPServer with a delegate answering ``Hello, world``.

The twin of ``squall_http.py``: the same delegate classes, Tornado's imports.

Usage: ``python bench/servers/tornado_http.py [--uvloop] [--port N] [--cpu N]``
"""

from __future__ import annotations

from typing import Any

from _common import HELLO, listening_socket, loop_name, parse_args, ready, run_asyncio
from tornado.httpserver import HTTPServer
from tornado.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    ResponseStartLine,
)

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

    async def start() -> None:
        server = HTTPServer(HelloDelegate())
        server.add_sockets([sock])
        ready(sock, server="tornado HTTPServer", loop=loop_name())

    run_asyncio(start, args.uvloop)


if __name__ == "__main__":
    main()
