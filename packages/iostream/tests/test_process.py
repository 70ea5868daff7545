"""Tests for squall.process: cpu_count, fork_processes, task_id and Subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from squall import process
from squall.ioloop import FDSetSizeError, IOLoop
from squall.process import CalledProcessError, Subprocess, cpu_count, fork_processes, task_id
from squall.testing import ExpectLog, count_open_fds

STREAM = Subprocess.STREAM
needs_proc_fd = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")


def test_public_api() -> None:
    assert set(process.__all__) == {
        "CalledProcessError",
        "Subprocess",
        "cpu_count",
        "fork_processes",
        "task_id",
    }
    assert CalledProcessError is subprocess.CalledProcessError


def test_cpu_count() -> None:
    n = cpu_count()
    assert isinstance(n, int)
    assert 1 <= n <= (os.cpu_count() or n)


def test_task_id_outside_fork_processes() -> None:
    assert task_id() is None


async def test_fork_processes_refuses_running_loop(io_loop: IOLoop) -> None:
    with pytest.raises(RuntimeError, match="event loop is running"):
        fork_processes(2)


def test_fork_processes_refuses_existing_ioloop(io_loop: IOLoop) -> None:
    with pytest.raises(RuntimeError, match="IOLoop exists"):
        fork_processes(2)


# -------------------------------------------------------------- fork_processes

# Each script runs in its own interpreter, so that forking never touches the
# test process.  Task 0 is killed by a signal and task 1 exits with status 7
# the first time they run; both are restarted and then print their task id.
RESTART_SCRIPT = """
import os, signal, sys
from squall.process import fork_processes, task_id

markers = sys.argv[1]
tid = fork_processes(2, max_restarts=5)
assert task_id() == tid, (task_id(), tid)
marker = os.path.join(markers, f"crashed-{tid}")
if not os.path.exists(marker):
    open(marker, "w").close()
    if tid == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(7)
print(f"task {tid} of pid {os.getpid()}", flush=True)
sys.exit(0)
"""

# Task 0 runs for a long time; task 1 keeps failing, so the parent gives up
# after max_restarts and must stop task 0 on its way out.
GIVE_UP_SCRIPT = """
import os, sys, time
from squall.process import fork_processes

