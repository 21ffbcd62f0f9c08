"""The models of every job kind: SDK-shaped fixtures, the state and duration rules, tolerance.

The fixtures are written with the official SDK's keys and nesting, and a test checks that
the SDK's own response models parse them and give every key back (``to_map``), so the
fixtures are the SDK's shapes and the parsers read the keys the SDK reads.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import alibabacloud_ice20201109.models as ice_models
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ice_widgets
from ice_widgets._models import (
    KINDS,
    STATES,
    Media,
    MediaConvertJob,
    MediaConvertOutputDetail,
    MediaProducingJob,
    OssFile,
    PackageJob,
    SnapshotJob,
    TranscodeJob,
    TranscodeSubJob,
    job_state,
    model_for,
    parse_job,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


PARENT_ID = "a5d5b1a0c2f94d3b8f0e7c6d5b4a3f21"
SUB_OK = "1f2e3d4c5b6a79880716253443526170"
SUB_FAIL = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"

TRANSCODE_GET: dict[str, Any] = {
    "RequestId": "31E30781-9495-5E2D-A84D-759B0A01E262",
    "TranscodeParentJob": {
        "ParentJobId": PARENT_ID,
        "Name": "daily-ladder",
        "Status": "Success",
        "Percent": 100,
        "JobCount": 2,
        "TriggerSource": "API",
        "RequestId": "B1F0F4A1-0000-4C9E-9A5B-2F6E0A3D9E11",
        "UserData": '{"batch": 7}',
        "CreateTime": "2024-05-01T10:00:00Z",
        "SubmitTime": "2024-05-01T10:00:01Z",
        "FinishTime": "2024-05-01T10:04:31Z",
        "InputGroup": [{"Type": "OSS", "Media": "oss://in-bucket/raw/show.mp4"}],
        "OutputGroup": [
            {
                "Output": {"Type": "OSS", "Media": "oss://out-bucket/ladder/720p.mp4"},
                "ProcessConfig": {"Transcode": {"TemplateId": "S00000001-200010"}},
            },
            {
                "Output": {"Type": "OSS", "Media": "oss://out-bucket/ladder/1080p.mp4"},
                "ProcessConfig": {"Transcode": {"TemplateId": "S00000001-200030"}},
            },
        ],
        "ScheduleConfig": {"PipelineId": "5246b8d12a62433ab77845074039c3dc", "Priority": 6},
        "TranscodeJobList": [
            {
                "JobId": SUB_OK,
                "ParentJobId": PARENT_ID,
                "JobIndex": 0,
                "Name": "daily-ladder",
                "Status": "Success",
                "CreateTime": "2024-05-01T10:00:00Z",
                "SubmitTime": "2024-05-01T10:00:01Z",
                "FinishTime": "2024-05-01T10:03:01Z",
                "InputGroup": [{"Type": "OSS", "Media": "oss://in-bucket/raw/show.mp4"}],
                "Output": {"Type": "OSS", "Media": "oss://out-bucket/ladder/720p.mp4"},
                "OutFileMeta": {
                    "FileBasicInfo": {
                        "FileUrl": "https://out-bucket.oss-cn-shanghai.aliyuncs.com/ladder/720p.mp4",
                        "Duration": "1801.5",
                        "FileSize": "104857600",
                        "FileName": "720p.mp4",
                    }
                },
                "ProcessConfig": {"Transcode": {"TemplateId": "S00000001-200010"}},
                "ScheduleConfig": {"PipelineId": "5246b8d12a62433ab77845074039c3dc", "Priority": 6},
                "RequestId": "B1F0F4A1-0000-4C9E-9A5B-2F6E0A3D9E11",
                "SubmitResultJson": {"Code": "Success", "Message": "ok"},
                "UserData": '{"batch": 7}',
            },
            {
                "JobId": SUB_FAIL,
                "ParentJobId": PARENT_ID,
                "JobIndex": 1,
                "Name": "daily-ladder",
                "Status": "Fail",
                "CreateTime": "2024-05-01T10:00:00Z",
                "SubmitTime": "2024-05-01T10:00:01Z",
                "FinishTime": "2024-05-01T10:04:31Z",
                "Output": {"Type": "OSS", "Media": "oss://out-bucket/ladder/1080p.mp4"},
                "ProcessConfig": {"Transcode": {"TemplateId": "S00000001-200030"}},
                "SubmitResultJson": {
                    "Code": "InvalidParameter.ResourceContentBad",
                    "Message": "input has no video",
                },
            },
        ],
    },
}

TRANSCODE_LIST: dict[str, Any] = {
    "RequestId": "31E30781-9495-5E2D-A84D-759B0A01E263",
    "NextPageToken": "019daf5780f74831b0e1a767c9f1c178",
    "Jobs": [
        {
            key: value
            for key, value in TRANSCODE_GET["TranscodeParentJob"].items()
            if key != "TranscodeJobList"
        }
    ],
}

PRODUCING_GET: dict[str, Any] = {
    "RequestId": "4492208B-1E5E-5B1D-A6C1-8C5C1A7B6F11",
    "MediaProducingJob": {
        "JobId": "0c43d5bf0d714bd8a1a2e58ad0b8f3a1",
        "Status": "Success",
        "CreateTime": "2024-05-01T08:00:00Z",
        "CompleteTime": "2024-05-01T08:02:30Z",
        "ModifiedTime": "2024-05-01T08:02:30Z",
        "Progress": 100,
        "Duration": 30.5,
        "MediaId": "1bd2b8b0a3e471ed8c40e6f7c6d5b4a3",
        "MediaURL": "https://out-bucket.oss-cn-shanghai.aliyuncs.com/produced/promo.mp4",
        "VodMediaId": "",
        "ProjectId": "2d1b0f7c5a3b4e1f9c8d7e6f5a4b3c2d",
        "TemplateId": "",
        "Timeline": '{"VideoTracks": []}',
        "ClipsParam": "",
        "SubJobMaterials": "",
        "UserData": '{"NotifyAddress": "https://example.com/callback"}',
        "Code": "",
        "Message": "",
    },
}

PRODUCING_LIST: dict[str, Any] = {
    "RequestId": "4492208B-1E5E-5B1D-A6C1-8C5C1A7B6F12",
    "NextToken": "a1b2c3",
    "MaxResults": "20",
    "MediaProducingJobList": [
        {
            "JobId": "7d3f2a1b0c9e4d8f8a7b6c5d4e3f2a1b",
            "Status": "Failed",
            "CreateTime": "2024-05-01T08:00:00Z",
            "CompleteTime": "2024-05-01T08:00:40Z",
            "ModifiedTime": "2024-05-01T08:00:40Z",
            "ProjectId": "2d1b0f7c5a3b4e1f9c8d7e6f5a4b3c2d",
            "Code": "InvalidParameter",
            "Message": "The specified timeline is invalid.",
            "ClipsParam": "",
            "UserData": "",
        }
    ],
}

SNAPSHOT_GET: dict[str, Any] = {
    "RequestId": "8B0F0D1C-0F5A-5B5E-8F5C-1F4D3C2B1A09",
    "SnapshotJob": {
        "JobId": "6d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a",
        "Name": "thumbs",
        "Status": "Fail",
        "Type": "Sprite",
        "Async": True,
        "Count": 10,
        "CreateTime": "2024-05-01T09:00:00Z",
        "SubmitTime": "2024-05-01T09:00:00Z",
        "FinishTime": "2024-05-01T09:00:12Z",
        "ModifiedTime": "2024-05-01T09:00:12Z",
        "Input": {
            "Type": "OSS",
            "Media": "oss://in-bucket/raw/show.mp4",
            "OssFile": {"Bucket": "in-bucket", "Location": "oss-cn-shanghai", "Object": "raw/show.mp4"},
        },
        "Output": {
            "Type": "OSS",
            "Media": "oss://out-bucket/thumbs/{Count}.jpg",
            "OssFile": {
                "Bucket": "out-bucket",
                "Location": "oss-cn-shanghai",
                "Object": "thumbs/{Count}.jpg",
            },
        },
        "PipelineId": "5246b8d12a62433ab77845074039c3dc",
        "TemplateId": "S00000101-100070",
        "TemplateConfig": '{"Type": "Sprite"}',
        "TriggerSource": "API",
        "UserData": "",
        "Code": "InvalidParameter.ResourceNotFound",
        "Message": "The input file does not exist.",
    },
}

SNAPSHOT_LIST: dict[str, Any] = {
    "RequestId": "8B0F0D1C-0F5A-5B5E-8F5C-1F4D3C2B1A10",
    "NextPageToken": "",
    "Jobs": [
        {
            "JobId": "6d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a",
            "Name": "thumbs",
            "Status": "Init",
            "Type": "Normal",
            "Async": True,
            "Count": "3",
            "CreateTime": "2024-05-01T09:00:00Z",
            "SubmitTime": "2024-05-01T09:00:00Z",
            "ModifiedTime": "2024-05-01T09:00:00Z",
            "Input": {"Type": "OSS", "Media": "oss://in-bucket/raw/show.mp4"},
            "Output": {"Type": "OSS", "Media": "oss://out-bucket/thumbs/{Count}.jpg"},
            "PipelineId": "5246b8d12a62433ab77845074039c3dc",
            "TemplateId": "S00000101-100070",
            "TriggerSource": "API",
        }
    ],
}

CONVERT_GET: dict[str, Any] = {
    "RequestId": "2C6F1E0D-1B2A-5C4D-9E8F-7A6B5C4D3E21",
    "Job": {
        "JobId": "3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f",
        "State": "Complete",
        "Percent": 100,
        "CreateTime": "2024-05-01T11:00:00Z",
        "FinishTime": "2024-05-01T11:06:00Z",
        "PipelineId": "5246b8d12a62433ab77845074039c3dc",
        "ClientToken": "d5f2a0e1-7c3b-4e8a-9f6d-2b1c0a9e8d7f",
        "RequestId": "AB12CD34-0000-5E5E-8F5C-1F4D3C2B1A09",
        "UserData": "",
        "Code": "",
        "Message": "",
        "Config": {
            "JobName": "convert-show",
            "Inputs": [
                {"Name": "input0", "InputFile": {"Type": "OSS", "Media": "oss://in-bucket/raw/show.mp4"}}
            ],
            "Outputs": [
                {
                    "Name": "mp4-720",
                    "TemplateId": "S00000001-200010",
                    "OutputFile": {"Type": "OSS", "Media": "oss://out-bucket/convert/720p.mp4"},
                }
            ],
            "OutputGroups": [
                {
                    "Name": "hls",
                    "GroupConfig": {
                        "Type": "Hls",
                        "ManifestName": "master",
                        "OutputFileBase": {"Type": "OSS", "Media": "oss://out-bucket/convert/hls/"},
                    },
                    "Outputs": [
                        {"Name": "hls-720", "OutputFileName": "720", "TemplateId": "S00000001-100020"}
                    ],
                }
            ],
        },
        "OutputDetails": [
            {
                "Name": "mp4-720",
                "TaskId": "task-mp4-720",
                "Status": "Success",
                "CreateTime": "2024-05-01T11:00:01Z",
                "FinishTime": "2024-05-01T11:03:00Z",
                "Result": {"OutputFile": {"Type": "OSS", "Media": "oss://out-bucket/convert/720p.mp4"}},
            }
        ],
        "OutputGroupDetails": [
            {
                "Name": "hls",
                "TaskId": "task-hls",
                "Status": "Success",
                "CreateTime": "2024-05-01T11:00:01Z",
                "FinishTime": "2024-05-01T11:06:00Z",
                "Outputs": [
                    {
                        "Name": "hls-720",
                        "TaskId": "task-hls-720",
                        "Status": "Skipped",
                        "Code": "Skipped.SameAsInput",
                        "Message": "the input already matches",
                        "Result": {
                            "OutputFile": {
                                "Type": "Media",
                                "Media": "****20b48fb04483915d4f2cd8ac****",
                                "Url": "https://out-bucket.oss-cn-shanghai.aliyuncs.com/convert/hls/720.m3u8",
                            }
                        },
                    }
                ],
            }
        ],
    },
}

CONVERT_LIST: dict[str, Any] = {
    "RequestId": "2C6F1E0D-1B2A-5C4D-9E8F-7A6B5C4D3E22",
    "NextPageToken": "next",
    "Jobs": [
        {
            key: value
            for key, value in CONVERT_GET["Job"].items()
            if key not in ("OutputDetails", "OutputGroupDetails", "Percent")
        }
    ],
}

#: (SDK response body class, fixture, key of the job(s), kind)
SDK_SHAPES = [
    ("GetTranscodeJobResponseBody", TRANSCODE_GET),
    ("ListTranscodeJobsResponseBody", TRANSCODE_LIST),
    ("GetMediaProducingJobResponseBody", PRODUCING_GET),
    ("ListMediaProducingJobsResponseBody", PRODUCING_LIST),
    ("GetSnapshotJobResponseBody", SNAPSHOT_GET),
    ("ListSnapshotJobsResponseBody", SNAPSHOT_LIST),
    ("GetMediaConvertJobResponseBody", CONVERT_GET),
    ("ListMediaConvertJobsResponseBody", CONVERT_LIST),
]


def missing_keys(sent: Any, parsed: Any, path: str = "") -> list[str]:
    """Keys of ``sent`` (recursively) that the SDK's ``to_map`` did not give back."""
    found: list[str] = []
    if isinstance(sent, Mapping):
        if not isinstance(parsed, Mapping):
            return [path or "<root>"]
        for key, value in sent.items():
            if key not in parsed:
                found.append(f"{path}.{key}")
            else:
                found += missing_keys(value, parsed[key], f"{path}.{key}")
    elif isinstance(sent, list):
        if not isinstance(parsed, list) or len(parsed) != len(sent):
            return [path]
        for index, (a, b) in enumerate(zip(sent, parsed, strict=True)):
            found += missing_keys(a, b, f"{path}[{index}]")
    return found


