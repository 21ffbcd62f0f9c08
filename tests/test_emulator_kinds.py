"""The emulator's job kinds beside packaging: every action under the same checks, each List's
own paging and filters, seeded data sets, progress, hostile jobs, and the Python API
(``ids``, ``expected``, ``kind_of``, ``hostile_ids_of``, ``add_job``, ``kind_jobs``).

Requests are hand-signed (``tests/_emu_http.py``), so what is checked is the wire.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ice_widgets.emulator import Emulator
from ice_widgets.emulator._data import parse_api_time
from ice_widgets.emulator._server import ACTIONS, build_parser
from ice_widgets.emulator.corpus import INJECTION_PAYLOADS
from tests._emu_http import HTTP, error_code, raw_exchange, raw_request, v1, v3, v3_request

KINDS = ("transcode", "media_producing", "snapshot", "media_convert")
ID_PARAM = {
    "transcode": "ParentJobId",
    "media_producing": "JobId",
    "snapshot": "JobId",
    "media_convert": "JobId",
}
GET_KEY = {
    "transcode": "TranscodeParentJob",
    "media_producing": "MediaProducingJob",
    "snapshot": "SnapshotJob",
    "media_convert": "Job",
}
LIST = {  # kind -> (action, items key, token key, size parameter, start, end)
    "transcode": (
        "ListTranscodeJobs",
        "Jobs",
        "NextPageToken",
        "PageSize",
        "StartOfCreateTime",
        "EndOfCreateTime",
    ),
    "media_producing": (
        "ListMediaProducingJobs",
        "MediaProducingJobList",
        "NextToken",
        "MaxResults",
        "StartTime",
        "EndTime",
    ),
    "snapshot": (
        "ListSnapshotJobs",
        "Jobs",
        "NextPageToken",
        "PageSize",
        "StartOfCreateTime",
        "EndOfCreateTime",
    ),
    "media_convert": (
        "ListMediaConvertJobs",
        "Jobs",
        "NextPageToken",
        "PageSize",
        "StartOfCreateTime",
        "EndOfCreateTime",
    ),
}
STATUS_KEY = {
    "transcode": "Status",
    "media_producing": "Status",
    "snapshot": "Status",
    "media_convert": "State",
}
ANCHOR = 1_795_000_000.0


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(jobs=40, seed=5, kind_jobs=150, anchor=ANCHOR, progress_seconds=60, hostile=3) as emulator:
        yield emulator


@pytest.fixture
def fresh(emu: Emulator) -> Iterator[Emulator]:
    """The module's emulator; settings changed by the test are put back after it."""
    try:
        yield emu
    finally:
        emu.configure(latency_ms=0.0, fault_rate=0.0, faults=None, qps=None)


def valid_params(emu: Emulator, action: str) -> dict[str, str]:
    """Parameters that make ``action`` succeed."""
    if action == "GetPackageJob":
        return {"JobId": emu.job_ids[0]}
    if action.startswith("List"):
        return {}
    for kind in GET_KEY:
        if action == f"Get{''.join(p.title() for p in kind.split('_'))}Job":
            return {ID_PARAM[kind]: emu.ids(kind)[0]}
    oss = {"Type": "OSS", "Media": "oss://bucket/in.mp4"}
    if action == "SubmitPackageJob":
        return {
            "Inputs": json.dumps([{"Input": oss}]),
            "Output": json.dumps({"Type": "OSS", "Media": "oss://b/o.m3u8"}),
        }
    if action == "SubmitTranscodeJob":
        return {
            "InputGroup": json.dumps([oss]),
            "OutputGroup": json.dumps(
                [
                    {
                        "Output": {"Type": "OSS", "Media": "oss://b/o.mp4"},
                        "ProcessConfig": {"Transcode": {"TemplateId": "T"}},
                    }
                ]
            ),
        }
    if action == "SubmitMediaProducingJob":
        return {
            "Timeline": '{"VideoTracks":[]}',
            "OutputMediaConfig": '{"MediaURL":"https://b.example/o.mp4"}',
        }
    if action == "SubmitSnapshotJob":
        return {
            "Input": json.dumps(oss),
            "Output": json.dumps({"Type": "OSS", "Media": "oss://b/{Count}.jpg"}),
            "TemplateConfig": '{"TemplateId":"S00000001-000010"}',
        }
    if action == "SubmitMediaConvertJob":
        return {
            "Config": json.dumps({"Inputs": [{"Name": "a", "InputFile": oss}], "Outputs": [{"Name": "o"}]})
        }
    raise AssertionError(action)


