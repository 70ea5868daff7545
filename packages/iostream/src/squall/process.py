"""Several processes: pre-forking servers and child processes with stream pipes.

* :func:`fork_processes` turns one process into a parent that forks and
  supervises worker processes (one per core by default): bind the
  listening sockets first with :func:`squall.netutil.bind_sockets`, fork,
  then start an IOLoop in each worker.  :func:`task_id` tells the workers
  apart.
* :class:`Subprocess` runs a child process whose standard streams can be
  :class:`squall.iostream.PipeIOStream` objects, and tells the IOLoop when
  it exits.

How child exits are noticed: on Linux each :class:`Subprocess` watches a
*pidfd* (a descriptor that becomes readable when the process ends) on its
own IOLoop, whatever the poller, uvloop included.  Elsewhere a ``SIGCHLD``
handler installed by :meth:`Subprocess.initialize` reaps the children it
knows of and hands each exit to the IOLoop that owns the child.  Because
Python runs signal handlers only in the main thread, between bytecodes, the
same call also makes a pipe the process's :func:`signal.set_wakeup_fd`
descriptor (unless something else, such as an asyncio loop with signal
handlers, already holds it) and reads it in a daemon thread, so an exit is
noticed at once even when the signal lands in another thread or just before
the main thread blocks in its poller.

Exceptions used here::

    subprocess.CalledProcessError (= squall.process.CalledProcessError)
        -- wait_for_exit(): the child exited with a non-zero status
    RuntimeError -- fork_processes(): children kept dying (max_restarts),
        or it was called with an event loop running
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, ClassVar

from squall._signal_wakeup import SignalWakeup
from squall.ioloop import IOLoop
from squall.iostream import PipeIOStream

__all__ = [
    "CalledProcessError",
    "Subprocess",
    "cpu_count",
    "fork_processes",
    "task_id",
]

_gen_log = logging.getLogger("squall.general")

CalledProcessError = subprocess.CalledProcessError
"""Raised by :meth:`Subprocess.wait_for_exit` for a non-zero exit status.

The same class as :class:`subprocess.CalledProcessError`; ``returncode``
holds the status (negative: killed by that signal) and ``cmd`` the command.

.. versionadded:: 0.1.0
"""

_task_id: int | None = None

# How long fork_processes lets the surviving children stop after SIGTERM
# when it gives up, before killing them.
_GIVE_UP_GRACE = 5.0


def cpu_count() -> int:
    """Return the number of processors this process may run on.

    The CPU affinity mask is used where the platform has one (so a container
    limited to two cores gets 2), else the machine's processor count; 1 if
    neither can be determined.

    .. versionadded:: 0.1.0
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        pass
    count = os.cpu_count()
    if count:
        return count
    _gen_log.error("Could not detect the number of processors; assuming 1")
    return 1


def task_id() -> int | None:
    """Return the task id of this process, or ``None``.

    In a process started by :func:`fork_processes` this is a number from 0
    to ``num_processes - 1``, kept by a child that replaces one that died;
    in any other process it is ``None``.

    .. versionadded:: 0.1.0
    """
    return _task_id


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by signal {sig} ({name})"
    return f"exited with status {os.WEXITSTATUS(status)}"


def _stop_children(children: dict[int, int]) -> None:
    """Terminate and reap the children still running when the parent gives up."""
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + _GIVE_UP_GRACE
    remaining = set(children)
    while remaining:
        for pid in list(remaining):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                remaining.discard(pid)
        if not remaining:
            break
        if time.monotonic() > deadline:
            for pid in remaining:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
            break
        time.sleep(0.02)


