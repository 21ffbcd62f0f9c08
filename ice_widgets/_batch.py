"""The batch engine behind ``fetch_jobs``: bounded, adaptive, interruptible.

Concurrency model (chosen by measurement, see ``bench/bench_fetch.py``): asyncio. A fixed
number of worker coroutines pull job IDs from one shared iterator, so 50,000 IDs never
mean 50,000 tasks or futures, and never more than ``concurrency`` requests in flight. The
send rate is the client's shared :class:`~ice_widgets._core.AdaptiveRate` (AIMD): on
throttling it backs off and converges on the account's limit.

Requests go through an :class:`~ice_widgets.AsyncClient` (its signing, parsing, retry
policy, ``stats`` and ``rate``). For ``http://`` and ``https://`` endpoints reached without
a proxy (the emulator, every real ICE endpoint) its ``_send`` is :class:`RawSender`,
HTTP/1.1 keep-alive on an asyncio protocol (over TLS verified exactly as httpx verifies):
httpx's AsyncClient costs several times more CPU per request, and on a 2-core machine
client CPU decides throughput. Proxied set-ups and custom transports keep httpx.

:func:`run_sync` runs a coroutine on a private event loop in a worker thread while the
calling thread waits on an event in short steps: the same code works in a script and in a Jupyter
kernel (whose loop is already running), Ctrl-C / the stop button is seen within 0.1 s,
the batch is cancelled, and the thread is gone before ``KeyboardInterrupt`` is raised.
Progress bars are driven from the calling thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import h11
import httptools
import httpx

from ice_widgets._core import MAX_BODY_BYTES, PreparedRequest, is_retryable
from ice_widgets._errors import (
    INVALID_REQUEST,
    RESPONSE_TOO_LARGE,
    SSL_ERROR,
    TIMEOUT,
    AuthenticationError,
    CredentialsError,
    IceError,
    InvalidResponseError,
    RequestTimeoutError,
    TransportError,
)
from ice_widgets._ids import error_row, parse_ids
from ice_widgets._models import Job, JobError
from ice_widgets._wire import ClosedError, shared_ssl_context, transport_error

__all__ = [
    "DEFAULT_CONCURRENCY",
    "BatchProgress",
    "RawSender",
    "async_client_for",
    "default_ssl_context",
    "is_fatal",
    "normalize_ids",
    "run_batch",
    "run_sync",
    "sync_client_for",
    "transport_name",
]

logger = logging.getLogger("ice_widgets")

#: Worker coroutines when ``concurrency=None``.
DEFAULT_CONCURRENCY = 32
#: Upper bound of ``concurrency=``.
MAX_CONCURRENCY = 256

T = TypeVar("T")
Record = Job | JobError
FATAL_ERRORS: tuple[type[BaseException], ...] = (AuthenticationError, CredentialsError)
#: TransportError codes that doom every request of a batch: the server's certificate
#: cannot be verified (untrusted, expired, wrong host name); every connection fails alike.
FATAL_TRANSPORT_CODES = frozenset({SSL_ERROR})


def is_fatal(error: BaseException) -> bool:
    """Whether ``error`` stops a whole batch (see :data:`FATAL_ERRORS`, :data:`FATAL_TRANSPORT_CODES`)."""
    if isinstance(error, FATAL_ERRORS):
        return True
    return isinstance(error, TransportError) and error.code in FATAL_TRANSPORT_CODES


# --------------------------------------------------------------------------- input

#: The one job-ID parser (see :mod:`ice_widgets._ids` for the rule).
normalize_ids = parse_ids


def resolve_concurrency(concurrency: int | None) -> int:
    """``concurrency=`` as a worker count: None -> the default; 1 .. MAX_CONCURRENCY."""
    if concurrency is None:
        return DEFAULT_CONCURRENCY
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise TypeError(f"concurrency must be an int or None, not {type(concurrency).__name__}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    return min(concurrency, MAX_CONCURRENCY)


# --------------------------------------------------------------------------- transport


class RawSender:
    """Sends the client's signed requests over HTTP/1.1 keep-alive connections (llhttp, h11).

    The batch transport (the single-call path stays on httpx, and so do proxies and custom
    transports): it writes the :class:`~ice_widgets._core.PreparedRequest` as it was signed
    over an asyncio protocol of its own (:class:`_Connection`: plain answers framed by
    llhttp, every other one by h11, the HTTP/1.1 parser under httpx, which thus decides on
    all the hard framing: status line, headers, ``Content-Length``, chunked and close-delimited
    bodies (in any number of TCP segments), 1xx answers before the final one, keep-alive,
    and refusing malformed framing (``Content-Length: 1_0``, ``0x`` chunk sizes) exactly as
    httpx does. Bodies are decoded as httpx decodes them (gzip; deflate with or without a
    zlib header). ``tests/test_http_corpus.py`` feeds the same bytes to this sender and to
    httpx and checks that both give the same answer or the same error code. Nothing here
    reads private attributes of asyncio or httpx objects.

    Why not httpx itself for batches: the CPU per request. See the README's bench_fetch
    figures: h11 with a hand-held protocol costs a fraction of httpx's AsyncClient per
    request, which is what lets the batch path use at most half the CPU per job of the
    official SDK's 16-thread pool.

    TLS is verified as httpx verifies by default: :func:`httpx.create_ssl_context` (certifi's
    CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), certificate chain and host
    name checked, ALPN ``http/1.1``. A certificate that cannot be verified raises
    ``TransportError`` with code ``SSLError``, never retried and fatal for a batch; the first
    connection is opened alone, so a bad certificate costs one handshake, not one per
    worker, and later sends fail at once with the same error.

    Failures are mapped through :func:`ice_widgets._wire.transport_error`, the table the
    httpx path uses, so a refused connection, a timeout, a reset, a truncated body and an
    unverifiable certificate have one code whichever path met them
    (``tests/test_transport_errors.py``). A connection is closed, never reused, when an
    exchange on it fails or is cancelled, or when the server sent bytes nobody asked for; a
    request is never re-sent here (the server may have seen its nonce): the client retries
    with a freshly signed one.

    Parameters
    ----------
    endpoint : str
        ``http://host[:port]`` or ``https://host[:port]``.
    timeout : float
        Seconds for a whole exchange (connecting, TLS handshake included, is capped at 5 s);
        checked every tenth of it, at most every 0.1 s.
    ssl_context : ssl.SSLContext, optional
        For ``https://``: the client context to verify the server with (default: httpx's).
    """

    def __init__(self, endpoint: str, timeout: float, *, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"RawSender needs an http:// or https:// endpoint, not {endpoint!r}")
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._netloc = parts.netloc
        self._host = parts.hostname
        self.tls = parts.scheme == "https"
        self._port = parts.port or (443 if self.tls else 80)
        self._ssl: ssl.SSLContext | None = None
        if self.tls:
            self._ssl = ssl_context if ssl_context is not None else default_ssl_context()
        self.timeout = float(timeout)
        self._idle: list[_Connection] = []
        self._closed = False
        self._verified = not self.tls  # a TLS connection has been set up once
        self._first: asyncio.Lock | None = None
        self._failure: TransportError | None = None  # the certificate failure, once seen
        self._closing: set[asyncio.Future[None]] = set()  # TLS shutdowns under way
        self.connections = 0  # connections opened (TLS: handshakes completed)
        self.handed_to_h11 = 0  # answers that were not plain, framed by h11 (see _Connection)
        self._in_flight: set[_Connection] = set()
        self._sweep_handle: asyncio.TimerHandle | None = None
        # How often deadlines are checked: a timeout ends at most this late.
        self._sweep_every = max(0.001, min(0.1, self.timeout / 10))

    @property
    def transport_name(self) -> str:
        """``RawSender-http`` or ``RawSender-https`` (for benches and logs)."""
        return "RawSender-https" if self.tls else "RawSender-http"

    async def _connect(self, action: str) -> _Connection:
        if self._failure is not None:
            raise self._copy_failure(action)
        if self._verified:
            return await self._open(action)
        # Until one TLS connection has been set up, open them one at a time: a certificate
        # that cannot be verified then costs one handshake, and the others fail at once.
        if self._first is None:
            self._first = asyncio.Lock()
        async with self._first:
            if self._failure is not None:
                raise self._copy_failure(action)
            if self._verified:
                return await self._open(action)
            connection = await self._open(action)
            self._verified = True
            return connection

    def _copy_failure(self, action: str) -> TransportError:
        failure = self._failure
        assert failure is not None
        return TransportError(failure.message, code=failure.code, action=action)

    async def _open(self, action: str) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(min(self.timeout, 5.0)):
                if self._ssl is None:
                    _, protocol = await loop.create_connection(_Connection, self._host, self._port)
                else:
                    _, protocol = await loop.create_connection(
                        _Connection,
                        self._host,
                        self._port,
                        ssl=self._ssl,
                        server_hostname=self._host,
                        ssl_handshake_timeout=min(self.timeout, 5.0),
                    )
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) or not isinstance(exc, Exception):
                raise
            error = transport_error(exc, action, connecting=True)
            if error.code == SSL_ERROR:  # remembered: every later send fails at once, alike
                where = f"{self._host}:{self._port}"
                message = error.message.replace("certificate cannot", f"certificate of {where} cannot", 1)
                self._failure = TransportError(message, code=SSL_ERROR, action=action)
                raise self._copy_failure(action) from None
            raise error from None
        self.connections += 1
        return protocol

    def _reusable(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable():
                return connection
            self._drop(connection)  # closed by the server, or bytes it sent unasked
        return None

    async def send(self, prepared: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        """Send one signed request; return ``(status, headers, body)`` (header names lower-case).

        The framing (status line, headers, Content-Length, chunked and close-delimited
        bodies, 1xx answers, keep-alive) is llhttp's for plain answers and h11's (the parser
        under httpx) for all others, with httpx's outcome either way; bodies are
        decoded as httpx decodes them (gzip, deflate with or without zlib header).
        """
        action = prepared.action
        if self._closed:
            raise transport_error(ClosedError("the batch sender is closed"), action)
        url = prepared.url
        if not url.startswith(self._base):
            raise TransportError(f"{url!r} is not on {self._base!r}", code=INVALID_REQUEST, action=action)
        target = url[len(self._base) :] or "/"
        headers = prepared.headers
        if (not headers or headers[0][0] != "host") and all(name.lower() != "host" for name, _ in headers):
            headers = [("host", self._netloc), *headers]  # as httpx adds it
        body = prepared.body or b""
        connection = self._reusable()
        if connection is None:
            connection = await self._connect(action)
        handed = connection.handed_to_h11
        loop = asyncio.get_running_loop()
        connection.deadline = loop.time() + self.timeout
        connection.expired = False
        self._in_flight.add(connection)
        if self._sweep_handle is None:
            self._sweep_handle = loop.call_later(self._sweep_every, self._sweep)
        try:
            status, raw_headers, answer = await connection.exchange(target, headers, body, MAX_BODY_BYTES)
        except BaseException as exc:
            self._in_flight.discard(connection)
            self.handed_to_h11 += connection.handed_to_h11 - handed
            self._drop(connection)  # the connection's state is unknown: never reused
            if isinstance(exc, _TooLarge):
                raise InvalidResponseError(
                    f"the answer is larger than {MAX_BODY_BYTES} bytes ({exc.size}); refused",
                    code=RESPONSE_TOO_LARGE,
                    action=action,
                ) from None
            if isinstance(exc, TimeoutError):
                raise RequestTimeoutError(
                    f"the answer took longer than {self.timeout:g} s to arrive in full",
                    code=TIMEOUT,
                    action=action,
                ) from None
            if isinstance(exc, Exception):
                raise transport_error(exc, action) from None
            raise  # cancelled
        self._in_flight.discard(connection)
        self.handed_to_h11 += connection.handed_to_h11 - handed
        headers_out: dict[str, str] = {}
        encodings: list[str] = []
        for name, value in raw_headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers_out[key] = f"{headers_out[key]}, {text}" if key in headers_out else text
            if key == "content-encoding":
                encodings.extend(v.strip().lower() for v in text.split(","))
        if answer and any(e in ("gzip", "deflate") for e in encodings):
            try:
                answer = _decompress(answer, encodings, action)
            except IceError:
                self._drop(connection)  # as httpx: a body that cannot be decoded ends the connection
                raise
        if self._closed or not connection.next_cycle():
            self._drop(connection)
        else:
            self._idle.append(connection)
        return status, headers_out, answer

    def _sweep(self) -> None:
        """End the exchanges past their deadline; again in a moment while any is under way.

        One timer for the sender, not one per request: ``asyncio.timeout`` around each
        exchange (a Timeout object, a timer handle scheduled and cancelled) was 4-5% of the
        batch thread's CPU for a GetTranscodeJob (py-spy).
        """
        self._sweep_handle = None
        if not self._in_flight:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        for connection in self._in_flight:
            if connection.deadline <= now and not connection.expired:
                connection.expire()
        self._sweep_handle = loop.call_later(self._sweep_every, self._sweep)

    def _drop(self, connection: _Connection) -> None:
        """Close a connection; a TLS one is remembered until its shutdown is over."""
        waiter = connection.close()
        if self.tls and waiter is not None:
            self._closing.add(waiter)
            waiter.add_done_callback(self._closed_one)

    def _closed_one(self, waiter: asyncio.Future[None]) -> None:
        self._closing.discard(waiter)

    async def aclose(self) -> None:
        """Close every idle connection; later sends fail with ``ClientClosed``.

        TLS connections end with a close_notify exchange: it is awaited (at most 0.25 s in
        all), so that no connection is left half-closed when the event loop closes.
        """
        self._closed = True
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        idle, self._idle = self._idle, []
        for connection in idle:
            self._drop(connection)
        if self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.25):
                    await asyncio.gather(*self._closing, return_exceptions=True)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


# HTTP/1.1 grammar as h11 checks what it sends (h11/_abnf.py): a request written here is
# refused exactly when h11 would refuse it, with the same exception class.
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")
_TARGET = re.compile(rb"[\x21-\x7e]+")
# The status line's reason phrase as h11 reads it.
_REASON = re.compile(rb"(?:[ \t]|[^\x00\s])*")
_VCHARS = bytes(range(0x21, 0x7F))
_VALUE_BYTES = bytes(b for b in range(256) if b not in b"\x00\r\n\x0b\x0c")
_PLAIN_START = b"HTTP/1.1 "

_PARSING, _COMPLETE, _OFF = 0, 1, 2


class _NotPlain(Exception):
    """Raised inside an llhttp callback: this answer is left to h11."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: an asyncio protocol; answers framed by llhttp or by h11.

    Most answers are framed by llhttp (through :mod:`httptools`, the parser under uvicorn),
    and only when they are *plain*: status line ``HTTP/1.1`` with a status from 200 to 599
    other than 204 and 304, exactly one ``Content-Length`` of digits, no
    ``Transfer-Encoding``, a head under :attr:`MAX_HEAD`, all of it accepted by llhttp's
    strict mode. Every other answer (chunked or close-delimited bodies, 1xx answers,
    HTTP/1.0, duplicate or listed lengths, anything llhttp refuses, a connection closed or
    reset before the end) is handed to h11, the parser under httpx: the bytes received so
    far are replayed into an :class:`h11.Connection` that has seen the same request, and
    h11 decides, as it does for httpx. The connection then stays with h11. So every answer
    is read as httpx reads it (``tests/test_http_corpus.py`` holds both paths to httpx),
    and the common one costs a fraction: for a GetTranscodeJob answer of 4.5 KB, h11's
    framing of the exchange took 585,000 instructions (callgrind), 37% of the client's
    work per job; see :func:`_plain_request` for the request side.

    One difference from h11, on the safe side: bytes after a plain answer (a second answer
    nobody asked for) make the connection never reused, where h11 would keep them for the
    next request.

    Requests are written as h11 writes them (the same bytes, refused by the same grammar
    with the same exception), unless they carry their own framing headers: then h11 writes
    them.

    Owning the protocol (instead of asyncio streams) lets the sender see, without private
    attributes, whether an idle connection was closed or got bytes nobody asked for.
    """

    #: Largest status line + header block accepted (httpcore's limit).
    MAX_HEAD = 100 * 1024

    def __init__(self) -> None:
        self.h11: h11.Connection | None = None  # once set, h11 frames every later exchange
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._busy = False
        self._stray = False
        self._eof = False
        self._lost: BaseException | None = None
        self._closed: asyncio.Future[None] | None = None
        # the answer being read by llhttp
        self._state = _COMPLETE
        self._chunks: list[bytes] = []  # every byte of it, for a replay into h11
        self._received = 0
        self._head_done = False
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._parts: list[bytes] = []
        self._keep_alive = True
        self._limit = 0
        self._too_large = 0
        #: Answers framed by h11 on this connection (0 while every answer is plain).
        self.handed_to_h11 = 0
        self.deadline = 0.0  # loop time by which the exchange under way must be over
        self.expired = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if not self._busy:
            self._stray = True  # nobody asked: this connection is not reused
        if self.h11 is not None:
            self.h11.receive_data(data)
            self._wake()
            return
        if self._state == _OFF:
            self._chunks.append(data)  # for h11, which has not taken over yet
            return
        if self._state == _COMPLETE:
            self._stray = True  # bytes after the answer: never reused
            return
        self._chunks.append(data)
        self._received += len(data)
        try:
            self._parser.feed_data(data)
        except Exception:  # llhttp refused, or a callback found it not plain: h11 decides
            if self._state == _PARSING:
                self._state = _OFF
            else:
                self._stray = True  # bytes after the answer that are not even HTTP
        if self._state == _PARSING and not self._head_done and self._received > self.MAX_HEAD:
            self._state = _OFF
        if self._state != _PARSING:
            self._wake()

    def eof_received(self) -> bool:
        self._feed_eof()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self._eof:
            self._lost = exc
        self._feed_eof()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def _feed_eof(self) -> None:
        if not self._eof:
            self._eof = True
            if self.h11 is not None:
                with contextlib.suppress(RuntimeError):
                    self.h11.receive_data(b"")
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        """Wait for bytes, the end or a reset; TimeoutError once :meth:`expire` was called."""
        if self.expired:
            raise TimeoutError
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def expire(self) -> None:
        """The exchange's deadline has passed: its wait ends with TimeoutError."""
        self.expired = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(TimeoutError())

    # llhttp's callbacks (httptools)
    def on_message_begin(self) -> None:
        if self._state == _COMPLETE:
            self._stray = True  # a second answer in the bytes after the first: never reused

    def on_status(self, reason: bytes) -> None:
        if _REASON.fullmatch(reason) is None:
            raise _NotPlain

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value.rstrip(b" \t")))  # as h11 gives them

    def on_headers_complete(self) -> None:
        self._head_done = True
        parser = self._parser
        status = parser.get_status_code()
        if (
            parser.get_http_version() != "1.1"
            or not 200 <= status < 600
            or status in (204, 304)
            or not b"".join(self._chunks[:9]).startswith(_PLAIN_START)
        ):
            raise _NotPlain
        length = None
        for name, value in self._headers:
            if name == b"content-length":
                if length is not None or not value.isdigit() or not value.isascii() or len(value) > 20:
                    raise _NotPlain
                length = int(value)
            elif name == b"transfer-encoding":
                raise _NotPlain
            elif name == b"connection" and b"close" in (v.strip().lower() for v in value.split(b",")):
                self._keep_alive = False
        if length is None:
            raise _NotPlain
        self._status = status
        if length > self._limit:
            self._too_large = length
            self._state = _OFF
            raise _NotPlain

    def on_body(self, body: bytes) -> None:
        self._parts.append(body)

    def on_message_complete(self) -> None:
        self._state = _COMPLETE

    # the sender's side
    def reusable(self) -> bool:
        if self.transport is None or self.transport.is_closing() or self._eof or self._stray:
            return False
        if self.h11 is not None:
            return self.h11.our_state is h11.IDLE
        return self._state == _COMPLETE and self._keep_alive

    async def exchange(
        self, target: str, headers: list[tuple[str, str]], body: bytes, limit: int
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        transport = self.transport
        assert transport is not None
        self._busy = True
        wire = None if self.h11 is not None else _plain_request(target, headers, body)
        if wire is None:
            if self.h11 is None:
                self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=self.MAX_HEAD)
            transport.write(_h11_request(self.h11, target, headers, body))
            return await self._h11_answer(limit)
        self._state = _PARSING
        self._chunks = []
        self._received = 0
        self._head_done = False
        self._headers = []
        self._parts = []
        self._keep_alive = True
        self._limit = limit
        self._too_large = 0
        transport.write(wire)
        while self._state == _PARSING and not self._eof:
            await self._wait()
        if self._state == _COMPLETE:
            self._busy = False
            return self._status, self._headers, b"".join(self._parts)
        if self._too_large:
            raise _TooLarge(self._too_large)
        if self._lost is not None:  # reset before the answer was complete (as httpcore)
            raise self._lost
        # Not plain, refused by llhttp, or cut short: h11 reads the same bytes.
        self._state = _OFF
        conn = self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=self.MAX_HEAD)
        _h11_request(conn, target, headers, body)  # already on the wire: only h11's state
        conn.receive_data(b"".join(self._chunks))
        self._chunks = []
        if self._eof:
            conn.receive_data(b"")
        return await self._h11_answer(limit)

    async def _h11_answer(self, limit: int) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        conn = self.h11
        assert conn is not None
        self.handed_to_h11 += 1
        status = 0
        raw_headers: list[tuple[bytes, bytes]] = []
        parts: list[bytes] = []
        total = 0
        while True:
            event: Any = conn.next_event()
            if event is h11.NEED_DATA:
                if self._lost is not None:
                    raise self._lost
                await self._wait()
                if self._lost is not None:  # reset while the answer was incomplete (as httpcore)
                    raise self._lost
                continue
            if isinstance(event, h11.InformationalResponse):
                continue  # 100 Continue, 103 Early Hints: the answer follows
            if isinstance(event, h11.Response):
                status = event.status_code
                raw_headers = list(event.headers)
                for name, value in raw_headers:
                    if name == b"content-length" and int(value) > limit:
                        raise _TooLarge(int(value))
            elif isinstance(event, h11.Data):
                total += len(event.data)
                if total > limit:
                    raise _TooLarge(total)
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._busy = False
                return status, raw_headers, b"".join(parts)
            elif isinstance(event, h11.ConnectionClosed):
                if self._lost is not None:
                    raise self._lost
                raise h11.RemoteProtocolError("Server disconnected without sending a response.")

    def next_cycle(self) -> bool:
        """After a complete exchange: True when the connection can carry another request."""
        conn = self.h11
        if conn is None:
            return self._keep_alive and not self._stray and not self._eof
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE and not self._stray:
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return False
            return not self._eof
        return False

    def close(self) -> asyncio.Future[None] | None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        return self._closed


