"""Clock skew and bad credentials: one clear error, after one request, never a retry storm.

- A client clock 20 minutes off is refused by the emulator with InvalidTimeStamp.Expired:
  the client raises one ClockSkewError that names clock skew, after exactly one request
  (counted by the server), and a batch stops at once instead of sending one per ID.
- Missing credentials: one CredentialsError naming every variable and file looked at, and
  no request at all.
- A wrong or expired STS token: one AuthenticationError naming where the credentials came
  from (arguments, environment, aliyun CLI profile), after one request.

The secret and the token never appear in any of these errors.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _badserver import BadServer

from ice_widgets import AsyncClient, AuthenticationError, Client, ClockSkewError, CredentialsError
from ice_widgets.emulator import Emulator

SECRET = "clock-creds-SECRET-5d1f0a77"
TOKEN = "clock-creds-STS-TOKEN-9e4b21c3"
KEY_ID = "STS.clockcredsKeyId01"
SKEW_S = 20 * 60

ENV_NAMES = [
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABA_CLOUD_CREDENTIALS_FILE",
    "ALIBABA_CLOUD_REGION_ID",
    "ALIBABA_CLOUD_ICE_ENDPOINT",
    "ALIBABA_CLOUD_ECS_METADATA",
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No credentials anywhere: an empty HOME and no ALIBABA_CLOUD_* variables."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def no_secret(*texts: Any) -> None:
    for text in texts:
        assert SECRET not in str(text) and TOKEN not in str(text), "a secret leaked"


# --------------------------------------------------------------------------- missing credentials


def test_missing_credentials_name_every_place_looked_at(clean_env: Path) -> None:
    with BadServer("ok") as server:
        with pytest.raises(CredentialsError) as info:
            Client(endpoint=server.endpoint)
        message = str(info.value)
        assert "\n" not in message
        for place in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "config.json", "credentials.ini"):
            assert place in message, f"{place} not named in: {message}"
        assert server.request_count == 0, "no request may be sent without credentials"


def test_half_set_environment_is_a_clear_error(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ID without its secret is an error that names the missing variable, not a silent fallback."""
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    with pytest.raises(CredentialsError) as info:
        Client(endpoint="http://127.0.0.1:9")
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in str(info.value)


# --------------------------------------------------------------------------- STS tokens


def _write_cli_profile(home: Path) -> None:
    config = {
        "current": "sts",
        "profiles": [
            {
                "name": "sts",
                "mode": "StsToken",
                "access_key_id": KEY_ID,
                "access_key_secret": SECRET,
                "sts_token": TOKEN,
                "region_id": "cn-shanghai",
            }
        ],
    }
    (home / ".aliyun").mkdir()
    (home / ".aliyun" / "config.json").write_text(json.dumps(config))


