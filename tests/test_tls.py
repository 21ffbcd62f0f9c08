"""fetch_jobs over HTTPS: RawSender on TLS against the emulator serving a throw-away certificate.

The CA and the server certificates come from ``trustme`` (no network, no binaries). The CA is
trusted the way httpx's default is told to: ``SSL_CERT_FILE``; or, for RawSender alone, a
client ``ssl.SSLContext``. What the tests count is what the emulator saw: TCP connections
accepted (``stats.accepted``, handshakes that failed included), TLS connections set up
(``stats.connections``) and requests (``stats.requests``).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pytest
import trustme

import ice_widgets
from ice_widgets import Client
from ice_widgets import _batch as batch
from ice_widgets._core import PreparedRequest
from ice_widgets._fetch import fetch_jobs
from ice_widgets._frames import build_frame
from ice_widgets._models import PackageJob
from ice_widgets.emulator import Emulator, start_subprocess

JOBS = 300
SEED = 7


class Pki(NamedTuple):
    ca: Any
    cafile: str  # the CA certificate (PEM)
    server_pem: str  # key + chain for 127.0.0.1 and localhost
    other_pem: str  # key + chain for ice.example.com only (host name mismatch)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    cafile = root / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    server = root / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(server))
    other = root / "other.pem"
    ca.issue_cert("ice.example.com").private_key_and_cert_chain_pem.write_to_path(str(other))
    return Pki(ca, str(cafile), str(server), str(other))


@pytest.fixture(scope="module")
def tls_emulator(pki: Pki) -> Iterator[Emulator]:
    with Emulator(jobs=JOBS, seed=SEED, port=0, tls=(pki.server_pem, pki.server_pem)) as emu:
        yield emu


@pytest.fixture(scope="module")
def mismatched_emulator(pki: Pki) -> Iterator[Emulator]:
    with Emulator(jobs=20, seed=SEED, port=0, tls=(pki.other_pem, pki.other_pem)) as emu:
        yield emu


@pytest.fixture
def clean_tls_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CA override and no proxy in the environment."""
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def senders(monkeypatch: pytest.MonkeyPatch) -> list[batch.RawSender]:
    """Every RawSender the batch engine installs during the test."""
    made: list[batch.RawSender] = []
    original = batch._raw_sender_for

    def recording(client: Any) -> batch.RawSender:
        sender = original(client)
        made.append(sender)
        return sender

    monkeypatch.setattr(batch, "_raw_sender_for", recording)
    return made


def make_client(emu: Emulator, **options: Any) -> Client:
    return Client(
        endpoint=emu.endpoint,
        access_key_id=emu.access_key_id,
        access_key_secret=emu.access_key_secret,
        **options,
    )


def counts(emu: Emulator) -> tuple[int, int, int]:
    stats = emu.stats
    return stats.accepted, stats.connections, stats.requests


def assert_rows_match(frame: pd.DataFrame, emu: Emulator, ids: list[str]) -> None:
    got = frame.set_index(frame["job_id"].astype(object)).loc[ids].reset_index(drop=True)
    want = build_frame(
        [PackageJob.from_api(emu.expected(i)) for i in ids], fetched_at=frame.attrs["fetched_at"]
    )
    pd.testing.assert_frame_equal(
        got.astype({"status": object}), want.astype({"status": object}), check_index_type=False
    )


# --------------------------------------------------------------------------- the happy path