@pytest.mark.parametrize(("model", "body"), SDK_SHAPES, ids=[name for name, _ in SDK_SHAPES])
def test_fixtures_are_the_official_sdk_shapes(model: str, body: dict[str, Any]) -> None:
    """The official SDK parses each fixture and gives every key back: no key is invented."""
    parsed = getattr(ice_models, model)().from_map(copy.deepcopy(body)).to_map()
    assert missing_keys(body, parsed) == []


# --- job_state ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("Success", "succeeded"),
        ("Complete", "succeeded"),
        ("Fail", "failed"),
        ("Failed", "failed"),
        ("Error", "failed"),
        ("Cancelled", "failed"),
        ("Init", "running"),
        ("Queuing", "running"),
        ("Processing", "running"),
        ("Inited", "running"),
        ("Running", "running"),
        (" Success\n", "succeeded"),
        ("success", "unknown"),
        ("FAIL", "unknown"),
        ("Deleted", "unknown"),
        ("Skipped", "unknown"),
        ("Scheduled", "unknown"),
        ("排队中", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
        (3, "unknown"),
    ],
)
def test_job_state(status: Any, state: str) -> None:
    assert job_state(status) == state
    assert state in STATES


def test_kinds_and_models() -> None:
    assert KINDS == ("package", "transcode", "media_producing", "snapshot", "media_convert")
    assert ice_widgets.KINDS is KINDS
    models = [PackageJob, TranscodeJob, MediaProducingJob, SnapshotJob, MediaConvertJob]
    for kind, model in zip(KINDS, models, strict=True):
        assert model_for(kind) is model
        assert model.kind == kind
        assert "kind" not in model.__dataclass_fields__, "a class attribute, not a constructor argument"
        assert model_for(kind)().kind == kind
        assert type(parse_job(kind, {"JobId": "x"})) is model
    for name in ("TranscodeJob", "MediaProducingJob", "SnapshotJob", "MediaConvertJob", "TranscodeSubJob"):
        assert getattr(ice_widgets, name).__module__ == "ice_widgets._models"


