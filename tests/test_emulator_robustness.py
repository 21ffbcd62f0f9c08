"""The emulator under malformed and hostile requests: real error codes, never a crash.

Every test ends by checking that the server still answers a valid signed request, and
the module ends by checking that the server never logged an internal error.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from _emu_http import (
    HTTP,
    error_code,
    raw_exchange,
    raw_request,
    split_responses,
    utc_stamp,
    v3,
    v3_request,
)

from ice_widgets import _signing
from ice_widgets.emulator import Emulator
from ice_widgets.emulator._server import MAX_HEADER_BYTES, MAX_REQUEST_LINE

KNOWN_CODES = {
    "BadRequest",
    "IncompleteSignature",
    "InvalidAccessKeyId.NotFound",
    "InvalidAction.NotFound",
    "InvalidParameter",
    "InvalidParameter.ResourceNotFound",
    "InvalidSecurityToken.MismatchWithAccessKey",
    "InvalidTimeStamp.Expired",
    "InvalidTimeStamp.Format",
    "InvalidVersion",
    "LengthRequired",
    "MissingParameter",
    "RequestEntityTooLarge",
    "RequestHeaderFieldsTooLarge",
    "RequestURITooLong",
    "SignatureDoesNotMatch",
    "SignatureNonceUsed",
    "UnsupportedHTTPMethod",
}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(jobs=100, seed=21) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def still_serving(emu: Emulator) -> Iterator[None]:
    """After every test: a valid request on a new connection is answered correctly, and no
    request so far has hit the server's last-resort error handler."""
    yield
    url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
    with httpx.Client(timeout=10) as fresh:
        response = fresh.post(url, headers=headers)
    assert response.status_code == 200
    assert response.json()["PackageJob"]["JobId"] == emu.job_ids[0]
    assert emu.stats.internal_errors == 0


def parse_single(data: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    responses = split_responses(data)
    assert responses, f"no answer: {data[:200]!r}"
    status, headers, body = responses[0]
    payload = json.loads(body)
    assert set(payload) >= {"RequestId", "HostId", "Code", "Message", "Recommend"}
    return status, headers, payload


# ------------------------------------------------------------------------------ missing headers


@pytest.mark.parametrize("header", ["x-acs-date", "x-acs-signature-nonce"])
def test_missing_required_header(emu: Emulator, header: str) -> None:
    params = {"JobId": emu.job_ids[0]}
    headers = {
        "host": emu.endpoint.split("://")[1],
        "x-acs-action": "GetPackageJob",
        "x-acs-version": "2020-11-09",
        "x-acs-date": utc_stamp(),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": _signing.EMPTY_SHA256,
    }
    del headers[header]
    headers["Authorization"] = _signing.authorization_v3(
        emu.access_key_id, emu.access_key_secret, "POST", "/", params, headers
    )
    response = HTTP.post(f"{emu.endpoint}/?{_signing.canonical_query(params)}", headers=headers)
    assert response.status_code == 400
    assert error_code(response) == "MissingParameter"
    assert header in response.json()["Message"]


def test_missing_action_and_version(emu: Emulator) -> None:
    url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
    without_action = {k: v for k, v in headers.items() if k != "x-acs-action"}
    assert error_code(HTTP.post(url, headers=without_action)) == "MissingParameter"
    without_version = {k: v for k, v in headers.items() if k != "x-acs-version"}
    assert error_code(HTTP.post(url, headers=without_version)) == "MissingParameter"


def test_no_headers_at_all(emu: Emulator) -> None:
    status, _, payload = parse_single(raw_exchange(emu, b"POST / HTTP/1.1\r\n\r\n"))
    assert status == 400 and payload["Code"] == "MissingParameter"


def test_signed_host_header_removed(emu: Emulator) -> None:
    url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
    target = url[len(emu.endpoint) :]
    lines = [f"POST {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items() if k != "host"), "", ""]
    status, _, payload = parse_single(raw_exchange(emu, "\r\n".join(lines).encode()))
    assert status == 400 and payload["Code"] == "SignatureDoesNotMatch"


# -------------------------------------------------------------------------- garbage Authorization


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("", "IncompleteSignature"),
        ("Bearer abc", "IncompleteSignature"),
        ("ACS3-HMAC-SHA256", "IncompleteSignature"),
        ("ACS3-HMAC-SHA256 ", "IncompleteSignature"),
        ("ACS3-HMAC-SHA256 garbage", "IncompleteSignature"),
        ("ACS3-HMAC-SHA256 Credential=,SignedHeaders=,Signature=", "IncompleteSignature"),
        ("ACS3-HMAC-SHA256 Credential=x,Signature=y", "IncompleteSignature"),
        ("acs3-hmac-sha256 Credential=x,SignedHeaders=host,Signature=y", "IncompleteSignature"),
        ("ACS3-HMAC-SHA1 Credential=x,SignedHeaders=host,Signature=y", "IncompleteSignature"),
        (
            "ACS3-HMAC-SHA256 Credential=LTAInobody,"
            "SignedHeaders=x-acs-date;x-acs-signature-nonce,Signature=00",
            "InvalidAccessKeyId.NotFound",
        ),
        (
            "ACS3-HMAC-SHA256 Credential={ak},SignedHeaders=x-acs-date;x-acs-signature-nonce,Signature=00",
            "SignatureDoesNotMatch",
        ),
        (
            "ACS3-HMAC-SHA256 Credential={ak},"
            "SignedHeaders=x-acs-date;x-acs-signature-nonce;nope,Signature=00",
            "SignatureDoesNotMatch",
        ),
        ("ACS3-HMAC-SHA256 Credential={ak},SignedHeaders=host,Signature=" + "f" * 64, "IncompleteSignature"),
        ("ACS3-HMAC-SHA256 " + "A" * 8000, "IncompleteSignature"),
        (
            "ACS3-HMAC-SHA256 Credential=\u00e9\u00ff,SignedHeaders=\u00e9,Signature=\u00e9",
            "IncompleteSignature",
        ),
    ],
)
def test_garbage_authorization(emu: Emulator, authorization: str, code: str) -> None:
    url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
    headers["Authorization"] = authorization.replace("{ak}", emu.access_key_id)
    target = url[len(emu.endpoint) :]
    lines = [
        f"POST {target} HTTP/1.1",
        *(f"{k}: {v}" for k, v in headers.items()),
        "Content-Length: 0",
        "",
        "",
    ]
    status, _, payload = parse_single(raw_exchange(emu, "\r\n".join(lines).encode("latin-1")))
    assert payload["Code"] == code
    assert status in (400, 404)


