"""Generator-based coroutines, Tornado's ``gen`` API on asyncio Futures.

Three styles of asynchronous code run side by side on the IOLoop:

* ``@gen.coroutine`` generators that ``yield`` futures and return a Future::

      @gen.coroutine
      def fetch_both(client):
          a, b = yield [client.fetch(url_a), client.fetch(url_b)]
          return a.body + b.body

* Tornado 4's callback style, ``@gen.engine`` with ``gen.Task``::

      @gen.engine
      def fetch_one(callback):
          response = yield gen.Task(client.fetch, url)
          callback(response.body)

* native ``async def``, which may ``await`` everything this module returns,
  while ``@gen.coroutine`` generators may ``yield`` native coroutines.

Everything yieldable goes through :func:`convert_yielded` (a
``singledispatch`` function other packages can extend).  Every coroutine
call carries a copy of the caller's :mod:`contextvars` context through all
its steps.

Exceptions defined here::

    Return (Exception)           -- not an error: ``raise Return(value)`` ends a coroutine
    BadYieldError (Exception)    -- your coroutine yielded something unsupported
    ReturnValueIgnoredError      -- (from squall.concurrent) an engine function returned a value
    TimeoutError                 -- (squall.util.TimeoutError) with_timeout ran out of time

.. versionadded:: 0.1.0
"""

from squall.concurrent import ReturnValueIgnoredError
from squall.gen._core import (
    BadYieldError,
    Return,
    convert_yielded,
    maybe_future,
    moment,
    multi,
    multi_future,
)
from squall.gen._coroutine import coroutine, engine, is_coroutine_function
from squall.gen._tools import Arguments, Task, WaitIterator, sleep, with_timeout
from squall.util import TimeoutError

__all__ = [
    "Arguments",
    "BadYieldError",
    "Return",
    "ReturnValueIgnoredError",
    "Task",
    "TimeoutError",
    "WaitIterator",
    "convert_yielded",
    "coroutine",
    "engine",
    "is_coroutine_function",
    "maybe_future",
    "moment",
    "multi",
    "multi_future",
    "sleep",
    "with_timeout",
]
