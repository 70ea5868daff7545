"""CurlAsyncHTTPClient: an AsyncHTTPClient on libcurl (the ``curl`` extra).

Install with ``pip install squall-httpclient[curl]`` and select it with::

    AsyncHTTPClient.configure("squall.curl_httpclient.CurlAsyncHTTPClient")

Strategy.  One ``pycurl.CurlMulti`` per client drives every transfer.
libcurl says which sockets to watch (``M_SOCKETFUNCTION``) and when to wake
it (``M_TIMERFUNCTION``); the client registers those sockets with the
:class:`~squall.ioloop.IOLoop` and calls ``socket_action`` when they are
ready, then collects finished transfers with ``info_read``.  libcurl keeps
connections alive in the multi handle's connection cache, so requests to
one host reuse one connection.  ``max_clients`` easy handles exist; other
requests wait in a queue, their ``request_timeout`` running.

The options of :class:`~squall.httpclient.HTTPRequest` map onto libcurl's;
the same checks as the pure-Python client run first (CR, LF or NUL in the
method, URL or a header is refused before anything is sent), the decoded
body is counted against ``max_body_size`` as it arrives (so a gzip bomb is
stopped early), and libcurl's error codes become the exceptions of
:mod:`squall.httpclient` (:class:`CurlError` when none fits).
``body_producer`` is supported through a paused read callback.  Not
supported: an :class:`ssl.SSLContext` as ``ssl_options`` (libcurl does its
own TLS; use ``ca_certs``, ``client_cert``, ``client_key`` and
``validate_cert``, or an ``ssl_options`` dict with those files).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

try:
    import pycurl  # noqa: F401
except ImportError as _e:  # pragma: no cover - exercised only without pycurl
    raise ImportError(
        "squall.curl_httpclient needs pycurl: install the extra with "
        "'pip install squall-httpclient[curl]'"
    ) from _e

from squall.curl_httpclient._client import CurlAsyncHTTPClient
from squall.curl_httpclient._transfer import CurlError

__all__ = ["CurlAsyncHTTPClient", "CurlError"]

CurlAsyncHTTPClient.__module__ = __name__
CurlError.__module__ = __name__
