"""Tests for the poller registry and the select poller's FD_SETSIZE guard."""

from __future__ import annotations

import asyncio
import logging
import selectors
import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from squall.ioloop import (
    FD_SETSIZE,
    FDSetSizeError,
    IOLoop,
    Poller,
    PollerUnavailableError,
    UnknownPollerError,
    available_pollers,
    get_poller,
    register_poller,
    registered_pollers,
)
from squall.util import ConfigurationError

BUILTIN = ["select", "poll", "epoll", "kqueue", "devpoll", "uvloop"]


@pytest.fixture
def restore_ioloop_config() -> Iterator[None]:
    saved = IOLoop._save_configuration()
    yield
    IOLoop._restore_configuration(saved)


def test_builtin_names_are_registered() -> None:
    names = registered_pollers()
    for name in BUILTIN:
        assert name in names


def test_available_pollers_match_platform() -> None:
    available = available_pollers()
    assert "select" in available
    assert ("epoll" in available) == hasattr(selectors, "EpollSelector")
    assert ("poll" in available) == hasattr(selectors, "PollSelector")
    assert ("kqueue" in available) == hasattr(selectors, "KqueueSelector")


@pytest.mark.parametrize("name", [n for n in BUILTIN if n in available_pollers()])
def test_each_available_poller_runs_a_loop(name: str) -> None:
    loop = IOLoop(poller=name, make_current=False)
    try:
        assert loop.poller == name
        a, b = socket.socketpair()
        got: list[bytes] = []

        def on_read(sock: socket.socket, events: int) -> None:
            got.append(sock.recv(16))
            loop.remove_handler(sock)
            loop.stop()

        loop.add_handler(a, on_read, IOLoop.READ)
        b.send(b"ready")
        loop.add_timeout(loop.time() + 5, loop.stop)
        loop.start()
        assert got == [b"ready"]
        a.close()
        b.close()
    finally:
        loop.close()


def test_auto_picks_best_available() -> None:
    best = get_poller("auto").name
    order = ["uvloop", "epoll", "kqueue", "devpoll", "poll", "select"]
    assert best == next(n for n in order if n in available_pollers())


def test_unknown_poller_names_the_available_ones() -> None:
    with pytest.raises(UnknownPollerError) as caught:
        IOLoop(poller="no-such-poller", make_current=False)
    message = str(caught.value)
    assert "no-such-poller" in message
    assert "select" in message
    assert isinstance(caught.value, ConfigurationError)


def test_unavailable_poller_is_a_clear_error() -> None:
    missing = next(n for n in ["kqueue", "devpoll", "epoll"] if n not in available_pollers())
    with pytest.raises(PollerUnavailableError, match=f"'{missing}' poller is not available"):
        get_poller(missing)


def test_environment_variable_selects_poller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQUALL_POLLER", "select")
    loop = IOLoop(make_current=False)
    try:
        assert loop.poller == "select"
    finally:
        loop.close()
    monkeypatch.setenv("SQUALL_POLLER", "bogus")
    with pytest.raises(UnknownPollerError, match="bogus"):
        IOLoop(make_current=False)


def test_configure_selects_poller(restore_ioloop_config: None) -> None:
    IOLoop.configure(None, poller="poll")
    loop = IOLoop(make_current=False)
    try:
        assert loop.poller == "poll"
    finally:
        loop.close()
    with pytest.raises(UnknownPollerError):
        IOLoop.configure(None, poller="nope")


def test_register_custom_poller(restore_ioloop_config: None) -> None:
    made: list[bool] = []

    def new_loop() -> asyncio.AbstractEventLoop:
        made.append(True)
        return asyncio.SelectorEventLoop(selectors.DefaultSelector())

    register_poller(Poller("custom-test", "a test poller", lambda: True, new_loop), replace=True)
    with pytest.raises(ValueError, match="already registered"):
        register_poller(Poller("custom-test", "again", lambda: True, new_loop))
    with pytest.raises(ValueError, match="reserved"):
        register_poller(Poller("auto", "no", lambda: True, new_loop))
    loop = IOLoop(poller="custom-test", make_current=False)
    try:
        assert loop.poller == "custom-test"
        assert made == [True]
    finally:
        loop.close()


def _open_until_fd_exceeds(limit: int) -> list[socket.socket]:
    """Open socket pairs until one descriptor is >= limit."""
    socks: list[socket.socket] = []
    while True:
        a, b = socket.socketpair()
        socks += [a, b]
        if b.fileno() >= limit:
            return socks


@pytest.mark.skipif(sys.platform == "win32", reason="FD_SETSIZE semantics are POSIX here")
def test_select_poller_refuses_fd_over_fd_setsize_and_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = IOLoop(poller="select", make_current=False)
    socks = _open_until_fd_exceeds(FD_SETSIZE + 10)
    try:
        small_a, small_b = socks[0], socks[1]
        assert small_a.fileno() < FD_SETSIZE
        big = socks[-1]
        assert big.fileno() >= FD_SETSIZE
        got: list[bytes] = []

        # The registration of the large fd fails, for that fd alone.
        with pytest.raises(FDSetSizeError) as caught:
            loop.add_handler(big, lambda s, e: None, IOLoop.READ)
        assert str(big.fileno()) in str(caught.value)
        assert "FD_SETSIZE" in str(caught.value)
        with pytest.raises(FDSetSizeError):
            loop.check_fd(big)
        loop.check_fd(small_a)

        # Registering through asyncio directly is refused too.
        with pytest.raises(FDSetSizeError):
            loop.asyncio_loop.add_reader(big.fileno(), lambda: None)

        def on_read(sock: socket.socket, events: int) -> None:
            got.append(sock.recv(16))
            loop.remove_handler(sock)
            loop.stop()

        loop.add_handler(small_a, on_read, IOLoop.READ)
        small_b.send(b"still alive")
        loop.add_timeout(loop.time() + 5, loop.stop)
        with caplog.at_level(logging.ERROR):
            loop.start()
        assert got == [b"still alive"]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        for s in socks:
            s.close()
        loop.close()


@pytest.mark.parametrize("name", [n for n in ["poll", "epoll"] if n in available_pollers()])
def test_poll_and_epoll_accept_fds_over_fd_setsize(name: str) -> None:
    loop = IOLoop(poller=name, make_current=False)
    socks = _open_until_fd_exceeds(FD_SETSIZE + 10)
    try:
        big_a, big_b = socks[-2], socks[-1]
        got: list[Any] = []

        def on_read(sock: socket.socket, events: int) -> None:
            got.append(sock.recv(16))
            loop.remove_handler(sock)
            loop.stop()

        loop.add_handler(big_b, on_read, IOLoop.READ)
        big_a.send(b"big")
        loop.add_timeout(loop.time() + 5, loop.stop)
        loop.start()
        assert got == [b"big"]
    finally:
        for s in socks:
            s.close()
        loop.close()
