"""Soak: watch 2,000 jobs through the live poller in a real kernel, against a faulty emulator.

Run with ``make soak`` (10 minutes) or ``python bench/soak.py --minutes 1`` for a short run.

What it does
------------
1. Starts the emulator as a subprocess with ``--fault-rate 0.1`` on 127.0.0.1.
2. Starts a real IPython kernel (jupyter_client) and, in it, ``ice_widgets.watch`` over
   2,000 job IDs (a mix of finished, seeded jobs and jobs freshly submitted, which move
   from Init to Success or Fail while they are watched).
3. While the watch runs, it submits new jobs throughout (and adds them to the watch where
   the view supports it), executes a trivial cell every second and records how long each
   one waited for the kernel, and, inside the kernel, measures the lag of a periodic
   probe callback scheduled on the kernel's own event loop (the loop the poller runs on).
4. At the end it compares every row the watch shows with the server's truth, and reports
   requests, throttled and retried answers, rows wrong (must be 0), the kernel's resident
   memory at start and end (growth must stay under 50 MB), open sockets and asyncio tasks
   before the watch and after it stopped, and the longest cell wait (must stay under 200 ms).

Every loop is bounded by ``--minutes``; the kernel and the emulator are stopped at the end,
by the handles this script holds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET  # noqa: E402

# Code run once in the kernel: probes that read the kernel's own state.
KERNEL_HELPERS = r"""
import asyncio, gc, json, os, time

def _soak_rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")

def _soak_sockets():
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n

def _soak_tcp_sockets():
    # TCP connections owned by this process (ZMQ uses TCP too, so this counts both).
    import psutil
    return len(psutil.Process().net_connections(kind="tcp"))

def _soak_tasks():
    return len(asyncio.all_tasks(asyncio.get_event_loop()))

_soak_lag = {"max": 0.0, "n": 0, "over_200ms": 0, "top": []}

def _soak_start_probe(period=0.05):
    # Lateness of a callback scheduled every `period` s on the kernel's loop (the poller's
    # loop). With each late tick, the kernel's CPU time over the same span: a loop kept busy
    # by the kernel burns CPU all along; a process descheduled by a loaded machine does not.
    loop = asyncio.get_event_loop()
    state = {"next": loop.time() + period, "cpu": time.process_time(), "stop": False}
    def tick():
        if state["stop"]:
            return
        now, cpu = loop.time(), time.process_time()
        late = now - state["next"]
        _soak_lag["n"] += 1
        _soak_lag["max"] = max(_soak_lag["max"], late)
        if late > 0.2:
            _soak_lag["over_200ms"] += 1
        top = _soak_lag["top"]
        top.append((round(late * 1000, 1), round((cpu - state["cpu"]) * 1000, 1)))
        top.sort(reverse=True)
        del top[5:]
        state["next"] = now + period
        state["cpu"] = cpu
        loop.call_later(period, tick)
    loop.call_later(period, tick)
    return state

def _soak_snapshot():
    gc.collect()
    return json.dumps({"rss_mb": _soak_rss_mb(), "sockets": _soak_sockets(),
                       "tcp": _soak_tcp_sockets(), "tasks": _soak_tasks()})
"""


@dataclass
class Figures:
    minutes: float
    jobs_watched: int = 0
    jobs_submitted: int = 0
    cells: int = 0
    cell_wait_max_ms: float = 0.0
    cell_wait_p99_ms: float = 0.0
    loop_lag_max_ms: float = 0.0
    loop_probes: int = 0
    requests: int | None = None
    throttled: int | None = None
    retried: int | None = None
    errors: int | None = None
    rows: int = 0
    rows_wrong: int = 0
    rows_stale: int = 0
    rows_missing: int = 0
    rounds: int = 0
    still_running: bool = False
    submit_failures: int = 0
    loop_lag_top: list[Any] = field(default_factory=list)
    loop_lag_over_200ms: int = 0
    start: dict[str, Any] = field(default_factory=dict)
    start_warm: dict[str, Any] = field(default_factory=dict)
    end_running: dict[str, Any] = field(default_factory=dict)
    end_stopped: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def start_emulator(args: argparse.Namespace) -> Any:
    """The emulator in a child process (its CPU and memory are not the kernel's)."""
    from ice_widgets.emulator import start_subprocess

    return start_subprocess(
        jobs=args.seed_jobs,
        seed=args.seed,
        fault_rate=args.fault_rate,
        # Submitted jobs finish throughout the run; seeded Init jobs stay Init (polled to the end).
        progress_seconds=max(5.0, args.minutes * 60 / 3),
    )


class Kernel:
    """A real IPython kernel driven through jupyter_client."""

    def __init__(self) -> None:
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT))

    def run(self, code: str, timeout: float = 60.0) -> str:
        """Execute ``code``; return its stdout; raise on an error."""
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook, store_history=False)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"kernel cell failed: {''.join(out)}")
        return "".join(out)

    def timed_cell(self, timeout: float = 30.0) -> float:
        """Seconds between sending a trivial cell and its reply."""
        t0 = time.perf_counter()
        msg_id = self.kc.execute("pass", silent=True, store_history=False)
        deadline = t0 + timeout
        while True:
            try:
                msg = self.kc.get_shell_msg(timeout=max(0.01, deadline - time.perf_counter()))
            except queue.Empty:
                return float("inf")
            if msg["parent_header"].get("msg_id") == msg_id:
                return time.perf_counter() - t0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.kc.stop_channels()
        with contextlib.suppress(Exception):
            self.km.shutdown_kernel(now=True)


