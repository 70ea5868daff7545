"""HTTP server benchmark (issue 4): Squall's HTTPServer against Tornado 6's.

Each server answers ``Hello, world`` from an ``HTTPServerConnectionDelegate``
(no web framework), measured with wrk (``-t1 -c64``) in keep-alive and
``Connection: close`` modes, on asyncio's default loop and on uvloop; Squall
also with the httptools parser.  A bare asyncio Protocol that only finds the
end of each head gives the ceiling, measured in the same run.  Then memory:
the RSS growth per idle keep-alive connection (4,000 of them) for the
hello-world web apps of Squall, Tornado and aiohttp (and the HTTPServer-level
servers).

Server on core 0, wrk on core 1: see ``_harness.py`` for the method.
Outputs ``bench/results/http.json`` and ``docs/_generated/http_table.rst``.

Usage (from the bench virtualenv, see bench/README.md)::

    python bench/http.py                    # full run, about 4 minutes
    python bench/http.py --seconds 3 --no-write
    python bench/http.py --memory-only --connections 4000

Not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

# This file is named like the standard library's ``http`` package: keep its
# directory behind the standard library on the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.pop(0)
sys.path.append(_HERE)

import _harness as h  # noqa: E402
from _harness import ServerSpec  # noqa: E402

THROUGHPUT = [
    ServerSpec("bare"),
    ServerSpec("tornado-http"),
    ServerSpec("squall-http"),
    ServerSpec("squall-http", httptools=True),
    ServerSpec("bare", uvloop=True),
    ServerSpec("tornado-http", uvloop=True),
    ServerSpec("squall-http", uvloop=True),
    ServerSpec("squall-http", uvloop=True, httptools=True),
]

MEMORY = [
    ServerSpec("squall-web"),
    ServerSpec("tornado-web"),
    ServerSpec("aiohttp-web"),
    ServerSpec("squall-http"),
    ServerSpec("tornado-http"),
    ServerSpec("bare"),
]


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()):
            return row
    return None


def _rps(rows: list[dict[str, Any]], **match: Any) -> float | None:
    row = _find(rows, **match)
    return None if row is None else row["requests_per_second"]


def _kb(rows: list[dict[str, Any]], kind: str) -> float | None:
    row = _find(rows, kind=kind)
    return None if row is None else row["kb_per_connection"]


def targets(runs: list[dict[str, Any]], memory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    squall = _rps(runs, kind="squall-http", uvloop=False, httptools=False, mode="keep-alive")
    tornado = _rps(runs, kind="tornado-http", uvloop=False, mode="keep-alive")
    speedup = h.ratio(squall, tornado)
    match = {"uvloop": False, "httptools": False, "mode": "keep-alive"}
    per_cpu = h.ratio(
        (_find(runs, kind="squall-http", **match) or {}).get("requests_per_cpu_second"),
        (_find(runs, kind="tornado-http", **match) or {}).get("requests_per_cpu_second"),
    )
    out.append(
        {
            "what": "Squall HTTPServer ÷ Tornado HTTPServer, keep-alive, asyncio loop, "
            "pure-Python parser",
            "target": ">= 4",
            "value": speedup,
            "value_per_cpu_second": per_cpu,
            "met": None if speedup is None else speedup >= 4,
        }
    )
    fast = _rps(runs, kind="squall-http", uvloop=True, httptools=True, mode="keep-alive")
    ceiling = _rps(runs, kind="bare", uvloop=True, mode="keep-alive")
    out.append(
        {
            "what": "Squall HTTPServer (uvloop + httptools) ÷ bare Protocol (uvloop), keep-alive",
            "target": "reported",
            "value": h.ratio(fast, ceiling),
            "met": None,
        }
    )
    squall_kb = _kb(memory, "squall-web")
    others = [kb for kb in (_kb(memory, "tornado-web"), _kb(memory, "aiohttp-web")) if kb]
    value = None if squall_kb is None or not others else round(squall_kb / min(others), 3)
    out.append(
        {
            "what": "Squall KB per idle connection ÷ the lower of Tornado and aiohttp "
            "(hello-world apps)",
            "target": "<= 0.75",
            "value": value,
            "met": None if value is None else value <= 0.75,
        }
    )
    return out


def throughput_rows(
    runs: list[dict[str, Any]], modes: list[str]
) -> tuple[list[str], list[list[str]]]:
    header = ["server", "loop", "parser"]
    for mode in modes:
        header += [f"{mode} req/s", "x Tornado", "req per CPU-s", "x Tornado"]
    rows = []
    for spec in THROUGHPUT:
        match = {"kind": spec.kind, "uvloop": spec.uvloop, "httptools": spec.httptools}
        if not any(_find(runs, **match, mode=m) for m in modes):
            continue
        row = [spec.framework, spec.loop, spec.parser]
        for mode in modes:
            found = _find(runs, **match, mode=mode) or {}
            base = _find(runs, kind="tornado-http", uvloop=spec.uvloop, mode=mode) or {}
            value = found.get("requests_per_second")
            per_cpu = found.get("requests_per_cpu_second")
            per_cpu_text = "n/a" if per_cpu is None else h.fmt_rps(per_cpu)
            if per_cpu is not None and (found.get("server_cpu_share") or 1.0) < 0.9:
                per_cpu_text += " (wrk-bound)"  # the server had idle time
            row += [
                h.fmt_rps(value),
                h.fmt_ratio(value, base.get("requests_per_second")),
                per_cpu_text,
                "n/a"
                if spec.kind == "bare"
                else h.fmt_ratio(per_cpu, base.get("requests_per_cpu_second")),
            ]
        rows.append(row)
    return header, rows


def memory_rows(memory: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = ["server", "KB per idle connection", "RSS before → after (MB)"]
    rows = []
    for row in memory:
        kb = row["kb_per_connection"]
        if kb is None:
            rows.append([row["framework"], "failed", row.get("error") or ""])
            continue
        rows.append(
            [
                row["framework"] + (" (web app)" if row["kind"].endswith("-web") else ""),
                f"{kb:.2f}",
                f"{row['rss_before_kb'] / 1024:.1f} → {row['rss_after_kb'] / 1024:.1f}",
            ]
        )
    return header, rows


def write_rst(
    facts: dict[str, Any],
    runs: list[dict[str, Any]],
    memory: list[dict[str, Any]],
    modes: list[str],
    seconds: float,
    connections: int,
    repeat: int = 1,
) -> str:
    best = f", best of {repeat} interleaved runs" if repeat > 1 else ""
    lines = [
        "..",
        "   Generated by bench/http.py; do not edit by hand.",
        "",
        h.machine_line(facts),
        "",
    ]
    note = h.noise_note(runs)
    if note:
        lines += [note, ""]
    if runs:
        lines += [
            f"Requests per second over {seconds:g} s{best} (higher is better) for a delegate"
            " answering ``Hello, world`` straight from the HTTP layer; ratios against"
            ' Tornado\'s HTTPServer on the same loop in the same mode.  "req per CPU-s"'
            " divides the requests served by the CPU time the server process used: the"
            " cost of a request, which other load on the machine barely changes (for the"
            " bare Protocol, wrk is the bottleneck and this column means little).",
            "",
        ]
        header, rows = throughput_rows(runs, modes)
        lines += h.rst_list_table(header, rows)
    if memory:
        lines += [
            f"Memory: growth of the server's RSS (``VmRSS``) while {connections:,} idle keep-alive"
            " connections are held open, each after one request, divided by their number"
            " (lower is better); asyncio's default loop.",
            "",
        ]
        header, rows = memory_rows(memory)
        lines += h.rst_list_table(header, rows)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="wrk duration per run (default 8)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run everything N times, interleaved; keep the best"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="wrk warm-up before each run (s)")
    parser.add_argument(
        "--modes", nargs="+", choices=["keep-alive", "close"], default=["keep-alive", "close"]
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        default=None,
        help="only these server kinds (bare, tornado-http, squall-http, ...)",
    )
    parser.add_argument("--no-uvloop", action="store_true", help="skip the uvloop runs")
    parser.add_argument(
        "--connections", type=int, default=4000, help="idle connections for the memory run"
    )
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    h.pin_self(h.LOAD_CPU)
    h.raise_nofile(args.connections + 1024)
    facts = h.machine_facts()
    print(h.machine_line(facts), flush=True)
    started = time.monotonic()

    runs: list[dict[str, Any]] = []
    if not args.memory_only:
        print("throughput:", flush=True)
        for _ in range(args.repeat):
            for spec in THROUGHPUT:
                if (args.kinds and spec.kind not in args.kinds) or (args.no_uvloop and spec.uvloop):
                    continue
                for mode in args.modes:
                    row = h.measure(spec, args.seconds, close=mode == "close", warmup=args.warmup)
                    h.progress(row)
                    runs.append(row)
        runs = h.best_of(runs)

    memory: list[dict[str, Any]] = []
    if not args.no_memory:
        print(f"memory ({args.connections} idle keep-alive connections):", flush=True)
        for spec in MEMORY:
            if args.kinds and spec.kind not in args.kinds:
                continue
            row = h.idle_connection_memory(spec, args.connections)
            h.progress(row)
            memory.append(row)

    print()
    if runs:
        header, rows = throughput_rows(runs, args.modes)
        h.print_table(header, rows)
        print()
    if memory:
        header, rows = memory_rows(memory)
        h.print_table(header, rows)
        print()
    goals = targets(runs, memory)
    for goal in goals:
        value = "n/a" if goal["value"] is None else f"{goal['value']:.2f}"
        verdict = {True: "met", False: "NOT met", None: ""}[goal["met"]]
        per_cpu = goal.get("value_per_cpu_second")
        extra = "" if per_cpu is None else f" [per CPU-s: {per_cpu:.2f}]"
        print(f"{goal['what']}: {value} (target {goal['target']}) {verdict}{extra}")
    print(f"\n({time.monotonic() - started:.0f} s)")

    if args.no_write:
        return
    h.write_json(
        h.RESULTS / "http.json",
        {
            "machine": facts,
            "settings": {
                "seconds": args.seconds,
                "repeat": args.repeat,
                "warmup": args.warmup,
                "wrk": f"-t{h.WRK_THREADS} -c{h.WRK_CONNECTIONS}",
                "idle_connections": args.connections,
            },
            "runs": runs,
            "memory": memory,
            "targets": goals,
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
    )
    h.write_text(
        h.GENERATED / "http_table.rst",
        write_rst(facts, runs, memory, args.modes, args.seconds, args.connections, args.repeat),
    )
    print(f"wrote {h.RESULTS / 'http.json'} and {h.GENERATED / 'http_table.rst'}")


if __name__ == "__main__":
    main()
