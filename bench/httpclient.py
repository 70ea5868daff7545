"""HTTP client benchmark: Squall vs Tornado 6, aiohttp and httpx against nginx.

Each client fetches a small body (``hello world\\n``) from a local nginx
5,000 times with 20 requests in flight, and the run reports requests per
second and how many TCP connections each client opened (read from nginx's
``stub_status``, so every client is counted the same way, from the
server's side).

Method:

* nginx runs as one process (``master_process off``) pinned to core 0;
  each client runs in a fresh interpreter pinned to core 1, so clients do
  not share a process, a loop or a warm connection pool.
* Every client first fetches once and checks the status and the body (a
  fast error is not a result), then warms up with 200 requests, then runs
  the measured 5,000.  Failed requests are counted and make the row
  invalid.
* "asyncio" rows use the default selector loop (Squall:
  ``SQUALL_POLLER=epoll``); "uvloop" rows use uvloop for everybody.
* ``--repeat N`` runs everything N times, interleaved, and keeps each
  client's best run (other processes can only slow a run down).
* Besides requests per second, each row gives the CPU time (user + system)
  the client process spent per request, which other load on the machine
  disturbs much less than wall-clock rates.

Usage (nginx must be installed; see bench/README.md)::

    /work/benchvenv/bin/python bench/httpclient.py
    /work/benchvenv/bin/python bench/httpclient.py --repeat 3 --loops asyncio uvloop
    /work/benchvenv/bin/python bench/httpclient.py --clients squall aiohttp --requests 2000

This is a benchmark, not a test: nothing here runs under pytest or CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/http.py would shadow the standard library's http package.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

BODY = b"hello world\n"

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_timeout 60s;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /hello {{ default_type text/plain; return 200 "hello world\\n"; }}
        location = /status {{ stub_status; }}
    }}
}}
"""

CLIENTS = ["squall", "squall-curl", "tornado", "aiohttp", "httpx"]
LOOPS = ["asyncio", "uvloop"]


# ---------------------------------------------------------------------- the child


async def _drive(fetch_one: Any, total: int, concurrency: int) -> tuple[float, int]:
    """Run ``total`` fetches, ``concurrency`` at a time; return (seconds, errors)."""
    remaining = total
    errors = 0

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            try:
                if not await fetch_one():
                    errors += 1
            except Exception:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, errors


async def _measure(fetch_one: Any, total: int, concurrency: int, warmup: int) -> dict[str, Any]:
    if not await fetch_one():
        raise SystemExit("the first request did not return 200 with the expected body")
    await _drive(fetch_one, warmup, concurrency)
    before = resource.getrusage(resource.RUSAGE_SELF)
    seconds, errors = await _drive(fetch_one, total, concurrency)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "seconds": seconds,
        "errors": errors,
        "requests": total,
        "cpu_us_per_request": cpu / total * 1e6,
    }


def _child(args: argparse.Namespace) -> None:
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    url, total, concurrency, warmup = args.url, args.requests, args.concurrency, args.warmup
    if args.loop == "uvloop" and not args.client.startswith("squall"):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    result: dict[str, Any]
    if args.client in ("squall", "squall-curl"):
        from squall.httpclient import AsyncHTTPClient
        from squall.ioloop import IOLoop

        impl = (
            "squall.curl_httpclient.CurlAsyncHTTPClient"
            if args.client == "squall-curl"
            else "squall.simple_httpclient.SimpleAsyncHTTPClient"
        )
        AsyncHTTPClient.configure(impl, max_clients=concurrency)

        async def main() -> dict[str, Any]:
            client = AsyncHTTPClient()

            async def fetch_one() -> bool:
                response = await client.fetch(url)
                return response.code == 200 and response.body == BODY

            try:
                return await _measure(fetch_one, total, concurrency, warmup)
            finally:
                client.close()

        loop = IOLoop()
        try:
            result = loop.run_sync(main)
            result["loop"] = loop.poller
        finally:
            loop.close(all_fds=True)
    elif args.client == "tornado":
        from tornado.httpclient import AsyncHTTPClient as TornadoClient

        async def main() -> dict[str, Any]:
            client = TornadoClient(max_clients=concurrency)

            async def fetch_one() -> bool:
                response = await client.fetch(url)
                return response.code == 200 and response.body == BODY

            try:
                return await _measure(fetch_one, total, concurrency, warmup)
            finally:
                client.close()

        result = asyncio.run(main())
    elif args.client == "aiohttp":
        import aiohttp

        async def main() -> dict[str, Any]:
            async with aiohttp.ClientSession() as session:

                async def fetch_one() -> bool:
                    async with session.get(url) as response:
                        body = await response.read()
                        return response.status == 200 and body == BODY

                return await _measure(fetch_one, total, concurrency, warmup)

        result = asyncio.run(main())
    elif args.client == "httpx":
        import httpx

        async def main() -> dict[str, Any]:
            async with httpx.AsyncClient() as client:

                async def fetch_one() -> bool:
                    response = await client.get(url)
                    return response.status_code == 200 and response.content == BODY

                return await _measure(fetch_one, total, concurrency, warmup)

        result = asyncio.run(main())
    else:
        raise SystemExit(f"unknown client {args.client!r}")
    print(json.dumps(result))


