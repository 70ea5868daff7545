"""IOLoop: the classic Tornado loop API over an asyncio event loop.

Every IOLoop wraps exactly one asyncio event loop, and an asyncio loop is
wrapped by at most one IOLoop, so ``IOLoop.current()`` and
``asyncio.get_running_loop()`` always agree.  The asyncio loop is built by
the configured poller (see :mod:`squall.ioloop._pollers`).

Callbacks scheduled through the IOLoop run inside :meth:`IOLoop._run_callback`,
which offers their exceptions to active :mod:`squall.stack_context` handlers
and otherwise logs them on ``squall.application``: an exception in a
callback never stops the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import os
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Literal, TypeVar, cast, overload

from squall import stack_context
from squall.ioloop._pollers import (
    FDSetSizeError,
    get_poller,
    poller_name_of,
)
from squall.util import Configurable, TimeoutError

_T = TypeVar("_T")

_FileDescriptor = Any  # an int or an object with fileno()


def _app_log() -> Any:
    from squall.log import app_log

    return app_log


class _ThreadState(threading.local):
    current: IOLoop | None = None


_thread_state = _ThreadState()


class IOLoop(Configurable):
    """An I/O event loop: file descriptor handlers, callbacks and timeouts.

    ``IOLoop()`` builds the configured implementation (by default
    :class:`AsyncIOLoop`, a new asyncio loop on the configured poller) and
    makes it current when the thread has no current loop.  Usual use::

        IOLoop.current().start()

    or, from ``async def`` code, simply ``asyncio.run(main())``:
    ``IOLoop.current()`` then wraps the running asyncio loop.

    Poller selection: ``IOLoop.configure(None, poller="epoll")``, the
    ``SQUALL_POLLER`` environment variable, or ``IOLoop(poller="select")``.

    .. versionadded:: 0.1.0
    """

    NONE = 0
    #: Event mask bit: readable.
    READ = 0x001
    #: Event mask bit: writable.
    WRITE = 0x004
    #: Event mask bits: error or hang-up (delivered as READ and WRITE).
    ERROR = 0x018

    _ioloop_for_asyncio: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IOLoop] = (
        weakref.WeakKeyDictionary()
    )

    #: The underlying asyncio event loop.
    asyncio_loop: asyncio.AbstractEventLoop
    #: The name of the poller in use ("epoll", "select", "uvloop", ...).
    poller: str
    _closed: bool = False

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        """Return :class:`IOLoop`."""
        return IOLoop

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        """Return :class:`AsyncIOLoop`."""
        return AsyncIOLoop

    @classmethod
    def configure(cls, impl: type[Configurable] | str | None, **kwargs: Any) -> None:
        """Choose the implementation and its arguments (e.g. ``poller=``).

        A ``poller`` argument is checked now, so a typo fails here with the
        list of available pollers rather than at the first ``IOLoop()``.

        :raises squall.util.ConfigurationError: for a bad implementation or
            an unknown or unavailable poller.
        """
        poller = kwargs.get("poller")
        if poller is not None:
            get_poller(poller)
        super().configure(impl, **kwargs)

    # ------------------------------------------------------------------ current

    @overload
    @staticmethod
    def current() -> IOLoop: ...

    @overload
    @staticmethod
    def current(instance: Literal[True]) -> IOLoop: ...

    @overload
    @staticmethod
    def current(instance: bool) -> IOLoop | None: ...

    @staticmethod
    def current(instance: bool = True) -> IOLoop | None:
        """Return the current thread's IOLoop.

        Inside a running asyncio loop this is the IOLoop wrapping it (created
        on first use).  Otherwise it is the loop made current in this thread;
        if there is none and ``instance`` is true, a new one is created and
        made current, else ``None`` is returned.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            current = _thread_state.current
            if current is not None or not instance:
                return current
            return cast(IOLoop, IOLoop(make_current=True))
        io_loop = IOLoop._ioloop_for_asyncio.get(loop)
        if io_loop is None:
            io_loop = cast(IOLoop, AsyncIOMainLoop(asyncio_loop=loop))
        return io_loop

    @staticmethod
    def instance() -> IOLoop:
        """Return the current IOLoop (an alias kept for Tornado 4 code)."""
        return IOLoop.current()

    @staticmethod
    def initialized() -> bool:
        """Return whether the current thread has a current IOLoop."""
        return IOLoop.current(instance=False) is not None

    def install(self) -> None:
        """Make this loop the current one (an alias kept for Tornado 4 code)."""
        self.make_current()

    @staticmethod
    def clear_instance() -> None:
        """Forget the current IOLoop (an alias kept for Tornado 4 code)."""
        IOLoop.clear_current()

    def make_current(self) -> None:
        """Make this loop current in this thread (also for ``asyncio.get_event_loop``)."""
        _thread_state.current = self
        asyncio.set_event_loop(self.asyncio_loop)

    @staticmethod
    def clear_current() -> None:
        """Leave this thread with no current IOLoop."""
        if _thread_state.current is not None:
            _thread_state.current = None
            asyncio.set_event_loop(None)

    # ------------------------------------------------------------------ set up

    def initialize(
        self,
        asyncio_loop: asyncio.AbstractEventLoop | None = None,
        poller: str | None = None,
        make_current: bool | None = None,
    ) -> None:
        """Set up the loop; see :class:`AsyncIOLoop` for the arguments."""
        if asyncio_loop is None:
            spec = get_poller(poller)
            asyncio_loop = spec.new_event_loop()
            self.poller = spec.name
            self._owns_loop = True
            self._max_fd = spec.max_fd
        else:
            self.poller = poller or poller_name_of(asyncio_loop)
            self._owns_loop = False
            self._max_fd = getattr(getattr(asyncio_loop, "_selector", None), "max_fd", None)
        existing = IOLoop._ioloop_for_asyncio.get(asyncio_loop)
        if existing is not None and not existing._closed:
            raise RuntimeError(f"asyncio loop {asyncio_loop!r} already has an IOLoop")
        self.asyncio_loop = asyncio_loop
        self._closed = False
        self._handlers: dict[int, tuple[Any, Callable[[Any, int], None]]] = {}
        self._readers: set[int] = set()
        self._writers: set[int] = set()
        IOLoop._ioloop_for_asyncio[asyncio_loop] = self
        if make_current or (make_current is None and _thread_state.current is None):
            self.make_current()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} poller={self.poller!r} closed={self._closed}>"

    # ------------------------------------------------------------------ fds

    @staticmethod
    def split_fd(fd: _FileDescriptor) -> tuple[int, Any]:
        """Return ``(fileno, object)`` for an int fd or a file-like object."""
        if isinstance(fd, int):
            return fd, fd
        return fd.fileno(), fd

    def check_fd(self, fd: _FileDescriptor) -> None:
        """Raise if this loop's poller cannot watch ``fd``.

        Code that hands a descriptor to asyncio machinery which registers it
        later (transports) calls this first, so the failure belongs to that
        one connection.

        :raises squall.ioloop.FDSetSizeError: under the select poller for a
            descriptor >= 1024.
        """
        if self._max_fd is not None:
            fileno = fd if isinstance(fd, int) else fd.fileno()
            if fileno > self._max_fd:
                raise FDSetSizeError(fileno)

    def add_handler(
        self, fd: _FileDescriptor, handler: Callable[[Any, int], None], events: int
    ) -> None:
        """Call ``handler(fd, events)`` whenever ``fd`` is ready for ``events``.

        ``fd`` may be an int or any object with ``fileno()``; the handler
        receives it as given.

        :raises ValueError: if ``fd`` already has a handler.
        :raises squall.ioloop.FDSetSizeError: under the select poller for a
            descriptor >= 1024 (nothing is registered; the loop is unharmed).
        """
        fileno, fileobj = self.split_fd(fd)
        if fileno in self._handlers:
            raise ValueError(f"fd {fileno} already has a handler")
        self.check_fd(fileno)
        self._handlers[fileno] = (fileobj, handler)
        try:
            self._set_events(fileno, events)
        except BaseException:
            self._handlers.pop(fileno, None)
            self._set_events(fileno, 0)
            raise

    def update_handler(self, fd: _FileDescriptor, events: int) -> None:
        """Change the events ``fd`` is watched for.

        :raises KeyError: if ``fd`` has no handler.
        """
        fileno, _ = self.split_fd(fd)
        if fileno not in self._handlers:
            raise KeyError(f"fd {fileno} has no handler")
        self._set_events(fileno, events)

    def remove_handler(self, fd: _FileDescriptor) -> None:
        """Stop watching ``fd``; a no-op if it was not watched."""
        fileno, _ = self.split_fd(fd)
        if self._handlers.pop(fileno, None) is None:
            return
        self._set_events(fileno, 0)

    def _set_events(self, fileno: int, events: int) -> None:
        loop = self.asyncio_loop
        want_read = bool(events & (IOLoop.READ | IOLoop.ERROR))
        want_write = bool(events & IOLoop.WRITE)
        if want_read and fileno not in self._readers:
            loop.add_reader(fileno, self._handle_events, fileno, IOLoop.READ)
            self._readers.add(fileno)
        elif not want_read and fileno in self._readers:
            self._readers.discard(fileno)
            if not loop.is_closed():
                loop.remove_reader(fileno)
        if want_write and fileno not in self._writers:
            loop.add_writer(fileno, self._handle_events, fileno, IOLoop.WRITE)
            self._writers.add(fileno)
        elif not want_write and fileno in self._writers:
            self._writers.discard(fileno)
            if not loop.is_closed():
                loop.remove_writer(fileno)

    def _handle_events(self, fileno: int, events: int) -> None:
        entry = self._handlers.get(fileno)
        if entry is None:
            return
        fileobj, handler = entry
        try:
            handler(fileobj, events)
        except Exception:
            self.handle_callback_exception(handler)

    # ------------------------------------------------------------------ callbacks

    def add_callback(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``callback(*args, **kwargs)`` on the next loop iteration.

        Safe to call from any thread and from signal handlers.  Does nothing
        once the loop is closed.
        """
        if kwargs:
            callback = functools.partial(callback, **kwargs)
        try:
            if asyncio._get_running_loop() is self.asyncio_loop:
                self.asyncio_loop.call_soon(self._run_callback, callback, *args)
            else:
                self.asyncio_loop.call_soon_threadsafe(self._run_callback, callback, *args)
        except RuntimeError:
            # The asyncio loop is closed; like a closed IOLoop, drop it.
            pass

    def add_callback_from_signal(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """Like :meth:`add_callback`, for use inside a signal handler."""
        if kwargs:
            callback = functools.partial(callback, **kwargs)
        try:
            self.asyncio_loop.call_soon_threadsafe(self._run_callback, callback, *args)
        except RuntimeError:
            pass

    def spawn_callback(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``callback`` on the next iteration, outside any stack context."""
        with stack_context.NullContext():
            self.add_callback(callback, *args, **kwargs)

    def _run_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            ret = callback(*args)
            if ret is not None:
                self._watch_result(ret)
        except asyncio.CancelledError:
            pass
        except Exception:
            self.handle_callback_exception(callback)

    def _to_future(self, value: Any) -> Any:
        # Futures and awaitables become Futures; lists and dicts (of
        # yieldables) go through squall.gen.convert_yielded; anything else
        # is a plain value and is returned unchanged.
        if isinstance(value, asyncio.Future):
            return value
        if inspect.isawaitable(value):
            return asyncio.ensure_future(value, loop=self.asyncio_loop)
        if isinstance(value, (list, dict)):
            from squall.gen import convert_yielded

            return convert_yielded(value)
        return value

    def _watch_result(self, ret: Any) -> None:
        # A callback that returns a coroutine or Future: run it and log its
        # failure, so a forgotten ``await`` does not hide an exception.
        if not (isinstance(ret, asyncio.Future) or inspect.isawaitable(ret)):
            return
        self.add_future(self._to_future(ret), self._discard_future_result)

    def _discard_future_result(self, future: asyncio.Future[Any]) -> None:
        future.result()

    def handle_callback_exception(self, callback: Any) -> None:
        """Deal with the exception being handled, raised by ``callback``.

        Offers it to the active :mod:`squall.stack_context` handlers and logs
        it (with traceback, on ``squall.application``) if none takes it.
        Override to change what happens; it is called inside the ``except``
        block, so ``sys.exc_info()`` describes the exception.
        """
        typ, value, tb = sys.exc_info()
        if stack_context.has_handlers() and stack_context.handle_exception(typ, value, tb):
            return
        _app_log().error("Exception in callback %r", callback, exc_info=(typ, value, tb))

    # ------------------------------------------------------------------ timeouts

    def time(self) -> float:
        """Return the loop's clock (monotonic seconds), the base of deadlines."""
        return self.asyncio_loop.time()

    def call_at(
        self, when: float, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.TimerHandle:
        """Call ``callback`` at loop time ``when``; return a handle for :meth:`remove_timeout`."""
        if kwargs:
            callback = functools.partial(callback, **kwargs)
        return self.asyncio_loop.call_at(when, self._run_callback, callback, *args)

    def call_later(
        self, delay: float, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.TimerHandle:
        """Call ``callback`` after ``delay`` seconds; return a handle."""
        return self.call_at(self.time() + delay, callback, *args, **kwargs)

    def add_timeout(
        self,
        deadline: float | timedelta,
        callback: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> asyncio.TimerHandle:
        """Call ``callback`` at ``deadline``: a loop time, or a timedelta from now.

        :raises TypeError: for any other kind of deadline.
        """
        if isinstance(deadline, (int, float)) and not isinstance(deadline, bool):
            return self.call_at(deadline, callback, *args, **kwargs)
        if isinstance(deadline, timedelta):
            return self.call_at(self.time() + deadline.total_seconds(), callback, *args, **kwargs)
        raise TypeError(f"unsupported deadline {deadline!r}: give a loop time or a timedelta")

    def remove_timeout(self, timeout: asyncio.Handle | None) -> None:
        """Cancel a pending timeout; a no-op if it already ran or was removed."""
        if timeout is not None:
            timeout.cancel()

    # ------------------------------------------------------------------ futures

    def add_future(
        self,
        future: asyncio.Future[_T] | concurrent.futures.Future[_T] | Awaitable[_T],
        callback: Callable[[Any], Any],
    ) -> None:
        """Call ``callback(future)`` on the loop once ``future`` is done.

        Accepts asyncio and :mod:`concurrent.futures` futures; a coroutine or
        other awaitable is first scheduled as a task.
        """
        if isinstance(future, asyncio.Future):
            future.add_done_callback(functools.partial(self._run_callback, callback))
        elif isinstance(future, concurrent.futures.Future):
            future.add_done_callback(lambda f: self.add_callback(callback, f))
        else:
            task = asyncio.ensure_future(future, loop=self.asyncio_loop)
            task.add_done_callback(functools.partial(self._run_callback, callback))

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[..., _T],
        *args: Any,
    ) -> asyncio.Future[_T]:
        """Run ``func(*args)`` in ``executor`` (default: the loop's) and return a Future."""
        return self.asyncio_loop.run_in_executor(executor, func, *args)

    def set_default_executor(self, executor: concurrent.futures.Executor) -> None:
        """Use ``executor`` for :meth:`run_in_executor` calls that name none."""
        self.asyncio_loop.set_default_executor(executor)

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Run the loop until :meth:`stop` is called.

        :raises RuntimeError: if the loop is closed or already running.
        """
        if self._closed:
            raise RuntimeError("cannot start a closed IOLoop")
        old_current = _thread_state.current
        self.make_current()
        try:
            self.asyncio_loop.run_forever()
        finally:
            if old_current is None:
                IOLoop.clear_current()
            elif old_current is not self and not old_current._closed:
                old_current.make_current()

    def stop(self) -> None:
        """Stop the loop after the current iteration (safe from other threads)."""
        try:
            self.asyncio_loop.call_soon_threadsafe(self.asyncio_loop.stop)
        except RuntimeError:
            pass

    def run_sync(self, func: Callable[[], Any], timeout: float | None = None) -> Any:
        """Start the loop, run ``func()``, stop, and return its result.

        ``func`` may be a plain function, a :func:`squall.gen.coroutine` or an
        ``async def`` function (or return anything :func:`squall.gen.convert_yielded`
        accepts).  Its exception is re-raised here.

        :raises squall.util.TimeoutError: if it takes longer than ``timeout``
            seconds; the work is cancelled.
        """
        state: dict[str, Any] = {}

        def run() -> None:
            future: asyncio.Future[Any]
            try:
                result = func()
                if result is not None:
                    result = self._to_future(result)
            except Exception as e:
                future = self.asyncio_loop.create_future()
                future.set_exception(e)
            else:
                if isinstance(result, asyncio.Future):
                    future = result
                else:
                    future = self.asyncio_loop.create_future()
                    future.set_result(result)
            state["future"] = future
            if timeout is not None:

                def on_timeout() -> None:
                    state["timed_out"] = True
                    # Cancel and let the done callback stop the loop; a future
                    # that cannot be cancelled is abandoned.
                    if not future.cancel():
                        self.stop()

                handle = self.call_later(timeout, on_timeout)
                future.add_done_callback(lambda _f: handle.cancel())
            future.add_done_callback(lambda _f: self.stop())

        self.add_callback(run)
        self.start()
        future = state.get("future")
        if future is None:
            raise RuntimeError("the IOLoop stopped before run_sync's function ran")
        if state.get("timed_out") and (not future.done() or future.cancelled()):
            raise TimeoutError(f"operation timed out after {timeout} seconds")
        if not future.done():
            raise RuntimeError("the IOLoop was stopped before run_sync's function finished")
        return future.result()

    def close(self, all_fds: bool = False) -> None:
        """Close the loop and release its resources.

        :param all_fds: also close every file descriptor still registered
            with :meth:`add_handler`.

        A closed loop cannot be started again; closing twice is a no-op.
        """
        if self._closed:
            return
        self._closed = True
        for fileno, (fileobj, _handler) in list(self._handlers.items()):
            self.remove_handler(fileno)
            if all_fds:
                self.close_fd(fileobj)
        if _thread_state.current is self:
            IOLoop.clear_current()
        if IOLoop._ioloop_for_asyncio.get(self.asyncio_loop) is self:
            del IOLoop._ioloop_for_asyncio[self.asyncio_loop]
        if not self.asyncio_loop.is_running() and not self.asyncio_loop.is_closed():
            self.asyncio_loop.close()

    def close_fd(self, fd: _FileDescriptor) -> None:
        """Close ``fd`` (an int or an object with ``close()``), ignoring errors."""
        try:
            if isinstance(fd, int):
                os.close(fd)
            else:
                fd.close()
        except OSError:
            pass


class BaseAsyncIOLoop(IOLoop):
    """Base of the IOLoops built on asyncio (all of them).

    .. versionadded:: 0.1.0
    """


class AsyncIOMainLoop(BaseAsyncIOLoop):
    """An IOLoop that wraps an existing asyncio loop (by default the thread's).

    ``IOLoop.current()`` builds one automatically when called inside a
    running asyncio loop.  For Tornado 4/5 code, ``AsyncIOMainLoop().install()``
    also works.

    .. versionadded:: 0.1.0
    """

    def initialize(  # type: ignore[override]
        self,
        asyncio_loop: asyncio.AbstractEventLoop | None = None,
        make_current: bool | None = False,
        **kwargs: Any,
    ) -> None:
        """Wrap ``asyncio_loop``, or the running loop, or a new one on the configured poller."""
        if asyncio_loop is None:
            try:
                asyncio_loop = asyncio.get_running_loop()
            except RuntimeError:
                asyncio_loop = get_poller(kwargs.get("poller")).new_event_loop()
                super().initialize(
                    asyncio_loop=asyncio_loop,
                    poller=get_poller(kwargs.get("poller")).name,
                    make_current=make_current,
                )
                self._owns_loop = True
                return
        super().initialize(asyncio_loop=asyncio_loop, make_current=make_current)


class AsyncIOLoop(BaseAsyncIOLoop):
    """The default IOLoop: a new asyncio event loop on the configured poller.

    :param poller: a poller name (``select``, ``poll``, ``epoll``, ``kqueue``,
        ``devpoll``, ``uvloop``, ``auto``, or one added by an entry point);
        default ``$SQUALL_POLLER`` or ``auto``.
    :param make_current: make the loop current now (default: only if the
        thread has no current loop).
    :raises squall.ioloop.UnknownPollerError: for an unknown poller name.
    :raises squall.ioloop.PollerUnavailableError: for a poller that cannot
        run here (the message lists those that can).

    .. versionadded:: 0.1.0
    """

    def initialize(  # type: ignore[override]
        self,
        poller: str | None = None,
        make_current: bool | None = None,
        asyncio_loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """Create the asyncio loop and set up the IOLoop."""
        super().initialize(asyncio_loop=asyncio_loop, poller=poller, make_current=make_current)