def test_fetch_jobs_over_https_uses_raw_sender_and_every_row_is_right(
    tls_emulator: Emulator, pki: Pki, clean_tls_env: pytest.MonkeyPatch, senders: list[batch.RawSender]
) -> None:
    clean_tls_env.setenv("SSL_CERT_FILE", pki.cafile)
    assert tls_emulator.endpoint.startswith("https://127.0.0.1:")
    ids = tls_emulator.job_ids
    before = counts(tls_emulator)
    with make_client(tls_emulator) as client:
        frame = fetch_jobs(ids, client=client, progress=False)
        requests = client.stats.requests
    accepted, connections, served = (b - a for a, b in zip(before, counts(tls_emulator), strict=True))

    assert list(frame["job_id"]) == ids
    assert frame["error_code"].isna().all()
    assert_rows_match(frame, tls_emulator, ids)
    assert frame.attrs["endpoint"] == tls_emulator.endpoint
    # sent by one RawSender over TLS, on keep-alive connections
    assert len(senders) == 1 and senders[0].tls and senders[0].transport_name == "RawSender-https"
    assert senders[0].connections == connections == accepted
    assert 1 <= connections <= batch.DEFAULT_CONCURRENCY < len(ids)
    assert served == requests == len(ids)
    # the client closed every connection it opened
    deadline = time.monotonic() + 5
    while tls_emulator._runner.state.connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not tls_emulator._runner.state.connections


def test_afetch_jobs_over_https_with_the_default_client(
    tls_emulator: Emulator, pki: Pki, clean_tls_env: pytest.MonkeyPatch, senders: list[batch.RawSender]
) -> None:
    """``client=None``: endpoint and keys from the environment, the CA from SSL_CERT_FILE."""
    clean_tls_env.setenv("SSL_CERT_FILE", pki.cafile)
    clean_tls_env.setenv("ALIBABA_CLOUD_ICE_ENDPOINT", tls_emulator.endpoint)
    clean_tls_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", tls_emulator.access_key_id)
    clean_tls_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", tls_emulator.access_key_secret)
    ids = tls_emulator.job_ids[:40]
    frame = asyncio.run(ice_widgets.afetch_jobs(ids, progress=False))
    assert_rows_match(frame, tls_emulator, ids)
    assert [s.transport_name for s in senders] == ["RawSender-https"]


def test_raw_sender_keeps_tls_connections_alive_with_a_client_context(
    tls_emulator: Emulator, pki: Pki, clean_tls_env: pytest.MonkeyPatch
) -> None:
    """A client ``ssl_context`` trusting the CA works without SSL_CERT_FILE; one connection serves all."""
    context = ssl.create_default_context()
    pki.ca.configure_trust(context)
    endpoint = tls_emulator.endpoint
    job_id = tls_emulator.job_ids[0]
    before = counts(tls_emulator)

    async def main() -> list[tuple[int, dict[str, str], bytes]]:
        sender = batch.RawSender(endpoint, timeout=5, ssl_context=context)
        host = endpoint.split("://", 1)[1]
        # unsigned: the emulator answers 4xx with a JSON body, over the same connection
        prepared = PreparedRequest("GetPackageJob", f"{endpoint}/?JobId={job_id}", [("host", host)])
        try:
            return [await sender.send(prepared) for _ in range(5)]
        finally:
            await sender.aclose()

    answers = asyncio.run(main())
    accepted, connections, served = (b - a for a, b in zip(before, counts(tls_emulator), strict=True))
    assert all(400 <= status < 500 and body.startswith(b"{") for status, _, body in answers)
    assert (accepted, connections, served) == (1, 1, 5)


@pytest.mark.parametrize("fault_rate", [0.0, 0.2], ids=["clean", "faults"])
def test_no_tls_connection_is_left_unclosed_when_the_batch_loop_ends(
    pki: Pki, tmp_path: Path, fault_rate: float
) -> None:
    """fetch_jobs' private loop closes only after the TLS shutdowns (no ResourceWarning),
    also those of connections dropped after a failed exchange (faults: drop, truncate, 503).

    Any ResourceWarning fails (an unclosed transport, socket, file or event loop). Seen
    failing under the mutation ``batch_loop_never_closed`` (tests/_mutations.py), which the
    old check (only the text "unclosed transport") let pass.

    The emulator runs in the same process as the client: its thread competes for the GIL,
    so its close_notify answers come late, as from a distant server.
    """
    script = tmp_path / "fetch.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import gc
            import ice_widgets
            from ice_widgets.emulator import Emulator
            with Emulator(jobs=300, seed=3, tls=({pki.server_pem!r}, {pki.server_pem!r}),
                          fault_rate={fault_rate!r}, faults=["drop", "truncate", "503"]) as emu:
                client = ice_widgets.Client(endpoint=emu.endpoint, access_key_id=emu.access_key_id,
                                            access_key_secret=emu.access_key_secret)
                frame = ice_widgets.fetch_jobs(emu.job_ids, client=client, progress=False)
                gc.collect()
                print("rows", int(frame["error_code"].isna().sum()))
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env["SSL_CERT_FILE"] = pki.cafile
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "always::ResourceWarning", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["rows", "300"]
    assert "ResourceWarning" not in done.stderr, done.stderr[-2000:]
    assert "unclosed" not in done.stderr, done.stderr[-2000:]


