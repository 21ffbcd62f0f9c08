"""The fault matrix: every emulator fault alone and all mixed, against fetch_jobs and list_jobs.

For each fault kind (throttling, 503, 500, dropped connections, truncated bodies, latency
spikes longer than the client's read timeout) and for all of them mixed:

- ``fetch_jobs`` over 3,000 IDs returns a frame equal to the fault-free one (same rows,
  same order, same values and dtypes; only ``elapsed``, which depends on the fetch time,
  and ``attrs`` may differ), with no per-row error;
- ``list_jobs`` returns every job exactly once across its pages.

The emulator counts the faults it injected, so every cell proves the faults happened.
The table of what ran (printed at the end of the module, and pasted in the README) is
built from those counters, not written by hand.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import ice_widgets
from ice_widgets import Client
from ice_widgets.emulator import Emulator

JOBS = 3000
SEED = 21
#: The client's per-attempt timeout in the matrix, and the ``slow`` fault's delay just above it.
TIMEOUT = 0.5
SLOW_MS = 700
#: Enough retries that a job failing every attempt is practically impossible (0.2 ** 11).
RETRIES = 10

# cell name -> (faults, fault rate). Slow spikes cost a timeout each, so they are rarer.
CELLS: dict[str, tuple[list[str], float]] = {
    "throttle": (["throttle"], 0.2),
    "503": (["503"], 0.2),
    "500": (["500"], 0.2),
    "drop": (["drop"], 0.2),
    "truncate": (["truncate"], 0.2),
    "slow": (["slow"], 0.03),
    "all mixed": (["throttle", "503", "500", "drop", "truncate", "slow"], 0.15),
}

RESULTS: dict[tuple[str, str], dict[str, Any]] = {}


@pytest.fixture(scope="module")
def emu(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    with Emulator(jobs=JOBS, seed=SEED, latency_ms=0, slow_ms=SLOW_MS) as emulator:
        yield emulator
    _report(request)


def _client(emu: Emulator) -> Client:
    return Client(
        endpoint=emu.endpoint,
        access_key_id=emu.access_key_id,
        access_key_secret=emu.access_key_secret,
        timeout=TIMEOUT,
        max_retries=RETRIES,
    )


@pytest.fixture(scope="module")
def baseline(emu: Emulator) -> pd.DataFrame:
    """The fault-free frame, fetched from the same server.

    With the matrix's 0.5 s timeout a loaded machine can time out a request or two even
    without faults (seen in CI: 2 retries), so the reference is fetched with the default timeout.
    """
    emu.configure(fault_rate=0.0)
    with Client(
        endpoint=emu.endpoint, access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret
    ) as client:
        frame = ice_widgets.fetch_jobs(emu.job_ids, client=client, progress=False)
    assert client.stats.retries == 0
    assert frame["error_code"].isna().all()
    return frame


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["elapsed"]).reset_index(drop=True)


#: list_jobs reads 3,000 jobs in about 30 pages: at the rare ``slow`` cell's 0.03 a run with no
#: fault at all is likely (0.97 ** 30 ~ 0.4), so list cells run at least at this rate
#: (0.7 ** 30 ~ 2e-5).
LIST_MIN_RATE = 0.3


def _configure(emu: Emulator, cell: str, *, min_rate: float = 0.0) -> dict[str, int]:
    faults, rate = CELLS[cell]
    emu.configure(fault_rate=max(rate, min_rate), faults=faults)
    return dict(emu.stats.faults)


def _injected(emu: Emulator, before: dict[str, int]) -> int:
    return sum(emu.stats.faults.values()) - sum(before.values())


@pytest.mark.slow
@pytest.mark.parametrize("cell", list(CELLS))
def test_fetch_jobs_under_faults_equals_the_fault_free_frame(
    emu: Emulator, baseline: pd.DataFrame, cell: str
) -> None:
    before = _configure(emu, cell)
    requests_before = emu.stats.requests
    started = time.monotonic()
    try:
        with _client(emu) as client:
            frame = ice_widgets.fetch_jobs(emu.job_ids, client=client, progress=False)
    finally:
        emu.configure(fault_rate=0.0)
    elapsed = time.monotonic() - started
    injected = _injected(emu, before)
    errors = frame.loc[frame["error_code"].notna(), ["job_id", "error_code", "error_message"]]
    RESULTS[(cell, "fetch_jobs")] = {
        "ok": errors.empty,
        "rows": len(frame),
        "faults": injected,
        "requests": emu.stats.requests - requests_before,
        "retries": client.stats.retries,
        "seconds": elapsed,
    }
    assert injected > 0, "no fault was injected: the cell proves nothing"
    assert errors.empty, f"rows with errors under {cell}:\n{errors.head(10)}"
    pd.testing.assert_frame_equal(_comparable(frame), _comparable(baseline))


@pytest.mark.parametrize("cell", list(CELLS))
def test_list_jobs_under_faults_returns_every_job_once(emu: Emulator, cell: str) -> None:
    before = _configure(emu, cell, min_rate=LIST_MIN_RATE)
    requests_before = emu.stats.requests
    started = time.monotonic()
    try:
        with _client(emu) as client:
            frame = ice_widgets.list_jobs(client=client, progress=False)
    finally:
        emu.configure(fault_rate=0.0)
    elapsed = time.monotonic() - started
    injected = _injected(emu, before)
    ids = frame["job_id"].tolist()
    duplicates = len(ids) - len(set(ids))
    missing = set(emu.job_ids) - set(ids)
    RESULTS[(cell, "list_jobs")] = {
        "ok": not duplicates and not missing and len(ids) == JOBS,
        "rows": len(frame),
        "faults": injected,
        "requests": emu.stats.requests - requests_before,
        "retries": client.stats.retries,
        "seconds": elapsed,
    }
    assert injected > 0, "no fault was injected: the cell proves nothing"
    assert duplicates == 0, f"{duplicates} jobs listed twice under {cell}"
    assert not missing, f"{len(missing)} jobs never listed under {cell}"
    assert len(ids) == JOBS
    # Every listed job carries the server's data (list items have no OutputUrl).
    truth = {job_id: emu.expected(job_id) for job_id in ids[:200]}
    for row in frame.head(200).itertuples():
        assert row.status == truth[row.job_id]["Status"]
        assert row.name == truth[row.job_id].get("Name")


def _report(request: pytest.FixtureRequest) -> None:
    """Print the faults x operations table (markdown, for the README)."""
    if not RESULTS:
        return
    lines = [
        "",
        f"Fault matrix: {JOBS} jobs, emulator latency 0, client timeout {TIMEOUT} s, "
        f"max_retries {RETRIES}, slow fault {SLOW_MS} ms",
        "",
        "| fault | rate | operation | result | faults injected | requests | retries | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (cell, op), r in RESULTS.items():
        rate = CELLS[cell][1] if op == "fetch_jobs" else max(CELLS[cell][1], LIST_MIN_RATE)
        result = "equal to fault-free" if op == "fetch_jobs" else "every job once"
        lines.append(
            f"| {cell} | {rate:g} | {op} | {result if r['ok'] else 'FAILED'} | {r['faults']} | "
            f"{r['requests']} | {r['retries']} | {r['seconds']:.1f} |"
        )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    context = capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()
    with context:
        print("\n".join(lines), flush=True)
