"""Starting the chat: command-line options, processes, graceful shutdown.

::

    python -m chat --port=8888 --data-dir=.demo-data        # from examples/
    python examples/chat/run.py --port 8888                  # from anywhere

Options take ``--name=value`` (squall.options' syntax) or ``--name value``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Sequence

from squall import log as squall_log
from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop, PeriodicCallback
from squall.netutil import bind_sockets
from squall.options import Error as OptionsError
from squall.options import OptionParser
from squall.process import cpu_count, fork_processes

from .app import ChatApplication, ChatConfig
from .fanout import FanoutError, import_redis
from .store import create_database

log = logging.getLogger("chat")

#: The largest request body the HTTP layer accepts (messages are far smaller).
MAX_BODY = 64 * 1024


class UsageError(Exception):
    """The command line asks for something that cannot work; the message says why."""


def define_options() -> OptionParser:
    """The chat's options, on a parser of their own."""
    options = OptionParser()
    options.define("port", default=8888, type=int, help="TCP port to listen on")
    options.define("address", default="127.0.0.1", help="address to listen on")
    options.define(
        "data-dir", default=".demo-data", help="directory of the SQLite file (created if missing)"
    )
    options.define(
        "processes",
        default=1,
        type=int,
        help="worker processes (0: one per CPU); more than one needs --redis",
    )
    options.define(
        "redis", default=None, type=str, help="Redis URL for the fan-out between processes"
    )
    options.define(
        "allow-private-previews",
        default=False,
        type=bool,
        help="let link previews fetch private and loopback addresses (tests only)",
    )
    options.define("debug", default=False, type=bool, help="debug mode (tracebacks, autoreload)")
    return options


def _joined(args: Sequence[str], options: OptionParser) -> list[str]:
    """Accept ``--port 8888`` as well as squall.options' ``--port=8888``."""
    flags = {"help", "allow_private_previews", "debug"}
    result: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg[2:].replace("-", "_")
        if (
            arg.startswith("--")
            and "=" not in arg
            and name in options
            and name not in flags
            and i + 1 < len(args)
        ):
            result.append(f"{arg}={args[i + 1]}")
            i += 2
            continue
        result.append(arg)
        i += 1
    return result


def secret_for(data_dir: str) -> str:
    """The cookie secret kept in ``data_dir`` (made once, readable by the owner only).

    Kept on disk so sign-ins survive a restart and every process signs alike.
    """
    path = os.path.join(data_dir, "cookie_secret")
    try:
        with open(path, encoding="ascii") as f:
            secret = f.read().strip()
        if len(secret) >= 32:
            return secret
    except FileNotFoundError:
        pass
    secret = secrets.token_hex(32)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret)
    os.replace(path + ".tmp", path)
    return secret


def parse_config(argv: Sequence[str]) -> ChatConfig:
    """Read the command line into a :class:`ChatConfig`.

    :raises UsageError: for an impossible combination (the message says why).
    :raises squall.options.Error: for an unknown option or a bad value.
    """
    options = define_options()
    rest = options.parse_command_line(["chat", *_joined(argv, options)], final=True)
    if rest:
        raise UsageError(f"unexpected arguments: {' '.join(rest)}")
    processes = options.processes
    if processes < 0:
        raise UsageError("--processes must be 0 (one per CPU) or more")
    effective = cpu_count() if processes == 0 else processes
    if effective > 1 and not options.redis:
        raise UsageError(
            f"--processes {processes} needs --redis URL: each process only knows the browsers "
            "connected to it, so without a shared Redis pub/sub channel a message posted to "
            "one process would never reach the people connected to the others"
        )
    if effective > 1 and options.debug:
        raise UsageError("--debug restarts the process on changes: use it with one process")
    if not 0 <= options.port < 65536:
        raise UsageError(f"--port must be 0..65535, not {options.port}")
    if options.redis:
        try:
            import_redis()
        except FanoutError as exc:
            raise UsageError(str(exc)) from exc
    data_dir = os.path.abspath(options.data_dir)
    os.makedirs(data_dir, exist_ok=True)
    return ChatConfig(
        data_dir=data_dir,
        cookie_secret=secret_for(data_dir),
        port=options.port,
        address=options.address,
        processes=effective,
        redis=options.redis,
        allow_private_previews=options.allow_private_previews,
        debug=options.debug,
    )


class ChatServer:
    """The application and its HTTP server, started and stopped together.

    :param config: the settings.
    :param sockets: listening sockets (default: bound from ``config``).
    """

    def __init__(self, config: ChatConfig, sockets: list[socket.socket] | None = None) -> None:
        self.config = config
        self.sockets = sockets
        self.app: ChatApplication | None = None
        self.http_server: HTTPServer | None = None

    @property
    def port(self) -> int:
        """The port actually listened on (useful with port 0)."""
        if not self.sockets:
            raise RuntimeError("not listening")
        port: int = self.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Open the database, start the fan-out, and serve."""
        if self.sockets is None:
            self.sockets = bind_sockets(self.config.port, self.config.address)
        self.app = ChatApplication(self.config)
        await self.app.start()
        self.http_server = HTTPServer(self.app, max_body_size=MAX_BODY, idle_connection_timeout=120)
        self.http_server.add_sockets(self.sockets)

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close WebSockets (1001), answer long polls, finish requests."""
        if self.http_server is not None:
            self.http_server.stop()
        if self.app is not None:
            await self.app.stop()
        if self.http_server is not None:
            await self.http_server.close_all_connections(timeout=timeout)
            self.http_server = None
        self.app = None


async def serve(
    config: ChatConfig, sockets: list[socket.socket], parent_pid: int | None = None
) -> None:
    """Run until SIGINT or SIGTERM (or, in a worker, until the parent is gone); then stop."""
    server = ChatServer(config, sockets)
    await server.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    watch = None
    if parent_pid is not None:
        # A worker whose supervisor died (kill, SIGTERM) stops too.
        def check_parent() -> None:
            if os.getppid() != parent_pid:
                stopping.set()

        watch = PeriodicCallback(check_parent, 1000)
        watch.start()
    where = f"http://{config.address}:{server.port}/"
    log.info("chat listening on %s (data in %s)", where, config.data_dir)
    try:
        await stopping.wait()
    finally:
        if watch is not None:
            watch.stop()
        log.info("shutting down")
        await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m chat`` and ``run.py``."""
    squall_log.enable_pretty_logging()
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv)
    except (UsageError, OptionsError) as exc:
        print(f"chat: error: {exc}", file=sys.stderr)
        return 2
    create_database(config.database)  # once, before forking
    try:
        sockets = bind_sockets(config.port, config.address)
    except OSError as exc:
        print(
            f"chat: error: cannot listen on {config.address}:{config.port}: {exc}", file=sys.stderr
        )
        return 1
    parent_pid = None
    if config.processes > 1:
        parent_pid = os.getpid()
        # The supervising parent stays in fork_processes; on SIGTERM or
        # Ctrl-C it exits, and its workers, seeing it gone, stop gracefully
        # (Ctrl-C in a terminal reaches the workers directly as well).
        signal.signal(signal.SIGTERM, _exit_quietly)
        try:
            fork_processes(config.processes)
        except KeyboardInterrupt:
            return 0
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    IOLoop().run_sync(lambda: serve(config, sockets, parent_pid), timeout=None)
    return 0


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)