@pytest.mark.parametrize("kind", ["Package", "transcoding", "", None, "media-producing"])
def test_unknown_kinds_are_refused_with_the_valid_ones_named(kind: Any) -> None:
    with pytest.raises(ValueError, match="media_producing"):
        model_for(kind)
    with pytest.raises(ValueError, match="unknown job kind"):
        parse_job(kind, {})


# --- each kind on the SDK-shaped fixtures -----------------------------------------------------


def test_transcode_get_parent_and_sub_jobs() -> None:
    job = TranscodeJob.from_api(TRANSCODE_GET["TranscodeParentJob"])
    assert job.kind == "transcode" and job.job_id == PARENT_ID and job.name == "daily-ladder"
    assert job.status == "Success" and job.state == "succeeded" and job.is_finished and not job.is_failed
    assert job.progress == 100.0 and job.job_count == 2 and job.trigger_source == "API"
    assert job.pipeline_id == "5246b8d12a62433ab77845074039c3dc" and job.priority == 6
    assert job.inputs == (Media("OSS", "oss://in-bucket/raw/show.mp4"),)
    assert job.outputs == (
        Media("OSS", "oss://out-bucket/ladder/720p.mp4"),
        Media("OSS", "oss://out-bucket/ladder/1080p.mp4"),
    )
    assert job.template_ids == ("S00000001-200010", "S00000001-200030")
    assert job.create_time == utc(2024, 5, 1, 10, 0, 0)
    assert job.submit_time == utc(2024, 5, 1, 10, 0, 1)
    assert job.finish_time == utc(2024, 5, 1, 10, 4, 31)
    assert job.modified_time is None
    assert job.duration == timedelta(minutes=4, seconds=30)
    assert job.user_data == '{"batch": 7}'
    # A parent that succeeded with one failed sub-job: the sub-jobs tell, the parent has no failure.
    assert job.code is None and job.message is None
    assert [sub.job_id for sub in job.sub_jobs] == [SUB_OK, SUB_FAIL]
    assert job.sub_jobs_failed == 1
    ok, failed = job.sub_jobs
    assert isinstance(ok, TranscodeSubJob)
    assert (ok.status, ok.state, ok.index, ok.parent_job_id) == ("Success", "succeeded", 0, PARENT_ID)
    assert ok.output_url == "https://out-bucket.oss-cn-shanghai.aliyuncs.com/ladder/720p.mp4", (
        "the file written"
    )
    assert ok.output == Media("OSS", "oss://out-bucket/ladder/720p.mp4")
    assert ok.code is None and ok.message is None, "a succeeded sub-job has no failure"
    assert ok.media_duration == 1801.5 and ok.file_size == 104857600
    assert ok.template_id == "S00000001-200010"
    assert ok.duration == timedelta(minutes=3)
    assert (failed.status, failed.state, failed.is_failed) == ("Fail", "failed", True)
    assert failed.output_url == "oss://out-bucket/ladder/1080p.mp4", "no file: the configured output"
    assert failed.code == "InvalidParameter.ResourceContentBad" and failed.message == "input has no video"
    assert failed.raw is TRANSCODE_GET["TranscodeParentJob"]["TranscodeJobList"][1]
    assert job.output_urls == [
        "https://out-bucket.oss-cn-shanghai.aliyuncs.com/ladder/720p.mp4",
        "oss://out-bucket/ladder/1080p.mp4",
    ]
    assert job.output_url == job.output_urls[0]
    assert job.raw is TRANSCODE_GET["TranscodeParentJob"]