# ----------------------------------------------------------------------------------- sizes


def test_huge_query_string_is_414(emu: Emulator) -> None:
    url, headers = v3_request(
        emu, "GetPackageJob", {"JobId": emu.job_ids[0], "Pad": "x" * (MAX_REQUEST_LINE + 10)}
    )
    response = HTTP.post(url, headers=headers)
    assert response.status_code == 414
    assert error_code(response) == "RequestURITooLong"


def test_one_megabyte_request_line_is_refused_and_survived(emu: Emulator) -> None:
    data = b"GET /?" + b"a=" + b"b" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = raw_exchange(emu, data)
    if answer:  # the client may still be sending when the server hangs up
        status, _, payload = parse_single(answer)
        assert status == 414 and payload["Code"] == "RequestURITooLong"


def test_request_line_without_end_is_414(emu: Emulator) -> None:
    status, _, payload = parse_single(raw_exchange(emu, b"POST /?" + b"q" * (MAX_REQUEST_LINE + 100)))
    assert status == 414 and payload["Code"] == "RequestURITooLong"


def test_huge_header_block_is_431(emu: Emulator) -> None:
    url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
    headers["x-padding"] = "p" * (MAX_HEADER_BYTES + 10)
    response = HTTP.post(url, headers=headers)
    assert response.status_code == 431 and error_code(response) == "RequestHeaderFieldsTooLarge"


def test_too_many_headers_is_431(emu: Emulator) -> None:
    url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
    headers.update({f"x-many-{i}": str(i) for i in range(150)})
    response = HTTP.post(url, headers=headers)
    assert response.status_code == 431 and error_code(response) == "RequestHeaderFieldsTooLarge"


def test_huge_body_is_413_without_reading_it(emu: Emulator) -> None:
    data = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n" + b"z" * 1000
    status, _, payload = parse_single(raw_exchange(emu, data))
    assert status == 413 and payload["Code"] == "RequestEntityTooLarge"


def test_form_body_with_bad_utf8(emu: Emulator) -> None:
    data = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 6\r\n\r\nA=\xff\xfe\xfd\xfc"
    )
    status, _, payload = parse_single(raw_exchange(emu, data))
    assert status == 400 and payload["Code"] in KNOWN_CODES


# ------------------------------------------------------------------------ actions and methods


@pytest.mark.parametrize(
    "action",
    ["DeletePackageJob", "getpackagejob", "<script>alert(1)</script>", "A" * 5000, "Get PackageJob", "%00"],
)
def test_unknown_actions(emu: Emulator, action: str) -> None:
    response = (
        v3(emu, action, {"JobId": emu.job_ids[0]}) if action.isprintable() and " " not in action else None
    )
    if response is None:
        url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
        headers["x-acs-action"] = action.replace(" ", "%20")
        response = HTTP.post(url, headers=headers)
    assert response.status_code == 404
    assert error_code(response) == "InvalidAction.NotFound"
    assert "<script>" not in response.json()["Message"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
def test_wrong_http_methods(emu: Emulator, method: str) -> None:
    url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]}, method=method)
    response = HTTP.request(method, url, headers=headers)
    assert response.status_code == 405
    assert error_code(response) == "UnsupportedHTTPMethod"
    assert response.headers["allow"] == "GET, POST"