# ---------------------------------------------------------------------- the parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Nginx:
    def __init__(self, directory: Path, cpu: int | None) -> None:
        path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/local/sbin"
        binary = shutil.which("nginx", path=path)
        if binary is None:
            raise SystemExit("nginx is not installed (Debian: apt-get install -y nginx)")
        self.port = _free_port()
        self.probes = 0
        conf = directory / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=directory, port=self.port))
        self.process = subprocess.Popen(
            [binary, "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")],
            stdin=subprocess.DEVNULL,
        )
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.process.pid, {cpu})
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                raise SystemExit("nginx exited at start: see " + str(directory / "error.log"))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("nginx did not start listening") from None
                time.sleep(0.05)

    def accepted(self) -> int:
        """Connections accepted so far, not counting these status requests."""
        self.probes += 1
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        lines = data.decode().split("\r\n\r\n", 1)[1].splitlines()
        counts = lines[lines.index("server accepts handled requests") + 1].split()
        return int(counts[0]) - self.probes

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _available(client: str, loop: str) -> str | None:
    """Why ``client`` cannot run here, or None."""
    modules = {
        "squall": ["squall.simple_httpclient"],
        "squall-curl": ["squall.curl_httpclient"],
        "tornado": ["tornado.httpclient"],
        "aiohttp": ["aiohttp"],
        "httpx": ["httpx"],
    }[client]
    if loop == "uvloop":
        modules = [*modules, "uvloop"]
    code = "import " + ", ".join(modules)
    probe = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "import failed"
    return None


def _run_child(args: argparse.Namespace, nginx: Nginx, client: str, loop: str) -> dict[str, Any]:
    env = dict(os.environ)
    if client.startswith("squall"):
        env["SQUALL_POLLER"] = "uvloop" if loop == "uvloop" else "epoll"
    before = nginx.accepted()
    command = [
        sys.executable,
        "-P",  # keep bench/ (and its http.py) off sys.path
        __file__,
        "--child",
        client,
        "--loop",
        loop,
        "--url",
        f"http://127.0.0.1:{nginx.port}/hello",
        "--requests",
        str(args.requests),
        "--concurrency",
        str(args.concurrency),
        "--warmup",
        str(args.warmup),
    ]
    if args.client_cpu is not None:
        command += ["--cpu", str(args.client_cpu)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip()[-400:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["connections"] = nginx.accepted() - before
    result["rps"] = result["requests"] / result["seconds"]
    return result


def _table(results: dict[str, dict[str, dict[str, Any]]], loops: list[str]) -> str:
    header = ["client"]
    for loop in loops:
        header += [f"{loop} req/s", "Squall / it", "CPU us/req", "connections"]
    rows = [header]
    for client, by_loop in results.items():
        row = [client]
        for loop in loops:
            r = by_loop.get(loop)
            squall = results.get("squall", {}).get(loop)
            if r is None or "rps" not in r:
                row += ["n/a", "", "", ""]
                continue
            ratio = f"{squall['rps'] / r['rps']:.2f}x" if squall and "rps" in squall else ""
            errors = f" ({r['errors']} errors)" if r.get("errors") else ""
            row += [
                f"{r['rps']:,.0f}{errors}",
                ratio,
                f"{r['cpu_us_per_request']:.0f}",
                str(r["connections"]),
            ]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--clients", nargs="+", default=CLIENTS, choices=CLIENTS)
    parser.add_argument("--loops", nargs="+", default=LOOPS, choices=LOOPS)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument(
        "--write",
        metavar="JSON",
        help="also write the results to this file (e.g. bench/results/httpclient.json)",
    )
    args = parser.parse_args()
    if args.child:
        args.client = args.child
        _child(args)
        return

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = not args.no_pin and len(cpus) >= 2
    server_cpu = cpus[0] if pin else None
    args.client_cpu = cpus[1] if pin else None

    plan = []
    for client in args.clients:
        for loop in args.loops:
            reason = _available(client, loop)
            if reason is not None:
                print(f"skipping {client} on {loop}: {reason}", file=sys.stderr)
                continue
            plan.append((client, loop))

    results: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in args.clients}
    with tempfile.TemporaryDirectory(prefix="squall-bench-nginx-") as directory:
        nginx = Nginx(Path(directory), server_cpu)
        try:
            for round_number in range(args.repeat):
                for client, loop in plan:
                    result = _run_child(args, nginx, client, loop)
                    label = f"[{round_number + 1}/{args.repeat}] {client:12} {loop:8}"
                    if "error" in result:
                        print(f"{label} failed: {result['error']}", file=sys.stderr)
                        results[client].setdefault(loop, result)
                        continue
                    print(
                        f"{label} {result['rps']:9,.0f} req/s  "
                        f"{result['cpu_us_per_request']:5.0f} us CPU/req  "
                        f"{result['connections']:5} connections  {result['errors']} errors",
                        file=sys.stderr,
                    )
                    best = results[client].get(loop)
                    if best is None or "rps" not in best or result["rps"] > best["rps"]:
                        results[client][loop] = result
        finally:
            nginx.stop()
    results = {c: r for c, r in results.items() if r}
    print()
    print(
        f"{args.requests:,} GETs of a {len(BODY)}-byte body from nginx, "
        f"concurrency {args.concurrency}, best of {args.repeat}"
        + (f", nginx on CPU {server_cpu}, clients on CPU {args.client_cpu}" if pin else "")
    )
    print()
    print(_table(results, args.loops))
    if args.write:
        payload = {
            "python": sys.version.split()[0],
            "requests": args.requests,
            "concurrency": args.concurrency,
            "repeat": args.repeat,
            "pinned": pin,
            "results": results,
        }
        Path(args.write).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
