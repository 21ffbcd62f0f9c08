"""The I/O-free core: endpoints, request building, error classification, retry policy, AdaptiveRate."""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ice_widgets._core import (
    DEFAULT_REGION,
    EMPTY_SHA256,
    USER_AGENT,
    AdaptiveRate,
    RequestBuilder,
    classify_error,
    parse_job_id,
    parse_package_job,
    parse_page,
    parse_response,
    parse_retry_after,
    resolve_endpoint,
    resolve_region,
    retry_delay,
    should_retry,
)
from ice_widgets._credentials import Credential
from ice_widgets._errors import (
    ApiError,
    AuthenticationError,
    ClockSkewError,
    IceError,
    InvalidParameterError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    ServerError,
    ThrottlingError,
    TransportError,
)

# ---------------------------------------------------------------------------- endpoints


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("ice.cn-beijing.aliyuncs.com", "https://ice.cn-beijing.aliyuncs.com"),
        ("ICE-vpc.cn-beijing.aliyuncs.com", "https://ice-vpc.cn-beijing.aliyuncs.com"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("https://ice.cn-shanghai.aliyuncs.com:443", "https://ice.cn-shanghai.aliyuncs.com"),
        ("http://localhost:80", "http://localhost"),
        ("127.0.0.1:9000", "https://127.0.0.1:9000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("  http://127.0.0.1:1  ", "http://127.0.0.1:1"),
    ],
)
def test_explicit_endpoint_wins(endpoint: str, expected: str) -> None:
    env = {"ALIBABA_CLOUD_ICE_ENDPOINT": "http://other:1", "ALIBABA_CLOUD_REGION_ID": "us-west-1"}
    assert resolve_endpoint(endpoint, "cn-hangzhou", env=env) == expected


@pytest.mark.parametrize(
    "endpoint",
    [
        "ftp://host",
        "http://user:pw@host",
        "http://host/path",
        "http://host?x=1",
        "http://",
        "ho st",
        "http://h:99999",
    ],
)
def test_bad_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(ValueError):
        resolve_endpoint(endpoint, env={})


def test_endpoint_from_environment_then_region(tmp_path) -> None:
    env = {"HOME": str(tmp_path), "ALIBABA_CLOUD_ICE_ENDPOINT": "http://127.0.0.1:8765"}
    assert resolve_endpoint(None, "cn-hangzhou", env=env) == "http://127.0.0.1:8765"
    env = {"HOME": str(tmp_path), "ALIBABA_CLOUD_REGION_ID": "us-west-1"}
    assert resolve_endpoint(None, None, env=env) == "https://ice.us-west-1.aliyuncs.com"
    assert resolve_endpoint(None, "cn-beijing", env=env) == "https://ice.cn-beijing.aliyuncs.com"
    assert (
        resolve_endpoint(None, None, env={"HOME": str(tmp_path)})
        == f"https://ice.{DEFAULT_REGION}.aliyuncs.com"
    )


def test_region_from_cli_profile(tmp_path) -> None:
    config = {
        "current": "work",
        "profiles": [
            {"name": "default", "mode": "AK", "region_id": "cn-beijing"},
            {"name": "work", "mode": "AK", "region_id": "ap-southeast-1"},
        ],
    }
    (tmp_path / ".aliyun").mkdir()
    (tmp_path / ".aliyun" / "config.json").write_text(json.dumps(config))
    env = {"HOME": str(tmp_path)}
    assert resolve_region(None, env=env) == "ap-southeast-1"
    assert resolve_region(None, profile="default", env=env) == "cn-beijing"
    assert resolve_region(None, env={**env, "ALIBABA_CLOUD_PROFILE": "default"}) == "cn-beijing"
    assert resolve_region(None, env={**env, "ALIBABA_CLOUD_REGION_ID": "cn-shenzhen"}) == "cn-shenzhen"
    assert resolve_region("cn-hangzhou", env=env) == "cn-hangzhou"
    assert resolve_endpoint(None, None, env=env) == "https://ice.ap-southeast-1.aliyuncs.com"
    with pytest.raises(ValueError):
        resolve_region("cn-shanghai/../evil", env=env)


