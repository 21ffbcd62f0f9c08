"""The official ICE SDK against the emulator for every job kind beside packaging.

For transcode, media producing, snapshot and media convert jobs: Get, List (every page,
each kind's own paging) and Submit go through ``alibabacloud_ice20201109.client.Client``
and parse into the SDK's own response models. The emulator's shapes are the SDK's: every
key path of the JSON the emulator sent (read from the wire by a hand-signed request)
is present in ``to_map()`` of what the SDK parsed, recursively, lists included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ice_widgets.emulator import Emulator
from tests._emu_http import v3

ice_client = pytest.importorskip("alibabacloud_ice20201109.client")
M = pytest.importorskip("alibabacloud_ice20201109.models")
open_api_models = pytest.importorskip("alibabacloud_tea_openapi.models")

KIND_JOBS = 90
HOSTILE = 6

#: kind -> (Get action, Get ID parameter, SDK Get request class, SDK method, response key)
GETS = {
    "transcode": (
        "GetTranscodeJob",
        "ParentJobId",
        "GetTranscodeJobRequest",
        "get_transcode_job",
        "TranscodeParentJob",
    ),
    "media_producing": (
        "GetMediaProducingJob",
        "JobId",
        "GetMediaProducingJobRequest",
        "get_media_producing_job",
        "MediaProducingJob",
    ),
    "snapshot": ("GetSnapshotJob", "JobId", "GetSnapshotJobRequest", "get_snapshot_job", "SnapshotJob"),
    "media_convert": (
        "GetMediaConvertJob",
        "JobId",
        "GetMediaConvertJobRequest",
        "get_media_convert_job",
        "Job",
    ),
}
#: kind -> (List action, SDK request class, SDK method, items key, token key, size parameter)
LISTS = {
    "transcode": (
        "ListTranscodeJobs",
        "ListTranscodeJobsRequest",
        "list_transcode_jobs",
        "Jobs",
        "NextPageToken",
        "PageSize",
    ),
    "media_producing": (
        "ListMediaProducingJobs",
        "ListMediaProducingJobsRequest",
        "list_media_producing_jobs",
        "MediaProducingJobList",
        "NextToken",
        "MaxResults",
    ),
    "snapshot": (
        "ListSnapshotJobs",
        "ListSnapshotJobsRequest",
        "list_snapshot_jobs",
        "Jobs",
        "NextPageToken",
        "PageSize",
    ),
    "media_convert": (
        "ListMediaConvertJobs",
        "ListMediaConvertJobsRequest",
        "list_media_convert_jobs",
        "Jobs",
        "NextPageToken",
        "PageSize",
    ),
}
KINDS = tuple(GETS)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(jobs=20, seed=11, kind_jobs=KIND_JOBS, hostile=HOSTILE) as emulator:
        yield emulator


def sdk(emu: Emulator) -> Any:
    """An official ICE SDK client pointed at the emulator (plain HTTP, no SDK retries)."""
    config = open_api_models.Config(
        access_key_id=emu.access_key_id,
        access_key_secret=emu.access_key_secret,
        endpoint=emu.endpoint.split("://", 1)[1],
        protocol="http",
        region_id="cn-shanghai",
        read_timeout=10000,
        connect_timeout=5000,
    )
    return ice_client.Client(config)


def key_paths(value: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every key path in a JSON value: dict keys by name, list items as ``[]``."""
    paths: set[tuple[str, ...]] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = (*prefix, str(key))
            paths.add(path)
            paths |= key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, (*prefix, "[]"))
    return paths


def assert_same_shape(sent: dict[str, Any], parsed: dict[str, Any]) -> None:
    missing = key_paths(sent) - key_paths(parsed)
    assert not missing, f"keys the emulator sent that the SDK's model does not have: {sorted(missing)}"


def test_key_paths_sees_nested_keys() -> None:
    # the checker itself: a key the "SDK" lost, deep in a list, is reported
    sent = {"A": [{"B": {"C": 1}}, {"B": {"D": 2}}]}
    assert key_paths(sent) == {("A",), ("A", "[]", "B"), ("A", "[]", "B", "C"), ("A", "[]", "B", "D")}
    with pytest.raises(AssertionError, match="D"):
        assert_same_shape(sent, {"A": [{"B": {"C": 1}}]})