def _plain_request(target: str, headers: list[tuple[str, str]], body: bytes) -> bytes | None:
    """``POST target`` as h11 would write it, or None when h11 should (framing headers given).

    The same bytes as ``h11.Connection.send`` (``tests/test_batch_wire.py`` compares them):
    the request line, ``host`` first, the other headers in order, then ``content-length``
    and the body. Refused as h11 refuses (``UnicodeEncodeError`` for non-ASCII,
    ``h11.LocalProtocolError`` for a name, value or target outside HTTP's grammar). Written
    here because h11's event objects, state machine and writer cost 175,000 instructions for
    the 10 headers of a Get (callgrind): 103 us against 7 us here (timeit, this VM).
    """
    raw = target.encode("ascii")
    names = tuple([name for name, _ in headers])
    plain = _PLAIN_NAMES.get(names)
    if plain is None:
        plain = _plain_names(names)
    block = "".join([f"{name}: {value}\r\n" for name, value in headers]).encode("ascii")
    # h11's grammar, checked with C string operations: names by _plain_names; the target
    # visible characters only; values without NUL, CR, LF, VT or FF (the only ones left in
    # the block are its own line ends), nor spaces or tabs at either end. (One regular
    # expression over the block took 10 us, these 3 us.)
    if (
        not plain
        or not raw
        or raw.translate(None, _VCHARS)
        or block.translate(None, _VALUE_BYTES) != b"\r\n" * len(headers)
        or any(value != value.strip(" \t") for _, value in headers)
    ):
        _refuse(raw, headers)
        return None  # valid, but with framing headers or another host line: h11 writes it
    return b"".join([b"POST ", raw, b" HTTP/1.1\r\n", block, b"content-length: %d\r\n\r\n" % len(body), body])