# ---------------------------------------------------------------------------- request building

VECTOR_JOB = "ab4802364a2e49208c99efab82df****"
VECTOR_NOW = 1704067200.0  # 2024-01-01T00:00:00Z
VECTOR_NONCE = "00000000000000000000000000000001"


def test_builder_reproduces_the_v3_test_vectors() -> None:
    builder = RequestBuilder("https://ice.cn-shanghai.aliyuncs.com")
    request = builder.build(
        "GetPackageJob",
        {"JobId": VECTOR_JOB},
        Credential("testid", "testsecret"),
        now=VECTOR_NOW,
        nonce=VECTOR_NONCE,
    )
    headers = dict(request.headers)
    assert (
        request.url == "https://ice.cn-shanghai.aliyuncs.com/?JobId=ab4802364a2e49208c99efab82df%2A%2A%2A%2A"
    )
    assert headers["x-acs-date"] == "2024-01-01T00:00:00Z"
    assert headers["authorization"].endswith(
        "Signature=64fb14cba850c6ff4beb492990395ad9c52a6ee6ae2f3f00fb5550db95f266fa"
    )
    sts = builder.build(
        "GetPackageJob",
        {"JobId": VECTOR_JOB},
        Credential("testid", "testsecret", "tok"),
        now=VECTOR_NOW,
        nonce=VECTOR_NONCE,
    )
    assert dict(sts.headers)["authorization"].endswith(
        "Signature=cfe7d8293486b83e6b3b22a9a5c9848dbb1725d64288a2d9227f237bde7e91a9"
    )


def test_builder_fresh_nonce_and_constant_headers() -> None:
    builder = RequestBuilder("http://127.0.0.1:8765")
    credential = Credential("ak", "sk")
    first = dict(builder.build("GetPackageJob", {"JobId": "x"}, credential).headers)
    second = dict(builder.build("GetPackageJob", {"JobId": "x"}, credential).headers)
    assert first["x-acs-signature-nonce"] != second["x-acs-signature-nonce"]
    assert first["host"] == "127.0.0.1:8765"
    assert first["user-agent"] == USER_AGENT and USER_AGENT.startswith("ice_widgets/")
    assert "sk" not in repr(builder.build("GetPackageJob", {}, Credential("ak", "sk", "tok")))
    assert builder.build("ListPackageJobs", {}, credential).url == "http://127.0.0.1:8765/"


@settings(max_examples=300, deadline=None)
@given(
    params=st.dictionaries(
        st.text(
            alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12
        ),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
        max_size=5,
    ),
    secret=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30),
    token=st.none()
    | st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    action=st.sampled_from(["GetPackageJob", "ListPackageJobs", "SubmitPackageJob"]),
    endpoint=st.sampled_from(["https://ice.cn-shanghai.aliyuncs.com", "http://127.0.0.1:8765"]),
)
def test_builder_signature_matches_the_official_sdk(
    params: dict[str, str], secret: str, token: str | None, action: str, endpoint: str
) -> None:
    """The builder's fast signing path against ``Utils.get_authorization`` over random inputs."""
    from types import SimpleNamespace
    from urllib.parse import parse_qsl

    from alibabacloud_tea_openapi.utils import Utils

    builder = RequestBuilder(endpoint)
    for _ in range(2):  # the second time through the cached HMAC state
        request = builder.build(action, params, Credential("AKID", secret, token))
        headers = dict(request.headers)
        signed = {k: v for k, v in headers.items() if k == "host" or k.startswith("x-acs-")}
        query = dict(parse_qsl(request.url.partition("?")[2], keep_blank_values=True))
        assert query == params
        official = Utils.get_authorization(
            SimpleNamespace(method="POST", pathname="/", query=params, headers=signed),
            "ACS3-HMAC-SHA256",
            EMPTY_SHA256,
            "AKID",
            secret,
        )
        assert headers["authorization"] == official
    other = builder.build(action, params, Credential("AKID", secret + "x", token))
    assert dict(other.headers)["authorization"] != headers["authorization"]


# ---------------------------------------------------------------------------- classification

