"""Shared machinery for the HTTP and web benchmarks (``http.py``, ``web.py``).

The method, in one paragraph: every server runs in its own process, started
from ``bench/servers/`` and pinned to core 0 (``os.sched_setaffinity`` in the
server process); the load generator, ``wrk -t1 -c64``, runs pinned to core 1
(``taskset -c 1``), and so does this harness.  Before measuring, one request
checks that the server gives the right answer (a fast 404 is not a result);
a one-second wrk run warms it up; after measuring, the same request checks it
still answers (a hung or crashed server is reported, not averaged in).  The
server's standard error is kept, and error lines under load are reported.

Memory: with the server warmed up, read ``VmRSS`` from ``/proc/<pid>/status``,
open N connections that each send one request, read its response and stay
open (idle keep-alive), let the server settle, read ``VmRSS`` again.  The
growth divided by N is the cost of one idle keep-alive connection.

Not a test: see bench/README.md.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import re
import resource
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SERVERS = BENCH / "servers"
RESULTS = BENCH / "results"
GENERATED = ROOT / "docs" / "_generated"

SERVER_CPU = 0
LOAD_CPU = 1
WRK_CONNECTIONS = 64
WRK_THREADS = 1

sys.path.insert(0, str(SERVERS))
from _common import HELLO, user_record  # noqa: E402

#: Packages whose versions go into every report.
REPORTED_PACKAGES = (
    "squall-ioloop",
    "squall-iostream",
    "squall-http",
    "squall-web",
    "tornado",
    "aiohttp",
    "uvloop",
    "httptools",
)

KIND_NAMES = {
    "bare": "bare asyncio Protocol",
    "tornado-http": "Tornado HTTPServer",
    "squall-http": "Squall HTTPServer",
    "tornado-web": "Tornado",
    "squall-web": "Squall",
    "squall-web-compiled": "Squall compiled",
    "aiohttp-web": "aiohttp",
}

#: Where bench/setup_env.sh installs the compiled build of squall-http
#: (``SQUALL_COMPILE=1``) in the benchmark virtualenv running this harness,
#: put first on the path of the ``*-compiled`` kinds.
COMPILED_DIR = Path(sys.prefix) / "squall-compiled"


class BenchError(Exception):
    """A server did not start, answered wrongly, or wrk failed."""


def stale_compiled_sources(compiled_dir: Path = COMPILED_DIR) -> list[str]:
    """The squall-http sources that differ from those the compiled build was made of.

    The build installs each module's ``.py`` next to its extension, so a
    source edited (or added) since ``bench/setup_env.sh`` shows up here;
    the compiled servers would run the old code.
    """
    source_root = ROOT / "packages" / "http" / "src"
    stale = []
    for source in sorted(source_root.rglob("*.py")):
        relative = source.relative_to(source_root)
        if relative.parts[0] != "squall":
            continue
        built = compiled_dir / relative
        if not built.is_file() or built.read_bytes() != source.read_bytes():
            stale.append(str(relative))
    return stale


# --------------------------------------------------------------------------
# The requests each application answers


def _form_body(size: int = 1024) -> tuple[bytes, str]:
    """A urlencoded form of exactly ``size`` bytes, and its decoded message."""
    prefix = "name=squall&email=bench%40example.com&message="
    text = "The quick brown fox jumps over the lazy dog; 5 < 7 & caf\u00e9 \u2603! "
    parts: list[str] = []
    length = len(prefix)
    i = 0
    while True:
        piece = urllib.parse.quote_plus(text[i % len(text)])
        if length + len(piece) > size:
            break
        parts.append(piece)
        length += len(piece)
        i += 1
    encoded = "".join(parts) + "x" * (size - length)
    body = (prefix + encoded).encode("ascii")
    if len(body) != size:
        raise AssertionError(f"form body is {len(body)} bytes, wanted {size}")
    return body, urllib.parse.unquote_plus(encoded)


FORM_BODY, FORM_MESSAGE = _form_body()


@dataclass(frozen=True)
class AppRequest:
    """The request wrk sends to one application and the answer it expects."""

    method: str
    path: str
    body: bytes
    content_type: str | None
    expected: bytes | Any  # bytes compared verbatim, anything else as JSON

    def check(self, status: int, body: bytes) -> None:
        if status != 200:
            raise BenchError(f"{self.method} {self.path}: status {status}, body {body[:200]!r}")
        if isinstance(self.expected, bytes):
            ok = body == self.expected
        else:
            try:
                ok = json.loads(body) == self.expected
            except ValueError:
                ok = False
        if not ok:
            raise BenchError(f"{self.method} {self.path}: unexpected body {body[:200]!r}")


APP_REQUESTS = {
    "hello": AppRequest("GET", "/", b"", None, HELLO),
    "user": AppRequest("GET", "/user/4217", b"", None, user_record(4217)),
    "form": AppRequest(
        "POST",
        "/form",
        FORM_BODY,
        "application/x-www-form-urlencoded",
        f"squall:{len(FORM_MESSAGE)}".encode(),
    ),
}


# --------------------------------------------------------------------------
# Servers


@dataclass(frozen=True)
class ServerSpec:
    """What to start: a server kind, an app, a loop and (Squall) a parser."""

    kind: str
    app: str = "hello"
    uvloop: bool = False
    httptools: bool = False

    @property
    def framework(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def loop(self) -> str:
        return "uvloop" if self.uvloop else "asyncio"

    @property
    def parser(self) -> str:
        if self.kind.startswith("squall"):
            return "httptools" if self.httptools else "pure Python"
        if self.kind == "aiohttp-web":
            return "aiohttp's"
        if self.kind == "bare":
            return "none"
        return "Tornado's"

    @property
    def label(self) -> str:
        extra = " + httptools" if self.httptools else ""
        return f"{self.framework} [{self.loop}{extra}]"

    def argv(self, cpu: int) -> list[str]:
        args = [sys.executable, str(SERVERS / "run.py"), "--kind", self.kind]
        args += ["--app", self.app, "--port", "0", "--cpu", str(cpu)]
        if self.uvloop:
            args.append("--uvloop")
        if self.httptools:
            args.append("--httptools")
        return args

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Explicit, so that an installed uvloop is never picked by "auto".
        env["SQUALL_POLLER"] = "uvloop" if self.uvloop else "epoll"
        # Explicit too: with httptools installed, the default would be it.
        env["SQUALL_HTTP_PARSER"] = "httptools" if self.httptools else "pure"
        env["PYTHONUNBUFFERED"] = "1"
        if self.kind.endswith("-compiled"):
            if not COMPILED_DIR.is_dir():
                raise BenchError(f"{COMPILED_DIR} is missing: run bench/setup_env.sh")
            stale = stale_compiled_sources()
            if stale:
                raise BenchError(
                    f"the compiled build in {COMPILED_DIR} is older than packages/http"
                    f" ({', '.join(stale[:3])}{' ...' if len(stale) > 3 else ''}):"
                    " run bench/setup_env.sh"
                )
            env["PYTHONPATH"] = str(COMPILED_DIR)
        env.pop("PYTHONDEVMODE", None)
        env.pop("PYTHONASYNCIODEBUG", None)
        return env


@dataclass
class RunningServer:
    """A started server process and what it told us about itself."""

    spec: ServerSpec
    proc: subprocess.Popen[str]
    port: int
    info: dict[str, Any]
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""


# The cores this process may use, read once at import: pin_self() later
# narrows this process to the load generator's core, and the servers it
# starts must still be pinned to theirs.
_USABLE_CPUS = (
    frozenset(os.sched_getaffinity(0))
    if hasattr(os, "sched_getaffinity")
    else frozenset(range(os.cpu_count() or 1))
)


def usable_cpus() -> set[int]:
    """The cores the benchmark may use (as the harness was started)."""
    return set(_USABLE_CPUS)


def pin_self(cpu: int) -> None:
    """Pin this process (the harness and the wrk it starts) to ``cpu``."""
    if hasattr(os, "sched_setaffinity") and cpu in usable_cpus() and len(usable_cpus()) > 1:
        os.sched_setaffinity(0, {cpu})


def raise_nofile(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def wait_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BenchError(f"port {port} does not answer: {exc}") from exc
            time.sleep(0.05)


@contextlib.contextmanager
def start_server(
    spec: ServerSpec, cpu: int = SERVER_CPU, timeout: float = 30.0
) -> Iterator[RunningServer]:
    """Start ``spec`` pinned to ``cpu``, wait for it to answer, kill it afterwards."""
    if cpu not in usable_cpus():
        cpu = -1
    stderr_file = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)  # noqa: SIM115
    stderr_path = Path(stderr_file.name)
    proc = subprocess.Popen(
        spec.argv(cpu),
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        stdin=subprocess.DEVNULL,
        env=spec.env(),
        text=True,
        cwd=str(SERVERS),
    )
    stderr_file.close()
    try:
        line = _read_ready_line(proc, timeout)
        if line is None:
            proc.kill()
            proc.wait()
            err = stderr_path.read_text(errors="replace").strip().splitlines()
            raise BenchError(
                f"{spec.label} did not start: " + (" | ".join(err[-6:]) or "no output")
            )
        _, port_text, info_text = line.split(" ", 2)
        server = RunningServer(spec, proc, int(port_text), json.loads(info_text), stderr_path)
        if spec.kind.endswith("-compiled") and not server.info.get("compiled"):
            raise BenchError(f"{spec.label} did not load the compiled build from {COMPILED_DIR}")
        wait_port(server.port)
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        with contextlib.suppress(OSError):
            stderr_path.unlink()


def _read_ready_line(proc: subprocess.Popen[str], timeout: float) -> str | None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        readable, _, _ = select.select([fd], [], [], 0.2)
        if readable:
            line = proc.stdout.readline()
            if not line:
                return None
            if line.startswith("READY "):
                return line.strip()
        elif proc.poll() is not None:
            return None
    return None


# --------------------------------------------------------------------------
# A tiny HTTP/1.1 client for the checks and the idle connections


def build_request(req: AppRequest, port: int, close: bool = False) -> bytes:
    lines = [f"{req.method} {req.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if req.content_type:
        lines.append(f"Content-Type: {req.content_type}")
    if req.body or req.method == "POST":
        lines.append(f"Content-Length: {len(req.body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + req.body


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one response (Content-Length, chunked, or until close)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchError(f"connection closed before a response head (got {buf[:100]!r})")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        size = int(headers["content-length"])
        while len(rest) < size:
            chunk = sock.recv(65536)
            if not chunk:
                raise BenchError("connection closed inside a response body")
            rest += chunk
        return status, headers, rest[:size]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise BenchError("connection closed inside a chunked body")
            rest += chunk
        body, pos = b"", 0
        while True:
            eol = rest.index(b"\r\n", pos)
            size = int(rest[pos:eol].split(b";")[0], 16)
            if size == 0:
                return status, headers, body
            body += rest[eol + 2 : eol + 2 + size]
            pos = eol + 4 + size
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return status, headers, rest
        rest += chunk


def check_app(port: int, app: str, timeout: float = 5.0) -> None:
    """One request on a fresh connection; raise BenchError unless it is right."""
    req = APP_REQUESTS[app]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(build_request(req, port))
        status, _, body = read_response(sock)
    req.check(status, body)


# --------------------------------------------------------------------------
# wrk

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
_DURATION = re.compile(r"([\d.]+)(us|ms|s|m|h)\b")


@dataclass
class WrkResult:
    """What one wrk run reported."""

    requests_per_second: float
    requests: int
    duration_s: float
    latency_ms: dict[str, float] = field(default_factory=dict)
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx_3xx: int = 0
    command: str = ""
    output: str = ""

    @property
    def error_count(self) -> int:
        return sum(self.socket_errors.values()) + self.non_2xx_3xx


def _to_ms(text: str) -> float:
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise BenchError(f"cannot read a wrk duration from {text!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, latency (avg, stdev, max, percentiles) and errors."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in ([\d.]+\w+)", output, re.M)
    if not rps or not total:
        raise BenchError("wrk printed no result:\n" + output[-2000:])
    result = WrkResult(float(rps.group(1)), int(total.group(1)), _to_ms(total.group(2)) / 1000.0)
    lat = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M)
    if lat:
        result.latency_ms.update(
            avg=_to_ms(lat.group(1)), stdev=_to_ms(lat.group(2)), max=_to_ms(lat.group(3))
        )
    for pct, value in re.findall(r"^\s*(50|75|90|99)%\s+(\S+)", output, re.M):
        result.latency_ms[f"p{pct}"] = _to_ms(value)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
        output,
    )
    if errors:
        result.socket_errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)
        )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        result.non_2xx_3xx = int(non2xx.group(1))
    return result


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")
    return found


def wrk_version() -> str:
    try:
        out = subprocess.run(
            [wrk_binary(), "-v"], check=False, capture_output=True, text=True, timeout=10
        )
    except (OSError, BenchError, subprocess.TimeoutExpired):
        return "unknown"
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0] if first else "unknown"


def _lua_string(data: bytes) -> str:
    text = data.decode("ascii")
    if "]==]" in text:
        raise BenchError("request body cannot be quoted for Lua")
    return f"[==[{text}]==]"


def write_wrk_script(req: AppRequest, close: bool, directory: Path) -> Path | None:
    """A wrk Lua script for the method/body and ``Connection: close``, or None."""
    lines = []
    if req.method != "GET":
        lines.append(f'wrk.method = "{req.method}"')
    if req.body:
        lines.append(f"wrk.body = {_lua_string(req.body)}")
    if req.content_type:
        lines.append(f'wrk.headers["Content-Type"] = "{req.content_type}"')
    if close:
        lines.append('wrk.headers["Connection"] = "close"')
    if not lines:
        return None
    path = directory / ("close.lua" if close else "request.lua")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(
    port: int,
    app: str,
    seconds: float,
    close: bool = False,
    connections: int = WRK_CONNECTIONS,
    threads: int = WRK_THREADS,
    cpu: int = LOAD_CPU,
) -> WrkResult:
    """Run wrk against 127.0.0.1:``port`` with ``app``'s request, pinned to ``cpu``."""
    req = APP_REQUESTS[app]
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = write_wrk_script(req, close, Path(tmp))
        cmd = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        cmd += ["--latency", "--timeout", "5s"]
        if script is not None:
            cmd += ["-s", str(script)]
        cmd.append(f"http://127.0.0.1:{port}{req.path}")
        if cpu in usable_cpus() and len(usable_cpus()) > 1 and shutil.which("taskset"):
            cmd = ["taskset", "-c", str(cpu), *cmd]
        try:
            out = subprocess.run(
                cmd, check=False, capture_output=True, text=True, timeout=seconds + 60
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"wrk did not finish: {' '.join(cmd)}") from exc
    if out.returncode != 0:
        raise BenchError(
            f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}"
        )
    result = parse_wrk(out.stdout)
    result.command = " ".join(
        c if "/" not in c or c.startswith("http") else Path(c).name for c in cmd
    )
    result.output = out.stdout
    return result


