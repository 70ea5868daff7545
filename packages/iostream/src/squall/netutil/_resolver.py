"""Asynchronous name resolution: the :class:`Resolver` family.

:class:`Resolver` is a :class:`squall.util.Configurable`: ``Resolver()``
builds whichever implementation ``Resolver.configure(...)`` chose, by
default :class:`DefaultLoopResolver`.  Every implementation turns
``(host, port, family)`` into a list of ``(family, sockaddr)`` pairs for
stream sockets, and reports a name that cannot be resolved as a
:class:`ResolverError` naming the host.

Exceptions defined here::

    OSError
     +-- ResolverError          -- the name could not be resolved
          +-- ResolverClosedError   -- your code used a resolver after close()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from squall.concurrent import dummy_executor
from squall.ioloop import IOLoop
from squall.util import Configurable

__all__ = [
    "BlockingResolver",
    "DefaultExecutorResolver",
    "DefaultLoopResolver",
    "ExecutorResolver",
    "OverrideResolver",
    "Resolver",
    "ResolverClosedError",
    "ResolverError",
    "ThreadedResolver",
]

#: What a resolver returns: ``(family, sockaddr)`` pairs.
ResolveResult = list[tuple[int, Any]]
_ResolveCallback = Callable[[ResolveResult], Any]


class ResolverError(OSError):
    """A host name could not be resolved.

    Subclasses :class:`OSError` (``IOError``), so code that caught the
    ``socket.gaierror`` or ``IOError`` of older resolvers still catches it.
    The message names the host; ``errno`` is the resolver's error code when
    it had one (for the system resolver, a ``socket.EAI_*`` value) and the
    original error is the ``__cause__``.

    :param message: the full message.
    :param host: the name that failed.
    :param port: the port asked for.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, host: str | None = None, port: int | None = None) -> None:
        super().__init__(message)
        #: The host name that could not be resolved.
        self.host = host
        #: The port of the failed request.
        self.port = port

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ResolverClosedError(ResolverError):
    """Your code called :meth:`Resolver.resolve` after :meth:`Resolver.close`.

    .. versionadded:: 0.1.0
    """

    @classmethod
    def for_lookup(cls, resolver: object, host: str, port: int) -> ResolverClosedError:
        """The error for looking ``host`` up on the closed ``resolver``."""
        return cls(f"cannot resolve host {host!r}: {type(resolver).__name__} is closed", host, port)


def _resolution_failed(host: str, port: int, reason: str, code: int | None = None) -> ResolverError:
    err = ResolverError(f"cannot resolve host {host!r} (port {port}): {reason}", host, port)
    if code is not None:
        err.errno = code
        err.strerror = reason
    return err


def _from_exception(host: str, port: int, exc: BaseException) -> ResolverError:
    if isinstance(exc, OSError):
        return _resolution_failed(host, port, exc.strerror or str(exc), exc.errno)
    return _resolution_failed(host, port, str(exc) or type(exc).__name__)


def _check_request(host: Any, port: Any) -> None:
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, not {port}")


def _addresses(infos: list[tuple[Any, ...]]) -> ResolveResult:
    return [(info[0], info[4]) for info in infos]


def _blocking_resolve(host: str, port: int, family: int) -> ResolveResult:
    """Resolve with the system's ``getaddrinfo``, in the calling thread."""
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as e:
        raise _from_exception(host, port, e) from e
    return _addresses(infos)


def _deliver(
    io_loop: IOLoop, future: asyncio.Future[ResolveResult], callback: _ResolveCallback | None
) -> asyncio.Future[ResolveResult]:
    """Run the classic ``callback(result)`` on the loop when ``future`` is done."""
    if callback is not None:
        io_loop.add_future(future, lambda f: callback(f.result()))
    return future


