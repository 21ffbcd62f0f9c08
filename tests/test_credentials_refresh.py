"""RefreshingCredentialsProvider: renewal ahead of expiry, one at a time, across threads and loops.

A fake clock decides when credentials are due; the fetch function is a real function that
counts its calls (and can be made slow or failing). The secret scan of the new credential
sources (real servers: CredentialSources + the emulator) is at the end.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from ice_widgets import AuthenticationError, Client, CredentialsError, fetch_jobs
from ice_widgets._credentials import Credential, RefreshingCredentialsProvider
from ice_widgets.emulator import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    CredentialSources,
    Emulator,
    StsIssuer,
)

REFRESH_SECRET = "refresh-secret-Hq7Zp2Lw9"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Source:
    """Gives credential number N, valid ``life`` seconds from the clock's now."""

    def __init__(self, clock: Clock, life: float = 3600.0) -> None:
        self.clock = clock
        self.life = life
        self.calls = 0
        self.fail = False
        self.gate: threading.Event | None = None
        self.threads: set[str] = set()

    def __call__(self) -> tuple[Credential, float | None]:
        self.threads.add(threading.current_thread().name)
        if self.gate is not None:
            assert self.gate.wait(10)
        self.calls += 1
        if self.fail:
            raise ConnectionError(f"http_code: 503, result: {{'AccessKeySecret': '{REFRESH_SECRET}'}}")
        return Credential(
            f"STS.n{self.calls}", REFRESH_SECRET, f"token-{self.calls}"
        ), self.clock.now + self.life


def wait_for(predicate: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_fresh_credentials_are_served_without_asking_again() -> None:
    clock = Clock()
    source = Source(clock)
    provider = RefreshingCredentialsProvider(source, "test source", clock=clock)
    assert provider.prime().access_key_id == "STS.n1"
    clock.now += 3600 - 301  # five minutes and a second before expiry
    assert provider.get().access_key_id == "STS.n1"
    assert source.calls == 1 and provider.renewals == 0


def test_renewal_starts_ahead_of_expiry_in_the_background() -> None:
    clock = Clock()
    source = Source(clock)
    provider = RefreshingCredentialsProvider(source, "test source", clock=clock)
    provider.prime()
    source.gate = threading.Event()
    clock.now += 3600 - 299  # inside the 5-minute window: renew, but keep serving the old one
    assert provider.get().access_key_id == "STS.n1", "no request waits while the old one is good"
    assert provider.get().access_key_id == "STS.n1"
    source.gate.set()
    wait_for(lambda: provider.renewals == 1)
    assert provider.get().access_key_id == "STS.n2"
    assert source.calls == 2, "one renewal for every caller"
    assert "ice-widgets-credentials" in source.threads


def test_short_lived_tokens_renew_a_third_of_their_life_early() -> None:
    clock = Clock()
    source = Source(clock, life=6.0)
    provider = RefreshingCredentialsProvider(source, "test source", clock=clock)
    provider.prime()
    clock.now += 3.9
    assert provider.get().access_key_id == "STS.n1"
    assert source.calls == 1
    clock.now += 0.2  # 4.1 s: two seconds before expiry
    provider.get()
    wait_for(lambda: source.calls == 2)


def test_near_expiry_every_thread_waits_for_one_renewal() -> None:
    clock = Clock()
    source = Source(clock)
    provider = RefreshingCredentialsProvider(source, "test source", clock=clock)
    provider.prime()
    source.gate = threading.Event()
    clock.now += 3600 - 5  # within 10 s of expiry: nobody may sign with it any more
    got: list[str] = []

    def call() -> None:
        got.append(provider.get().access_key_id)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    assert got == [], "they wait"
    source.gate.set()
    for thread in threads:
        thread.join(5)
    assert got == ["STS.n2"] * 20
    assert source.calls == 2 and provider.renewals == 1


def test_event_loops_await_the_renewal_without_blocking() -> None:
    clock = Clock()
    source = Source(clock)
    provider = RefreshingCredentialsProvider(source, "test source", clock=clock)
    provider.prime()
    source.gate = threading.Event()
    clock.now += 3600 + 1  # expired

    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, source.gate.set)  # runs only if the loop is not blocked
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while not source.gate.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        tick = asyncio.create_task(ticker())
        creds = await asyncio.gather(*(provider.aget() for _ in range(50)))
        await tick
        assert ticks >= 5, "the loop kept running while the renewal ran"
        return [c.access_key_id for c in creds]

    assert asyncio.run(main()) == ["STS.n2"] * 50
    assert source.calls == 2


