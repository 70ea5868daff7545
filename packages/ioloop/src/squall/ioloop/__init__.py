"""The IOLoop: Squall's event loop, on asyncio, with pluggable pollers.

Public names::

    IOLoop, AsyncIOLoop, AsyncIOMainLoop, BaseAsyncIOLoop   -- the loops
    PeriodicCallback                                         -- fixed-rate calls
    Poller, register_poller, get_poller, available_pollers,
    registered_pollers, default_poller_name, POLLER_ENV_VAR  -- the poller registry

Exceptions::

    squall.util.ConfigurationError
      └── PollerError
            ├── UnknownPollerError       -- no poller by that name
            └── PollerUnavailableError   -- not available on this platform
    ValueError
      └── FDSetSizeError                 -- select cannot watch an fd >= 1024

.. versionadded:: 0.1.0
"""

from squall.ioloop._ioloop import AsyncIOLoop, AsyncIOMainLoop, BaseAsyncIOLoop, IOLoop
from squall.ioloop._periodic import PeriodicCallback
from squall.ioloop._pollers import (
    FD_SETSIZE,
    POLLER_ENV_VAR,
    FDSetSizeError,
    Poller,
    PollerError,
    PollerUnavailableError,
    SafeSelectSelector,
    UnknownPollerError,
    available_pollers,
    default_poller_name,
    get_poller,
    register_poller,
    registered_pollers,
)

__all__ = [
    "FD_SETSIZE",
    "POLLER_ENV_VAR",
    "AsyncIOLoop",
    "AsyncIOMainLoop",
    "BaseAsyncIOLoop",
    "FDSetSizeError",
    "IOLoop",
    "PeriodicCallback",
    "Poller",
    "PollerError",
    "PollerUnavailableError",
    "SafeSelectSelector",
    "UnknownPollerError",
    "available_pollers",
    "default_poller_name",
    "get_poller",
    "register_poller",
    "registered_pollers",
]
