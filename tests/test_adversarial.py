"""The client, list paging and fetch_jobs against servers that answer wrongly on purpose.

Each misbehaviour (``tests/_badserver.py``) must give a clear exception, or a clear
per-row error in a frame, within a bounded time and a bounded number of requests: nothing
is retried forever, nothing is followed to another host with the signature, and list
paging notices a token that repeats. The server counts the requests it receives, so the
bounds are measured, not assumed.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

import pytest
from _badserver import BadServer

import ice_widgets
from ice_widgets import AsyncClient, Client, IceError
from ice_widgets._batch import run_batch
from ice_widgets._core import retry_delay
from ice_widgets._errors import (
    ApiError,
    InvalidParameterError,
    InvalidResponseError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)

SECRET = "adversarial-SECRET-7c1e9b2f-do-not-leak"
KEY_ID = "LTAIadversarialKey01"
TIMEOUT = 0.5
RETRIES = 2
JOB = "0123456789abcdef0123456789abcdef"
#: "Inside the timeout": every attempt's timeout plus the longest backoff the client's own
#: retry policy can draw before each retry (``retry_delay`` with a jitter draw of 1.0).
CALL_BOUND_S = (RETRIES + 1) * TIMEOUT + sum(retry_delay(a, rng=lambda: 1.0) for a in range(1, RETRIES + 1))
#: Scheduling on a shared 2-core machine (thread start, event loop, the bad server's thread).
SLACK_S = 1.0

# mode -> (the error class expected, whether it may be retried)
CASES: dict[str, tuple[type[IceError], bool]] = {
    "error_200": (InvalidParameterError, False),
    "error_200_retryable": (ServerError, True),
    "no_job": (InvalidResponseError, True),
    "html": (InvalidResponseError, True),
    "empty": (InvalidResponseError, True),
    "huge_garbage": (InvalidResponseError, True),
    "wrong_id": (InvalidResponseError, True),
    "redirect": (InvalidResponseError, False),
    "redirect_same_host": (InvalidResponseError, False),
    "silent": (RequestTimeoutError, True),
    "headers_then_nothing": (TransportError, True),
    "trickle": (TransportError, True),
    "drop": (TransportError, True),
    "truncated": (TransportError, True),
}


def make_client(server: BadServer, **kw: Any) -> Client:
    return Client(
        endpoint=server.endpoint,
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        timeout=kw.pop("timeout", TIMEOUT),
        max_retries=kw.pop("max_retries", RETRIES),
        **kw,
    )


def make_async_client(server: BadServer) -> AsyncClient:
    return AsyncClient(
        endpoint=server.endpoint,
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        timeout=TIMEOUT,
        max_retries=RETRIES,
    )


def check_error(error: IceError, expected: type[IceError], server: BadServer, retried: bool) -> None:
    assert isinstance(error, expected), f"{type(error).__name__}: {error}"
    text = str(error)
    assert text and "\n" not in text, "one readable line"
    assert error.code, "every error carries a code"
    assert SECRET not in text and SECRET not in repr(error)
    # Exactly the first attempt plus RETRIES retries, and none for a non-retryable answer:
    # a client that never retried (or retried more) fails here.
    expected_requests = RETRIES + 1 if retried else 1
    assert server.request_count == expected_requests, (
        f"{server.request_count} requests, expected {expected_requests}"
    )


def check_elapsed(mode: str, elapsed: float, calls: int = 1) -> None:
    """Within the client's own bound: ``calls`` times CALL_BOUND_S, plus scheduling slack."""
    bound = calls * CALL_BOUND_S + SLACK_S
    assert elapsed < bound, f"{mode} took {elapsed:.2f} s, beyond the client's own bound of {bound:.2f} s"


def test_control_case_answers() -> None:
    """The harness itself: a correct server gives a correct job in one request."""
    with BadServer("ok") as server, make_client(server) as client:
        job = client.get_package_job(JOB)
        assert job.job_id == JOB and job.status == "Success"
        assert server.request_count == 1
        assert SECRET not in server.requests[0].raw


@pytest.mark.parametrize("mode", sorted(CASES))
def test_get_package_job_sync(mode: str) -> None:
    """One clear error after exactly 1 + RETRIES requests, inside the client's timeouts.

    Seen failing under the mutations ``never_retry`` and ``timeout_eight_times_longer``
    (tests/_mutations.py), which the old checks (at most 1 + RETRIES requests, 20 s) let pass.
    """
    expected, retried = CASES[mode]
    with BadServer(mode) as server, make_client(server) as client:
        started = time.monotonic()
        with pytest.raises(IceError) as info:
            client.get_package_job(JOB)
        elapsed = time.monotonic() - started
        check_error(info.value, expected, server, retried)
        check_elapsed(mode, elapsed)


@pytest.mark.parametrize("mode", sorted(CASES))
def test_get_package_job_async(mode: str) -> None:
    expected, retried = CASES[mode]

    async def run() -> IceError:
        async with make_async_client(server) as client:
            with pytest.raises(IceError) as info:
                await client.get_package_job(JOB)
            return info.value

    with BadServer(mode) as server:
        started = time.monotonic()
        error = asyncio.run(asyncio.wait_for(run(), 120))
        elapsed = time.monotonic() - started
        check_error(error, expected, server, retried)
        check_elapsed(mode, elapsed)


