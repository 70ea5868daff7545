"""Names from Tornado 4/5's asyncio bridge, for code written against it.

Every Squall loop already runs on asyncio, so this module is thin:

* ``AsyncIOMainLoop().install()`` makes an IOLoop wrapping the thread's
  asyncio loop current (Tornado 4/5 spelling);
* :class:`AsyncIOLoop` is the default IOLoop;
* :func:`to_asyncio_future` and :func:`to_tornado_future` convert between
  Squall and asyncio futures (they are the same type: both convert any
  yieldable into an asyncio Future);
* :class:`AnyThreadEventLoopPolicy` lets ``asyncio.get_event_loop()`` create a
  loop in any thread, as Tornado 5 code running IOLoops in threads expected.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
from typing import Any

from squall.ioloop import AsyncIOLoop, AsyncIOMainLoop, BaseAsyncIOLoop

__all__ = [
    "AnyThreadEventLoopPolicy",
    "AsyncIOLoop",
    "AsyncIOMainLoop",
    "BaseAsyncIOLoop",
    "to_asyncio_future",
    "to_tornado_future",
]


def to_asyncio_future(future: Any) -> asyncio.Future[Any]:
    """Return an asyncio Future for ``future`` (any yieldable or awaitable).

    .. versionadded:: 0.1.0
    """
    from squall.gen import convert_yielded

    converted: asyncio.Future[Any] = convert_yielded(future)
    return converted


def to_tornado_future(future: Any) -> asyncio.Future[Any]:
    """Return a Squall Future for an asyncio one (they are the same type).

    .. versionadded:: 0.1.0
    """
    return to_asyncio_future(future)


class AnyThreadEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy that creates a loop on demand in any thread.

    The default policy only does that in the main thread; install this one
    with ``asyncio.set_event_loop_policy(AnyThreadEventLoopPolicy())`` for
    code that calls ``IOLoop.current()`` or ``asyncio.get_event_loop()`` in
    worker threads.

    .. versionadded:: 0.1.0
    """

    def get_event_loop(self) -> asyncio.AbstractEventLoop:
        """Return the thread's loop, creating and setting one if needed."""
        try:
            return super().get_event_loop()
        except RuntimeError:
            loop = self.new_event_loop()
            self.set_event_loop(loop)
            return loop
