"""Client and AsyncClient for every job kind, against httpx.MockTransport.

Each request is checked by the signed mock server of ``test_client_mock`` (the official SDK's
signature); these tests check each kind's own wire names: Get parameters, List paging
(NextPageToken/PageSize or NextToken/MaxResults), time filters, sort names, Submit parameters,
and how answers are parsed. The emulator tests (``test_client_kinds_emulator``) run the same
calls against a real server.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from alibabacloud_tea_openapi.utils import Utils
from hypothesis import given, settings
from hypothesis import strategies as st
from test_client_mock import AK, SECRET, TOKEN, MockIce, error, make_async, make_client
from test_models_kinds import CONVERT_GET, PRODUCING_GET, SNAPSHOT_GET, TRANSCODE_GET

from ice_widgets import (
    Client,
    InvalidParameterError,
    InvalidResponseError,
    MediaConvertJob,
    MediaProducingJob,
    NotFoundError,
    PackageJob,
    RequestTimeoutError,
    ServerError,
    SnapshotJob,
    TranscodeJob,
)
from ice_widgets._core import KIND_APIS, parse_kind_job, parse_kind_page, parse_submitted_id
from ice_widgets._signing import canonical_query

#: kind -> (Get action, ID parameter, answer body, key of the job, model)
GETS: dict[str, tuple[str, str, dict[str, Any], str, type]] = {
    "transcode": ("GetTranscodeJob", "ParentJobId", TRANSCODE_GET, "TranscodeParentJob", TranscodeJob),
    "media_producing": (
        "GetMediaProducingJob",
        "JobId",
        PRODUCING_GET,
        "MediaProducingJob",
        MediaProducingJob,
    ),
    "snapshot": ("GetSnapshotJob", "JobId", SNAPSHOT_GET, "SnapshotJob", SnapshotJob),
    "media_convert": ("GetMediaConvertJob", "JobId", CONVERT_GET, "Job", MediaConvertJob),
}
ID_KEY = {"transcode": "ParentJobId"}


def answer_for(kind: str) -> Callable[[httpx.Request], httpx.Response]:
    """A Get answer holding the job asked for (the fixture with its ID replaced)."""
    _action, param, body, key, _model = GETS[kind]

    def reply(request: httpx.Request) -> httpx.Response:
        asked = dict(parse_qsl(request.url.query.decode()))[param]
        data = copy.deepcopy(body)
        data[key][ID_KEY.get(kind, "JobId")] = asked
        return httpx.Response(200, json=data)

    return reply


@pytest.mark.parametrize("kind", sorted(GETS))
def test_get_job_of_every_kind(kind: str) -> None:
    action, param, body, key, model = GETS[kind]
    server = MockIce(answer_for(kind))
    with make_client(server) as client:
        job = client.get_job(" my-job-id ", kind=kind)
        specific = getattr(client, f"get_{kind}_job")("other-id")
    assert type(job) is model and type(specific) is model
    assert job.job_id == "my-job-id" and job.kind == kind
    assert specific.job_id == "other-id"
    assert [r.headers["x-acs-action"] for r in server.requests] == [action, action]
    assert server.params(0) == {param: "my-job-id"}
    expected = model.from_api({**body[key], ID_KEY.get(kind, "JobId"): "my-job-id"})
    assert job == expected


def test_get_transcode_job_keeps_sub_jobs() -> None:
    server = MockIce(answer_for("transcode"))
    with make_client(server) as client:
        job = client.get_transcode_job("p1")
    assert [sub.status for sub in job.sub_jobs] == ["Success", "Fail"]
    assert job.sub_jobs_failed == 1 and job.state == "succeeded"


def test_get_job_package_is_the_packaging_call() -> None:
    server = MockIce()
    with make_client(server) as client:
        job = client.get_job("ab4802364a2e49208c99efab82df0001")
    assert isinstance(job, PackageJob)
    assert server.requests[0].headers["x-acs-action"] == "GetPackageJob"


@pytest.mark.parametrize("kind", sorted(GETS))
def test_get_job_refuses_an_answer_for_another_job(kind: str) -> None:
    _action, _param, body, _key, _model = GETS[kind]
    server = MockIce(httpx.Response(200, json=body))
    with make_client(server) as client, pytest.raises(InvalidResponseError) as info:
        client.get_job("not-the-one", kind=kind)
    assert info.value.code == "JobIdMismatch" and "not-the-one" in str(info.value)


@pytest.mark.parametrize("kind", sorted(GETS))
def test_get_job_errors_name_the_kinds_action(kind: str) -> None:
    action = GETS[kind][0]
    server = MockIce(error(404, "InvalidParameter.JobNotFound", "The specified job does not exist."))
    with make_client(server) as client, pytest.raises(NotFoundError) as info:
        client.get_job("missing", kind=kind)
    assert info.value.action == action and info.value.code == "InvalidParameter.JobNotFound"
    assert info.value.job_id == "missing" and "job 'missing' not found" in str(info.value)
    assert len(server.requests) == 1, "not found is not retried"


@pytest.mark.parametrize("kind", sorted(GETS))
def test_an_answer_without_the_job_object_is_invalid(kind: str) -> None:
    server = MockIce(httpx.Response(200, json={"RequestId": "R"}))
    with make_client(server, max_retries=0) as client, pytest.raises(InvalidResponseError) as info:
        client.get_job("x", kind=kind)
    assert GETS[kind][3] in str(info.value) and info.value.action == GETS[kind][0]


@pytest.mark.parametrize("kind", ["Transcode", "transcoding", "", None, 3])
def test_unknown_kinds_are_refused_before_sending(kind: Any) -> None:
    server = MockIce()
    with make_client(server) as client:
        with pytest.raises(InvalidParameterError, match="media_producing") as info:
            client.get_job("x", kind=kind)
        assert info.value.code == "InvalidKind"
        with pytest.raises(InvalidParameterError, match="unknown job kind"):
            client.list_jobs(kind=kind)
    assert server.requests == []


@pytest.mark.parametrize("job_id", ["", "   ", None, 5])
def test_empty_ids_are_refused_before_sending(job_id: Any) -> None:
    server = MockIce()
    with make_client(server) as client, pytest.raises(InvalidParameterError):
        client.get_media_convert_job(job_id)
    assert server.requests == []


# ---------------------------------------------------------------------------- list: each kind's paging

#: kind -> (List action, key of the list, token key, page-size key, start key, end key, sort key, sort value)
LISTS = {
    "transcode": (
        "ListTranscodeJobs",
        "Jobs",
        "NextPageToken",
        "PageSize",
        "StartOfCreateTime",
        "EndOfCreateTime",
        "OrderBy",
        "CreateTimeAsc",
    ),
    "media_producing": (
        "ListMediaProducingJobs",
        "MediaProducingJobList",
        "NextToken",
        "MaxResults",
        "StartTime",
        "EndTime",
        "SortBy",
        "CreationTime:Asc",
    ),
    "snapshot": (
        "ListSnapshotJobs",
        "Jobs",
        "NextPageToken",
        "PageSize",
        "StartOfCreateTime",
        "EndOfCreateTime",
        "OrderBy",
        "CreateTimeAsc",
    ),
    "media_convert": (
        "ListMediaConvertJobs",
        "Jobs",
        "NextPageToken",
        "PageSize",
        "StartOfCreateTime",
        "EndOfCreateTime",
        "OrderBy",
        "CreateTimeAsc",
    ),
}
STATUS = {"transcode": "Fail", "media_producing": "Failed", "snapshot": "Init", "media_convert": "Error"}


def list_page(kind: str, ids: list[str], token: str | None) -> httpx.Response:
    _action, key, token_key, *_rest = LISTS[kind]
    id_key = ID_KEY.get(kind, "JobId")
    status_key = "State" if kind == "media_convert" else "Status"
    body: dict[str, Any] = {"RequestId": "R", key: [{id_key: i, status_key: STATUS[kind]} for i in ids]}
    if token is not None:
        body[token_key] = token
    if kind == "media_producing":
        body["MaxResults"] = 2
    return httpx.Response(200, json=body)


@pytest.mark.parametrize("kind", sorted(LISTS))
def test_list_jobs_uses_each_kinds_paging_and_filters(kind: str) -> None:
    action, _key, token_key, size_key, start_key, end_key, sort_key, sort_value = LISTS[kind]
    server = MockIce(
        list_page(kind, ["a", "b"], "t1"), list_page(kind, ["c"], "t2"), list_page(kind, ["d"], "")
    )
    with make_client(server) as client:
        jobs = list(
            client.list_jobs(
                kind=kind,
                status=STATUS[kind],
                start=datetime(2024, 1, 1, 8, tzinfo=UTC),
                end="2024-01-02T00:00:00Z",
                page_size=2,
                order_by="CreateTimeAsc",
            )
        )
    assert [j.job_id for j in jobs] == ["a", "b", "c", "d"]
    assert all(j.kind == kind and j.is_failed == (kind != "snapshot") for j in jobs)
    assert server.params(0) == {
        "Status": STATUS[kind],
        start_key: "2024-01-01T08:00:00Z",
        end_key: "2024-01-02T00:00:00Z",
        sort_key: sort_value,
        size_key: "2",
    }
    assert server.params(1) == {**server.params(0), token_key: "t1"}
    assert server.params(2)[token_key] == "t2"
    assert [r.headers["x-acs-action"] for r in server.requests] == [action] * 3


@pytest.mark.parametrize("kind", sorted(LISTS))
def test_list_defaults_newest_first_100_per_page(kind: str) -> None:
    server = MockIce(list_page(kind, ["a"], None))
    with make_client(server) as client:
        assert [j.job_id for j in getattr(client, f"list_{kind}_jobs")()] == ["a"]
    api = KIND_APIS[kind]
    assert server.params(0) == {api.sort_param: api.sort_values[0], api.size_param: "100"}


@pytest.mark.parametrize("kind", sorted(LISTS))
def test_list_is_lazy_and_checks_arguments_first(kind: str) -> None:
    server = MockIce(list_page(kind, ["a"], "t1"), list_page(kind, ["b"], None))
    with make_client(server) as client:
        with pytest.raises(InvalidParameterError, match="order_by"):
            client.list_jobs(kind=kind, order_by="Newest")
        with pytest.raises(InvalidParameterError, match="page_size"):
            client.list_jobs(kind=kind, page_size="10")  # type: ignore[arg-type]
        iterator = client.list_jobs(kind=kind)
        assert server.requests == []
        assert next(iter(iterator)).job_id == "a"
        assert len(server.requests) == 1


@pytest.mark.parametrize("kind", sorted(LISTS))
def test_a_repeated_token_stops_the_listing(kind: str) -> None:
    server = MockIce(list_page(kind, ["a"], "same"))
    with make_client(server) as client, pytest.raises(InvalidResponseError) as info:
        list(client.list_jobs(kind=kind))
    assert info.value.code == "RepeatedPageToken" and info.value.action == LISTS[kind][0]
    assert len(server.requests) == 2


@pytest.mark.parametrize("kind", sorted(LISTS))
def test_pages_without_the_list_or_with_junk_items(kind: str) -> None:
    key = LISTS[kind][1]
    server = MockIce(
        httpx.Response(200, json={"RequestId": "R", key: ["junk", None, {"JobId": "x", "ParentJobId": "x"}]})
    )
    with make_client(server) as client:
        assert [j.job_id for j in client.list_jobs(kind=kind)] == ["x"]
    server = MockIce(httpx.Response(200, json={"RequestId": "R"}))
    with make_client(server) as client:
        assert list(client.list_jobs(kind=kind)) == []
    server = MockIce(httpx.Response(200, json={"RequestId": "R", key: "not a list"}))
    with make_client(server, max_retries=0) as client, pytest.raises(InvalidResponseError, match=key):
        list(client.list_jobs(kind=kind))


@pytest.mark.parametrize("order_by", ["CreateTimeDesc", "CreateTimeAsc"])
def test_media_producing_ranges_over_30_days_are_listed_in_windows(order_by: str) -> None:
    # Window 1 has two pages; each window pages on its own (its token is not carried over).
    server = MockIce(
        list_page("media_producing", ["a"], "t1"),
        list_page("media_producing", ["b"], None),
        list_page("media_producing", ["c"], None),
        list_page("media_producing", ["d"], None),
    )
    with make_client(server) as client:
        ids = [
            j.job_id
            for j in client.list_jobs(
                kind="media_producing",
                start="2024-01-01T00:00:00Z",
                end=datetime(2024, 3, 15, 12, tzinfo=UTC),
                order_by=order_by,
            )
        ]
    assert ids == ["a", "b", "c", "d"]
    windows = [(server.params(i)["StartTime"], server.params(i)["EndTime"]) for i in (0, 2, 3)]
    expected = [
        ("2024-01-01T00:00:00Z", "2024-01-30T23:59:59Z"),
        ("2024-01-31T00:00:00Z", "2024-02-29T23:59:59Z"),
        ("2024-03-01T00:00:00Z", "2024-03-15T12:00:00Z"),
    ]
    assert windows == (expected if order_by == "CreateTimeAsc" else expected[::-1])
    assert server.params(1)["NextToken"] == "t1" and "NextToken" not in server.params(2)
    # 30 days or less, another kind, or an open range: one listing, bounds as given.
    for kind, start, end in [
        ("media_producing", "2024-01-01T00:00:00Z", "2024-01-31T00:00:00Z"),
        ("transcode", "2024-01-01T00:00:00Z", "2024-12-31T00:00:00Z"),
        ("media_producing", "2024-01-01T00:00:00Z", None),
    ]:
        server = MockIce(list_page(kind, ["x"], None))
        with make_client(server) as client:
            assert [j.job_id for j in client.list_jobs(kind=kind, start=start, end=end)] == ["x"]
        assert len(server.requests) == 1


def test_list_jobs_package_keeps_the_packaging_shape() -> None:
    body = {"RequestId": "R", "PackageJobList": {"PackageJobs": [{"JobId": "a"}], "NextPageToken": ""}}
    server = MockIce(httpx.Response(200, json=body))
    with make_client(server) as client:
        jobs = list(client.list_jobs(status="Init"))
    assert [type(j) for j in jobs] == [PackageJob]
    assert server.params(0) == {"Status": "Init", "OrderBy": "CreateTimeDesc", "PageSize": "100"}


# ---------------------------------------------------------------------------- submit


def submitted(kind: str, job_id: str = "new-job") -> httpx.Response:
    if kind == "transcode":
        body: dict[str, Any] = {"TranscodeParentJob": {"ParentJobId": job_id, "Status": "Init"}}
    elif kind == "media_convert":
        body = {"Job": {"JobId": job_id, "State": "Inited"}}
    else:
        body = {"JobId": job_id}
    return httpx.Response(200, json={"RequestId": "R", **body})


def json_params(params: dict[str, str], *keys: str) -> dict[str, Any]:
    return {key: json.loads(params[key]) for key in keys}


def test_submit_transcode_job_wire_format() -> None:
    server = MockIce(submitted("transcode", "parent-1"))
    with make_client(server) as client:
        job_id = client.submit_transcode_job(
            "oss://in/a.mp4",
            ["oss://out/720.mp4", {"Output": "oss://out/1080.mp4", "TemplateId": "S00000001-200030"}],
            template_id="S00000001-200010",
            name="ladder",
            user_data={"batch": 1},
            pipeline_id="pipe",
            priority=8,
        )
    assert job_id == "parent-1"
    params = server.params(0)
    assert server.requests[0].headers["x-acs-action"] == "SubmitTranscodeJob"
    assert json_params(params, "InputGroup", "OutputGroup", "ScheduleConfig") == {
        "InputGroup": [{"Type": "OSS", "Media": "oss://in/a.mp4"}],
        "OutputGroup": [
            {
                "Output": {"Type": "OSS", "Media": "oss://out/720.mp4"},
                "ProcessConfig": {"Transcode": {"TemplateId": "S00000001-200010"}},
            },
            {
                "Output": {"Type": "OSS", "Media": "oss://out/1080.mp4"},
                "ProcessConfig": {"Transcode": {"TemplateId": "S00000001-200030"}},
            },
        ],
        "ScheduleConfig": {"PipelineId": "pipe", "Priority": 8},
    }
    assert params["Name"] == "ladder" and params["UserData"] == '{"batch":1}'
    assert len(params["ClientToken"]) == 32


def test_submit_with_a_client_token_is_retried_with_the_same_token() -> None:
    server = MockIce(
        error(503, "ServiceUnavailable"), httpx.ReadTimeout("read timed out"), submitted("transcode", "p")
    )
    with make_client(server) as client:
        assert client.submit_transcode_job("oss://in/a.mp4", "oss://out/a.mp4", template_id="T") == "p"
    tokens = {server.params(i)["ClientToken"] for i in range(3)}
    assert len(server.requests) == 3 and len(tokens) == 1, "one token: the service creates one job"


def test_submit_snapshot_job_without_token_is_not_resent_after_a_lost_answer() -> None:
    server = MockIce(httpx.ReadTimeout("read timed out"), submitted("snapshot"))
    with make_client(server) as client, pytest.raises(RequestTimeoutError):
        client.submit_snapshot_job("oss://in/a.mp4", "oss://out/{Count}.jpg", template_id="S00000101-100070")
    assert len(server.requests) == 1


def test_submit_snapshot_job_wire_format() -> None:
    server = MockIce(submitted("snapshot", "snap-1"))
    with make_client(server) as client:
        job_id = client.submit_snapshot_job(
            "oss://in/a.mp4",
            "oss://out/{TileCount}.jpg",
            template_id="S00000101-100070",
            overrides={"Type": "Sprite", "Count": 10},
            name="thumbs",
            pipeline_id="pipe",
        )
    assert job_id == "snap-1"
    params = server.params(0)
    assert json_params(params, "Input", "Output", "TemplateConfig", "ScheduleConfig") == {
        "Input": {"Type": "OSS", "Media": "oss://in/a.mp4"},
        "Output": {"Type": "OSS", "Media": "oss://out/{TileCount}.jpg"},
        "TemplateConfig": {
            "TemplateId": "S00000101-100070",
            "OverwriteParams": {"Type": "Sprite", "Count": 10},
        },
        "ScheduleConfig": {"PipelineId": "pipe"},
    }
    assert params["Name"] == "thumbs" and "ClientToken" not in params


class FormIce:
    """Answers like MockIce, for requests with a form body: the signature is checked with the
    official SDK's ``get_authorization`` over host, content-type and x-acs-* headers and the
    body's SHA-256, as the SDK signs its own SubmitMediaProducingJob."""

    def __init__(self, reply: httpx.Response) -> None:
        self.reply = reply
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = request.read()
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        payload_hash = hashlib.sha256(body).hexdigest()
        assert request.headers["x-acs-content-sha256"] == payload_hash
        query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        assert request.url.query.decode() == canonical_query(query)
        signed = {
            k: v
            for k, v in request.headers.items()
            if k in ("host", "content-type") or k.startswith("x-acs-")
        }
        official = Utils.get_authorization(
            SimpleNamespace(method="POST", pathname="/", query=query, headers=signed),
            "ACS3-HMAC-SHA256",
            payload_hash,
            AK,
            SECRET,
        )
        assert request.headers["authorization"] == official
        return self.reply

    def query(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[index].url.query.decode(), keep_blank_values=True))

    def form(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[index].read().decode(), keep_blank_values=True))