def test_transcode_failed_parent_takes_the_failure_of_its_sub_jobs() -> None:
    data = copy.deepcopy(TRANSCODE_GET["TranscodeParentJob"])
    data["Status"] = "Fail"
    data["TranscodeJobList"][0]["Status"] = "Fail"
    data["TranscodeJobList"][0]["SubmitResultJson"] = {}
    # SubmitResultJson is untyped: a JSON string and lower-case keys are read too.
    data["TranscodeJobList"][1]["SubmitResultJson"] = json.dumps(
        {"code": "Fail.Decode", "message": "bad stream"}
    )
    job = TranscodeJob.from_api(data)
    assert job.state == "failed" and job.is_failed and job.sub_jobs_failed == 2
    assert (job.code, job.message) == ("Fail.Decode", "bad stream")
    assert job.sub_jobs[0].code is None


def test_transcode_list_item_has_no_sub_jobs() -> None:
    job = TranscodeJob.from_api(TRANSCODE_LIST["Jobs"][0])
    assert job.sub_jobs == () and job.sub_jobs_failed == 0
    assert job.output_urls == ["oss://out-bucket/ladder/720p.mp4", "oss://out-bucket/ladder/1080p.mp4"]
    assert job.job_id == PARENT_ID and job.duration == timedelta(minutes=4, seconds=30)


