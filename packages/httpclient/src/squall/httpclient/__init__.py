"""Blocking and non-blocking HTTP clients.

:class:`AsyncHTTPClient` is the non-blocking client (one shared instance
per IOLoop), :class:`HTTPClient` the blocking one, :class:`HTTPRequest` and
:class:`HTTPResponse` what goes in and comes out::

    response = await AsyncHTTPClient().fetch("http://example.com/")
    print(response.code, response.body)

The implementation is a :class:`~squall.util.Configurable`:
:class:`squall.simple_httpclient.SimpleAsyncHTTPClient` (pure Python, the
default) or :class:`squall.curl_httpclient.CurlAsyncHTTPClient` (libcurl,
the ``squall-httpclient[curl]`` extra).

``python -m squall.httpclient URL`` fetches a URL from the command line
(:func:`main`).

Exceptions, named for what went wrong (the code is 599 when there is no
HTTP response to report)::

    HTTPClientError (alias HTTPError)   an HTTP error status (code >= 400, or a
     |                                  redirect not followed); .code .response
     +-- TooManyRedirectsError          more than max_redirects redirects
     +-- HTTPTimeoutError        599    connect_timeout or request_timeout ran out
     |                                  (also a TimeoutError)
     +-- HTTPConnectionError     599    no connection: DNS, refused, unreachable
     |    +-- HTTPTLSError       599    the TLS handshake failed (certificate...)
     |    +-- HTTPProxyError     599    the proxy refused or broke the tunnel
     +-- HTTPStreamClosedError   599    the server closed the connection before
     |                                  the response was complete
     +-- HTTPProtocolError       599    the server broke HTTP/1.1 (its fault)
     +-- ResponseTooLargeError   599    over max_header_size / max_body_size
     +-- InvalidRequestError     599    the request is invalid (your fault; also
                                        a ValueError), raised before sending

.. versionadded:: 0.1.0
"""

from squall.httpclient._client import AsyncHTTPClient, HTTPClient
from squall.httpclient._errors import (
    HTTPClientError,
    HTTPConnectionError,
    HTTPError,
    HTTPProtocolError,
    HTTPProxyError,
    HTTPStreamClosedError,
    HTTPTimeoutError,
    HTTPTLSError,
    InvalidRequestError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from squall.httpclient._main import main
from squall.httpclient._request import HTTPRequest, _RequestProxy
from squall.httpclient._response import HTTPResponse

__all__ = [
    "AsyncHTTPClient",
    "HTTPClient",
    "HTTPClientError",
    "HTTPConnectionError",
    "HTTPError",
    "HTTPProtocolError",
    "HTTPProxyError",
    "HTTPRequest",
    "HTTPResponse",
    "HTTPStreamClosedError",
    "HTTPTLSError",
    "HTTPTimeoutError",
    "InvalidRequestError",
    "ResponseTooLargeError",
    "TooManyRedirectsError",
    "_RequestProxy",
    "main",
]

for _cls in (
    AsyncHTTPClient,
    HTTPClient,
    HTTPClientError,
    HTTPConnectionError,
    HTTPProtocolError,
    HTTPProxyError,
    HTTPRequest,
    HTTPResponse,
    HTTPStreamClosedError,
    HTTPTLSError,
    HTTPTimeoutError,
    InvalidRequestError,
    ResponseTooLargeError,
    TooManyRedirectsError,
):
    _cls.__module__ = __name__
del _cls
