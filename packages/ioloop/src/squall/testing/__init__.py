"""Helpers for testing asynchronous code: test cases, decorators, a pytest plugin.

unittest style (the names mirror ``tornado.testing``):

* :class:`AsyncTestCase` -- each test gets a fresh, current ``self.io_loop``;
  callback-style tests use :meth:`~AsyncTestCase.stop` and
  :meth:`~AsyncTestCase.wait`, coroutine tests :func:`gen_test`;
* :class:`AsyncHTTPTestCase` / :class:`AsyncHTTPSTestCase` -- plus an HTTP(S)
  server for ``get_app()`` and a client (they need the squall-http and
  squall-httpclient packages);
* :class:`ExpectLog` -- expect, and hide, a log message;
* :func:`bind_unused_port`, :func:`get_async_test_timeout`, :func:`main`;
* :func:`count_open_fds` and :func:`wait_until`, for tests that show
  descriptors are released and wait for effects a few loop passes away.

pytest style: the plugin :mod:`squall.testing.plugin`, loaded automatically,
provides the ``io_loop`` and ``unused_tcp_port`` fixtures and runs ``async
def`` tests on the loop.

Everything is run on the poller selected by ``SQUALL_POLLER``, and the
time limit of asynchronous operations is ``ASYNC_TEST_TIMEOUT`` (seconds,
default 5).

The names are loaded on first use, so that pytest loading the plugin does
not import the loop.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "AsyncHTTPSTestCase",
    "AsyncHTTPTestCase",
    "AsyncTestCase",
    "ExpectLog",
    "bind_unused_port",
    "count_open_fds",
    "gen_test",
    "get_async_test_timeout",
    "main",
    "wait_until",
]

_HOMES = {
    "AsyncHTTPSTestCase": "_http",
    "AsyncHTTPTestCase": "_http",
    "AsyncTestCase": "_asynctest",
    "ExpectLog": "_logs",
    "bind_unused_port": "_ports",
    "count_open_fds": "_leaks",
    "gen_test": "_asynctest",
    "get_async_test_timeout": "_runner",
    "main": "_main",
    "wait_until": "_leaks",
}

if TYPE_CHECKING:
    from squall.testing._asynctest import AsyncTestCase, gen_test
    from squall.testing._http import AsyncHTTPSTestCase, AsyncHTTPTestCase
    from squall.testing._leaks import count_open_fds, wait_until
    from squall.testing._logs import ExpectLog
    from squall.testing._main import main
    from squall.testing._ports import bind_unused_port
    from squall.testing._runner import get_async_test_timeout
else:

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'squall.testing' has no attribute {name!r}")
        value = getattr(importlib.import_module(f"squall.testing.{home}"), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