def test_every_kind_has_get_list_and_submit() -> None:
    assert len(ACTIONS) == 15
    for verb in ("Get", "List", "Submit"):
        assert sum(1 for action in ACTIONS if action.startswith(verb)) == 5


# ------------------------------------------------------------- the same checks for every action


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_answers_signed_v3_and_v1(emu: Emulator, action: str) -> None:
    before = emu.stats.actions[action]
    for send in (v3, v1):
        response = send(emu, action, valid_params(emu, action))
        assert response.status_code == 200, response.text
        assert response.json()["RequestId"] == response.headers["x-acs-request-id"]
    assert emu.stats.actions[action] == before + 2


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_checks_the_signature(emu: Emulator, action: str) -> None:
    before = emu.stats.actions[action]
    wrong = v3(emu, action, valid_params(emu, action), secret="not-the-secret")
    assert wrong.status_code == 400 and error_code(wrong) == "SignatureDoesNotMatch"
    wrong_v1 = v1(emu, action, valid_params(emu, action), secret="not-the-secret")
    assert wrong_v1.status_code == 400 and error_code(wrong_v1) == "SignatureDoesNotMatch"
    unsigned = HTTP.post(f"{emu.endpoint}/?Action={action}&Version=2020-11-09")
    assert unsigned.status_code == 400 and error_code(unsigned) == "MissingParameter"
    url, headers = v3_request(emu, action, valid_params(emu, action))
    assert HTTP.post(url, headers=headers).status_code == 200
    replay = HTTP.post(url, headers=headers)  # the same nonce again
    assert replay.status_code == 400 and error_code(replay) == "SignatureNonceUsed"
    assert emu.stats.actions[action] == before + 1  # refused requests never reach the action


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("throttle", 400, "Throttling.User"), ("503", 503, "ServiceUnavailable"), ("500", 500, "InternalError")],
)
def test_every_action_meets_injected_error_faults(
    fresh: Emulator, action: str, fault: str, status: int, code: str
) -> None:
    params = valid_params(fresh, action)
    fresh.configure(fault_rate=1.0, faults=[fault])
    before = fresh.stats.faults[fault]
    response = v3(fresh, action, params)
    assert response.status_code == status and error_code(response) == code
    if fault == "throttle":
        assert int(response.headers["x-acs-retry-after"]) > 0
    assert fresh.stats.faults[fault] == before + 1


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_meets_transport_faults(fresh: Emulator, action: str) -> None:
    params = valid_params(fresh, action)
    fresh.configure(fault_rate=1.0, faults=["drop"])
    assert raw_exchange(fresh, raw_request(fresh, action, params)) == b""
    fresh.configure(faults=["truncate"])
    data = raw_exchange(fresh, raw_request(fresh, action, params))
    head, _, body = data.partition(b"\r\n\r\n")
    declared = int(head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0])
    assert 0 < len(body) < declared
    fresh.configure(faults=["slow"], slow_ms=3000)
    url, headers = v3_request(fresh, action, params)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, headers=headers, timeout=httpx.Timeout(5.0, read=0.3))


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_waits_the_latency(fresh: Emulator, action: str) -> None:
    fresh.configure(latency_ms=400)
    url, headers = v3_request(fresh, action, valid_params(fresh, action))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, headers=headers, timeout=httpx.Timeout(5.0, read=0.01))
    assert v3(fresh, action, valid_params(fresh, action)).status_code == 200  # and then answers


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_counts_against_the_qps_limit(fresh: Emulator, action: str) -> None:
    fresh.configure(qps=0.01)  # one token now, the next in 100 s: the rest are throttled
    before = fresh.stats.throttled
    first = v3(fresh, action, valid_params(fresh, action))
    assert first.status_code == 200
    for _ in range(4):
        response = v3(fresh, action, valid_params(fresh, action))
        assert response.status_code == 400 and error_code(response) == "Throttling.User"
        assert 1_000 < int(response.headers["x-acs-retry-after"]) <= 100_000
    assert fresh.stats.throttled == before + 4