class Resolver(Configurable):
    """Configurable interface for asynchronous host name resolution.

    ``Resolver()`` builds the configured implementation (by default
    :class:`DefaultLoopResolver`).  Choose another with, for example,
    ``Resolver.configure("squall.netutil.ThreadedResolver", num_threads=4)``.
    The implementations are :class:`DefaultLoopResolver`,
    :class:`ThreadedResolver`, :class:`BlockingResolver`,
    :class:`ExecutorResolver`, :class:`OverrideResolver` and, when
    ``pycares`` is installed (``pip install 'squall-iostream[cares]'``),
    :class:`squall.platform.caresresolver.CaresResolver`.

    A subclass implements :meth:`resolve` (and :meth:`close` if it holds
    resources) and takes its constructor arguments in ``initialize()``.

    The implementations also accept Tornado 4's ``io_loop=`` argument: the
    loop on which results are delivered (by default, the loop current at
    each call).

    .. versionadded:: 0.1.0
    """

    #: The loop given as ``io_loop=`` (Tornado 4), if any.
    io_loop: IOLoop | None = None

    def _call_loop(self) -> IOLoop:
        return self.io_loop if self.io_loop is not None else IOLoop.current()

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        """Return :class:`Resolver`, the class holding the configuration."""
        return Resolver

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        """Return :class:`DefaultLoopResolver`."""
        return DefaultLoopResolver

    def resolve(
        self,
        host: str,
        port: int,
        family: int = socket.AF_UNSPEC,
        callback: _ResolveCallback | None = None,
    ) -> Awaitable[ResolveResult]:
        """Resolve ``host`` for stream connections to ``port``.

        :param host: a host name or a numeric IP address.
        :param port: the port to put in each address.
        :param family: ``socket.AF_INET`` or ``AF_INET6`` for one family,
            ``AF_UNSPEC`` (the default) for any.
        :param callback: the classic (Tornado 4) style: also called with the
            list on the IOLoop once it is known.
        :returns: an awaitable (a Future in every Squall implementation)
            resolving to a list of ``(family, address)`` pairs, where
            ``address`` is a tuple that can be passed to ``socket.connect``.
        :raises ResolverError: (through the awaitable) if the host cannot be
            resolved; the message names it.
        :raises TypeError: if ``host`` is not a str or ``port`` not an int.
        :raises ValueError: if ``port`` is outside 0..65535.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError(f"{type(self).__name__} must implement resolve()")

    def close(self) -> None:
        """Release the resources this resolver holds (threads, sockets).

        .. versionadded:: 0.1.0
        """


class DefaultLoopResolver(Resolver):
    """Resolve with the event loop's ``getaddrinfo`` (the default resolver).

    asyncio runs the system resolver in its default executor; uvloop uses
    libuv's thread pool.  Either way the IOLoop never blocks.

    .. versionadded:: 0.1.0
    """

    def initialize(self, io_loop: IOLoop | None = None) -> None:
        """Set up the resolver; ``io_loop`` is Tornado 4's optional loop."""
        self.io_loop = io_loop

    def resolve(
        self,
        host: str,
        port: int,
        family: int = socket.AF_UNSPEC,
        callback: _ResolveCallback | None = None,
    ) -> asyncio.Future[ResolveResult]:
        """Resolve ``host``; see :meth:`Resolver.resolve`.

        .. versionadded:: 0.1.0
        """
        _check_request(host, port)
        io_loop = self._call_loop()
        loop = io_loop.asyncio_loop
        future = asyncio.ensure_future(self._resolve(loop, host, port, family), loop=loop)
        return _deliver(io_loop, future, callback)

    @staticmethod
    async def _resolve(
        loop: asyncio.AbstractEventLoop, host: str, port: int, family: int
    ) -> ResolveResult:
        try:
            infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError) as e:
            raise _from_exception(host, port, e) from e
        return _addresses(infos)


class ExecutorResolver(Resolver):
    """Resolve with the blocking ``getaddrinfo`` run in an executor.

    :param executor: a :class:`concurrent.futures.Executor`; ``None`` runs
        each lookup immediately in the calling thread (blocking the IOLoop,
        see :class:`BlockingResolver`).
    :param close_executor: whether :meth:`close` shuts ``executor`` down.
    :param io_loop: Tornado 4's optional loop (see :class:`Resolver`).

    .. versionadded:: 0.1.0
    """

    executor: concurrent.futures.Executor | None
    close_executor: bool

    def initialize(
        self,
        executor: concurrent.futures.Executor | None = None,
        close_executor: bool = True,
        io_loop: IOLoop | None = None,
    ) -> None:
        """Set up the resolver; see the class docstring."""
        self.io_loop = io_loop
        if executor is None:
            self.executor = dummy_executor
            self.close_executor = False
        else:
            self.executor = executor
            self.close_executor = close_executor

    def close(self) -> None:
        """Shut the executor down if ``close_executor`` was true.

        Later calls to :meth:`resolve` raise :class:`ResolverClosedError`.

        .. versionadded:: 0.1.0
        """
        if self.close_executor and self.executor is not None:
            self.executor.shutdown(wait=False)
        self.executor = None

    def resolve(
        self,
        host: str,
        port: int,
        family: int = socket.AF_UNSPEC,
        callback: _ResolveCallback | None = None,
    ) -> asyncio.Future[ResolveResult]:
        """Resolve ``host``; see :meth:`Resolver.resolve`.

        :raises ResolverClosedError: if the resolver was closed.

        .. versionadded:: 0.1.0
        """
        _check_request(host, port)
        if self.executor is None:
            raise ResolverClosedError.for_lookup(self, host, port)
        io_loop = self._call_loop()
        cfuture = self.executor.submit(_blocking_resolve, host, port, family)
        future = asyncio.wrap_future(cfuture, loop=io_loop.asyncio_loop)
        return _deliver(io_loop, future, callback)


class BlockingResolver(ExecutorResolver):
    """Resolve with the blocking ``getaddrinfo``, in the IOLoop's thread.

    Each lookup blocks the loop: use it in tests or where names are known to
    be numeric or in ``/etc/hosts``.

    .. versionadded:: 0.1.0
    """

    def initialize(self, io_loop: IOLoop | None = None) -> None:  # type: ignore[override]
        """Set up the resolver; ``io_loop`` is Tornado 4's optional loop."""
        super().initialize(io_loop=io_loop)


