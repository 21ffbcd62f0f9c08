"""Benchmark: fetch_jobs against the official SDK, then against a QPS-limited emulator.

Run: ``.venv/bin/python bench/bench_fetch.py [--n 5000] [--sdk-loop-sample 300] [--qps-n 3000]``

Phase 1 starts the emulator in a subprocess with ``--latency-ms 10`` and fetches N job IDs:

- ``fetch_jobs`` with its defaults (progress bar on, to stderr);
- ``fetch_jobs(concurrency=16)``;
- the official SDK (``alibabacloud_ice20201109``) calling GetPackageJob in a plain loop:
  a sample of ``--sdk-loop-sample`` IDs is timed and extrapolated to N (printed as such);
- the official SDK in a 16-thread pool (one shared SDK client).

Each row shows wall time, jobs/s, CPU of this (the fetching) process per job from
``time.process_time()`` (all threads), and the ratio to the latency bound N x 10 ms / 16,
and is labelled with the transport actually used: ``RawSender-http``, ``RawSender-https``,
``httpx`` (read from the AsyncClient the batch engine built), ``requests`` for the SDK.

The HTTPS phase (``--https``, on by default) does the same over TLS, the path every real
ICE endpoint takes: the emulator serves HTTPS with a throw-away ``trustme`` CA and
certificate for 127.0.0.1, trusted here through ``SSL_CERT_FILE`` (fetch_jobs, as httpx
does) and the SDK's own ``ca`` option. Rows: fetch_jobs with its defaults and at
concurrency 16 (RawSender-https), fetch_jobs at 16 forced onto httpx (what HTTPS cost
before RawSender spoke TLS), the SDK plain loop (sampled) and the SDK in a 16-thread pool.

The kinds phase (``--kinds transcode,media_producing``, the default; ``--kinds none`` skips
it) does phase 1 for other job kinds: the emulator serves ``--kinds-n`` seeded jobs of each
kind (``--kind-jobs``), and ``fetch_jobs(ids, kind=...)`` is timed beside the official SDK's
``get_transcode_job_with_options`` / ``get_media_producing_job_with_options`` (and the other
kinds' Get) in a plain loop (sampled) and in a 16-thread pool. Rows are checked against the
emulator's data, regenerated here from the same seed and anchor. Same targets as phase 1.

Phase 2 starts an emulator with ``--qps 150`` and no latency and runs ``fetch_jobs`` with
its defaults: sustained jobs/s, throttled answers as a share of all requests, and whether
every row equals the emulator's data (regenerated here from the same seed and anchor).
Then the next batch (``--qps-learned-n`` IDs, 1,200) by a new client of the same account,
as a notebook's next ``fetch_jobs`` call makes one: with the rate the first batch learned
(kept per endpoint and key), then with nothing learned (as in a new kernel), then the
official SDK in a 16-thread pool; throttled requests counted by the emulator.
Every run is bounded: the emulators are stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pandas as pd

import ice_widgets
from ice_widgets import _batch
from ice_widgets._batch import DEFAULT_CONCURRENCY
from ice_widgets._frames import build_frame
from ice_widgets._models import KINDS, PackageJob, parse_job
from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, start_subprocess
from ice_widgets.emulator._data import generate_jobs
from ice_widgets.emulator._kinds import iter_kind_jobs

SEED = 1
ANCHOR = 1_780_000_000.0  # a fixed anchor, so the data can be regenerated here


def client_for(endpoint: str) -> ice_widgets.Client:
    return ice_widgets.Client(
        endpoint=endpoint, access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET
    )


def sdk_client(endpoint: str, ca: str | None = None) -> Any:
    from alibabacloud_ice20201109.client import Client as IceClient
    from alibabacloud_tea_openapi import models as open_api_models

    scheme, host = endpoint.split("://", 1)
    config = open_api_models.Config(
        access_key_id=DEFAULT_ACCESS_KEY_ID,
        access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
        endpoint=host,
        protocol=scheme,
        read_timeout=10_000,
        connect_timeout=5_000,
        ca=ca,  # the SDK's own CA option (requests' verify=)
    )
    return IceClient(config)


TRANSPORTS: list[str] = []


@contextlib.contextmanager
def recording_transports() -> Iterator[list[str]]:
    """Record the transport of every AsyncClient the batch engine builds (RawSender-http, ...)."""
    from ice_widgets import _fetch

    original = _batch.async_client_for
    seen: list[str] = []

    def recording(client: Any) -> Any:
        twin = original(client)
        seen.append(_batch.transport_name(twin))
        return twin

    # fetch_jobs (in _fetch) calls the engine's function by the name it imported
    _batch.async_client_for = _fetch.async_client_for = recording
    try:
        yield seen
    finally:
        _batch.async_client_for = _fetch.async_client_for = original


@contextlib.contextmanager
def forced_httpx() -> Iterator[None]:
    """Make the batch engine send through httpx even where RawSender could (for comparison)."""
    original = _batch._raw_capable
    _batch._raw_capable = lambda endpoint: False
    try:
        yield
    finally:
        _batch._raw_capable = original


def fetch_labelled(ids: list[str], client: ice_widgets.Client, **options: Any) -> tuple[pd.DataFrame, str]:
    """fetch_jobs (``kind=`` and the rest in ``options``) and the transports it used."""
    with recording_transports() as seen:
        frame = ice_widgets.fetch_jobs(ids, client=client, **options)
    return frame, ",".join(sorted(set(seen))) or "?"


def sdk_get(client: Any, job_id: str) -> str:
    from alibabacloud_ice20201109 import models as ice_models

    answer = client.get_package_job(ice_models.GetPackageJobRequest(job_id=job_id))
    return str(answer.body.package_job.status)


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc (0.0 where there is none)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


SERVER_PID = 0
SERVER_CPU: list[float] = []


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    server0 = proc_cpu(SERVER_PID)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    SERVER_CPU.append(proc_cpu(SERVER_PID) - server0)
    return wall, cpu, result


def row(name: str, n: int, wall: float, cpu: float, bound: float, note: str = "") -> str:
    server = SERVER_CPU[-1] if SERVER_CPU else 0.0
    return (
        f"  {name:<52} {wall:7.2f} s {n / wall:7.0f} jobs/s {1000 * cpu / n:7.3f} ms CPU/job "
        f"(emulator {1000 * server / n:5.3f}) {wall / bound:5.2f}x bound  {note}"
    )


def truth(ids: list[str], jobs: int) -> dict[str, dict[str, Any]]:
    data = {job["JobId"]: job for job in generate_jobs(jobs, SEED, anchor=ANCHOR)}
    return {i: data[i] for i in ids}


def rows_correct(frame: pd.DataFrame, expected: dict[str, dict[str, Any]]) -> bool:
    want = build_frame([PackageJob.from_api(expected[i]) for i in frame["job_id"]])
    cols = [c for c in frame.columns if c != "elapsed"]
    return bool(
        frame[cols]
        .astype({"status": object})
        .reset_index(drop=True)
        .equals(want[cols].astype({"status": object}))
    )


def phase_latency(n: int, sample: int) -> None:
    latency = 10.0
    bound = n * latency / 1000 / 16
    global SERVER_PID
    with start_subprocess(jobs=n, seed=SEED, anchor=ANCHOR, latency_ms=latency) as emu:
        SERVER_PID = emu.process.pid
        ids = [job["JobId"] for job in generate_jobs(n, SEED, anchor=ANCHOR)]
        expected = truth(ids, n)
        # warm up every path once (imports, first connections), untimed
        with client_for(emu.endpoint) as client:
            ice_widgets.fetch_jobs(ids[:50], client=client, progress=False)
        sdk = sdk_client(emu.endpoint)
        for job_id in ids[:5]:
            sdk_get(sdk, job_id)

        print(
            f"phase 1: {n:,} IDs, emulator --latency-ms {latency:g} in a subprocess; "
            f"latency bound N x {latency:g} ms / 16 = {bound:.2f} s"
        )
        results = {}
        with client_for(emu.endpoint) as client:
            wall, cpu, (frame, used) = measure(lambda: fetch_labelled(ids, client))
            ok = rows_correct(frame, expected)
            results["defaults"] = (wall, cpu)
            print(
                row(
                    f"fetch_jobs (defaults, c={DEFAULT_CONCURRENCY}) [{used}]",
                    n,
                    wall,
                    cpu,
                    bound,
                    f"rows correct: {ok}",
                ),
                flush=True,
            )
        with client_for(emu.endpoint) as client:
            wall, cpu, (frame, used) = measure(
                lambda: fetch_labelled(ids, client, concurrency=16, progress=False)
            )
            ok = rows_correct(frame, expected)
            results["c16"] = (wall, cpu)
            print(
                row(f"fetch_jobs(concurrency=16) [{used}]", n, wall, cpu, bound, f"rows correct: {ok}"),
                flush=True,
            )

        part = ids[:sample]
        wall, cpu, _ = measure(lambda: [sdk_get(sdk, i) for i in part])
        wall_n, cpu_n = wall * n / sample, cpu * n / sample
        SERVER_CPU[-1] *= n / sample
        results["sdk_loop"] = (wall_n, cpu_n)
        print(
            row(
                "official SDK, plain loop [requests]",
                n,
                wall_n,
                cpu_n,
                bound,
                f"extrapolated from {sample} IDs timed ({wall:.2f} s)",
            ),
            flush=True,
        )

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda i: sdk_get(sdk, i), ids[:64]))  # start the 16 threads
            wall, cpu, statuses = measure(lambda: list(pool.map(lambda i: sdk_get(sdk, i), ids)))
        ok = statuses == [expected[i]["Status"] for i in ids]
        results["sdk_pool"] = (wall, cpu)
        print(
            row("official SDK, 16-thread pool [requests]", n, wall, cpu, bound, f"statuses correct: {ok}"),
            flush=True,
        )

    d_wall, _ = results["defaults"]
    c_wall, c_cpu = results["c16"]
    l_wall, _ = results["sdk_loop"]
    p_wall, p_cpu = results["sdk_pool"]
    print("  targets:")
    print(f"    defaults vs SDK loop          {l_wall / d_wall:6.1f}x faster   (target >= 10x)")
    print(f"    c=16 vs SDK pool              {p_wall / c_wall:6.2f}x as fast  (target >= 1.0x)")
    print(f"    c=16 CPU/job vs SDK pool      {c_cpu / p_cpu:6.2f}x          (target <= 1.0x)")
    print(f"    c=16 vs latency bound         {c_wall / bound:6.2f}x          (target <= 1.3x)")
    print(f"    defaults vs SDK pool          {p_wall / d_wall:6.2f}x as fast  (target >= 1.2x)")
    print("  (CPU/job: this process, all threads; emulator: CPU of the emulator process per job)")


def phase_https(n: int, sample: int) -> None:
    """Phase 1 over TLS: the emulator serves HTTPS with a trustme certificate for 127.0.0.1."""
    import tempfile

    import trustme

    latency = 10.0
    bound = n * latency / 1000 / 16
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        ca = trustme.CA()
        cafile, pem = os.path.join(tmp, "ca.pem"), os.path.join(tmp, "server.pem")
        ca.cert_pem.write_to_path(cafile)
        ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(pem)
        saved = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = cafile  # trusted as httpx (and so RawSender) reads it
        try:
            with start_subprocess(
                jobs=n, seed=SEED, anchor=ANCHOR, latency_ms=latency, tls_cert=pem, tls_key=pem
            ) as emu:
                _https_rows(emu, n, sample, bound, latency, cafile)
        finally:
            if saved is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = saved


def _https_rows(emu: Any, n: int, sample: int, bound: float, latency: float, cafile: str) -> None:
    global SERVER_PID
    SERVER_PID = emu.process.pid
    ids = [job["JobId"] for job in generate_jobs(n, SEED, anchor=ANCHOR)]
    expected = truth(ids, n)
    with client_for(emu.endpoint) as client:  # warm-up, untimed
        ice_widgets.fetch_jobs(ids[:50], client=client, progress=False)
    sdk = sdk_client(emu.endpoint, ca=cafile)
    for job_id in ids[:5]:
        sdk_get(sdk, job_id)
    print(
        f"phase HTTPS: {n:,} IDs, emulator --latency-ms {latency:g} serving TLS (trustme CA, "
        f"{emu.endpoint}); latency bound {bound:.2f} s"
    )
    results: dict[str, tuple[float, float]] = {}
    runs: list[tuple[str, str, dict[str, Any], bool]] = [
        ("defaults", f"fetch_jobs (defaults, c={DEFAULT_CONCURRENCY})", {}, False),
        ("c16", "fetch_jobs(concurrency=16)", {"concurrency": 16, "progress": False}, False),
        ("c16_httpx", "fetch_jobs(concurrency=16), forced", {"concurrency": 16, "progress": False}, True),
    ]
    for key, name, options, httpx_only in runs:
        with client_for(emu.endpoint) as client:
            with forced_httpx() if httpx_only else contextlib.nullcontext():
                wall, cpu, (frame, used) = measure(lambda: fetch_labelled(ids, client, **options))  # noqa: B023
            ok = rows_correct(frame, expected)
        results[key] = (wall, cpu)
        print(row(f"{name} [{used}]", n, wall, cpu, bound, f"rows correct: {ok}"), flush=True)

    part = ids[:sample]
    wall, cpu, _ = measure(lambda: [sdk_get(sdk, i) for i in part])
    wall_n, cpu_n = wall * n / sample, cpu * n / sample
    SERVER_CPU[-1] *= n / sample
    results["sdk_loop"] = (wall_n, cpu_n)
    print(
        row(
            "official SDK, plain loop [requests, https]",
            n,
            wall_n,
            cpu_n,
            bound,
            f"extrapolated from {sample} IDs timed ({wall:.2f} s)",
        ),
        flush=True,
    )
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda i: sdk_get(sdk, i), ids[:64]))  # start the 16 threads, open connections
        wall, cpu, statuses = measure(lambda: list(pool.map(lambda i: sdk_get(sdk, i), ids)))
    ok = statuses == [expected[i]["Status"] for i in ids]
    results["sdk_pool"] = (wall, cpu)
    print(
        row("official SDK, 16-thread pool [requests, https]", n, wall, cpu, bound, f"statuses correct: {ok}"),
        flush=True,
    )
    d_wall, _ = results["defaults"]
    c_wall, c_cpu = results["c16"]
    h_wall, h_cpu = results["c16_httpx"]
    l_wall, _ = results["sdk_loop"]
    p_wall, p_cpu = results["sdk_pool"]
    print("  targets over HTTPS:")
    print(f"    defaults vs SDK loop          {l_wall / d_wall:6.1f}x faster   (target >= 10x)")
    print(f"    c=16 vs SDK pool              {p_wall / c_wall:6.2f}x as fast  (target >= 1.0x)")
    print(f"    c=16 CPU/job vs SDK pool      {c_cpu / p_cpu:6.2f}x          (target <= 1.0x)")
    print(f"    c=16 vs latency bound         {c_wall / bound:6.2f}x          (target <= 1.3x)")
    print(f"    defaults vs SDK pool          {p_wall / d_wall:6.2f}x as fast  (target >= 1.2x)")
    print(
        f"    c=16 RawSender vs httpx       {h_wall / c_wall:6.2f}x as fast, {h_cpu / c_cpu:5.2f}x less CPU/job"
    )


def phase_models(n: int) -> None:
    """The concurrency models fetch_jobs could use, at 16 requests in flight, same emulator."""
    import asyncio

    from ice_widgets._batch import RawSender

    latency = 10.0
    bound = n * latency / 1000 / 16
    global SERVER_PID
    with start_subprocess(jobs=n, seed=SEED, anchor=ANCHOR, latency_ms=latency) as emu:
        SERVER_PID = emu.process.pid
        ids = [job["JobId"] for job in generate_jobs(n, SEED, anchor=ANCHOR)]
        options = {
            "endpoint": emu.endpoint,
            "access_key_id": DEFAULT_ACCESS_KEY_ID,
            "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
        }

        def threads() -> None:
            with ice_widgets.Client(**options) as client:
                client.get_package_job(ids[0])
                todo = iter(ids)
                lock = threading.Lock()

                def work() -> None:
                    while True:
                        with lock:
                            job_id = next(todo, None)
                        if job_id is None:
                            return
                        client.get_package_job(job_id)

                workers = [threading.Thread(target=work) for _ in range(16)]
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()

        def coroutines(raw: bool) -> Callable[[], None]:
            async def run() -> None:
                sender = RawSender(emu.endpoint, 10.0) if raw else None
                async with ice_widgets.AsyncClient(**options, sender=sender) as client:
                    todo = iter(ids)

                    async def work() -> None:
                        for job_id in todo:
                            await client.get_package_job(job_id)

                    await asyncio.gather(*(work() for _ in range(16)))

            return lambda: asyncio.run(run())

        print(f"concurrency models: {n:,} GetPackageJob, 16 in flight, emulator --latency-ms {latency:g}")
        for name, fn in (
            ("httpx sync Client, 16 threads", threads),
            ("httpx AsyncClient, 16 coroutines", coroutines(False)),
            ("AsyncClient + RawSender (used)", coroutines(True)),
        ):
            wall, cpu, _ = measure(fn)
            print(row(name, n, wall, cpu, bound), flush=True)


#: The official SDK's Get of each kind: (request class, method, request field, response field).
SDK_GETS: dict[str, tuple[str, str, str, str]] = {
    "package": ("GetPackageJobRequest", "get_package_job_with_options", "job_id", "package_job"),
    "transcode": (
        "GetTranscodeJobRequest",
        "get_transcode_job_with_options",
        "parent_job_id",
        "transcode_parent_job",
    ),
    "media_producing": (
        "GetMediaProducingJobRequest",
        "get_media_producing_job_with_options",
        "job_id",
        "media_producing_job",
    ),
    "snapshot": ("GetSnapshotJobRequest", "get_snapshot_job_with_options", "job_id", "snapshot_job"),
    "media_convert": ("GetMediaConvertJobRequest", "get_media_convert_job_with_options", "job_id", "job"),
}


def sdk_getter(client: Any, kind: str) -> Callable[[str], str]:
    """One official SDK Get of ``kind`` (``*_with_options``, as the SDK's own Get calls it):
    job ID in, the job's status (``State`` for media convert) out."""
    from alibabacloud_ice20201109 import models as ice_models
    from alibabacloud_tea_util import models as util_models

    request_name, method_name, field, body_field = SDK_GETS[kind]
    request_class = getattr(ice_models, request_name)
    method = getattr(client, method_name)
    runtime = util_models.RuntimeOptions()

    def get(job_id: str) -> str:
        answer = method(request_class(**{field: job_id}), runtime)
        job = getattr(answer.body, body_field)
        return str(job.state if kind == "media_convert" else job.status)

    return get


def kind_truth(kind: str, n: int) -> dict[str, dict[str, Any]]:
    """The seeded jobs of ``kind`` the emulator serves (same seed and anchor), by ID."""
    return {facts.job_id: job for facts, job in iter_kind_jobs(kind, n, SEED, anchor=ANCHOR)}


def kind_rows_correct(frame: pd.DataFrame, kind: str, expected: dict[str, dict[str, Any]]) -> bool:
    want = build_frame([parse_job(kind, expected[i]) for i in frame["job_id"]], kind=kind)
    cols = [c for c in frame.columns if c != "elapsed"]
    return bool(frame["error_code"].isna().all()) and bool(
        frame[cols].reset_index(drop=True).equals(want[cols])
    )


def phase_kinds(kinds: list[str], n: int, sample: int) -> None:
    """Phase 1 for other job kinds: fetch_jobs(kind=...) beside the official SDK's Get of that kind."""
    latency = 10.0
    bound = n * latency / 1000 / 16
    global SERVER_PID
    with start_subprocess(jobs=10, kind_jobs=n, seed=SEED, anchor=ANCHOR, latency_ms=latency) as emu:
        SERVER_PID = emu.process.pid
        for kind in kinds:
            expected = kind_truth(kind, n)
            ids = list(expected)
            status_key = "State" if kind == "media_convert" else "Status"
            sdk = sdk_client(emu.endpoint)
            get = sdk_getter(sdk, kind)
            with client_for(emu.endpoint) as client:  # warm up every path once, untimed
                ice_widgets.fetch_jobs(ids[:50], kind=kind, client=client, progress=False)
            for job_id in ids[:5]:
                get(job_id)
            action = SDK_GETS[kind][1]
            print(
                f"phase {kind}: {n:,} IDs, emulator --kind-jobs {n} --latency-ms {latency:g} in a subprocess; "
                f"latency bound {bound:.2f} s; SDK: {action}"
            )
            results: dict[str, tuple[float, float]] = {}
            for key, name, options in (
                ("defaults", f"fetch_jobs(kind={kind!r}) (defaults, c={DEFAULT_CONCURRENCY})", {}),
                ("c16", f"fetch_jobs(kind={kind!r}, concurrency=16)", {"concurrency": 16, "progress": False}),
            ):
                with client_for(emu.endpoint) as client:
                    wall, cpu, (frame, used) = measure(
                        lambda: fetch_labelled(ids, client, kind=kind, **options)  # noqa: B023
                    )
                ok = kind_rows_correct(frame, kind, expected)
                results[key] = (wall, cpu)
                print(row(f"{name} [{used}]", n, wall, cpu, bound, f"rows correct: {ok}"), flush=True)

            part = ids[:sample]
            wall, cpu, _ = measure(lambda: [get(i) for i in part])  # noqa: B023
            wall_n, cpu_n = wall * n / sample, cpu * n / sample
            SERVER_CPU[-1] *= n / sample
            results["sdk_loop"] = (wall_n, cpu_n)
            print(
                row(
                    "official SDK, plain loop [requests]",
                    n,
                    wall_n,
                    cpu_n,
                    bound,
                    f"extrapolated from {sample} IDs timed ({wall:.2f} s)",
                ),
                flush=True,
            )
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(get, ids[:64]))  # start the 16 threads
                wall, cpu, statuses = measure(lambda: list(pool.map(get, ids)))  # noqa: B023
            ok = statuses == [expected[i][status_key] for i in ids]
            results["sdk_pool"] = (wall, cpu)
            print(
                row(
                    "official SDK, 16-thread pool [requests]", n, wall, cpu, bound, f"statuses correct: {ok}"
                ),
                flush=True,
            )
            _targets(results, bound, f"targets ({kind}):")