# ------------------------------------------------------------------------------ Get and List


@pytest.mark.parametrize("kind", KINDS)
def test_get_returns_the_expected_job_and_404_for_others(emu: Emulator, kind: str) -> None:
    action = f"Get{''.join(p.title() for p in kind.split('_'))}Job"
    for job_id in emu.ids(kind)[:: len(emu.ids(kind)) // 7]:
        response = v3(emu, action, {ID_PARAM[kind]: job_id})
        assert response.status_code == 200
        assert response.json()[GET_KEY[kind]] == emu.expected(job_id) == emu.expected(job_id, kind)
        assert emu.kind_of(job_id) == kind
    package_id = emu.job_ids[0]
    missing = v3(emu, action, {ID_PARAM[kind]: package_id})  # an ID of another kind is not found
    assert missing.status_code == 404 and error_code(missing) == "InvalidParameter.ResourceNotFound"
    empty = v3(emu, action, {})
    assert empty.status_code == 400 and error_code(empty) == "MissingParameter"
    with pytest.raises(KeyError):
        emu.expected(package_id, kind)


def test_ids_are_unique_across_kinds_and_kind_of_finds_them(emu: Emulator) -> None:
    every = [job_id for kind in ("package", *KINDS) for job_id in emu.ids(kind)]
    assert len(every) == len(set(every)) == 40 + 4 * 150
    assert all(len(job_id) == 32 and int(job_id, 16) >= 0 for job_id in every)
    assert emu.ids() == emu.job_ids
    assert emu.kind_of(emu.job_ids[3]) == "package"
    assert emu.kind_of("0" * 32) is None
    with pytest.raises(ValueError, match="unknown job kind"):
        emu.ids("transcoding")


def list_all(emu: Emulator, kind: str, size: int, **filters: str) -> tuple[list[dict[str, Any]], int]:
    action, items_key, token_key, size_param, _, _ = LIST[kind]
    items: list[dict[str, Any]] = []
    token = None
    pages = 0
    while True:
        params = {size_param: str(size), **filters, **({token_key: token} if token else {})}
        response = v3(emu, action, params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body[items_key]) <= size
        items += body[items_key]
        pages += 1
        token = body.get(token_key)
        if not token:
            return items, pages


@pytest.mark.parametrize("kind", KINDS)
def test_list_pages_newest_first_with_the_kinds_own_paging(emu: Emulator, kind: str) -> None:
    action, items_key, token_key, size_param, _, _ = LIST[kind]
    items, pages = list_all(emu, kind, 40)
    key = ID_PARAM[kind]
    assert [item[key] for item in items] == emu.all_job_ids(kind)[::-1]
    assert pages == -(-len(items) // 40)
    created = [parse_api_time(item["CreateTime"]) for item in items]
    assert created == sorted(created, reverse=True)
    other = "NextToken" if token_key == "NextPageToken" else "NextPageToken"
    first = v3(emu, action, {size_param: "5"}).json()
    assert token_key in first and other not in first
    if kind == "media_producing":
        assert first["MaxResults"] == "5"
        default = v3(emu, action, {}).json()
        assert len(default[items_key]) == 10 and default["MaxResults"] == "10"
    else:
        assert len(v3(emu, action, {}).json()[items_key]) == 20
    for bad in ("101", "-1", "ten"):
        response = v3(emu, action, {size_param: bad})
        assert response.status_code == 400 and error_code(response) == "InvalidParameter"
        assert size_param in response.json()["Message"]


@pytest.mark.parametrize("kind", KINDS)
def test_list_items_carry_fewer_fields_than_get(emu: Emulator, kind: str) -> None:
    dropped = {
        "transcode": {"TranscodeJobList"},
        "media_producing": {"Progress", "Timeline", "SubJobMaterials", "VodMediaId"},
        "snapshot": {"Code", "Message", "UserData", "TemplateConfig"},
        "media_convert": {"Percent", "OutputDetails", "OutputGroupDetails"},
    }[kind]
    items, _ = list_all(emu, kind, 100)
    seen_dropped: set[str] = set()
    for item in items:
        full = emu.expected(item[ID_PARAM[kind]])
        assert not set(item) & dropped
        assert set(item) == set(full) - dropped
        seen_dropped |= set(full) & dropped
        for key in set(item) - {"Input", "Output"}:
            assert item[key] == full[key]
    assert seen_dropped  # Get had what List leaves out


@pytest.mark.parametrize("kind", KINDS)
def test_list_filters_by_status_and_the_kinds_time_parameters(emu: Emulator, kind: str) -> None:
    _, _, _, _, start_name, end_name = LIST[kind]
    everything, _ = list_all(emu, kind, 100)
    statuses = Counter(item[STATUS_KEY[kind]] for item in everything)
    assert len(statuses) >= 3
    for status, count in statuses.items():
        filtered, _ = list_all(emu, kind, 100, Status=status)  # the filter parameter is "Status" for all
        assert len(filtered) == count and {item[STATUS_KEY[kind]] for item in filtered} == {status}
    times = sorted(parse_api_time(item["CreateTime"]) or 0.0 for item in everything)
    lo, hi = times[len(times) // 4], times[3 * len(times) // 4]
    window = {
        start_name: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(lo)),
        end_name: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hi)),
    }
    inside, _ = list_all(emu, kind, 100, **window)
    assert len(inside) == sum(1 for t in times if lo <= t <= hi)
    wrong = (
        {"StartTime": window[start_name]}
        if start_name != "StartTime"
        else {"StartOfCreateTime": window[start_name]}
    )
    ignored, _ = list_all(emu, kind, 100, **wrong)  # the other kinds' parameter names mean nothing here
    assert len(ignored) == len(everything)
    bad = v3(emu, LIST[kind][0], {start_name: "yesterday"})
    assert bad.status_code == 400 and start_name in bad.json()["Message"]