# --------------------------------------------------------------------------- certificate failures


def _fails_once(
    emu: Emulator, clean_tls_env: pytest.MonkeyPatch, senders: list[batch.RawSender]
) -> tuple[ice_widgets.TransportError, tuple[int, int, int], Any]:
    ids = emu.job_ids[:200]
    before = counts(emu)
    with make_client(emu) as client, pytest.raises(ice_widgets.TransportError) as caught:
        fetch_jobs(ids, client=client, progress=False)
    delta = tuple(b - a for a, b in zip(before, counts(emu), strict=True))
    return caught.value, delta, client.stats  # type: ignore[return-value]


def test_untrusted_certificate_stops_the_batch_with_one_clear_error(
    tls_emulator: Emulator, clean_tls_env: pytest.MonkeyPatch, senders: list[batch.RawSender]
) -> None:
    """The CA is not trusted (certifi only): one handshake, no request, no retry, one error."""
    error, (accepted, connections, served), stats = _fails_once(tls_emulator, clean_tls_env, senders)
    assert error.code == "SSLError"
    assert "certificate" in error.message and "cannot be verified" in error.message
    assert tls_emulator.endpoint.split("://", 1)[1] in error.message
    assert (accepted, connections, served) == (1, 0, 0)
    assert stats.retries == 0
    assert [s.transport_name for s in senders] == ["RawSender-https"]


def test_host_name_mismatch_stops_the_batch_with_one_clear_error(
    mismatched_emulator: Emulator,
    pki: Pki,
    clean_tls_env: pytest.MonkeyPatch,
    senders: list[batch.RawSender],
) -> None:
    """A trusted certificate issued for another host name fails the same way."""
    clean_tls_env.setenv("SSL_CERT_FILE", pki.cafile)
    error, (accepted, connections, served), stats = _fails_once(mismatched_emulator, clean_tls_env, senders)
    assert error.code == "SSLError"
    assert "mismatch" in error.message.lower() and "127.0.0.1" in error.message
    assert (accepted, connections, served) == (1, 0, 0)
    assert stats.retries == 0


def test_sender_repeats_a_certificate_failure_without_connecting_again(
    tls_emulator: Emulator, clean_tls_env: pytest.MonkeyPatch
) -> None:
    """Concurrent sends behind a failing handshake fail at once with the same error."""
    endpoint = tls_emulator.endpoint
    before = counts(tls_emulator)

    async def main() -> list[BaseException | tuple[int, dict[str, str], bytes]]:
        sender = batch.RawSender(endpoint, timeout=5)
        prepared = PreparedRequest("GetPackageJob", endpoint + "/", [])
        try:
            return await asyncio.gather(*(sender.send(prepared) for _ in range(8)), return_exceptions=True)
        finally:
            await sender.aclose()

    results = asyncio.run(main())
    accepted, connections, served = (b - a for a, b in zip(before, counts(tls_emulator), strict=True))
    assert all(isinstance(r, ice_widgets.TransportError) and r.code == "SSLError" for r in results)
    assert (accepted, connections, served) == (1, 0, 0)
    assert batch.is_fatal(results[0]) and not ice_widgets._core.is_retryable(results[0])  # type: ignore[arg-type]