pidfile = sys.argv[1]
tid = fork_processes(2, max_restarts=2)
if tid == 0:
    with open(pidfile + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(pidfile + ".tmp", pidfile)
    time.sleep(60)
    sys.exit(0)
deadline = time.monotonic() + 20
while not os.path.exists(pidfile) and time.monotonic() < deadline:
    time.sleep(0.01)
os._exit(1)
"""


# The pre-fork server pattern: bind first, fork, then one IOLoop per child
# accepting on the shared socket.  Each child answers with its task id and
# stops when the stop file appears (or after 30 s).
PREFORK_SERVER_SCRIPT = """
import os, sys, time
from squall.ioloop import IOLoop, PeriodicCallback
from squall.netutil import add_accept_handler, bind_sockets
from squall.process import fork_processes

stop_file = sys.argv[1]
sockets = bind_sockets(0, "127.0.0.1")
print(sockets[0].getsockname()[1], flush=True)
tid = fork_processes(2, max_restarts=0)
loop = IOLoop.current()
started = time.monotonic()

def on_connection(connection, address):
    connection.setblocking(True)
    connection.sendall(b"task %d\\n" % tid)
    connection.close()

for sock in sockets:
    add_accept_handler(sock, on_connection)

def check_stop():
    if os.path.exists(stop_file) or time.monotonic() - started > 30:
        loop.stop()

PeriodicCallback(check_stop, 20).start()
loop.start()
sys.exit(0)
"""


def _run_script(tmp_path: Path, source: str, arg: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, str(script), arg],
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )


def test_fork_processes_restarts_crashed_children(tmp_path: Path) -> None:
    start = time.monotonic()
    result = _run_script(tmp_path, RESTART_SCRIPT, str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stdout.splitlines())
    assert len(lines) == 2, result.stdout
    assert lines[0].startswith("task 0 of pid ")
    assert lines[1].startswith("task 1 of pid ")
    assert "killed by signal 9 (SIGKILL), restarting" in result.stderr
    assert "exited with status 7, restarting" in result.stderr
    assert (tmp_path / "crashed-0").exists()
    assert (tmp_path / "crashed-1").exists()
    assert time.monotonic() - start < 40


def test_fork_processes_gives_up_after_max_restarts(tmp_path: Path) -> None:
    pidfile = tmp_path / "task0.pid"
    result = _run_script(tmp_path, GIVE_UP_SCRIPT, str(pidfile))
    assert result.returncode == 1
    assert "RuntimeError: too many child restarts (3 abnormal exits, max_restarts=2)" in (
        result.stderr
    )
    # The surviving child was terminated and reaped by the parent.
    survivor = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(survivor, 0)


def test_prefork_server_on_loopback(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(textwrap.dedent(PREFORK_SERVER_SCRIPT))
    stop_file = tmp_path / "stop"
    server = subprocess.Popen(
        [sys.executable, str(script), str(stop_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        answers = []
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                answers.append(conn.makefile("rb").readline())
        stop_file.touch()
        _out, err = server.communicate(timeout=40)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err
    assert set(answers) <= {b"task 0\n", b"task 1\n"}
    assert len(answers) == 20


# ------------------------------------------------------------------ Subprocess


@pytest.fixture(params=["pidfd", "sigchld"])
def child_watch(request: pytest.FixtureRequest, io_loop: IOLoop) -> Iterator[str]:
    """Run the test with each way of noticing child exits."""
    mode: str = request.param
    if mode == "pidfd" and not process._pidfd_supported():
        pytest.skip("no pidfd on this platform")
    Subprocess.uninitialize()
    saved = Subprocess._use_pidfd
    Subprocess._use_pidfd = mode == "pidfd"
    try:
        yield mode
    finally:
        Subprocess.uninitialize()
        Subprocess._use_pidfd = saved


async def test_cat_echo(child_watch: str, io_loop: IOLoop) -> None:
    proc = Subprocess(["cat"], stdin=STREAM, stdout=STREAM, stderr=STREAM)
    assert proc.io_loop is io_loop
    assert proc.pid == proc.proc.pid
    payload = b"".join(b"line %d\n" % i for i in range(5000))
    await proc.stdin.write(payload)
    proc.stdin.close()
    output = await asyncio.wait_for(proc.stdout.read_until_close(), 10)
    assert output == payload
    assert await asyncio.wait_for(proc.stderr.read_until_close(), 10) == b""
    assert await asyncio.wait_for(proc.wait_for_exit(), 10) == 0
    assert proc.returncode == 0
    assert proc.proc.returncode == 0


async def test_line_by_line_dialogue(child_watch: str) -> None:
    proc = Subprocess(["cat"], stdin=STREAM, stdout=STREAM)
    try:
        for word in (b"one", b"two", b"three"):
            await proc.stdin.write(word + b"\n")
            line = await asyncio.wait_for(proc.stdout.read_until(b"\n"), 10)
            assert line == word + b"\n"
    finally:
        proc.stdin.close()
    assert await asyncio.wait_for(proc.stdout.read_until_close(), 10) == b""
    assert await asyncio.wait_for(proc.wait_for_exit(), 10) == 0


async def test_exit_code(child_watch: str) -> None:
    proc = Subprocess(["sh", "-c", "exit 3"])
    assert proc.stdin is None
    assert proc.stdout is None
    assert await asyncio.wait_for(proc.wait_for_exit(raise_error=False), 10) == 3
    assert proc.returncode == 3


async def test_wait_for_exit_raises_on_failure(child_watch: str) -> None:
    proc = Subprocess(["sh", "-c", "echo oops >&2; exit 2"], stderr=STREAM)
    with pytest.raises(CalledProcessError) as info:
        await asyncio.wait_for(proc.wait_for_exit(), 10)
    assert info.value.returncode == 2
    assert info.value.cmd == ["sh", "-c", "echo oops >&2; exit 2"]
    assert await asyncio.wait_for(proc.stderr.read_until_close(), 10) == b"oops\n"


async def test_killed_by_signal(child_watch: str) -> None:
    proc = Subprocess(["sleep", "30"])
    exited = proc.wait_for_exit()
    await asyncio.sleep(0.05)
    assert not exited.done()
    os.kill(proc.pid, signal.SIGTERM)
    with pytest.raises(CalledProcessError) as info:
        await asyncio.wait_for(exited, 10)
    assert info.value.returncode == -signal.SIGTERM
    assert proc.returncode == -signal.SIGTERM


async def test_exit_callback(child_watch: str, io_loop: IOLoop) -> None:
    got: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    proc = Subprocess(["sh", "-c", "exit 4"])
    proc.set_exit_callback(got.set_result)
    assert await asyncio.wait_for(got, 10) == 4


async def test_exit_callback_after_exit(child_watch: str) -> None:
    proc = Subprocess(["true"])
    assert await asyncio.wait_for(proc.wait_for_exit(), 10) == 0
    # Already known: a late callback still hears of it.
    got: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    proc.set_exit_callback(got.set_result)
    assert await asyncio.wait_for(got, 10) == 0
    assert await asyncio.wait_for(proc.wait_for_exit(), 10) == 0


async def test_exit_callback_replaced(child_watch: str) -> None:
    first: list[int] = []
    proc = Subprocess(["sh", "-c", "exit 6"])
    proc.set_exit_callback(first.append)
    assert await asyncio.wait_for(proc.wait_for_exit(raise_error=False), 10) == 6
    assert first == []


async def test_exit_callback_error_is_logged(child_watch: str, io_loop: IOLoop) -> None:
    def broken(returncode: int) -> None:
        raise RuntimeError("broken exit callback")

    with ExpectLog("squall.application", "Exception in callback"):
        proc = Subprocess(["true"])
        proc.set_exit_callback(broken)
        deadline = time.monotonic() + 10
        while proc.returncode is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
    assert proc.returncode == 0
    # The loop carries on with the next child.
    assert await asyncio.wait_for(Subprocess(["true"]).wait_for_exit(), 10) == 0


async def test_many_children_at_once(child_watch: str) -> None:
    procs = [Subprocess(["sh", "-c", f"sleep 0.0{i % 3}; exit {i}"]) for i in range(12)]
    codes = await asyncio.wait_for(
        asyncio.gather(*(p.wait_for_exit(raise_error=False) for p in procs)), 20
    )
    assert codes == list(range(12))


async def test_child_reaped_elsewhere(child_watch: str) -> None:
    proc = Subprocess(["sh", "-c", "exit 5"])
    assert proc.proc.wait(timeout=10) == 5  # Popen reaps it first
    assert await asyncio.wait_for(proc.wait_for_exit(raise_error=False), 10) == 5


async def test_wait_in_thread_when_loop_cannot_watch_pidfd(
    io_loop: IOLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not process._pidfd_supported():
        pytest.skip("no pidfd on this platform")
    Subprocess.uninitialize()
    monkeypatch.setattr(Subprocess, "_use_pidfd", True)

    def refuse(fd: Any, handler: Any, events: int) -> None:
        raise FDSetSizeError(fd)

    proc = Subprocess(["sh", "-c", "sleep 0.05; exit 9"])
    monkeypatch.setattr(io_loop, "add_handler", refuse)
    assert await asyncio.wait_for(proc.wait_for_exit(raise_error=False), 10) == 9
    Subprocess.uninitialize()


def test_initialize_and_uninitialize_sigchld(monkeypatch: pytest.MonkeyPatch) -> None:
    Subprocess.uninitialize()
    monkeypatch.setattr(Subprocess, "_use_pidfd", False)
    before = signal.getsignal(signal.SIGCHLD)
    Subprocess.initialize()
    try:
        assert signal.getsignal(signal.SIGCHLD) == Subprocess._on_sigchld
        Subprocess.initialize()  # idempotent
    finally:
        Subprocess.uninitialize()
    assert signal.getsignal(signal.SIGCHLD) == before
    Subprocess.uninitialize()  # idempotent
    assert signal.getsignal(signal.SIGCHLD) == before


def _current_wakeup_fd() -> int:
    current = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(current)
    return current


def test_sigchld_wakeup_descriptor_taken_and_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    Subprocess.uninitialize()
    monkeypatch.setattr(Subprocess, "_use_pidfd", False)
    assert _current_wakeup_fd() == -1
    Subprocess.initialize()
    try:
        assert _current_wakeup_fd() != -1
    finally:
        Subprocess.uninitialize()
    assert _current_wakeup_fd() == -1


def test_sigchld_wakeup_leaves_another_owners_descriptor(monkeypatch: pytest.MonkeyPatch) -> None:
    Subprocess.uninitialize()
    monkeypatch.setattr(Subprocess, "_use_pidfd", False)
    theirs, other = socket.socketpair()
    theirs.setblocking(False)
    signal.set_wakeup_fd(theirs.fileno())
    try:
        Subprocess.initialize()
        assert _current_wakeup_fd() == theirs.fileno()
        Subprocess.uninitialize()
        assert _current_wakeup_fd() == theirs.fileno()
    finally:
        Subprocess.uninitialize()
        signal.set_wakeup_fd(-1)
        theirs.close()
        other.close()


@needs_proc_fd
def test_sigchld_wakeup_refused_outside_main_thread() -> None:
    from squall._signal_wakeup import SignalWakeup

    wakeup = SignalWakeup(signal.SIGCHLD, lambda: None)
    before = count_open_fds(None)
    errors: list[BaseException] = []

    def attach() -> None:
        try:
            wakeup.attach()
        except ValueError as e:
            errors.append(e)

    worker = threading.Thread(target=attach)
    worker.start()
    worker.join(10)
    assert len(errors) == 1 and "main thread" in str(errors[0])
    wakeup.attach_after_fork()  # a no-op outside a forked child
    assert count_open_fds(None) == before  # no pipe was opened
    assert _current_wakeup_fd() == -1


async def test_exit_noticed_when_sigchld_lands_in_another_thread(child_watch: str) -> None:
    # With SIGCHLD blocked in the main thread the kernel hands it to another
    # thread; Python then runs the handler only when the main thread next
    # wakes up.  The same happens when the signal arrives just before the
    # main thread blocks in its poller.  The exit must be noticed at once.
    Subprocess.initialize()
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
    try:
        proc = Subprocess(["sh", "-c", "sleep 0.1; exit 3"])
        started = time.monotonic()
        returncode = await asyncio.wait_for(proc.wait_for_exit(raise_error=False), 10)
        elapsed = time.monotonic() - started
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    assert returncode == 3
    assert elapsed < 2.0


def test_sigchld_wakeup_in_forked_child(tmp_path: Path) -> None:
    # A child forked after initialize() (as by fork_processes) gets a wakeup
    # pipe of its own: the parent's reader thread is not there.
    script = tmp_path / "forked.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, os, signal, sys, time
            from squall.ioloop import IOLoop
            from squall.process import Subprocess

            Subprocess._use_pidfd = False
            Subprocess.initialize()
            pid = os.fork()
            if pid == 0:
                async def main():
                    # Unblocked first, so the child's reader thread can take it.
                    assert await Subprocess(["true"]).wait_for_exit() == 0
                    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
                    proc = Subprocess(["sh", "-c", "sleep 0.1; exit 4"])
                    started = time.monotonic()
                    code = await asyncio.wait_for(proc.wait_for_exit(raise_error=False), 10)
                    assert code == 4, code
                    assert time.monotonic() - started < 2.0
                try:
                    IOLoop().run_sync(main)
                except BaseException as exc:
                    print("child failed:", repr(exc), flush=True)
                    os._exit(1)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_initialize_with_pidfd_leaves_sigchld_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    if not process._pidfd_supported():
        pytest.skip("no pidfd on this platform")
    Subprocess.uninitialize()
    monkeypatch.setattr(Subprocess, "_use_pidfd", True)
    before = signal.getsignal(signal.SIGCHLD)
    Subprocess.initialize()
    assert signal.getsignal(signal.SIGCHLD) == before
    Subprocess.uninitialize()


@needs_proc_fd
async def test_no_fd_leak(child_watch: str) -> None:
    async def round_trip() -> None:
        proc = Subprocess(["cat"], stdin=STREAM, stdout=STREAM, stderr=STREAM)
        await proc.stdin.write(b"data")
        proc.stdin.close()
        assert await asyncio.wait_for(proc.stdout.read_until_close(), 10) == b"data"
        assert await asyncio.wait_for(proc.stderr.read_until_close(), 10) == b""
        assert await asyncio.wait_for(proc.wait_for_exit(), 10) == 0
        proc.stdout.close()
        proc.stderr.close()

    await round_trip()  # warm up whatever the loop opens lazily
    before = count_open_fds(None)
    for _ in range(5):
        await round_trip()
    await asyncio.sleep(0)
    assert count_open_fds(None) == before


@needs_proc_fd
def test_failed_start_leaks_no_fd(io_loop: IOLoop) -> None:
    before = count_open_fds(None)
    with pytest.raises(FileNotFoundError):
        Subprocess(["/nonexistent/program"], stdin=STREAM, stdout=STREAM, stderr=STREAM)
    assert count_open_fds(None) == before


async def test_tornado4_io_loop_argument(io_loop: IOLoop) -> None:
    Subprocess.initialize(io_loop)
    proc = Subprocess(["sh", "-c", "exit 0"], io_loop=io_loop)
    assert proc.io_loop is io_loop
    assert await asyncio.wait_for(proc.wait_for_exit(), 10) == 0


def test_repr(io_loop: IOLoop) -> None:
    proc = Subprocess(["true"])
    proc.proc.wait(timeout=10)
    assert f"pid={proc.pid}" in repr(proc)
