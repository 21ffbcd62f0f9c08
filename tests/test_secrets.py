"""The access key secret and the STS token never appear in any output.

Every repr and str of the clients, credentials, requests, stats and rate controller; every
exception raised on every error path (str, repr, args, formatted traceback with its
chain, pickled form); every log record of every logger at DEBUG; every warning; and, for
the secret, every byte sent on the wire.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ice_widgets import AsyncClient, Client, CredentialsError, IceError
from ice_widgets._core import RequestBuilder
from ice_widgets._credentials import Credential, resolve_credentials
from ice_widgets.emulator import Emulator

SECRET = "S3cr3t-never-shown-7f9a2c41"
TOKEN = "STS-token-never-shown-b81e5d07"
KEY_ID = "STS.secretsTestKeyId01"
NEEDLES = (SECRET, TOKEN)


def clean(text: str, needles: tuple[str, ...] = NEEDLES) -> None:
    for needle in needles:
        assert needle not in text, f"{needle!r} leaked into: {text[:300]!r}"


def check_error(error: BaseException) -> None:
    clean(str(error))
    clean(repr(error))
    clean(repr(error.args))
    clean("".join(traceback.format_exception(error)))
    clean(repr(vars(error)))
    clean(repr(pickle.loads(pickle.dumps(error)).__dict__))


@pytest.fixture
def logs() -> Iterator[list[logging.LogRecord]]:
    """Every record of every logger, at DEBUG."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    handler = Keep(level=logging.DEBUG)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("ice_widgets", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    for record in records:
        clean(record.getMessage())
        clean(repr(record.args))


def error_body(status: int, code: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"RequestId": "R-1", "Code": code, "Message": f"{code} happened", "Recommend": "https://r"},
        headers={"x-acs-retry-after": "1"},
    )


REPLIES: list[Any] = [
    error_body(400, "SignatureDoesNotMatch"),
    error_body(400, "InvalidSecurityToken.Expired"),
    error_body(400, "InvalidTimeStamp.Expired"),
    error_body(403, "Forbidden.RAM"),
    error_body(404, "InvalidParameter.ResourceNotFound"),
    error_body(400, "InvalidParameter"),
    error_body(400, "Throttling.User"),
    error_body(503, "ServiceUnavailable"),
    error_body(500, "InternalError"),
    error_body(400, "Whatever"),
    httpx.Response(200, content=b'{"PackageJob": {"JobId": "tru'),
    httpx.Response(200, content=b""),
    httpx.Response(200, json={"PackageJob": {"JobId": "another-job"}}),
    httpx.Response(302, headers={"location": "https://elsewhere.example/"}),
    httpx.ConnectError("connection refused"),
    httpx.ReadTimeout("timed out"),
    httpx.RemoteProtocolError("peer closed connection"),
]


@pytest.mark.parametrize("reply", REPLIES, ids=lambda r: getattr(r, "status_code", type(r).__name__))
def test_every_error_path_is_clean(reply: Any, logs: list[logging.LogRecord]) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if isinstance(reply, Exception):
            raise reply
        return reply

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = Client(
            endpoint="ice.cn-shanghai.aliyuncs.com",
            access_key_id=KEY_ID,
            access_key_secret=SECRET,
            security_token=TOKEN,
            max_retries=1,
            transport=httpx.MockTransport(handler),
        )
        client._sleep = lambda seconds: None  # type: ignore[assignment]
        with client, pytest.raises(IceError) as info:
            client.get_package_job("my-job")
        check_error(info.value)
        clean(repr(client))
        clean(str(client.stats))
        clean(repr(client.rate))
    for warning in caught:
        clean(str(warning.message))
    for request in sent:
        wire = f"{request.method} {request.url}\n" + "\n".join(
            f"{k}: {v}" for k, v in request.headers.items()
        )
        clean(wire, (SECRET,))  # the token is sent (it must be); the secret never is


