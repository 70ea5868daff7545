"""WebSocket echo benchmark (issue 7): Squall against Tornado 6 and aiohttp.

Each server echoes text messages on ``/echo`` (Squall and Tornado: the same
``WebSocketHandler`` code with the imports renamed; aiohttp: a
``WebSocketResponse`` loop).  One client process sends 1,000,000 small
(16-byte) text messages over 100 connections: each connection sends one,
waits for the echo, checks it byte for byte, and sends the next.  The
server runs alone on core 0; the client on core 1.

The client is the same for every server.  By default it is a minimal
asyncio Protocol on uvloop (a correct RFC 6455 client: real handshake with
``Sec-WebSocket-Accept`` check, masked frames, every echo compared), so
that it outruns every server and the server is what is measured;
``--client websockets`` uses the ``websockets`` library instead (slower,
a cross-check).

Reported per server: messages per second, and messages per server
CPU-second (the messages echoed divided by the CPU time the server used:
the cost of one message, which other load on the machine barely changes).

Outputs ``bench/results/websocket.json`` and
``docs/_generated/websocket_table.rst``.

Usage (from the bench virtualenv, see bench/README.md)::

    python bench/websocket.py                          # about 2 minutes
    python bench/websocket.py --messages 200000 --no-write
    python bench/websocket.py --serve squall --uvloop  # just a server

Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import resource
import socket
import sys
import time
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.pop(0)
sys.path.append(_HERE)
sys.path.append(os.path.join(_HERE, "servers"))

import _harness as h  # noqa: E402
from _harness import ServerSpec  # noqa: E402

MESSAGES = 1_000_000
CONNECTIONS = 100
WARMUP = 20_000
PAYLOAD = b"squall websocket"  # 16 bytes
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

FRAMEWORKS = {"squall": "Squall", "tornado": "Tornado", "aiohttp": "aiohttp"}
RESULTS_JSON = h.RESULTS / "websocket.json"
TABLE_RST = h.GENERATED / "websocket_table.rst"


# ---------------------------------------------------------------------------
# The servers (run as ``python bench/websocket.py --serve <kind>``)


def serve_squall_or_tornado(kind: str, sock: socket.socket, use_uvloop: bool) -> None:
    from _common import loop_name, ready, run_asyncio

    if kind == "squall":
        from squall import web
        from squall.httpserver import HTTPServer
        from squall.websocket import WebSocketHandler
    else:
        from tornado import web  # type: ignore[no-redef]
        from tornado.httpserver import HTTPServer  # type: ignore[no-redef]
        from tornado.websocket import WebSocketHandler  # type: ignore[no-redef]

    class EchoHandler(WebSocketHandler):  # type: ignore[misc, valid-type]
        def on_message(self, message: Any) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    async def start() -> None:
        server = HTTPServer(web.Application([(r"/echo", EchoHandler)]))
        server.add_sockets([sock])
        ready(sock, server=f"{kind}.websocket", loop=loop_name())

    run_asyncio(start, use_uvloop)


def serve_aiohttp(sock: socket.socket, use_uvloop: bool) -> None:
    from _common import loop_name, ready, run_asyncio
    from aiohttp import WSMsgType, web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def start() -> None:
        app = web.Application()
        app.router.add_get("/echo", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        ready(sock, server="aiohttp.web", loop=loop_name())

    run_asyncio(start, use_uvloop)


def serve(kind: str, use_uvloop: bool, cpu: int) -> None:
    from _common import listening_socket, raise_nofile

    if cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    raise_nofile()
    os.environ["SQUALL_POLLER"] = "uvloop" if use_uvloop else "epoll"
    sock = listening_socket("127.0.0.1", 0)
    if kind == "aiohttp":
        serve_aiohttp(sock, use_uvloop)
    else:
        serve_squall_or_tornado(kind, sock, use_uvloop)


class WSServerSpec(ServerSpec):
    """A WebSocket echo server started by this script (``--serve``)."""

    @property
    def framework(self) -> str:
        return FRAMEWORKS[self.kind]

    @property
    def parser(self) -> str:
        return "n/a"

    @property
    def label(self) -> str:
        return f"{self.framework} [{self.loop}]"

    def argv(self, cpu: int) -> list[str]:
        args = [sys.executable, os.path.abspath(__file__), "--serve", self.kind, "--cpu", str(cpu)]
        if self.uvloop:
            args.append("--uvloop")
        return args


CONFIGS = [
    WSServerSpec("tornado"),
    WSServerSpec("aiohttp"),
    WSServerSpec("squall"),
    WSServerSpec("tornado", uvloop=True),
    WSServerSpec("aiohttp", uvloop=True),
    WSServerSpec("squall", uvloop=True),
]


# ---------------------------------------------------------------------------
# The client


class BenchError(Exception):
    pass


def masked_frame(payload: bytes) -> bytes:
    """A masked text frame (the key is random once per run; masking is still real)."""
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes((0x81, 0x80 | len(payload))) + key + masked


class EchoClient(asyncio.Protocol):
    """One connection: handshake, then send / await echo / check, ``count`` times."""

    def __init__(self, port: int, count: int, done: asyncio.Future[None]) -> None:
        self.port = port
        self.remaining = count
        self.done = done
        self.buf = b""
        self.upgraded = False
        self.frame = masked_frame(PAYLOAD)
        self.expected = bytes((0x81, len(PAYLOAD))) + PAYLOAD
        self.key = base64.b64encode(os.urandom(16))
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(
            b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n" % (self.port, self.key)
        )

    def data_received(self, data: bytes) -> None:
        if data == self.expected and not self.buf and self.upgraded:
            # The common case, kept cheap so that the client costs little.
            self.remaining -= 1
            if self.remaining:
                self.transport.write(self.frame)  # type: ignore[union-attr]
            elif not self.done.done():
                self.done.set_result(None)
            return
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            head = buf[:end].lower()
            accept = base64.b64encode(hashlib.sha1(self.key + GUID).digest()).lower()
            if not head.startswith(b"http/1.1 101") or accept not in head:
                self.fail(f"bad handshake answer: {buf[:end]!r}")
                return
            self.upgraded = True
            buf = buf[end + 4 :]
            self.send()
        expected = self.expected
        size = len(expected)
        while len(buf) >= size:
            if not buf.startswith(expected):
                self.fail(f"unexpected frame: {buf[:40]!r}")
                return
            buf = buf[size:]
            self.remaining -= 1
            if self.remaining:
                self.send()
            else:
                if not self.done.done():
                    self.done.set_result(None)
                return
        self.buf = buf

    def send(self) -> None:
        assert self.transport is not None
        self.transport.write(self.frame)

    def fail(self, why: str) -> None:
        if not self.done.done():
            self.done.set_exception(BenchError(why))
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(
                BenchError(f"connection lost with {self.remaining} messages to go: {exc}")
            )


async def run_raw_clients(port: int, total: int, connections: int) -> float:
    """Echo ``total`` messages over ``connections``; return the seconds taken."""
    loop = asyncio.get_running_loop()
    per = total // connections
    clients = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        transport, protocol = await loop.create_connection(
            lambda done=done: EchoClient(port, per, done), "127.0.0.1", port
        )
        clients.append((transport, protocol))
    # All connected: start the clock when the handshakes are done.
    start = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(p.done for _, p in clients)), 600)
    finally:
        elapsed = time.perf_counter() - start
        for transport, _ in clients:
            transport.write(b"\x88\x82" + b"\x00\x00\x00\x00" + b"\x03\xe8")  # close 1000
            transport.close()
    return elapsed


async def run_websockets_clients(port: int, total: int, connections: int) -> float:
    from websockets.asyncio.client import connect

    per = total // connections
    text = PAYLOAD.decode()
    conns = [
        await connect(f"ws://127.0.0.1:{port}/echo", compression=None, ping_interval=None)
        for _ in range(connections)
    ]

    async def one(ws: Any) -> None:
        for _ in range(per):
            await ws.send(text)
            if await ws.recv() != text:
                raise BenchError("wrong echo")

    start = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(one(ws) for ws in conns)), 600)
    finally:
        elapsed = time.perf_counter() - start
        for ws in conns:
            await ws.close()
    return elapsed


def run_client(client: str, port: int, total: int, connections: int) -> float:
    import uvloop

    runner = run_raw_clients if client == "raw" else run_websockets_clients
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop_runner:
        return loop_runner.run(runner(port, total, connections))


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------
# Measuring


def measure(spec: WSServerSpec, args: argparse.Namespace) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": spec.kind,
        "framework": spec.framework,
        "uvloop": spec.uvloop,
        "loop": spec.loop,
        "label": spec.label,
        "client": args.client,
        "messages": args.messages,
        "connections": args.connections,
        "payload_bytes": len(PAYLOAD),
        "messages_per_second": None,
        "messages_per_cpu_second": None,
        "server_cpu_share": None,
        "client_cpu_share": None,
    }
    try:
        with h.start_server(spec) as server:
            run_client(args.client, server.port, args.warmup, args.connections)
            cpu0 = h.cpu_seconds(server.pid)
            client0 = client_cpu_seconds()
            elapsed = run_client(args.client, server.port, args.messages, args.connections)
            cpu = h.cpu_seconds(server.pid) - cpu0
            client_cpu = client_cpu_seconds() - client0
            if not server.alive():
                raise BenchError("the server died")
            errors = [
                line
                for line in server.stderr_text().splitlines()
                if "Error" in line or "Traceback" in line
            ]
    except (h.BenchError, BenchError, OSError) as e:
        row["error"] = str(e)
        return row
    done = (args.messages // args.connections) * args.connections
    row["seconds"] = round(elapsed, 3)
    row["server_cpu_seconds"] = round(cpu, 3)
    row["messages_per_second"] = round(done / elapsed)
    row["messages_per_cpu_second"] = round(done / cpu) if cpu > 0 else None
    row["server_cpu_share"] = round(cpu / elapsed, 3)
    row["client_cpu_share"] = round(client_cpu / elapsed, 3)
    row["server_error_lines"] = len(errors)
    row["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return row


def show(row: dict[str, Any]) -> None:
    if row.get("error"):
        print(f"  {row['label']:22s} failed: {row['error']}", flush=True)
        return
    print(
        f"  {row['label']:22s} {row['messages_per_second']:>9,} msg/s"
        f"  {row['messages_per_cpu_second'] or 0:>9,} per server CPU-s"
        f"  server cpu {row['server_cpu_share']:.2f}  client cpu {row['client_cpu_share']:.2f}",
        flush=True,
    )


def best(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep, per server, the run with the most messages per second (samples kept)."""
    merged: dict[tuple[str, bool], dict[str, Any]] = {}
    for row in rows:
        key = (row["kind"], row["uvloop"])
        value = row.get("messages_per_second")
        kept = merged.get(key)
        samples = ([] if kept is None else kept["samples"]) + [value]
        if kept is None or (
            value is not None
            and (kept["messages_per_second"] is None or value > kept["messages_per_second"])
        ):
            merged[key] = {**row, "samples": samples}
        else:
            kept["samples"] = samples
    return list(merged.values())


