"""One error vocabulary: the same transport failure gives the same class and code on both paths.

Each failure is produced by a real local server (or a port nobody listens on) and met
twice: by ``AsyncClient.get_package_job`` on its httpx transport (the single-call path)
and by the batch path (``fetch_jobs``'s twin client on the h11 batch sender). The
exception class and ``code`` must be the same, and ``fetch_jobs`` must put that code in
the row. Retries are off so that each failure is seen once.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trustme

import ice_widgets
from ice_widgets import AsyncClient, Client
from ice_widgets._batch import async_client_for, transport_name
from ice_widgets._errors import (
    CLIENT_CLOSED,
    CONNECT_ERROR,
    CONNECTION_ERROR,
    INCOMPLETE_RESPONSE,
    SSL_ERROR,
    TIMEOUT,
    TRANSPORT_CODES,
    IceError,
)

JOB = "0123456789abcdef0123456789abcdef"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    await asyncio.sleep(3)
    writer.close()


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # RST: the connection is reset


async def truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"Pack')
    await writer.drain()
    writer.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _both(endpoint: str, *, timeout: float = 5.0) -> tuple[IceError, IceError, str]:
    """(single-call error, batch error, the batch transport's name) for one GetPackageJob."""
    single = AsyncClient(
        endpoint=endpoint, access_key_id="k", access_key_secret="s", timeout=timeout, max_retries=0
    )
    batch = async_client_for(single)
    errors: list[IceError] = []
    try:
        for client in (single, batch):
            with pytest.raises(IceError) as caught:
                await client.get_package_job(JOB)
            errors.append(caught.value)
    finally:
        name = transport_name(batch)
        await batch.aclose()
        await single.aclose()
    return errors[0], errors[1], name


async def _with_server(handler: Handler, ssl_context: ssl.SSLContext | None = None, **kw: Any) -> Any:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_context)
    scheme = "https" if ssl_context else "http"
    endpoint = f"{scheme}://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        return await _both(endpoint, **kw)


def _check(single: IceError, batch: IceError, name: str, code: str) -> None:
    assert name.startswith("RawSender"), name  # the batch really ran on the batch sender
    assert (type(single), single.code) == (type(batch), batch.code) == (type(single), code)
    assert code in TRANSPORT_CODES


def test_refused_connection() -> None:
    single, batch, name = asyncio.run(_both(f"http://127.0.0.1:{_free_port()}"))
    _check(single, batch, name, CONNECT_ERROR)


def test_timeout() -> None:
    single, batch, name = asyncio.run(_with_server(silent, timeout=0.3))
    _check(single, batch, name, TIMEOUT)
    assert isinstance(single, ice_widgets.RequestTimeoutError)


def test_reset() -> None:
    single, batch, name = asyncio.run(_with_server(reset))
    _check(single, batch, name, CONNECTION_ERROR)


def test_truncated_body() -> None:
    single, batch, name = asyncio.run(_with_server(truncated))
    _check(single, batch, name, INCOMPLETE_RESPONSE)
    assert isinstance(single, ice_widgets.InvalidResponseError)


def test_unverifiable_certificate() -> None:
    ca = trustme.CA()  # a CA the client does not trust
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with_reader = reader
        try:
            await _read_request(with_reader)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        writer.close()

    single, batch, name = asyncio.run(_with_server(answer, server_context))
    _check(single, batch, name, SSL_ERROR)


def test_closed_client_and_closed_batch_sender_alike() -> None:
    async def main() -> tuple[IceError, IceError]:
        single = AsyncClient(endpoint="http://127.0.0.1:9", access_key_id="k", access_key_secret="s")
        batch = async_client_for(single)
        await single.aclose()
        await batch.aclose()
        out = []
        for client in (single, batch):
            with pytest.raises(IceError) as caught:
                await client.get_package_job(JOB)
            out.append(caught.value)
        return out[0], out[1]

    single, batch = asyncio.run(main())
    assert (type(single), single.code) == (type(batch), batch.code) == (type(single), CLIENT_CLOSED)
    assert batch.code == CLIENT_CLOSED  # never retried: see _core._NOT_RETRIED_TRANSPORT