_PLAIN_NAMES: dict[tuple[str, ...], bool] = {}


def _plain_names(names: tuple[str, ...]) -> bool:
    """Whether these header names can be written here: tokens, ``host`` first and only
    there, no framing or connection header (h11 writes those). Remembered per list of names
    (a client sends a handful of them)."""
    lower = [name.lower() for name in names]
    plain = (
        bool(names)
        and all(name.isascii() and _TOKEN.fullmatch(name.encode("ascii")) is not None for name in names)
        and lower[0] == "host"
        and "host" not in lower[1:]
        and not _FRAMING.intersection(lower)
    )
    if len(_PLAIN_NAMES) >= 256:
        _PLAIN_NAMES.clear()
    _PLAIN_NAMES[names] = plain
    return plain


_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "expect"})


def _refuse(raw_target: bytes, headers: list[tuple[str, str]]) -> None:
    """Raise h11's error for the first name, value or target it would refuse."""
    if _TARGET.fullmatch(raw_target) is None:
        raise h11.LocalProtocolError("Illegal target characters")
    for name, value in headers:
        n, v = name.encode("ascii"), value.encode("ascii")
        if _TOKEN.fullmatch(n) is None:
            raise h11.LocalProtocolError(f"Illegal header name {n!r}")
        if _FIELD_VALUE.fullmatch(v) is None:
            raise h11.LocalProtocolError(f"Illegal header value {v!r}")