@pytest.mark.parametrize("token", [None, TOKEN], ids=["AK", "STS"])
def test_submit_media_producing_job_wire_format(token: str | None) -> None:
    server = FormIce(submitted("media_producing", "prod-1"))
    # A timeline longer than any URL may be: it goes in the form body, as the official SDK sends it.
    clips = [{"MediaURL": f"oss://in/clip-{i}.mp4", "In": i, "Out": i + 5} for i in range(800)]
    timeline = {"VideoTracks": [{"VideoTrackClips": clips}]}
    client = Client(
        endpoint="ice.cn-shanghai.aliyuncs.com",
        access_key_id=AK,
        access_key_secret=SECRET,
        security_token=token,
        transport=httpx.MockTransport(server),
    )
    with client:
        job_id = client.submit_media_producing_job(
            "https://out.oss-cn-shanghai.aliyuncs.com/p.mp4",
            timeline=timeline,
            user_data={"NotifyAddress": "https://example.com/cb"},
            client_token="my-token",
        )
    assert job_id == "prod-1"
    query, form = server.query(0), server.form(0)
    assert set(form) == {"Timeline"} and json.loads(form["Timeline"]) == timeline
    assert len(form["Timeline"]) > 40_000 and "Timeline" not in query
    assert json.loads(query["OutputMediaConfig"]) == {
        "MediaURL": "https://out.oss-cn-shanghai.aliyuncs.com/p.mp4"
    }
    assert query["ClientToken"] == "my-token"
    assert server.requests[0].headers.get("x-acs-security-token") == token
    assert json.loads(query["UserData"]) == {"NotifyAddress": "https://example.com/cb"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one of timeline"),
        ({"timeline": "{}", "project_id": "p"}, "got timeline, project_id"),
        ({"template_id": "t"}, "clips_param"),
    ],
)
def test_submit_media_producing_job_needs_one_source(options: dict[str, Any], message: str) -> None:
    server = MockIce(submitted("media_producing"))
    with make_client(server) as client, pytest.raises(InvalidParameterError, match=message) as info:
        client.submit_media_producing_job("oss://out/p.mp4", **options)
    assert info.value.action == "SubmitMediaProducingJob" and server.requests == []