def test_media_convert_status_filter_matches_state(emu: Emulator) -> None:
    complete, _ = list_all(emu, "media_convert", 100, Status="Complete")
    assert complete and all(item["State"] == "Complete" for item in complete)
    none, _ = list_all(emu, "media_convert", 100, Status="Success")  # a Status value, not a State
    assert none == []


def test_list_ascending_and_by_id(emu: Emulator) -> None:
    ascending, _ = list_all(emu, "snapshot", 100, OrderBy="CreateTimeAsc")
    assert [item["JobId"] for item in ascending] == emu.all_job_ids("snapshot")
    producing, _ = list_all(emu, "media_producing", 100, SortBy="CreationTime:Asc")
    assert [item["JobId"] for item in producing] == emu.all_job_ids("media_producing")
    bad = v3(emu, "ListMediaProducingJobs", {"SortBy": "CreateTimeAsc"})
    assert bad.status_code == 400 and "SortBy" in bad.json()["Message"]
    parent = emu.ids("transcode")[7]
    one, _ = list_all(emu, "transcode", 100, ParentJobId=parent)
    assert [item["ParentJobId"] for item in one] == [parent]
    job = emu.ids("media_producing")[9]
    found, _ = list_all(emu, "media_producing", 100, Keyword=job)
    assert [item["JobId"] for item in found] == [job]
    project = emu.expected(job)["ProjectId"]
    by_project, _ = list_all(emu, "media_producing", 100, ProjectId=project)
    assert [item["JobId"] for item in by_project] == [job]


def test_producing_time_range_is_at_most_30_days(emu: Emulator) -> None:
    response = v3(
        emu,
        "ListMediaProducingJobs",
        {"StartTime": "2026-01-01T00:00:00Z", "EndTime": "2026-03-01T00:00:00Z"},
    )
    assert response.status_code == 400 and "30 days" in response.json()["Message"]


