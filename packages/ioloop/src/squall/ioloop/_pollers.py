"""The poller registry: named readiness mechanisms under the asyncio loop.

A poller is what the loop asks "which file descriptors are ready?".  Each
registered :class:`Poller` knows whether it works on this platform and how
to build a new asyncio event loop that uses it.  The built-in names are a
public contract: ``select``, ``poll``, ``epoll``, ``kqueue``, ``devpoll``,
``uvloop`` and ``auto`` (the best available).  Other installed packages add
pollers through the ``squall.pollers`` entry point group; each entry point
names a :class:`Poller` instance or a zero-argument callable returning one.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from squall.util import ConfigurationError

#: The environment variable that selects the poller of every new loop.
POLLER_ENV_VAR = "SQUALL_POLLER"

#: ``select.select`` cannot watch descriptors at or above this number.
FD_SETSIZE = 1024

# The order in which "auto" tries the pollers.
_AUTO_ORDER = ("uvloop", "epoll", "kqueue", "devpoll", "poll", "select")


class PollerError(ConfigurationError):
    """Base class for poller selection errors (a configuration mistake)."""


class UnknownPollerError(PollerError):
    """Your code or environment named a poller that is not registered."""


class PollerUnavailableError(PollerError):
    """The named poller exists but cannot run on this platform or install."""


class FDSetSizeError(ValueError):
    """The select poller was asked to watch a descriptor >= ``FD_SETSIZE``.

    ``select.select`` cannot represent such a descriptor.  The registration
    of that one descriptor fails; the loop and every other handler keep
    running.  Use the ``poll`` or ``epoll`` poller for many connections.

    .. versionadded:: 0.1.0
    """

    def __init__(self, fd: int) -> None:
        super().__init__(
            f"file descriptor {fd} is >= FD_SETSIZE ({FD_SETSIZE}): the select poller "
            "cannot watch it; choose the poll or epoll poller for this many descriptors"
        )
        self.fd = fd


class SafeSelectSelector(selectors.SelectSelector):
    """A :class:`selectors.SelectSelector` that refuses descriptors it cannot watch.

    The standard selector accepts any descriptor and then makes *every*
    later ``select()`` call fail, taking the whole loop down.  This one
    raises :class:`FDSetSizeError` at registration instead.
    """

    max_fd = FD_SETSIZE - 1

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        """Register ``fileobj``; raise :class:`FDSetSizeError` for a too-large fd."""
        fd = selectors._fileobj_to_fd(fileobj)  # type: ignore[attr-defined]
        if fd >= FD_SETSIZE:
            raise FDSetSizeError(fd)
        return super().register(fileobj, events, data)


@dataclass(frozen=True)
class Poller:
    """A named readiness mechanism.

    :param name: the public name (``SQUALL_POLLER=<name>``).
    :param description: one line for help and error messages.
    :param is_available: returns whether the poller works here.
    :param new_event_loop: builds a fresh asyncio event loop using it.
    :param max_fd: the highest descriptor it can watch, or ``None``.

    .. versionadded:: 0.1.0
    """

    name: str
    description: str
    is_available: Callable[[], bool]
    new_event_loop: Callable[[], asyncio.AbstractEventLoop] = field(repr=False)
    max_fd: int | None = None


def _selector_poller(name: str, description: str, selector_name: str) -> Poller:
    def available() -> bool:
        return hasattr(selectors, selector_name)

    def new_loop() -> asyncio.AbstractEventLoop:
        selector = getattr(selectors, selector_name)()
        return asyncio.SelectorEventLoop(selector)

    return Poller(name, description, available, new_loop)


def _uvloop_available() -> bool:
    if sys.platform == "win32":
        return False
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _uvloop_new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError as e:  # pragma: no cover - guarded by is_available
        raise PollerUnavailableError(
            "the uvloop poller needs uvloop: pip install 'squall-ioloop[uvloop]'"
        ) from e
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


_REGISTRY: dict[str, Poller] = {}
_entry_points_loaded = False


def register_poller(poller: Poller, *, replace: bool = False) -> None:
    """Add ``poller`` to the registry under ``poller.name``.

    :raises ValueError: if the name is taken and ``replace`` is false, or is
        ``auto``.

    .. versionadded:: 0.1.0
    """
    if poller.name == "auto":
        raise ValueError("'auto' is reserved: it picks the best available poller")
    if poller.name in _REGISTRY and not replace:
        raise ValueError(f"a poller named {poller.name!r} is already registered")
    _REGISTRY[poller.name] = poller


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group="squall.pollers"):
        try:
            obj = ep.load()
            poller = obj if isinstance(obj, Poller) else obj()
            if not isinstance(poller, Poller):
                raise TypeError(f"entry point {ep.name!r} did not give a squall Poller")
            register_poller(poller, replace=True)
        except Exception:
            from squall.log import gen_log

            gen_log.exception("cannot load poller entry point %r", ep.name)


def registered_pollers() -> list[str]:
    """Return the names of every registered poller, available or not.

    .. versionadded:: 0.1.0
    """
    _load_entry_points()
    return list(_REGISTRY)


def available_pollers() -> list[str]:
    """Return the names of the pollers that work on this platform.

    .. versionadded:: 0.1.0
    """
    _load_entry_points()
    return [name for name, p in _REGISTRY.items() if p.is_available()]


def default_poller_name() -> str:
    """Return the poller used when none is named: ``$SQUALL_POLLER`` or ``auto``.

    .. versionadded:: 0.1.0
    """
    return os.environ.get(POLLER_ENV_VAR, "").strip() or "auto"


def get_poller(name: str | None = None) -> Poller:
    """Return the poller called ``name`` (default: :func:`default_poller_name`).

    ``auto`` resolves to the best available one.

    :raises UnknownPollerError: for an unregistered name.
    :raises PollerUnavailableError: for a poller that cannot run here.

    .. versionadded:: 0.1.0
    """
    if name is None:
        name = default_poller_name()
    _load_entry_points()
    if name == "auto":
        for candidate in _AUTO_ORDER:
            poller = _REGISTRY.get(candidate)
            if poller is not None and poller.is_available():
                return poller
        raise PollerUnavailableError("no poller is available on this platform")
    poller = _REGISTRY.get(name)
    available = ", ".join(available_pollers())
    if poller is None:
        raise UnknownPollerError(
            f"unknown poller {name!r}; registered: {', '.join(_REGISTRY)}; "
            f"available here: {available}"
        )
    if not poller.is_available():
        raise PollerUnavailableError(
            f"the {name!r} poller is not available on this platform "
            f"({poller.description}); available here: {available}"
        )
    return poller


def poller_name_of(loop: asyncio.AbstractEventLoop) -> str:
    """Guess which poller an asyncio loop that Squall did not create uses.

    .. versionadded:: 0.1.0
    """
    if type(loop).__module__.startswith("uvloop"):
        return "uvloop"
    selector = getattr(loop, "_selector", None)
    names = {
        "SafeSelectSelector": "select",
        "SelectSelector": "select",
        "PollSelector": "poll",
        "EpollSelector": "epoll",
        "KqueueSelector": "kqueue",
        "DevpollSelector": "devpoll",
    }
    return names.get(type(selector).__name__, "asyncio")


def _new_select_loop() -> asyncio.AbstractEventLoop:
    return asyncio.SelectorEventLoop(SafeSelectSelector())


register_poller(
    Poller(
        "select",
        "select(2); portable, limited to descriptors below 1024",
        lambda: True,
        _new_select_loop,
        max_fd=FD_SETSIZE - 1,
    )
)
register_poller(_selector_poller("poll", "poll(2); Linux, BSD, macOS", "PollSelector"))
register_poller(_selector_poller("epoll", "epoll(7); Linux", "EpollSelector"))
register_poller(_selector_poller("kqueue", "kqueue(2); BSD, macOS", "KqueueSelector"))
register_poller(_selector_poller("devpoll", "/dev/poll; Solaris", "DevpollSelector"))
register_poller(
    Poller("uvloop", "libuv through uvloop (extra 'uvloop')", _uvloop_available, _uvloop_new_loop)
)
