"""Client CPU per request, and the adaptive rate against a QPS limit.

The emulator runs in a child process, so ``time.process_time()`` here counts the client
only (all its threads). Every answer is checked (the JobId asked for).

1. CPU milliseconds per GetPackageJob (latency 0, no faults):
   - ``Client``, one thread;
   - ``Client`` shared by a 16-thread pool;
   - ``AsyncClient``, 16 concurrent calls (httpx's own async transport);
   - the official SDK (alibabacloud-ice20201109) in a 16-thread pool, for comparison.
2. ``--qps 150`` (token bucket, latency 0): ``AsyncClient`` with 16 concurrent calls over a
   bounded batch; prints jobs/s (target at least 85 % of 150) and the throttled share of
   all requests (target under 10 %).

    .venv/bin/python bench/bench_client.py [--requests 1500] [--qps-jobs 2250]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ice_widgets import AsyncClient, Client
from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, start_subprocess
from ice_widgets.emulator._data import generate_jobs

CONCURRENCY = 16
#: A realistic job body for the in-memory transport.
TEMPLATE = generate_jobs(1, 1, anchor=0.0)[0]


def options(endpoint: str) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "access_key_id": DEFAULT_ACCESS_KEY_ID,
        "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
    }


def measure(label: str, run: Callable[[], int]) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    count = run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:<44} {count:>6} req  {1000 * cpu / count:6.3f} CPU ms/req  {count / wall:8.1f} req/s")


def sync_one_thread(endpoint: str, ids: list[str]) -> int:
    with Client(**options(endpoint)) as client:
        for job_id in ids:
            assert client.get_package_job(job_id).job_id == job_id
    return len(ids)


def sync_pool(endpoint: str, ids: list[str]) -> int:
    with Client(**options(endpoint)) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
        for job_id, job in zip(ids, pool.map(client.get_package_job, ids)):
            assert job.job_id == job_id
    return len(ids)


async def gather_bounded(client: AsyncClient, ids: list[str]) -> list[Any]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job_id: str) -> Any:
        async with gate:
            return await client.get_package_job(job_id)

    return await asyncio.gather(*(one(job_id) for job_id in ids))


def async_concurrent(endpoint: str, ids: list[str]) -> int:
    async def main() -> int:
        async with AsyncClient(**options(endpoint)) as client:
            jobs = await gather_bounded(client, ids)
        assert [job.job_id for job in jobs] == ids
        return len(ids)

    return asyncio.run(main())


def batch_twin(endpoint: str) -> AsyncClient:
    """The AsyncClient the batch engine (fetch_jobs) uses for a plain-HTTP endpoint."""
    from ice_widgets._batch import async_client_for

    return async_client_for(Client(**options(endpoint)))  # type: ignore[no-any-return]


def async_lean(endpoint: str, ids: list[str]) -> int:
    """As the batch engine runs it: an AsyncClient twin whose ``_send`` is the batch's RawSender."""

    async def main() -> int:
        async with batch_twin(endpoint) as client:
            jobs = await gather_bounded(client, ids)
        assert [job.job_id for job in jobs] == ids
        return len(ids)

    return asyncio.run(main())


def async_no_network(endpoint: str, ids: list[str]) -> int:
    """The client's own share: AsyncClient over a transport that answers from memory."""
    import json

    import httpx

    class Canned(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            job_id = request.url.params["JobId"]
            body = json.dumps({"RequestId": "R", "PackageJob": {**TEMPLATE, "JobId": job_id}}).encode()
            return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    async def main() -> int:
        async with AsyncClient(**options(endpoint), transport=Canned()) as client:
            jobs = await gather_bounded(client, ids)
        assert [job.job_id for job in jobs] == ids
        return len(ids)

    return asyncio.run(main())


def official_pool(endpoint: str, ids: list[str]) -> int:
    from alibabacloud_ice20201109 import models
    from alibabacloud_ice20201109.client import Client as SdkClient
    from alibabacloud_tea_openapi.models import Config

    client = SdkClient(
        Config(
            access_key_id=DEFAULT_ACCESS_KEY_ID,
            access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
            endpoint=endpoint.split("://", 1)[1],
            protocol="http",
            region_id="cn-shanghai",
        )
    )

    def get(job_id: str) -> str:
        return str(client.get_package_job(models.GetPackageJobRequest(job_id=job_id)).body.package_job.job_id)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        assert list(pool.map(get, ids)) == ids
    return len(ids)


def qps_run(endpoint: str, ids: list[str], qps: float, *, lean: bool = False) -> None:
    async def main() -> AsyncClient:
        client = batch_twin(endpoint) if lean else AsyncClient(**options(endpoint))
        async with client:
            jobs = await gather_bounded(client, ids)
        assert [job.job_id for job in jobs] == ids
        return client

    start = time.perf_counter()
    client = asyncio.run(main())
    wall = time.perf_counter() - start
    stats = client.stats
    rate = len(ids) / wall
    print(
        f"--qps {qps:g}{' (fetch_jobs RawSender)' if lean else ''}: {len(ids)} jobs in {wall:.1f} s = {rate:.1f} jobs/s ({100 * rate / qps:.0f} % of the limit); "
        f"{stats.requests} requests, {stats.throttled} throttled ({100 * stats.throttled / stats.requests:.1f} %); "
        f"errors {stats.errors}; {client.rate!r}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="requests per CPU measurement")
    parser.add_argument("--qps", type=float, default=150.0)
    parser.add_argument("--qps-jobs", type=int, default=2250, help="jobs in the QPS run (bounded)")
    parser.add_argument("--skip-official", action="store_true")
    args = parser.parse_args()
    jobs = max(args.requests, args.qps_jobs)
    ids = [job["JobId"] for job in generate_jobs(jobs, 1, anchor=0.0)]

    with start_subprocess(jobs=jobs, seed=1) as emu:
        warm = ids[:100]
        sync_one_thread(emu.endpoint, warm)
        batch = ids[: args.requests]
        measure("Client, 1 thread", lambda: sync_one_thread(emu.endpoint, batch))
        measure(f"Client, {CONCURRENCY}-thread pool", lambda: sync_pool(emu.endpoint, batch))
        measure(f"AsyncClient, {CONCURRENCY} concurrent", lambda: async_concurrent(emu.endpoint, batch))
        measure("AsyncClient as fetch_jobs runs it (RawSender)", lambda: async_lean(emu.endpoint, batch))
        measure("AsyncClient, in-memory answers (no network)", lambda: async_no_network(emu.endpoint, batch))
        if not args.skip_official:
            official_pool(emu.endpoint, warm)
            measure(f"official SDK, {CONCURRENCY}-thread pool", lambda: official_pool(emu.endpoint, batch))

    for lean in (False, True):
        with start_subprocess(jobs=jobs, seed=1, qps=args.qps) as emu:
            qps_run(emu.endpoint, ids[: args.qps_jobs], args.qps, lean=lean)


if __name__ == "__main__":
    main()
