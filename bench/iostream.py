"""Squall's IOStream against Tornado 6's: echo over loopback (a benchmark, not a test).

Two measurements, each with the same code for both libraries (only the
package name differs: ``squall.tcpserver`` or ``tornado.tcpserver``, ...):

* small messages: 64 connections, each sending a 64-byte line and reading it
  back (``read_until`` / ``write`` on both ends) for ``--seconds`` seconds;
  the result is round trips per second;
* bulk: one connection; the client writes ``--bulk-mib`` MiB in 256 KiB
  writes while reading the echo back with ``read_bytes(partial=True)``; the
  server echoes with ``read_bytes(partial=True)`` / ``write``; 8 such
  transfers in a row; the result is MB/s of payload (each byte crosses
  loopback twice).

The machine may be shared, so each result also records the CPU seconds the
client and the server used during the measurement, and the table shows the
work done per CPU-second (client + server) next to the wall-clock rate:
another process on a core slows the wall-clock rate down but hardly changes
the work per CPU-second.

Each runs on the default asyncio loop and on uvloop.  The server runs in its
own process pinned to core 0 (``os.sched_setaffinity``), the client in
another pinned to core 1.  Results go to ``bench/results/iostream.json`` and
``docs/_generated/iostream_table.rst``; see bench/README.md.

Usage: ``python bench/iostream.py [--seconds 5] [--bulk-mib 64] [--repeat 3]
[--no-uvloop] [--no-write]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "iostream.json"
TABLE = ROOT / "docs" / "_generated" / "iostream_table.rst"

SERVER_CPU = 0
CLIENT_CPU = 1
LINE = b"x" * 63 + b"\n"
CONNECTIONS = 64
BULK_CHUNK = 256 * 1024
# The bulk transfer is repeated this many times on the connection (so the
# measurement lasts long enough for CPU times to mean something).
BULK_ROUNDS = 8
IMPLS = ("squall", "tornado")


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


def new_loop(loop_name: str) -> asyncio.AbstractEventLoop:
    if loop_name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_on(loop_name: str, main: Any) -> Any:
    loop = new_loop(loop_name)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


# ---------------------------------------------------------------------- server


def serve(impl: str, loop_name: str) -> None:
    pin(SERVER_CPU)
    tcpserver = importlib.import_module(f"{impl}.tcpserver")
    iostream = importlib.import_module(f"{impl}.iostream")
    closed_error = iostream.StreamClosedError

    class EchoServer(tcpserver.TCPServer):  # type: ignore[misc, name-defined]
        async def handle_stream(self, stream: Any, address: Any) -> None:
            try:
                mode = await stream.read_until(b"\n")
                if mode == b"LINES\n":
                    while True:
                        line = await stream.read_until(b"\n")
                        await stream.write(line)
                else:
                    while True:
                        data = await stream.read_bytes(BULK_CHUNK, partial=True)
                        await stream.write(data)
            except closed_error:
                pass

    async def main() -> None:
        server = EchoServer()
        server.listen(0, "127.0.0.1")
        port = next(iter(server._sockets.values())).getsockname()[1]
        print(f"READY {port}", flush=True)
        await asyncio.Event().wait()

    run_on(loop_name, main)


# ---------------------------------------------------------------------- client


def client(
    impl: str, loop_name: str, port: int, test: str, seconds: float, bulk: int, server_pid: int
) -> None:
    pin(CLIENT_CPU)
    tcpclient = importlib.import_module(f"{impl}.tcpclient")

    async def lines() -> dict[str, float]:
        tc = tcpclient.TCPClient()
        streams = [await tc.connect("127.0.0.1", port) for _ in range(CONNECTIONS)]
        for stream in streams:
            await stream.write(b"LINES\n")
        stop = False
        counts = [0] * CONNECTIONS

        async def one(i: int, stream: Any) -> None:
            n = 0
            while not stop:
                await stream.write(LINE)
                await stream.read_until(b"\n")
                n += 1
            counts[i] = n

        loop = asyncio.get_running_loop()
        # Warm up, then measure.
        warm = [asyncio.ensure_future(one(i, s)) for i, s in enumerate(streams)]
        await asyncio.sleep(0.5)
        stop = True
        await asyncio.gather(*warm)
        stop = False
        counts = [0] * CONNECTIONS
        start = loop.time()
        cpu = time.process_time()
        server_cpu = cpu_seconds(server_pid)
        tasks = [asyncio.ensure_future(one(i, s)) for i, s in enumerate(streams)]
        await asyncio.sleep(seconds)
        stop = True
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
        cpu = time.process_time() - cpu
        server_cpu = cpu_seconds(server_pid) - server_cpu
        for stream in streams:
            stream.close()
        return {
            "round_trips_per_s": sum(counts) / elapsed,
            "round_trips": sum(counts),
            "client_cpu_s": cpu,
            "server_cpu_s": server_cpu,
            "seconds": elapsed,
        }

    async def bulk_transfer() -> dict[str, float]:
        tc = tcpclient.TCPClient()
        stream = await tc.connect("127.0.0.1", port)
        await stream.write(b"BULK\n")
        chunk = os.urandom(BULK_CHUNK)
        loop = asyncio.get_running_loop()

        async def writer(total: int) -> None:
            sent = 0
            while sent < total:
                await stream.write(chunk)
                sent += len(chunk)

        async def reader(total: int) -> None:
            got = 0
            while got < total:
                data = await stream.read_bytes(BULK_CHUNK, partial=True)
                got += len(data)

        warm = 8 * 1024 * 1024
        await asyncio.gather(writer(warm), reader(warm))
        start = loop.time()
        cpu = time.process_time()
        server_cpu = cpu_seconds(server_pid)
        for _ in range(BULK_ROUNDS):
            await asyncio.gather(writer(bulk), reader(bulk))
        elapsed = loop.time() - start
        cpu = time.process_time() - cpu
        server_cpu = cpu_seconds(server_pid) - server_cpu
        stream.close()
        return {
            "mb_per_s": BULK_ROUNDS * bulk / elapsed / 1e6,
            "bytes": BULK_ROUNDS * bulk,
            "client_cpu_s": cpu,
            "server_cpu_s": server_cpu,
            "seconds": elapsed,
        }

    result = run_on(loop_name, lines if test == "lines" else bulk_transfer)
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------------- harness


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(impl: str, loop_name: str, test: str, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    env["SQUALL_POLLER"] = "uvloop" if loop_name == "uvloop" else "epoll"
    me = [sys.executable, str(Path(__file__).resolve())]
    server = subprocess.Popen(
        [*me, "--serve", impl, "--loop", loop_name],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline().split()
        if not ready or ready[0] != "READY":
            raise RuntimeError(f"{impl} server did not start")
        port = ready[1]
        out = subprocess.run(
            [
                *me,
                "--client",
                impl,
                "--loop",
                loop_name,
                "--port",
                port,
                "--test",
                test,
                "--seconds",
                str(args.seconds),
                "--bulk-mib",
                str(args.bulk_mib),
                "--server-pid",
                str(server.pid),
            ],
            capture_output=True,
            env=env,
            text=True,
            check=True,
            timeout=300,
        )
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result
    finally:
        server.kill()
        server.wait()


def versions() -> dict[str, str]:
    found = {}
    for name in ("squall-ioloop", "squall-iostream", "tornado", "uvloop"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def per_cpu_second(test: str, result: dict[str, Any]) -> float:
    """Work per CPU-second of client plus server: round trips, or MB."""
    cpu = result["client_cpu_s"] + result["server_cpu_s"]
    work = result["round_trips"] if test == "lines" else result["bytes"] / 1e6
    return float(work / cpu) if cpu else 0.0


def write_table(rows: list[dict[str, Any]], path: Path) -> str:
    header = (
        "Squall IOStream vs Tornado 6 IOStream: echo over loopback, server on one core, "
        "client on the other (``bench/iostream.py``).  Best of the runs; "
        '"per CPU-second" divides the work by the CPU time client and server used.\n\n'
    )
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - loop",
        "     - measurement",
        "     - Squall",
        "     - Tornado",
        "     - Squall / Tornado",
        "     - per CPU-second: Squall",
        "     - Tornado",
        "     - Squall / Tornado",
    ]
    for row in rows:
        lines += [
            f"   * - {row['loop']}",
            f"     - {row['measurement']}",
            f"     - {row['squall']:,.0f}",
            f"     - {row['tornado']:,.0f}",
            f"     - {row['ratio']:.2f}x",
            f"     - {row['squall_per_cpu_s']:,.0f}",
            f"     - {row['tornado_per_cpu_s']:,.0f}",
            f"     - {row['ratio_per_cpu_s']:.2f}x",
        ]
    text = header + "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=IMPLS)
    parser.add_argument("--client", choices=IMPLS)
    parser.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"))
    parser.add_argument("--port", type=int)
    parser.add_argument("--server-pid", type=int)
    parser.add_argument("--test", choices=("lines", "bulk"))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--bulk-mib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.loop)
        return
    if args.client:
        client(
            args.client,
            args.loop,
            args.port,
            args.test,
            args.seconds,
            args.bulk_mib << 20,
            args.server_pid,
        )
        return

    loops = ["asyncio"] if args.no_uvloop else ["asyncio", "uvloop"]
    tests = {
        "lines": ("round_trips_per_s", "64-byte round trips/s"),
        "bulk": ("mb_per_s", "bulk MB/s"),
    }
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for attempt in range(args.repeat):
        for loop_name in loops:
            for test in tests:
                for impl in IMPLS:  # interleaved, so a noisy moment hits both
                    result = measure(impl, loop_name, test, args)
                    result["per_cpu_s"] = per_cpu_second(test, result)
                    print(f"[{attempt + 1}/{args.repeat}] {loop_name:7} {test:5} {impl:8} {result}")
                    runs.setdefault((loop_name, test, impl), []).append(result)
    rows = []
    for loop_name in loops:
        for test, (key, label) in tests.items():
            best = {impl: max(r[key] for r in runs[(loop_name, test, impl)]) for impl in IMPLS}
            eff = {
                impl: max(r["per_cpu_s"] for r in runs[(loop_name, test, impl)]) for impl in IMPLS
            }
            median = {
                impl: statistics.median(r["per_cpu_s"] for r in runs[(loop_name, test, impl)])
                for impl in IMPLS
            }
            rows.append(
                {
                    "loop": loop_name,
                    "measurement": label,
                    "squall": best["squall"],
                    "tornado": best["tornado"],
                    "ratio": best["squall"] / best["tornado"],
                    "squall_per_cpu_s": eff["squall"],
                    "tornado_per_cpu_s": eff["tornado"],
                    "ratio_per_cpu_s": eff["squall"] / eff["tornado"],
                    "median_ratio_per_cpu_s": median["squall"] / median["tornado"],
                    "runs": {impl: runs[(loop_name, test, impl)] for impl in IMPLS},
                }
            )
    print()
    print(
        f"{'loop':8} {'measurement':22} {'Squall':>10} {'Tornado':>10} {'ratio':>6}"
        f" | {'per CPU-s: Squall':>18} {'Tornado':>10} {'ratio':>6}"
    )
    for row in rows:
        print(
            f"{row['loop']:8} {row['measurement']:22} {row['squall']:10,.0f} "
            f"{row['tornado']:10,.0f} {row['ratio']:5.2f}x | {row['squall_per_cpu_s']:18,.0f} "
            f"{row['tornado_per_cpu_s']:10,.0f} {row['ratio_per_cpu_s']:5.2f}x"
            f" (median {row['median_ratio_per_cpu_s']:.2f}x)"
        )
    if args.no_write:
        return
    report = {
        "benchmark": "bench/iostream.py",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "versions": versions(),
        "settings": {
            "seconds": args.seconds,
            "bulk_mib": args.bulk_mib,
            "repeat": args.repeat,
            "connections": CONNECTIONS,
            "line_bytes": len(LINE),
            "bulk_chunk": BULK_CHUNK,
            "server_cpu": SERVER_CPU,
            "client_cpu": CLIENT_CPU,
        },
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    write_table(rows, TABLE)
    print(f"\nwrote {RESULTS.relative_to(ROOT)} and {TABLE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