def test_head_gets_headers_only_and_keeps_the_connection_usable(emu: Emulator) -> None:
    head = raw_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]}, method="HEAD")
    follow = raw_request(emu, "GetPackageJob", {"JobId": emu.job_ids[1]})
    close = raw_request(emu, "GetPackageJob", {"JobId": emu.job_ids[2]}).replace(
        b"Content-Length: 0", b"Connection: close\r\nContent-Length: 0"
    )
    data = raw_exchange(emu, head + follow + close, responses=None)
    first_head, _, rest = data.partition(b"\r\n\r\n")
    assert first_head.startswith(b"HTTP/1.1 405")
    responses = split_responses(rest)
    assert [status for status, _, _ in responses] == [200, 200]
    assert [json.loads(body)["PackageJob"]["JobId"] for _, _, body in responses] == emu.job_ids[1:3]


@pytest.mark.parametrize("path", ["/foo", "/?", "//", "/GetPackageJob", "/../etc/passwd", "*"])
def test_wrong_paths(emu: Emulator, path: str) -> None:
    url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
    target = path if path == "*" else path + url[len(emu.endpoint) + 1 :]
    if path == "/?":
        target = "/?"
    lines = [
        f"POST {target} HTTP/1.1",
        *(f"{k}: {v}" for k, v in headers.items()),
        "Content-Length: 0",
        "",
        "",
    ]
    status, _, payload = parse_single(raw_exchange(emu, "\r\n".join(lines).encode()))
    assert payload["Code"] in ("InvalidAction.NotFound", "SignatureDoesNotMatch")
    assert status in (400, 404)


# ------------------------------------------------------------------------------ invalid HTTP


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"hello\r\n\r\n", 400, "BadRequest"),
        (b"GET\r\n\r\n", 400, "BadRequest"),
        (b"GET / HTTP/2.0\r\n\r\n", 400, "BadRequest"),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "BadRequest"),
        (b"GET / HTTP/1.1\r\nthis is not a header\r\n\r\n", 400, "BadRequest"),
        (b"GET / HTTP/1.1\r\n: empty-name\r\n\r\n", 400, "BadRequest"),
        (b"GET / HTTP/1.1\r\nHost : spaced\r\n\r\n", 400, "BadRequest"),
        (b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "BadRequest"),
        (b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "BadRequest"),
        (b"GET / HTTP/1.1\r\nContent-Length: \xc2\xb2\r\n\r\n", 400, "BadRequest"),
        (b"GET / HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 400, "BadRequest"),
        (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, "BadRequest"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411, "LengthRequired"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)), 400, "BadRequest"),
        (b"\x00\x00\x00\x00\r\n\r\n", 400, "BadRequest"),
        (b"GET /\x00 HTTP/1.1\r\n\r\n", 404, "InvalidAction.NotFound"),
        (b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "MissingParameter"),
    ],
)
def test_invalid_http(emu: Emulator, data: bytes, status: int, code: str) -> None:
    got_status, headers, payload = parse_single(raw_exchange(emu, data))
    assert (got_status, payload["Code"]) == (status, code)
    if code in ("BadRequest", "LengthRequired"):
        assert headers["connection"] == "close"