def test_plain_http_to_a_tls_server_is_a_retryable_connection_error(tls_emulator: Emulator) -> None:
    """Not a certificate problem: mapped like any broken exchange (retried by the client)."""
    endpoint = "http://" + tls_emulator.endpoint.split("://", 1)[1]

    async def main() -> None:
        sender = batch.RawSender(endpoint, timeout=2)
        try:
            await sender.send(PreparedRequest("GetPackageJob", endpoint + "/", []))
        finally:
            await sender.aclose()

    with pytest.raises(ice_widgets.TransportError) as caught:
        asyncio.run(main())
    assert caught.value.code != "SSLError" and not batch.is_fatal(caught.value)


# --------------------------------------------------------------------------- the emulator's CLI


def test_emulator_cli_serves_https(pki: Pki, clean_tls_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_tls_env.setenv("SSL_CERT_FILE", pki.cafile)
    with start_subprocess(jobs=30, seed=SEED, tls_cert=pki.server_pem, tls_key=pki.server_pem) as emu:
        assert emu.endpoint.startswith("https://127.0.0.1:")
        with Client(
            endpoint=emu.endpoint,
            access_key_id=ice_widgets.emulator.DEFAULT_ACCESS_KEY_ID,
            access_key_secret=ice_widgets.emulator.DEFAULT_ACCESS_KEY_SECRET,
        ) as client:
            jobs = list(client.list_package_jobs())  # httpx verifies the same CA
            frame = fetch_jobs([job.job_id for job in jobs], client=client, progress=False)
    assert len(jobs) == 30
    assert frame["error_code"].isna().all() and list(frame["status"].astype(str)) == [j.status for j in jobs]


def test_emulator_cli_refuses_a_lone_tls_option(pki: Pki) -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        start_subprocess(jobs=5, seed=SEED, tls_cert=pki.server_pem, timeout=30)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_httpx_client_does_not_retry_an_untrusted_certificate(
    tls_emulator: Emulator, clean_tls_env: pytest.MonkeyPatch, kind: str
) -> None:
    """Client/AsyncClient (httpx) map a failed certificate check to SSLError and send it once.

    The retries counted are read from the client in both branches. Seen failing under the
    mutation ``ssl_error_counted_as_retry`` (tests/_mutations.py), which the old async branch
    (``retries = 0`` set by the test itself) let pass.
    """
    before = counts(tls_emulator)
    job_id = tls_emulator.job_ids[0]
    if kind == "sync":
        with make_client(tls_emulator) as client, pytest.raises(ice_widgets.TransportError) as caught:
            client.get_package_job(job_id)
        retries = client.stats.retries
    else:
        aclient = ice_widgets.AsyncClient(
            endpoint=tls_emulator.endpoint,
            access_key_id=tls_emulator.access_key_id,
            access_key_secret=tls_emulator.access_key_secret,
        )

        async def fetch() -> None:
            async with aclient:
                await aclient.get_package_job(job_id)

        with pytest.raises(ice_widgets.TransportError) as caught:
            asyncio.run(fetch())
        retries = aclient.stats.retries
    assert caught.value.code == "SSLError"
    assert "certificate" in str(caught.value)
    accepted, connections, served = counts(tls_emulator)
    assert (accepted - before[0], connections - before[1], served - before[2]) == (1, 0, 0)
    assert retries == 0, f"{retries} retries counted for a certificate that cannot be verified"


def test_the_default_tls_context_is_made_once_per_ca_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """httpx's default context is shared (loading the CA bundle cost 50-100 ms a client),
    and made again when SSL_CERT_FILE changes, so that the variable is honoured as by httpx."""
    from ice_widgets._wire import shared_ssl_context

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    first = shared_ssl_context()
    assert shared_ssl_context() is first and shared_ssl_context(alpn=True) is not first
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    other = shared_ssl_context()
    assert other is not first
    assert len(other.get_ca_certs()) == 1  # only the CA the variable names, as httpx loads it
    monkeypatch.delenv("SSL_CERT_FILE")
    assert shared_ssl_context() is first
