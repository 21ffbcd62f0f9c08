"""The official ICE SDK against the emulator for every job kind beside packaging.

For transcode, media producing, snapshot and media convert jobs: Get, List (every page,
each kind's own paging) and Submit go through ``alibabacloud_ice20201109.client.Client``
and parse into the SDK's own response models. The emulator's shapes are the SDK's: every
key path of the JSON the emulator sent (read from the wire by a hand-signed request)
is present in ``to_map()`` of what the SDK parsed, recursively, lists included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import alibabacloud_ice20201109.client as ice_client
import alibabacloud_ice20201109.models as M
import alibabacloud_tea_openapi.models as open_api_models
import pytest

from ice_widgets.emulator import Emulator
from tests._emu_http import v3

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


def sdk(emu: Emulator, algorithm: str | None = None) -> Any:
    """An official ICE SDK client pointed at the emulator (plain HTTP, no SDK retries);
    ``algorithm="v2"`` makes it sign with HMAC-SHA1 (V1) instead of ACS3-HMAC-SHA256."""
    config = open_api_models.Config(
        access_key_id=emu.access_key_id,
        access_key_secret=emu.access_key_secret,
        endpoint=emu.endpoint.split("://", 1)[1],
        protocol="http",
        region_id="cn-shanghai",
        read_timeout=10000,
        connect_timeout=5000,
    )
    if algorithm is not None:
        config.signature_algorithm = algorithm
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
@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["V3", "V1"])
def test_get_parses_every_key_into_the_sdk_model(emu: Emulator, kind: str, algorithm: str | None) -> None:
    action, id_param, request_class, method, key = GETS[kind]
    before = dict(emu.stats.signatures)
    client = sdk(emu, algorithm)
    ids = emu.ids(kind)
    statuses: set[str] = set()
    for job_id in [*ids, *emu.hostile_ids_of(kind)]:  # every job of the kind
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
    used = "HMAC-SHA1" if algorithm else "ACS3-HMAC-SHA256"
    assert emu.stats.signatures[used] - before[used] >= len(ids)


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


# -- Submit ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    """An emulator whose submitted jobs finish after about 0.4 s."""
    with Emulator(jobs=5, seed=12, kind_jobs=5, progress_seconds=0.4) as emulator:
        yield emulator


def _submit_requests(marker: str) -> dict[str, tuple[str, Any]]:
    """kind -> (SDK method, request): what a user submits most, through the SDK's own models."""
    return {
        "transcode": (
            "submit_transcode_job",
            M.SubmitTranscodeJobRequest(
                name=f"evening-news-{marker}",
                input_group=[
                    M.SubmitTranscodeJobRequestInputGroup(type="OSS", media="oss://in-bucket/news.mp4")
                ],
                output_group=[
                    M.SubmitTranscodeJobRequestOutputGroup(
                        output=M.SubmitTranscodeJobRequestOutputGroupOutput(
                            type="OSS", media=f"oss://out-bucket/news/{label}.mp4"
                        ),
                        process_config=M.SubmitTranscodeJobRequestOutputGroupProcessConfig(
                            transcode=M.SubmitTranscodeJobRequestOutputGroupProcessConfigTranscode(
                                template_id=template
                            )
                        ),
                    )
                    for label, template in (("hd", "S00000001-200030"), ("sd", "S00000001-200020"))
                ],
                schedule_config=M.SubmitTranscodeJobRequestScheduleConfig(priority=7),
                user_data='{"ticket":1}',
            ),
        ),
        "media_producing": (
            "submit_media_producing_job",
            M.SubmitMediaProducingJobRequest(
                timeline=json.dumps({"VideoTracks": [{"VideoTrackClips": [{"MediaId": "a" * 32}]}]}),
                output_media_config=json.dumps(
                    {"MediaURL": f"https://out-bucket.oss-cn-shanghai.aliyuncs.com/{marker}.mp4"}
                ),
                user_data='{"ticket":2}',
            ),
        ),
        "snapshot": (
            "submit_snapshot_job",
            M.SubmitSnapshotJobRequest(
                name=f"cover-{marker}",
                input=M.SubmitSnapshotJobRequestInput(type="OSS", media="oss://in-bucket/news.mp4"),
                output=M.SubmitSnapshotJobRequestOutput(
                    type="OSS", media="oss://out-bucket/covers/{Count}.jpg"
                ),
                template_config=M.SubmitSnapshotJobRequestTemplateConfig(
                    template_id="S00000001-000010",
                    overwrite_params=M.SubmitSnapshotJobRequestTemplateConfigOverwriteParams(
                        type="Normal", count=3
                    ),
                ),
            ),
        ),
        "media_convert": (
            "submit_media_convert_job",
            M.SubmitMediaConvertJobRequest(
                config=json.dumps(
                    {
                        "JobName": f"convert-{marker}",
                        "Inputs": [
                            {
                                "Name": "main",
                                "InputFile": {"Type": "OSS", "Media": "oss://in-bucket/news.mov"},
                            }
                        ],
                        "Outputs": [
                            {
                                "Name": "hd",
                                "OutputFile": {"Type": "OSS", "Media": "oss://out-bucket/conv/hd.mp4"},
                                "TemplateId": "S00000001-200030",
                            },
                            {
                                "Name": "sd",
                                "OutputFile": {"Type": "OSS", "Media": "oss://out-bucket/conv/sd.mp4"},
                                "TemplateId": "S00000001-200020",
                            },
                        ],
                    }
                ),
                user_data='{"ticket":4}',
            ),
        ),
    }


