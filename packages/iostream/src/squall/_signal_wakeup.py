"""Hear of a signal at once, whichever thread takes it (private).

Python runs a signal handler in the main thread, between two bytecodes.
A signal that the kernel delivers to another thread, or that arrives just
after the main thread last looked and just before it blocks in its poller,
is therefore handled only when something else wakes the main thread: for
``SIGCHLD`` that means a child's exit goes unnoticed until some unrelated
timer or descriptor fires, possibly never.

The interpreter's C-level handler, however, writes the signal's number to
the descriptor given to :func:`signal.set_wakeup_fd` at once, from whichever
thread took the signal.  :class:`SignalWakeup` owns such a pipe and a daemon
thread that reads it and calls a function for each arrival of one signal.

There is one wakeup descriptor per process.  :meth:`SignalWakeup.attach`
takes it only when nobody else has (an asyncio loop with signal handlers, or
uvloop while it runs, sets its own, and those wake the main thread's loop,
which is all the Python-level handler needs); :meth:`SignalWakeup.detach`
gives it back only if it is still ours.  The pipe and the thread live as
long as the process (a forked child opens its own), so that a descriptor
number somebody saved and restores later never points at a closed (or
reused) descriptor.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

__all__ = ["SignalWakeup"]

_gen_log = logging.getLogger("squall.general")


class SignalWakeup:
    """A wakeup pipe and its reader thread for one signal number.

    :param signum: the signal to react to; the pipe also receives the
        numbers of other signals that have Python handlers, which are ignored.
    :param on_signal: called in the reader thread (not the main thread) each
        time ``signum`` arrives; it must be thread-safe, e.g. hand the work
        to an IOLoop with ``add_callback``.  Its exceptions are logged.
    """

    def __init__(self, signum: int, on_signal: Callable[[], object]) -> None:
        self._signum = signum
        self._on_signal = on_signal
        self._lock = threading.Lock()
        self._read_end: int | None = None
        self._write_end: int | None = None
        # Whether attach() last took the descriptor (detach() clears it).
        self._attached = False
        # Set in a forked child whose parent had the pipe attached.
        self._attach_after_fork = False
        os.register_at_fork(after_in_child=self._after_fork_in_child)

    def attach(self) -> bool:
        """Make this pipe the process's signal wakeup descriptor, if it is free.

        Opens the pipe and starts the reader thread the first time.  Returns
        whether the pipe is now the wakeup descriptor: ``False`` when another
        one was set already, which is left in place.

        :raises ValueError: when called from another thread than the main one.
        """
        if threading.current_thread() is not threading.main_thread():
            raise ValueError("the signal wakeup descriptor can only be set in the main thread")
        with self._lock:
            write_end = self._write_end
            if write_end is None:
                write_end = self._open()
            previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
            self._attach_after_fork = False
            if previous not in (-1, write_end):
                signal.set_wakeup_fd(previous)
                self._attached = False
                return False
            self._attached = True
            return True

    def attach_after_fork(self) -> None:
        """In a forked child, :meth:`attach` again if the parent had attached.

        A no-op anywhere else, and outside the main thread (where the child
        then relies on the Python-level handler alone).
        """
        if self._attach_after_fork:
            try:
                self.attach()
            except ValueError:
                pass

    def detach(self) -> None:
        """Clear the wakeup descriptor if it is this pipe; leave anybody else's.

        :raises ValueError: when called from another thread than the main one.
        """
        with self._lock:
            self._attach_after_fork = False
            self._attached = False
            if self._write_end is None:
                return
            current = signal.set_wakeup_fd(-1)
            if current != self._write_end:
                signal.set_wakeup_fd(current)

    def _open(self) -> int:
        read_end, write_end = os.pipe()
        # The interpreter writes from inside a signal handler: never block there.
        os.set_blocking(write_end, False)
        self._read_end, self._write_end = read_end, write_end
        threading.Thread(
            target=self._read_loop,
            args=(read_end,),
            name=f"squall-signal-{signal.Signals(self._signum).name}",
            daemon=True,
        ).start()
        return write_end

    def _read_loop(self, read_end: int) -> None:
        while True:
            try:
                data = os.read(read_end, 512)
            except OSError:
                return
            if not data:
                return
            if self._signum in data:
                try:
                    self._on_signal()
                except Exception:
                    _gen_log.exception("error handling signal %d", self._signum)

    def _after_fork_in_child(self) -> None:
        # The reader thread did not survive the fork, and the pipe is shared
        # with the parent's thread.  Let go of both here, without starting a
        # thread (this also runs in a subprocess about to exec); the child
        # opens its own pipe when it next waits for a child of its own.
        # (asyncio, from Python 3.12 on, clears the wakeup descriptor in a
        # forked child before this runs: what was attached is remembered.)
        self._lock = threading.Lock()
        if self._write_end is None:
            return
        self._attach_after_fork = self._attached
        self._attached = False
        ends = [self._read_end, self._write_end]
        try:
            current = signal.set_wakeup_fd(-1)
            if current != self._write_end:
                signal.set_wakeup_fd(current)
        except ValueError:
            # Forked from a thread the child does not call main: the write
            # end may still be the wakeup descriptor, so it stays open (a
            # closed number could be reused by a file the signals would
            # then be written to).
            ends.pop()
        for fd in ends:
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass  # closed already by whoever forked
        self._read_end = self._write_end = None