def _h11_request(conn: h11.Connection, target: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    # h11 validates bytes exactly as it validates str, but given str it calls its bytesify
    # (a Python function and an encode) on every name and value: encoded here as it does.
    raw = [(name.encode("ascii"), value.encode("ascii")) for name, value in headers]
    if not any(name.lower() == b"content-length" for name, _ in raw):
        raw.append((b"content-length", b"%d" % len(body)))  # as httpx sends it
    out = [conn.send(h11.Request(method=b"POST", target=target.encode("ascii"), headers=raw))]
    if body:
        out.append(conn.send(h11.Data(data=body)))
    out.append(conn.send(h11.EndOfMessage()))
    return b"".join(x for x in out if x)


def default_ssl_context() -> ssl.SSLContext:
    """A client TLS context verifying servers exactly as httpx does by default.

    :func:`httpx.create_ssl_context` with ``verify=True, trust_env=True``: certifi's CA
    bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set; host names checked. ALPN
    offers ``http/1.1`` only, as httpx does without HTTP/2. Made once per process
    (:func:`~ice_widgets._wire.shared_ssl_context`).
    """
    return shared_ssl_context(alpn=True)


def _decompress(body: bytes, encodings: list[str], action: str) -> bytes:
    """Undo Content-Encoding as httpx does: each listed coding in reverse order; gzip;
    deflate with a zlib header, else raw; unknown codings are left alone."""
    out = body
    for encoding in reversed(encodings):
        if encoding not in ("gzip", "deflate"):
            continue
        try:
            if encoding == "gzip":
                decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
                out = decoder.decompress(out, MAX_BODY_BYTES + 1)
            else:
                try:
                    decoder = zlib.decompressobj()
                    out = decoder.decompress(out, MAX_BODY_BYTES + 1)
                except zlib.error:
                    decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                    out = decoder.decompress(out, MAX_BODY_BYTES + 1)
        except zlib.error as exc:
            raise transport_error(exc, action) from None
        if len(out) > MAX_BODY_BYTES:
            raise InvalidResponseError(
                f"the answer is larger than {MAX_BODY_BYTES} bytes once decompressed; refused",
                code=RESPONSE_TOO_LARGE,
                action=action,
            )
    return out


def _uses_default_transport(client: Any) -> bool:
    """Whether the client sends through httpx's own transport (no custom one was given)."""
    return getattr(client, "_transport", None) is None and getattr(client, "_sender", None) is None


def _proxied(endpoint: str) -> bool:
    """Whether the environment sends requests to ``endpoint`` through a proxy.

    As httpx reads it: ``HTTP_PROXY`` for ``http://``, ``HTTPS_PROXY`` for ``https://``,
    ``ALL_PROXY`` for both, unless ``NO_PROXY`` names the host.
    """
    import urllib.request

    parts = urlsplit(endpoint)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.netloc)


