"""One table from transport exceptions to :class:`~ice_widgets._errors.TransportError` codes.

Both transports use :func:`transport_error`: the httpx path of ``Client``/``AsyncClient``
(httpx, and h11 under it) and the batch sender (llhttp and h11 over asyncio, OSError, ssl). A refused
connection, a timeout, a reset, a truncated body and an unverifiable certificate each get
one code (the constants of :mod:`ice_widgets._errors`) whichever path raised them.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import zlib

import h11
import httpx

from ice_widgets._errors import (
    CLIENT_CLOSED,
    CONNECT_ERROR,
    CONNECT_TIMEOUT,
    CONNECTION_ERROR,
    INCOMPLETE_RESPONSE,
    INVALID_REQUEST,
    SSL_ERROR,
    TIMEOUT,
    InvalidResponseError,
    RequestTimeoutError,
    TransportError,
)

__all__ = ["ClosedError", "shared_ssl_context", "transport_error"]

_CONTEXTS: dict[tuple[bool, str | None, str | None, str | None], ssl.SSLContext] = {}


def shared_ssl_context(*, alpn: bool = False) -> ssl.SSLContext:
    """httpx's default verifying TLS context, made once per process and shared.

    The same context as :func:`httpx.create_ssl_context` with ``verify=True,
    trust_env=True`` (certifi's CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``;
    ``SSLKEYLOGFILE``), remade when those variables change. Made per client it cost 50 to
    100 ms on a 2-core VM (loading the CA bundle): every ``fetch_jobs`` call paid it twice,
    once for its client even when the endpoint was ``http://``. ``alpn=True``: the batch
    sender's, offering ``http/1.1`` (as httpx does without HTTP/2).
    """
    env = os.environ
    key = (alpn, env.get("SSL_CERT_FILE"), env.get("SSL_CERT_DIR"), env.get("SSLKEYLOGFILE"))
    context = _CONTEXTS.get(key)
    if context is None:  # two threads may both make one: either is right
        context = httpx.create_ssl_context(verify=True, trust_env=True)
        if alpn:
            context.set_alpn_protocols(["http/1.1"])
        _CONTEXTS[key] = context
    return context


class ClosedError(Exception):
    """Raised by a sender used after ``aclose()`` (mapped to ``ClientClosed``)."""


def _cert_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def transport_error(exc: BaseException, action: str, *, connecting: bool = False) -> TransportError:
    """The TransportError (with its one code) for an exception a transport raised.

    Parameters
    ----------
    exc : BaseException
        What httpx, h11, asyncio, ssl or the OS raised.
    action : str
        The API action, for the message.
    connecting : bool
        For exceptions that do not say it themselves (OSError, TimeoutError): whether the
        connection was being opened (nothing sent) or already carried the request.
    """
    name = type(exc).__name__
    detail = str(exc).strip() or name
    text = f"{name}: {detail}"
    cert = _cert_failure(exc)
    if cert is not None or "CERTIFICATE_VERIFY_FAILED" in detail:
        reason = (cert.verify_message or cert.reason or str(cert)) if cert is not None else detail
        return TransportError(
            f"the TLS certificate cannot be verified: {reason} "
            "(trusted CAs: certifi, or SSL_CERT_FILE / SSL_CERT_DIR when set)",
            code=SSL_ERROR,
            action=action,
        )
    if isinstance(exc, ClosedError):
        return TransportError(detail, code=CLIENT_CLOSED, action=action)
    # httpx (the single-call path)
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return RequestTimeoutError(text, code=CONNECT_TIMEOUT, action=action)
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(text, code=TIMEOUT, action=action)
    if isinstance(exc, (httpx.LocalProtocolError, httpx.UnsupportedProtocol, h11.LocalProtocolError)):
        return TransportError(text, code=INVALID_REQUEST, action=action)
    if isinstance(exc, httpx.ConnectError):
        return TransportError(text, code=CONNECT_ERROR, action=action)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.DecodingError, h11.RemoteProtocolError)):
        return InvalidResponseError(text, code=INCOMPLETE_RESPONSE, action=action)
    if isinstance(exc, (zlib.error, asyncio.IncompleteReadError, EOFError)):
        return InvalidResponseError(text, code=INCOMPLETE_RESPONSE, action=action)
    if isinstance(exc, httpx.HTTPError):  # ReadError, WriteError, CloseError...
        return TransportError(text, code=CONNECTION_ERROR, action=action)
    # the batch sender (asyncio streams, ssl, the OS)
    if isinstance(exc, TimeoutError):
        return RequestTimeoutError(text, code=CONNECT_TIMEOUT if connecting else TIMEOUT, action=action)
    if isinstance(exc, OSError):  # refused, unreachable, reset, broken pipe, ssl.SSLError
        return TransportError(text, code=CONNECT_ERROR if connecting else CONNECTION_ERROR, action=action)
    return TransportError(text, code=CONNECTION_ERROR, action=action)