def fork_processes(num_processes: int | None, max_restarts: int | None = 100) -> int:
    """Fork ``num_processes`` worker processes and supervise them.

    In each child this returns the child's task id (0 to
    ``num_processes - 1``, also available from :func:`task_id`).  The
    parent never returns: it waits for the children, starts a new child
    with the same task id in place of one that was killed by a signal or
    exited with a non-zero status, and calls ``sys.exit(0)`` once every
    child has exited with status 0.

    No IOLoop may exist in this thread when this is called (forked
    children cannot share their parent's poller); bind the listening
    sockets before, and create the IOLoop after::

        sockets = bind_sockets(8888)
        fork_processes(0)
        server = HTTPServer(app)
        server.add_sockets(sockets)
        IOLoop.current().start()

    :param num_processes: how many children; ``None`` or a number <= 0 means
        :func:`cpu_count`.
    :param max_restarts: how many abnormal exits, in total, the parent
        replaces before giving up (``None``: 100).
    :returns: the task id, in a child.
    :raises RuntimeError: in the parent, when more than ``max_restarts``
        children died (the message gives the count); the children still
        running are terminated first.  Also when an event loop is running
        or an IOLoop exists in this thread, or this process is already a
        forked child.

    .. versionadded:: 0.1.0
    """
    if _task_id is not None:
        raise RuntimeError("fork_processes() cannot be called from a process it forked")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "fork_processes() cannot be called while an event loop is running: "
            "call it before starting the IOLoop"
        )
    if IOLoop.current(instance=False) is not None:
        # Its poller's descriptor would be shared by every child, which
        # would then steal each other's events.
        raise RuntimeError(
            "fork_processes() cannot be called once an IOLoop exists in this thread: "
            "create the IOLoop after forking"
        )
    if max_restarts is None:
        max_restarts = 100
    if num_processes is None or num_processes <= 0:
        num_processes = cpu_count()
    _gen_log.info("Starting %d processes", num_processes)
    children: dict[int, int] = {}

    def start_child(i: int) -> int | None:
        global _task_id
        pid = os.fork()
        if pid == 0:
            _task_id = i
            return i
        children[pid] = i
        return None

    for i in range(num_processes):
        started = start_child(i)
        if started is not None:
            return started
    num_restarts = 0
    while children:
        pid, status = os.wait()
        if pid not in children:
            continue
        child_id = children.pop(pid)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            _gen_log.info("child %d (pid %d) exited normally", child_id, pid)
            continue
        _gen_log.warning("child %d (pid %d) %s, restarting", child_id, pid, _describe_exit(status))
        num_restarts += 1
        if num_restarts > max_restarts:
            _stop_children(children)
            raise RuntimeError(
                f"too many child restarts ({num_restarts} abnormal exits, "
                f"max_restarts={max_restarts}), giving up"
            )
        started = start_child(child_id)
        if started is not None:
            return started
    # Every child exited cleanly: so does the parent, rather than falling
    # through into the code meant for the children.
    sys.exit(0)


def _pidfd_supported() -> bool:
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        fd = os.pidfd_open(os.getpid())
    except OSError:
        return False
    os.close(fd)
    return True