def submit_jobs(client: Any, n: int, figures: Figures | None = None) -> list[str]:
    """Submit ``n`` jobs; a submit that fails (faults: SubmitPackageJob is not retried on a
    timeout, it might have been created) is counted, not fatal."""
    from ice_widgets import IceError

    ids = []
    for i in range(n):
        try:
            ids.append(
                client.submit_package_job(
                    [{"Input": {"Type": "OSS", "Media": f"oss://soak/in-{time.time_ns()}-{i}.mp4"}}],
                    {"Type": "OSS", "Media": "oss://soak/out/"},
                    name=f"soak-{i}",
                )
            )
        except IceError:
            if figures is not None:
                figures.submit_failures += 1
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--jobs", type=int, default=2000, help="jobs watched")
    parser.add_argument("--seed-jobs", type=int, default=5000, help="jobs the emulator is seeded with")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--interval", type=float, default=5.0, help="the watch's refresh interval (s)")
    parser.add_argument("--submit-every", type=float, default=3.0, help="seconds between new submissions")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    from ice_widgets import Client

    figures = Figures(minutes=args.minutes)
    emu = start_emulator(args)
    endpoint = emu.endpoint
    kernel: Kernel | None = None
    keys = {"access_key_id": DEFAULT_ACCESS_KEY_ID, "access_key_secret": DEFAULT_ACCESS_KEY_SECRET}
    try:
        with Client(endpoint=endpoint, max_retries=10, **keys) as client:
            # 2,000 IDs: a quarter freshly submitted (they finish while watched), a quarter seeded
            # Init jobs (they stay Init: the poller has work to the very end), the rest finished.
            fresh = submit_jobs(client, args.jobs // 4, figures)
            seeded = list(client.list_package_jobs(order_by="CreateTimeAsc"))
            chosen = set(fresh)
            seeded = [job for job in seeded if job.job_id not in chosen]
            running = [job.job_id for job in seeded if job.status == "Init"][: args.jobs // 4]
            done = [job.job_id for job in seeded if job.status != "Init"]
            ids = fresh + running + done[: args.jobs - len(fresh) - len(running)]
            figures.jobs_watched = len(ids)
            figures.jobs_submitted = len(fresh)

            kernel = Kernel()
            kernel.run(KERNEL_HELPERS)
            kernel.run(
                f"import ice_widgets\n"
                f"_soak_client = ice_widgets.AsyncClient(endpoint={endpoint!r}, "
                f"access_key_id={DEFAULT_ACCESS_KEY_ID!r}, access_key_secret={DEFAULT_ACCESS_KEY_SECRET!r})\n"
                f"_soak_ids = {json.dumps(ids)}\n"
                "from ice_widgets import watch\n"
            )
            figures.start = json.loads(kernel.run("print(_soak_snapshot())"))
            kernel.run(
                f"_soak_view = watch(_soak_ids, client=_soak_client, interval={args.interval!r})\n"
                "_soak_probe = _soak_start_probe()\n"
            )
            # Warm: wait for the first round, then take the memory baseline.
            deadline = time.monotonic() + 120
            while (
                time.monotonic() < deadline and int(kernel.run("print(_soak_view.rounds)").strip() or 0) < 1
            ):
                time.sleep(0.5)
            figures.start_warm = json.loads(kernel.run("print(_soak_snapshot())"))

            waits: list[float] = []
            end = time.monotonic() + args.minutes * 60
            next_submit = time.monotonic()
            while time.monotonic() < end:
                if time.monotonic() >= next_submit:
                    figures.jobs_submitted += len(submit_jobs(client, 5, figures))
                    next_submit += args.submit_every
                waits.append(kernel.timed_cell())
                time.sleep(max(0.0, 1.0 - waits[-1]))
            figures.cells = len(waits)
            waits.sort()
            figures.cell_wait_max_ms = round(waits[-1] * 1000, 1)
            figures.cell_wait_p99_ms = round(waits[int(0.99 * (len(waits) - 1))] * 1000, 1)

            lag = json.loads(kernel.run("print(json.dumps(_soak_lag))"))
            figures.loop_lag_max_ms = round(lag["max"] * 1000, 1)
            figures.loop_probes = lag["n"]
            figures.loop_lag_top = lag["top"]
            figures.loop_lag_over_200ms = lag["over_200ms"]
            figures.rounds = int(kernel.run("print(_soak_view.rounds)").strip())
            stats = json.loads(kernel.run("print(json.dumps(_soak_client.stats.as_dict()))"))
            figures.requests = stats.get("requests")
            figures.throttled = stats.get("throttled")
            figures.retried = stats.get("retries")
            figures.errors = stats.get("errors")
            figures.end_running = json.loads(kernel.run("print(_soak_snapshot())"))

            # Rows: what the view shows against the server's truth (fetched now, with retries).
            shown = json.loads(
                kernel.run(
                    "_f = _soak_view.frame[['job_id', 'status', 'name', 'code', 'message', 'output_url', "
                    "'error_code']].astype(object)\n"
                    "print(_f.where(_f.notna(), None).to_json(orient='records'))"
                )
            )
            truth = {job.job_id: job for job in client_iter_truth(client, [row["job_id"] for row in shown])}
            compare_rows(figures, shown, truth, ids)

            figures.still_running = kernel.run("print(_soak_view.running)").strip() == "True"
            kernel.run("_soak_probe['stop'] = True\n_soak_view.close()\nawait _soak_client.aclose()")
            time.sleep(2.0)
            figures.end_stopped = json.loads(kernel.run("print(_soak_snapshot())"))
    finally:
        if kernel is not None:
            kernel.close()
        emu.stop()

    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures.__dict__, indent=2))
    growth = figures.end_running.get("rss_mb", 0) - figures.start_warm.get("rss_mb", 0)
    ok = (
        figures.rows_wrong == 0
        and figures.rows_missing == 0
        and figures.cell_wait_max_ms < 200
        and growth < 50
        and figures.end_stopped.get("tasks") == figures.start.get("tasks")
        and figures.end_stopped.get("tcp") == figures.start.get("tcp")
    )
    print("soak:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def client_iter_truth(client: Any, ids: list[str]) -> list[Any]:
    """The server's jobs now, fetched concurrently (with retries) through fetch_jobs."""
    from ice_widgets import fetch_jobs

    frame = fetch_jobs(ids, client=client, progress=False)
    missing = frame.loc[frame["error_code"].notna(), "job_id"].tolist()
    if missing:  # still failing after the client's retries: ask once more, one by one
        frame = frame.loc[frame["error_code"].isna()]
    jobs = [_Truth(**row) for row in frame[list(_Truth._fields)].astype(object).to_dict("records")]
    return jobs + [client.get_package_job(job_id) for job_id in missing]


class _Truth(NamedTuple):
    job_id: str
    status: Any
    name: Any
    code: Any
    message: Any
    output_url: Any


def compare_rows(
    figures: Figures, shown: list[dict[str, Any]], truth: dict[str, Any], ids: list[str]
) -> None:
    """A finished row must equal the server; an unfinished one may only lag behind it."""
    figures.rows = len(shown)
    seen = {row["job_id"] for row in shown}
    figures.rows_missing = len(set(ids) - seen) + (len(shown) - len(seen))
    for row in shown:
        job = truth[row["job_id"]]
        if row["status"] in ("Success", "Fail"):
            same = (row["status"], row["name"], row["code"], row["message"], row["output_url"]) == tuple(
                _none(v) for v in (job.status, job.name, job.code, job.message, job.output_url)
            )
            figures.rows_wrong += not same
        elif job.status in ("Success", "Fail"):
            figures.rows_stale += 1  # shown as unfinished, finished since the last refresh
        elif row["status"] != job.status:
            figures.rows_wrong += 1


def _none(value: Any) -> Any:
    """pandas NA/NaN -> None, so frame values compare with JSON values."""
    try:
        import pandas as pd

        return None if value is None or pd.isna(value) else value
    except (TypeError, ValueError):
        return value


def report(f: Figures) -> None:
    growth = f.end_running.get("rss_mb", 0) - f.start_warm.get("rss_mb", 0)
    print(
        f"soak: {f.minutes:g} min, {f.jobs_watched} jobs watched, {f.rounds} refresh rounds, "
        f"{f.jobs_submitted} jobs submitted; poller still running at the end: {f.still_running}"
    )
    print(
        f"  watch client: requests {f.requests}, throttled {f.throttled}, retried {f.retried}, "
        f"errors {f.errors}; submits that failed {f.submit_failures}"
    )
    print(f"  rows {f.rows}, wrong {f.rows_wrong}, missing {f.rows_missing}, stale {f.rows_stale}")
    print(
        f"  kernel RSS before the watch {f.start.get('rss_mb', 0):.1f} MB, after its first round "
        f"{f.start_warm.get('rss_mb', 0):.1f} MB, at the end {f.end_running.get('rss_mb', 0):.1f} MB "
        f"(growth {growth:+.1f} MB), after close {f.end_stopped.get('rss_mb', 0):.1f} MB"
    )
    for name in ("sockets", "tcp", "tasks"):
        print(
            f"  {name}: before watch {f.start.get(name)}, end (running) {f.end_running.get(name)}, "
            f"after close {f.end_stopped.get(name)}"
        )
    print(
        f"  cells {f.cells}: longest wait {f.cell_wait_max_ms} ms, p99 {f.cell_wait_p99_ms} ms; "
        f"event-loop probe lag max {f.loop_lag_max_ms} ms over {f.loop_probes} probes"
    )
    print(
        f"  probe ticks later than 200 ms: {f.loop_lag_over_200ms}; the 5 latest "
        f"(ms late, kernel CPU ms in that span): {f.loop_lag_top}"
    )
    for note in f.notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