def _client_from(source: str, endpoint: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Client:
    if source == "arguments":
        return Client(
            endpoint=endpoint,
            access_key_id=KEY_ID,
            access_key_secret=SECRET,
            security_token=TOKEN,
            max_retries=3,
        )
    if source == "environment":
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
        return Client(endpoint=endpoint, max_retries=3)
    assert source == "aliyun CLI"
    _write_cli_profile(home)
    return Client(endpoint=endpoint, max_retries=3)


SOURCE_WORDS = {
    "arguments": "argument",
    "environment": "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "aliyun CLI": "config.json",
}


@pytest.mark.parametrize("source", sorted(SOURCE_WORDS))
@pytest.mark.parametrize(
    "code",
    [
        "InvalidSecurityToken.Expired",
        "InvalidSecurityToken.MismatchWithAccessKey",
        "InvalidSecurityToken.Malformed",
    ],
)
def test_bad_sts_token_is_one_error_naming_the_source(
    source: str, code: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with BadServer("api_error") as server:
        server.error_code = code
        client = _client_from(source, server.endpoint, clean_env, monkeypatch)
        with client, pytest.raises(AuthenticationError) as info:
            client.get_package_job("0" * 32)
        error = info.value
        assert error.code == code
        message = str(error)
        assert SOURCE_WORDS[source] in message, f"the source is not named: {message}"
        assert "\n" not in message
        no_secret(message, repr(error), repr(client), client.credentials_source)
        assert server.request_count == 1, "an authentication error must not be retried"
        # The token was sent (signed) to the server it belongs to, and only there.
        assert server.requests[0].headers.get("x-acs-security-token") == TOKEN


# --------------------------------------------------------------------------- clock skew


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(jobs=300, seed=11) as emu:
        yield emu


def _emulator_client(emu: Emulator, **kw: Any) -> Client:
    return Client(
        endpoint=emu.endpoint,
        access_key_id=emu.access_key_id,
        access_key_secret=emu.access_key_secret,
        **kw,
    )


def _skewed(client: Client | AsyncClient, seconds: float) -> None:
    client._builder.clock = lambda: time.time() + seconds


@pytest.mark.parametrize("skew", [-SKEW_S, SKEW_S])
def test_clock_skew_is_one_clear_error_after_one_request(emulator: Emulator, skew: float) -> None:
    with _emulator_client(emulator) as client:
        _skewed(client, skew)
        before = emulator.stats.requests
        with pytest.raises(ClockSkewError) as info:
            client.get_package_job(emulator.job_ids[0])
        assert emulator.stats.requests - before == 1, "clock skew must not be retried"
        error = info.value
        assert error.code == "InvalidTimeStamp.Expired"
        message = str(error)
        assert "clock" in message.lower(), f"the error does not name clock skew: {message}"
        assert "\n" not in message
        # The same client with its clock put right works: the error was the clock, nothing else.
        _skewed(client, 0)
        assert client.get_package_job(emulator.job_ids[0]).job_id == emulator.job_ids[0]


def test_clock_skew_async(emulator: Emulator) -> None:
    async def run() -> None:
        async with AsyncClient(
            endpoint=emulator.endpoint,
            access_key_id=emulator.access_key_id,
            access_key_secret=emulator.access_key_secret,
        ) as client:
            _skewed(client, SKEW_S)
            with pytest.raises(ClockSkewError):
                await client.get_package_job(emulator.job_ids[0])

    before = emulator.stats.requests
    asyncio.run(run())
    assert emulator.stats.requests - before == 1


def test_small_skew_is_accepted(emulator: Emulator) -> None:
    """Ten minutes off is within the 15 minutes the service allows: no error."""
    with _emulator_client(emulator) as client:
        _skewed(client, -600)
        assert client.get_package_job(emulator.job_ids[1]).job_id == emulator.job_ids[1]


def test_expired_sts_token_against_the_emulator(clean_env: Path) -> None:
    emulator = Emulator(jobs=5, seed=2, security_token="good-token", expired_security_tokens=[TOKEN])
    with emulator as emu, _emulator_client(emu, security_token=TOKEN) as client:
        with pytest.raises(AuthenticationError) as info:
            client.get_package_job(emu.job_ids[0])
        assert info.value.code == "InvalidSecurityToken.Expired"
        assert "argument" in str(info.value)
        no_secret(str(info.value), repr(info.value))
        assert emu.stats.requests == 1


def test_batch_with_a_skewed_clock_stops_at_once(emulator: Emulator) -> None:
    """300 IDs, a clock 20 minutes off: one ClockSkewError, not 300 error rows or retries."""
    import ice_widgets
    from ice_widgets._batch import DEFAULT_CONCURRENCY

    with _emulator_client(emulator) as client:
        _skewed(client, -SKEW_S)
        before = emulator.stats.requests
        with pytest.raises(ClockSkewError) as info:
            ice_widgets.fetch_jobs(emulator.job_ids, client=client, progress=False)
        sent = emulator.stats.requests - before
    assert "clock" in str(info.value).lower()
    # At most the requests already in flight when the first answer came back.
    assert 1 <= sent <= DEFAULT_CONCURRENCY, f"{sent} requests for a batch doomed by clock skew"


def test_batch_with_an_expired_token_stops_at_once(clean_env: Path) -> None:
    import ice_widgets
    from ice_widgets._batch import DEFAULT_CONCURRENCY

    emulator = Emulator(jobs=300, seed=2, security_token="good-token", expired_security_tokens=[TOKEN])
    with emulator as emu, _emulator_client(emu, security_token=TOKEN) as client:
        with pytest.raises(AuthenticationError) as info:
            ice_widgets.fetch_jobs(emu.job_ids, client=client, progress=False)
        assert info.value.code == "InvalidSecurityToken.Expired"
        assert "argument" in str(info.value)
        no_secret(str(info.value), repr(info.value))
        assert 1 <= emu.stats.requests <= DEFAULT_CONCURRENCY
