"""Differential corpus: the batch sender and the client's httpx path, fed the same bytes.

A local raw-socket server (asyncio, 127.0.0.1) answers the first request of each case with
scripted bytes, written in the TCP segments listed (with pauses between them so that they
arrive apart), then answers any later request on the same connection with a plain 200
(``again``) unless the case closed the connection. The same case is run through the batch
sender (:class:`ice_widgets._batch.RawSender`) and through ``AsyncClient._send`` (httpx),
each sending two requests: the results must be equal: the same status and body, or both
the same error class and code; and the same keep-alive behaviour (connections opened).
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import zlib
from dataclasses import dataclass
from typing import Any

import pytest

from ice_widgets._batch import RawSender
from ice_widgets._client import AsyncClient
from ice_widgets._core import MAX_BODY_BYTES, PreparedRequest
from ice_widgets._errors import IceError

AGAIN = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain"
JSON = b'{"PackageJob":{"JobId":"abc","Status":"Success"}}'


@dataclass
class Case:
    segments: list[bytes]
    close: bool = False  # the server closes the connection after writing


def _chunked(body: bytes, size: int, *, hex_prefix: bool = False) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        part = body[i : i + size]
        length = (b"0x" if hex_prefix else b"") + f"{len(part):x}".encode()
        out += length + b"\r\n" + part + b"\r\n"
    return out + b"0\r\n\r\n"


def _split(data: bytes, *cuts: int) -> list[bytes]:
    points = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points) if data[a:b]]


def _head(extra: str = "", status: str = "200 OK", version: str = "HTTP/1.1") -> bytes:
    return f"{version} {status}\r\nContent-Type: application/json\r\n{extra}\r\n".encode()


GZ = gzip.compress(JSON)
ZL = zlib.compress(JSON)
RAW = zlib.compressobj(wbits=-15)
RAW_DEFLATE = RAW.compress(JSON) + RAW.flush()
CHUNKED = _chunked(JSON, 7)

CASES: dict[str, Case] = {
    "content-length": Case([_head(f"Content-Length: {len(JSON)}\r\n") + JSON]),
    "content-length-3-segments": Case(_split(_head(f"Content-Length: {len(JSON)}\r\n") + JSON, 10, 80)),
    "head-split-mid-header": Case(_split(_head(f"Content-Length: {len(JSON)}\r\n") + JSON, 25, 30)),
    "chunked": Case([_head("Transfer-Encoding: chunked\r\n") + CHUNKED]),
    "chunked-split-in-size-lines": Case(
        _split(_head("Transfer-Encoding: chunked\r\n") + CHUNKED, 70, 71, 90)
    ),
    "chunked-extension-and-trailer": Case(
        [_head("Transfer-Encoding: chunked\r\n") + b"5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"]
    ),
    "chunked-0x-size": Case([_head("Transfer-Encoding: chunked\r\n") + _chunked(JSON, 7, hex_prefix=True)]),
    "close-delimited-several-segments": Case(
        [_head("Connection: close\r\n"), JSON[:10], JSON[10:30], JSON[30:]], close=True
    ),
    "http-1.0-close-delimited": Case([_head(version="HTTP/1.0"), JSON[:5], JSON[5:]], close=True),
    "100-continue-first": Case(
        [b"HTTP/1.1 100 Continue\r\n\r\n", _head(f"Content-Length: {len(JSON)}\r\n") + JSON]
    ),
    "103-early-hints-first": Case(
        [
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            + _head(f"Content-Length: {len(JSON)}\r\n")
            + JSON
        ]
    ),
    "content-length-1_0": Case([_head("Content-Length: 1_0\r\n") + b"0123456789"]),
    "content-length-plus": Case([_head("Content-Length: +5\r\n") + b"01234"]),
    "content-length-conflicting": Case([_head("Content-Length: 5\r\nContent-Length: 6\r\n") + b"012345"]),
    "gzip": Case([_head(f"Content-Encoding: gzip\r\nContent-Length: {len(GZ)}\r\n") + GZ]),
    "gzip-chunked-segments": Case(
        _split(_head("Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n") + _chunked(GZ, 9), 60, 95)
    ),
    "deflate-zlib": Case([_head(f"Content-Encoding: deflate\r\nContent-Length: {len(ZL)}\r\n") + ZL]),
    "deflate-raw": Case(
        [_head(f"Content-Encoding: deflate\r\nContent-Length: {len(RAW_DEFLATE)}\r\n") + RAW_DEFLATE]
    ),
    "gzip-broken": Case([_head("Content-Encoding: gzip\r\nContent-Length: 12\r\n") + b"not gzip at!"]),
    "unknown-encoding-kept": Case([_head("Content-Encoding: br2\r\nContent-Length: 3\r\n") + b"abc"]),
    "no-content-204": Case([b"HTTP/1.1 204 No Content\r\n\r\n"]),
    "connection-close-with-length": Case(
        [_head("Connection: close\r\nContent-Length: 2\r\n") + b"ok"], close=True
    ),
    "truncated-body-then-close": Case([_head("Content-Length: 100\r\n") + b"short"], close=True),
    "truncated-chunked-then-close": Case([_head("Transfer-Encoding: chunked\r\n") + b"a\r\nabc"], close=True),
    "closed-without-answer": Case([], close=True),
    "closed-mid-head": Case([b"HTTP/1.1 200 OK\r\nContent-Le"], close=True),
    "not-http": Case([b"garbage\r\n\r\n"], close=True),
    "header-without-colon": Case(
        [b"HTTP/1.1 200 OK\r\nBroken header\r\nContent-Length: 2\r\n\r\nok"], close=True
    ),
    "declared-oversize": Case([_head(f"Content-Length: {MAX_BODY_BYTES + 1}\r\n") + b"x" * 100], close=True),
    "chunked-oversize": Case(
        [_head("Transfer-Encoding: chunked\r\n") + f"{MAX_BODY_BYTES + 10:x}\r\n".encode() + b"x" * 1000],
        close=True,
    ),
    "server-error-503": Case(
        [_head("Content-Length: 2\r\nx-acs-retry-after: 2\r\n", status="503 Service Unavailable") + b"{}"]
    ),
    # Answers llhttp frames differently from h11, or refuses: the batch sender hands them to
    # h11 (only plain answers are llhttp's), so they must still end as httpx's do.
    "content-length-twice-same": Case([_head("Content-Length: 2\r\nContent-Length: 2\r\n") + b"ok"]),
    "content-length-list": Case([_head("Content-Length: 2, 2\r\n") + b"ok"]),
    "content-length-spaces": Case([_head("Content-Length:   2  \r\nX-Pad:  a  b  \r\n") + b"ok"]),
    "obs-fold-header": Case([_head("X-Folded: a\r\n b\r\nContent-Length: 2\r\n") + b"ok"]),
    "bare-lf-lines": Case([b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"]),
    "control-char-in-value": Case([_head("X-Odd: a\x01b\r\nContent-Length: 2\r\n") + b"ok"]),
    "empty-header-values": Case([_head("X-Empty:\r\nX-Blank: \r\nContent-Length: 2\r\n") + b"ok"]),
    "reason-missing": Case([b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok"]),
    "http-2.0-status-line": Case([_head("Content-Length: 2\r\n", version="HTTP/2.0") + b"ok"]),
    "http-1.0-keep-alive": Case(
        [_head("Connection: keep-alive\r\nContent-Length: 2\r\n", version="HTTP/1.0") + b"ok"]
    ),
    "not-modified-with-length": Case([b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"]),
    "status-99": Case([b"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n"], close=True),
    "switching-protocols": Case(
        [b"HTTP/1.1 101 Switching\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"], close=True
    ),
    "transfer-encoding-gzip": Case([_head("Transfer-Encoding: gzip\r\n") + b"abc"], close=True),
    "transfer-encoding-upper-case": Case([_head("Transfer-Encoding: CHUNKED\r\n") + _chunked(b"hello", 5)]),
    "chunk-size-trailing-space": Case(
        [_head("Transfer-Encoding: chunked\r\n") + b"5 \r\nhello\r\n0\r\n\r\n"]
    ),
    "connection-close-listed": Case(
        [_head("Connection: foo, Close\r\nContent-Length: 2\r\n") + b"ok"], close=True
    ),
    "connection-close-not-closed": Case([_head("Connection: close\r\nContent-Length: 2\r\n") + b"ok"]),
    "head-over-100-kb": Case(
        [
            _head("".join(f"X-Pad-{i}: {'p' * 1000}\r\n" for i in range(60))),
            b"".join(f"X-More-{i}: {'m' * 1000}\r\n".encode() for i in range(60))
            + b"Content-Length: 2\r\n\r\nok",
        ],
        close=True,
    ),
    "head-in-one-byte-segments": Case(
        [bytes([b]) for b in _head("Content-Length: 2\r\n")[:12]]
        + [_head("Content-Length: 2\r\n")[12:] + b"ok"]
    ),
    "reset-mid-body": Case([_head("Content-Length: 50\r\n") + b"0123456789"], close=True),
    "chunked-plus-content-length": Case(
        [_head("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n") + _chunked(b"hello", 5)]
    ),
}


async def _serve(case: Case, stats: dict[str, int]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats["connections"] += 1
        first = True
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                if not first:
                    writer.write(AGAIN)
                    await writer.drain()
                    continue
                first = False
                for segment in case.segments:
                    writer.write(segment)
                    await writer.drain()
                    await asyncio.sleep(0.02)  # the next segment arrives apart
                if case.close:
                    return
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _outcome(result: Any) -> Any:
    if isinstance(result, IceError):
        return ("error", type(result).__name__, result.code)
    status, headers, body = result
    return ("answer", status, bytes(body), sorted(dict(headers).items()))


HANDED: dict[str, int] = {}  # case -> answers the batch sender left to h11 (not plain)


async def _run(name: str, which: str) -> tuple[list[Any], int]:
    case = CASES[name]
    stats = {"connections": 0}
    server = await _serve(case, stats)
    endpoint = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    prepared = PreparedRequest("GetPackageJob", endpoint + "/?JobId=abc", [("x-acs-action", "GetPackageJob")])
    outcomes: list[Any] = []
    async with server:
        if which == "batch":
            sender: Any = RawSender(endpoint, timeout=5)
            send, close = sender.send, sender.aclose
        else:
            client = AsyncClient(endpoint=endpoint, access_key_id="k", access_key_secret="s", timeout=5)
            send, close = client._send, client.aclose
        try:
            for _ in range(2):  # the second request: keep-alive reuse after the case
                try:
                    outcomes.append(_outcome(await send(prepared)))
                except IceError as exc:
                    outcomes.append(_outcome(exc))
        finally:
            await close()
            if which == "batch":
                HANDED[name] = sender.handed_to_h11
    return outcomes, stats["connections"]


def test_the_corpus_has_every_framing_the_issue_names() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", sorted(CASES))
def test_batch_sender_and_httpx_agree(name: str) -> None:
    batch, batch_connections = asyncio.run(_run(name, "batch"))
    httpx_path, httpx_connections = asyncio.run(_run(name, "httpx"))
    assert batch == httpx_path, f"{name}: batch {batch!r:.300} != httpx {httpx_path!r:.300}"
    assert batch_connections == httpx_connections, (
        f"{name}: connections {batch_connections} != {httpx_connections}"
    )


def test_the_corpus_exercises_answers_and_errors() -> None:
    """The expected outcome of a few cases, so that agreement is not agreement on nothing."""
    out = {
        name: asyncio.run(_run(name, "batch"))[0]
        for name in (
            "close-delimited-several-segments",
            "100-continue-first",
            "content-length-1_0",
            "chunked-0x-size",
            "gzip",
            "deflate-raw",
            "declared-oversize",
            "content-length-3-segments",
        )
    }
    out = {name: [o[:3] for o in outcomes] for name, outcomes in out.items()}  # without headers
    assert out["close-delimited-several-segments"][0] == ("answer", 200, JSON)
    # the server closed: the second request goes on a new connection, answered like the first
    assert out["close-delimited-several-segments"][1] == ("answer", 200, JSON)
    assert asyncio.run(_run("close-delimited-several-segments", "batch"))[1] == 2
    assert asyncio.run(_run("content-length-3-segments", "batch"))[1] == 1  # kept alive
    assert out["100-continue-first"] == [("answer", 200, JSON), ("answer", 200, b"again")]
    assert out["content-length-1_0"][0] == ("error", "InvalidResponseError", "IncompleteResponse")
    assert out["chunked-0x-size"][0] == ("error", "InvalidResponseError", "IncompleteResponse")
    assert out["gzip"][0] == ("answer", 200, JSON) and out["deflate-raw"][0] == ("answer", 200, JSON)
    assert out["declared-oversize"][0] == ("error", "InvalidResponseError", "ResponseTooLarge")
    assert out["content-length-3-segments"] == [("answer", 200, JSON), ("answer", 200, b"again")]


def test_plain_answers_are_llhttps_and_the_others_h11s() -> None:
    """Which parser framed each answer: the plain ones llhttp, every other one h11."""
    plain = (
        "content-length",
        "content-length-3-segments",
        "head-split-mid-header",
        "gzip",
        "deflate-zlib",
        "head-in-one-byte-segments",
        "content-length-spaces",
        "empty-header-values",
        "reason-missing",
        "connection-close-with-length",
        "server-error-503",
    )
    handed = (
        "chunked",
        "close-delimited-several-segments",
        "http-1.0-close-delimited",
        "100-continue-first",
        "content-length-twice-same",
        "obs-fold-header",
        "http-2.0-status-line",
        "not-modified-with-length",
        "no-content-204",
        "truncated-body-then-close",
        "content-length-1_0",
        "head-over-100-kb",
        "control-char-in-value",
        "reset-mid-body",
    )
    for name in plain + handed:
        HANDED.pop(name, None)
        asyncio.run(_run(name, "batch"))
    assert {name: HANDED[name] for name in plain} == dict.fromkeys(plain, 0)
    assert all(HANDED[name] >= 1 for name in handed), {name: HANDED[name] for name in handed}
