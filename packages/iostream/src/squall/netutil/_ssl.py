"""TLS settings: Tornado's ``ssl_options`` dictionaries and :class:`ssl.SSLContext`.

Squall accepts either an :class:`ssl.SSLContext` or the dictionary of
keyword arguments that the old ``ssl.wrap_socket`` took (and Tornado's
``ssl_options`` carried).  A dictionary is turned into a context once, with
secure defaults, and a key Squall does not know is an error rather than a
setting silently dropped.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from socket import socket as SocketType  # noqa: N812
from typing import Any

__all__ = [
    "_client_ssl_defaults",
    "_server_ssl_defaults",
    "ssl_options_to_context",
    "ssl_wrap_socket",
]

#: The keys an ``ssl_options`` dictionary may hold.
_SSL_CONTEXT_KEYWORDS = frozenset(
    ["ssl_version", "certfile", "keyfile", "cert_reqs", "ca_certs", "ciphers"]
)
_CERT_REQS = (ssl.CERT_NONE, ssl.CERT_OPTIONAL, ssl.CERT_REQUIRED)

#: Default client context: verifies the server's certificate and host name
#: against the system's certificate authorities.
_client_ssl_defaults = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
#: Default server context (it still needs a certificate chain loaded).
_server_ssl_defaults = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)


def _context_is_server_side(context: ssl.SSLContext) -> bool:
    return context.protocol == ssl.PROTOCOL_TLS_SERVER


def ssl_options_to_context(
    ssl_options: Mapping[str, Any] | ssl.SSLContext, server_side: bool | None = None
) -> ssl.SSLContext:
    """Turn an ``ssl_options`` dictionary into an :class:`ssl.SSLContext`.

    A context is returned unchanged.  A dictionary may hold the keys
    ``certfile`` and ``keyfile`` (the certificate chain to present),
    ``cert_reqs`` (``ssl.CERT_NONE``, ``CERT_OPTIONAL`` or ``CERT_REQUIRED``),
    ``ca_certs`` (a file of trusted certificate authorities), ``ciphers`` (an
    OpenSSL cipher string) and ``ssl_version`` (a ``ssl.PROTOCOL_*``
    constant).

    A client context verifies the peer's certificate and host name by
    default, against ``ca_certs`` or else the system's authorities;
    ``cert_reqs=ssl.CERT_NONE`` turns both checks off.  A server context
    asks for no client certificate unless ``cert_reqs`` says so.
    TLS compression is always off.

    :param ssl_options: the dictionary, or an :class:`ssl.SSLContext`.
    :param server_side: True for a server's context, False for a client's.
        ``None`` (the Tornado 4 calling convention) means a server context
        when a ``certfile`` is given and a client context otherwise.
    :returns: the context.
    :raises ValueError: if the dictionary has keys other than the ones
        above (the message names them), or ``cert_reqs`` is not one of the
        three constants.
    :raises TypeError: if ``ssl_options`` is neither a mapping nor a context.
    :raises OSError: if a certificate, key or CA file cannot be read
        (:class:`ssl.SSLError` if it cannot be parsed).

    .. versionadded:: 0.1.0
    """
    if isinstance(ssl_options, ssl.SSLContext):
        return ssl_options
    if not isinstance(ssl_options, Mapping):
        raise TypeError(
            f"ssl_options must be a dict or an ssl.SSLContext, not {type(ssl_options).__name__}"
        )
    unknown = set(ssl_options) - _SSL_CONTEXT_KEYWORDS
    if unknown:
        raise ValueError(
            "unknown ssl_options key(s): "
            + ", ".join(sorted(repr(k) for k in unknown))
            + "; allowed are "
            + ", ".join(sorted(_SSL_CONTEXT_KEYWORDS))
        )
    cert_reqs = ssl_options.get("cert_reqs")
    if cert_reqs is not None and cert_reqs not in _CERT_REQS:
        raise ValueError(
            f"ssl_options['cert_reqs'] must be ssl.CERT_NONE, CERT_OPTIONAL or "
            f"CERT_REQUIRED, not {cert_reqs!r}"
        )
    if server_side is None:
        server_side = "certfile" in ssl_options
    if "ssl_version" in ssl_options:
        context = ssl.SSLContext(ssl_options["ssl_version"])
    elif server_side:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if "certfile" in ssl_options:
        context.load_cert_chain(ssl_options["certfile"], ssl_options.get("keyfile"))
    if cert_reqs is not None:
        if cert_reqs == ssl.CERT_NONE:
            # A client context checks host names by default, which is
            # incompatible with not verifying the certificate at all.
            context.check_hostname = False
        context.verify_mode = cert_reqs
    if "ca_certs" in ssl_options:
        context.load_verify_locations(ssl_options["ca_certs"])
    elif context.verify_mode != ssl.CERT_NONE and not server_side:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if "ciphers" in ssl_options:
        context.set_ciphers(ssl_options["ciphers"])
    context.options |= ssl.OP_NO_COMPRESSION
    return context


def ssl_wrap_socket(
    socket: SocketType,
    ssl_options: Mapping[str, Any] | ssl.SSLContext,
    server_hostname: str | None = None,
    server_side: bool | None = None,
    **kwargs: Any,
) -> ssl.SSLSocket:
    """Wrap ``socket`` in TLS according to ``ssl_options``.

    The handshake is not done here: for a non-blocking socket pass
    ``do_handshake_on_connect=False`` and drive it from the stream.

    :param socket: a connected (client) or accepted (server) socket.
    :param ssl_options: a dictionary or context, as for
        :func:`ssl_options_to_context`.
    :param server_hostname: the name to send with SNI and to check the
        server's certificate against (client side only).
    :param server_side: whether this end is the server.  ``None`` takes the
        side from the context (a ``PROTOCOL_TLS_SERVER`` context is a
        server's) or, for a dictionary, as :func:`ssl_options_to_context`
        decides.
    :param kwargs: passed to :meth:`ssl.SSLContext.wrap_socket`.
    :returns: the :class:`ssl.SSLSocket`.
    :raises ValueError: as :func:`ssl_options_to_context`, or if the context
        cannot be used for the requested side.

    .. versionadded:: 0.1.0
    """
    context = ssl_options_to_context(ssl_options, server_side=server_side)
    if server_side is None:
        server_side = _context_is_server_side(context)
    if server_side:
        server_hostname = None
    return context.wrap_socket(
        socket, server_side=server_side, server_hostname=server_hostname, **kwargs
    )
