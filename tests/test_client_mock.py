"""Client and AsyncClient against httpx.MockTransport: wire format, every error class, retries.

The mock server checks every request's signature with the official SDK's
``Utils.get_authorization`` and that the query sent is exactly the query signed.
Sleeps are recorded instead of slept (``client._sleep``), so backoff is asserted, not waited.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from alibabacloud_tea_openapi.utils import Utils

from ice_widgets import (
    ApiError,
    AsyncClient,
    AuthenticationError,
    Client,
    ClockSkewError,
    IceError,
    InvalidParameterError,
    InvalidResponseError,
    NotFoundError,
    PackageJob,
    PermissionDeniedError,
    RequestTimeoutError,
    ServerError,
    ThrottlingError,
    TransportError,
)
from ice_widgets._core import EMPTY_SHA256, MAX_BODY_BYTES
from ice_widgets._signing import canonical_query

AK = "LTAI-test-id"
SECRET = "mock-secret-Zq8#é"
TOKEN = "sts-token-Xy9/+="
JOB = "ab4802364a2e49208c99efab82df0001"

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def job_body(job_id: str = JOB, **extra: Any) -> dict[str, Any]:
    job = {
        "JobId": job_id,
        "Name": "job-name",
        "Status": "Success",
        "Inputs": [{"Input": {"Type": "OSS", "Media": "oss://bucket/in.mp4"}}],
        "Output": {"Type": "OSS", "Media": "oss://bucket/out.m3u8"},
        "SubmitTime": "2022-09-08T11:34:05Z",
        "FinishTime": "2022-09-08T11:44:05Z",
        **extra,
    }
    return {"RequestId": "REQ-OK", "PackageJob": job}


def ok(job_id: str = JOB) -> httpx.Response:
    return httpx.Response(200, json=job_body(job_id))


def echo_ok(request: httpx.Request) -> httpx.Response:
    return ok(dict(parse_qsl(request.url.query.decode()))["JobId"])


def error(status: int, code: str | None, message: str = "went wrong", **headers: str) -> httpx.Response:
    body: dict[str, Any] = {"RequestId": f"REQ-{code}", "HostId": "ice.cn-shanghai.aliyuncs.com"}
    if code is not None:
        body.update(Code=code, Message=message, Recommend="https://api.aliyun.com/troubleshoot?q=x")
    return httpx.Response(status, json=body, headers={k.replace("_", "-"): v for k, v in headers.items()})


class MockIce:
    """A scripted ICE server: answers with ``replies`` in order (the last one repeats).

    Every request is checked: POST /, empty body, query sent == canonical query signed,
    Authorization == the official SDK's ``get_authorization`` over host and x-acs-* headers.
    """

    def __init__(self, *replies: Reply, secret: str = SECRET) -> None:
        self.replies = list(replies) or [echo_ok]
        self.requests: list[httpx.Request] = []
        self.secret = secret

    def params(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[index].url.query.decode(), keep_blank_values=True))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        check_signed(request, self.secret)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply


def check_signed(request: httpx.Request, secret: str) -> None:
    assert request.method == "POST"
    assert request.url.path == "/"
    assert request.read() == b""
    raw_query = request.url.query.decode()
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    assert raw_query == canonical_query(params), "the query sent must be the query signed"
    signed = {k: v for k, v in request.headers.items() if k == "host" or k.startswith("x-acs-")}
    assert signed["x-acs-content-sha256"] == EMPTY_SHA256
    ak = request.headers["authorization"].split("Credential=", 1)[1].split(",", 1)[0]
    official = Utils.get_authorization(
        SimpleNamespace(method="POST", pathname="/", query=params, headers=signed),
        "ACS3-HMAC-SHA256",
        EMPTY_SHA256,
        ak,
        secret,
    )
    assert request.headers["authorization"] == official


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(server: MockIce, **options: Any) -> Client:
    options.setdefault("access_key_id", AK)
    options.setdefault("access_key_secret", SECRET)
    client = Client(endpoint="ice.cn-shanghai.aliyuncs.com", transport=httpx.MockTransport(server), **options)
    client._sleep = Sleeps()
    return client


def sleeps(client: Client) -> list[float]:
    return client._sleep  # type: ignore[return-value]


# ---------------------------------------------------------------------------- success path


def test_get_package_job_wire_format() -> None:
    server = MockIce(echo_ok)
    with make_client(server) as client:
        job = client.get_package_job(JOB)
    assert isinstance(job, PackageJob)
    assert job.job_id == JOB and job.status == "Success"
    (request,) = server.requests
    assert str(request.url) == f"https://ice.cn-shanghai.aliyuncs.com/?JobId={JOB}"
    assert request.headers["host"] == "ice.cn-shanghai.aliyuncs.com"
    assert request.headers["x-acs-action"] == "GetPackageJob"
    assert request.headers["x-acs-version"] == "2020-11-09"
    assert request.headers["x-acs-date"].endswith("Z") and len(request.headers["x-acs-date"]) == 20
    assert len(request.headers["x-acs-signature-nonce"]) >= 16
    assert "ice_widgets" in request.headers["user-agent"]
    assert request.headers.get("content-length") in (None, "0")
    assert "x-acs-security-token" not in request.headers
    assert "x-acs-accesskey-id" not in request.headers
    assert request.headers["authorization"].startswith(f"ACS3-HMAC-SHA256 Credential={AK},")
    assert client.stats.requests == 1 and client.stats.retries == 0 and client.stats.errors == 0


def test_sts_headers_are_sent_and_signed() -> None:
    server = MockIce(echo_ok)
    with make_client(server, security_token=TOKEN) as client:
        client.get_package_job(JOB)
    request = server.requests[0]
    assert request.headers["x-acs-security-token"] == TOKEN
    assert request.headers["x-acs-accesskey-id"] == AK
    signed = request.headers["authorization"].split("SignedHeaders=", 1)[1].split(",", 1)[0]
    assert "x-acs-security-token" in signed.split(";") and "x-acs-accesskey-id" in signed.split(";")


def test_reserved_and_non_ascii_job_id_is_sent_as_signed() -> None:
    job_id = "a b*+/~é&=%中"
    server = MockIce(echo_ok)
    with make_client(server) as client:
        assert client.get_package_job(job_id).job_id == job_id
    assert server.params()["JobId"] == job_id
    assert "%20" in server.requests[0].url.query.decode()


def test_local_http_endpoint_keeps_port_in_host_header() -> None:
    server = MockIce(echo_ok)
    client = Client(
        endpoint="http://127.0.0.1:8765",
        access_key_id=AK,
        access_key_secret=SECRET,
        transport=httpx.MockTransport(server),
    )
    with client:
        client.get_package_job(JOB)
    assert client.endpoint == "http://127.0.0.1:8765"
    assert server.requests[0].headers["host"] == "127.0.0.1:8765"


def test_empty_job_id_is_refused_locally() -> None:
    server = MockIce()
    with make_client(server) as client, pytest.raises(InvalidParameterError):
        client.get_package_job("  ")
    assert server.requests == []


# ---------------------------------------------------------------------------- error classes

NOT_RETRIED = [
    (400, "InvalidParameter", InvalidParameterError),
    (400, "InvalidParameter.JobId", InvalidParameterError),
    (404, "InvalidParameter.ResourceNotFound", NotFoundError),
    (404, "ResourceNotFound", NotFoundError),
    (400, "PackageJob.NotFound", NotFoundError),
    (404, None, NotFoundError),
    (404, "SomethingUndocumented", NotFoundError),
    (404, "InvalidAccessKeyId.NotFound", AuthenticationError),
    (400, "InvalidAccessKeyId.NotFound", AuthenticationError),
    (400, "SignatureDoesNotMatch", AuthenticationError),
    (400, "IncompleteSignature", AuthenticationError),
    (403, "InvalidSecurityToken.Expired", AuthenticationError),
    (400, "InvalidTimeStamp.Expired", ClockSkewError),
    (403, "Forbidden.RAM", PermissionDeniedError),
    (403, "NoPermission", PermissionDeniedError),
    (200, "Forbidden.RAM", PermissionDeniedError),  # HTTP 200 with an error body
    (500, "SignatureDoesNotMatch", AuthenticationError),  # by code, not by status
    (400, "SomethingUndocumented", ApiError),
]


@pytest.mark.parametrize(("status", "code", "expected"), NOT_RETRIED)
def test_errors_classified_by_code_and_not_retried(status: int, code: str | None, expected: type) -> None:
    server = MockIce(error(status, code))
    with make_client(server) as client, pytest.raises(expected) as info:
        client.get_package_job(JOB)
    assert type(info.value) is expected
    assert len(server.requests) == 1, "never retried"
    assert info.value.http_status == status
    assert info.value.request_id == f"REQ-{code}"
    if code is not None:
        assert info.value.code == code
        assert info.value.recommend.startswith("https://")
        text = str(info.value)
        assert code in text and "went wrong" in text and f"REQ-{code}" in text and "\n" not in text
    assert client.stats.errors == 1 and client.stats.retries == 0
    assert sleeps(client) == []


RETRIED = [
    (400, "Throttling", ThrottlingError),
    (400, "Throttling.User", ThrottlingError),
    (503, "Throttling.Api", ThrottlingError),
    (400, "Rejected.Throttling", ThrottlingError),
    (429, None, ThrottlingError),
    (503, "ServiceUnavailable", ServerError),
    (500, "InternalError", ServerError),
    (502, None, ServerError),
    (200, "InternalError", ServerError),
    (500, "SomethingUndocumented", ServerError),
]


@pytest.mark.parametrize(("status", "code", "expected"), RETRIED)
def test_retryable_errors_are_retried_then_succeed(status: int, code: str | None, expected: type) -> None:
    server = MockIce(error(status, code), error(status, code), echo_ok)
    with make_client(server) as client:
        assert client.get_package_job(JOB).job_id == JOB
    assert len(server.requests) == 3
    assert client.stats.retries == 2 and client.stats.errors == 0
    assert client.stats.throttled == (2 if expected is ThrottlingError else 0)
    assert len(sleeps(client)) >= 2


@pytest.mark.parametrize(("status", "code", "expected"), RETRIED)
def test_retryable_errors_give_up_after_max_retries(status: int, code: str | None, expected: type) -> None:
    server = MockIce(error(status, code))
    with make_client(server, max_retries=3) as client, pytest.raises(expected) as info:
        client.get_package_job(JOB)
    assert type(info.value) is expected
    assert len(server.requests) == 4
    assert "4 attempts" in str(info.value)
    assert client.stats.retries == 3 and client.stats.errors == 1


def test_html_error_page_on_5xx_is_a_server_error() -> None:
    page = httpx.Response(
        502, text="<html><body>Bad Gateway</body></html>", headers={"content-type": "text/html"}
    )
    server = MockIce(page)
    with make_client(server, max_retries=1) as client, pytest.raises(ServerError):
        client.get_package_job(JOB)
    assert len(server.requests) == 2


def test_backoff_grows_and_honours_retry_after() -> None:
    server = MockIce(
        error(400, "Throttling.User", x_acs_retry_after="3000"),
        error(400, "Throttling.User"),
        error(400, "Throttling.User"),
        echo_ok,
    )
    with make_client(server) as client:
        client.get_package_job(JOB)
    recorded = [s for s in sleeps(client) if s > 0]
    assert recorded[0] >= 3.0, "x-acs-retry-after is honoured"
    assert recorded[0] <= 3.3 + 1e-9
    assert all(s <= 8.0 for s in recorded[1:])
    assert client.stats.throttled == 3
    assert client.rate.throttles == 3, "throttles reach the shared adaptive rate"


def test_fresh_nonce_and_date_on_every_attempt() -> None:
    server = MockIce(error(503, "ServiceUnavailable"), error(500, "InternalError"), echo_ok)
    with make_client(server) as client:
        client.get_package_job(JOB)
    nonces = [r.headers["x-acs-signature-nonce"] for r in server.requests]
    assert len(set(nonces)) == 3
    assert all("x-acs-date" in r.headers for r in server.requests)
    # every attempt carried its own valid signature (checked by MockIce) over its own nonce
    assert len({r.headers["authorization"] for r in server.requests}) == 3


def test_signature_nonce_used_is_retried_once() -> None:
    server = MockIce(error(400, "SignatureNonceUsed"), echo_ok)
    with make_client(server) as client:
        assert client.get_package_job(JOB).job_id == JOB
    assert len(server.requests) == 2

    server = MockIce(error(400, "SignatureNonceUsed"))
    with make_client(server) as client, pytest.raises(ApiError) as info:
        client.get_package_job(JOB)
    assert info.value.code == "SignatureNonceUsed"
    assert len(server.requests) == 2


def test_auth_error_names_the_credentials_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    server = MockIce(error(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired."))
    client = Client(endpoint="ice.cn-shanghai.aliyuncs.com", transport=httpx.MockTransport(server))
    with client, pytest.raises(AuthenticationError) as info:
        client.get_package_job(JOB)
    assert "environment" in str(info.value) and "ALIBABA_CLOUD_ACCESS_KEY_ID" in str(info.value)
    assert TOKEN not in str(info.value) and SECRET not in str(info.value)


# ---------------------------------------------------------------------------- transport failures


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ConnectError("connection refused"), TransportError),
        (httpx.ReadError("connection reset"), TransportError),
        (
            httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
            TransportError,
        ),
        (httpx.ConnectTimeout("timed out"), RequestTimeoutError),
        (httpx.ReadTimeout("timed out"), RequestTimeoutError),
        (httpx.PoolTimeout("timed out"), RequestTimeoutError),
    ],
)
def test_transport_failures_are_mapped_and_retried(failure: Exception, expected: type) -> None:
    server = MockIce(failure, echo_ok)
    with make_client(server) as client:
        assert client.get_package_job(JOB).job_id == JOB
    assert len(server.requests) == 2

    server = MockIce(failure)
    with make_client(server, max_retries=2) as client, pytest.raises(expected) as info:
        client.get_package_job(JOB)
    assert not isinstance(info.value, httpx.HTTPError)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"RequestId": "x", "PackageJob": {"JobId": "ab48',  # truncated
        b"<html>captive portal</html>",
        b"[1, 2, 3]",
        b'"just a string"',
        b"\xff\xfe\x00garbage",
        b'{"RequestId": "x"}',  # neither a job nor an error code
        b'{"RequestId": "x", "PackageJob": "not an object"}',
    ],
)
def test_invalid_bodies_are_invalid_response_errors_and_retried(body: bytes) -> None:
    server = MockIce(httpx.Response(200, content=body), echo_ok)
    with make_client(server) as client:
        assert client.get_package_job(JOB).job_id == JOB
    assert len(server.requests) == 2

    server = MockIce(httpx.Response(200, content=body))
    with make_client(server, max_retries=1) as client, pytest.raises(InvalidResponseError):
        client.get_package_job(JOB)
    assert len(server.requests) == 2


def test_answer_for_another_job_is_refused() -> None:
    server = MockIce(ok("0" * 32))
    with make_client(server, max_retries=1) as client, pytest.raises(InvalidResponseError) as info:
        client.get_package_job(JOB)
    assert info.value.code == "JobIdMismatch"
    assert JOB in str(info.value)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_errors_and_never_followed(status: int) -> None:
    other: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host != "ice.cn-shanghai.aliyuncs.com":
            other.append(request)
            return ok()
        return httpx.Response(status, headers={"location": "https://evil.example.com/"})

    server = MockIce(handler)
    with make_client(server) as client, pytest.raises(InvalidResponseError) as info:
        client.get_package_job(JOB)
    assert info.value.code == "UnexpectedRedirect"
    assert len(server.requests) == 1 and other == []


def test_declared_huge_body_is_refused_without_reading() -> None:
    consumed: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(64):
            consumed.append(i)
            yield b"x" * (1024 * 1024)

    server = MockIce(
        lambda request: httpx.Response(
            200, content=chunks(), headers={"content-length": str(64 * 1024 * 1024)}
        )
    )
    with make_client(server, max_retries=0) as client, pytest.raises(InvalidResponseError) as info:
        client.get_package_job(JOB)
    assert info.value.code == "ResponseTooLarge"
    assert consumed == []


def test_streamed_huge_body_is_refused_after_the_cap() -> None:
    consumed: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(64):
            consumed.append(i)
            yield b"x" * (1024 * 1024)

    server = MockIce(lambda request: httpx.Response(200, content=chunks()))
    with make_client(server, max_retries=0) as client, pytest.raises(InvalidResponseError) as info:
        client.get_package_job(JOB)
    assert info.value.code == "ResponseTooLarge"
    assert len(consumed) <= MAX_BODY_BYTES // (1024 * 1024) + 1


def test_body_below_the_cap_is_accepted() -> None:
    padded = job_body(Message="m" * (2 * 1024 * 1024))
    server = MockIce(httpx.Response(200, json=padded))
    with make_client(server) as client:
        assert client.get_package_job(JOB).message == "m" * (2 * 1024 * 1024)


def test_max_retries_zero_sends_once() -> None:
    server = MockIce(error(503, "ServiceUnavailable"))
    with make_client(server, max_retries=0) as client, pytest.raises(ServerError):
        client.get_package_job(JOB)
    assert len(server.requests) == 1


# ---------------------------------------------------------------------------- list and submit


def page(jobs: list[str], token: str | None) -> httpx.Response:
    body: dict[str, Any] = {"PackageJobs": [{"JobId": j, "Status": "Init"} for j in jobs]}
    if token is not None:
        body["NextPageToken"] = token
    return httpx.Response(200, json={"RequestId": "R", "PackageJobList": body})


def test_list_package_jobs_follows_tokens() -> None:
    server = MockIce(page(["a", "b"], "t1"), page(["c"], "t2"), page(["d"], ""))
    with make_client(server) as client:
        jobs = client.list_package_jobs(
            status="Init",
            start=datetime(2024, 1, 1, 8, tzinfo=UTC),
            end="2024-01-02T00:00:00Z",
            order_by="CreateTimeAsc",
            page_size=50,
        )
        assert [j.job_id for j in jobs] == ["a", "b", "c", "d"]
    first = server.params(0)
    assert first == {
        "Status": "Init",
        "StartOfCreateTime": "2024-01-01T08:00:00Z",
        "EndOfCreateTime": "2024-01-02T00:00:00Z",
        "OrderBy": "CreateTimeAsc",
        "PageSize": "50",
    }
    assert server.params(1)["NextPageToken"] == "t1"
    assert server.params(2)["NextPageToken"] == "t2"
    assert all(r.headers["x-acs-action"] == "ListPackageJobs" for r in server.requests)


def test_list_package_jobs_is_lazy() -> None:
    server = MockIce(page(["a"], "t1"), page(["b"], None))
    with make_client(server) as client:
        iterator = client.list_package_jobs()
        assert server.requests == []
        assert next(iter(iterator)).job_id == "a"
        assert len(server.requests) == 1


@pytest.mark.parametrize(
    "replies",
    [
        [page(["a"], "t1"), page(["b"], "t1")],  # the same token again
        [page(["a"], "t1"), page(["b"], "t2"), page(["c"], "t1")],  # a cycle
    ],
)
def test_repeated_page_token_raises_instead_of_looping(replies: list[httpx.Response]) -> None:
    server = MockIce(*replies)
    seen: list[str | None] = []
    with make_client(server) as client, pytest.raises(InvalidResponseError) as info:
        for job in client.list_package_jobs():
            seen.append(job.job_id)
    assert info.value.code == "RepeatedPageToken"
    assert len(server.requests) == len(replies)


def test_list_rejects_bad_order_by() -> None:
    with make_client(MockIce()) as client, pytest.raises(InvalidParameterError):
        client.list_package_jobs(order_by="Name")


def test_submit_package_job_encodes_parameters() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"RequestId": "R", "JobId": "new-job-1"})

    server = MockIce(answer)
    with make_client(server) as client:
        job_id = client.submit_package_job(
            ["oss://bucket/视频 1.mp4", ("Media", "media-id-1"), {"Type": "OSS", "Media": "oss://b/c.mp4"}],
            "oss://bucket/out.m3u8",
            name="名前 & name",
            user_data={"k": "välue"},
            pipeline_id="pipe-1",
            priority=6,
        )
    assert job_id == "new-job-1"
    params = server.params()
    assert server.requests[0].headers["x-acs-action"] == "SubmitPackageJob"
    assert params["Inputs"] == (
        '[{"Input":{"Type":"OSS","Media":"oss://bucket/视频 1.mp4"}},'
        '{"Input":{"Type":"Media","Media":"media-id-1"}},'
        '{"Input":{"Type":"OSS","Media":"oss://b/c.mp4"}}]'
    )
    assert params["Output"] == '{"Type":"OSS","Media":"oss://bucket/out.m3u8"}'
    assert params["Name"] == "名前 & name"
    assert params["UserData"] == '{"k":"välue"}'
    assert json.loads(params["ScheduleConfig"]) == {"PipelineId": "pipe-1", "Priority": 6}


def test_submit_minimal_and_answer_without_job_id() -> None:
    server = MockIce(httpx.Response(200, json={"RequestId": "R"}))
    with make_client(server, max_retries=0) as client:
        with pytest.raises(InvalidResponseError):
            client.submit_package_job("media-id", "oss://b/o.m3u8")
        with pytest.raises(InvalidParameterError):
            client.submit_package_job("media-id", "oss://b/o.m3u8", priority=11)
    assert set(server.params()) == {"Inputs", "Output"}
    assert json.loads(server.params()["Inputs"]) == [{"Input": {"Type": "Media", "Media": "media-id"}}]


# ---------------------------------------------------------------------------- async client


def make_async(server: MockIce, **options: Any) -> tuple[AsyncClient, list[float]]:
    options.setdefault("access_key_id", AK)
    options.setdefault("access_key_secret", SECRET)
    client = AsyncClient(
        endpoint="ice.cn-shanghai.aliyuncs.com", transport=httpx.MockTransport(server), **options
    )
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    client._sleep = fake_sleep
    return client, recorded


def test_async_get_retries_and_classifies() -> None:
    async def main() -> None:
        server = MockIce(
            error(400, "Throttling.User", x_acs_retry_after="2000"), httpx.ReadTimeout("t"), echo_ok
        )
        client, recorded = make_async(server)
        async with client:
            job = await client.get_package_job(JOB)
        assert job.job_id == JOB
        assert len(server.requests) == 3
        assert max(recorded) >= 2.0
        assert client.stats.retries == 2 and client.stats.throttled == 1

        server = MockIce(error(400, "SignatureDoesNotMatch"))
        client, recorded = make_async(server)
        async with client:
            with pytest.raises(AuthenticationError):
                await client.get_package_job(JOB)
        assert len(server.requests) == 1 and recorded == []

        server = MockIce(httpx.ConnectError("refused"))
        client, _ = make_async(server, max_retries=2)
        async with client:
            with pytest.raises(TransportError):
                await client.get_package_job(JOB)
        assert len(server.requests) == 3

    asyncio.run(main())


def test_async_list_and_submit() -> None:
    async def main() -> None:
        server = MockIce(page(["a", "b"], "t1"), page(["c"], None))
        client, _ = make_async(server)
        async with client:
            assert [j.job_id async for j in client.list_package_jobs(page_size=2)] == ["a", "b", "c"]
        assert server.params(1)["NextPageToken"] == "t1"

        server = MockIce(page(["a"], "t1"), page(["b"], "t1"))
        client, _ = make_async(server)
        async with client:
            with pytest.raises(InvalidResponseError):
                async for _ in client.list_package_jobs():
                    pass

        server = MockIce(httpx.Response(200, json={"RequestId": "R", "JobId": "j-9"}))
        client, _ = make_async(server)
        async with client:
            assert await client.submit_package_job([("OSS", "oss://b/i.mp4")], ("OSS", "oss://b/o")) == "j-9"

    asyncio.run(main())


def test_async_huge_body_and_redirect() -> None:
    async def main() -> None:
        async def chunks() -> Any:
            for _ in range(64):
                yield b"x" * (1024 * 1024)

        server = MockIce(lambda request: httpx.Response(200, content=chunks()))
        client, _ = make_async(server, max_retries=0)
        async with client:
            with pytest.raises(InvalidResponseError) as info:
                await client.get_package_job(JOB)
        assert info.value.code == "ResponseTooLarge"

        server = MockIce(httpx.Response(302, headers={"location": "https://elsewhere.example/"}))
        client, _ = make_async(server)
        async with client:
            with pytest.raises(InvalidResponseError):
                await client.get_package_job(JOB)
        assert len(server.requests) == 1

    asyncio.run(main())


def test_async_concurrent_calls_share_the_rate() -> None:
    async def main() -> None:
        count = {"n": 0}

        def handler(request: httpx.Request) -> httpx.Response:
            count["n"] += 1
            if count["n"] % 4 == 0:
                return error(400, "Throttling.User")
            return echo_ok(request)

        server = MockIce(handler)
        client, _ = make_async(server)
        async with client:
            ids = [f"{i:032x}" for i in range(40)]
            jobs = await asyncio.gather(*(client.get_package_job(i) for i in ids))
        assert [j.job_id for j in jobs] == ids
        assert client.stats.throttled >= 1
        assert client.rate.rate is not None and client.rate.throttles == client.stats.throttled

    asyncio.run(main())


@pytest.mark.parametrize(
    ("reply", "retried"),
    [
        (error(400, "Throttling.User"), True),
        (error(503, "ServiceUnavailable"), True),
        (httpx.ConnectError("refused"), True),
        (httpx.ConnectTimeout("timed out"), True),
        (error(500, "InternalError"), False),
        (httpx.ReadTimeout("timed out"), False),
        (httpx.ReadError("reset"), False),
        (httpx.RemoteProtocolError("peer closed connection"), False),
        (httpx.Response(200, content=b'{"RequestId": "R", "Jo'), False),
    ],
)
def test_submit_is_retried_only_when_the_job_surely_was_not_created(reply: Any, retried: bool) -> None:
    """SubmitPackageJob is not idempotent: an ambiguous failure must not create a second job."""
    created = httpx.Response(200, json={"RequestId": "R", "JobId": "new-job"})
    server = MockIce(reply, created)
    with make_client(server) as client:
        if retried:
            assert client.submit_package_job("media-id", "oss://b/o.m3u8") == "new-job"
            assert len(server.requests) == 2
        else:
            with pytest.raises(IceError):
                client.submit_package_job("media-id", "oss://b/o.m3u8")
            assert len(server.requests) == 1
    # the same failures are retried for reads
    server = MockIce(reply, echo_ok)
    with make_client(server) as client:
        assert client.get_package_job(JOB).job_id == JOB
        assert len(server.requests) == 2


def test_unsendable_request_is_not_retried() -> None:
    server = MockIce(httpx.LocalProtocolError("Illegal header value"))
    with make_client(server) as client, pytest.raises(TransportError) as info:
        client.get_package_job(JOB)
    assert info.value.code == "InvalidRequest" and len(server.requests) == 1


def test_pasted_whitespace_around_key_id_and_token_is_dropped() -> None:
    server = MockIce(echo_ok)
    with make_client(server, access_key_id=f" {AK}\n", security_token=f"{TOKEN}\n") as client:
        client.get_package_job(JOB)
    request = server.requests[0]
    assert request.headers["x-acs-security-token"] == TOKEN
    assert request.headers["x-acs-accesskey-id"] == AK
    assert f"Credential={AK}," in request.headers["authorization"]


def test_a_closed_client_says_so() -> None:
    server = MockIce(echo_ok)
    client = make_client(server)
    client.close()
    with pytest.raises(TransportError) as info:
        client.get_package_job(JOB)
    assert info.value.code == "ClientClosed" and server.requests == []

    async def main() -> None:
        aclient, _ = make_async(MockIce(echo_ok))
        await aclient.aclose()
        with pytest.raises(TransportError) as ainfo:
            await aclient.get_package_job(JOB)
        assert ainfo.value.code == "ClientClosed"

    asyncio.run(main())