def test_submit_media_convert_job_builds_or_takes_a_config() -> None:
    server = MockIce(submitted("media_convert", "conv-1"))
    with make_client(server) as client:
        assert (
            client.submit_media_convert_job(
                ["oss://in/a.mp4"], "oss://out/a.mp4", template_id="S00000001-200010", name="convert"
            )
            == "conv-1"
        )
        config = {"Inputs": [], "OutputGroups": [{"Name": "hls"}]}
        client.submit_media_convert_job(config=config, name="named", pipeline_id="pipe")
    built = json.loads(server.params(0)["Config"])
    assert built == {
        "Inputs": [{"Name": "input0", "InputFile": {"Type": "OSS", "Media": "oss://in/a.mp4"}}],
        "Outputs": [
            {
                "Name": "output0",
                "OutputFile": {"Type": "OSS", "Media": "oss://out/a.mp4"},
                "TemplateId": "S00000001-200010",
            }
        ],
        "JobName": "convert",
    }
    second = server.params(1)
    assert json.loads(second["Config"]) == {**config, "JobName": "named"}
    assert second["PipelineId"] == "pipe" and second["ClientToken"] != server.params(0)["ClientToken"]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.submit_transcode_job("oss://in/a.mp4", "oss://out/a.mp4"), "MissingTemplateId"),
        (lambda c: c.submit_transcode_job([], "oss://out/a.mp4", template_id="t"), "MissingInputs"),
        (lambda c: c.submit_transcode_job("oss://a", [], template_id="t"), "MissingOutputs"),
        (
            lambda c: c.submit_transcode_job("oss://a", "oss://b", template_id="t", priority=11),
            "InvalidParameter",
        ),
        (lambda c: c.submit_snapshot_job("oss://a", "oss://b", template_id=""), "MissingTemplateId"),
        (lambda c: c.submit_snapshot_job(5, "oss://b", template_id="t"), "InvalidParameter"),
        (lambda c: c.submit_media_convert_job("oss://a", "oss://b"), "MissingTemplateId"),
        (lambda c: c.submit_media_convert_job("oss://a", "oss://b", config={}), "InvalidParameter"),
        (lambda c: c.submit_media_convert_job(None, "oss://b", template_id="t"), "MissingInputs"),
    ],
)
def test_submit_arguments_are_checked_before_sending(call: Callable[[Any], Any], code: str) -> None:
    server = MockIce(submitted("transcode"))
    with make_client(server) as client, pytest.raises(InvalidParameterError) as info:
        call(client)
    assert info.value.code == code and server.requests == []


