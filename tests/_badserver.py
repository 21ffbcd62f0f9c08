"""A scripted misbehaving HTTP server for adversarial client tests.

``BadServer(mode)`` listens on 127.0.0.1 (any free port) on its own thread and event
loop, reads real HTTP/1.1 requests and answers each one with the misbehaviour named by
``mode`` (see ``MODES``). It records every request it receives (method, target, query,
headers) so that tests can count attempts and check what was sent.

Nothing here trusts the client: the server parses only the request line, the headers and
a Content-Length body, and every loop it runs (trickling, repeating pages) is bounded and
stops when the server is closed.

The redirect mode answers ``301`` with a ``Location`` on a second listener (``other``),
reached through the host name ``localhost`` instead of ``127.0.0.1``: a different host
for any HTTP client, yet still only the loopback interface. ``other.requests`` shows
whether anything (and in particular a signature) was ever sent there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["MODES", "BadServer", "Request"]


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.monotonic)

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    @property
    def action(self) -> str | None:
        return self.headers.get("x-acs-action") or self.query.get("Action")

    @property
    def raw(self) -> str:
        """Everything the client sent, as text (for secret scans)."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.method} {self.target}\n{head}\n\n{self.body.decode('utf-8', 'replace')}"


Writer = asyncio.StreamWriter
Behaviour = Callable[["BadServer", Request, Writer], Awaitable[bool]]


def _job(job_id: str, **extra: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "JobId": job_id,
        "Name": f"job-{job_id[:6]}",
        "TriggerSource": "API",
        "Inputs": [{"Input": {"Type": "OSS", "Media": "oss://bucket/in.mp4"}}],
        "Output": {"Type": "OSS", "Media": "oss://bucket/out/"},
        "OutputUrl": "https://bucket.oss-cn-shanghai.aliyuncs.com/out/index.m3u8",
        "PipelineId": "pipeline-1",
        "Priority": 6,
        "Status": "Success",
        "Code": "",
        "Message": "",
        "SubmitTime": "2026-01-01T00:00:00Z",
        "FinishTime": "2026-01-01T00:05:00Z",
        "CreateTime": "2026-01-01T00:00:00Z",
        "ModifiedTime": "2026-01-01T00:05:00Z",
        "UserData": "",
    }
    job.update(extra)
    return job