def test_tokens_belong_to_one_kind_and_one_order(emu: Emulator) -> None:
    token = v3(emu, "ListSnapshotJobs", {"PageSize": "3"}).json()["NextPageToken"]
    assert v3(emu, "ListSnapshotJobs", {"PageSize": "3", "NextPageToken": token}).status_code == 200
    for action, name in (
        ("ListMediaConvertJobs", "NextPageToken"),
        ("ListTranscodeJobs", "NextPageToken"),
        ("ListMediaProducingJobs", "NextToken"),
    ):
        response = v3(emu, action, {name: token})
        assert response.status_code == 400 and name in response.json()["Message"]
    asc = v3(emu, "ListSnapshotJobs", {"NextPageToken": token, "OrderBy": "CreateTimeAsc"})
    assert asc.status_code == 400


def test_media_convert_last_page_has_an_empty_token(emu: Emulator) -> None:
    body = v3(emu, "ListMediaConvertJobs", {"PageSize": "100", "Status": "Cancelled"}).json()
    assert body["NextPageToken"] == ""


# ---------------------------------------------------------------------------- seeded data sets


def test_same_seed_and_anchor_give_the_same_jobs() -> None:
    with (
        Emulator(jobs=5, seed=9, kind_jobs=30, anchor=ANCHOR) as a,
        Emulator(jobs=5, seed=9, kind_jobs=30, anchor=ANCHOR) as b,
    ):
        for kind in KINDS:
            assert a.ids(kind) == b.ids(kind)
            assert [a.expected(j) for j in a.ids(kind)] == [b.expected(j) for j in b.ids(kind)]
    with Emulator(jobs=5, seed=10, kind_jobs=30, anchor=ANCHOR) as c:
        assert c.ids("snapshot") != a.ids("snapshot")


def test_kind_jobs_counts_and_defaults() -> None:
    with Emulator(jobs=7, seed=1, kind_jobs={"transcode": 3, "snapshot": 0}) as emu:
        assert len(emu.ids("transcode")) == 3
        assert emu.ids("snapshot") == []
        assert len(emu.ids("media_convert")) == 7  # kinds left out get `jobs`
    with Emulator(jobs=4, seed=1) as emu:
        assert [len(emu.ids(kind)) for kind in KINDS] == [4, 4, 4, 4]
    with pytest.raises(ValueError, match="unknown job kinds"):
        Emulator(jobs=1, kind_jobs={"transcoding": 3})
    args = build_parser().parse_args(["--kind-jobs", "12"])
    assert args.kind_jobs == 12


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_data_has_believable_variety(emu: Emulator, kind: str) -> None:
    jobs = [emu.expected(job_id) for job_id in emu.ids(kind)]
    statuses = Counter(job[STATUS_KEY[kind]] for job in jobs)
    if kind == "transcode":
        assert {"Success", "Fail"} <= set(statuses)
        subs = Counter(sub["Status"] for job in jobs for sub in job["TranscodeJobList"])
        assert {"Success", "Fail"} <= set(subs)
        assert {len(job["TranscodeJobList"]) for job in jobs} == {1, 2, 3, 4}
        partial = [
            job
            for job in jobs
            if job["Status"] == "Success" and any(s["Status"] == "Fail" for s in job["TranscodeJobList"])
        ]
        assert partial
        for job in jobs:
            assert "Code" not in job and "Message" not in job
            for sub in job["TranscodeJobList"]:
                if sub["Status"] == "Fail":
                    assert sub["SubmitResultJson"]["Code"]
                if sub["Status"] == "Success":
                    assert sub["OutFileMeta"]["FileBasicInfo"]["FileUrl"].startswith("https://")
                    assert sub["Output"]["Media"].startswith("oss://")
    if kind == "media_producing":
        assert {"Success", "Failed"} <= set(statuses) and set(statuses) & {"Init", "Queuing", "Processing"}
        for job in jobs:
            assert "FinishTime" not in job and "SubmitTime" not in job and "Name" not in job
            if job["Status"] == "Success":
                assert job["MediaURL"].startswith("https://") and job["Duration"] > 0 and job["CompleteTime"]
            if job["Status"] == "Failed":
                assert job["Code"] and job["Message"]
    if kind == "snapshot":
        assert {"Success", "Fail", "Init"} == set(statuses)
        assert {job["Type"] for job in jobs} == {"Normal", "Sprite", "WebVtt"}
        for job in jobs:
            assert job["Output"]["Media"].startswith("oss://") and job["Output"]["OssFile"]["Bucket"]
            assert ("Code" in job) == (job["Status"] == "Fail")
    if kind == "media_convert":
        assert {"Complete", "Error"} <= set(statuses) and set(statuses) & {"Inited", "Running"}
        details = Counter(d["Status"] for job in jobs for d in job["OutputDetails"])
        assert {"Success", "Failed", "Skipped"} <= set(details)
        for job in jobs:
            assert "Status" not in job and "SubmitTime" not in job
            if job["State"] == "Error":
                assert job["Code"] and any(d["Status"] == "Failed" for d in job["OutputDetails"])