def test_transcode_stream_outputs_use_output_url() -> None:
    job = TranscodeJob.from_api(
        {
            "ParentJobId": "p",
            "InputGroup": [{"Type": "OSS", "InputUrl": "rtmp://live/in"}],
            "OutputGroup": [{"Output": {"OutputUrl": "rtmp://live/out"}}],
            "TranscodeJobList": [{"JobId": "s", "Output": {"OutputUrl": "rtmp://live/out"}}],
        }
    )
    assert job.inputs == (Media("OSS", "rtmp://live/in"),)
    assert job.output_urls == ["rtmp://live/out"]
    assert job.sub_jobs[0].output_url == "rtmp://live/out"


def test_media_producing_get() -> None:
    job = MediaProducingJob.from_api(PRODUCING_GET["MediaProducingJob"])
    assert job.kind == "media_producing" and job.job_id == "0c43d5bf0d714bd8a1a2e58ad0b8f3a1"
    assert job.name is None, "media producing jobs have no name"
    assert job.status == "Success" and job.state == "succeeded" and job.progress == 100.0
    assert job.create_time == utc(2024, 5, 1, 8, 0, 0)
    assert job.complete_time == job.finish_time == utc(2024, 5, 1, 8, 2, 30)
    assert job.submit_time is None
    assert job.duration == timedelta(minutes=2, seconds=30), "CompleteTime - CreateTime"
    assert job.media_duration == 30.5, "Duration is the produced media's length"
    assert job.media_url == "https://out-bucket.oss-cn-shanghai.aliyuncs.com/produced/promo.mp4"
    assert job.output_urls == [job.media_url] and job.output_url == job.media_url
    assert (
        job.media_id == "1bd2b8b0a3e471ed8c40e6f7c6d5b4a3"
        and job.project_id == "2d1b0f7c5a3b4e1f9c8d7e6f5a4b3c2d"
    )
    assert job.vod_media_id is None and job.template_id is None, "empty strings are None"
    assert job.code is None and job.message is None


def test_media_producing_list_item() -> None:
    job = MediaProducingJob.from_api(PRODUCING_LIST["MediaProducingJobList"][0])
    assert job.status == "Failed" and job.state == "failed" and job.is_failed and job.is_finished
    assert job.progress is None, "list items have no Progress"
    assert job.code == "InvalidParameter" and job.message == "The specified timeline is invalid."
    assert job.duration == timedelta(seconds=40)
    assert job.output_urls == [] and job.output_url is None


def test_snapshot_get() -> None:
    job = SnapshotJob.from_api(SNAPSHOT_GET["SnapshotJob"])
    assert job.kind == "snapshot" and job.name == "thumbs" and job.snapshot_type == "Sprite"
    assert job.status == "Fail" and job.state == "failed"
    assert job.is_async is True and job.count == 10 and job.progress is None
    assert job.code == "InvalidParameter.ResourceNotFound" and job.message == "The input file does not exist."
    assert job.input == Media("OSS", "oss://in-bucket/raw/show.mp4")
    assert job.output_oss == OssFile("out-bucket", "oss-cn-shanghai", "thumbs/{Count}.jpg")
    assert job.output_urls == ["oss://out-bucket/thumbs/{Count}.jpg"]
    assert job.duration == timedelta(seconds=12)
    assert job.template_id == "S00000101-100070" and job.trigger_source == "API"


