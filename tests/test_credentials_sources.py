"""Temporary credentials from the sources the emulator can act as (issue 11).

Every test runs against real servers on 127.0.0.1: the ICE emulator accepts the STS keys
that :class:`~ice_widgets.emulator._sts.CredentialSources` hands out (credentials URI,
STS AssumeRole / AssumeRoleWithOIDC, the ECS metadata service behind ``HTTP_PROXY``) until
they expire, then refuses them with ``InvalidSecurityToken.Expired``. Keys here live a few
seconds, so renewals happen during a batch and a watch.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ice_widgets import AsyncClient, Client, CredentialsError, fetch_jobs
from ice_widgets._credentials import INSTALL_HINT
from ice_widgets._frames import build_frame
from ice_widgets._models import PackageJob
from ice_widgets.emulator import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    CredentialSources,
    Emulator,
    StsIssuer,
)
from ice_widgets.widgets._watch import WatchView

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ALIBABA_CLOUD_* variable but the metadata switch-off; an empty HOME."""
    for name in list(os.environ):
        if name.startswith("ALIBABA_CLOUD_") or name.lower() in ("http_proxy", "https_proxy", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def sources() -> Iterator[CredentialSources]:
    with CredentialSources(ttl=3) as running:
        yield running


@pytest.fixture
def sts_emulator(sources: CredentialSources) -> Iterator[Emulator]:
    with Emulator(jobs=200, seed=11, sts=sources.issuer) as emu:
        yield emu


def write_cli(home: Path, profiles: list[dict[str, Any]], current: str = "default") -> Path:
    (home / ".aliyun").mkdir(exist_ok=True)
    path = home / ".aliyun" / "config.json"
    path.write_text(json.dumps({"current": current, "profiles": profiles}))
    return path


def assert_rows_match(frame: pd.DataFrame, emu: Emulator, ids: list[str]) -> None:
    got = frame.set_index(frame["job_id"].astype(object)).loc[ids].reset_index(drop=True)
    want = build_frame(
        [PackageJob.from_api(emu.expected(i)) for i in ids], fetched_at=frame.attrs["fetched_at"]
    )
    pd.testing.assert_frame_equal(
        got.astype({"status": object}), want.astype({"status": object}), check_index_type=False
    )


def issued_secrets(issuer: StsIssuer) -> list[str]:
    keys = list(issuer._keys.values())
    return [k.access_key_secret for k in keys] + [k.security_token for k in keys]


# --------------------------------------------------------------------------- credentials URI


@pytest.mark.slow
def test_uri_tokens_expiring_every_few_seconds_during_a_5000_id_fetch(
    clean: Path, monkeypatch: pytest.MonkeyPatch, sources: CredentialSources
) -> None:
    """5,000 IDs, 8 in flight, 10 ms per answer: at least 6 s, over two token lifetimes."""
    with Emulator(jobs=5000, seed=3, sts=sources.issuer, latency_ms=10) as emu:
        monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", sources.uri)
        ids = emu.job_ids
        assert len(ids) == 5000
        with Client(endpoint=emu.endpoint) as client:
            assert client.credentials_source == f"alibabacloud_credentials: credentials URI {sources.uri}"
            frame = fetch_jobs(ids, client=client, concurrency=8, progress=False)
            renewals = client.credentials_renewals
            stats = client.stats.as_dict()
        print(f"\n5,000-ID fetch: {renewals} renewals, {sources.counts['uri']} URI requests, {stats}")
        assert len(frame) == 5000
        assert frame["error_code"].isna().all()
        assert_rows_match(frame, emu, ids)
        assert "AuthenticationError" not in set(frame["error_code"].dropna())
        assert not frame["error_code"].fillna("").str.startswith("InvalidSecurityToken").any()
        assert renewals >= 2, "the fetch lasted over two token lifetimes"
        assert sources.counts["uri"] == renewals + 1
        assert emu.stats.codes.get("InvalidSecurityToken.Expired", 0) == stats["by_code"].get(
            "InvalidSecurityToken.Expired", 0
        ), "every refused token was signed again (and counted)"


@pytest.mark.slow
def test_a_request_that_races_an_expiry_is_signed_again_once(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service refuses each token 1.5 s before its Expiration: requests race expiries.

    The client renews a 3-second token one second before its Expiration, so every request
    signed in the half second before that is refused, renewed and signed again.
    """
    with (
        CredentialSources(issuer=StsIssuer(3, expire_early=1.5)) as sources,
        Emulator(jobs=4000, seed=5, sts=sources.issuer, latency_ms=10) as emu,
    ):
        monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", sources.uri)
        ids = emu.job_ids  # 4,000 IDs, 8 in flight, 10 ms each: at least 5 s, two lifetimes
        with Client(endpoint=emu.endpoint) as client:
            frame = fetch_jobs(ids, client=client, concurrency=8, progress=False)
            stats = client.stats.as_dict()
            renewals = client.credentials_renewals
        print(f"\nraced expiries: {stats['by_code']}, {renewals} renewals")
        refused = emu.stats.codes.get("InvalidSecurityToken.Expired", 0)
        assert refused > 0, "some requests raced an expiry"
        assert stats["by_code"]["InvalidSecurityToken.Expired"] == refused
        assert stats["errors"] == 0
        assert frame["error_code"].isna().all()
        assert_rows_match(frame, emu, emu.job_ids)


def test_a_token_refused_twice_is_one_clear_error(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source that keeps giving dead tokens: signed again once, then AuthenticationError."""
    from ice_widgets import AuthenticationError

    with (
        CredentialSources(issuer=StsIssuer(30, expire_early=60)) as sources,
        Emulator(jobs=5, seed=5, sts=sources.issuer) as emu,
    ):
        monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", sources.uri)
        with Client(endpoint=emu.endpoint) as client, pytest.raises(AuthenticationError) as info:
            client.get_package_job(emu.job_ids[0])
        assert info.value.code == "InvalidSecurityToken.Expired"
        assert "credentials URI" in str(info.value)
        assert emu.stats.codes["InvalidSecurityToken.Expired"] == 2, "one retry with a renewed token"
        for secret in issued_secrets(sources.issuer):
            assert secret not in str(info.value) and secret not in repr(client)


@pytest.mark.slow
def test_a_60_second_watch_renews_without_a_failed_row(
    clean: Path, monkeypatch: pytest.MonkeyPatch, sources: CredentialSources, sts_emulator: Emulator
) -> None:
    emu = sts_emulator
    monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", sources.uri)
    unfinished = [i for i in emu.job_ids if emu.expected(i)["Status"] == "Init"][:20]
    assert len(unfinished) >= 5, "seeded Init jobs stay Init: the watch runs until stopped"

    async def main() -> tuple[WatchView, int]:
        async with AsyncClient(endpoint=emu.endpoint) as client:
            view = WatchView(unfinished, client=client, interval=0.5)
            asyncio.get_running_loop().call_later(60.0, view.stop)
            await view.run()
            return view, client.credentials_renewals

    view, renewals = asyncio.run(main())
    try:
        print(
            f"\n60 s watch: {view.rounds} rounds, {renewals} renewals, {sources.counts['uri']} URI requests"
        )
        assert view._failure is None
        assert view._stale == {}
        assert view.rounds >= 60
        assert renewals >= 15, "about one renewal per 3-second token"
        frame = view.frame
        assert frame["error_code"].isna().all()
        assert_rows_match(frame, emu, unfinished)
    finally:
        view.close()


# --------------------------------------------------------------------------- CLI profiles


def test_cli_profiles_in_every_mode_the_emulator_serves(
    clean: Path, sources: CredentialSources, sts_emulator: Emulator
) -> None:
    emu = sts_emulator
    static_token = "emulator-static-sts-token"
    token_file = sources.write_oidc_token(clean / "oidc-token")
    path = write_cli(
        clean,
        [
            {
                "name": "ak",
                "mode": "AK",
                "access_key_id": DEFAULT_ACCESS_KEY_ID,
                "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
            },
            {
                "name": "role",
                "mode": "RamRoleArn",
                "access_key_id": DEFAULT_ACCESS_KEY_ID,
                "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
                "ram_role_arn": sources.role_arn,
                "ram_session_name": "notebook",
                "expired_seconds": 0,
                "sts_endpoint": sources.sts_endpoint,
            },
            {
                "name": "chain",
                "mode": "ChainableRamRoleArn",
                "source_profile": "role",
                "ram_role_arn": sources.role_arn,
                "sts_endpoint": sources.sts_endpoint,
            },
            {
                "name": "oidc",
                "mode": "OIDC",
                "ram_role_arn": sources.role_arn,
                "oidc_provider_arn": sources.oidc_provider_arn,
                "oidc_token_file": str(token_file),
                "sts_endpoint": sources.sts_endpoint,
            },
            {"name": "uri", "mode": "CredentialsURI", "credentials_uri": sources.uri},
        ],
    )
    job = emu.job_ids[0]
    expected_sources = {
        "ak": f"aliyun CLI profile 'ak' in {path}",
        "role": "alibabacloud_credentials: RAM role",
        "chain": "alibabacloud_credentials: RAM role",
        "oidc": "alibabacloud_credentials: OIDC role",
        "uri": "alibabacloud_credentials: credentials URI",
    }
    for name, source in expected_sources.items():
        with Client(endpoint=emu.endpoint, profile=name) as client:
            assert client.get_package_job(job).job_id == job, name
            assert client.credentials_source.startswith(source), client.credentials_source
            if name != "ak":
                assert f"aliyun CLI profile {name!r}" in client.credentials_source
    assert sources.counts["AssumeRole"] == 3, "role once, chain twice (its source role, then its own)"
    assert sources.counts["AssumeRoleWithOIDC"] == 1
    assert sources.counts["uri"] == 1
    assert not any(kind.startswith("refused") for kind in sources.counts)

    # StsToken: a fixed token the emulator is told to require.
    with Emulator(jobs=5, seed=1, security_token=static_token) as sts_only:
        write_cli(
            clean,
            [
                {
                    "name": "sts",
                    "mode": "StsToken",
                    "access_key_id": DEFAULT_ACCESS_KEY_ID,
                    "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
                    "sts_token": static_token,
                }
            ],
        )
        with Client(endpoint=sts_only.endpoint, profile="sts") as client:
            assert client.get_package_job(sts_only.job_ids[0]).job_id == sts_only.job_ids[0]
            assert client.credentials_source == f"aliyun CLI profile 'sts' in {path}"


def test_ram_role_renewal_through_sts(
    clean: Path, sources: CredentialSources, sts_emulator: Emulator
) -> None:
    emu = sts_emulator
    write_cli(
        clean,
        [
            {
                "name": "default",
                "mode": "RamRoleArn",
                "access_key_id": DEFAULT_ACCESS_KEY_ID,
                "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
                "ram_role_arn": sources.role_arn,
                "sts_endpoint": sources.sts_endpoint,
            }
        ],
    )
    with Client(endpoint=emu.endpoint) as client:
        frame = fetch_jobs(emu.job_ids * 10, client=client, concurrency=4, progress=False)
        first_source = client.credentials_source
        # Long enough (2,000 requests) on this machine? Not asserted: only that it never failed.
        assert frame["error_code"].isna().all()
        assert_rows_match(frame, emu, emu.job_ids)
        assert sources.counts["AssumeRole"] == client.credentials_renewals + 1
    assert sources.role_arn in first_source


def test_a_refused_assume_role_is_one_line_naming_the_profile(
    clean: Path, sources: CredentialSources, sts_emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write_cli(
        clean,
        [
            {
                "name": "default",
                "mode": "RamRoleArn",
                "access_key_id": DEFAULT_ACCESS_KEY_ID,
                "access_key_secret": "a-wrong-secret-7f3a",
                "ram_role_arn": sources.role_arn,
                "sts_endpoint": sources.sts_endpoint,
            }
        ],
    )
    with pytest.raises(CredentialsError) as info:
        Client(endpoint=sts_emulator.endpoint)
    text = str(info.value)
    assert "\n" not in text
    assert "'default'" in text and str(path) in text and "HTTP 400" in text
    assert "a-wrong-secret-7f3a" not in text
    assert sources.counts["refused:SignatureDoesNotMatch"] == 1
    assert sts_emulator.stats.requests == 0
    out, err = capfd.readouterr()
    assert "SignatureDoesNotMatch" not in out + err, "the official library's own logs stay quiet"


# --------------------------------------------------------------------------- environment sources


def test_oidc_environment_of_an_ack_pod(
    clean: Path, monkeypatch: pytest.MonkeyPatch, sources: CredentialSources, sts_emulator: Emulator
) -> None:
    token_file = sources.write_oidc_token(clean / "token")
    monkeypatch.setenv("ALIBABA_CLOUD_ROLE_ARN", sources.role_arn)
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", sources.oidc_provider_arn)
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("ALIBABA_CLOUD_STS_ENDPOINT", sources.sts_endpoint)
    with Client(endpoint=sts_emulator.endpoint) as client:
        assert client.get_package_job(sts_emulator.job_ids[1]).job_id == sts_emulator.job_ids[1]
        assert client.credentials_source == (
            f"alibabacloud_credentials: OIDC role {sources.role_arn!r} (token file {token_file})"
        )
    assert sources.counts["AssumeRoleWithOIDC"] == 1


_ECS_SCRIPT = textwrap.dedent(
    """
    import sys
    from ice_widgets import Client
    with Client(endpoint=sys.argv[1]) as client:
        print(client.credentials_source)
        print(client.get_package_job(sys.argv[2]).job_id)
    """
)


def test_ecs_ram_role_from_a_metadata_stand_in(
    clean: Path, sources: CredentialSources, sts_emulator: Emulator
) -> None:
    """PAI-DSW / ECS: no variable at all, the instance's role from 100.100.100.200.

    The official provider's metadata host is fixed; it honours HTTP_PROXY, so the stand-in
    is named as the proxy and answers for 100.100.100.200 itself (it forwards nothing). In a
    subprocess: the library reads ALIBABA_CLOUD_ECS_METADATA_DISABLED when it is imported.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    env.update(
        HOME=str(clean), PYTHONPATH=str(ROOT), HTTP_PROXY=sources.proxy, NO_PROXY="127.0.0.1,localhost"
    )
    job = sts_emulator.job_ids[2]
    for named in (False, True):
        if named:
            env["ALIBABA_CLOUD_ECS_METADATA"] = "dsw-role"
        before = sources.counts["metadata-role"]
        done = subprocess.run(
            [sys.executable, "-c", _ECS_SCRIPT, sts_emulator.endpoint, job],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split("\n")[:2] == ["alibabacloud_credentials: ECS RAM role 'dsw-role'", job]
        if named:
            assert sources.counts["metadata-role"] == before, "the role is named: not looked up"
        else:
            assert sources.counts["metadata-role"] > before
    assert sources.counts["metadata-credentials"] == 2
    assert sources.counts["metadata-token"] >= 2, "IMDSv2: a metadata token first"


# --------------------------------------------------------------------------- without the extra

_WITHOUT_EXTRA = textwrap.dedent(
    """
    import sys
    sys.modules["alibabacloud_credentials"] = None  # as if it were not installed
    from ice_widgets import Client, CredentialsError
    try:
        Client(endpoint=sys.argv[1])
    except CredentialsError as error:
        print(error.code)
        print(str(error))
    else:
        print("no error")
    print("loaded" if any(n.startswith("alibabacloud_credentials.") for n in sys.modules) else "not loaded")
    """
)


@pytest.mark.parametrize("mode", ["RamRoleArn", "EcsRamRole", "OIDC", "credentials-uri", "oidc-env"])
def test_without_the_extra_one_line_names_the_install_command(
    clean: Path, sources: CredentialSources, sts_emulator: Emulator, mode: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    env.update(HOME=str(clean), PYTHONPATH=str(ROOT))
    if mode == "credentials-uri":
        env["ALIBABA_CLOUD_CREDENTIALS_URI"] = sources.uri
        where = "ALIBABA_CLOUD_CREDENTIALS_URI"
    elif mode == "oidc-env":
        env.update(
            ALIBABA_CLOUD_ROLE_ARN=sources.role_arn,
            ALIBABA_CLOUD_OIDC_PROVIDER_ARN=sources.oidc_provider_arn,
            ALIBABA_CLOUD_OIDC_TOKEN_FILE=str(sources.write_oidc_token(clean / "t")),
        )
        where = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
    else:
        path = write_cli(
            clean,
            [
                {
                    "name": "default",
                    "mode": mode,
                    "access_key_id": DEFAULT_ACCESS_KEY_ID,
                    "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
                    "ram_role_arn": sources.role_arn,
                    "ram_role_name": "dsw-role",
                    "sts_endpoint": sources.sts_endpoint,
                }
            ],
        )
        where = f"the aliyun CLI profile 'default' in {path} (mode {mode})"
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRA, sts_emulator.endpoint],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    code, message, loaded = done.stdout.strip().split("\n")
    assert code == "CredentialsLibraryMissing"
    assert INSTALL_HINT in message and where in message
    assert loaded == "not loaded"
    assert sts_emulator.stats.requests == 0
    assert sum(sources.counts.values()) == 0


def test_without_the_extra_no_credentials_says_how_to_use_an_instance_role(clean: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    env.update(HOME=str(clean), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRA, "http://127.0.0.1:9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    code, message, _ = done.stdout.strip().split("\n")
    assert code == "NoCredentials"
    assert f"on ECS or PAI-DSW with an instance RAM role: {INSTALL_HINT}" in message


def test_static_keys_never_import_the_official_library(clean: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from ice_widgets import Client
        Client(endpoint="http://127.0.0.1:9", access_key_id="a", access_key_secret="b")
        print(any(n.startswith("alibabacloud_credentials") for n in sys.modules))
        """
    )
    env = {**os.environ, "HOME": str(clean), "PYTHONPATH": str(ROOT), "ALIBABA_CLOUD_ACCESS_KEY_ID": "x"}
    env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "y"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


_EXTERNAL = textwrap.dedent(
    """
    import json, sys, urllib.request
    with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:
        got = json.load(answer)
    print(json.dumps({
        "mode": "StsToken",
        "access_key_id": got["AccessKeyId"],
        "access_key_secret": got["AccessKeySecret"],
        "sts_token": got["SecurityToken"],
        "expiration": got["Expiration"],
    }))
    """
)


def test_cli_external_mode_is_handed_to_the_official_provider(
    clean: Path, sources: CredentialSources, sts_emulator: Emulator
) -> None:
    """Mode External runs the profile's process_command (here: a script asking the URI)."""
    script = clean / "credential_process.py"
    script.write_text(_EXTERNAL)
    path = write_cli(
        clean,
        [
            {
                "name": "default",
                "mode": "External",
                "process_command": f"{sys.executable} {script} {sources.uri}",
            }
        ],
    )
    with Client(endpoint=sts_emulator.endpoint) as client:
        assert client.get_package_job(sts_emulator.job_ids[3]).job_id == sts_emulator.job_ids[3]
        assert client.credentials_source == (
            f"alibabacloud_credentials: External process {Path(sys.executable).name!r}"
            f" (aliyun CLI profile 'default', mode External, {path})"
        )
    assert sources.counts["uri"] == 1


def test_a_credentials_uri_is_named_without_its_query(
    clean: Path, monkeypatch: pytest.MonkeyPatch, sources: CredentialSources, sts_emulator: Emulator
) -> None:
    """A sidecar URI may carry a token in its query or user info: the source never shows them."""
    uri = sources.uri.replace("http://", "http://user:pass-Zq81@") + "?auth=sidecar-token-Xw47"
    monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", uri)
    with Client(endpoint=sts_emulator.endpoint) as client:
        assert client.credentials_source == f"alibabacloud_credentials: credentials URI {sources.uri}"
        assert "sidecar-token-Xw47" not in repr(client) and "pass-Zq81" not in repr(client)
        assert client.get_package_job(sts_emulator.job_ids[0]).job_id == sts_emulator.job_ids[0]
