"""The seed's claim, measured: epoll stays flat as idle connections grow.

For each poller and each count N of idle connections, a small echo server
runs on a Squall IOLoop with that poller (in its own process, pinned to one
core).  A load generator (this process, pinned to the other core) opens N
connections that stay silent, then drives a few active connections in a
request/response loop for a fixed time and counts round trips per second.

select cannot watch descriptors >= 1024, so its runs stop below that
(recorded as "n/a").  Results go to ``bench/results/pollers.csv``, the plot to
``docs/_static/pollers.png`` and a table to ``docs/_generated/pollers_table.rst``.

Usage::

    python bench/pollers.py                      # full run (about two minutes)
    python bench/pollers.py --idle 0 900 --seconds 1 --pollers epoll poll

Not a test: run it by hand (see bench/README.md).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MESSAGE = b"x" * 64

SERVER_CODE = r"""
import os, socket, sys
from squall.ioloop import IOLoop

poller, cpu = sys.argv[1], int(sys.argv[2])
if cpu >= 0 and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {cpu})
loop = IOLoop(poller=poller, make_current=True)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(4096)
listener.setblocking(False)
refused = 0

def on_client(sock, events):
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return
    except OSError:
        data = b""
    if not data:
        loop.remove_handler(sock)
        sock.close()
        return
    sock.send(data)

def on_accept(lsock, events):
    global refused
    while True:
        try:
            sock, _ = lsock.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        try:
            loop.add_handler(sock, on_client, IOLoop.READ)
        except ValueError:
            refused += 1
            sock.close()

loop.add_handler(listener, on_accept, IOLoop.READ)
print(listener.getsockname()[1], loop.poller, flush=True)
loop.start()
"""


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def start_server(poller: str, cpu: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_CODE, poller, str(cpu)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line:
        proc.kill()
        raise RuntimeError(f"server for poller {poller} did not start")
    return proc, int(line[0])


def open_idle(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        socks.append(s)
        if len(socks) % 500 == 0:
            time.sleep(0.01)  # let the server's accept loop keep up
    return socks


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(port: int, active: int, seconds: float, server_pid: int) -> tuple[float, float]:
    """Ping-pong on ``active`` connections.

    Returns round trips per second of wall time and per second of the
    server's CPU time (the second is barely moved by other load).
    """
    sel = (
        selectors.EpollSelector()
        if hasattr(selectors, "EpollSelector")
        else selectors.DefaultSelector()
    )
    socks = []
    for _ in range(active):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    for s in socks:
        s.send(MESSAGE)
    # Warm up, then measure.
    count = 0
    start = time.perf_counter()
    warm_until = start + min(0.5, seconds / 4)
    measuring = False
    end = warm_until + seconds
    cpu_start = 0.0
    while True:
        now = time.perf_counter()
        if not measuring and now >= warm_until:
            measuring, count, start = True, 0, now
            cpu_start = cpu_seconds(server_pid)
        if now >= end:
            break
        for key, _ in sel.select(1.0):
            sock = key.fileobj
            data = sock.recv(65536)  # type: ignore[union-attr]
            if not data:
                raise RuntimeError("server closed an active connection")
            count += 1
            sock.send(MESSAGE)  # type: ignore[union-attr]
    elapsed = time.perf_counter() - start
    cpu = max(cpu_seconds(server_pid) - cpu_start, 1e-9)
    for s in socks:
        s.close()
    sel.close()
    return count / elapsed, count / cpu


def measure(poller: str, idle: int, active: int, seconds: float) -> tuple[float, float] | None:
    if poller == "select" and idle + active + 16 >= 1024:
        return None
    proc, port = start_server(poller, cpu=0)
    idle_socks: list[socket.socket] = []
    try:
        idle_socks = open_idle(port, idle)
        time.sleep(0.2)
        return drive(port, active, seconds, proc.pid)
    finally:
        for s in idle_socks:
            s.close()
        proc.kill()
        proc.wait()


def write_outputs(rows: list[dict[str, object]], pollers: list[str], idles: list[int]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "pollers.csv", "w", newline="") as f:
        writer = csv.DictWriter(
            f, fieldnames=["poller", "idle", "requests_per_second", "requests_per_cpu_second"]
        )
        writer.writeheader()
        writer.writerows(rows)

    by = {(r["poller"], r["idle"]): r["requests_per_cpu_second"] for r in rows}
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )
    lines = [
        f"Measured on {time.strftime('%Y-%m-%d')} ({machine}); server pinned to one core,"
        " load generator on the other; round trips of 64-byte messages over 4 active"
        " connections per second of the server's CPU time (higher is better; per CPU"
        " second, so other load on the machine does not skew it); in brackets,"
        " relative to the same poller with no idle connections. Wall-clock"
        " rates are in bench/results/pollers.csv.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - idle connections",
    ]
    lines += [f"     - {p}" for p in pollers]
    for idle in idles:
        lines.append(f"   * - {idle:,}")
        for p in pollers:
            value = by.get((p, idle))
            base = by.get((p, idles[0]))
            if value in (None, "") or not base:
                lines.append("     - n/a (fd >= 1024)" if p == "select" else "     - n/a")
            else:
                lines.append(f"     - {float(value):,.0f} ({float(value) / float(base):.2f})")  # type: ignore[arg-type]
    gen_dir = ROOT / "docs" / "_generated"
    gen_dir.mkdir(parents=True, exist_ok=True)
    (gen_dir / "pollers_table.rst").write_text("\n".join(lines) + "\n")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot written", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for p in pollers:
        xs = [i for i in idles if by.get((p, i)) not in (None, "")]
        ys = [float(by[(p, i)]) for i in xs]  # type: ignore[arg-type]
        ax.plot(xs, ys, marker="o", label=p)
    ax.set_xlabel("idle connections held open")
    ax.set_ylabel("round trips per server CPU second")
    ax.set_title("Squall echo server throughput by poller")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    static = ROOT / "docs" / "_static"
    static.mkdir(parents=True, exist_ok=True)
    fig.savefig(static / "pollers.png")


def main() -> None:
    parser = argparse.ArgumentParser(description="poller throughput vs idle connections")
    parser.add_argument("--idle", type=int, nargs="+", default=[0, 200, 900, 4000, 8000])
    parser.add_argument("--pollers", nargs="+", default=["select", "poll", "epoll", "uvloop"])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--active", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs per point")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    raise_fd_limit(max(args.idle) * 2 + 1000)
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    rows: list[dict[str, object]] = []
    for poller in args.pollers:
        for idle in args.idle:
            best: tuple[float, float] | None = None
            for _ in range(args.repeat):
                result = measure(poller, idle, args.active, args.seconds)
                if result is not None and (best is None or result[1] > best[1]):
                    best = result
            rows.append(
                {
                    "poller": poller,
                    "idle": idle,
                    "requests_per_second": "" if best is None else round(best[0]),
                    "requests_per_cpu_second": "" if best is None else round(best[1]),
                }
            )
            shown = "n/a" if best is None else f"{best[0]:,.0f}/s  {best[1]:,.0f}/CPU-s"
            print(f"{poller:7s} idle={idle:5d}  {shown}", flush=True)
    if not args.no_write:
        write_outputs(rows, args.pollers, args.idle)


if __name__ == "__main__":
    main()