CLASSIFY = [
    (400, "Throttling", ThrottlingError),
    (400, "Throttling.User", ThrottlingError),
    (400, "Throttling.Api", ThrottlingError),
    (400, "Rejected.Throttling", ThrottlingError),
    (429, None, ThrottlingError),
    (404, "InvalidAccessKeyId.NotFound", AuthenticationError),
    (400, "InvalidAccessKeyId.Inactive", AuthenticationError),
    (400, "SignatureDoesNotMatch", AuthenticationError),
    (400, "IncompleteSignature", AuthenticationError),
    (400, "InvalidSecurityToken.Expired", AuthenticationError),
    (400, "InvalidSecurityToken.Malformed", AuthenticationError),
    (400, "InvalidTimeStamp.Expired", ClockSkewError),
    (403, "Forbidden.RAM", PermissionDeniedError),
    (403, "Forbidden", PermissionDeniedError),
    (403, "NoPermission", PermissionDeniedError),
    (400, "InvalidParameter.ResourceNotFound", NotFoundError),
    (404, "ResourceNotFound", NotFoundError),
    (400, "Job.NotFound", NotFoundError),
    (404, None, NotFoundError),
    (400, "InvalidParameter", InvalidParameterError),
    (400, "InvalidParameter.JobId", InvalidParameterError),
    (400, "MissingJobId", InvalidParameterError),
    (503, "ServiceUnavailable", ServerError),
    (500, "InternalError", ServerError),
    (200, "InternalError", ServerError),
    (502, None, ServerError),
    (500, "Whatever", ServerError),
    (400, "Whatever", ApiError),
    (403, "Whatever", ApiError),
    (400, "SignatureNonceUsed", ApiError),
]


@pytest.mark.parametrize(("status", "code", "expected"), CLASSIFY)
def test_classify_by_code_first(status: int, code: str | None, expected: type[ApiError]) -> None:
    body = {"RequestId": "R1", "Message": "m", "Recommend": "https://r"}
    if code:
        body["Code"] = code
    error = classify_error(status, body, action="GetPackageJob", retry_after=1.5)
    assert type(error) is expected
    assert error.request_id == "R1" and error.http_status == status and error.recommend == "https://r"
    assert error.retry_after == 1.5 and error.action == "GetPackageJob"
    if code:
        assert error.code == code


def test_auth_errors_name_the_credentials_source() -> None:
    error = classify_error(
        400,
        {"Code": "InvalidSecurityToken.Expired", "Message": "expired"},
        credentials_source="environment (ALIBABA_CLOUD_ACCESS_KEY_ID)",
    )
    assert "environment (ALIBABA_CLOUD_ACCESS_KEY_ID)" in str(error)
    other = classify_error(400, {"Code": "InvalidParameter", "Message": "bad"}, credentials_source="env")
    assert "env" not in str(other)


def test_parse_response_cases() -> None:
    assert parse_response("GetPackageJob", 200, {}, b'{"PackageJob": {"JobId": "j"}}') == {
        "PackageJob": {"JobId": "j"}
    }
    with pytest.raises(PermissionDeniedError):
        parse_response("GetPackageJob", 200, {}, b'{"Code": "Forbidden.RAM", "Message": "no"}')
    # A success body that happens to carry a Code next to its payload is still a success.
    assert parse_response("SubmitPackageJob", 200, {}, b'{"JobId": "j", "Code": "200"}')["JobId"] == "j"
    with pytest.raises(InvalidResponseError) as info:
        parse_response("GetPackageJob", 302, {"location": "https://x"}, b"")
    assert info.value.code == "UnexpectedRedirect"
    for body in (b"", b"{", b"null", b"[]", b"\x80\x81", b"<html/>"):
        with pytest.raises(InvalidResponseError):
            parse_response("GetPackageJob", 200, {}, body)
    with pytest.raises(ServerError):
        parse_response("GetPackageJob", 503, {}, b"<html>busy</html>")
    with pytest.raises(ThrottlingError) as throttled:
        parse_response("GetPackageJob", 429, {"x-acs-retry-after": "1500"}, b"")
    assert throttled.value.retry_after == 1.5
    with pytest.raises(NotFoundError):
        parse_response("GetPackageJob", 404, {}, b"not json")
    with pytest.raises(InvalidResponseError):
        parse_response("GetPackageJob", 400, {}, b"<html>bad request</html>")