# --------------------------------------------------------------------------
# One throughput measurement


_ERROR_LINE = re.compile(r"Traceback|ERROR|Error|Exception|WARNING", re.I)


def measure(
    spec: ServerSpec, seconds: float, close: bool = False, warmup: float = 1.0
) -> dict[str, Any]:
    """Start ``spec``, check it, warm it up, run wrk, check it again.

    Never raises for a server's failure: the result has ``error`` set, and
    ``requests_per_second`` is None when nothing could be measured.
    """
    row: dict[str, Any] = {
        **asdict(spec),
        "label": spec.label,
        "framework": spec.framework,
        "loop": spec.loop,
        "parser": spec.parser,
        "mode": "close" if close else "keep-alive",
        "requests_per_second": None,
        "error": None,
    }
    try:
        with start_server(spec) as server:
            row["server_info"] = server.info
            expected_poller = "uvloop" if spec.uvloop else "epoll"
            if "poller" in server.info and server.info["poller"] != expected_poller:
                row["warning"] = (
                    f"asked for poller {expected_poller}, server runs on {server.info['poller']}"
                )
            if spec.kind.startswith("squall") and "parser" in server.info:
                expected_parser = "httptools" if spec.httptools else "pure"
                if server.info["parser"] != expected_parser:
                    raise BenchError(
                        f"asked for the {expected_parser} parser, "
                        f"server runs {server.info['parser']}"
                    )
            check_app(server.port, spec.app)
            if warmup > 0:
                run_wrk(server.port, spec.app, warmup, close=close)
            cpu_before, wall_before = cpu_seconds(server.pid), time.monotonic()
            result = run_wrk(server.port, spec.app, seconds, close=close)
            # Near 1.0: the server had its core to itself and was the bottleneck.
            # Well below: wrk was the bottleneck, or something else ran on core 0.
            cpu_used = cpu_seconds(server.pid) - cpu_before
            row["server_cpu_share"] = round(cpu_used / (time.monotonic() - wall_before), 3)
            # The server's cost per request, which other processes on the
            # machine barely disturb (meaningless when wrk is the bottleneck).
            row["requests_per_cpu_second"] = (
                round(result.requests / cpu_used) if cpu_used > 0 else None
            )
            row["loadavg_1m"] = round(os.getloadavg()[0], 2)
            row["requests_per_second"] = result.requests_per_second
            row["requests"] = result.requests
            row["latency_ms"] = result.latency_ms
            row["socket_errors"] = result.socket_errors
            row["non_2xx_3xx"] = result.non_2xx_3xx
            row["wrk"] = result.command
            try:
                check_app(server.port, spec.app)
                row["answers_after"] = True
            except (OSError, BenchError) as exc:
                row["answers_after"] = False
                row["error"] = f"no correct answer after the run: {exc}"
            row["server_alive"] = server.alive()
            errors = [
                line for line in server.stderr_text().splitlines() if _ERROR_LINE.search(line)
            ]
            row["server_error_lines"] = len(errors)
            row["server_errors_sample"] = errors[:10]
    except (OSError, BenchError, ValueError) as exc:
        row["error"] = str(exc)
    return row


