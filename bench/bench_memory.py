"""Peak memory of fetch_jobs over 200,000 job IDs (target: under 500 MB).

Starts the emulator as a subprocess (so its memory is not counted), seeded with
``--jobs`` jobs, and fetches ``--ids`` IDs in one call: every seeded job, the rest IDs
that do not exist (each one costs a request and an error row all the same). Reports the
process's resident memory before the call, its peak during the call (``ru_maxrss`` and a
sampling thread), the frame's own size, the time taken and the error rows.

    python bench/bench_memory.py                  # 200,000 IDs
    python bench/bench_memory.py --ids 20000      # quicker
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_MB = 500.0


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class Sampler(threading.Thread):
    """Samples RSS every 50 ms: the peak of this call, not of the whole process's life."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss_mb()
        self.stop = threading.Event()
        self.timeline: list[tuple[float, float]] = []
        self.started = time.perf_counter()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            rss = rss_mb()
            self.peak = max(self.peak, rss)
            self.timeline.append((time.perf_counter() - self.started, rss))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ids", type=int, default=200_000)
    parser.add_argument("--jobs", type=int, default=200_000, help="jobs the emulator is seeded with")
    parser.add_argument("--concurrency", type=int, default=None)
    args = parser.parse_args(argv)

    import pandas  # noqa: F401  (imported before the baseline, as in a notebook)

    from ice_widgets import Client, fetch_jobs
    from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, start_subprocess

    keys = {"access_key_id": DEFAULT_ACCESS_KEY_ID, "access_key_secret": DEFAULT_ACCESS_KEY_SECRET}
    with start_subprocess(jobs=args.jobs, seed=3) as emu, Client(endpoint=emu.endpoint, **keys) as client:
        seeded = [job.job_id for job in client.list_package_jobs(page_size=100)]
        missing = args.ids - len(seeded)
        ids = seeded[: args.ids] + [f"{i:032x}" for i in range(max(0, missing))]
        del seeded
        gc.collect()
        before = rss_mb()
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        sampler = Sampler()
        sampler.start()
        started = time.perf_counter()
        frame = fetch_jobs(ids, client=client, progress=False, concurrency=args.concurrency)
        seconds = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        stats = client.stats.as_dict()
    peak_rusage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    errors = int(frame["error_code"].notna().sum())
    peak = max(sampler.peak, peak_rusage)
    print(f"fetch_jobs over {len(ids):,} IDs ({min(args.jobs, len(ids)):,} exist) in {seconds:.1f} s")
    print(
        f"  rows {len(frame):,}, error rows {errors:,}, requests {stats['requests']:,}, retries {stats['retries']}"
    )
    print(
        f"  RSS before {before:.0f} MB, peak {peak:.0f} MB (sampled {sampler.peak:.0f}, ru_maxrss {peak_rusage:.0f}; "
        f"ru_maxrss before the call {maxrss_before:.0f}: the setup's peak)"
    )
    print(
        f"  frame deep size {frame_mb:.0f} MB; target peak < {TARGET_MB:.0f} MB: {'ok' if peak < TARGET_MB else 'OVER'}"
    )
    if sampler.timeline:
        step = max(1, len(sampler.timeline) // 10)
        points = [*sampler.timeline[::step], sampler.timeline[-1]]
        print("  RSS over the call (s: MB): " + ", ".join(f"{t:.0f}: {m:.0f}" for t, m in points))
    print(f"  RSS after the call, frame alive: {rss_mb():.0f} MB")
    print(f"  pid {os.getpid()}, python {sys.version.split()[0]}")
    return 0 if peak < TARGET_MB and len(frame) == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
