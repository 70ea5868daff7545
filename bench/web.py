"""Web framework benchmark (issue 5): Squall against Tornado 6 and aiohttp.

Three applications, written for each framework (``bench/servers/``; the
Squall one is the Tornado one with the imports renamed):

(a) ``hello``: ``GET /`` answers ``Hello, world``;
(b) ``user``: ``GET /user/(\\d+)`` answers a small JSON object;
(c) ``form``: ``POST /form`` with a 1 KB urlencoded body read with
    ``get_argument`` (aiohttp: ``await request.post()``).

Each runs on asyncio's default loop and on uvloop (Squall also with the
httptools parser, and on the compiled build of squall-http), under wrk
``-t1 -c64`` keep-alive; a bare asyncio Protocol gives the ceiling for (a).
Server on core 0, wrk on core 1: see ``_harness.py`` for the method.
Outputs ``bench/results/web.json`` and ``docs/_generated/web_table.rst``.

Usage (from the bench virtualenv, see bench/README.md)::

    python bench/web.py                     # full run, about 6 minutes per repeat
    python bench/web.py --seconds 3 --apps hello --no-write

Not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.pop(0)
sys.path.append(_HERE)

import _harness as h  # noqa: E402
from _harness import ServerSpec  # noqa: E402

APPS = ["hello", "user", "form"]
APP_TITLES = {
    "hello": "(a) hello world",
    "user": r"(b) /user/(\d+) JSON",
    "form": "(c) 1 KB form POST",
}

CONFIGS = [
    ServerSpec("tornado-web"),
    ServerSpec("aiohttp-web"),
    ServerSpec("squall-web"),
    ServerSpec("squall-web", httptools=True),
    ServerSpec("squall-web-compiled"),
    ServerSpec("tornado-web", uvloop=True),
    ServerSpec("aiohttp-web", uvloop=True),
    ServerSpec("squall-web", uvloop=True),
    ServerSpec("squall-web", uvloop=True, httptools=True),
    ServerSpec("squall-web-compiled", uvloop=True, httptools=True),
]
CEILINGS = [ServerSpec("bare"), ServerSpec("bare", uvloop=True)]


def _rps(
    runs: list[dict[str, Any]],
    kind: str,
    app: str,
    uvloop: bool,
    httptools: bool = False,
    field: str = "requests_per_second",
) -> float | None:
    """``field`` of the keep-alive run of that server and app, or None."""
    for row in runs:
        if row["mode"] != "keep-alive":
            continue
        if (row["kind"], row["app"], row["uvloop"], row["httptools"]) == (
            kind,
            app,
            uvloop,
            httptools,
        ):
            value: float | None = row.get(field)
            return value
    return None


#: (description, numerator, denominator, apps, minimum); a spec is (kind, uvloop, httptools).
GOALS: list[tuple[str, tuple[str, bool, bool], tuple[str, bool, bool], list[str], float]] = [
    (
        "Squall ÷ Tornado, asyncio loop, pure-Python parser",
        ("squall-web", False, False),
        ("tornado-web", False, False),
        APPS,
        5.0,
    ),
    (
        "Squall ÷ aiohttp, asyncio loop, pure-Python parser",
        ("squall-web", False, False),
        ("aiohttp-web", False, False),
        ["hello"],
        1.2,
    ),
    (
        "Squall (uvloop + httptools) ÷ aiohttp (uvloop)",
        ("squall-web", True, True),
        ("aiohttp-web", True, False),
        ["hello"],
        1.3,
    ),
    # The same targets, met by the compiled build of squall-http (mypyc,
    # SQUALL_COMPILE=1): reported apart, since it is compiled code.
    (
        "Squall compiled ÷ Tornado, asyncio loop, Squall's parser",
        ("squall-web-compiled", False, False),
        ("tornado-web", False, False),
        APPS,
        5.0,
    ),
    (
        "Squall compiled ÷ aiohttp, asyncio loop, Squall's parser",
        ("squall-web-compiled", False, False),
        ("aiohttp-web", False, False),
        ["hello"],
        1.2,
    ),
    (
        "Squall compiled (uvloop + httptools) ÷ aiohttp (uvloop)",
        ("squall-web-compiled", True, True),
        ("aiohttp-web", True, False),
        ["hello"],
        1.3,
    ),
]


def targets(runs: list[dict[str, Any]], apps: list[str]) -> list[dict[str, Any]]:
    out = []
    for what, (nk, nu, nh), (dk, du, dh), goal_apps, minimum in GOALS:
        for app in goal_apps:
            if app not in apps:
                continue
            value = h.ratio(_rps(runs, nk, app, nu, nh), _rps(runs, dk, app, du, dh))
            field = "requests_per_cpu_second"
            per_cpu = h.ratio(
                _rps(runs, nk, app, nu, nh, field), _rps(runs, dk, app, du, dh, field)
            )
            out.append(
                {
                    "what": f"{what}, {APP_TITLES[app]}",
                    "target": f">= {minimum:g}",
                    "value": value,
                    "value_per_cpu_second": per_cpu,
                    "met": None if value is None else value >= minimum,
                }
            )
    return out


def rps_rows(runs: list[dict[str, Any]], apps: list[str]) -> tuple[list[str], list[list[str]]]:
    header = ["framework", "loop", "parser"]
    for a in apps:
        header += [f"{APP_TITLES[a]} req/s", "req per CPU-s"]
    rows = []
    for spec in CEILINGS + CONFIGS:
        cells: list[str] = []
        for a in apps:
            present = any(
                (r["kind"], r["app"], r["uvloop"], r["httptools"])
                == (spec.kind, a, spec.uvloop, spec.httptools)
                for r in runs
            )
            if not present:
                cells += ["—", "—"]
                continue
            rps = _rps(runs, spec.kind, a, spec.uvloop, spec.httptools)
            cpu = _rps(runs, spec.kind, a, spec.uvloop, spec.httptools, "requests_per_cpu_second")
            cpu_text = "n/a" if cpu is None else h.fmt_rps(cpu)
            share = _rps(runs, spec.kind, a, spec.uvloop, spec.httptools, "server_cpu_share")
            if cpu is not None and (share or 1.0) < 0.9:
                cpu_text += " (wrk-bound)"  # the server had idle time
            cells += [h.fmt_rps(rps), cpu_text]
        if all(c == "—" for c in cells):
            continue
        rows.append([spec.framework, spec.loop, spec.parser, *cells])
    return header, rows


RATIO_PAIRS = [
    ("Squall ÷ Tornado (asyncio)", ("squall-web", False, False), ("tornado-web", False, False)),
    ("Squall ÷ aiohttp (asyncio)", ("squall-web", False, False), ("aiohttp-web", False, False)),
    ("Squall ÷ Tornado (uvloop)", ("squall-web", True, False), ("tornado-web", True, False)),
    ("Squall ÷ aiohttp (uvloop)", ("squall-web", True, False), ("aiohttp-web", True, False)),
    (
        "Squall + httptools ÷ aiohttp (uvloop)",
        ("squall-web", True, True),
        ("aiohttp-web", True, False),
    ),
    (
        "Squall compiled ÷ Tornado (asyncio)",
        ("squall-web-compiled", False, False),
        ("tornado-web", False, False),
    ),
    (
        "Squall compiled ÷ aiohttp (asyncio)",
        ("squall-web-compiled", False, False),
        ("aiohttp-web", False, False),
    ),
    (
        "Squall compiled + httptools ÷ aiohttp (uvloop)",
        ("squall-web-compiled", True, True),
        ("aiohttp-web", True, False),
    ),
    ("Squall ÷ bare Protocol (asyncio)", ("squall-web", False, False), ("bare", False, False)),
]


def ratio_rows(runs: list[dict[str, Any]], apps: list[str]) -> tuple[list[str], list[list[str]]]:
    header = ["ratio", *[f"{APP_TITLES[a]}: req/s (per CPU-s)" for a in apps]]
    rows = []
    for label, (nk, nu, nh), (dk, du, dh) in RATIO_PAIRS:
        cells = []
        for a in apps:
            text = h.fmt_ratio(_rps(runs, nk, a, nu, nh), _rps(runs, dk, a, du, dh))
            if dk != "bare":
                field = "requests_per_cpu_second"
                per_cpu = h.fmt_ratio(
                    _rps(runs, nk, a, nu, nh, field), _rps(runs, dk, a, du, dh, field)
                )
                text += f" ({per_cpu})"
            cells.append(text)
        rows.append([label, *cells])
    return header, rows


def write_rst(
    facts: dict[str, Any], runs: list[dict[str, Any]], apps: list[str], seconds: float, repeat: int
) -> str:
    best = f", best of {repeat} interleaved runs" if repeat > 1 else ""
    lines = [
        "..",
        "   Generated by bench/web.py; do not edit by hand.",
        "",
        h.machine_line(facts),
        "",
        f"Requests per second over {seconds:g} s{best}, keep-alive (higher is better)."
        " The Squall application is the Tornado one with its imports renamed; the bare"
        " asyncio Protocol only finds the end of each request head and writes a fixed"
        ' response, the most any framework on that loop could do.  "req per CPU-s"'
        " divides the requests served by the CPU time the server process used: the cost"
        " of a request, which other load on the machine barely changes.",
        "",
    ]
    note = h.noise_note(runs)
    if note:
        lines += [note, ""]
    header, rows = rps_rows(runs, apps)
    lines += h.rst_list_table(header, rows)
    lines += ["Ratios measured in the same run:", ""]
    header, rows = ratio_rows(runs, apps)
    lines += h.rst_list_table(header, rows)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="wrk duration per run (default 8)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="wrk warm-up before each run (s)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run everything N times, interleaved; keep the best"
    )
    parser.add_argument("--apps", nargs="+", choices=APPS, default=APPS)
    parser.add_argument(
        "--kinds",
        nargs="+",
        default=None,
        help="only these kinds (squall-web, tornado-web, aiohttp-web, bare)",
    )
    parser.add_argument("--no-uvloop", action="store_true", help="skip the uvloop runs")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the bare Protocol runs")
    parser.add_argument("--close", action="store_true", help="also measure with Connection: close")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    h.pin_self(h.LOAD_CPU)
    facts = h.machine_facts()
    print(h.machine_line(facts), flush=True)
    started = time.monotonic()
    modes = ["keep-alive", "close"] if args.close else ["keep-alive"]

    plan: list[ServerSpec] = []
    for app in args.apps:
        if app == "hello" and not args.no_ceiling:
            plan += CEILINGS
        plan += [ServerSpec(s.kind, app, s.uvloop, s.httptools) for s in CONFIGS]
    plan = [
        s
        for s in plan
        if not (args.kinds and s.kind not in args.kinds) and not (args.no_uvloop and s.uvloop)
    ]

    runs: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        for spec in plan:
            for mode in modes:
                row = h.measure(spec, args.seconds, close=mode == "close", warmup=args.warmup)
                h.progress(row)
                runs.append(row)
    runs = h.best_of(runs)

    print()
    header, rows = rps_rows(runs, args.apps)
    h.print_table(header, rows)
    print()
    header, rows = ratio_rows(runs, args.apps)
    h.print_table(header, rows)
    print()
    goals = targets(runs, args.apps)
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
        h.RESULTS / "web.json",
        {
            "machine": facts,
            "settings": {
                "seconds": args.seconds,
                "repeat": args.repeat,
                "warmup": args.warmup,
                "wrk": f"-t{h.WRK_THREADS} -c{h.WRK_CONNECTIONS}",
                "form_body_bytes": len(h.FORM_BODY),
            },
            "runs": runs,
            "targets": goals,
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
    )
    h.write_text(
        h.GENERATED / "web_table.rst", write_rst(facts, runs, args.apps, args.seconds, args.repeat)
    )
    print(f"wrote {h.RESULTS / 'web.json'} and {h.GENERATED / 'web_table.rst'}")


if __name__ == "__main__":
    main()