def test_request_cut_in_the_middle(emu: Emulator) -> None:
    full = raw_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
    for cut in (1, 10, len(full) // 2, len(full) - 3):
        assert raw_exchange(emu, full[:cut], timeout=0.3) == b""  # waits for the rest; nothing broken


def test_non_utf8_and_bad_percent_escapes_in_the_query(emu: Emulator) -> None:
    _, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
    for query in ("JobId=%ZZ%", "JobId=%FF%FE%00", "JobId=\u00e9", "=&&=&JobId", "a=%E4%B8"):
        target = "/?" + query
        lines = [
            f"POST {target} HTTP/1.1",
            *(f"{k}: {v}" for k, v in headers.items()),
            "Content-Length: 0",
            "",
            "",
        ]
        status, _, payload = parse_single(raw_exchange(emu, "\r\n".join(lines).encode("utf-8")))
        assert status == 400 and payload["Code"] == "SignatureDoesNotMatch"


# ------------------------------------------------------------------------------- concurrency


async def _one_exchange(host: str, port: int, data: bytes, expect_answer: bool) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        if not expect_answer:
            return b""
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
        return head + await reader.readexactly(length)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


def test_one_thousand_concurrent_connections(emu: Emulator) -> None:
    host, port = emu.endpoint.split("://")[1].rsplit(":", 1)
    ids = [emu.job_ids[i % len(emu.job_ids)] for i in range(1000)]
    # 900 valid signed requests, 50 garbage, 50 that never finish sending
    payloads: list[tuple[bytes, bool, str | None]] = []
    for i, job_id in enumerate(ids):
        if i % 20 == 7:
            payloads.append((b"GARBAGE\r\n\r\n", True, None))
        elif i % 20 == 13:
            payloads.append((b"POST /?JobId=", False, None))
        else:
            payloads.append((raw_request(emu, "GetPackageJob", {"JobId": job_id}), True, job_id))
    before = emu.stats.connections

    async def main() -> list[bytes | BaseException]:
        opened: list[asyncio.Task[bytes]] = [
            asyncio.create_task(_one_exchange(host, int(port), data, answer)) for data, answer, _ in payloads
        ]
        # while they are all open, another client is still served
        url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[5]})
        async with httpx.AsyncClient(timeout=30) as other:
            response = await other.post(url, headers=headers)
            assert response.status_code == 200
        return await asyncio.wait_for(asyncio.gather(*opened, return_exceptions=True), 120)

    results = asyncio.run(main())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    for (_, answer, job_id), result in zip(payloads, results):
        assert isinstance(result, bytes)
        if job_id is not None:
            assert result.startswith(b"HTTP/1.1 200"), result[:100]
            assert json.loads(result.partition(b"\r\n\r\n")[2])["PackageJob"]["JobId"] == job_id
        elif answer:
            assert result.startswith(b"HTTP/1.1 400")
    assert emu.stats.connections - before >= 1000


def test_fuzzed_requests_never_break_it(emu: Emulator) -> None:
    """300 seeded mutations of a valid request, all at once; each gets a JSON answer or a close."""
    rng = random.Random(1234)
    host, port = emu.endpoint.split("://")[1].rsplit(":", 1)
    base = raw_request(emu, "GetPackageJob", {"JobId": emu.job_ids[0]})
    junk = [b"\r\n", b"\x00", b":", b" ", b"%", b"\xff", b"HTTP/1.1", b"\r\n\r\n", b"Content-Length: 5\r\n"]
    cases = []
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            pos = rng.randrange(len(data))
            if op < 0.4:
                data[pos] = rng.randrange(256)
            elif op < 0.7:
                data[pos:pos] = rng.choice(junk)
            else:
                del data[pos : pos + rng.randint(1, 20)]
        cases.append(bytes(data))

    async def probe(data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(data)
            try:
                return await asyncio.wait_for(reader.read(1 << 16), 1.5)
            except (TimeoutError, ConnectionError):
                return b""
        finally:
            writer.close()

    async def main() -> list[bytes]:
        return await asyncio.wait_for(asyncio.gather(*(probe(case) for case in cases)), 60)

    answers = asyncio.run(main())
    answered = 0
    for answer in answers:
        if not answer:
            continue  # waiting for more bytes (a mutated Content-Length), or closed
        assert answer.startswith(b"HTTP/1.1 "), answer[:80]
        for status, _, body in split_responses(answer):
            if status != 200:
                assert json.loads(body)["Code"] in KNOWN_CODES
            answered += 1
    assert answered > 150


def test_a_client_that_does_not_read_its_answers(emu: Emulator) -> None:
    """3,000 pipelined requests sent without reading: back-pressure, others still served, all answered."""
    import socket
    import threading

    count = 3000
    ids = [emu.job_ids[i % len(emu.job_ids)] for i in range(count)]
    data = b"".join(raw_request(emu, "GetPackageJob", {"JobId": job_id}) for job_id in ids)
    host, port = emu.endpoint.split("://")[1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=30)
    sent: list[BaseException | None] = []

    def send() -> None:
        try:
            sock.sendall(data)
            sent.append(None)
        except BaseException as exc:  # reported below
            sent.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        sender.join(1.0)  # it blocks once the server stops reading
        url, headers = v3_request(emu, "GetPackageJob", {"JobId": emu.job_ids[7]})
        with httpx.Client(timeout=10) as other:
            assert other.post(url, headers=headers).status_code == 200
        received = b""
        while len(split_responses(received)) < count:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += chunk
        sender.join(30)
    finally:
        sock.close()
    assert sent == [None]
    responses = split_responses(received)
    assert len(responses) == count
    assert all(status == 200 for status, _, _ in responses)
    assert [json.loads(body)["PackageJob"]["JobId"] for _, _, body in responses[:50]] == ids[:50]
    assert json.loads(responses[-1][2])["PackageJob"]["JobId"] == ids[-1]


def test_no_internal_errors_were_logged(emu: Emulator) -> None:
    assert emu.stats.internal_errors == 0
    assert emu.stats.codes.get("InternalError", 0) == 0