SUBMIT_ACTIONS = {
    "transcode": "SubmitTranscodeJob",
    "media_producing": "SubmitMediaProducingJob",
    "snapshot": "SubmitSnapshotJob",
    "media_convert": "SubmitMediaConvertJob",
}
FINAL = {
    "transcode": {"Success", "Fail"},
    "media_producing": {"Success", "Failed"},
    "snapshot": {"Success", "Fail"},
    "media_convert": {"Complete", "Error", "Cancelled"},
}


def _submitted_id(kind: str, body: dict[str, Any]) -> str:
    if kind == "transcode":
        return str(body["TranscodeParentJob"]["ParentJobId"])
    if kind == "media_convert":
        return str(body["Job"]["JobId"])
    return str(body["JobId"])


@pytest.mark.parametrize("kind", KINDS)
def test_submit_through_the_sdk_then_the_job_progresses(live: Emulator, kind: str) -> None:
    method, request = _submit_requests("force-success")[kind]
    client = sdk(live)
    response = getattr(client, method)(request)
    assert response.status_code == 200
    parsed = response.body.to_map()
    assert parsed["RequestId"]
    job_id = _submitted_id(kind, parsed)
    assert len(job_id) == 32 and live.kind_of(job_id) == kind
    # the same request on the wire: what the emulator sends has the SDK's keys
    wire_params = {k: str(v) for k, v in _wire_params(request).items()}
    wire = v3(live, SUBMIT_ACTIONS[kind], wire_params)
    assert wire.status_code == 200, wire.text
    assert_same_shape(wire.json(), getattr(client, method)(request).body.to_map())
    # the job moves on: every state seen parses with every key, and it ends finished
    action, id_param, request_class, get_method, key = GETS[kind]
    status_key = "State" if kind == "media_convert" else "Status"
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = v3(live, action, {id_param: job_id}).json()
        got = getattr(client, get_method)(
            getattr(M, request_class)(**{_snake(id_param): job_id})
        ).body.to_map()
        assert_same_shape(sent, got)
        status = got[key][status_key]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in FINAL[kind]:
            break
        time.sleep(0.05)
    assert seen[-1] in ("Success", "Complete"), seen
    assert len(seen) >= 2, seen  # it was running before it finished
    job = live.expected(job_id)
    if kind == "transcode":
        assert job["Name"] == "evening-news-force-success"
        assert [s["Status"] for s in job["TranscodeJobList"]] == ["Success", "Success"]
        url = job["TranscodeJobList"][0]["OutFileMeta"]["FileBasicInfo"]["FileUrl"]
        assert url.startswith("https://out-bucket.oss-") and url.endswith(".aliyuncs.com/news/hd.mp4")
        assert job["ScheduleConfig"]["Priority"] == 7
    if kind == "media_producing":
        assert job["MediaURL"].endswith("/force-success.mp4") and job["CompleteTime"]
    if kind == "snapshot":
        assert job["Output"]["Media"] == "oss://out-bucket/covers/{Count}.jpg" and job["Count"] == 3
    if kind == "media_convert":
        assert [d["Status"] for d in job["OutputDetails"]] == ["Success", "Success"]
        assert job["Config"]["JobName"] == "convert-force-success"