@pytest.mark.parametrize("kind", sorted(GETS))
def test_a_submit_answer_without_an_id_is_invalid(kind: str) -> None:
    server = MockIce(
        httpx.Response(200, json={"RequestId": "R", "JobId": "", "Job": {}, "TranscodeParentJob": {}})
    )
    calls = {
        "transcode": lambda c: c.submit_transcode_job("oss://a", "oss://b", template_id="t"),
        "media_producing": lambda c: c.submit_media_producing_job("oss://b", project_id="p"),
        "snapshot": lambda c: c.submit_snapshot_job("oss://a", "oss://b", template_id="t"),
        "media_convert": lambda c: c.submit_media_convert_job("oss://a", "oss://b", template_id="t"),
    }
    with make_client(server, max_retries=0) as client, pytest.raises(InvalidResponseError) as info:
        calls[kind](client)
    assert info.value.action == KIND_APIS[kind].submit_action


# ---------------------------------------------------------------------------- async


def test_async_client_every_kind() -> None:
    async def run() -> None:
        for kind in sorted(LISTS):
            server = MockIce(list_page(kind, ["a", "b"], "t1"), list_page(kind, ["c"], None))
            client, _sleeps = make_async(server)
            async with client:
                ids = [job.job_id async for job in client.list_jobs(kind=kind, page_size=2)]
                assert ids == ["a", "b", "c"]
                assert server.params(1)[KIND_APIS[kind].token_param] == "t1"
                # The scripted server now repeats its last page (no token): a one-page listing.
                listed = [job.job_id async for job in getattr(client, f"list_{kind}_jobs")()]
                assert listed == ["c"]
            server = MockIce(answer_for(kind))
            client, _sleeps = make_async(server)
            async with client:
                job = await client.get_job("id-1", kind=kind)
                assert job.kind == kind and job.job_id == "id-1"
                job = await getattr(client, f"get_{kind}_job")("id-2")
                assert job.job_id == "id-2"

    asyncio.run(run())


