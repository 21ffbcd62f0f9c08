"""Credential resolution: arguments, environment, aliyun CLI config, credentials.ini, credentials objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ice_widgets import Client, CredentialsError
from ice_widgets._credentials import Credential, resolve_credentials

SECRET = "cred-secret-Q1w2E3"
TOKEN = "cred-token-Z9y8X7"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME and no ALIBABA_CLOUD_* variables."""
    for name in (
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
        "ALIBABA_CLOUD_PROFILE",
        "ALIBABA_CLOUD_CREDENTIALS_FILE",
        "ALIBABA_CLOUD_REGION_ID",
        "ALIBABA_CLOUD_ICE_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def write_cli(home: Path, profiles: list[dict[str, Any]], current: str = "default") -> Path:
    (home / ".aliyun").mkdir(exist_ok=True)
    path = home / ".aliyun" / "config.json"
    path.write_text(json.dumps({"current": current, "profiles": profiles}))
    return path


def write_ini(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_arguments_win(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
    provider = resolve_credentials(access_key_id="arg-id", access_key_secret=SECRET, security_token=TOKEN)
    assert provider.get() == Credential("arg-id", SECRET, TOKEN)
    assert provider.source == "arguments"


def test_half_arguments_are_an_error(home: Path) -> None:
    with pytest.raises(CredentialsError, match="access_key_secret"):
        resolve_credentials(access_key_id="only-id")
    with pytest.raises(CredentialsError, match="access_key_id"):
        resolve_credentials(access_key_secret=SECRET)


def test_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    write_cli(home, [{"name": "default", "mode": "AK", "access_key_id": "cli", "access_key_secret": "x"}])
    provider = resolve_credentials()
    assert provider.get() == Credential("env-id", SECRET)
    assert provider.source == "environment (ALIBABA_CLOUD_ACCESS_KEY_ID)"
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    assert resolve_credentials().get().security_token == TOKEN


def test_environment_half_set(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id")
    with pytest.raises(CredentialsError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        resolve_credentials()


def test_cli_config_ak_and_sts_profiles(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_cli(
        home,
        [
            {"name": "default", "mode": "AK", "access_key_id": "cli-ak", "access_key_secret": SECRET},
            {
                "name": "sts",
                "mode": "StsToken",
                "access_key_id": "STS.id",
                "access_key_secret": SECRET,
                "sts_token": TOKEN,
                "region_id": "cn-beijing",
            },
        ],
    )
    provider = resolve_credentials()
    assert provider.get() == Credential("cli-ak", SECRET)
    assert "'default'" in provider.source and str(path) in provider.source

    sts = resolve_credentials(profile="sts")
    assert sts.get() == Credential("STS.id", SECRET, TOKEN)
    monkeypatch.setenv("ALIBABA_CLOUD_PROFILE", "sts")
    assert resolve_credentials().get().security_token == TOKEN

    write_cli(
        home,
        [
            {"name": "default", "mode": "AK", "access_key_id": "a", "access_key_secret": "b"},
            {
                "name": "sts",
                "mode": "StsToken",
                "access_key_id": "c",
                "access_key_secret": "d",
                "sts_token": "t",
            },
        ],
        current="sts",
    )
    monkeypatch.delenv("ALIBABA_CLOUD_PROFILE")
    assert resolve_credentials().get().access_key_id == "c", "the file's current profile"


def test_cli_profile_of_a_role_mode_names_what_is_missing(home: Path) -> None:
    path = write_cli(
        home, [{"name": "default", "mode": "RamRoleArn", "access_key_id": "a", "access_key_secret": "b"}]
    )
    with pytest.raises(CredentialsError) as info:
        resolve_credentials()
    assert info.value.code == "IncompleteCredentials"
    assert "'default'" in str(info.value) and str(path) in str(info.value) and "RamRoleArn" in str(info.value)
    write_cli(home, [{"name": "default", "mode": "RsaKeyPair"}])
    with pytest.raises(CredentialsError) as info:
        resolve_credentials()
    assert info.value.code == "UnsupportedCredentialsMode" and "RsaKeyPair" in str(info.value)


def test_unreadable_cli_config(home: Path) -> None:
    (home / ".aliyun").mkdir()
    (home / ".aliyun" / "config.json").write_text("{not json")
    with pytest.raises(CredentialsError, match=r"config\.json"):
        resolve_credentials()


def test_credentials_ini(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_ini(
        home / ".alibabacloud" / "credentials.ini",
        f"[default]\ntype = access_key\naccess_key_id = ini-ak\naccess_key_secret = {SECRET}\n\n"
        "[other]\ntype = access_key\naccess_key_id = other-ak\naccess_key_secret = other-secret\n",
    )
    provider = resolve_credentials()
    assert provider.get() == Credential("ini-ak", SECRET)
    assert str(path) in provider.source and "[default]" in provider.source
    monkeypatch.setenv("ALIBABA_CLOUD_PROFILE", "other")
    assert resolve_credentials().get().access_key_id == "other-ak"


def test_credentials_file_variable(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_ini(
        home / "elsewhere" / "creds.ini",
        f"[default]\naccess_key_id = custom-ak\naccess_key_secret = {SECRET}\n",
    )
    monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", str(path))
    assert resolve_credentials().get().access_key_id == "custom-ak"


def test_ini_with_other_type(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    write_ini(home / ".alibabacloud" / "credentials.ini", "[default]\ntype = ecs_ram_role\nrole_name = r\n")
    with pytest.raises(CredentialsError, match="type = ecs_ram_role") as info:
        resolve_credentials()
    assert "ALIBABA_CLOUD_ECS_METADATA_DISABLED" in str(info.value)
    write_ini(home / ".alibabacloud" / "credentials.ini", "[default]\ntype = rsa_key_pair\n")
    with pytest.raises(CredentialsError, match="type = rsa_key_pair") as info:
        resolve_credentials()
    assert info.value.code == "UnsupportedCredentialsMode"


def test_cli_before_ini(home: Path) -> None:
    write_cli(
        home, [{"name": "default", "mode": "AK", "access_key_id": "cli-ak", "access_key_secret": SECRET}]
    )
    write_ini(
        home / ".alibabacloud" / "credentials.ini", "[default]\naccess_key_id = ini\naccess_key_secret = s\n"
    )
    assert resolve_credentials().get().access_key_id == "cli-ak"


def test_nothing_found_names_everything(home: Path) -> None:
    with pytest.raises(CredentialsError) as info:
        resolve_credentials()
    text = str(info.value)
    for expected in (
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
        str(home / ".aliyun" / "config.json"),
        str(home / ".alibabacloud" / "credentials.ini"),
        "ALIBABA_CLOUD_CREDENTIALS_FILE",
    ):
        assert expected in text
    assert "\n" not in text
    assert info.value.code == "NoCredentials"


def test_client_reports_where_credentials_came_from(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with pytest.raises(CredentialsError):
        Client(endpoint="http://127.0.0.1:1", transport=transport)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    with Client(endpoint="http://127.0.0.1:1", transport=transport) as client:
        assert client.credentials_source == "environment (ALIBABA_CLOUD_ACCESS_KEY_ID)"


class FakeModel:
    def __init__(self, ak: str, secret: str, token: str | None) -> None:
        self.access_key_id, self.access_key_secret, self.security_token = ak, secret, token


class FakeOfficial:
    """Quacks like alibabacloud_credentials.client.Client: get_credential() -> CredentialModel."""

    def __init__(self) -> None:
        self.calls = 0

    def get_credential(self) -> FakeModel:
        self.calls += 1
        return FakeModel(f"STS.rotated{self.calls}", SECRET, TOKEN)


def test_credentials_object_is_used_and_cached(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeOfficial()
    provider = resolve_credentials(credentials=fake)
    first = provider.get()
    assert first == Credential("STS.rotated1", SECRET, TOKEN)
    assert provider.get() is first and fake.calls == 1, "cached briefly"
    assert provider.invalidate(first)  # the service refused it: the object is asked again
    assert provider.get().access_key_id == "STS.rotated2", "asked again once the cache expires"
    assert provider.renewals == 1
    assert "FakeOfficial" in provider.source


def test_official_credentials_client(home: Path) -> None:
    from alibabacloud_credentials.client import Client as CredClient
    from alibabacloud_credentials.models import Config

    official = CredClient(Config(type="access_key", access_key_id="official-ak", access_key_secret=SECRET))
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"PackageJob": {"JobId": "j"}})

    with Client(
        endpoint="http://127.0.0.1:1", credentials=official, transport=httpx.MockTransport(handler)
    ) as client:
        assert client.get_package_job("j").job_id == "j"
        assert "alibabacloud_credentials" in client.credentials_source
    assert "Credential=official-ak," in seen[0].headers["authorization"]


def test_failing_credentials_object(home: Path) -> None:
    class Broken:
        def get_credential(self) -> Any:
            raise RuntimeError(f"metadata service down, secret {SECRET}")

    provider = resolve_credentials(credentials=Broken())
    with pytest.raises(CredentialsError) as info:
        provider.get()
    assert SECRET not in str(info.value)
    with pytest.raises(CredentialsError):
        resolve_credentials(credentials=object())


def test_async_client_never_waits_on_the_object_in_its_loop(home: Path) -> None:
    import asyncio
    import threading

    class AsyncOfficial(FakeOfficial):
        def __init__(self) -> None:
            super().__init__()
            self.async_calls = 0
            self.threads: set[str] = set()

        def get_credential(self) -> FakeModel:
            self.threads.add(threading.current_thread().name)
            return super().get_credential()

        async def get_credential_async(self) -> FakeModel:
            self.async_calls += 1
            return FakeModel("STS.async", SECRET, TOKEN)

    fake = AsyncOfficial()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"PackageJob": {"JobId": "j"}})

    async def main() -> None:
        from ice_widgets import AsyncClient

        async with AsyncClient(
            endpoint="http://127.0.0.1:1", credentials=fake, transport=httpx.MockTransport(handler)
        ) as client:
            results = await asyncio.gather(*(client.get_package_job("j") for _ in range(20)))
            assert all(job.job_id == "j" for job in results)

    asyncio.run(main())
    assert fake.calls == 1 and fake.async_calls == 0, "asked once, for every coroutine"
    assert fake.threads == {"ice-widgets-credentials"}, "in a worker thread, not in the loop"
    assert all("Credential=STS.rotated1," in r.headers["authorization"] for r in seen)
    assert all(r.headers["x-acs-security-token"] == TOKEN for r in seen)
