"""``python -m squall.httpclient URL...``: fetch URLs from the command line."""

from __future__ import annotations

import sys

from squall.httpclient._client import HTTPClient
from squall.httpclient._errors import HTTPClientError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Fetch each URL given on the command line and print the body (Tornado's tool).

    Options: ``--print_headers``, ``--print_body`` (default true),
    ``--follow_redirects`` (default true), ``--validate_cert`` (default
    true), ``--proxy_host``, ``--proxy_port``.  An HTTP error status is
    printed, not raised; a failure without a response ends the program with
    status 1.

    :param argv: the command line, program name first (default ``sys.argv``).
    :returns: the exit status.

    .. versionadded:: 0.1.0
    """
    from squall.options import OptionParser

    parser = OptionParser()
    parser.define("print_headers", type=bool, default=False, help="print the response head")
    parser.define("print_body", type=bool, default=True, help="print the response body")
    parser.define("follow_redirects", type=bool, default=True, help="follow redirects")
    parser.define("validate_cert", type=bool, default=True, help="verify TLS certificates")
    parser.define("proxy_host", type=str, help="HTTP proxy host")
    parser.define("proxy_port", type=int, help="HTTP proxy port")
    urls = parser.parse_command_line(sys.argv if argv is None else argv)
    if not urls:
        parser.print_help()
        return 2
    client = HTTPClient()
    status = 0
    try:
        for url in urls:
            try:
                response = client.fetch(
                    url,
                    follow_redirects=parser.follow_redirects,
                    validate_cert=parser.validate_cert,
                    proxy_host=parser.proxy_host,
                    proxy_port=parser.proxy_port,
                    raise_error=False,
                )
            except HTTPClientError as e:
                print(f"{url}: {e}", file=sys.stderr)
                status = 1
                continue
            if parser.print_headers:
                print(f"HTTP/1.1 {response.code} {response.reason}")
                for name, value in response.headers.get_all():
                    print(f"{name}: {value}")
                print()
            if parser.print_body:
                sys.stdout.flush()
                sys.stdout.buffer.write(response.body)
                sys.stdout.buffer.flush()
    finally:
        client.close()
    return status