class Subprocess:
    """A child process whose pipes are streams and whose exit the IOLoop hears of.

    Takes the arguments of :class:`subprocess.Popen`, plus one value:
    ``stdin``, ``stdout`` or ``stderr`` set to :attr:`Subprocess.STREAM`
    makes that standard stream a pipe whose parent end is a
    :class:`squall.iostream.PipeIOStream`, available as the attribute of the
    same name.  Any other value is passed to ``Popen`` unchanged, and the
    attribute is then ``Popen``'s (``None`` for an inherited stream).

    ::

        proc = Subprocess(["cat"], stdin=Subprocess.STREAM, stdout=Subprocess.STREAM)
        await proc.stdin.write(b"hello")
        proc.stdin.close()
        data = await proc.stdout.read_until_close()
        status = await proc.wait_for_exit()

    The object belongs to the IOLoop that is current when it is created
    (or to the one passed as ``io_loop=``, as Tornado 4 allowed); call
    :meth:`set_exit_callback` and :meth:`wait_for_exit` from its thread.
    The parent ends of the pipes are closed by closing the streams (reading
    until close does it for the read side).

    :raises OSError: if the program cannot be started (the pipes are closed
        again).

    .. versionadded:: 0.1.0
    """

    #: Pass as ``stdin``, ``stdout`` or ``stderr`` to get a
    #: :class:`~squall.iostream.PipeIOStream` for that stream.
    STREAM: ClassVar[object] = object()

    _initialized: ClassVar[bool] = False
    # None: pick at initialize(); True: per-process pidfd; False: SIGCHLD.
    _use_pidfd: ClassVar[bool | None] = None
    _old_sigchld: ClassVar[Any] = None
    # Wakes the loops at once when SIGCHLD lands in another thread or just
    # before the main thread blocks in its poller (see squall._signal_wakeup).
    _sigchld_wakeup: ClassVar[SignalWakeup | None] = None
    _waiting: ClassVar[dict[int, Subprocess]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        io_loop = kwargs.pop("io_loop", None)
        #: The IOLoop that hears of the exit and runs the streams.
        self.io_loop: IOLoop = io_loop if io_loop is not None else IOLoop.current()
        # (attribute, parent's end, child's end) of each pipe made here
        pipes: list[tuple[str, int, int]] = []
        try:
            for name in ("stdin", "stdout", "stderr"):
                if kwargs.get(name) is Subprocess.STREAM:
                    read_end, write_end = os.pipe()
                    if name == "stdin":
                        pipes.append((name, write_end, read_end))
                    else:
                        pipes.append((name, read_end, write_end))
                    kwargs[name] = pipes[-1][2]
            self.proc = subprocess.Popen(*args, **kwargs)
        except BaseException:
            for _name, parent_end, child_end in pipes:
                os.close(parent_end)
                os.close(child_end)
            raise
        for _name, _parent_end, child_end in pipes:
            os.close(child_end)
        streams: dict[str, PipeIOStream] = {}
        try:
            for name, parent_end, _child_end in pipes:
                streams[name] = PipeIOStream(parent_end)
        except BaseException:
            for name, parent_end, _child_end in pipes:
                if name in streams:
                    streams[name].close()
                else:
                    os.close(parent_end)
            raise
        #: The child's process id.
        self.pid: int = self.proc.pid
        #: The exit status once known (negative: killed by that signal), else ``None``.
        self.returncode: int | None = None
        self.stdin: Any = self.proc.stdin
        self.stdout: Any = self.proc.stdout
        self.stderr: Any = self.proc.stderr
        for name, stream in streams.items():
            setattr(self, name, stream)
        self._exit_callback: Callable[[int], Any] | None = None
        self._pidfd: int | None = None
        self._watching = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} pid={self.pid} returncode={self.returncode}>"

    def set_exit_callback(self, callback: Callable[[int], Any]) -> None:
        """Call ``callback(returncode)`` on the IOLoop when the process exits.

        ``returncode`` is the exit status, or minus the signal number when
        the process was killed.  If the process has already exited and
        been seen to, the callback is scheduled at once.  A second call
        replaces the callback.  Calls :meth:`initialize`.

        :param callback: called with the return code.

        .. versionadded:: 0.1.0
        """
        self._exit_callback = callback
        if self.returncode is not None:
            self.io_loop.add_callback(self._run_exit_callback)
            return
        Subprocess.initialize()
        if not self._watching:
            self._watching = True
            self._start_watching()

    def wait_for_exit(self, raise_error: bool = True) -> asyncio.Future[int]:
        """Return a Future that resolves to the return code when the process exits.

        Replaces any callback given to :meth:`set_exit_callback`.

        :param raise_error: whether a non-zero return code fails the Future
            with :class:`CalledProcessError` instead.

        .. versionadded:: 0.1.0
        """
        future: asyncio.Future[int] = self.io_loop.asyncio_loop.create_future()

        def on_exit(returncode: int) -> None:
            if future.cancelled():
                return
            if returncode != 0 and raise_error:
                future.set_exception(CalledProcessError(returncode, self.proc.args))
            else:
                future.set_result(returncode)

        self.set_exit_callback(on_exit)
        return future

    def _start_watching(self) -> None:
        if Subprocess._use_pidfd:
            self._watch_pidfd()
        else:
            if Subprocess._sigchld_wakeup is not None:
                Subprocess._sigchld_wakeup.attach_after_fork()
            Subprocess._waiting[self.pid] = self
            Subprocess._try_cleanup_process(self.pid)

    # ------------------------------------------------------------ pidfd path

    def _watch_pidfd(self) -> None:
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            # Already reaped by somebody else (a Popen.wait() on self.proc).
            self._reap()
            return
        try:
            self.io_loop.add_handler(self._pidfd, self._on_pidfd, IOLoop.READ)
        except (OSError, ValueError):
            # This poller cannot watch the descriptor (select and fd >= 1024):
            # wait in a thread instead.
            os.close(self._pidfd)
            self._pidfd = None
            threading.Thread(
                target=self._wait_in_thread, name=f"squall-wait-{self.pid}", daemon=True
            ).start()

    def _on_pidfd(self, fd: Any, events: int) -> None:
        self._close_pidfd()
        self._reap()

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            self.io_loop.remove_handler(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def _wait_in_thread(self) -> None:
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            self.io_loop.add_callback(self._reap)
            return
        self.io_loop.add_callback(self._set_returncode, status)

    def _reap(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self._set_returncode(None)
            return
        if pid == 0:
            # Not finished after all (cannot happen with a pidfd): wait again.
            self._start_watching()
            return
        self._set_returncode(status)

    # ----------------------------------------------------------- SIGCHLD path

    @classmethod
    def initialize(cls, io_loop: IOLoop | None = None) -> None:
        """Prepare to be told about child exits; idempotent.

        Called by :meth:`set_exit_callback`, so calling it yourself is only
        needed to choose the moment.  On Linux (pidfd) nothing global is
        changed.  Elsewhere a ``SIGCHLD`` handler is installed, and the
        signal wakeup descriptor set if it is free (see the module
        description); it must then be called from the main thread, and it
        reaps only the children of :class:`Subprocess` objects, so it
        coexists with other code that waits for its own children.

        :param io_loop: accepted for Tornado 4 code and unused: each exit is
            delivered on the loop of its own :class:`Subprocess`.
        :raises ValueError: (SIGCHLD only) when called outside the main thread.

        .. versionadded:: 0.1.0
        """
        if cls._initialized:
            return
        if Subprocess._use_pidfd is None:
            Subprocess._use_pidfd = _pidfd_supported()
        if not Subprocess._use_pidfd:
            Subprocess._old_sigchld = signal.signal(signal.SIGCHLD, Subprocess._on_sigchld)
            if Subprocess._sigchld_wakeup is None:
                Subprocess._sigchld_wakeup = SignalWakeup(
                    signal.SIGCHLD, Subprocess._wake_waiting_loops
                )
            Subprocess._sigchld_wakeup.attach()
        Subprocess._initialized = True

    @classmethod
    def uninitialize(cls) -> None:
        """Undo :meth:`initialize`: restore the previous ``SIGCHLD`` handler.

        Children already being watched through a pidfd are still noticed.

        .. versionadded:: 0.1.0
        """
        if not Subprocess._initialized:
            return
        if not Subprocess._use_pidfd:
            old = Subprocess._old_sigchld
            signal.signal(signal.SIGCHLD, signal.SIG_DFL if old is None else old)
            Subprocess._old_sigchld = None
            if Subprocess._sigchld_wakeup is not None:
                Subprocess._sigchld_wakeup.detach()
        Subprocess._initialized = False

    @staticmethod
    def _on_sigchld(signum: int, frame: FrameType | None) -> None:
        # Runs in the main thread between two bytecodes of whatever was
        # running: only hand the work to the loops owning the children.
        Subprocess._wake_waiting_loops()

    @staticmethod
    def _wake_waiting_loops() -> None:
        # Thread-safe: also called by the wakeup pipe's reader thread.
        loops = {id(p.io_loop): p.io_loop for p in list(Subprocess._waiting.values())}
        for loop in loops.values():
            loop.add_callback_from_signal(Subprocess._cleanup, loop)

    @classmethod
    def _cleanup(cls, io_loop: IOLoop | None = None) -> None:
        for pid, proc in list(Subprocess._waiting.items()):
            if io_loop is None or proc.io_loop is io_loop:
                cls._try_cleanup_process(pid)

    @classmethod
    def _try_cleanup_process(cls, pid: int) -> None:
        proc = Subprocess._waiting.get(pid)
        if proc is None:
            return
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            Subprocess._waiting.pop(pid, None)
            proc.io_loop.add_callback(proc._set_returncode, None)
            return
        if done == 0:
            return
        Subprocess._waiting.pop(pid, None)
        proc.io_loop.add_callback(proc._set_returncode, status)

    # ---------------------------------------------------------------- common

    def _set_returncode(self, status: int | None) -> None:
        if self.returncode is not None:
            return
        self._watching = False
        if status is None:
            # Reaped elsewhere: Popen knows the status if it was its doing.
            returncode = self.proc.returncode
            if returncode is None:
                _gen_log.warning(
                    "exit status of pid %d was collected by someone else; reporting 255",
                    self.pid,
                )
                returncode = 255
        else:
            returncode = os.waitstatus_to_exitcode(status)
        self.returncode = returncode
        # Tell Popen too, so that it does not wait for (or warn about) a
        # process that is gone.
        self.proc.returncode = returncode
        self._run_exit_callback()

    def _run_exit_callback(self) -> None:
        callback, self._exit_callback = self._exit_callback, None
        if callback is not None and self.returncode is not None:
            callback(self.returncode)
