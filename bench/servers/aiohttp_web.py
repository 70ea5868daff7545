"""The three benchmark web applications on aiohttp.

Usage: ``python bench/servers/aiohttp_web.py --app hello|user|form [--uvloop] [--port N] [--cpu N]``
"""

from __future__ import annotations

from _common import listening_socket, loop_name, parse_args, ready, run_asyncio, user_record
from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, world")


async def user(request: web.Request) -> web.Response:
    return web.json_response(user_record(int(request.match_info["user_id"])))


async def form(request: web.Request) -> web.Response:
    data = await request.post()
    name = str(data["name"])
    message = str(data["message"])
    return web.Response(text=f"{name}:{len(message)}")


def make_app(app: str) -> web.Application:
    application = web.Application()
    if app == "hello":
        application.router.add_get("/", hello)
    elif app == "user":
        application.router.add_get(r"/user/{user_id:\d+}", user)
    else:
        application.router.add_post("/form", form)
    return application


def main() -> None:
    args = parse_args(__doc__ or "")
    sock = listening_socket(args.host, args.port)

    async def start() -> None:
        runner = web.AppRunner(make_app(args.app))
        await runner.setup()
        await web.SockSite(runner, sock).start()
        ready(sock, server="aiohttp.web", app=args.app, loop=loop_name())

    run_asyncio(start, args.uvloop)


if __name__ == "__main__":
    main()
