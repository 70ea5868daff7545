"""Helpers for tests that check for leaks and wait for asynchronous effects."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence

from squall.testing._runner import get_async_test_timeout

__all__ = ["count_open_fds", "wait_until"]

_PROC_FDS = "/proc/self/fd"


def count_open_fds(kinds: Sequence[str] | None = ("socket:", "pipe:")) -> int:
    """Count this process's open file descriptors of the given kinds.

    Compare the count before and after the code under test to show that it
    releases what it opened (streams, servers, subprocess pipes)::

        before = count_open_fds()
        await exercise_the_server()
        await wait_until(lambda: count_open_fds() == before)

    :param kinds: prefixes of the descriptors' ``/proc/self/fd`` link
        targets to count. The default, sockets and pipes, leaves out what a
        loop opens for itself the first time some operations run (uvloop
        opens ``/dev/null`` and an eventfd); ``None`` counts every
        descriptor.
    :raises NotImplementedError: where ``/proc/self/fd`` does not exist
        (the descriptors' kinds, and with ``None`` their number, are read
        there: Linux).

    .. versionadded:: 0.1.0
    """
    try:
        names = os.listdir(_PROC_FDS)
    except FileNotFoundError:
        raise NotImplementedError(
            f"count_open_fds needs {_PROC_FDS}, which this platform lacks"
        ) from None
    if kinds is None:
        return len(names)
    prefixes = tuple(kinds)
    count = 0
    for name in names:
        try:
            target = os.readlink(f"{_PROC_FDS}/{name}")
        except OSError:
            continue  # (closed since the listing, e.g. the listing's own fd)
        if target.startswith(prefixes):
            count += 1
    return count


async def wait_until(
    predicate: Callable[[], object],
    timeout: float | None = None,
    interval: float = 0.005,
) -> None:
    """Wait, on the running loop, until ``predicate()`` is true.

    For effects that happen a few loop passes after the action that causes
    them (a close callback, a connection released, a descriptor closed).

    :param predicate: called with no arguments, first at once and then
        every ``interval`` seconds.
    :param timeout: seconds to wait at most; default
        :func:`get_async_test_timeout` (``ASYNC_TEST_TIMEOUT``).
    :param interval: seconds between two calls.
    :raises AssertionError: if ``predicate()`` is still false after
        ``timeout`` seconds (the message names the predicate).

    .. versionadded:: 0.1.0
    """
    limit = get_async_test_timeout() if timeout is None else timeout
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{predicate!r} still false after {limit} s")
        await asyncio.sleep(interval)