def test_payload_parsers() -> None:
    job = parse_package_job({"PackageJob": {"JobId": " j1 ", "Status": "Init"}}, "j1")
    assert job.status == "Init"
    with pytest.raises(InvalidResponseError) as info:
        parse_package_job({"RequestId": "R", "PackageJob": {"JobId": "other"}}, "j1")
    assert info.value.code == "JobIdMismatch" and info.value.request_id == "R"
    with pytest.raises(InvalidResponseError):
        parse_package_job({"PackageJob": []}, "j1")
    jobs, token = parse_page({"PackageJobList": {"NextPageToken": "t", "PackageJobs": [{"JobId": "a"}, 5]}})
    assert [j.job_id for j in jobs] == ["a"] and token == "t"
    assert parse_page({"PackageJobList": {"NextPageToken": "", "PackageJobs": []}}) == ([], None)
    assert parse_page({"RequestId": "R"}) == ([], None)
    with pytest.raises(InvalidResponseError):
        parse_page({"PackageJobList": "x"})
    assert parse_job_id({"JobId": "new"}) == "new"
    with pytest.raises(InvalidResponseError):
        parse_job_id({"JobId": ""})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("abc", None),
        ("0", None),
        ("-5", None),
        ("1000", 1.0),
        ("250", 0.25),
        ("1e9", 60.0),
    ],
)
def test_parse_retry_after_is_milliseconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


# ---------------------------------------------------------------------------- retry policy


def api(cls: type[IceError], code: str | None = None) -> IceError:
    return cls("m", code=code)


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (api(ThrottlingError, "Throttling.User"), True),
        (api(ServerError, "ServiceUnavailable"), True),
        (api(ServerError, "InternalError"), True),
        (api(TransportError, "ConnectionError"), True),
        (api(RequestTimeoutError, "Timeout"), True),
        (api(InvalidResponseError, "InvalidResponse"), True),
        (api(InvalidResponseError, "JobIdMismatch"), True),
        (api(InvalidResponseError, "UnexpectedRedirect"), False),
        (api(InvalidResponseError, "RepeatedPageToken"), False),
        (api(ApiError, "SignatureNonceUsed"), True),
        (api(AuthenticationError, "SignatureDoesNotMatch"), False),
        (api(AuthenticationError, "InvalidAccessKeyId.NotFound"), False),
        (api(ClockSkewError, "InvalidTimeStamp.Expired"), False),
        (api(PermissionDeniedError, "Forbidden.RAM"), False),
        (api(NotFoundError, "ResourceNotFound"), False),
        (api(InvalidParameterError, "InvalidParameter"), False),
        (api(ApiError, "Whatever"), False),
    ],
)
def test_should_retry_table(error: IceError, retried: bool) -> None:
    assert should_retry(error, 1, 6) is retried
    assert should_retry(error, 7, 6) is False, "the budget is respected"


def test_signature_nonce_used_only_once() -> None:
    error = api(ApiError, "SignatureNonceUsed")
    assert should_retry(error, 1, 6, nonce_retried=False)
    assert not should_retry(error, 2, 6, nonce_retried=True)
    assert should_retry(api(ThrottlingError, "Throttling"), 2, 6, nonce_retried=True)