# --------------------------------------------------------------------------
# Memory per idle keep-alive connection


def best_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge repeated measurements of the same thing, keeping the fastest.

    Other processes on the machine can only slow a run down, so the best of
    several interleaved runs is the least disturbed one.  Every value is kept
    in ``samples``.
    """
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["kind"], row["app"], row["uvloop"], row["httptools"], row["mode"])
        value = row["requests_per_second"]
        best = merged.get(key)
        if best is None:
            merged[key] = {**row, "samples": [value]}
            continue
        best["samples"].append(value)
        if value is not None and (
            best["requests_per_second"] is None or value > best["requests_per_second"]
        ):
            merged[key] = {**row, "samples": best["samples"]}
    return list(merged.values())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by process ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_rss_kb(pid: int) -> int:
    """The resident set size of process ``pid`` in kB (``VmRSS``)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def _exchange(port: int, payload: bytes, timeout: float) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(payload)
        status, _, _ = read_response(sock)
        if status != 200:
            raise BenchError(f"status {status}")
    except BaseException:
        sock.close()
        raise
    return sock


def idle_connection_memory(
    spec: ServerSpec, count: int = 4000, settle: float = 1.0, timeout: float = 10.0
) -> dict[str, Any]:
    """RSS growth of ``spec``'s server per idle keep-alive connection.

    Each of ``count`` connections sends one request, reads the response and
    stays open.  Never raises for a server's failure (``error`` is set).
    """
    raise_nofile(count + 1024)
    row: dict[str, Any] = {
        **asdict(spec),
        "label": spec.label,
        "framework": spec.framework,
        "loop": spec.loop,
        "parser": spec.parser,
        "connections": count,
        "kb_per_connection": None,
        "error": None,
    }
    socks: list[socket.socket] = []
    try:
        with start_server(spec) as server:
            row["server_info"] = server.info
            check_app(server.port, spec.app)
            payload = build_request(APP_REQUESTS[spec.app], server.port)
            # Warm up: a few connections, many requests, then closed, so the
            # baseline already holds whatever a first connection allocates.
            for _ in range(32):
                with _exchange(server.port, payload, timeout) as sock:
                    for _ in range(20):
                        sock.sendall(payload)
                        read_response(sock)
            time.sleep(settle)
            before = vm_rss_kb(server.pid)
            started = time.monotonic()
            for _ in range(count):
                socks.append(_exchange(server.port, payload, timeout))
            row["open_seconds"] = round(time.monotonic() - started, 2)
            time.sleep(settle)
            after = vm_rss_kb(server.pid)
            # Any connection the server closed meanwhile is readable (EOF).
            poller = select.poll()
            for sock in socks:
                poller.register(sock, select.POLLIN | select.POLLHUP)
            closed = len(poller.poll(0))
            row.update(
                rss_before_kb=before,
                rss_after_kb=after,
                closed_by_server=closed,
                kb_per_connection=round((after - before) / count, 2),
                server_alive=server.alive(),
            )
            if closed:
                row["error"] = f"the server closed {closed} of {count} idle connections"
    except (OSError, BenchError, ValueError) as exc:
        row["error"] = f"after {len(socks)} connections: {exc}"
    finally:
        for sock in socks:
            sock.close()
    return row


