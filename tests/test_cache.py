"""JobCache: finished jobs only, keyed by endpoint + ID, safe across processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import ice_widgets
from ice_widgets._cache import CacheError, JobCache
from ice_widgets._models import PackageJob
from ice_widgets.emulator import Emulator


def job(job_id: str, status: str = "Success", **extra: Any) -> PackageJob:
    return PackageJob.from_api(
        {
            "JobId": job_id,
            "Status": status,
            "Name": f"n-{job_id}",
            "SubmitTime": "2026-01-01T00:00:00Z",
            **extra,
        }
    )


def test_only_finished_jobs_are_stored_and_read_back(tmp_path: Path) -> None:
    with JobCache(tmp_path / "c.sqlite") as cache:
        stored = cache.put_many(
            [job("a"), job("b", "Fail", Code="E", Message="m"), job("c", "Init"), job("d", "Weird")],
            "http://e",
        )
        assert stored == 2
        found = cache.get_many(["a", "b", "c", "d", "zzz"], "http://e")
        assert set(found) == {"a", "b"}
        assert found["b"] == job("b", "Fail", Code="E", Message="m")
        assert found["a"].raw["Name"] == "n-a"
        assert cache.get_many(["a"], "http://other") == {}  # keyed by endpoint too
        assert len(cache) == 2


def test_jobs_without_raw_are_rebuilt_from_fields(tmp_path: Path) -> None:
    original = job(
        "x",
        "Success",
        FinishTime="2026-01-01T00:02:00Z",
        Priority=3,
        Inputs=[{"Input": {"Type": "OSS", "Media": "oss://b/i.mp4"}}],
    )
    bare = PackageJob(**{f: getattr(original, f) for f in PackageJob.__dataclass_fields__ if f != "raw"})
    with JobCache(tmp_path / "c.sqlite") as cache:
        cache.put_many([bare], "e")
        assert cache.get_many(["x"], "e")["x"] == original


def test_many_ids_are_read_in_chunks(tmp_path: Path) -> None:
    with JobCache(tmp_path / "c.sqlite") as cache:
        cache.put_many([job(f"id{i}") for i in range(3000)], "e")
        assert len(cache.get_many([f"id{i}" for i in range(3500)], "e")) == 3000
        assert cache.clear("e") == 3000
        assert len(cache) == 0


def test_wal_mode_and_integrity(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with JobCache(path) as cache:
        cache.put_many([job("a")], "e")
        assert cache.integrity_check() == "ok"
        mode = cache._conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_a_file_that_is_not_a_cache_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheError, match="not a usable job cache"):
        JobCache(path)


_WORKER = textwrap.dedent(
    """
    import random, sys
    from ice_widgets._cache import JobCache
    from ice_widgets._models import PackageJob
    path, name, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cache = JobCache(path)
    rng = random.Random(name)
    seen = 0
    for b in range(batches):
        jobs = [PackageJob.from_api({"JobId": f"{name}-{b}-{i}", "Status": "Success"}) for i in range(50)]
        cache.put_many(jobs, "http://e")
        other = "B" if name == "A" else "A"
        ids = [f"{other}-{rng.randrange(batches)}-{i}" for i in range(50)]
        found = cache.get_many(ids, "http://e")
        for job_id, job in found.items():
            assert job.job_id == job_id and job.status == "Success", job
        seen += len(found)
    print(seen)
    """
)


def test_two_processes_write_and_read_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), name, "60"], stdout=subprocess.PIPE, text=True
        )
        for name in ("A", "B")
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sum(int(o) for o in outputs) > 0  # each read the other's writes while both ran
    with JobCache(path) as cache:
        assert len(cache) == 2 * 60 * 50
        assert cache.integrity_check() == "ok"


_CRASHER = textwrap.dedent(
    """
    import sys
    from ice_widgets._cache import JobCache
    from ice_widgets._models import PackageJob
    cache = JobCache(sys.argv[1])
    print("ready", flush=True)
    b = 0
    while True:
        jobs = [PackageJob.from_api({"JobId": f"{b}-{i}", "Status": "Fail"}) for i in range(200)]
        cache.put_many(jobs, "e")
        b += 1
    """
)


def test_a_crash_mid_write_leaves_whole_transactions(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    script = tmp_path / "crasher.py"
    script.write_text(_CRASHER)
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with JobCache(path) as cache:
        assert cache.integrity_check() == "ok"
        count = len(cache)
        assert count > 0
        assert count % 200 == 0  # every batch is all or nothing


def test_fetch_jobs_with_cache_requests_only_unfinished(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with (
        Emulator(jobs=400, seed=11) as emu,
        ice_widgets.Client(
            endpoint=emu.endpoint, access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret
        ) as client,
    ):
        first = ice_widgets.fetch_jobs(emu.job_ids, client=client, progress=False, cache=path)
        unfinished = int((~first["status"].isin(["Success", "Fail"])).sum())
        assert 0 < unfinished < 400
        before = client.stats.requests
        second = ice_widgets.fetch_jobs(emu.job_ids, client=client, progress=False, cache=str(path))
        assert client.stats.requests - before == unfinished
        cols = [c for c in first.columns if c != "elapsed"]
        assert second[cols].equals(first[cols])
        # a JobCache object works too, and is left open for the caller
        with JobCache(path) as cache:
            ice_widgets.fetch_jobs(emu.job_ids[:10], client=client, progress=False, cache=cache)
            assert len(cache) == 400 - unfinished


def test_two_kernels_share_one_cache_file(tmp_path: Path) -> None:
    """Two processes fetch overlapping IDs into one cache at the same time."""
    path = tmp_path / "jobs.sqlite"
    with Emulator(jobs=600, seed=5, latency_ms=2) as emu:
        script = tmp_path / "fetch.py"
        script.write_text(
            textwrap.dedent(
                f"""
                import sys, ice_widgets
                ids = {emu.job_ids!r}
                part = ids[:400] if sys.argv[1] == "0" else ids[200:]
                client = ice_widgets.Client(endpoint={emu.endpoint!r})  # the key from the environment
                df = ice_widgets.fetch_jobs(part, client=client, progress=False, cache={str(path)!r})
                assert len(df) == 400 and df["error_code"].isna().all()
                print("ok")
                """
            )
        )
        env = {
            **os.environ,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": emu.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": emu.access_key_secret,  # never in the script file
        }
        procs = [
            subprocess.Popen([sys.executable, str(script), n], stdout=subprocess.PIPE, text=True, env=env)
            for n in "01"
        ]
        outs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0]
        assert outs == ["ok\n", "ok\n"]
        finished = [i for i in emu.job_ids if emu.expected(i)["Status"] in ("Success", "Fail")]
        with JobCache(path) as cache:
            assert cache.integrity_check() == "ok"
            assert sorted(cache.job_ids(emu.endpoint)) == sorted(finished)