@settings(max_examples=300, deadline=None)
@given(
    attempt=st.integers(min_value=1, max_value=40),
    retry_after=st.none() | st.floats(min_value=0.001, max_value=60),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_retry_delay_bounds(attempt: int, retry_after: float | None, draw: float) -> None:
    delay = retry_delay(attempt, retry_after, lambda: draw)
    ceiling = min(8.0, 0.1 * 2 ** (attempt - 1))
    assert delay >= 0
    if retry_after is None:
        assert delay <= ceiling
        assert delay == pytest.approx(draw * ceiling)
    else:
        assert delay >= retry_after
        assert delay <= max(ceiling, retry_after * 1.1)


def test_retry_delay_grows_exponentially_with_full_jitter() -> None:
    top = [retry_delay(a, None, lambda: 0.999999) for a in range(1, 10)]
    assert top[:7] == sorted(top[:7]) and top[1] == pytest.approx(2 * top[0], rel=1e-3)
    assert max(top) <= 8.0
    assert retry_delay(5, None, lambda: 0.0) == 0.0
    rng = random.Random(3)
    samples = [retry_delay(4, None, rng.random) for _ in range(2000)]
    assert 0.0 <= min(samples) < 0.1 and 0.7 < max(samples) <= 0.8


# ---------------------------------------------------------------------------- AdaptiveRate


def feed(rate: AdaptiveRate, start: float, answers: list[bool], spacing: float = 0.001) -> float:
    """Answer ``answers`` (True = throttled) one per ``spacing`` s, acquired just before; returns the time."""
    now = start
    for throttled in answers:
        acquired = now
        now += spacing
        (rate.on_throttle if throttled else rate.on_success)(now, acquired)
    return now


def test_adaptive_rate_unlimited_until_throttling() -> None:
    rate = AdaptiveRate()
    now = feed(rate, 0.0, [False] * 200)
    assert rate.rate is None and rate.acquire(now) == 0.0
    # one stray throttle in an interval is not a signal
    now = feed(rate, now, [True] + [False] * 39)
    assert rate.rate is None and rate.throttles == 1
    # an interval with a clear share of throttling is
    now = feed(rate, now, [True, False] * 20)
    assert rate.rate is not None and rate.decreases == 1
    assert rate.acquire(now) == 0.0 and rate.acquire(now) > 0.0


def test_adaptive_rate_ignores_answers_paced_at_the_old_rate() -> None:
    rate = AdaptiveRate()
    now = feed(rate, 0.0, [True, False] * 20)
    assert rate.decreases == 1
    first = rate.rate
    # throttled answers to requests that acquired their slot before the decrease
    for _ in range(100):
        now += 0.001
        rate.on_throttle(now, 0.0)
    assert rate.rate == first and rate.decreases == 1 and rate.throttles == 120


def test_adaptive_rate_heavy_throttling_goes_to_the_accepted_rate() -> None:
    rate = AdaptiveRate()
    rate.rate = 100.0
    # Sent at 100/s, 3 of 4 throttled: the server accepts about 25/s. Heavy throttling ends
    # the interval early (10 throttles) and goes towards that, but not below a quarter at once.
    feed(rate, 10.0, [True, True, True, False] * 3 + [True], spacing=0.01)
    assert rate.decreases == 1
    assert rate.rate == pytest.approx(25.0, rel=0.05)
    rate = AdaptiveRate()
    rate.rate = 1000.0
    feed(rate, 10.0, [True] * 9 + [False] + [True], spacing=0.001)
    assert rate.decreases == 1 and rate.rate == pytest.approx(250.0), "never below a quarter at once"
    rate = AdaptiveRate()
    rate.rate = 150.0
    feed(rate, 10.0, ([True] + [False] * 9) * 4, spacing=1 / 150)
    assert rate.rate == pytest.approx(0.85 * 150, rel=0.02), "moderate throttling: a gentle decrease"


def test_adaptive_rate_paces_requests() -> None:
    rate = AdaptiveRate()
    rate.rate = 100.0
    delays = [rate.acquire(10.0) for _ in range(5)]
    assert delays == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04])
    assert rate.acquire(11.0) == 0.0


def test_adaptive_rate_does_not_grow_when_not_limited() -> None:
    rate = AdaptiveRate()
    rate.rate = 50.0
    rate.ceiling = 50.0
    now = 100.0
    for _ in range(100):  # one request per second: far below the rate, never waits
        now += 1.0
        assert rate.acquire(now) == 0.0
        rate.on_success(now + 0.01, now)
    assert rate.rate == 50.0


