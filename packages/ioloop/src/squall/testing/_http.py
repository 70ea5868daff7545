"""AsyncHTTPTestCase and AsyncHTTPSTestCase: an HTTP server and client per test.

squall-ioloop depends on neither squall-http (``squall.httpserver``) nor
squall-httpclient (``squall.httpclient``): they are imported only when one
of these test cases sets up, and their absence is a clear ImportError naming
the packages to install.
"""

from __future__ import annotations

import importlib
import os
import socket
from types import ModuleType
from typing import Any

from squall.testing._asynctest import AsyncTestCase
from squall.testing._ports import bind_unused_port
from squall.testing._runner import get_async_test_timeout, run_test

__all__ = ["AsyncHTTPSTestCase", "AsyncHTTPTestCase"]

_DISTRIBUTIONS = {"squall.httpserver": "squall-http", "squall.httpclient": "squall-httpclient"}


def _import_http_module(module: str, user: str) -> ModuleType:
    """Import ``module`` for ``user``, or raise an ImportError saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name or ""
        # A missing squall module (this one or a sibling it needs) is an
        # installation problem; anything else is a bug to show as it is.
        if not (missing == module or missing.startswith("squall")):
            raise
        raise ImportError(
            f"{user} needs {module} from the {_DISTRIBUTIONS[module]} package, which "
            f"squall-ioloop does not install ({exc}); install the HTTP packages with: "
            "pip install squall-http squall-httpclient",
            name=module,
        ) from exc


class AsyncHTTPTestCase(AsyncTestCase):
    """An :class:`AsyncTestCase` that serves ``get_app()`` over HTTP on a free port.

    Override :meth:`get_app`; each test gets a server listening on
    127.0.0.1 (:meth:`get_http_port`, :meth:`get_url`) and an HTTP client
    (``self.http_client``)::

        class HelloTest(AsyncHTTPTestCase):
            def get_app(self):
                return Application([("/", HelloHandler)])

            def test_hello(self):
                response = self.fetch("/")
                self.assertEqual(response.code, 200)

    It needs the squall-http (``squall.httpserver``) and squall-httpclient
    (``squall.httpclient``) packages, which squall-ioloop does not depend
    on: they are imported when a test sets up.

    :raises ImportError: in :meth:`setUp`, naming the package to install,
        when one of them is missing.

    .. versionadded:: 0.1.0
    """

    http_server: Any
    http_client: Any

    def setUp(self) -> None:
        """Start the loop, the client and a server for :meth:`get_app` on a free port.

        .. versionadded:: 0.1.0
        """
        super().setUp()
        sock: socket.socket | None = None
        try:
            self.http_client = self.get_http_client()
            self._app = self.get_app()
            self.http_server = self.get_http_server()
            sock, self._squall_port = bind_unused_port()
            self.http_server.add_sockets([sock])
        except BaseException:
            if sock is not None:
                sock.close()
            client = getattr(self, "http_client", None)
            if client is not None:
                client.close()
            self._squall_close_loop()
            raise

    def get_app(self) -> Any:
        """Return the application to serve (an ``HTTPServer`` request callback).

        Must be overridden, typically to return a ``squall.web.Application``.

        :raises NotImplementedError: if not overridden.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError(f"{type(self).__name__} must define get_app()")

    def get_http_client(self) -> Any:
        """Return the client used by :meth:`fetch`: an ``AsyncHTTPClient()``.

        :raises ImportError: if squall-httpclient is not installed.

        .. versionadded:: 0.1.0
        """
        httpclient = _import_http_module("squall.httpclient", type(self).__name__)
        return httpclient.AsyncHTTPClient()

    def get_http_server(self) -> Any:
        """Return the server: ``HTTPServer(app, **self.get_httpserver_options())``.

        :raises ImportError: if squall-http is not installed.

        .. versionadded:: 0.1.0
        """
        httpserver = _import_http_module("squall.httpserver", type(self).__name__)
        return httpserver.HTTPServer(self._app, **self.get_httpserver_options())

    def get_httpserver_options(self) -> dict[str, Any]:
        """Return extra keyword arguments for the ``HTTPServer`` (none by default).

        .. versionadded:: 0.1.0
        """
        return {}

    def get_http_port(self) -> int:
        """Return the port the server listens on.

        .. versionadded:: 0.1.0
        """
        return self._squall_port

    def get_protocol(self) -> str:
        """Return the URL scheme of :meth:`get_url`: ``"http"``.

        .. versionadded:: 0.1.0
        """
        return "http"

    def get_url(self, path: str) -> str:
        """Return the absolute URL of ``path`` (``"/..."``) on the test server.

        :raises ValueError: if ``path`` is not empty and does not start with "/".

        .. versionadded:: 0.1.0
        """
        if path and not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        return f"{self.get_protocol()}://127.0.0.1:{self.get_http_port()}{path}"

    def fetch(self, path: str, raise_error: bool = False, **kwargs: Any) -> Any:
        """Fetch ``path`` (or an absolute ``http(s)://`` URL) and return the response.

        Runs the loop until the response arrives.  Keyword arguments go to
        ``AsyncHTTPClient.fetch`` (``method``, ``body``, ``headers``, ...).

        :param raise_error: raise ``HTTPClientError`` for non-2xx responses
            instead of returning them (errors other than HTTP status codes,
            such as refused connections, are always raised).
        :raises squall.util.TimeoutError: after :func:`get_async_test_timeout`
            seconds.

        .. versionadded:: 0.1.0
        """
        absolute = path.lower().startswith(("http://", "https://"))
        url = path if absolute else self.get_url(path)
        return run_test(
            self.io_loop,
            self._squall_failures,
            self.http_client.fetch,
            (url,),
            {"raise_error": raise_error, **kwargs},
            timeout=get_async_test_timeout(),
            name=f"fetch of {url}",
        )

    def tearDown(self) -> None:
        """Close the client, stop the server and close its connections, then the loop.

        The client goes first, so that the server sees its kept-alive
        connections end rather than having to end them itself.

        .. versionadded:: 0.1.0
        """
        try:
            self.http_client.close()
            self.http_server.stop()
            close_all = getattr(self.http_server, "close_all_connections", None)
            if close_all is not None:
                run_test(
                    self.io_loop,
                    self._squall_failures,
                    close_all,
                    timeout=get_async_test_timeout(),
                    name="closing the test server's connections",
                )
        finally:
            del self.http_server
            del self._app
            super().tearDown()