def find(rows: list[dict[str, Any]], kind: str, uvloop: bool, field: str) -> float | None:
    for row in rows:
        if row["kind"] == kind and row["uvloop"] == uvloop:
            value: float | None = row.get(field)
            return value
    return None


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for uvloop in (False, True):
        loop = "uvloop" if uvloop else "asyncio"
        value = h.ratio(
            find(rows, "squall", uvloop, "messages_per_second"),
            find(rows, "tornado", uvloop, "messages_per_second"),
        )
        per_cpu = h.ratio(
            find(rows, "squall", uvloop, "messages_per_cpu_second"),
            find(rows, "tornado", uvloop, "messages_per_cpu_second"),
        )
        out.append(
            {
                "what": f"Squall ÷ Tornado, {loop} loop",
                "target": ">= 2",
                "value": value,
                "value_per_cpu_second": per_cpu,
                "met": None if value is None else value >= 2.0,
            }
        )
    return out


def tables(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]], list[list[str]]]:
    header = ["server", "loop", "messages/s", "per server CPU-s", "÷ Tornado (per CPU-s)"]
    body = []
    for spec in CONFIGS:
        mps = find(rows, spec.kind, spec.uvloop, "messages_per_second")
        cpu = find(rows, spec.kind, spec.uvloop, "messages_per_cpu_second")
        if (
            mps is None
            and cpu is None
            and not any(r["kind"] == spec.kind and r["uvloop"] == spec.uvloop for r in rows)
        ):
            continue
        t_mps = find(rows, "tornado", spec.uvloop, "messages_per_second")
        t_cpu = find(rows, "tornado", spec.uvloop, "messages_per_cpu_second")
        ratio = f"{h.fmt_ratio(mps, t_mps)} ({h.fmt_ratio(cpu, t_cpu)})"
        body.append([spec.framework, spec.loop, h.fmt_rps(mps), h.fmt_rps(cpu), ratio])
    goals = []
    for goal in targets(rows):
        value = "n/a" if goal["value"] is None else f"{goal['value']:.2f}x"
        per_cpu = goal["value_per_cpu_second"]
        value += "" if per_cpu is None else f" ({per_cpu:.2f}x per CPU-s)"
        met = {True: "yes", False: "no", None: "n/a"}[goal["met"]]
        goals.append([goal["what"], goal["target"], value, met])
    return header, body, goals


