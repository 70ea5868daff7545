"""The pure-Python HTTP client: :class:`SimpleAsyncHTTPClient`.

It is the default :class:`squall.httpclient.AsyncHTTPClient`.  Under it:
:mod:`squall.tcpclient` opens connections and
:class:`squall.http1connection.HTTP1Connection` speaks HTTP/1.1 on them.

**Connection reuse.**  Keep-alive connections are pooled per origin --
scheme, host, port, TLS settings, proxy settings, local address and
address family -- and a connection is reused only when the previous
response was read to the end and neither side asked to close.  At most
``max_clients`` fetches run at once; others wait in a queue, their
``request_timeout`` running, and fail with an :class:`HTTPTimeoutError`
that says so when it runs out.  An idle connection is closed after
``idle_timeout`` seconds, when the server closes it, or when more than
``max_idle_connections`` are idle.  If the server closed a kept-alive
connection just as a request was sent on it, an idempotent request is sent
again on a new connection, once.

**Proxies.**  With ``proxy_host``/``proxy_port`` an ``http://`` URL is
fetched through the proxy (absolute-form request target) and an
``https://`` one through a ``CONNECT`` tunnel, TLS running end to end with
the origin; ``proxy_username``/``proxy_password`` send
``Proxy-Authorization: Basic``.

**Safety.**  CR, LF or NUL in the method, URL or any header is refused
before a byte is sent (:class:`~squall.httpclient.InvalidRequestError`).
A redirect to another origin drops ``Authorization`` and ``Cookie`` and the
``auth_username`` credentials.  Redirects stop after ``max_redirects``
(:class:`~squall.httpclient.TooManyRedirectsError`).  ``max_body_size``
counts the decompressed body, so a gzip bomb is refused early; more than a
few 1xx responses, an invalid status line or ambiguous framing fail with
:class:`~squall.httpclient.HTTPProtocolError`.

.. versionadded:: 0.1.0
"""

from squall.httpclient import HTTPStreamClosedError, HTTPTimeoutError
from squall.simple_httpclient._client import SimpleAsyncHTTPClient

__all__ = ["HTTPStreamClosedError", "HTTPTimeoutError", "SimpleAsyncHTTPClient"]

SimpleAsyncHTTPClient.__module__ = __name__