def test_snapshot_output_from_oss_file_alone() -> None:
    job = SnapshotJob.from_api(
        {"Output": {"OssFile": {"Bucket": "b", "Location": "oss-cn-beijing", "Object": "/s/1.jpg"}}}
    )
    assert job.output is None and job.output_urls == ["oss://b/s/1.jpg"]


def test_snapshot_list_item_running() -> None:
    job = SnapshotJob.from_api(SNAPSHOT_LIST["Jobs"][0])
    assert job.state == "running" and not job.is_finished and job.count == 3
    assert job.duration is None and job.finish_time is None
    assert job.elapsed(utc(2024, 5, 1, 9, 1, 0)) == timedelta(minutes=1)
    assert job.code is None and job.user_data is None


def test_media_convert_get() -> None:
    job = MediaConvertJob.from_api(CONVERT_GET["Job"])
    assert job.kind == "media_convert" and job.name == "convert-show"
    assert job.status == "Complete" and job.state == "succeeded" and job.progress == 100.0
    assert job.submit_time is None and job.duration == timedelta(minutes=6), "FinishTime - CreateTime"
    assert job.client_token == "d5f2a0e1-7c3b-4e8a-9f6d-2b1c0a9e8d7f"
    assert job.inputs == (Media("OSS", "oss://in-bucket/raw/show.mp4"),)
    assert [(d.name, d.group, d.is_group, d.status, d.state) for d in job.outputs] == [
        ("mp4-720", None, False, "Success", "succeeded"),
        ("hls", None, True, "Success", "succeeded"),
        ("hls-720", "hls", False, "Skipped", "unknown"),
    ]
    skipped = job.outputs[2]
    assert isinstance(skipped, MediaConvertOutputDetail)
    assert skipped.code == "Skipped.SameAsInput" and skipped.message == "the input already matches"
    assert skipped.output_url == "https://out-bucket.oss-cn-shanghai.aliyuncs.com/convert/hls/720.m3u8"
    assert job.outputs[0].duration == timedelta(minutes=2, seconds=59)
    assert job.output_urls == [
        "oss://out-bucket/convert/720p.mp4",
        "https://out-bucket.oss-cn-shanghai.aliyuncs.com/convert/hls/720.m3u8",
    ]
    assert job.code is None and job.message is None


def test_media_convert_list_item_uses_the_configured_destinations() -> None:
    job = MediaConvertJob.from_api(CONVERT_LIST["Jobs"][0])
    assert job.outputs == () and job.progress is None
    assert job.output_urls == ["oss://out-bucket/convert/720p.mp4", "oss://out-bucket/convert/hls/"]


@pytest.mark.parametrize(
    ("status", "state"),
    [("Scheduled", "running"), ("Init", "running"), ("Failed", "failed"), ("Odd", "unknown")],
)
def test_media_convert_output_states(status: str, state: str) -> None:
    assert MediaConvertOutputDetail.from_api({"Status": status}).state == state


# --- state and duration rules, per kind, on running / undocumented / missing / odd fixtures ----

#: kind -> (status key, a running status, a succeeded one, a failed one, start key, end key)
RULES = {
    "package": ("Status", "Init", "Success", "Fail", "SubmitTime", "FinishTime"),
    "transcode": ("Status", "Processing", "Success", "Fail", "SubmitTime", "FinishTime"),
    "media_producing": ("Status", "Queuing", "Success", "Failed", "CreateTime", "CompleteTime"),
    "snapshot": ("Status", "Init", "Success", "Fail", "SubmitTime", "FinishTime"),
    "media_convert": ("State", "Running", "Complete", "Error", "CreateTime", "FinishTime"),
}
START, END = "2024-05-01T10:00:00Z", "2024-05-01T10:05:30Z"


@pytest.mark.parametrize("kind", KINDS)
def test_duration_of_finished_jobs_uses_the_kinds_own_times(kind: str) -> None:
    status_key, _running, ok, failed, start, end = RULES[kind]
    for status in (ok, failed):
        job = parse_job(kind, {status_key: status, start: START, end: END})
        assert job.duration == timedelta(minutes=5, seconds=30), (kind, status)
        assert job.is_finished
    # The other kinds' time keys do not count.
    others = {"SubmitTime", "FinishTime", "CreateTime", "CompleteTime"} - {start, end}
    job = parse_job(kind, {status_key: ok, **{key: START for key in others}})
    assert job.duration is None


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "package"])
def test_running_jobs_have_no_duration_even_with_an_end_time(kind: str) -> None:
    status_key, running, _ok, _failed, start, end = RULES[kind]
    job = parse_job(kind, {status_key: running, start: START, end: END})
    assert job.state == "running" and not job.is_finished and job.duration is None
    assert job.elapsed(utc(2024, 5, 1, 10, 10, 0)) == timedelta(minutes=10)
    assert job.elapsed(utc(2024, 5, 1, 9, 0, 0)) == timedelta(0), "never negative"


