"""Client and AsyncClient for every job kind against the real emulator (a real HTTP server).

Get, List across pages (each kind's own paging), filters and Submit, compared with what the
emulator holds (``emu.expected``), for transcode, media producing, snapshot and media convert.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from ice_widgets import AsyncClient, Client, NotFoundError
from ice_widgets._models import model_for, parse_job
from ice_widgets.emulator import Emulator

KINDS = ("transcode", "media_producing", "snapshot", "media_convert")
FINISHED_STATUS = {
    "transcode": "Success",
    "media_producing": "Success",
    "snapshot": "Success",
    "media_convert": "Complete",
}


def finished_ids(emu: Emulator, kind: str) -> list[str]:
    """IDs whose job has finished (it no longer changes, so Get must equal ``expected``)."""
    return [i for i in emu.ids(kind) if parse_job(kind, emu.expected(i, kind)).is_finished]


@pytest.mark.parametrize("kind", KINDS)
def test_get_job_equals_what_the_emulator_holds(emulator: Emulator, client: Client, kind: str) -> None:
    ids = finished_ids(emulator, kind)
    assert len(ids) > 50
    for job_id in ids[:: max(1, len(ids) // 25)]:
        job = client.get_job(job_id, kind=kind)
        assert type(job) is model_for(kind) and job.kind == kind
        assert job == model_for(kind).from_api(emulator.expected(job_id, kind))
        assert job.raw == emulator.expected(job_id, kind), "every key as the emulator sent it"
        specific = getattr(client, f"get_{kind}_job")(job_id)
        assert specific == job


def test_transcode_parents_that_succeed_with_a_failed_sub_job(emulator: Emulator, client: Client) -> None:
    partial = []
    for job_id in finished_ids(emulator, "transcode")[:120]:
        job = client.get_transcode_job(job_id)
        assert job.sub_jobs and len(job.sub_jobs) == (job.job_count or len(job.sub_jobs))
        assert all(sub.parent_job_id == job.job_id for sub in job.sub_jobs)
        if job.state == "succeeded" and job.sub_jobs_failed:
            partial.append(job)
    assert partial, "the seeded data has parents that succeed with a failed sub-job"
    failed = [sub for job in partial for sub in job.sub_jobs if sub.is_failed]
    assert all(sub.code and sub.message for sub in failed), "from SubmitResultJson"


@pytest.mark.parametrize("kind", KINDS)
def test_get_of_a_missing_job_is_not_found(client: Client, kind: str) -> None:
    with pytest.raises(NotFoundError) as info:
        client.get_job("0" * 32, kind=kind)
    assert info.value.job_id == "0" * 32 and info.value.action == f"Get{model_for(kind).__name__}"


@pytest.mark.parametrize("kind", KINDS)
def test_list_jobs_walks_every_page(emulator: Emulator, client: Client, kind: str) -> None:
    before = client.stats.requests
    jobs = list(client.list_jobs(kind=kind, page_size=7))
    ids = [job.job_id for job in jobs]
    assert len(ids) == len(set(ids)), "no job twice"
    assert set(ids) == set(emulator.ids(kind))
    assert client.stats.requests - before >= len(ids) // 7
    times = [job.create_time for job in jobs]
    assert all(t is not None for t in times) and times == sorted(times, reverse=True), "newest first"
    oldest_first = [job.job_id for job in client.list_jobs(kind=kind, order_by="CreateTimeAsc")]
    assert oldest_first[0] == ids[-1] and len(oldest_first) == len(ids)


@pytest.mark.parametrize("kind", KINDS)
def test_list_filters_by_status_and_creation_time(emulator: Emulator, client: Client, kind: str) -> None:
    status = FINISHED_STATUS[kind]
    finished_before = {
        i for i in emulator.ids(kind) if parse_job(kind, emulator.expected(i, kind)).status == status
    }
    listed = list(getattr(client, f"list_{kind}_jobs")(status=status, page_size=50))
    assert {job.status for job in listed} == {status}
    assert finished_before <= {job.job_id for job in listed}, "a finished job stays finished"
    everything = list(client.list_jobs(kind=kind))
    times = sorted(job.create_time for job in everything if job.create_time is not None)
    start, end = times[len(times) // 4], times[len(times) // 2]
    if kind == "media_producing":  # at most 30 days apart
        end = min(end, start + timedelta(days=29))
    window = list(client.list_jobs(kind=kind, start=start, end=end, page_size=13))
    expected = {job.job_id for job in everything if job.create_time and start <= job.create_time <= end}
    assert window and {job.job_id for job in window} == expected


def test_media_producing_over_more_than_30_days(emulator: Emulator, client: Client) -> None:
    """The emulator refuses a range over 30 days as ICE does; the client lists it in windows."""
    everything = list(client.list_media_producing_jobs())
    newest = max(job.create_time for job in everything if job.create_time)
    start, end = newest - timedelta(days=95), newest + timedelta(days=1)
    listed = [job.job_id for job in client.list_media_producing_jobs(start=start, end=end, page_size=100)]
    assert sorted(listed) == sorted(job.job_id for job in everything)
    assert len(listed) == len(set(listed))


def test_submit_every_kind_then_get_it(client: Client) -> None:
    parent = client.submit_transcode_job(
        "oss://bucket/in/show.mp4",
        ["oss://bucket/out/720.mp4", "oss://bucket/out/1080.mp4"],
        template_id="S00000001-200010",
        name="ladder",
        user_data={"batch": 7},
    )
    job = client.get_transcode_job(parent)
    assert job.job_id == parent and job.name == "ladder" and job.state in ("running", "succeeded", "failed")
    assert job.user_data == '{"batch":7}'

    timeline = {
        "VideoTracks": [{"VideoTrackClips": [{"MediaURL": f"oss://bucket/in/{i}.mp4"} for i in range(600)]}]
    }
    produced = client.submit_media_producing_job("oss://bucket/out/promo.mp4", timeline=timeline)
    job = client.get_media_producing_job(produced)
    assert job.job_id == produced and job.kind == "media_producing"

    snap = client.submit_snapshot_job(
        "oss://bucket/in/show.mp4",
        "oss://bucket/out/{Count}.jpg",
        template_id="S00000101-100070",
        name="thumbs",
    )
    job = client.get_snapshot_job(snap)
    assert job.job_id == snap and job.name == "thumbs"

    converted = client.submit_media_convert_job(
        "oss://bucket/in/show.mp4", "oss://bucket/out/c.mp4", template_id="S00000001-200010", name="convert"
    )
    job = client.get_media_convert_job(converted)
    assert job.job_id == converted and job.name == "convert"
    assert len({parent, produced, snap, converted}) == 4


def test_async_client_lists_gets_and_submits(emulator: Emulator, async_client: AsyncClient) -> None:
    async def run() -> dict[str, Any]:
        found: dict[str, Any] = {}
        async with async_client:
            for kind in KINDS:
                ids = [job.job_id async for job in async_client.list_jobs(kind=kind, page_size=40)]
                found[kind] = ids
                job = await async_client.get_job(finished_ids(emulator, kind)[0], kind=kind)
                assert job == model_for(kind).from_api(emulator.expected(job.job_id or "", kind))
            found["submitted"] = await async_client.submit_snapshot_job(
                "oss://bucket/in/a.mp4", "oss://bucket/out/{Count}.jpg", template_id="S00000101-100070"
            )
        return found

    found = asyncio.run(run())
    for kind in KINDS:
        assert set(found[kind]) >= set(emulator.ids(kind)) and len(found[kind]) == len(set(found[kind]))
    assert emulator.kind_of(found["submitted"]) == "snapshot"
