"""Benchmark: build_frame on 100,000 PackageJob records vs pandas.json_normalize on the raw dicts.

Run: ``.venv/bin/python bench/bench_frame.py [--n 100000] [--repeat 3]``

Prints the best-of-``repeat`` wall time of both, their ratio, and the memory build_frame
needs (Python/numpy peak from tracemalloc plus the pyarrow pool peak, and the frame's own
deep size). The records are synthetic but shaped like GetPackageJob answers: two inputs,
an output, four timestamps, a third of the jobs unfinished, a few unknown statuses.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from ice_widgets._frames import JobError, build_frame
from ice_widgets._models import PackageJob


def raw_jobs(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    statuses = ["Success"] * 6 + ["Fail"] * 2 + ["Init"] * 3 + ["Cancelled"]
    out = []
    for i in range(n):
        submit = base + timedelta(seconds=rng.randrange(0, 30 * 86400))
        status = rng.choice(statuses)
        finish = submit + timedelta(seconds=rng.randrange(5, 3600)) if status in ("Success", "Fail") else None
        job: dict[str, Any] = {
            "JobId": f"{rng.getrandbits(128):032x}",
            "Name": f"package-{i}",
            "TriggerSource": rng.choice(["API", "WorkFlow", "Console"]),
            "Priority": rng.randint(1, 10),
            "PipelineId": f"pipe{rng.randrange(10)}",
            "Inputs": [
                {"Input": {"Type": "OSS", "Media": f"oss://bucket/in/{i}/video.mp4"}},
                {"Input": {"Type": "Media", "Media": f"{rng.getrandbits(64):016x}"}},
            ],
            "Output": {"Type": "OSS", "Media": f"oss://bucket/out/{i}/index.m3u8"},
            "OutputUrl": f"https://bucket.oss-cn-shanghai.aliyuncs.com/out/{i}/index.m3u8",
            "Status": status,
            "Code": "InvalidInput.Format" if status == "Fail" else None,
            "Message": "input is not a media file" if status == "Fail" else None,
            "UserData": '{"team":"media"}',
            "SubmitTime": submit.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "CreateTime": submit.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ModifiedTime": (finish or submit).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if finish is not None:
            job["FinishTime"] = finish.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(job)
    return out


def best_of(repeat: int, fn: Any) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    raw = raw_jobs(args.n)
    records: list[PackageJob | JobError] = [PackageJob.from_api(d) for d in raw]
    for i in range(0, len(records), 100):  # 1% error rows
        records[i] = JobError(records[i].job_id, "NotFound", "job not found")

    t_build = best_of(args.repeat, lambda: build_frame(records, endpoint="http://bench"))
    t_norm = best_of(args.repeat, lambda: pd.json_normalize(raw))

    import pyarrow as pa

    gc.collect()
    pool = pa.default_memory_pool()
    tracemalloc.start()
    frame = build_frame(records, endpoint="http://bench")
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrow_peak = pool.max_memory() or 0
    deep = int(frame.memory_usage(deep=True).sum())

    print(
        f"bench_frame: {args.n:,} records, pandas {pd.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, best of {args.repeat}"
    )
    print(f"  build_frame            {t_build:7.3f} s   ({args.n / t_build:,.0f} rows/s)")
    print(f"  pandas.json_normalize  {t_norm:7.3f} s   (raw dicts, no type conversion)")
    print(f"  ratio build/normalize  {t_build / t_norm:7.2f}   (target <= 1.5; build target <= 1.0 s)")
    print(
        f"  memory: Python+numpy peak {py_peak / 2**20:6.1f} MB, pyarrow pool peak {arrow_peak / 2**20:6.1f} MB, "
        f"total {(py_peak + arrow_peak) / 2**20:6.1f} MB (target <= 150 MB); frame deep size {deep / 2**20:6.1f} MB"
    )


if __name__ == "__main__":
    main()