def test_packaging_keeps_its_rule_for_a_running_job_with_a_finish_time() -> None:
    job = PackageJob.from_api({"Status": "Init", "SubmitTime": START, "FinishTime": END})
    assert job.state == "running" and job.duration == timedelta(minutes=5, seconds=30)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", ["Deleted", "Paused", "success", "  ", ""])
def test_undocumented_statuses_are_kept_and_unknown(kind: str, status: str) -> None:
    status_key, *_rest, start, end = RULES[kind]
    job = parse_job(kind, {status_key: status, start: START, end: END})
    assert job.status == (status.strip() or None)
    assert job.state == "unknown" and not job.is_finished and not job.is_failed
    assert job.duration == timedelta(minutes=5, seconds=30), "not running: the times are shown"


@pytest.mark.parametrize("kind", KINDS)
def test_whitespace_in_times_and_status(kind: str) -> None:
    status_key, _running, ok, _failed, start, end = RULES[kind]
    job = parse_job(kind, {status_key: f" {ok}\n", start: f"  {START}\n", end: f"\t{END} "})
    assert job.status == ok and job.state == "succeeded"
    assert job.duration == timedelta(minutes=5, seconds=30)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("start_value", "end_value"),
    [(None, END), (START, None), ("", END), (START, ""), ("garbage", END), (END, START), ([], {})],
)
def test_missing_empty_or_backwards_times_give_no_duration(
    kind: str, start_value: Any, end_value: Any
) -> None:
    status_key, _running, ok, _failed, start, end = RULES[kind]
    data = {status_key: ok}
    if start_value is not None:
        data[start] = start_value
    if end_value is not None:
        data[end] = end_value
    assert parse_job(kind, data).duration is None


@pytest.mark.parametrize("kind", KINDS)
def test_empty_and_missing_fields(kind: str) -> None:
    job = parse_job(kind, {})
    assert job.job_id is None and job.name is None and job.status is None and job.state == "unknown"
    assert job.duration is None and job.progress is None and job.code is None and job.message is None
    assert job.output_urls == [] and job.output_url is None
    assert (job.submit_time, job.finish_time, job.create_time, job.modified_time) == (None, None, None, None)
    assert job.raw == {}
    blank = {key: "" for key in ("JobId", "ParentJobId", "Name", "Status", "State", "Code", "Message")}
    assert parse_job(kind, blank).job_id is None and parse_job(kind, blank).status is None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("data", [None, [], "string", 5, 1.5, True, ["a", {"JobId": "x"}]])
def test_non_mappings_give_an_empty_job(kind: str, data: Any) -> None:
    job = parse_job(kind, data)
    assert job == model_for(kind)() and job.raw == {}


def test_numbers_as_strings() -> None:
    transcode = TranscodeJob.from_api(
        {"Percent": "42.5", "JobCount": "3", "ScheduleConfig": {"Priority": "7"}}
    )
    assert (transcode.progress, transcode.job_count, transcode.priority) == (42.5, 3, 7)
    producing = MediaProducingJob.from_api({"Progress": " 60 ", "Duration": "12.25", "JobId": 123})
    assert (producing.progress, producing.media_duration, producing.job_id) == (60.0, 12.25, "123")
    snapshot = SnapshotJob.from_api({"Count": "12", "Async": "false"})
    assert (snapshot.count, snapshot.is_async) == (12, False)
    convert = MediaConvertJob.from_api({"Percent": "100"})
    assert convert.progress == 100.0


@pytest.mark.parametrize("value", [-1, 101, "150", "nan", float("inf"), True, "half", [50]])
def test_progress_outside_0_100_or_unparsable_is_none(value: Any) -> None:
    assert TranscodeJob.from_api({"Percent": value}).progress is None
    assert MediaProducingJob.from_api({"Progress": value}).progress is None


def test_nested_objects_sent_as_json_strings_are_read() -> None:
    job = MediaConvertJob.from_api({"Config": json.dumps({"JobName": "n", "Outputs": []})})
    assert job.name == "n"
    transcode = TranscodeJob.from_api({"ScheduleConfig": '{"PipelineId": "p", "Priority": 3}'})
    assert (transcode.pipeline_id, transcode.priority) == ("p", 3)


