"""Miscellaneous network utilities: listening sockets, name resolution, TLS options.

* :func:`bind_sockets`, :func:`bind_unix_socket` and
  :func:`add_accept_handler` create listening sockets and accept
  connections on them from the IOLoop (the pieces under ``TCPServer``, and
  what ``bind_sockets`` + ``fork_processes`` deployments use directly);
* :class:`Resolver` and its implementations resolve host names without
  blocking the loop;
* :func:`ssl_options_to_context` and :func:`ssl_wrap_socket` accept
  Tornado's ``ssl_options`` dictionaries as well as :class:`ssl.SSLContext`;
* :func:`is_valid_ip` tells addresses from host names.

Exceptions defined here::

    OSError
     +-- ResolverError          -- the name could not be resolved
          +-- ResolverClosedError   -- your code used a resolver after close()

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from squall.netutil._resolver import (
    BlockingResolver,
    DefaultExecutorResolver,
    DefaultLoopResolver,
    ExecutorResolver,
    OverrideResolver,
    Resolver,
    ResolverClosedError,
    ResolverError,
    ResolveResult,
    ThreadedResolver,
)
from squall.netutil._sockets import (
    _DEFAULT_BACKLOG,
    add_accept_handler,
    bind_sockets,
    bind_unix_socket,
    is_valid_ip,
)
from squall.netutil._ssl import (
    _client_ssl_defaults,
    _server_ssl_defaults,
    ssl_options_to_context,
    ssl_wrap_socket,
)

__all__ = [
    "_DEFAULT_BACKLOG",
    "BlockingResolver",
    "DefaultExecutorResolver",
    "DefaultLoopResolver",
    "ExecutorResolver",
    "OverrideResolver",
    "ResolveResult",
    "Resolver",
    "ResolverClosedError",
    "ResolverError",
    "ThreadedResolver",
    "_client_ssl_defaults",
    "_server_ssl_defaults",
    "add_accept_handler",
    "bind_sockets",
    "bind_unix_socket",
    "is_valid_ip",
    "ssl_options_to_context",
    "ssl_wrap_socket",
]

# Public classes report this module as their home, for pickling, reprs and docs.
for _name in (
    "BlockingResolver",
    "DefaultExecutorResolver",
    "DefaultLoopResolver",
    "ExecutorResolver",
    "OverrideResolver",
    "Resolver",
    "ResolverClosedError",
    "ResolverError",
    "ThreadedResolver",
):
    globals()[_name].__module__ = __name__
del _name