def test_async_submit_retries_with_the_same_token() -> None:
    async def run() -> list[float]:
        server = MockIce(error(503, "ServiceUnavailable"), submitted("media_convert", "c1"))
        client, sleeps = make_async(server)
        async with client:
            assert await client.submit_media_convert_job("oss://a", "oss://b", template_id="t") == "c1"
        assert server.params(0)["ClientToken"] == server.params(1)["ClientToken"]
        server = MockIce(submitted("transcode", "p1"))
        client, _ = make_async(server)
        async with client:
            assert await client.submit_transcode_job("oss://a", "oss://b", template_id="t") == "p1"
        server = MockIce(submitted("media_producing", "m1"))
        client, _ = make_async(server)
        async with client:
            assert await client.submit_media_producing_job("oss://b", project_id="proj") == "m1"
        assert server.params(0)["ProjectId"] == "proj"
        server = MockIce(error(500, "InternalError"), submitted("snapshot", "s1"))
        client, _ = make_async(server)
        async with client:
            with pytest.raises(ServerError):
                await client.submit_snapshot_job("oss://a", "oss://b", template_id="t")
        assert len(server.requests) == 1, "InternalError may hide a created job: no token, no resend"
        return sleeps

    assert len(asyncio.run(run())) == 1


# ---------------------------------------------------------------------------- any answer body

ANSWER_KEYS = st.sampled_from(
    sorted(
        {
            *("Jobs", "MediaProducingJobList", "NextToken", "NextPageToken", "MaxResults", "JobId"),
            *("ParentJobId", "TranscodeParentJob", "MediaProducingJob", "SnapshotJob", "Job"),
            *("RequestId", "Status", "State", "x"),
        }
    )
)
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(ANSWER_KEYS, children, max_size=4),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(GETS)), body=st.dictionaries(ANSWER_KEYS, ANY_JSON, max_size=5))
def test_any_answer_parses_or_is_an_invalid_response(kind: str, body: dict[str, Any]) -> None:
    """Whatever JSON object comes back, parsing gives jobs or an InvalidResponseError, nothing else."""
    for parse in (
        lambda: parse_kind_page(kind, body),
        lambda: parse_kind_job(kind, body, "asked"),
        lambda: parse_submitted_id(kind, body),
    ):
        try:
            parse()
        except InvalidResponseError:
            pass
    try:
        jobs, token = parse_kind_page(kind, body)
    except InvalidResponseError:
        return
    assert all(job.kind == kind for job in jobs) and (token is None or isinstance(token, str))
