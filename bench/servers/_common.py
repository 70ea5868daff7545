"""What every benchmark server shares: options, pinning, the socket, the loop.

Each server module (``bare.py``, ``tornado_http.py``, ``squall_http.py``,
``tornado_web.py``, ``squall_web.py``, ``aiohttp_web.py``) is a small script
that calls :func:`parse_args`, builds its application and reports itself
ready with :func:`ready`.  The harness (``bench/_harness.py``) reads the line
``READY <port> <json>`` from the server's standard output.

The three web applications every framework implements:

``hello``  ``GET /``            -> ``Hello, world`` (text/plain)
``user``   ``GET /user/<id>``   -> a small JSON object about that user
``form``   ``POST /form``       -> 1 KB urlencoded form read with get_argument,
                                   answered with ``<name>:<len(message)>``

Not a test: see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

HELLO = b"Hello, world"
APPS = ("hello", "user", "form")


def user_record(user_id: int) -> dict[str, Any]:
    """The JSON object every framework returns for ``/user/<id>``."""
    return {"id": user_id, "name": f"user{user_id}", "active": True, "roles": ["reader", "writer"]}


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the options common to all servers and apply the process setup.

    Pins this process to ``--cpu``, raises the open-file limit and sets the
    Squall environment variables (``SQUALL_POLLER``, ``SQUALL_HTTP_PARSER``)
    before any Squall module creates a loop.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--app", choices=APPS, default="hello", help="which application (web servers)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=0, help="0 picks a free port (printed on READY)"
    )
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to; -1 for no pinning")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument(
        "--httptools",
        action="store_true",
        help="Squall only: ask for the httptools parser (SQUALL_HTTP_PARSER=httptools)",
    )
    args = parser.parse_args(argv)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    raise_nofile()
    # The harness sets these too; set them here so a hand-started server
    # behaves the same.  "epoll" explicitly, so that an installed uvloop is
    # not picked by "auto" on the default-loop runs.
    os.environ["SQUALL_POLLER"] = (
        "uvloop" if args.uvloop else os.environ.get("SQUALL_POLLER", "epoll")
    )
    if args.httptools:
        os.environ["SQUALL_HTTP_PARSER"] = "httptools"
    return args


def raise_nofile(wanted: int = 65536) -> None:
    """Raise the soft open-file limit towards ``wanted`` (capped by the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def listening_socket(host: str, port: int) -> socket.socket:
    """A non-blocking listening TCP socket with a deep backlog.

    Every server gets its socket from here so that none is disadvantaged by
    its framework's default backlog during ``Connection: close`` runs.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def ready(sock: socket.socket, **info: Any) -> None:
    """Tell the harness the server is listening (one line on stdout)."""
    info.setdefault("pid", os.getpid())
    info.setdefault("python", sys.version.split()[0])
    print(f"READY {sock.getsockname()[1]} {json.dumps(info)}", flush=True)


def loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event-loop factory for ``asyncio.Runner``: uvloop's or the default."""
    if not use_uvloop:
        return None
    import uvloop

    return uvloop.new_event_loop


def run_asyncio(main: Callable[[], Awaitable[None]], use_uvloop: bool) -> None:
    """Run ``main()`` and then forever, on uvloop or asyncio's default loop."""

    async def forever() -> None:
        await main()
        await asyncio.Event().wait()

    with asyncio.Runner(loop_factory=loop_factory(use_uvloop)) as runner:
        try:
            runner.run(forever())
        except KeyboardInterrupt:
            pass


def loop_name() -> str:
    """Name the running asyncio loop's class (for the READY line)."""
    loop = asyncio.get_running_loop()
    return f"{type(loop).__module__}.{type(loop).__name__}"
