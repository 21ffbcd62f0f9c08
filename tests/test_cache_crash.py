"""Crash safety of the job cache: ``kill -9`` inside a write transaction, again and again.

A child process writes real jobs (the emulator's own dicts) into the cache in big
transactions, in a loop (now and then deleting everything, also one transaction). It marks
in a small side file when it is *inside* a write: SQLite's trace callback sets the mark as
the first INSERT or DELETE of the transaction starts (after ``BEGIN IMMEDIATE``, after the
JSON encoding), and it is cleared only when ``put_many``/``clear`` has returned (the COMMIT
included). The parent waits until the mark is set and kills the child with SIGKILL at once;
after the child is dead the mark says where the kill landed. A kill that landed just after
a commit is not counted and the parent tries again (bounded), until ``KILLS`` kills have
landed inside a write, on the same file. After every kill:

- the child was alive when killed and died of that SIGKILL;
- the cache opens and SQLite's integrity check says ``ok``;
- every cached job is exactly a job the server holds (no half-written job), and every
  batch is in the cache whole or not at all (one transaction per batch).

Then a real ``fetch_jobs(ids, cache=...)`` (which writes every 500 finished jobs, one
transaction each) is killed the same way inside its 1st or 2nd cache write, ``FETCH_KILLS``
times, on a fresh file: the same checks, and the cache always holds a whole number of
500-job batches, and grows as earlier batches were committed. At the end a
``fetch_jobs(..., cache=path)`` completes the set asking the server for exactly the jobs
that were not cached, every row equal to a fetch without cache.

Seen failing under the mutations ``fetch_cache_never_written`` and
``fetch_cache_written_per_job`` (tests/_mutations.py); the old test (no check that the child
was alive, batch check skipped for fetch_jobs, 5 of 20 kills inside a write accepted) passed
under both.
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
#: At most this many attempts to land KILLS kills inside a write.
MAX_ATTEMPTS = 3 * KILLS
BATCH = 400
FETCH_BATCH = 500  # fetch_jobs writes the cache every 500 finished jobs
#: Which cache write of each fetch_jobs run is killed: the 1st (nothing new may be kept) or
#: the 2nd (the 1st batch was committed and must stay, whole).
FETCH_TARGETS = (2, 1, 2, 1, 2)
FETCH_KILLS = len(FETCH_TARGETS)

#: Marks the side file: b"W" + the write's number while inside a write, b"I" + it after.
MARKER = """
import os