@pytest.mark.parametrize("handler", [reset, truncated], ids=["reset", "truncated"])
def test_fetch_jobs_rows_carry_the_single_call_code(handler: Handler) -> None:
    async def main() -> tuple[str, str]:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        endpoint = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with server:
            single = AsyncClient(endpoint=endpoint, access_key_id="k", access_key_secret="s", max_retries=0)
            with pytest.raises(IceError) as caught:
                await single.get_package_job(JOB)
            frame = await ice_widgets.afetch_jobs([JOB], client=single, progress=False)
            await single.aclose()
        return str(caught.value.code), str(frame["error_code"].iloc[0])

    code, row_code = asyncio.run(main())
    assert code == row_code


def test_a_sync_client_names_a_refused_connection_alike() -> None:
    port = _free_port()
    with Client(
        endpoint=f"http://127.0.0.1:{port}", access_key_id="k", access_key_secret="s", max_retries=0
    ) as c:
        with pytest.raises(IceError) as caught:
            c.get_package_job(JOB)
        frame = ice_widgets.fetch_jobs([JOB], client=c, progress=False)
    assert caught.value.code == CONNECT_ERROR == frame["error_code"].iloc[0]


# --------------------------------------------------------------------------- one client, one account


def test_fetch_jobs_and_watch_on_one_client_both_count_in_its_stats() -> None:
    from ice_widgets.emulator import Emulator
    from ice_widgets.widgets._watch import WatchView

    with Emulator(jobs=20, seed=41) as emu:
        client = Client(
            endpoint=emu.endpoint, access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret
        )
        with client:
            frame = ice_widgets.fetch_jobs(emu.job_ids[:10], client=client, progress=False)
            assert frame["error_code"].isna().all()
            after_fetch = client.stats.requests
            assert after_fetch >= 10  # the batch ran on a copy that counts here

            async def poll() -> None:
                view = WatchView(emu.job_ids[10:15], client=client)  # a sync client: watch copies it
                try:
                    await view.poll_once()
                finally:
                    view.close()

            asyncio.run(poll())
            assert client.stats.requests >= after_fetch + 5  # the watch's requests count too
            copy = client.copy(asynchronous=True)
            assert copy.stats is client.stats and copy.rate is client.rate
            asyncio.run(copy.aclose())


def test_max_rate_paces_from_the_first_request_so_a_known_quota_is_not_throttled() -> None:
    from ice_widgets.emulator import Emulator

    with Emulator(jobs=60, seed=43, qps=25) as emu:
        options = {
            "endpoint": emu.endpoint,
            "access_key_id": emu.access_key_id,
            "access_key_secret": emu.access_key_secret,
        }
        with Client(**options, max_rate=20) as paced:
            assert paced.rate.rate == 20.0 and paced.rate.max_rate == 20.0
            frame = ice_widgets.fetch_jobs(emu.job_ids, client=paced, progress=False, concurrency=16)
            assert frame["error_code"].isna().all()
            assert paced.stats.throttled == 0  # paced below the quota from the start: no burst
            assert paced.rate.rate is not None and paced.rate.rate <= 20.0
        with Client(**options) as same_account:  # the quota is the account's: still paced
            assert same_account.rate is paced.rate and same_account.rate.max_rate == 20.0
        ice_widgets.forget_learned_rates()  # as in a new kernel
        with Client(**options) as unpaced:  # the contrast: unlimited at first, it bursts
            assert unpaced.rate.rate is None
            ice_widgets.fetch_jobs(emu.job_ids, client=unpaced, progress=False, concurrency=16)
            assert unpaced.stats.throttled > 0
    with pytest.raises(ice_widgets.InvalidParameterError, match="max_rate"):
        Client(endpoint="http://127.0.0.1:9", access_key_id="k", access_key_secret="s", max_rate=0)