class TokenBucket:
    """A server-side limiter: ``qps`` per second, ``burst`` tokens (the emulator uses burst = qps)."""

    def __init__(self, qps: float, burst: float) -> None:
        self.qps, self.burst, self.tokens, self.stamp = qps, burst, burst, 0.0

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.qps)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class FixedWindow:
    """A server-side limiter that admits ``qps`` requests per calendar second."""

    def __init__(self, qps: float, burst: float = 0.0) -> None:
        self.qps, self.second, self.count = qps, -1, 0

    def take(self, now: float) -> bool:
        if int(now) != self.second:
            self.second, self.count = int(now), 0
        if self.count < self.qps:
            self.count += 1
            return True
        return False


def simulate(
    limiter: TokenBucket | FixedWindow,
    *,
    workers: int = 16,
    rtt: float = 0.002,
    jitter: float = 0.002,
    duration: float = 40.0,
    warmup: float = 5.0,
    seed: int = 7,
    rate: AdaptiveRate | None = None,
    start: float = 0.0,
) -> tuple[float, float, AdaptiveRate]:
    """A batch of ``workers`` concurrent callers sharing one AdaptiveRate, on a simulated clock.

    Each caller acquires a slot, sends (with a little timer jitter), gets its answer one
    round trip later; throttled calls back off with :func:`retry_delay` and try again, as
    the clients do. Returns (accepted per second after warm-up, throttled share of all
    requests, the controller). A batch may start at ``start`` with a ``rate`` an earlier
    batch taught (times are absolute, as on one clock).
    """
    rng = random.Random(seed)
    rate = AdaptiveRate() if rate is None else rate
    duration, warmup = start + duration, start + warmup
    queue: list[tuple[float, int, str, float, int]] = [(start, i, "ready", 0.0, 1) for i in range(workers)]
    heapq.heapify(queue)
    order = workers
    sent = throttled = accepted_after_warmup = 0
    while queue:
        now, _, kind, acquired, attempt = heapq.heappop(queue)
        if now > duration:
            break
        order += 1
        if kind == "ready":
            wait = rate.acquire(now)
            heapq.heappush(queue, (now + wait + rng.random() * jitter, order, "send", now, attempt))
        elif kind == "send":
            sent += 1
            passed = limiter.take(now + rtt / 2)
            heapq.heappush(queue, (now + rtt, order, "ok" if passed else "throttled", acquired, attempt))
        elif kind == "ok":
            rate.on_success(now, acquired)
            accepted_after_warmup += now >= warmup
            heapq.heappush(queue, (now, order, "ready", 0.0, 1))
        else:
            throttled += 1
            rate.on_throttle(now, acquired)
            delay = retry_delay(attempt, None, rng.random)
            heapq.heappush(queue, (now + delay, order, "ready", 0.0, attempt + 1))
    return accepted_after_warmup / (duration - warmup), throttled / sent, rate


@pytest.mark.parametrize(
    ("make", "rtt", "efficiency"),
    [
        (lambda: TokenBucket(150, 150), 0.002, 0.85),  # the emulator's --qps 150 (burst = qps)
        (lambda: TokenBucket(150, 150), 0.02, 0.85),
        (lambda: TokenBucket(150, 15), 0.002, 0.85),  # a small burst
        (lambda: TokenBucket(150, 450), 0.002, 0.85),  # a large burst inflates the first estimate
        # A per-second window that stays shut once full, whatever the rate: a harder limiter.
        (lambda: FixedWindow(150), 0.005, 0.75),
    ],
    ids=[
        "bucket-burst150-rtt2ms",
        "bucket-burst150-rtt20ms",
        "bucket-burst15",
        "bucket-burst450",
        "fixed-window",
    ],
)
def test_adaptive_rate_converges_on_the_limit(
    make: Callable[[], TokenBucket | FixedWindow], rtt: float, efficiency: float
) -> None:
    throughput, throttled_share, rate = simulate(make(), rtt=rtt)
    assert throughput >= efficiency * 150, (throughput, rate)
    assert throttled_share < 0.10, (throttled_share, rate)
    assert rate.rate is not None and 0.7 * 150 < rate.rate < 1.3 * 150