def _head(status: int, reason: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(
    writer: Writer,
    status: int,
    body: bytes,
    *,
    reason: str = "OK",
    content_type: str = "application/json;charset=utf-8",
    headers: dict[str, str] | None = None,
) -> bool:
    all_headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    all_headers.update(headers or {})
    writer.write(_head(status, reason, all_headers) + body)
    await writer.drain()
    return True  # keep the connection open


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


# ---- behaviours: each answers one request; returning False closes the connection ------------


async def ok(server: BadServer, req: Request, writer: Writer) -> bool:
    """A correct answer (the control case)."""
    action = req.action
    if action == "ListPackageJobs":
        page = {"NextPageToken": "", "PackageJobs": [_job(f"{i:032x}") for i in range(3)]}
        return await _send(writer, 200, _json({"RequestId": _request_id(), "PackageJobList": page}))
    job_id = req.query.get("JobId", "")
    return await _send(writer, 200, _json({"RequestId": _request_id(), "PackageJob": _job(job_id)}))


async def error_200(server: BadServer, req: Request, writer: Writer) -> bool:
    """HTTP 200 whose body is an error (Code, Message), not a job."""
    body = {
        "RequestId": _request_id(),
        "HostId": "ice.cn-shanghai.aliyuncs.com",
        "Code": "InvalidParameter.Weird",
        "Message": "an error body under HTTP 200",
        "Recommend": "https://api.aliyun.com/troubleshoot",
    }
    return await _send(writer, 200, _json(body))


async def error_200_retryable(server: BadServer, req: Request, writer: Writer) -> bool:
    """HTTP 200 whose body is a retryable error (InternalError)."""
    body = {"RequestId": _request_id(), "Code": "InternalError", "Message": "boom, under HTTP 200"}
    return await _send(writer, 200, _json(body))


async def api_error(server: BadServer, req: Request, writer: Writer) -> bool:
    """The error ``server.error_code`` with HTTP ``server.error_status`` (auth, STS, clock codes)."""
    body = {
        "RequestId": _request_id(),
        "HostId": "ice.cn-shanghai.aliyuncs.com",
        "Code": server.error_code,
        "Message": f"Specified {server.error_code} is not valid.",
        "Recommend": "https://api.aliyun.com/troubleshoot",
    }
    return await _send(writer, server.error_status, _json(body), reason="Error")


async def no_job(server: BadServer, req: Request, writer: Writer) -> bool:
    """HTTP 200 with valid JSON that has neither a job nor an error code."""
    return await _send(writer, 200, _json({"RequestId": _request_id()}))


async def html(server: BadServer, req: Request, writer: Writer) -> bool:
    """An HTML page (a captive portal, a load balancer error page) instead of JSON."""
    body = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
    return await _send(writer, 200, body, content_type="text/html")


async def empty(server: BadServer, req: Request, writer: Writer) -> bool:
    """HTTP 200 with an empty body."""
    return await _send(writer, 200, b"")


async def huge_garbage(server: BadServer, req: Request, writer: Writer) -> bool:
    """A 1 MB body that is not JSON."""
    return await _send(writer, 200, b"x" * (1024 * 1024), content_type="application/json")


async def huge_json(server: BadServer, req: Request, writer: Writer) -> bool:
    """A valid answer for the right job, padded to 1 MB by a long Message."""
    job_id = req.query.get("JobId", "")
    job = _job(job_id, Status="Fail", Code="Big", Message="m" * (1024 * 1024))
    return await _send(writer, 200, _json({"RequestId": _request_id(), "PackageJob": job}))


async def wrong_id(server: BadServer, req: Request, writer: Writer) -> bool:
    """A well-formed PackageJob, but for another JobId than the one asked for."""
    job_id = req.query.get("JobId", "")
    other = "f" * 32 if job_id != "f" * 32 else "e" * 32
    return await _send(writer, 200, _json({"RequestId": _request_id(), "PackageJob": _job(other)}))


async def repeat_token(server: BadServer, req: Request, writer: Writer) -> bool:
    """ListPackageJobs: the same page and the same NextPageToken, forever."""
    page = {"NextPageToken": "same-token-again", "PackageJobs": [_job("a" * 32), _job("b" * 32)]}
    return await _send(writer, 200, _json({"RequestId": _request_id(), "PackageJobList": page}))


async def cycle_token(server: BadServer, req: Request, writer: Writer) -> bool:
    """ListPackageJobs: tokens t1 -> t2 -> t1 -> ... (a cycle, not a plain repeat), new jobs each page."""
    token = req.query.get("NextPageToken", "")
    nxt = "t2" if token == "t1" else "t1"
    n = next(server.counter)
    page = {"NextPageToken": nxt, "PackageJobs": [_job(f"{n:032x}")]}
    return await _send(writer, 200, _json({"RequestId": _request_id(), "PackageJobList": page}))


async def redirect(server: BadServer, req: Request, writer: Writer) -> bool:
    """301 to the same path on another host (the ``other`` listener, via ``localhost``)."""
    assert server.other is not None
    location = f"http://localhost:{server.other.port}{req.target}"
    return await _send(writer, 301, b"", reason="Moved Permanently", headers={"Location": location})


async def redirect_same_host(server: BadServer, req: Request, writer: Writer) -> bool:
    """307 to the same host and path: even this is not the API's behaviour."""
    location = f"http://127.0.0.1:{server.port}{req.target}"
    return await _send(writer, 307, b"", reason="Temporary Redirect", headers={"Location": location})


async def silent(server: BadServer, req: Request, writer: Writer) -> bool:
    """Read the request, then never answer (until the server closes)."""
    await server.wait_closed_or(server.max_stall)
    return False


async def headers_then_nothing(server: BadServer, req: Request, writer: Writer) -> bool:
    """Status line and headers promising a body, then nothing."""
    writer.write(_head(200, "OK", {"Content-Type": "application/json", "Content-Length": "5000"}))
    writer.write(b'{"RequestId":"')
    await writer.drain()
    await server.wait_closed_or(server.max_stall)
    return False


async def trickle(server: BadServer, req: Request, writer: Writer) -> bool:
    """Headers, then one byte of a never-ending chunked body every ``trickle_interval`` s.

    Each byte arrives well within any per-read timeout, so only an overall deadline
    stops a client from waiting for as long as the server cares to trickle.
    """
    writer.write(_head(200, "OK", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
    writer.write(b'1\r\n{\r\n1\r\n"\r\n')
    await writer.drain()
    deadline = time.monotonic() + server.max_stall
    while time.monotonic() < deadline and not server.closing.is_set():
        writer.write(b"1\r\na\r\n")
        await writer.drain()
        await server.wait_closed_or(server.trickle_interval)
    return False


async def drop(server: BadServer, req: Request, writer: Writer) -> bool:
    """Close the connection without answering."""
    return False


async def truncated(server: BadServer, req: Request, writer: Writer) -> bool:
    """Headers announce the full body, half of it is sent, then the connection closes."""
    job_id = req.query.get("JobId", "")
    body = _json({"RequestId": _request_id(), "PackageJob": _job(job_id)})
    writer.write(_head(200, "OK", {"Content-Type": "application/json", "Content-Length": str(len(body))}))
    writer.write(body[: len(body) // 2])
    await writer.drain()
    return False


MODES: dict[str, Behaviour] = {
    fn.__name__: fn
    for fn in (
        ok,
        error_200,
        error_200_retryable,
        api_error,
        no_job,
        html,
        empty,
        huge_garbage,
        huge_json,
        wrong_id,
        repeat_token,
        cycle_token,
        redirect,
        redirect_same_host,
        silent,
        headers_then_nothing,
        trickle,
        drop,
        truncated,
    )
}


class BadServer:
    """A raw HTTP/1.1 server on 127.0.0.1 that answers every request with one misbehaviour.

    Parameters
    ----------
    mode : str
        A key of ``MODES``; may be changed later through ``server.mode``.
    max_stall : float
        The longest a stalling behaviour (silent, trickle, ...) keeps a connection open.
    trickle_interval : float
        Seconds between two bytes in the ``trickle`` mode.

    Use as a context manager: ``with BadServer("html") as srv: srv.endpoint``.
    """

    def __init__(self, mode: str = "ok", *, max_stall: float = 60.0, trickle_interval: float = 0.1) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; known: {sorted(MODES)}")
        self.mode = mode
        self.max_stall = max_stall
        self.trickle_interval = trickle_interval
        self.error_code = "InvalidSecurityToken.Expired"
        self.error_status = 400
        self.requests: list[Request] = []
        self.connections = 0
        self.counter = itertools.count()
        self.other: BadServer | None = None
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self.closing: asyncio.Event

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BadServer:
        if self.mode in {"redirect"} and self.other is None:
            self.other = BadServer("ok").start()
        self._thread = threading.Thread(target=self._run, name=f"badserver-{self.mode}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("bad server did not start")
        return self

    def close(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self.closing.set)
            self._thread.join(10)
        if self.other is not None:
            self.other.close()

    def __enter__(self) -> BadServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    # ---- server ------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self.closing = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        tasks: set[asyncio.Task[Any]] = set()
        self._tasks = tasks
        await self.closing.wait()
        self._server.close()
        for task in list(tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def wait_closed_or(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    async def _handle(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections += 1
        try:
            while not self.closing.is_set():
                req = await self._read_request(reader)
                if req is None:
                    break
                with self._lock:
                    self.requests.append(req)
                keep = await MODES[self.mode](self, req, writer)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) < 2:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        return Request(parts[0], parts[1], headers, body)
