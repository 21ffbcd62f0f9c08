"""The batch engine behind ``fetch_jobs``: bounded, adaptive, interruptible.

Concurrency model (chosen by measurement, see ``bench/bench_fetch.py``): asyncio. A fixed
number of worker coroutines pull job IDs from one shared iterator, so 50,000 IDs never
mean 50,000 tasks or futures, and never more than ``concurrency`` requests in flight. The
send rate is the client's shared :class:`~ice_widgets._core.AdaptiveRate` (AIMD): on
throttling it backs off and converges on the account's limit.

Requests go through an :class:`~ice_widgets.AsyncClient` (its signing, parsing, retry
policy, ``stats`` and ``rate``). For ``http://`` and ``https://`` endpoints reached without
a proxy (the emulator, every real ICE endpoint) its ``_send`` is :class:`RawSender`,
HTTP/1.1 keep-alive on asyncio streams (over TLS verified exactly as httpx verifies):
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
import ssl
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from ice_widgets._core import MAX_BODY_BYTES, PreparedRequest, is_retryable
from ice_widgets._errors import (
    AuthenticationError,
    CredentialsError,
    IceError,
    InvalidResponseError,
    RequestTimeoutError,
    TransportError,
)
from ice_widgets._ids import error_row, parse_ids
from ice_widgets._models import Job, JobError

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
FATAL_TRANSPORT_CODES = frozenset({"SSLError"})


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
    """Sends the client's signed requests over HTTP/1.1 keep-alive connections, without httpx.

    A stand-in for ``AsyncClient._send`` on endpoints reached without a proxy (the
    emulator, ``https://ice.<region>.aliyuncs.com``): it writes the
    :class:`~ice_widgets._core.PreparedRequest` as it was signed and reads the answer with
    asyncio streams, over TLS for ``https://``. Measured on the emulator this costs about a
    third of the CPU of httpx's AsyncClient per request. It does only what ICE calls need:
    ``POST`` without a body, answers with ``Content-Length``, chunked or close-delimited
    bodies, gzip/deflate; no proxies (those stay on httpx).

    TLS is verified as httpx verifies by default: :func:`httpx.create_ssl_context` (certifi's
    CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), certificate chain and host
    name checked, ALPN ``http/1.1``. A certificate that cannot be verified raises
    ``TransportError`` with code ``SSLError``, never retried and fatal for a batch; the first
    connection is opened alone, so a bad certificate costs one handshake, not one per
    worker, and later sends fail at once with the same error.

    Failures raise the same errors, with the same codes, as the client's httpx path, so the
    client's retry policy treats them alike: ``ConnectionError``, ``Timeout``,
    ``IncompleteResponse``, ``ResponseTooLarge``. A connection is closed, never reused,
    when an exchange on it fails or is cancelled; a request is never re-sent here (the
    server may have seen its nonce): the client retries with a freshly signed one.

    Parameters
    ----------
    endpoint : str
        ``http://host[:port]`` or ``https://host[:port]``.
    timeout : float
        Seconds for a whole exchange (connecting, TLS handshake included, is capped at 5 s).
    ssl_context : ssl.SSLContext, optional
        For ``https://``: the client context to verify the server with (default: httpx's).
    """

    def __init__(self, endpoint: str, timeout: float, *, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"RawSender needs an http:// or https:// endpoint, not {endpoint!r}")
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._host = parts.hostname
        self.tls = parts.scheme == "https"
        self._port = parts.port or (443 if self.tls else 80)
        self._ssl: ssl.SSLContext | None = None
        if self.tls:
            self._ssl = ssl_context if ssl_context is not None else default_ssl_context()
        self.timeout = float(timeout)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._closed = False
        self._verified = not self.tls  # a TLS connection has been set up once
        self._first: asyncio.Lock | None = None
        self._failure: TransportError | None = None  # the certificate failure, once seen
        self._closing: set[asyncio.Future[None]] = set()  # TLS shutdowns under way
        self.connections = 0  # connections opened (TLS: handshakes completed)

    @property
    def transport_name(self) -> str:
        """``RawSender-http`` or ``RawSender-https`` (for benches and logs)."""
        return "RawSender-https" if self.tls else "RawSender-http"

    async def _connect(self, action: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
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

    async def _open(self, action: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        where = f"{self._host}:{self._port}"
        try:
            async with asyncio.timeout(min(self.timeout, 5.0)):
                if self._ssl is None:
                    connection = await asyncio.open_connection(self._host, self._port, limit=2**20)
                else:
                    connection = await asyncio.open_connection(
                        self._host,
                        self._port,
                        limit=2**20,
                        ssl=self._ssl,
                        server_hostname=self._host,
                        ssl_handshake_timeout=min(self.timeout, 5.0),
                    )
        except TimeoutError:
            raise RequestTimeoutError(
                f"ConnectTimeout: connecting to {where} timed out", code="Timeout", action=action
            ) from None
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or exc.reason or str(exc)
            self._failure = TransportError(
                f"the TLS certificate of {where} cannot be verified: {reason} "
                "(trusted CAs: certifi, or SSL_CERT_FILE / SSL_CERT_DIR when set)",
                code="SSLError",
                action=action,
            )
            raise self._copy_failure(action) from None
        except OSError as exc:  # refused, unreachable, reset during the handshake, ssl.SSLError
            raise TransportError(
                f"ConnectError: {type(exc).__name__}: {exc}", code="ConnectionError", action=action
            ) from None
        self.connections += 1
        return connection

    def _reusable(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        while self._idle:
            reader, writer = self._idle.pop()
            stray = bool(getattr(reader, "_buffer", b""))  # bytes the server sent unasked
            if reader.at_eof() or writer.is_closing() or stray:
                self._drop(writer)  # closed by the server, or stray bytes: not reusable
                continue
            return reader, writer
        return None

    async def send(self, prepared: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        """Send one signed request; return ``(status, headers, body)`` (header names lower-case)."""
        action = prepared.action
        if self._closed:
            raise TransportError("the connection pool is closed", code="ConnectionError", action=action)
        url = prepared.url
        if not url.startswith(self._base):
            raise TransportError(f"{url!r} is not on {self._base!r}", code="ConnectionError", action=action)
        target = url[len(self._base) :] or "/"
        lines = [f"POST {target} HTTP/1.1\r\n"]
        lines.extend(f"{name}: {value}\r\n" for name, value in prepared.headers)
        lines.append("content-length: 0\r\n\r\n")
        try:
            payload = "".join(lines).encode("ascii")
        except UnicodeEncodeError:
            payload = "".join(lines).encode("utf-8")
        connection = self._reusable()
        reader, writer = connection if connection is not None else await self._connect(action)
        try:
            async with asyncio.timeout(self.timeout):
                writer.write(payload)
                head = await reader.readuntil(b"\r\n\r\n")
                status, raw_headers, length, chunked, close = _parse_head(head)
                if status in (204, 304) or 100 <= status < 200:
                    body = b""
                elif chunked:
                    body = await _read_chunked(reader, MAX_BODY_BYTES)
                elif length is not None:
                    if length > MAX_BODY_BYTES:
                        raise _TooLarge(length)
                    body = await reader.readexactly(length) if length else b""
                else:
                    body = await reader.read(MAX_BODY_BYTES + 1)
                    if len(body) > MAX_BODY_BYTES:
                        raise _TooLarge(len(body))
                    close = True
        except TimeoutError:
            self._drop(writer)
            raise RequestTimeoutError(
                f"the answer took longer than {self.timeout:g} s to arrive in full",
                code="Timeout",
                action=action,
            ) from None
        except _TooLarge as exc:
            self._drop(writer)
            raise InvalidResponseError(
                f"the answer is larger than {MAX_BODY_BYTES} bytes ({exc.size}); refused",
                code="ResponseTooLarge",
                action=action,
            ) from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self._drop(writer)
            raise InvalidResponseError(
                f"RemoteProtocolError: {type(exc).__name__}: {exc}", code="IncompleteResponse", action=action
            ) from None
        except OSError as exc:  # reset, broken pipe
            self._drop(writer)
            raise TransportError(
                f"ReadError: {type(exc).__name__}: {exc}", code="ConnectionError", action=action
            ) from None
        except BaseException:  # cancelled: the connection's state is unknown
            self._drop(writer)
            raise
        if close or self._closed:
            self._drop(writer)
        else:
            self._idle.append((reader, writer))
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw_headers}
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "deflate") and body:
            body = _decompress(body, encoding, action)
        return status, headers, body

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        """Close a connection; a TLS one is remembered until its shutdown is over."""
        writer.close()
        if self.tls:
            waiter = asyncio.ensure_future(writer.wait_closed())
            self._closing.add(waiter)
            waiter.add_done_callback(self._closed_one)

    def _closed_one(self, waiter: asyncio.Future[None]) -> None:
        self._closing.discard(waiter)
        if not waiter.cancelled():
            waiter.exception()  # retrieved: a reset during the shutdown is no news

    async def aclose(self) -> None:
        """Close every idle connection; later sends fail.

        TLS connections end with a close_notify exchange: it is awaited (at most 0.25 s in
        all), so that no connection is left half-closed when the event loop closes.
        """
        self._closed = True
        idle, self._idle = self._idle, []
        for _, writer in idle:
            self._drop(writer)
        if self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.25):
                    await asyncio.gather(*self._closing, return_exceptions=True)


def default_ssl_context() -> ssl.SSLContext:
    """A client TLS context verifying servers exactly as httpx does by default.

    :func:`httpx.create_ssl_context` with ``verify=True, trust_env=True``: certifi's CA
    bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set; host names checked. ALPN
    offers ``http/1.1`` only, as httpx does without HTTP/2.
    """
    context = httpx.create_ssl_context(verify=True, trust_env=True)
    context.set_alpn_protocols(["http/1.1"])
    return context


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _decompress(body: bytes, encoding: str, action: str) -> bytes:
    decoder = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        out = decoder.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise InvalidResponseError(
            f"DecodingError: {exc}", code="IncompleteResponse", action=action
        ) from None
    if len(out) > MAX_BODY_BYTES:
        raise InvalidResponseError(
            f"the answer is larger than {MAX_BODY_BYTES} bytes once decompressed; refused",
            code="ResponseTooLarge",
            action=action,
        )
    return out


def _parse_head(head: bytes) -> tuple[int, list[tuple[bytes, bytes]], int | None, bool, bool]:
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError(f"bad status line {lines[0][:80]!r}")
    status = int(parts[1])
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    close = parts[0] == b"HTTP/1.0"
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError(f"bad header line {line[:80]!r}")
        name = name.strip()
        value = value.strip()
        headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length":
            length = int(value)
            if length < 0:
                raise ValueError("negative Content-Length")
        elif lowered == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif lowered == b"connection":
            token = value.lower()
            if b"close" in token:
                close = True
            elif b"keep-alive" in token:
                close = False
    if chunked:
        length = None
    return status, headers, length, chunked, close


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        total += size
        if total > limit:
            raise _TooLarge(total)
        chunk = await reader.readexactly(size + 2)
        parts.append(chunk[:-2])


class _RawHttp:
    """Stands in for ``AsyncClient._http`` when :class:`RawSender` sends: only ``aclose``."""

    def __init__(self, sender: RawSender) -> None:
        self._sender = sender

    async def aclose(self) -> None:
        await self._sender.aclose()


def _uses_default_transport(http: Any) -> bool:
    return type(getattr(http, "_transport", None)) in (httpx.HTTPTransport, httpx.AsyncHTTPTransport)


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
    if verify is True and trust_env:
        return None
    context = httpx.create_ssl_context(verify=verify, trust_env=trust_env)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _use_raw(twin: Any) -> RawSender:
    sender = RawSender(twin.endpoint, twin.timeout, ssl_context=_ssl_context_for(twin))
    twin._send = sender.send  # an instance attribute: shadows AsyncClient._send
    twin._http = _RawHttp(sender)
    return sender


def transport_name(client: Any) -> str:
    """How an AsyncClient made by :func:`async_client_for` sends: ``RawSender-http``,
    ``RawSender-https`` or ``httpx``."""
    http = getattr(client, "_http", None)
    if isinstance(http, _RawHttp):
        return http._sender.transport_name
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
        if _raw_capable(fresh.endpoint):
            _use_raw(fresh)  # its httpx client was never used: it holds no connection
        return fresh
    if not isinstance(client, (Client, AsyncClient)):
        raise TypeError(f"client must be an ice_widgets Client or AsyncClient, not {type(client).__name__}")
    twin = AsyncClient.__new__(AsyncClient)
    twin.__dict__.update({k: v for k, v in vars(client).items() if k not in ("_http", "_sleep", "_send")})
    twin._sleep = client._sleep if isinstance(client, AsyncClient) else asyncio.sleep
    if _uses_default_transport(client._http):
        if _raw_capable(client.endpoint):
            _use_raw(twin)
        else:
            twin._http = httpx.AsyncClient(**client._httpx_options())
        return twin
    custom = getattr(client._http, "_transport", None)
    if not isinstance(custom, httpx.AsyncBaseTransport):
        raise TypeError("the client's custom transport cannot send asynchronously")
    twin._http = httpx.AsyncClient(transport=_Borrowed(custom), **client._httpx_options())
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
    custom = getattr(client._http, "_transport", None)
    transport = None
    if not _uses_default_transport(client._http):
        if not isinstance(custom, httpx.BaseTransport):
            raise TypeError("the AsyncClient's custom transport cannot send synchronously; pass a Client")
        transport = custom
    twin = Client.__new__(Client)
    twin.__dict__.update({k: v for k, v in vars(client).items() if k not in ("_http", "_sleep")})
    twin._http = httpx.Client(transport=transport, **client._httpx_options())
    twin._sleep = time.sleep
    return twin


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