def _targets(results: dict[str, tuple[float, float]], bound: float, title: str) -> None:
    d_wall, d_cpu = results["defaults"]
    c_wall, c_cpu = results["c16"]
    l_wall, _ = results["sdk_loop"]
    p_wall, p_cpu = results["sdk_pool"]
    print(f"  {title}")
    print(f"    defaults vs SDK loop          {l_wall / d_wall:6.1f}x faster   (target >= 10x)")
    print(f"    c=16 vs SDK pool              {p_wall / c_wall:6.2f}x as fast  (target >= 1.0x)")
    print(f"    c=16 CPU/job vs SDK pool      {c_cpu / p_cpu:6.2f}x          (target <= 0.5x)")
    print(f"    defaults CPU/job vs SDK pool  {d_cpu / p_cpu:6.2f}x          (target <= 0.5x)")
    print(f"    c=16 vs latency bound         {c_wall / bound:6.2f}x          (target <= 1.3x)")
    print(f"    defaults vs SDK pool          {p_wall / d_wall:6.2f}x as fast  (target >= 1.2x)")


def phase_qps(n: int, qps: float, learned_n: int = 1200) -> None:
    jobs = max(n, learned_n, 1000)
    with start_subprocess(jobs=jobs, seed=SEED, anchor=ANCHOR, qps=qps) as emu:
        ids = [job["JobId"] for job in generate_jobs(jobs, SEED, anchor=ANCHOR)][:n]
        expected = truth(ids, jobs)
        with client_for(emu.endpoint) as client:
            samples: list[tuple[float, int]] = []
            stop = threading.Event()

            def sample() -> None:  # accepted answers over time, for the steady-state rate
                while not stop.wait(0.25):
                    samples.append((time.perf_counter(), client.stats.requests - client.stats.throttled))

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                wall, cpu, frame = measure(lambda: ice_widgets.fetch_jobs(ids, client=client, progress=False))
            finally:
                stop.set()
                sampler.join()
            half = samples[len(samples) // 2 :]
            steady = (
                (half[-1][1] - half[0][1]) / (half[-1][0] - half[0][0]) if len(half) > 2 else float("nan")
            )
            stats = client.stats
            ok = rows_correct(frame, expected) and bool(frame["error_code"].isna().all())
            print(f"phase 2: {n:,} IDs, emulator --qps {qps:g}, no latency, fetch_jobs defaults")
            print(
                f"  sustained {n / wall:7.1f} jobs/s ({100 * n / wall / qps:5.1f}% of {qps:g}; target >= 85%), "
                f"throttled {stats.throttled} of {stats.requests} requests "
                f"({100 * stats.throttled / max(stats.requests, 1):4.1f}%; target < 10%), "
                f"rows correct: {ok}; wall {wall:.1f} s, CPU/job {1000 * cpu / n:.3f} ms"
            )
            print(
                f"  steady state (second half of the run): {steady:.1f} accepted answers/s "
                f"({100 * steady / qps:.1f}% of {qps:g}); {client.rate!r}"
            )
        learned_batches(emu, ids[:learned_n], qps, expected)


def qps_batch(emu: Any, ids: list[str], expected: dict[str, dict[str, Any]]) -> tuple[float, int, int, bool]:
    """fetch_jobs with a new client of the account, as a notebook's next call makes one:
    (wall, requests, throttled answers, rows correct)."""
    with client_for(emu.endpoint) as client:
        wall, _, frame = measure(lambda: ice_widgets.fetch_jobs(ids, client=client, progress=False))
        stats = client.stats
    ok = rows_correct(frame, expected) and bool(frame["error_code"].isna().all())
    return wall, stats.requests, stats.throttled, ok


def learned_batches(emu: Any, ids: list[str], qps: float, expected: dict[str, dict[str, Any]]) -> None:
    """A next batch on the throttled account: with the rate learned, from nothing, the SDK."""
    from alibabacloud_tea_openapi.exceptions import ClientException
    from Tea.exceptions import TeaException

    n = len(ids)
    print(f"phase 2b: the next batch, {n:,} IDs, same emulator (--qps {qps:g}), a new client each")

    def line(name: str, wall: float, requests: int, throttled: int, note: str) -> str:
        share = 100 * throttled / max(requests, 1)
        return (
            f"  {name:<58} {wall:6.2f} s {n / wall:7.1f} jobs/s  throttled {throttled:4d} of "
            f"{requests:5d} requests ({share:4.1f}%)  {note}"
        )

    time.sleep(3.0)  # a pause, as between two cells of a notebook (the burst refills)
    wall, requests, throttled, ok = qps_batch(emu, ids, expected)
    print(
        line(
            "fetch_jobs, the rate learned by the batch above",
            wall,
            requests,
            throttled,
            f"rows correct: {ok}",
        )
    )
    learned_share = throttled / max(requests, 1)
    time.sleep(3.0)
    ice_widgets.forget_learned_rates()  # as in a new kernel: nothing learned
    wall, requests, throttled, ok = qps_batch(emu, ids, expected)
    print(
        line("fetch_jobs, nothing learned (a new kernel)", wall, requests, throttled, f"rows correct: {ok}")
    )
    time.sleep(3.0)
    sdk = sdk_client(emu.endpoint)
    codes: list[str] = []

    def get(job_id: str) -> None:
        try:
            sdk_get(sdk, job_id)
        except (ClientException, TeaException) as exc:  # the SDK does not retry (autoretry off)
            codes.append(str(getattr(exc, "code", type(exc).__name__)))

    with ThreadPoolExecutor(max_workers=16) as pool:
        wall, _, _ = measure(lambda: list(pool.map(get, ids)))
    throttled = sum(code.startswith("Throttling") for code in codes)
    print(line("official SDK, 16-thread pool", wall, n, throttled, f"jobs not fetched: {len(codes)}"))
    verdict = "met" if learned_share < 0.05 else "NOT met"
    print(f"  learned rate: {100 * learned_share:.1f}% of requests throttled (target < 5%): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="IDs per run in phase 1 (default 5000)")
    parser.add_argument("--sdk-loop-sample", type=int, default=300, help="IDs timed for the SDK loop")
    parser.add_argument("--qps-n", type=int, default=3000, help="IDs in phase 2 (default 3000)")
    parser.add_argument("--qps", type=float, default=150.0)
    parser.add_argument(
        "--qps-learned-n", type=int, default=1200, help="IDs in the next batch of phase 2 (default 1200)"
    )
    parser.add_argument("--skip-qps", action="store_true")
    parser.add_argument("--only-qps", action="store_true", help="run phase 2 only")
    parser.add_argument("--skip-https", action="store_true", help="skip the HTTPS phase")
    parser.add_argument(
        "--kinds",
        default="transcode,media_producing",
        help="job kinds for the kinds phase, comma-separated, or 'none' (default transcode,media_producing)",
    )
    parser.add_argument("--kinds-n", type=int, default=None, help="IDs per kind (default: --n)")
    parser.add_argument("--only-kinds", action="store_true", help="run the kinds phase only")
    parser.add_argument(
        "--models", type=int, default=0, metavar="N", help="first compare the concurrency models on N IDs"
    )
    args = parser.parse_args()
    print(
        f"bench_fetch {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.node()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, ice_widgets {ice_widgets.__version__}; "
        f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}"
    )
    kinds = [] if args.kinds.strip() == "none" else [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS or k == "package"]
    if unknown:
        parser.error(f"--kinds takes {', '.join(KINDS[1:])} (phase 1 is packaging), not {unknown}")
    kinds_n = args.kinds_n or args.n
    if args.only_qps:
        phase_qps(args.qps_n, args.qps, args.qps_learned_n)
        return
    if args.only_kinds:
        phase_kinds(kinds, kinds_n, min(args.sdk_loop_sample, kinds_n))
        return
    if args.models:
        phase_models(args.models)
    phase_latency(args.n, min(args.sdk_loop_sample, args.n))
    if not args.skip_https:
        phase_https(args.n, min(args.sdk_loop_sample, args.n))
    if kinds:
        phase_kinds(kinds, kinds_n, min(args.sdk_loop_sample, kinds_n))
    if not args.skip_qps:
        phase_qps(args.qps_n, args.qps, args.qps_learned_n)


if __name__ == "__main__":
    main()