def load_note(rows: list[dict[str, Any]]) -> list[str]:
    """A paragraph on how the CPU was shared during the run (or nothing)."""
    measured = [r for r in rows if r.get("server_cpu_share") and r.get("client_cpu_share")]
    if not measured:
        return []
    servers = sorted(r["server_cpu_share"] for r in measured)
    pairs = sorted(r["server_cpu_share"] + r["client_cpu_share"] for r in measured)
    server = servers[len(servers) // 2]
    pair = pairs[len(pairs) // 2]
    if pair < 0.85:
        return [
            f"Other processes shared the machine during this run: server and client together "
            f"got a median {pair:.0%} of one core, so messages per second understate every "
            "server; compare the per server CPU-second figures.",
            "",
        ]
    if server < 0.85:
        return [
            f"Server and client together used about one core's worth of CPU (median "
            f"{pair:.0%}; the server {server:.0%}): each round trip costs the server's time "
            "plus the client's, which is the same for every server, so the messages per "
            "second ratios are smaller than the per server CPU-second ones.",
            "",
        ]
    return []


def write_rst(facts: dict[str, Any], rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    header, body, goals = tables(rows)
    client = (
        "a minimal asyncio Protocol client on uvloop (same for every server)"
        if args.client == "raw"
        else "the websockets library's client on uvloop (same for every server)"
    )
    repeat = f", best of {args.repeat} interleaved runs" if args.repeat > 1 else ""
    pkgs = facts["packages"]
    versions = ", ".join(
        f"{name} {pkgs[name]}" for name in ("tornado", "aiohttp", "uvloop") if pkgs.get(name)
    )
    lines = [
        "..",
        "   Generated by bench/websocket.py; do not edit by hand.",
        "",
        f"Measured on {facts['date']} on {facts['cpu_model']} ({facts['cores']} cores), "
        f"{facts['kernel']}, {facts['python']}; {versions}"
        + (f"; Squall at commit {facts['commit']}" if facts.get("commit") else "")
        + ".",
        "",
        f"Echo of {args.messages:,} text messages of {len(PAYLOAD)} bytes over "
        f"{args.connections} connections (each sends one message, waits for its echo, "
        f"checks it and sends the next){repeat}; the server alone on core 0, {client} "
        "on core 1.  Squall's and Tornado's servers are the same WebSocketHandler with "
        "the imports renamed; aiohttp's is a WebSocketResponse loop.  No compression.  "
        '"per server CPU-s" divides the messages echoed by the CPU time the server '
        "used: the cost of a message, steady even when other load shares the machine.",
        "",
    ]
    lines += load_note(rows)
    lines += h.rst_list_table(header, body)
    lines += h.rst_list_table(["goal", "target", "measured (per CPU-s)", "met"], goals)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--serve", choices=sorted(FRAMEWORKS), help="run one server and exit")
    parser.add_argument("--uvloop", action="store_true", help="(--serve) run on uvloop")
    parser.add_argument("--cpu", type=int, default=-1, help="(--serve) core to pin to")
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--warmup", type=int, default=WARMUP)
    parser.add_argument("--client", choices=["raw", "websockets"], default="raw")
    parser.add_argument("--kinds", nargs="+", choices=sorted(FRAMEWORKS), default=None)
    parser.add_argument("--loops", nargs="+", choices=["asyncio", "uvloop"], default=None)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--rewrite", action="store_true", help="only rewrite the table from the saved JSON"
    )
    args = parser.parse_args()
    if args.rewrite:
        saved = json.loads(RESULTS_JSON.read_text())
        settings = argparse.Namespace(**saved["settings"])
        h.write_text(TABLE_RST, write_rst(saved["facts"], saved["runs"], settings))
        print(f"wrote {TABLE_RST.relative_to(h.ROOT)}")
        return
    if args.serve:
        serve(args.serve, args.uvloop, args.cpu)
        return
    h.pin_self(h.LOAD_CPU)
    h.raise_nofile(65536)
    configs = [
        spec
        for spec in CONFIGS
        if (args.kinds is None or spec.kind in args.kinds)
        and (args.loops is None or spec.loop in args.loops)
    ]
    facts = h.machine_facts()
    facts.pop("wrk", None)
    print(
        f"WebSocket echo: {args.messages:,} messages, {args.connections} connections, "
        f"client {args.client}",
        flush=True,
    )
    rows = []
    for round_ in range(args.repeat):
        if args.repeat > 1:
            print(f"round {round_ + 1} of {args.repeat}", flush=True)
        for spec in configs:
            row = measure(spec, args)
            show(row)
            rows.append(row)
    kept = best(rows)
    header, body, goals = tables(kept)
    print()
    h.print_table(header, body)
    print()
    h.print_table(["goal", "target", "measured (per CPU-s)", "met"], goals)
    if args.no_write:
        return
    facts["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    h.write_json(
        RESULTS_JSON,
        {"facts": facts, "settings": vars(args), "runs": kept, "targets": targets(kept)},
    )
    h.write_text(TABLE_RST, write_rst(facts, kept, args))
    print(f"\nwrote {RESULTS_JSON.relative_to(h.ROOT)} and {TABLE_RST.relative_to(h.ROOT)}")


if __name__ == "__main__":
    main()