# ---------------------------------------------------------------------------- progress


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_running_jobs_finish_when_progress_seeded(kind: str) -> None:
    status_key = STATUS_KEY[kind]
    done = {"Success", "Fail", "Failed", "Complete", "Error", "Cancelled"}
    with Emulator(jobs=1, seed=4, kind_jobs=200, progress_seconds=0.3, progress_seeded=True) as moving:
        running = [j for j in moving.ids(kind) if moving.expected(j)[status_key] not in done]
        assert running
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(moving.expected(j)[status_key] in done for j in running):
                break
            time.sleep(0.05)
        assert all(moving.expected(j)[status_key] in done for j in running)
    with Emulator(jobs=1, seed=4, kind_jobs=200, progress_seconds=0.05) as still:
        running_still = {
            j: still.expected(j) for j in still.ids(kind) if still.expected(j)[status_key] not in done
        }
        assert running_still
        time.sleep(0.3)
        assert {j: still.expected(j) for j in running_still} == running_still  # nothing moved


# ---------------------------------------------------------------------------- hostile and added jobs


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_jobs_of_every_kind_round_trip(kind: str) -> None:
    with Emulator(jobs=2, seed=3, kind_jobs=2, hostile=8) as emu:
        hostile = emu.hostile_ids_of(kind)
        assert len(hostile) == 8 and not set(hostile) & set(emu.ids(kind))
        action = f"Get{''.join(p.title() for p in kind.split('_'))}Job"
        for job_id in hostile:
            response = v3(emu, action, {ID_PARAM[kind]: job_id})
            assert response.status_code == 200
            assert response.json()[GET_KEY[kind]] == emu.expected(job_id)
        for index, job_id in enumerate(hostile):
            payload = INJECTION_PAYLOADS[index % len(INJECTION_PAYLOADS)]
            texts = list(_text_leaves(emu.expected(job_id)))
            assert len(texts) >= 15
            for path, text in texts:
                exempt = path[-1] in ("JobId", "ParentJobId") or path[-1].endswith("Time")
                exempt = exempt or path in ((STATUS_KEY[kind],), ("TranscodeJobList", "Status"))
                assert exempt or payload in text, (path, text)
        items, _ = list_all(emu, kind, 100)
        assert {item[ID_PARAM[kind]] for item in items} >= set(hostile)


def _text_leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string in a JSON value with its key path (list indices left out)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _text_leaves(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _text_leaves(item, path)
    elif isinstance(value, str):
        yield path, value


def test_add_job_of_a_kind_is_served_as_it_is(emu: Emulator) -> None:
    job = {"JobId": "f" * 32, "State": "Paused", "CreateTime": "2026-02-02T00:00:00Z", "Extra": [1, 2]}
    assert emu.add_job(job, kind="media_convert") == "f" * 32
    body = v3(emu, "GetMediaConvertJob", {"JobId": "f" * 32}).json()
    assert body["Job"] == job
    assert emu.kind_of("f" * 32) == "media_convert"
    paused, _ = list_all(emu, "media_convert", 100, Status="Paused")
    assert [item["JobId"] for item in paused] == ["f" * 32]
    with pytest.raises(ValueError, match="ParentJobId"):
        emu.add_job({"JobId": "e" * 32}, kind="transcode")