def test_reprs_of_credentials_and_requests() -> None:
    credential = Credential(KEY_ID, SECRET, TOKEN)
    clean(repr(credential))
    clean(str(credential))
    with pytest.raises(TypeError):
        pickle.dumps(credential)
    provider = resolve_credentials(access_key_id=KEY_ID, access_key_secret=SECRET, security_token=TOKEN)
    clean(repr(provider))
    clean(repr(vars(provider)) if hasattr(provider, "__dict__") else "")
    prepared = RequestBuilder("https://ice.cn-shanghai.aliyuncs.com").build(
        "GetPackageJob", {"JobId": "j"}, credential
    )
    clean(repr(prepared))
    clean(str(prepared))
    assert SECRET not in prepared.url and all(SECRET not in v for _, v in prepared.headers)


def test_environment_and_files_credentials_are_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".aliyun").mkdir()
    config = {
        "current": "p",
        "profiles": [
            {
                "name": "p",
                "mode": "StsToken",
                "access_key_id": KEY_ID,
                "access_key_secret": SECRET,
                "sts_token": TOKEN,
            }
        ],
    }
    (tmp_path / ".aliyun" / "config.json").write_text(json.dumps(config))
    with Client(
        endpoint="http://127.0.0.1:1", transport=httpx.MockTransport(lambda r: httpx.Response(200))
    ) as c:
        clean(repr(c))
        clean(c.credentials_source)
    # a broken config that holds the secret: the error names the file, not its contents
    (tmp_path / ".aliyun" / "config.json").write_text('{"profiles": [{"access_key_secret": "' + SECRET + '"')
    with pytest.raises(CredentialsError) as info:
        Client(endpoint="http://127.0.0.1:1")
    check_error(info.value)
    # a half-set environment
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    with pytest.raises(CredentialsError) as info:
        Client(endpoint="http://127.0.0.1:1")
    check_error(info.value)


def test_credentials_object_failures_are_clean() -> None:
    class Leaky:
        def get_credential(self) -> Any:
            raise RuntimeError(f"refresh failed for secret {SECRET} token {TOKEN}")

    client = Client(endpoint="http://127.0.0.1:1", credentials=Leaky())
    with client, pytest.raises(CredentialsError) as info:
        client.get_package_job("j")
    check_error(info.value)
    clean(repr(client))


def test_against_the_emulator_sync_and_async(logs: list[logging.LogRecord]) -> None:
    with Emulator(
        jobs=20,
        seed=9,
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        security_token=TOKEN,
        fault_rate=0.3,
        faults=["throttle", "503", "drop", "truncate"],
    ) as emu:
        clean(repr(emu.settings))
        with Client(
            endpoint=emu.endpoint, access_key_id=KEY_ID, access_key_secret=SECRET, security_token=TOKEN
        ) as c:
            for job_id in emu.job_ids:
                clean(repr(c.get_package_job(job_id)))
            clean(repr(c))
            # wrong secret and wrong token: authentication errors
        for secret, token in ((SECRET + "x", TOKEN), (SECRET, TOKEN + "x")):
            with Client(
                endpoint=emu.endpoint, access_key_id=KEY_ID, access_key_secret=secret, security_token=token
            ) as c:
                with pytest.raises(IceError) as info:
                    c.get_package_job(emu.job_ids[0])
                check_error(info.value)
                clean(str(info.value), (secret, token))

        async def run() -> None:
            async with AsyncClient(
                endpoint=emu.endpoint, access_key_id=KEY_ID, access_key_secret=SECRET, security_token=TOKEN
            ) as client:
                jobs = await asyncio.gather(*(client.get_package_job(j) for j in emu.job_ids))
                clean(repr(jobs))
                clean(repr(client))
                with pytest.raises(IceError) as info:
                    await client.get_package_job("f" * 32)
                check_error(info.value)

        asyncio.run(run())