# --------------------------------------------------------------------------
# The machine, and writing results


def machine_facts() -> dict[str, Any]:
    """CPU model, cores, kernel, Python and package versions, wrk, git commit."""
    cpu_model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    packages: dict[str, str | None] = {}
    for name in REPORTED_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        check=False,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "date": datetime.date.today().isoformat(),
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": packages,
        "wrk": wrk_version(),
        "commit": commit or None,
        "server_cpu": SERVER_CPU,
        "load_cpu": LOAD_CPU,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def machine_line(facts: dict[str, Any]) -> str:
    """One sentence naming the machine, for the tables."""
    pkgs = facts["packages"]
    versions = ", ".join(
        f"{name} {pkgs[name]}"
        for name in ("tornado", "aiohttp", "uvloop", "httptools")
        if pkgs.get(name)
    )
    return (
        f"Measured on {facts['date']} on {facts['cpu_model']} ({facts['cores']} cores), "
        f"{facts['kernel']}, {facts['python']}; {versions}; "
        f"{facts['wrk']} with -t{WRK_THREADS} -c{WRK_CONNECTIONS} on core {facts['load_cpu']}, "
        f"the server alone on core {facts['server_cpu']}"
        + (f"; Squall at commit {facts['commit']}." if facts.get("commit") else ".")
    )