class DefaultExecutorResolver(Resolver):
    """Resolve with the blocking ``getaddrinfo`` in the IOLoop's default executor.

    Kept for code that configured Tornado 5's default resolver by name;
    :class:`DefaultLoopResolver` is the better choice.

    .. versionadded:: 0.1.0
    """

    _closed = False

    def initialize(self, io_loop: IOLoop | None = None) -> None:
        """Set up the resolver; ``io_loop`` is Tornado 4's optional loop."""
        self.io_loop = io_loop

    def close(self) -> None:
        """Refuse later lookups (the loop's executor belongs to the loop).

        .. versionadded:: 0.1.0
        """
        self._closed = True

    def resolve(
        self,
        host: str,
        port: int,
        family: int = socket.AF_UNSPEC,
        callback: _ResolveCallback | None = None,
    ) -> asyncio.Future[ResolveResult]:
        """Resolve ``host``; see :meth:`Resolver.resolve`.

        :raises ResolverClosedError: if the resolver was closed.

        .. versionadded:: 0.1.0
        """
        _check_request(host, port)
        if self._closed:
            raise ResolverClosedError.for_lookup(self, host, port)
        io_loop = self._call_loop()
        future = io_loop.run_in_executor(None, _blocking_resolve, host, port, family)
        return _deliver(io_loop, future, callback)


class ThreadedResolver(ExecutorResolver):
    """Resolve with the blocking ``getaddrinfo`` in a pool of threads.

    The pool belongs to this class, not to the IOLoop: every
    ``ThreadedResolver`` of a process shares it, it is created by the first
    one (with that one's ``num_threads``), and a process forked after that
    gets a pool of its own.  :meth:`close` leaves the shared pool running.

    :param num_threads: the size of the pool.
    :param io_loop: Tornado 4's optional loop (see :class:`Resolver`).

    .. versionadded:: 0.1.0
    """

    _threadpool: concurrent.futures.ThreadPoolExecutor | None = None
    _threadpool_pid: int | None = None

    def initialize(  # type: ignore[override]
        self, num_threads: int = 10, io_loop: IOLoop | None = None
    ) -> None:
        """Set up the resolver; see the class docstring.

        :raises ValueError: if ``num_threads`` is not positive.
        """
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive int, not {num_threads!r}")
        super().initialize(
            executor=ThreadedResolver._create_threadpool(num_threads),
            close_executor=False,
            io_loop=io_loop,
        )

    @classmethod
    def _create_threadpool(cls, num_threads: int) -> concurrent.futures.ThreadPoolExecutor:
        pid = os.getpid()
        if ThreadedResolver._threadpool_pid != pid:
            # Threads do not survive fork(): start afresh in a child.
            ThreadedResolver._threadpool = None
        if ThreadedResolver._threadpool is None:
            ThreadedResolver._threadpool = concurrent.futures.ThreadPoolExecutor(
                num_threads, thread_name_prefix="squall-resolver"
            )
            ThreadedResolver._threadpool_pid = pid
        return ThreadedResolver._threadpool


class OverrideResolver(Resolver):
    """Wrap another resolver and redirect some requests first.

    ``mapping`` maps what is asked to what is resolved instead, checked most
    specific first::

        {
            ("login.example.com", 443, socket.AF_INET6): ("::1", 8443),
            ("login.example.com", 443): ("localhost", 1443),
            "example.com": "127.0.1.1",
        }

    A ``(host, port, family)`` or ``(host, port)`` key replaces both host
    and port; a plain host key replaces the host only.  Useful in tests and
    for local development.

    :param resolver: the :class:`Resolver` doing the actual work.
    :param mapping: the redirections.

    .. versionadded:: 0.1.0
    """

    resolver: Resolver
    mapping: Mapping[Any, Any]

    def initialize(self, resolver: Resolver, mapping: Mapping[Any, Any]) -> None:
        """Set up the resolver; see the class docstring."""
        self.resolver = resolver
        self.mapping = mapping

    def close(self) -> None:
        """Close the wrapped resolver.

        .. versionadded:: 0.1.0
        """
        self.resolver.close()

    def resolve(
        self,
        host: str,
        port: int,
        family: int = socket.AF_UNSPEC,
        callback: _ResolveCallback | None = None,
    ) -> asyncio.Future[ResolveResult]:
        """Resolve ``host`` after applying the mapping; see :meth:`Resolver.resolve`.

        .. versionadded:: 0.1.0
        """
        if (host, port, family) in self.mapping:
            host, port = self.mapping[(host, port, family)]
        elif (host, port) in self.mapping:
            host, port = self.mapping[(host, port)]
        elif host in self.mapping:
            host = self.mapping[host]
        io_loop = self._call_loop()
        future = asyncio.ensure_future(
            self.resolver.resolve(host, port, family), loop=io_loop.asyncio_loop
        )
        return _deliver(io_loop, future, callback)
