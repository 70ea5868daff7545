"""The keep-alive pool: idle connections kept per origin for reuse.

A connection goes back to the pool only when its last response was read to
the end and neither side asked to close it; the fetch decides that.  Idle
connections are kept per key -- scheme, host, port, TLS settings, proxy
settings, local address and address family -- so a connection is only
ever reused for requests it could have been opened for.  The most recently
used one is taken first (it is the least likely to have been closed by the
server).  An idle connection leaves the pool when the server closes it (its
close callback), when it has been idle longer than ``idle_timeout`` (a
sweep runs while the pool is not empty), or when the pool already holds
``max_idle`` connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["ConnectionPool", "PooledConnection"]


class PooledConnection:
    """A stream that can carry one request after another."""

    __slots__ = ("idle_since", "key", "on_idle_close", "requests", "stream")

    def __init__(self, stream: Any, key: Hashable) -> None:
        self.stream = stream
        self.key = key
        self.idle_since = 0.0
        #: How many requests this connection has carried.
        self.requests = 0
        self.on_idle_close: Callable[[], None] | None = None

    def close(self) -> None:
        """Close the stream (idempotent)."""
        self.stream.set_close_callback(None)
        self.stream.close()


class ConnectionPool:
    """Idle keep-alive connections, by key.

    :param loop: the asyncio loop (for its clock and the sweep timer).
    :param max_idle: the most idle connections kept over all keys.
    :param idle_timeout: seconds an idle connection is kept.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_idle: int, idle_timeout: float) -> None:
        self._loop = loop
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self._idle: dict[Hashable, list[PooledConnection]] = {}
        self._idle_count = 0
        self._sweep_handle: asyncio.TimerHandle | None = None
        #: How many connections were opened over the pool's life.
        self.opened = 0
        self._closed = False

    @property
    def idle_count(self) -> int:
        """How many idle connections the pool holds now."""
        return self._idle_count

    def take(self, key: Hashable) -> PooledConnection | None:
        """Return an open idle connection for ``key``, or None."""
        stack = self._idle.get(key)
        if not stack:
            return None
        oldest_allowed = self._loop.time() - self.idle_timeout
        while stack:
            conn = stack.pop()
            self._idle_count -= 1
            stream = conn.stream
            if stream.closed() or conn.idle_since < oldest_allowed:
                conn.close()
                continue
            stream.set_close_callback(None)
            return conn
        return None

    def new_connection(self, stream: Any, key: Hashable) -> PooledConnection:
        """Wrap a freshly opened stream."""
        self.opened += 1
        return PooledConnection(stream, key)

    def give_back(self, conn: PooledConnection) -> None:
        """Keep ``conn`` for reuse (or close it if the pool is full or closed)."""
        stream = conn.stream
        if self._closed or self._idle_count >= self.max_idle or stream.closed():
            conn.close()
            return
        conn.idle_since = self._loop.time()
        callback = conn.on_idle_close
        if callback is None:
            callback = conn.on_idle_close = lambda: self._idle_closed(conn)
        stream.set_close_callback(callback)
        stack = self._idle.get(conn.key)
        if stack is None:
            stack = self._idle[conn.key] = []
        stack.append(conn)
        self._idle_count += 1
        if self._sweep_handle is None:
            self._sweep_handle = self._loop.call_later(self.idle_timeout, self._sweep)

    def _idle_closed(self, conn: PooledConnection) -> None:
        # The server closed an idle connection.
        stack = self._idle.get(conn.key)
        if stack is not None and conn in stack:
            stack.remove(conn)
            self._idle_count -= 1
            if not stack:
                del self._idle[conn.key]

    def _sweep(self) -> None:
        self._sweep_handle = None
        oldest_allowed = self._loop.time() - self.idle_timeout
        for key in list(self._idle):
            stack = self._idle[key]
            keep = [c for c in stack if c.idle_since >= oldest_allowed and not c.stream.closed()]
            for c in stack:
                if c not in keep:
                    c.close()
            self._idle_count -= len(stack) - len(keep)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
        if self._idle_count and not self._closed:
            self._sweep_handle = self._loop.call_later(self.idle_timeout / 2, self._sweep)

    def close(self) -> None:
        """Close every idle connection and refuse new ones."""
        self._closed = True
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        idle, self._idle = self._idle, {}
        self._idle_count = 0
        for stack in idle.values():
            for conn in stack:
                conn.close()