class AsyncHTTPSTestCase(AsyncHTTPTestCase):
    """An :class:`AsyncHTTPTestCase` serving HTTPS with a self-signed certificate.

    The client does not verify certificates.  Override
    :meth:`get_ssl_options` to use another certificate.

    .. versionadded:: 0.1.0
    """

    def get_http_client(self) -> Any:
        """Return an ``AsyncHTTPClient`` of its own that does not verify certificates.

        :raises ImportError: if squall-httpclient is not installed.

        .. versionadded:: 0.1.0
        """
        httpclient = _import_http_module("squall.httpclient", type(self).__name__)
        return httpclient.AsyncHTTPClient(force_instance=True, defaults={"validate_cert": False})

    def get_httpserver_options(self) -> dict[str, Any]:
        """Return ``{"ssl_options": self.get_ssl_options()}``.

        .. versionadded:: 0.1.0
        """
        return {"ssl_options": self.get_ssl_options()}

    def get_ssl_options(self) -> Any:
        """Return the server's ``ssl_options``: by default :meth:`default_ssl_options`.

        .. versionadded:: 0.1.0
        """
        return self.default_ssl_options()

    @staticmethod
    def default_ssl_options() -> dict[str, Any]:
        """Return ``certfile``/``keyfile`` options for the bundled self-signed certificate.

        The certificate is for ``localhost``, 127.0.0.1 and ::1; it is public,
        so never use it outside tests.

        .. versionadded:: 0.1.0
        """
        here = os.path.dirname(os.path.abspath(__file__))
        return {
            "certfile": os.path.join(here, "test.crt"),
            "keyfile": os.path.join(here, "test.key"),
        }

    def get_protocol(self) -> str:
        """Return ``"https"``.

        .. versionadded:: 0.1.0
        """
        return "https"