def test_a_cancelled_waiter_does_not_cancel_the_renewal_for_the_others() -> None:
    """Ctrl-C cancels a batch's coroutines while they await a renewal: it still completes."""
    clock = Clock()
    source = Source(clock)
    provider = RefreshingCredentialsProvider(source, "test source", clock=clock)
    provider.prime()
    source.gate = threading.Event()
    clock.now += 3600 + 1

    async def main() -> None:
        waiter = asyncio.create_task(provider.aget())
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

    asyncio.run(main())
    source.gate.set()
    assert provider.get().access_key_id == "STS.n2"
    assert asyncio.run(provider.aget()).access_key_id == "STS.n2"
    assert source.calls == 2


def test_threads_and_a_loop_share_one_renewal() -> None:
    clock = Clock()
    source = Source(clock)
    provider = RefreshingCredentialsProvider(source, "test source", clock=clock)
    provider.prime()
    source.gate = threading.Event()
    clock.now += 3600 + 1
    results: list[str] = []

    def in_thread() -> None:
        results.append(provider.get().access_key_id)

    async def in_loop() -> None:
        results.append((await provider.aget()).access_key_id)

    threads = [threading.Thread(target=in_thread) for _ in range(5)]
    threads.append(threading.Thread(target=lambda: asyncio.run(in_loop())))
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    source.gate.set()
    for thread in threads:
        thread.join(5)
    assert results == ["STS.n2"] * 6 and source.calls == 2


def test_a_failed_renewal_keeps_the_good_credential_and_tries_later() -> None:
    clock = Clock()
    source = Source(clock)
    provider = RefreshingCredentialsProvider(source, "test source", clock=clock)
    provider.prime()
    source.fail = True
    clock.now += 3600 - 200
    assert provider.get().access_key_id == "STS.n1"
    wait_for(lambda: source.calls == 2 and provider._pending is None)
    for _ in range(10):
        assert provider.get().access_key_id == "STS.n1"
    assert source.calls == 2, "not on every request: a few seconds later"
    clock.now += 6
    provider.get()
    wait_for(lambda: source.calls == 3 and provider._pending is None)
    source.fail = False
    clock.now += 6
    provider.get()
    wait_for(lambda: provider.renewals == 1)
    assert provider.get().access_key_id == "STS.n4"


def test_a_failed_renewal_after_expiry_is_one_error_without_the_answer() -> None:
    clock = Clock()
    source = Source(clock)
    provider = RefreshingCredentialsProvider(source, "the test source", clock=clock)
    provider.prime()
    source.fail = True
    clock.now += 3601
    with pytest.raises(CredentialsError) as info:
        provider.get()
    text = str(info.value)
    assert "the test source" in text and "HTTP 503" in text and "ConnectionError" in text
    assert REFRESH_SECRET not in text and "\n" not in text
    assert info.value.code == "CredentialsProviderFailed"


def test_invalidate_forces_the_next_request_to_wait_for_new_credentials() -> None:
    clock = Clock()
    source = Source(clock)
    provider = RefreshingCredentialsProvider(source, "test source", clock=clock)
    first = provider.prime()
    assert provider.invalidate(Credential("STS.other", "x", "y")) is True
    assert provider.get() is first, "another credential: nothing to do"
    assert provider.invalidate(first) is True
    assert provider.get().access_key_id == "STS.n2"
    assert provider.invalidate(first) is True  # a late refusal of the old one
    assert provider.get().access_key_id == "STS.n2" and source.calls == 2


def test_unknown_expiry_is_asked_again_after_a_minute() -> None:
    clock = Clock()
    calls = []

    def fetch() -> tuple[Credential, float | None]:
        calls.append(1)
        return Credential("AK", "s"), None

    provider = RefreshingCredentialsProvider(fetch, "test", clock=clock)
    provider.prime()
    clock.now += 59
    provider.get()
    assert len(calls) == 1
    clock.now += 2
    provider.get()
    wait_for(lambda: len(calls) == 2)