class RisingBucket(TokenBucket):
    """50/s for ten seconds, then the account's limit is raised to 200/s."""

    def take(self, now: float) -> bool:
        if now >= 10.0 and self.qps == 50:
            self.qps = self.burst = 200
        return super().take(now)


def test_adaptive_rate_follows_a_limit_that_rises() -> None:
    throughput, throttled_share, rate = simulate(RisingBucket(50, 50), duration=30.0, warmup=20.0)
    assert throughput >= 0.85 * 200, (throughput, rate)
    assert throttled_share < 0.10


class RandomThrottles:
    """Throttles a fixed share of requests whatever the rate (an overloaded service, injected faults)."""

    def __init__(self, share: float, seed: int) -> None:
        self.share, self.rng = share, random.Random(seed)

    def take(self, now: float) -> bool:
        return self.rng.random() >= self.share


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_throttles_do_not_drive_the_rate_to_nothing(seed: int) -> None:
    """Throttling that does not depend on the rate is learned as noise, not chased down."""
    unlimited_workers = 16
    throughput, throttled_share, rate = simulate(
        RandomThrottles(0.2, seed), workers=unlimited_workers, duration=20.0, warmup=2.0, seed=seed
    )
    # Without any rate control the same callers reach about 800/s (backoff included); a
    # controller that took every throttle for a limit would end near its minimum rate.
    assert throughput >= 300, (throughput, rate)
    assert 0.15 <= throttled_share <= 0.25
    assert rate.noise > 0.1 and rate.undone >= 1


def test_adaptive_rate_after_a_pause_does_not_read_the_pause_as_a_collapse() -> None:
    """The learned rate outlives a batch: the next batch's first answers, minutes later, must
    not close the interval the last batch left open (its few throttles spread over the pause
    would read as a server accepting almost nothing, and the rate would fall to the floor)."""
    rate = AdaptiveRate()
    rate.rate = 100.0
    now = feed(rate, 0.0, [True, False, False, True, False, False, True] + [False] * 13)  # left open
    assert rate.rate == 100.0 and rate.decreases == 0
    now = feed(rate, now + 60.0, [False] * 5)  # the next batch, a minute later
    assert rate.rate == 100.0 and rate.decreases == 0, rate
    # without a pause the same answers do close the interval, and lower the rate
    control = AdaptiveRate()
    control.rate = 100.0
    now = feed(control, 0.0, [True, False, False, True, False, False, True] + [False] * 13)
    feed(control, now + 1.0, [False] * 5)
    assert control.decreases == 1 and control.rate is not None and control.rate < 100.0


def test_account_rate_is_one_controller_per_endpoint_and_account() -> None:
    from ice_widgets._core import account_rate, forget_learned_rates

    forget_learned_rates()
    first = account_rate("http://127.0.0.1:1", "key:a")
    assert account_rate("http://127.0.0.1:1", "key:a") is first
    assert account_rate("http://127.0.0.1:1", "key:b") is not first
    assert account_rate("http://127.0.0.1:2", "key:a") is not first
    assert forget_learned_rates() == 3
    assert account_rate("http://127.0.0.1:1", "key:a") is not first


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_the_next_batch_starts_at_the_learned_rate_without_overshooting(seed: int) -> None:
    """A batch, a pause (the limiter's burst refills), the next batch with the same controller.

    The refilled burst hides the limit for seconds: a controller that searched past its
    last ceiling at full speed would overshoot into throttling (the ``hold=0`` contrast);
    after a pause it restarts at the rate throttling settled and probes slowly."""
    results = {}
    for hold in (10.0, 0.0):
        limiter = TokenBucket(150, 150)
        rate = AdaptiveRate(hold=hold)
        simulate(limiter, rate=rate, duration=20.0, seed=seed)
        learned = rate.rate
        assert learned is not None and 0.7 * 150 < learned < 1.3 * 150
        results[hold] = simulate(limiter, rate=rate, start=25.0, duration=8.0, warmup=0.0, seed=seed)
    throughput, share, rate = results[10.0]
    assert share < 0.02, (share, rate)
    assert throughput >= 0.9 * 150, (throughput, rate)
    assert results[0.0][1] > 0.04, results[0.0]  # the overshoot the hold prevents
