"""The demo's data set looks like a real account at the moment the demo starts (issue 12).

The data set is built as ``ice-widgets demo`` builds it (2,000 jobs of every kind, seed 7,
seeded running jobs progressing, ``--progress-seconds 10``), anchored at several times of
day. Then time moves ten minutes on, so every seeded running job has finished, and the
finished jobs are checked: the long tail stays a tail (under 1 % over two hours), no
cluster of durations or finish times at the start time, and the jobs that were running
at the start had been submitted minutes before it and ran ordinary durations.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest

from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, start_subprocess
from ice_widgets.emulator._data import JobStore, default_anchor, parse_api_time
from ice_widgets.emulator._kinds import KINDS
from tests._emu_http import HTTP, v3_request

DEMO_JOBS = 2000
DEMO_SEED = 7
DEMO_PROGRESS_SECONDS = 10.0
ANCHORS = ["2026-12-01T00:00:00Z", "2026-12-01T06:00:00Z", "2026-12-01T18:30:00Z", "2026-12-01T23:59:00Z"]
#: Finished states of every kind.
FINISHED = {"Success", "Fail", "Failed", "Complete", "Error", "Cancelled"}


class _Endpoint(NamedTuple):
    """What a hand-signed request needs of an emulator running in a child process."""

    endpoint: str
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None


def status_of(kind: str, job: dict[str, Any]) -> str:
    return str(job["State"] if kind == "media_convert" else job["Status"])


def start_and_end(kind: str, job: dict[str, Any]) -> tuple[float | None, float | None]:
    """The times the job's duration runs between, by the contract's rule for its kind."""
    if kind == "media_producing":
        return parse_api_time(job.get("CreateTime", "")), parse_api_time(job.get("CompleteTime", ""))
    if kind == "media_convert":
        return parse_api_time(job.get("CreateTime", "")), parse_api_time(job.get("FinishTime", ""))
    return parse_api_time(job.get("SubmitTime", "")), parse_api_time(job.get("FinishTime", ""))


def demo_store(kind: str, anchor: float) -> JobStore:
    return JobStore(
        DEMO_JOBS,
        DEMO_SEED,
        anchor=anchor,
        progress_seconds=DEMO_PROGRESS_SECONDS,
        progress_seeded=True,
        kind=kind,
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stamp", ANCHORS)
def test_demo_data_look_like_an_account_at_start(kind: str, stamp: str) -> None:
    anchor = parse_api_time(stamp)
    assert anchor is not None
    store = demo_store(kind, anchor)
    ids = store.ids()
    assert len(ids) == DEMO_JOBS

    # at the start: running jobs were submitted minutes ago; nothing happened in the future
    at_start = {job_id: store.get(job_id, now=anchor) for job_id in ids}
    running = {j: job for j, job in at_start.items() if job and status_of(kind, job) not in FINISHED}
    assert 0 < len(running) < 0.1 * DEMO_JOBS  # a few, not a crowd
    for job in running.values():
        begun, ended = start_and_end(kind, job)
        assert begun is not None and ended is None
        assert anchor - 600 <= begun <= anchor  # submitted within the last ten minutes
    for job in at_start.values():
        assert job is not None
        begun, ended = start_and_end(kind, job)
        assert begun is not None and begun <= anchor
        assert ended is None or ended <= anchor

    # ten minutes on, every seeded job has finished
    durations: list[float] = []
    finish_times: list[float] = []
    late: list[float] = []  # durations of the jobs that were running at the start
    for job_id in ids:
        job = store.get(job_id, now=anchor + 600)
        assert job is not None and status_of(kind, job) in FINISHED, job
        begun, ended = start_and_end(kind, job)
        assert begun is not None and ended is not None and ended >= begun
        durations.append(ended - begun)
        finish_times.append(ended)
        if job_id in running:
            late.append(ended - begun)
            assert ended <= anchor + 10 * DEMO_PROGRESS_SECONDS  # within a couple of minutes
    over_two_hours = sum(1 for d in durations if d > 7200) / len(durations)
    assert over_two_hours < 0.01
    # no cluster of finish times at the start: the ten minutes after it hold only the jobs
    # that were running, as many as an ordinary ten minutes (the data span seven days)
    after_start = sum(1 for t in finish_times if anchor <= t <= anchor + 600)
    assert after_start == len(running)
    per_hour = len(durations) / (7 * 24)
    before_start = sum(1 for t in finish_times if anchor - 3600 <= t < anchor)
    assert before_start <= 5 * per_hour + 10
    # the running jobs ran ordinary durations: minutes, not hours, no second hump
    assert max(late) <= 600
    assert statistics.median(late) <= 3 * statistics.median(durations)
    hist = _histogram_peaks(durations)
    assert hist == 1, f"durations have {hist} humps"


def _histogram_peaks(durations: list[float]) -> int:
    """Humps of the duration histogram on a log scale (bins of a factor 2, smoothed)."""
    import math

    bins = [0] * 16
    for d in durations:
        bins[min(15, max(0, int(math.log2(max(d, 1.0)))))] += 1
    smooth = [sum(bins[max(0, i - 1) : i + 2]) for i in range(16)]
    floor = 0.01 * len(durations)
    peaks = 0
    for i, value in enumerate(smooth):
        left = smooth[i - 1] if i else -1
        right = smooth[i + 1] if i < 15 else -1
        if value > floor and value > left and value >= right:
            peaks += 1
    return peaks


def test_histogram_peaks_sees_a_second_hump() -> None:
    # the checker itself: the old bug (200 jobs of 18-21 h beside minutes) has two humps
    ordinary = [60.0 * (1 + i % 10) for i in range(1800)]
    assert _histogram_peaks(ordinary) == 1
    assert _histogram_peaks(ordinary + [18 * 3600.0 + 30 * i for i in range(200)]) == 2


def test_the_default_anchor_is_now() -> None:
    now = datetime(2026, 12, 1, 18, 30, 12, tzinfo=UTC).timestamp()
    assert default_anchor(now) == now
    store = JobStore(50, 1, kind="package")
    assert abs(store.anchor - datetime.now(UTC).timestamp()) < 60


def test_the_emulator_started_as_the_demo_starts_it_looks_current() -> None:
    # the command line the demo runs (no --anchor): the newest jobs of every kind were
    # submitted minutes before the emulator started, and nothing finished in the future
    lists = {
        "package": ("ListPackageJobs", "PackageJobList", {"PageSize": "100"}),
        "transcode": ("ListTranscodeJobs", "Jobs", {"PageSize": "100"}),
        "media_producing": ("ListMediaProducingJobs", "MediaProducingJobList", {"MaxResults": "100"}),
        "snapshot": ("ListSnapshotJobs", "Jobs", {"PageSize": "100"}),
        "media_convert": ("ListMediaConvertJobs", "Jobs", {"PageSize": "100"}),
    }
    started = datetime.now(UTC).timestamp()
    with start_subprocess(
        jobs=400, seed=DEMO_SEED, kind_jobs=90, progress_seconds=10, progress_seeded=True
    ) as emu:
        target = _Endpoint(emu.endpoint, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
        for kind, (action, key, params) in lists.items():
            url, headers = v3_request(target, action, params)  # type: ignore[arg-type]
            body = HTTP.post(url, headers=headers).json()
            items = body[key]["PackageJobs"] if kind == "package" else body[key]
            assert len(items) == (100 if kind == "package" else 90)  # --jobs 400 --kind-jobs 90
            newest = parse_api_time(items[0]["CreateTime"])
            now = datetime.now(UTC).timestamp()
            assert newest is not None and started - 900 <= newest <= now + 1, (kind, items[0]["CreateTime"])
            for item in items:
                begun, ended = start_and_end(kind, item)
                assert ended is None or ended <= now + 1
                if status_of(kind, item) not in FINISHED:
                    assert begun is not None and begun >= started - 900