class Marker:
    def __init__(self, path, cache):
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.writes = 0
        self.inside = False
        cache._conn.set_trace_callback(self.trace)
        for name in ("put_many", "clear"):
            setattr(cache, name, self.wrap(getattr(cache, name)))

    def trace(self, sql):
        if not self.inside and sql.lstrip().upper().startswith(("INSERT", "DELETE")):
            self.inside = True
            self.writes += 1
            os.pwrite(self.fd, b"W%09d" % self.writes, 0)

    def wrap(self, method):
        def wrapped(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            finally:
                if self.inside:
                    os.pwrite(self.fd, b"I%09d" % self.writes, 0)
                    self.inside = False
        return wrapped
"""

CHILD = MARKER + textwrap.dedent(
    """
    import json, random, sys
    from ice_widgets._cache import JobCache
    from ice_widgets._models import PackageJob

    cache_path, jobs_path, state_path, endpoint, seed = sys.argv[1:]
    jobs = [PackageJob.from_api(raw) for raw in json.load(open(jobs_path))]
    rng = random.Random(int(seed))
    cache = JobCache(cache_path)
    Marker(state_path, cache)
    print("ready", flush=True)
    # Batches from the first three quarters only: the rest must come from the re-fetch.
    batches = max(1, (len(jobs) // {batch}) * 3 // 4)
    while True:
        if rng.random() < 0.15:
            cache.clear(endpoint)  # one transaction: everything or nothing deleted
        else:
            start = rng.randrange(0, batches) * {batch}
            cache.put_many(jobs[start : start + {batch}], endpoint)
    """
).format(batch=BATCH)


#: A real fetch_jobs with a cache (it writes every 500 finished jobs), killed as it writes.
FETCH_CHILD = MARKER + textwrap.dedent(
    """
    import json, sys
    import ice_widgets
    from ice_widgets import Client
    from ice_widgets._cache import JobCache

    cache_path, ids_path, state_path, endpoint = sys.argv[1:]
    ids = json.load(open(ids_path))
    cache = JobCache(cache_path)
    Marker(state_path, cache)
    with Client(endpoint=endpoint) as client:  # the key comes from the environment
        print("ready", flush=True)
        ice_widgets.fetch_jobs(ids, client=client, progress=False, cache=cache, concurrency=8)
    print("done", flush=True)
    """
)


def _state(path: Path) -> tuple[str, int]:
    """``("W" or "I" or "", write number)`` from the side file."""
    data = path.read_bytes()[:10] if path.exists() else b""
    if len(data) < 10:
        return "", 0
    return data[:1].decode(), int(data[1:])


def _kill_inside_a_write(
    proc: subprocess.Popen[str], state_path: Path, target: int, deadline_s: float = 120.0
) -> bool:
    """Wait until the child is inside its write number >= ``target``, SIGKILL it at once.

    Returns whether the kill landed inside a write (the mark still set once it is dead).
    Fails if the child exits before, or is not killed by this SIGKILL.
    """
    deadline = time.monotonic() + deadline_s
    while True:
        mark, number = _state(state_path)
        if mark == "W" and number >= target:
            break
        assert proc.poll() is None, (
            f"the child exited (status {proc.returncode}) before its cache write #{target}"
        )
        assert time.monotonic() < deadline, f"no cache write #{target} within {deadline_s:.0f} s"
        time.sleep(0.0005)
    assert proc.poll() is None, "the child was not running when it was to be killed"
    os.kill(proc.pid, signal.SIGKILL)
    status = proc.wait(30)
    assert status == -signal.SIGKILL, f"the child ended with status {status}, not by the SIGKILL"
    return _state(state_path)[0] == "W"


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
    child_path = tmp_path / "child.py"
    child_path.write_text(CHILD)
    rng = random.Random(6)

    inside = attempts = 0
    counts = []
    while inside < KILLS:
        attempts += 1
        assert attempts <= MAX_ATTEMPTS, f"only {inside} of {attempts - 1} kills landed inside a write"
        state_path = tmp_path / f"state-{attempts}"
        proc = subprocess.Popen(
            [
                sys.executable,
                str(child_path),
                str(cache_path),
                str(jobs_path),
                str(state_path),
                emu.endpoint,
                str(attempts),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            # Not always the first write: a random number of writes commit first.
            if _kill_inside_a_write(proc, state_path, target=rng.randint(1, 4)):
                inside += 1
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()
        counts.append(_check_cache(cache_path, emu.endpoint, truth, finished))
    print(f"kills inside a write: {inside} of {attempts}; cached rows after each kill: {counts}")
    assert max(counts) > 0, "the child never committed anything"

    # Then kill -9 a real fetch_jobs(cache=...) inside its cache writes, on a fresh file.
    fetch_cache = tmp_path / "fetch-cache" / "jobs.sqlite"
    ids_path = tmp_path / "ids.json"
    ids_path.write_text(json.dumps(emu.job_ids))
    fetch_child = tmp_path / "fetch_child.py"
    fetch_child.write_text(FETCH_CHILD)
    fetch_counts = []
    emu.configure(latency_ms=3)
    try:
        for run, target in enumerate(FETCH_TARGETS):
            state_path = tmp_path / f"fetch-state-{run}"
            proc = subprocess.Popen(
                [
                    sys.executable,
                    str(fetch_child),
                    str(fetch_cache),
                    str(ids_path),
                    str(state_path),
                    emu.endpoint,
                ],
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
                assert _kill_inside_a_write(proc, state_path, target), (
                    f"run {run}: the kill landed after the write committed"
                )
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(30)
                if proc.stdout is not None:
                    proc.stdout.close()
            rows = _check_cache(fetch_cache, emu.endpoint, truth, [])
            # Each fetch_jobs write is one transaction of 500 jobs: whole batches only.
            assert rows % FETCH_BATCH == 0, f"run {run}: {rows} cached jobs, not whole batches of 500"
            fetch_counts.append(rows)
    finally:
        emu.configure(latency_ms=0)
    print(f"cached rows after each fetch_jobs kill: {fetch_counts}")
    # A kill inside write #2 keeps write #1 (committed); a kill inside write #1 keeps nothing new.
    expected_counts = []
    committed = 0
    for target in FETCH_TARGETS:
        committed += (target - 1) * FETCH_BATCH
        expected_counts.append(committed)
    assert fetch_counts == expected_counts

    # A re-fetch through the cache completes the set, asking for exactly the jobs not cached.
    ids = emu.job_ids
    with _client(emu) as client:
        fresh = ice_widgets.fetch_jobs(ids, client=client, progress=False)
    with _client(emu) as client:
        before = emu.stats.requests
        again = ice_widgets.fetch_jobs(ids, client=client, progress=False, cache=str(fetch_cache))
        requests = emu.stats.requests - before
    pd.testing.assert_frame_equal(
        again.drop(columns=["elapsed"]).reset_index(drop=True),
        fresh.drop(columns=["elapsed"]).reset_index(drop=True),
    )
    assert requests == len(ids) - fetch_counts[-1]
    assert _check_cache(fetch_cache, emu.endpoint, truth, []) == len(finished)