def test_jobs_of_every_kind_are_immutable_and_hashable() -> None:
    jobs = [
        TranscodeJob.from_api(TRANSCODE_GET["TranscodeParentJob"]),
        MediaProducingJob.from_api(PRODUCING_GET["MediaProducingJob"]),
        SnapshotJob.from_api(SNAPSHOT_GET["SnapshotJob"]),
        MediaConvertJob.from_api(CONVERT_GET["Job"]),
    ]
    for job in jobs:
        assert hash(job) == hash(type(job).from_api(copy.deepcopy(dict(job.raw))))
        assert job == type(job).from_api(copy.deepcopy(dict(job.raw)))
        with pytest.raises(AttributeError):
            job.status = "Success"  # type: ignore[misc]
        assert type(job).__name__ in repr(job) and repr(job.job_id) in repr(job)


# --- tolerance: whatever the server sends, parsing never raises ---------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    sorted(
        {
            *("JobId", "ParentJobId", "Name", "Status", "State", "Percent", "Progress", "JobCount", "Count"),
            *("SubmitTime", "FinishTime", "CreateTime", "CompleteTime", "ModifiedTime", "Code", "Message"),
            *(
                "InputGroup",
                "OutputGroup",
                "ScheduleConfig",
                "TranscodeJobList",
                "Output",
                "Input",
                "OssFile",
            ),
            *(
                "OutFileMeta",
                "FileBasicInfo",
                "FileUrl",
                "Media",
                "Type",
                "OutputUrl",
                "InputUrl",
                "SubmitResultJson",
            ),
            *(
                "ProcessConfig",
                "Transcode",
                "TemplateId",
                "MediaURL",
                "Duration",
                "Async",
                "Config",
                "JobName",
            ),
            *(
                "Inputs",
                "Outputs",
                "InputFile",
                "OutputFile",
                "OutputGroups",
                "GroupConfig",
                "OutputFileBase",
            ),
            *("OutputDetails", "OutputGroupDetails", "Result", "Url", "UserData", "JobIndex", "FileSize"),
        }
    )
)
TIMESTAMPISH = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.text(alphabet="0123456789-:TZ.+ z\n", max_size=30),
    st.integers(min_value=-(10**20), max_value=10**20),
)
JOBLIKE = st.recursive(
    st.one_of(JSON, TIMESTAMPISH),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=25,
)


def check_invariants(job: Any) -> None:
    assert job.state in STATES
    assert isinstance(job.is_finished, bool) and isinstance(job.is_failed, bool)
    duration = job.duration
    assert duration is None or duration >= timedelta(0)
    elapsed = job.elapsed(datetime(2024, 1, 1, tzinfo=UTC))
    assert elapsed is None or elapsed >= timedelta(0)
    assert job.progress is None or (isinstance(job.progress, float) and 0.0 <= job.progress <= 100.0)
    urls = job.output_urls
    assert isinstance(urls, list) and all(isinstance(url, str) and url for url in urls)
    assert job.output_url == (urls[0] if urls else None)
    for value in (job.submit_time, job.finish_time, job.create_time, job.modified_time):
        assert value is None or value.utcoffset() == timedelta(0)
    for name in ("job_id", "name", "status", "code", "message"):
        value = getattr(job, name)
        assert value is None or (isinstance(value, str) and value.strip())
    repr(job)
    hash(job)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), data=st.one_of(JSON, st.dictionaries(KEYS, JOBLIKE, max_size=10)))
def test_from_api_never_raises(kind: str, data: Any) -> None:
    job = parse_job(kind, data)
    check_invariants(job)
    for sub in getattr(job, "sub_jobs", ()):
        assert sub.state in STATES and (sub.duration is None or sub.duration >= timedelta(0))
        hash(sub)
    for detail in getattr(job, "outputs", ()):
        if isinstance(detail, MediaConvertOutputDetail):
            assert detail.state in STATES
            hash(detail)


FIXTURE_JOBS = [
    ("transcode", TRANSCODE_GET["TranscodeParentJob"]),
    ("transcode", TRANSCODE_LIST["Jobs"][0]),
    ("media_producing", PRODUCING_GET["MediaProducingJob"]),
    ("media_producing", PRODUCING_LIST["MediaProducingJobList"][0]),
    ("snapshot", SNAPSHOT_GET["SnapshotJob"]),
    ("snapshot", SNAPSHOT_LIST["Jobs"][0]),
    ("media_convert", CONVERT_GET["Job"]),
    ("media_convert", CONVERT_LIST["Jobs"][0]),
]


@settings(max_examples=200, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=len(FIXTURE_JOBS) - 1),
    path_seed=st.integers(min_value=0, max_value=10**6),
    value=JOBLIKE,
)
def test_a_real_job_with_any_one_value_replaced_still_parses(index: int, path_seed: int, value: Any) -> None:
    """Mutate one value anywhere inside an SDK-shaped job: parsing never raises."""
    kind, original = FIXTURE_JOBS[index]
    data = copy.deepcopy(original)
    paths: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in node:
                paths.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for position in range(len(node)):
                paths.append((node, position))
                walk(node[position])

    walk(data)
    container, key = paths[path_seed % len(paths)]
    container[key] = value
    check_invariants(parse_job(kind, data))
