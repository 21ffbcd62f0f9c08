"""How many signed GetPackageJob (and GetTranscodeJob) requests per second the emulator answers.

Starts ``python -m ice_widgets.emulator`` in a child process (latency 0, no faults) and
drives it from this process with a bounded load: ``--connections`` keep-alive
connections, each sending fresh ACS3-HMAC-SHA256-signed GetPackageJob requests (new
nonce and date every time, as a real client does) for ``--seconds`` after a short
warm-up. Every answer is checked (status 200 and the JobId asked for). Prints the
sustained requests per second; the target is at least 1,000. Then the same for
GetTranscodeJob (a parent job with its 1-4 sub-jobs, about 5 times the bytes of a
packaging job) and a ListPackageJobs page of 100.

    .venv/bin/python bench/bench_emulator.py [--seconds 5] [--connections 16] [--jobs 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ice_widgets import _signing
from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, start_subprocess
from ice_widgets.emulator._data import generate_jobs
from ice_widgets.emulator._kinds import seeded_facts


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_request(host: str, job_id: str, action: str = "GetPackageJob") -> bytes:
    """One signed request, as bytes on the wire: GetPackageJob for ``job_id``, or a
    ListPackageJobs page of 100 (``job_id`` unused)."""
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": "2020-11-09",
        "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "x-acs-signature-nonce": os.urandom(16).hex(),
        "x-acs-content-sha256": _signing.EMPTY_SHA256,
    }
    if action == "GetPackageJob":
        query = {"JobId": job_id}
    elif action == "GetTranscodeJob":
        query = {"ParentJobId": job_id}
    else:
        query = {"PageSize": "100", "OrderBy": "CreateTimeAsc"}
    auth = _signing.authorization_v3(
        DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "POST", "/", query, headers
    )
    lines = [f"POST /?{_signing.canonical_query(query)} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Authorization: {auth}", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length)
    return status, body


async def drive(
    host: str,
    port: int,
    job_ids: list[str],
    connections: int,
    seconds: float,
    warmup: float,
    pid: int,
    action: str = "GetPackageJob",
) -> dict[str, float]:
    counts = {"ok": 0, "bad": 0}
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    measured = {"n": 0}
    cpu: dict[str, float | None] = {}

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
        cpu["start"] = cpu_seconds(pid)
        await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        cpu["end"] = cpu_seconds(pid)

    async def worker(index: int) -> None:
        rng = random.Random(index)
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                now = time.monotonic()
                if now >= stop_at:
                    break
                job_id = rng.choice(job_ids)
                writer.write(build_request(f"{host}:{port}", job_id, action))
                status, body = await read_response(reader)
                expected = job_id.encode() if action.startswith("Get") else job_ids[0].encode()
                if status == 200 and expected in body:
                    counts["ok"] += 1
                else:
                    counts["bad"] += 1
                if time.monotonic() >= measure_from:
                    measured["n"] += 1
        finally:
            writer.close()

    await asyncio.gather(sample_cpu(), *(worker(i) for i in range(connections)))
    elapsed = time.monotonic() - measure_from
    start_cpu, end_cpu = cpu.get("start"), cpu.get("end")
    used = end_cpu - start_cpu if start_cpu is not None and end_cpu is not None else float("nan")
    return {
        "requests": measured["n"],
        "seconds": elapsed,
        "ok": counts["ok"],
        "bad": counts["bad"],
        "cpu": used,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--kind-jobs", type=int, default=2000, help="seeded transcode jobs (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    seconds = min(args.seconds, 60.0)  # bounded whatever is asked

    with start_subprocess(jobs=args.jobs, seed=args.seed, kind_jobs=args.kind_jobs) as emu:
        host_port = emu.endpoint.split("://", 1)[1]
        host, port = host_port.rsplit(":", 1)
        # the same seed gives the same IDs the child serves
        job_ids = [job["JobId"] for job in generate_jobs(args.jobs, args.seed, anchor=0.0)]
        result = asyncio.run(
            drive(host, int(port), job_ids, args.connections, seconds, args.warmup, emu.process.pid)
        )
        parents = [facts.job_id for facts in seeded_facts("transcode", args.kind_jobs, args.seed, anchor=0.0)]
        transcode = asyncio.run(
            drive(
                host,
                int(port),
                parents,
                args.connections,
                seconds,
                # the first transcode request builds that data set: warm up past it
                args.warmup + 2.0,
                emu.process.pid,
                action="GetTranscodeJob",
            )
        )
        listing = asyncio.run(
            drive(
                host,
                int(port),
                job_ids,
                args.connections,
                min(seconds, 3.0),
                0.5,
                emu.process.pid,
                action="ListPackageJobs",
            )
        )
    rate = result["requests"] / result["seconds"]
    print(
        f"emulator GetPackageJob (V3-signed, verified, latency 0): {rate:,.0f} req/s sustained over "
        f"{result['seconds']:.1f} s, {args.connections} keep-alive connections, {args.jobs} jobs; "
        f"answers ok {result['ok']:,}, wrong {result['bad']:,}"
    )
    if result["cpu"] == result["cpu"] and result["cpu"] > 0:  # not NaN
        per_request = result["cpu"] / max(1, result["requests"])
        print(
            f"emulator CPU: {per_request * 1e6:,.0f} us per request "
            f"(~{1 / per_request:,.0f} req/s per fully used core; the load generator shares the 2 cores)"
        )
    parent_rate = transcode["requests"] / transcode["seconds"]
    per_parent = transcode["cpu"] / max(1, transcode["requests"])
    print(
        f"emulator GetTranscodeJob (V3-signed, verified, latency 0): {parent_rate:,.0f} req/s sustained over "
        f"{transcode['seconds']:.1f} s, {args.kind_jobs} parent jobs; emulator CPU {per_parent * 1e6:,.0f} us "
        f"per request; answers ok {transcode['ok']:,}, wrong {transcode['bad']:,}"
    )
    pages = listing["requests"] / listing["seconds"]
    print(
        f"emulator ListPackageJobs (PageSize 100): {pages:,.0f} pages/s ({pages * 100:,.0f} jobs/s); "
        f"answers ok {listing['ok']:,}, wrong {listing['bad']:,}"
    )
    met = rate >= 1000 and parent_rate >= 1000
    print(f"target >= 1,000 req/s (GetPackageJob and GetTranscodeJob): {'met' if met else 'NOT met'}")
    return 0 if result["bad"] == 0 and listing["bad"] == 0 and transcode["bad"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