def test_huge_valid_answer_is_parsed_or_refused_cleanly() -> None:
    """A 1 MB but valid answer for the right job: parsed whole, the right job."""
    with BadServer("huge_json") as server, make_client(server) as client:
        job = client.get_package_job(JOB)
        assert job.job_id == JOB
        assert job.message is not None and len(job.message) == 1024 * 1024
        assert server.request_count == 1


@pytest.mark.parametrize("mode", ["redirect"])
def test_redirect_never_reaches_the_other_host(mode: str) -> None:
    with BadServer(mode) as server, make_client(server) as client:
        assert server.other is not None
        with pytest.raises(IceError) as info:
            client.get_package_job(JOB)
        assert info.value.code == "UnexpectedRedirect"
        assert server.other.request_count == 0, "a request was sent to the redirect target"
        assert server.other.connections == 0
        # The first server saw a signed request; it is the only place the signature went.
        assert "authorization" in server.requests[0].headers


@pytest.mark.parametrize("mode", ["repeat_token", "cycle_token"])
def test_list_paging_detects_a_repeating_token(mode: str) -> None:
    with BadServer(mode) as server, make_client(server) as client:
        started = time.monotonic()
        with pytest.raises(InvalidResponseError) as info:
            for _ in client.list_package_jobs():
                assert server.request_count < 50, "paging did not stop"
        assert info.value.code == "RepeatedPageToken"
        assert "\n" not in str(info.value)
        assert server.request_count <= 3
        check_elapsed(mode, time.monotonic() - started)


@pytest.mark.parametrize("mode", ["repeat_token", "cycle_token"])
def test_async_list_paging_detects_a_repeating_token(mode: str) -> None:
    async def run() -> None:
        async with make_async_client(server) as client:
            with pytest.raises(InvalidResponseError):
                async for _ in client.list_package_jobs():
                    assert server.request_count < 50, "paging did not stop"

    with BadServer(mode) as server:
        asyncio.run(asyncio.wait_for(run(), 60))
        assert server.request_count <= 3


def test_error_body_under_200_keeps_its_code_and_request_id() -> None:
    with BadServer("error_200") as server, make_client(server) as client:
        with pytest.raises(ApiError) as info:
            client.get_package_job(JOB)
        error = info.value
        assert error.code == "InvalidParameter.Weird"
        assert error.request_id and error.request_id in str(error)
        assert error.recommend
        assert server.request_count == 1


# --------------------------------------------------------------------------- through fetch_jobs

#: fetch_jobs sends through its own transport (an AsyncClient twin): every misbehaviour again.
FETCH_IDS = [f"{i:032x}" for i in range(3)]
BATCH_PASSES = inspect.signature(run_batch).parameters["passes"].default


@pytest.mark.parametrize("mode", sorted(CASES))
def test_fetch_jobs_gives_a_clear_error_row_per_job(mode: str) -> None:
    retried = CASES[mode][1]
    with BadServer(mode) as server, make_client(server) as client:
        started = time.monotonic()
        frame = ice_widgets.fetch_jobs(FETCH_IDS, client=client, progress=False, concurrency=3)
        elapsed = time.monotonic() - started
        assert frame["job_id"].tolist() == FETCH_IDS
        assert frame["error_code"].notna().all(), frame[["job_id", "error_code"]]
        assert frame["status"].isna().all(), "no row may show data from a wrong answer"
        for message in frame["error_message"]:
            assert message and "\n" not in message and SECRET not in message
        # The batch engine gives a transiently failing ID one more pass after the others
        # (``passes``), each with the client's own retries: exactly that many, never more.
        attempts = BATCH_PASSES * (RETRIES + 1) if retried else 1
        assert server.request_count == len(FETCH_IDS) * attempts, (
            f"{server.request_count} requests, expected {len(FETCH_IDS) * attempts}"
        )
        # The IDs run concurrently: each pass takes at most one call's bound.
        check_elapsed(mode, elapsed, calls=BATCH_PASSES if retried else 1)
        if server.other is not None:
            assert server.other.request_count == 0, "a request followed the redirect"


def test_fetch_jobs_huge_valid_answer() -> None:
    with BadServer("huge_json") as server, make_client(server) as client:
        frame = ice_widgets.fetch_jobs(FETCH_IDS, client=client, progress=False)
        assert frame["error_code"].isna().all()
        assert frame["message"].str.len().tolist() == [1024 * 1024] * 3


@pytest.mark.parametrize("mode", ["repeat_token", "cycle_token"])
def test_list_jobs_detects_a_repeating_token(mode: str) -> None:
    with BadServer(mode) as server, make_client(server) as client:
        with pytest.raises(IceError) as info:
            ice_widgets.list_jobs(client=client, progress=False)
        assert info.value.code == "RepeatedPageToken"
        assert server.request_count <= 3