def test_official_provider_passed_as_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """credentials= an official provider (not only a Client): its Expiration is used."""
    from alibabacloud_credentials.provider import URLCredentialsProvider

    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with CredentialSources(ttl=60) as sources, Emulator(jobs=3, seed=2, sts=sources.issuer) as emu:
        provider = URLCredentialsProvider(uri=sources.uri)
        with Client(endpoint=emu.endpoint, credentials=provider) as client:
            assert client.get_package_job(emu.job_ids[0]).job_id == emu.job_ids[0]
            assert (
                client.credentials_source == "alibabacloud_credentials: URLCredentialsProvider (credentials=)"
            )
            assert client._credentials.expiration is not None
        assert sources.counts["uri"] == 1


def test_copies_of_a_client_share_its_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cards and watches sign with a copy of the client: the same provider, renewed once."""
    from ice_widgets.widgets._card import twin_client

    monkeypatch.setenv("HOME", str(tmp_path))
    with CredentialSources(ttl=60) as sources, Emulator(jobs=3, seed=2, sts=sources.issuer) as emu:
        provider = RefreshingCredentialsProvider(lambda: (Credential("AK", "s"), None), "shared test source")
        with Client(endpoint=emu.endpoint, credentials=provider) as client:
            for asynchronous in (False, True):
                twin = twin_client(client, asynchronous=asynchronous)
                assert twin._credentials is provider
                assert twin.credentials_source == "shared test source"


# --------------------------------------------------------------------------- secret scan


def _forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), raw.hex()]


def test_new_credential_paths_never_show_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything the new sources print, log, raise and show, with DEBUG logging everywhere.

    The secrets are the ones handed out at run time (every issued STS secret and token) and
    the long-term key that AssumeRole is signed with.
    """
    for name in list(__import__("os").environ):
        if name.startswith("ALIBABA_CLOUD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".aliyun").mkdir()
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    shown: list[str] = []
    issuer = StsIssuer(2, expire_early=0.5)
    try:
        with (
            redirect_stdout(sink),
            redirect_stderr(sink),
            CredentialSources(issuer=issuer) as sources,
            Emulator(jobs=400, seed=9, sts=issuer, latency_ms=10) as emu,
        ):
            (tmp_path / ".aliyun" / "config.json").write_text(
                __import__("json").dumps(
                    {
                        "current": "role",
                        "profiles": [
                            {
                                "name": "role",
                                "mode": "RamRoleArn",
                                "access_key_id": DEFAULT_ACCESS_KEY_ID,
                                "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
                                "ram_role_arn": sources.role_arn,
                                "sts_endpoint": sources.sts_endpoint,
                            },
                            {"name": "uri", "mode": "CredentialsURI", "credentials_uri": sources.uri},
                            {
                                "name": "bad",
                                "mode": "RamRoleArn",
                                "access_key_id": DEFAULT_ACCESS_KEY_ID,
                                "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
                                "ram_role_arn": "acs:ram::1:role/none",
                                "sts_endpoint": sources.sts_endpoint,
                            },
                        ],
                    }
                )
            )
            for profile in ("role", "uri"):
                with Client(endpoint=emu.endpoint, profile=profile) as client:
                    frame = fetch_jobs(emu.job_ids, client=client, concurrency=2, progress=True)
                    shown += [repr(client), client.credentials_source, frame.to_string(), repr(client.stats)]
                    shown += [repr(client._credentials), repr(client._credentials._current)]
            try:
                Client(endpoint=emu.endpoint, profile="bad")
            except CredentialsError as error:
                shown += [str(error), repr(error)]
            dead = StsIssuer(30, expire_early=60)
            with (
                CredentialSources(issuer=dead) as dead_sources,
                Emulator(jobs=2, seed=1, sts=dead) as dead_emu,
            ):
                monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", dead_sources.uri)
                with Client(endpoint=dead_emu.endpoint, profile="none") as client:
                    try:
                        client.get_package_job(dead_emu.job_ids[0])
                    except AuthenticationError as error:
                        shown += [str(error), repr(error)]
                secrets = [k.access_key_secret for k in dead._keys.values()]
                secrets += [k.security_token for k in dead._keys.values()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    secrets += [DEFAULT_ACCESS_KEY_SECRET]
    secrets += [k.access_key_secret for k in issuer._keys.values()]
    secrets += [k.security_token for k in issuer._keys.values()]
    assert issuer.counts["issued"] >= 2 and len(secrets) >= 5
    text = "\n".join(shown) + sink.getvalue()
    assert dead.counts["expired"] == 2 and "InvalidSecurityToken.Expired" in text, "the refusal path ran"
    assert "alibabacloud_credentials: credentials URI" in text
    for secret in secrets:
        for form in _forms(secret):
            assert form not in text, "a secret was shown"
