"""The three benchmark web applications on Tornado 6.

``squall_web.py`` has the same handlers and application with ``tornado``
renamed to ``squall``.

Usage::

    python bench/servers/tornado_web.py --app hello|user|form [--uvloop] [--port N] [--cpu N]
"""

from __future__ import annotations

from _common import listening_socket, loop_name, parse_args, ready, run_asyncio, user_record
from tornado import web
from tornado.httpserver import HTTPServer


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

    async def start() -> None:
        server = HTTPServer(make_app(args.app))
        server.add_sockets([sock])
        ready(sock, server="tornado.web", app=args.app, loop=loop_name())

    run_asyncio(start, args.uvloop)


if __name__ == "__main__":
    main()