def _raw_capable(endpoint: str) -> bool:
    """Whether :class:`RawSender` may send to ``endpoint``: http(s) without a proxy."""
    return endpoint.startswith(("http://", "https://")) and not _proxied(endpoint)


class _Borrowed(httpx.AsyncBaseTransport):
    """Someone else's transport: used, never closed."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        return None


def _ssl_context_for(client: Any) -> ssl.SSLContext | None:
    """The TLS context the client's own httpx options ask for (None: httpx's default)."""
    options = client._httpx_options() if hasattr(client, "_httpx_options") else {}
    verify = options.get("verify", True)
    trust_env = options.get("trust_env", True)
    if (verify is True or verify is shared_ssl_context()) and trust_env:
        return None
    context = httpx.create_ssl_context(verify=verify, trust_env=trust_env)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _raw_sender_for(client: Any) -> RawSender:
    return RawSender(client.endpoint, client.timeout, ssl_context=_ssl_context_for(client))


def transport_name(client: Any) -> str:
    """How an AsyncClient made by :func:`async_client_for` sends: ``RawSender-http``,
    ``RawSender-https`` or ``httpx``."""
    sender = getattr(client, "_sender", None)
    if isinstance(sender, RawSender):
        return sender.transport_name
    return "httpx"


def async_client_for(client: Any) -> Any:
    """A new AsyncClient for a batch on the running loop (the caller closes it).

    - ``None``: an AsyncClient from the environment.
    - a :class:`~ice_widgets.Client` or AsyncClient: a twin sharing its endpoint,
      credentials, retry policy, ``stats`` and ``rate`` controller, with connections of its
      own bound to the running loop.

    Requests to an ``http://`` or ``https://`` endpoint reached without a proxy go through
    :class:`RawSender` (TLS verified as httpx verifies); proxied endpoints through httpx as
    usual; a client's custom transport is reused when it can send asynchronously (e.g.
    ``httpx.MockTransport``). :func:`transport_name` tells which.

    Raises
    ------
    TypeError
        If ``client`` is not a Client/AsyncClient, or its custom transport cannot send
        asynchronously (see :func:`sync_fetcher` for that case).
    CredentialsError
        If ``client`` is None and no credentials can be found.
    """
    from ice_widgets._client import AsyncClient, Client

    if client is None:
        fresh = AsyncClient()
        if not _raw_capable(fresh.endpoint):
            return fresh
        client = fresh  # its httpx client is never used: it holds no connection
    elif not isinstance(client, (Client, AsyncClient)):
        raise TypeError(f"client must be an ice_widgets Client or AsyncClient, not {type(client).__name__}")
    else:
        fresh = None
    if _uses_default_transport(client):
        if _raw_capable(client.endpoint):
            twin = client.copy(asynchronous=True, sender=_raw_sender_for(client))
        else:
            twin = client.copy(asynchronous=True)
    else:
        custom = client._transport
        if custom is None or not isinstance(custom, httpx.AsyncBaseTransport):
            raise TypeError("the client's custom transport cannot send asynchronously")
        twin = client.copy(asynchronous=True, transport=_Borrowed(custom))
    if isinstance(client, Client) or fresh is not None:
        twin._sleep = client._sleep if isinstance(client, AsyncClient) else asyncio.sleep
    return twin


def sync_client_for(client: Any) -> Any:
    """A sync :class:`~ice_widgets.Client` for ``list_jobs``: the client itself, a new one
    from the environment (``None``), or a twin of an AsyncClient sharing its credentials,
    ``stats`` and ``rate``. The caller closes it unless it is ``client`` itself."""
    from ice_widgets._client import AsyncClient, Client

    if client is None:
        return Client()
    if isinstance(client, Client):
        return client
    if not isinstance(client, AsyncClient):
        raise TypeError(f"client must be an ice_widgets Client or AsyncClient, not {type(client).__name__}")
    transport = None
    if not _uses_default_transport(client):
        custom = client._transport
        if not isinstance(custom, httpx.BaseTransport):
            raise TypeError("the AsyncClient's custom transport cannot send synchronously; pass a Client")
        transport = custom
    return client.copy(asynchronous=False, transport=transport)


# --------------------------------------------------------------------------- the engine


class BatchProgress:
    """Counters of one batch, written by the engine and read by whoever shows progress.

    Plain attributes: ``total`` (rows), ``done`` (rows finished, cached and invalid ones
    included), ``errors`` (error rows), ``in_flight`` (requests being made now) and
    ``max_in_flight``.
    """

    __slots__ = ("cached", "done", "errors", "in_flight", "max_in_flight", "started", "total")

    def __init__(self, total: int = 0) -> None:
        self.total = total
        self.done = 0
        self.errors = 0
        self.cached = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.started = time.monotonic()


async def run_batch(
    job_ids: Iterable[str],
    fetch_one: Callable[[str], Awaitable[Job]],
    *,
    concurrency: int,
    progress: BatchProgress | None = None,
    on_result: Callable[[str, Record], None] | None = None,
    passes: int = 2,
    collect: bool = True,
) -> dict[str, Record]:
    """Fetch every ID with ``concurrency`` worker coroutines pulling from one iterator.

    Per-job errors become :class:`JobError` results. An ID whose request still failed with
    a transient error (throttling, server error, transport failure) after the client's own
    retries is tried again in a later pass (``passes`` in all), after every other ID: a
    batch of 10,000 IDs against a service failing 20% of requests at random then loses no
    row (0.2**7 per job with the client's 6 retries, over 10,000 jobs, is a 12% chance of
    at least one error row per batch; with a second pass it is negligible).

    A batch-fatal error (``AuthenticationError`` and its ``ClockSkewError``,
    ``CredentialsError``, a ``TransportError`` with code ``SSLError``: the server's
    certificate cannot be verified) cancels the other workers and is raised as itself. Cancelling
    the caller cancels every request.

    Returns
    -------
    dict
        ``{job_id: job or JobError}`` for every ID; empty with ``collect=False``
        (then ``on_result`` is the only consumer and nothing is kept here).
    """
    progress = progress or BatchProgress()
    results: dict[str, Record] = {}
    ids: Iterator[str] = iter(job_ids)
    again: list[str] = []
    last_pass = passes <= 1

    async def worker() -> None:
        for job_id in ids:  # the shared iterator: each ID is taken by exactly one worker
            progress.in_flight += 1
            if progress.in_flight > progress.max_in_flight:
                progress.max_in_flight = progress.in_flight
            try:
                record: Record = await fetch_one(job_id)
            except IceError as error:
                if is_fatal(error):
                    raise
                if not last_pass and is_retryable(error):
                    again.append(job_id)
                    continue
                record = error_row(job_id, error)
            except Exception as error:  # a bug must not lose the other rows
                logger.warning("ice_widgets: fetching %s failed unexpectedly", job_id, exc_info=True)
                record = error_row(job_id, error)
            finally:
                progress.in_flight -= 1
            if isinstance(record, JobError):
                progress.errors += 1
            progress.done += 1
            if collect:
                results[job_id] = record
            if on_result is not None:
                on_result(job_id, record)

    for number in range(1, max(passes, 1) + 1):
        last_pass = number >= passes
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(concurrency):
                    group.create_task(worker())
        except BaseExceptionGroup as group_error:
            fatal = group_error.subgroup(is_fatal)
            chosen = fatal.exceptions[0] if fatal is not None else group_error.exceptions[0]
            while isinstance(chosen, BaseExceptionGroup):
                chosen = chosen.exceptions[0]
            raise chosen from None
        if not again:
            break
        logger.info("ice_widgets: trying %d IDs again after transient failures", len(again))
        ids, again = iter(list(again)), []
    return results


def getter(client: Any, kind: str) -> Callable[[str], Any]:
    """The client's Get method of a job kind (``get_package_job``, ``get_transcode_job``...).

    Raises
    ------
    ValueError
        For an unknown kind.
    """
    from ice_widgets._models import KINDS

    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}: use one of {', '.join(KINDS)}")
    method: Callable[[str], Any] = getattr(client, f"get_{kind}_job")
    return method


def sync_fetcher(
    client: Any, workers: int, kind_of: Callable[[str], str] | None = None
) -> tuple[Callable[[str], Awaitable[Job]], Callable[[], None]]:
    """``(fetch_one, close)`` calling a sync client in a private thread pool.

    ``kind_of(job_id)`` names each job's kind (default: packaging). Only for clients whose
    custom transport cannot send asynchronously (tests).
    """
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ice-fetch")

    async def fetch_one(job_id: str) -> Job:
        loop = asyncio.get_running_loop()
        get = getter(client, kind_of(job_id) if kind_of is not None else "package")
        job: Job = await loop.run_in_executor(pool, get, job_id)
        return job

    def close() -> None:
        pool.shutdown(wait=True, cancel_futures=True)

    return fetch_one, close


# --------------------------------------------------------------------------- running


def run_sync(
    make_coro: Callable[[], Coroutine[Any, Any, T]],
    *,
    tick: Callable[[], None] | None = None,
    interval: float = 0.1,
    name: str = "ice-widgets-batch",
) -> T:
    """Run ``make_coro()`` on a private event loop in a worker thread; return its result.

    The calling thread waits in joins of ``interval`` seconds and calls ``tick`` between
    them (progress bars are drawn there, never from the worker thread). On
    KeyboardInterrupt the coroutine is cancelled, the thread is joined (its requests are
    cancelled at once) and the KeyboardInterrupt is raised. Works whether or not an event
    loop is running in the calling thread.
    """
    loop = asyncio.new_event_loop()
    box: dict[str, Any] = {}
    started = threading.Event()
    finished = threading.Event()

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            task = loop.create_task(make_coro())
            box["task"] = task
            started.set()
            box["result"] = loop.run_until_complete(task)
        except BaseException as exc:
            box["error"] = exc
        finally:
            started.set()
            try:
                _cancel_all(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
                finished.set()

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    # Wait on an Event, not in Thread.join: a KeyboardInterrupt inside join() makes Python
    # 3.11 mark the still-running thread as stopped (bpo-45274), after which it cannot be
    # joined any more.
    try:
        while not finished.wait(interval):
            if tick is not None:
                tick()
        if tick is not None:
            tick()
    except KeyboardInterrupt:
        _interrupt(loop, box, started, finished)
        thread.join(1.0)
        raise
    thread.join()
    if "error" in box:
        error = box.pop("error")
        raise error
    result: T = box["result"]
    return result


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _interrupt(
    loop: asyncio.AbstractEventLoop,
    box: dict[str, Any],
    started: threading.Event,
    finished: threading.Event,
) -> None:
    """Cancel the batch and wait (up to 10 s, even through more Ctrl-C) until its loop closed."""
    deadline = time.monotonic() + 10.0
    requested = False
    while not finished.is_set() and time.monotonic() < deadline:
        try:
            if not requested and started.is_set():
                task = box.get("task")
                if task is not None:
                    with contextlib.suppress(RuntimeError):  # the loop has just closed
                        loop.call_soon_threadsafe(task.cancel)
                requested = True
            finished.wait(0.05)
        except KeyboardInterrupt:
            continue
    if not finished.is_set():  # pragma: no cover - a request that ignores cancellation
        logger.warning("ice_widgets: the batch thread did not stop within 10 s")
