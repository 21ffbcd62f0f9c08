"""Crash safety of the job cache: ``kill -9`` in the middle of writing it, 20 times.

A child process writes real jobs (the emulator's own dicts) into the cache in big
transactions, in a loop (now and then deleting everything, also one transaction), and
marks in a small side file whether it is inside a write at the moment. The parent kills
it with SIGKILL at a random moment, 20 times in a row on the same file, and after every
kill checks that:

- the cache opens and SQLite's integrity check says ``ok``;
- every cached job is exactly a job the server holds (no half-written job), and every
  batch is in the cache whole or not at all (one transaction per batch);

Then a real ``fetch_jobs(ids, cache=path)`` (which writes every 500 finished jobs) is
killed the same way as it fetches, 5 times, with the same checks after each kill.

And, at the end, that enough of the kills did land inside a write (so the test tests
something), and that ``fetch_jobs(..., cache=path)`` completes the set: every row equals
a fetch without cache, and the cache then holds every finished job.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ice_widgets
from ice_widgets import Client
from ice_widgets._cache import JobCache
from ice_widgets.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
KILLS = 20
BATCH = 400

CHILD = textwrap.dedent(
    """
    import json, os, random, sys
    from ice_widgets._cache import JobCache
    from ice_widgets._models import PackageJob

    cache_path, jobs_path, state_path, endpoint, seed = sys.argv[1:]
    jobs = [PackageJob.from_api(raw) for raw in json.load(open(jobs_path))]
    rng = random.Random(int(seed))
    state = os.open(state_path, os.O_RDWR | os.O_CREAT, 0o600)
    cache = JobCache(cache_path)
    print("ready", flush=True)
    batch = 0
    # Batches from the first three quarters only: the rest must come from the re-fetch.
    batches = max(1, (len(jobs) // {batch}) * 3 // 4)
    while True:
        if rng.random() < 0.15:
            os.pwrite(state, b"W-clear---", 0)   # inside a delete of everything
            cache.clear(endpoint)
        else:
            start = rng.randrange(0, batches) * {batch}
            os.pwrite(state, b"W%09d" % start, 0)   # inside a write of the batch at `start`
            cache.put_many(jobs[start : start + {batch}], endpoint)
        os.pwrite(state, b"I---------", 0)   # idle: the last transaction committed
        batch += 1
    """
).format(batch=BATCH)


#: A real fetch_jobs with a cache (it writes every 500 finished jobs), killed as it runs.
FETCH_CHILD = textwrap.dedent(
    """
    import json, sys
    import ice_widgets
    from ice_widgets import Client

    cache_path, ids_path, endpoint = sys.argv[1:]
    ids = json.load(open(ids_path))
    with Client(endpoint=endpoint) as client:  # the key comes from the environment
        print("ready", flush=True)
        ice_widgets.fetch_jobs(ids, client=client, progress=False, cache=cache_path, concurrency=8)
    print("done", flush=True)
    """
)
FETCH_KILLS = 5


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(jobs=2400, seed=51) as emulator:
        yield emulator


def _client(emu: Emulator) -> Client:
    return Client(
        endpoint=emu.endpoint,
        access_key_id=emu.access_key_id,
        access_key_secret=emu.access_key_secret,
    )


def _cached_rows(path: Path) -> list[tuple[str, str, str, str]]:
    """Every row, read with plain sqlite3 (not through JobCache)."""
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("SELECT endpoint, job_id, status, data FROM jobs").fetchall()
    finally:
        conn.close()


def _check_cache(path: Path, endpoint: str, truth: dict[str, dict[str, Any]], order: list[str]) -> int:
    with JobCache(path) as cache:
        assert cache.integrity_check() == "ok"
        cached = cache.get_many(truth, endpoint)
    rows = _cached_rows(path)
    assert len(rows) == len(cached)
    for row_endpoint, job_id, status, data in rows:
        assert row_endpoint == endpoint
        raw = json.loads(data)  # a half-written row would not even parse
        assert raw == truth[job_id], f"cached job {job_id} differs from the server's"
        assert status == raw["Status"]
        assert cached[job_id].job_id == job_id
    # One transaction per batch: each batch (of the finished jobs, in order) is whole or absent.
    present = {row[1] for row in rows}
    for start in range(0, len(order) - len(order) % BATCH, BATCH):
        batch = set(order[start : start + BATCH])
        assert len(batch & present) in (0, len(batch)), f"batch at {start} is half in the cache"
    return len(rows)


@pytest.mark.slow
def test_kill_9_while_writing_the_cache(emu: Emulator, tmp_path: Path) -> None:
    finished = [job_id for job_id in emu.job_ids if emu.expected(job_id)["Status"] in ("Success", "Fail")]
    truth = {job_id: emu.expected(job_id) for job_id in finished}
    assert len(finished) >= 2 * BATCH
    jobs_path = tmp_path / "jobs.json"
    jobs_path.write_text(json.dumps([truth[job_id] for job_id in finished]))
    cache_path = tmp_path / "cache" / "jobs.sqlite"
    state_path = tmp_path / "state"
    child_path = tmp_path / "child.py"
    child_path.write_text(CHILD)
    rng = random.Random(6)

    mid_write = 0
    counts = []
    for attempt in range(KILLS):
        proc = subprocess.Popen(
            [
                sys.executable,
                str(child_path),
                str(cache_path),
                str(jobs_path),
                str(state_path),
                emu.endpoint,
                str(attempt),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.02, 0.4))
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()
        if state_path.read_bytes()[:1] == b"W":
            mid_write += 1
        counts.append(_check_cache(cache_path, emu.endpoint, truth, finished))

    print(f"kills inside a write: {mid_write}/{KILLS}; cached rows after each kill: {counts}")
    # Then kill -9 a real fetch_jobs(cache=...) as it fetches and writes, a few times.
    ids_path = tmp_path / "ids.json"
    ids_path.write_text(json.dumps(emu.job_ids))
    fetch_child = tmp_path / "fetch_child.py"
    fetch_child.write_text(FETCH_CHILD)
    emu.configure(latency_ms=3)
    try:
        for _ in range(FETCH_KILLS):
            proc = subprocess.Popen(
                [sys.executable, str(fetch_child), str(cache_path), str(ids_path), emu.endpoint],
                stdout=subprocess.PIPE,
                env={
                    **os.environ,
                    "ALIBABA_CLOUD_ACCESS_KEY_ID": emu.access_key_id,
                    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": emu.access_key_secret,
                },
                text=True,
                cwd=ROOT,
            )
            try:
                assert proc.stdout is not None
                assert proc.stdout.readline().strip() == "ready"
                time.sleep(rng.uniform(0.5, 2.0))
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(30)
                if proc.stdout is not None:
                    proc.stdout.close()
            counts.append(_check_cache(cache_path, emu.endpoint, truth, []))
    finally:
        emu.configure(latency_ms=0)

    # Most kills should land inside put_many (the child does little else).
    assert mid_write >= KILLS // 4, f"only {mid_write} of {KILLS} kills landed inside a write"
    assert max(counts) > 0, "the child never committed anything"

    # A re-fetch through the cache completes the set.
    ids = emu.job_ids
    with _client(emu) as client:
        fresh = ice_widgets.fetch_jobs(ids, client=client, progress=False)
    with _client(emu) as client:
        before = emu.stats.requests
        again = ice_widgets.fetch_jobs(ids, client=client, progress=False, cache=str(cache_path))
        requests = emu.stats.requests - before
    pd.testing.assert_frame_equal(
        again.drop(columns=["elapsed"]).reset_index(drop=True),
        fresh.drop(columns=["elapsed"]).reset_index(drop=True),
    )
    # Only the jobs missing from the cache (and unfinished ones) were asked for.
    assert requests <= len(ids) - counts[-1]
    assert _check_cache(cache_path, emu.endpoint, truth, finished) == len(finished)