def rst_list_table(
    header: list[str], rows: list[list[str]], widths: list[int] | None = None
) -> list[str]:
    """Lines of a reST ``list-table`` with one header row."""
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append("   :widths: " + " ".join(map(str, widths)))
    lines.append("")
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    lines.append("")
    return lines


def noise_note(runs: list[dict[str, Any]]) -> str | None:
    """A sentence for the tables when other load disturbed the run, else None.

    Looks at the framework servers (not the wrk-bound bare Protocol): a
    server that is the bottleneck and has its core should use ~100 % of it.
    """
    shares = sorted(
        r["server_cpu_share"]
        for r in runs
        if r.get("server_cpu_share") is not None and r["kind"] != "bare"
    )
    if not shares:
        return None
    median = shares[len(shares) // 2]
    if median >= 0.85:
        return None
    return (
        f"Other processes shared the machine during this run: the servers got a median"
        f" {median:.0%} of their core, so requests per second understate them; the"
        " requests per server CPU-second are the steadier figures to compare."
    )


def fmt_rps(value: float | None) -> str:
    return "failed" if value is None else f"{value:,.0f}"


def fmt_ratio(num: float | None, den: float | None) -> str:
    if num is None or not den:
        return "n/a"
    return f"{num / den:.2f}x"


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or not den:
        return None
    return round(num / den, 3)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def progress(row: dict[str, Any]) -> None:
    """Print one finished measurement."""
    if "kb_per_connection" in row:
        value = (
            "failed"
            if row["kb_per_connection"] is None
            else f"{row['kb_per_connection']:.2f} KB/conn"
        )
        what = f"{row['label']:45s} {row['app']:5s} idle x{row['connections']}"
    else:
        value = fmt_rps(row["requests_per_second"]) + " req/s"
        lat = row.get("latency_ms") or {}
        if "p99" in lat:
            value += f"  p50 {lat.get('p50', 0):.2f} ms  p99 {lat['p99']:.2f} ms"
        if row.get("server_cpu_share") is not None:
            value += f"  server cpu {row['server_cpu_share']:.2f}"
        if row.get("requests_per_cpu_second"):
            value += f"  ({row['requests_per_cpu_second']:,} per CPU-s)"
        errs = sum((row.get("socket_errors") or {}).values()) + (row.get("non_2xx_3xx") or 0)
        if errs:
            value += f"  wrk errors {errs}"
        if row.get("server_error_lines"):
            value += f"  server error lines {row['server_error_lines']}"
        what = f"{row['label']:45s} {row['app']:5s} {row['mode']:10s}"
    print(f"  {what} {value}", flush=True)
    for key in ("warning", "error"):
        if row.get(key):
            print(f"      {key}: {row[key]}", flush=True)
