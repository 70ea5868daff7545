"""Asynchronous queues for coroutines that share one :class:`~squall.ioloop.IOLoop`.

:class:`Queue` (first in, first out), :class:`PriorityQueue` (lowest first)
and :class:`LifoQueue` (last in, first out) pass items between producer and
consumer coroutines.  Like the standard library's :mod:`queue`, a queue can
be bounded (``maxsize``) and tracks unfinished work (:meth:`Queue.task_done`,
:meth:`Queue.join`); unlike it, blocking calls return futures instead of
blocking the thread, and the queues are not thread-safe.

Exceptions::

    Exception
    +-- QueueEmpty                  get_nowait() on an empty queue
    +-- QueueFull                   put_nowait() on a full queue
    TimeoutError (built-in)
    +-- squall.util.TimeoutError    get/put/join timed out

A blocked :meth:`~Queue.get` receives its item directly from the
:meth:`~Queue.put` that unblocks it.  Getters and putters that timed out or
were cancelled are skipped; a getter whose coroutine is cancelled just after
it received an item gives the item back (to the next getter, or to the front
of the queue), so no item is ever lost.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import collections
import heapq
from asyncio import Future
from collections.abc import Awaitable
from typing import Any, Generic, TypeVar

from squall.locks import (
    Event,
    _check_timeout,
    _done_future,
    _new_waiter,
    _Timeout,
    _timeout_error,
    _Waiter,
    _WaiterQueue,
)

__all__ = ["LifoQueue", "PriorityQueue", "Queue", "QueueEmpty", "QueueFull"]

_T = TypeVar("_T")


class QueueEmpty(Exception):  # noqa: N818 - Tornado's name
    """Raised by :meth:`Queue.get_nowait` when the queue has no items.

    .. versionadded:: 0.1.0
    """


class QueueFull(Exception):  # noqa: N818 - Tornado's name
    """Raised by :meth:`Queue.put_nowait` when the queue is at its maxsize.

    .. versionadded:: 0.1.0
    """


class _QueueIterator(Generic[_T]):
    __slots__ = ("_queue",)

    def __init__(self, queue: Queue[_T]) -> None:
        self._queue = queue

    def __aiter__(self) -> _QueueIterator[_T]:
        return self

    def __anext__(self) -> Awaitable[_T]:
        return self._queue.get()


class Queue(Generic[_T]):
    """A first-in, first-out queue of items for coroutines.

    ``maxsize`` bounds the number of items: when the queue is full,
    :meth:`put` blocks until a consumer makes room.  A classic
    producer/consumer pair::

        q = Queue(maxsize=2)

        async def consumer():
            async for item in q:
                try:
                    await process(item)
                finally:
                    q.task_done()

        async def producer():
            for item in items:
                await q.put(item)

        async def main():
            IOLoop.current().spawn_callback(consumer)
            await producer()
            await q.join()   # every item was processed

    ``async for item in q`` never ends by itself: stop the consumer when
    :meth:`join` returns.  Subclasses choose the order by overriding
    ``_init`` (create ``self._queue``), ``_put`` and ``_get``, as
    :class:`PriorityQueue` and :class:`LifoQueue` do.

    :arg maxsize: the most items the queue holds; 0 (the default) means no
        limit.
    :raises TypeError: if ``maxsize`` is not an int.
    :raises ValueError: if ``maxsize`` is negative.

    .. versionadded:: 0.1.0
    """

    _queue: Any

    def __init__(self, maxsize: int = 0) -> None:
        if maxsize is None:
            raise TypeError("maxsize can't be None: use 0 for an unbounded queue")
        if not isinstance(maxsize, int) or isinstance(maxsize, bool):
            raise TypeError(f"maxsize must be an int, not {type(maxsize).__name__}")
        if maxsize < 0:
            raise ValueError(f"maxsize can't be negative, got {maxsize}")
        self._maxsize = maxsize
        self._init()
        self._getters: _WaiterQueue[_T] = _WaiterQueue()
        self._putters: _WaiterQueue[None] = _WaiterQueue()
        self._unfinished_tasks = 0
        self._finished = Event()
        self._finished.set()

    @property
    def maxsize(self) -> int:
        """The most items the queue holds (0 means no limit).

        .. versionadded:: 0.1.0
        """
        return self._maxsize

    def qsize(self) -> int:
        """Return the number of items in the queue.

        .. versionadded:: 0.1.0
        """
        return len(self._queue)

    def empty(self) -> bool:
        """Return ``True`` if the queue holds no items.

        .. versionadded:: 0.1.0
        """
        return not self._queue

    def full(self) -> bool:
        """Return ``True`` if the queue holds ``maxsize`` items (never for an unbounded queue).

        .. versionadded:: 0.1.0
        """
        if self._maxsize == 0:
            return False
        return self.qsize() >= self._maxsize

    def put(self, item: _T, timeout: _Timeout | None = None) -> Future[None]:
        """Put ``item`` in the queue; return a future that resolves once it is in.

        If the queue is full the future stays pending until a consumer makes
        room; putters are served in the order they arrived.

        :arg timeout: a deadline in loop time, or a :class:`datetime.timedelta`
            from now.
        :raises squall.util.TimeoutError: (through the future) if there was no
            room before the timeout; the item was then not put.
        :raises TypeError: if ``timeout`` is not a valid timeout.

        .. versionadded:: 0.1.0
        """
        if timeout is not None:
            _check_timeout(timeout)
        if not self.full():
            # Not full: no putter is waiting, and if getters are, one gets the item.
            self.put_nowait(item)
            return _done_future(None)
        waiter: _Waiter[None] = _new_waiter(timeout, _timeout_error("Queue.put"), payload=item)
        self._putters.append(waiter)
        return waiter

    def put_nowait(self, item: _T) -> None:
        """Put ``item`` in the queue without blocking.

        If a consumer is blocked in :meth:`get`, it receives the item.

        :raises QueueFull: if the queue is full.

        .. versionadded:: 0.1.0
        """
        getter = self._getters.pop_pending()
        if getter is not None:
            # Pending getters imply an empty queue: the item goes straight through.
            self._put_internal(item)
            getter.set_result(self._get())
            return
        if self.full():
            raise QueueFull(f"queue is full (maxsize={self._maxsize})")
        self._put_internal(item)

    def get(self, timeout: _Timeout | None = None) -> Future[_T]:
        """Remove and return an item; return a future that resolves to it.

        If the queue is empty the future stays pending until an item
        arrives; getters are served in the order they arrived.

        :arg timeout: a deadline in loop time, or a :class:`datetime.timedelta`
            from now.
        :raises squall.util.TimeoutError: (through the future) if no item
            arrived before the timeout.
        :raises TypeError: if ``timeout`` is not a valid timeout.

        .. versionadded:: 0.1.0
        """
        if timeout is not None:
            _check_timeout(timeout)
        if self._queue:
            return _done_future(self.get_nowait())
        waiter = _new_waiter(timeout, _timeout_error("Queue.get"), self._give_back)
        self._getters.append(waiter)
        return waiter

    def get_nowait(self) -> _T:
        """Remove and return an item without blocking.

        If a producer is blocked in :meth:`put`, its item enters the queue.

        :raises QueueEmpty: if the queue holds no items.

        .. versionadded:: 0.1.0
        """
        if not self._queue:
            raise QueueEmpty("queue is empty")
        if self.qsize() <= self._maxsize:
            # Once an item leaves there is room: the oldest blocked put (if
            # any) goes in first, so a PriorityQueue can return its item now.
            putter = self._putters.pop_pending()
            if putter is not None:
                self._put_internal(putter.payload)
                putter.set_result(None)
        return self._get()

    def task_done(self) -> None:
        """Mark one item taken from the queue as processed.

        Each :meth:`get` used for a task should be followed by one call to
        :meth:`task_done`; :meth:`join` returns once every item put has been
        marked done.

        :raises ValueError: if called more times than items were put.

        .. versionadded:: 0.1.0
        """
        if self._unfinished_tasks <= 0:
            raise ValueError("task_done() called too many times: no unfinished task left")
        self._unfinished_tasks -= 1
        if self._unfinished_tasks == 0:
            self._finished.set()

    def join(self, timeout: _Timeout | None = None) -> Future[None]:
        """Return a future that resolves once every item put has been processed.

        :arg timeout: a deadline in loop time, or a :class:`datetime.timedelta`
            from now.
        :raises squall.util.TimeoutError: (through the future) if work was
            still unfinished at the timeout.
        :raises TypeError: if ``timeout`` is not a valid timeout.

        .. versionadded:: 0.1.0
        """
        return self._finished.wait(timeout)

    def __aiter__(self) -> _QueueIterator[_T]:
        return _QueueIterator(self)

    # These three are the storage hooks subclasses override.
    def _init(self) -> None:
        self._queue = collections.deque()

    def _get(self) -> _T:
        item: _T = self._queue.popleft()
        return item

    def _put(self, item: _T) -> None:
        self._queue.append(item)

    def _put_back(self, item: _T) -> None:
        """Return an item a cancelled getter received, as if it had never left."""
        if type(self)._put is Queue._put and isinstance(self._queue, collections.deque):
            self._queue.appendleft(item)
        else:
            self._put(item)

    def _put_internal(self, item: _T) -> None:
        self._unfinished_tasks += 1
        self._finished.clear()
        self._put(item)

    def _give_back(self, item: _T) -> None:
        # A getter's coroutine was cancelled after the item was handed to it.
        # The item is still counted as unfinished; it goes to the next getter
        # or back to where it came from.
        getter = self._getters.pop_pending()
        if getter is not None:
            getter.set_result(item)
        else:
            self._put_back(item)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {hex(id(self))} {self._format()}>"

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self._format()}>"

    def _format(self) -> str:
        result = f"maxsize={self._maxsize!r}"
        if getattr(self, "_queue", None):
            result += f" queue={self._queue!r}"
        getters = self._getters.pending()
        if getters:
            result += f" getters[{getters}]"
        putters = self._putters.pending()
        if putters:
            result += f" putters[{putters}]"
        if self._unfinished_tasks:
            result += f" tasks={self._unfinished_tasks}"
        return result


class PriorityQueue(Queue[_T]):
    """A :class:`Queue` that returns its lowest item first.

    Items must be comparable; the usual shape is ``(priority, data)``
    tuples, lowest priority number first::

        q = PriorityQueue()
        q.put((1, "medium"))
        q.put((0, "high"))
        q.put((10, "low"))
        q.get_nowait()  # (0, 'high')

    .. versionadded:: 0.1.0
    """

    def _init(self) -> None:
        self._queue = []

    def _put(self, item: _T) -> None:
        heapq.heappush(self._queue, item)

    def _get(self) -> _T:
        item: _T = heapq.heappop(self._queue)
        return item


class LifoQueue(Queue[_T]):
    """A :class:`Queue` that returns the most recently put item first.

    .. versionadded:: 0.1.0
    """

    def _init(self) -> None:
        self._queue = []

    def _put(self, item: _T) -> None:
        self._queue.append(item)

    def _get(self) -> _T:
        item: _T = self._queue.pop()
        return item