@pytest.mark.parametrize("kind", KINDS)
def test_get_parses_every_key_into_the_sdk_model(emu: Emulator, kind: str) -> None:
    action, id_param, request_class, method, key = GETS[kind]
    client = sdk(emu)
    ids = emu.ids(kind)
    statuses: set[str] = set()
    for job_id in [*ids[:: max(1, len(ids) // 25)], *emu.hostile_ids_of(kind)]:
        wire = v3(emu, action, {id_param: job_id})
        assert wire.status_code == 200, wire.text
        sent = wire.json()
        assert sent[key] == emu.expected(job_id)
        response = getattr(client, method)(getattr(M, request_class)(**{_snake(id_param): job_id}))
        assert response.status_code == 200
        parsed = response.body.to_map()
        assert_same_shape(sent, parsed)
        job = parsed[key]
        assert job[id_param] == job_id
        status_key = "State" if kind == "media_convert" else "Status"
        statuses.add(job[status_key])
        assert job[status_key] == sent[key][status_key]
    assert len(statuses) >= 3, statuses


@pytest.mark.parametrize("kind", KINDS)
def test_list_pages_through_every_job_with_the_sdk(emu: Emulator, kind: str) -> None:
    action, request_class, method, items_key, token_key, size_param = LISTS[kind]
    client = sdk(emu)
    seen: list[str] = []
    token: str | None = None
    id_key = "ParentJobId" if kind == "transcode" else "JobId"
    pages = 0
    while True:
        params = {size_param: "17", **({token_key: token} if token else {})}
        wire = v3(emu, action, params)
        assert wire.status_code == 200, wire.text
        sent = wire.json()
        request = getattr(M, request_class)(**{_snake(size_param): 17, _snake(token_key): token})
        body = getattr(client, method)(request).body
        parsed = body.to_map()
        assert_same_shape(sent, parsed)
        assert [item[id_key] for item in parsed[items_key]] == [item[id_key] for item in sent[items_key]]
        seen += [item[id_key] for item in parsed[items_key]]
        pages += 1
        assert pages < 100
        token = parsed.get(token_key) or None
        if not token:
            break
    total = len(emu.ids(kind)) + len(emu.hostile_ids_of(kind))
    assert len(seen) == len(set(seen)) == total
    assert set(seen) == set(emu.ids(kind)) | set(emu.hostile_ids_of(kind))
    assert pages == -(-total // 17)


def test_list_items_have_fewer_fields_than_get(emu: Emulator) -> None:
    client = sdk(emu)
    transcode = client.list_transcode_jobs(M.ListTranscodeJobsRequest(page_size=5)).body
    assert transcode.jobs and all(not hasattr(job, "transcode_job_list") for job in transcode.jobs)
    for job in transcode.jobs:
        assert job.parent_job_id and job.status
        assert "TranscodeJobList" not in job.to_map()
    producing = client.list_media_producing_jobs(M.ListMediaProducingJobsRequest(max_results=5)).body
    for job in producing.media_producing_job_list:
        assert "Progress" not in job.to_map() and "Timeline" not in job.to_map()
        assert "Progress" in emu.expected(job.job_id)
    convert = client.list_media_convert_jobs(M.ListMediaConvertJobsRequest(page_size=5)).body
    for job in convert.jobs:
        assert job.state and "OutputDetails" not in job.to_map()
        assert "OutputDetails" in emu.expected(job.job_id)


def test_transcode_sub_jobs_through_the_sdk(emu: Emulator) -> None:
    client = sdk(emu)
    partial = 0
    for parent_id in emu.ids("transcode"):
        job = client.get_transcode_job(
            M.GetTranscodeJobRequest(parent_job_id=parent_id)
        ).body.transcode_parent_job
        subs = job.transcode_job_list
        assert 1 <= len(subs) <= 4 and job.job_count == len(subs)
        assert all(sub.parent_job_id == parent_id for sub in subs)
        for sub in subs:
            assert sub.status in ("Init", "Processing", "Success", "Fail", "Deleted")
            if sub.status == "Success":
                assert sub.out_file_meta.file_basic_info.file_url.startswith("https://")
                assert sub.output.media.startswith("oss://")
            if sub.status == "Fail":
                assert sub.submit_result_json["Code"] and sub.submit_result_json["Message"]
        if job.status == "Success" and any(sub.status == "Fail" for sub in subs):
            partial += 1
    assert partial >= 1  # a parent "Success" with a failed sub-job


def _snake(name: str) -> str:
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out += "_"
        out += ch.lower()
    return out


def test_snake_names_match_the_sdk() -> None:
    assert _snake("ParentJobId") == "parent_job_id"
    assert _snake("NextPageToken") == "next_page_token"
    assert json.dumps(M.ListMediaProducingJobsRequest(max_results=3).to_map()) == '{"MaxResults": 3}'