def _wire_params(request: Any) -> dict[str, Any]:
    """The query parameters the SDK sends for ``request`` (its own shrinking of nested models)."""
    out: dict[str, Any] = {}
    for key, value in request.to_map().items():
        out[key] = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return out


def test_submitted_transcode_parent_succeeds_with_one_failed_sub_job(live: Emulator) -> None:
    method, request = _submit_requests("force-partial")["transcode"]
    client = sdk(live)
    parent_id = getattr(client, method)(request).body.transcode_parent_job.parent_job_id
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get_transcode_job(
            M.GetTranscodeJobRequest(parent_job_id=parent_id)
        ).body.transcode_parent_job
        if job.status in ("Success", "Fail"):
            break
        time.sleep(0.05)
    assert job.status == "Success"
    statuses = sorted(sub.status for sub in job.transcode_job_list)
    assert statuses == ["Fail", "Success"]
    failed = next(sub for sub in job.transcode_job_list if sub.status == "Fail")
    assert failed.submit_result_json["Code"] and failed.submit_result_json["Message"]
    assert failed.out_file_meta is None


@pytest.mark.parametrize(
    ("kind", "params", "code"),
    [
        ("transcode", {"OutputGroup": "[]"}, "MissingParameter"),
        (
            "transcode",
            {"InputGroup": '[{"Type":"OSS","Media":"oss://b/a.mp4"}]', "OutputGroup": "[]"},
            "InvalidParameter",
        ),
        ("media_producing", {"OutputMediaConfig": '{"MediaURL":"https://b/x.mp4"}'}, "MissingParameter"),
        ("media_producing", {"Timeline": "{}", "OutputMediaConfig": "{}"}, "InvalidParameter"),
        (
            "snapshot",
            {"Input": '{"Type":"OSS","Media":"oss://b/a.mp4"}', "Output": '{"Type":"OSS"}'},
            "InvalidParameter",
        ),
        ("media_convert", {"Config": "not json"}, "InvalidParameter"),
        ("media_convert", {"Config": '{"Inputs":[]}'}, "InvalidParameter"),
    ],
)
def test_bad_submit_is_refused_with_a_named_parameter(
    live: Emulator, kind: str, params: dict[str, str], code: str
) -> None:
    before = len(live.all_job_ids(kind))
    response = v3(live, SUBMIT_ACTIONS[kind], params)
    assert response.status_code == 400
    assert response.json()["Code"] == code
    assert len(live.all_job_ids(kind)) == before


def test_client_token_makes_submission_idempotent(live: Emulator) -> None:
    method, request = _submit_requests("token")["media_convert"]
    request.client_token = "my-token-0001"
    client = sdk(live)
    first = getattr(client, method)(request).body.job.job_id
    second = getattr(client, method)(request).body.job.job_id
    assert first == second
    assert live.all_job_ids("media_convert").count(first) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_list_filters_named_as_the_sdk_names_them(emu: Emulator, kind: str) -> None:
    # the SDK's request models decide the parameter names: status and time window filters
    _, request_class, method, items_key, token_key, size_param = LISTS[kind]
    client = sdk(emu)
    id_key = "ParentJobId" if kind == "transcode" else "JobId"
    status_key = "State" if kind == "media_convert" else "Status"
    jobs = {job_id: emu.expected(job_id) for job_id in emu.all_job_ids(kind)}  # hostile ones too
    status = max(
        {job[status_key] for job in jobs.values()},
        key=lambda s: sum(j[status_key] == s for j in jobs.values()),
    )
    times = sorted(job["CreateTime"] for job in jobs.values())
    start, end = times[len(times) // 3], times[2 * len(times) // 3]
    window = (
        {"start_time": start, "end_time": end}
        if kind == "media_producing"
        else {
            "start_of_create_time": start,
            "end_of_create_time": end,
        }
    )

    def listed(**filters: Any) -> list[str]:
        out: list[str] = []
        token = None
        while True:
            request = getattr(M, request_class)(
                **{_snake(size_param): 50, _snake(token_key): token}, **filters
            )
            body = getattr(client, method)(request).body.to_map()
            out += [item[id_key] for item in body[items_key]]
            token = body.get(token_key)
            if not token:
                return out

    assert sorted(listed(status=status)) == sorted(j for j, job in jobs.items() if job[status_key] == status)
    inside = sorted(j for j, job in jobs.items() if start <= job["CreateTime"] <= end)
    assert sorted(listed(**window)) == inside
    assert 0 < len(inside) < len(jobs)
