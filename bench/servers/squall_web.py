"""The three benchmark web applications on Squall.

The handlers and the application are those of ``tornado_web.py`` with
``tornado`` renamed to ``squall``; the server starts Tornado 4/5 style, on
``IOLoop.current().start()``.  The poller comes from
``SQUALL_POLLER`` (``epoll`` by default here, ``uvloop`` with ``--uvloop``);
``--httptools`` sets ``SQUALL_HTTP_PARSER=httptools``.

Usage::

    python bench/servers/squall_web.py --app hello|user|form \
        [--uvloop] [--httptools] [--port N] [--cpu N]
"""

from __future__ import annotations

from _common import listening_socket, parse_args, ready, user_record
from squall import web
from squall.http1connection import HTTP1ConnectionParameters
from squall.http1connection import _connection as _connection_module
from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop


class HelloHandler(web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


class UserHandler(web.RequestHandler):
    def get(self, user_id: str) -> None:
        self.write(user_record(int(user_id)))


class FormHandler(web.RequestHandler):
    def post(self) -> None:
        name = self.get_argument("name")
        self.get_argument("email")
        message = self.get_argument("message")
        self.write(f"{name}:{len(message)}")


ROUTES: dict[str, list[tuple[str, type[web.RequestHandler]]]] = {
    "hello": [(r"/", HelloHandler)],
    "user": [(r"/user/(\d+)", UserHandler)],
    "form": [(r"/form", FormHandler)],
}


def make_app(app: str) -> web.Application:
    return web.Application(ROUTES[app])


def main() -> None:
    args = parse_args(__doc__ or "")
    sock = listening_socket(args.host, args.port)
    io_loop = IOLoop.current()
    server = HTTPServer(make_app(args.app))
    server.add_sockets([sock])
    ready(
        sock,
        server="squall.web",
        app=args.app,
        poller=io_loop.poller,
        parser=HTTP1ConnectionParameters().parser,
        # True on the compiled build (SQUALL_COMPILE=1, see bench/setup_env.sh).
        compiled=not _connection_module.__file__.endswith(".py"),
    )
    try:
        io_loop.start()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
