"""build_frame for every job kind: columns and dtypes, mixed kinds, and the state, duration
and elapsed rules on fixtures with running jobs, undocumented statuses and fields missing,
empty or malformed.

The fixtures are shaped as the official SDK's response models
(``GetTranscodeJobResponseBody.TranscodeParentJob``, ``GetMediaProducingJobResponseBody
.MediaProducingJob``, ``GetSnapshotJobResponseBody.SnapshotJob``,
``GetMediaConvertJobResponseBody.Job``, ``GetPackageJobResponseBody.PackageJob``) and the
items of their List responses. Every value expected below is written out by hand from the
fixture, never read back from the code under test; one test also checks each row against
the job model's own attributes, so the frame cannot drift from the models.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ice_widgets._frames import (
    ALL_COLUMNS,
    COLUMNS,
    COMMON_COLUMNS,
    KIND_COLUMNS,
    FrameBuilder,
    JobError,
    build_frame,
    columns_for,
    empty_frame,
    read_parquet,
    restore_types,
)
from ice_widgets._models import KINDS, parse_job

FETCHED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T0 = "2026-03-01T10:00:00Z"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC") if pd.Timestamp(text).tzinfo else pd.Timestamp(text, tz="UTC")


# --------------------------------------------------------------------------- fixtures


def sub_job(index: int, status: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "JobId": f"sub{index:029d}",
        "ParentJobId": "t" * 32,
        "JobIndex": index,
        "Name": f"out-{index}",
        "Status": status,
        "Output": {"Type": "OSS", "Media": f"oss://bucket/out/{index}.mp4"},
        "OutFileMeta": {
            "FileBasicInfo": {"FileUrl": f"https://bucket.oss.example/out/{index}.mp4", "Duration": "30.5"}
        },
        "ProcessConfig": {"Transcode": {"TemplateId": f"tpl-{index}"}},
        "CreateTime": "2026-03-01T10:00:00Z",
        "SubmitTime": "2026-03-01T10:00:01Z",
        "FinishTime": "2026-03-01T10:03:01Z",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def transcode(job_id: str = "t" * 32, status: str = "Success", **extra: Any) -> dict[str, Any]:
    """A ``TranscodeParentJob`` as GetTranscodeJob sends it (two outputs, one failed)."""
    data: dict[str, Any] = {
        "ParentJobId": job_id,
        "Name": "daily-hd",
        "Status": status,
        "Percent": 100,
        "JobCount": 2,
        "TriggerSource": "API",
        "ScheduleConfig": {"PipelineId": "pipe-t", "Priority": 6},
        "InputGroup": [{"Type": "OSS", "Media": "oss://bucket/in/a.mp4"}],
        "OutputGroup": [
            {
                "Output": {"Type": "OSS", "Media": "oss://bucket/out/0.mp4"},
                "ProcessConfig": {"Transcode": {"TemplateId": "tpl-0"}},
            },
            {
                "Output": {"Type": "OSS", "Media": "oss://bucket/out/1.mp4"},
                "ProcessConfig": {"Transcode": {"TemplateId": "tpl-1"}},
            },
        ],
        "TranscodeJobList": [
            sub_job(0, "Success"),
            sub_job(
                1,
                "Fail",
                OutFileMeta=None,
                SubmitResultJson={"Code": "InvalidParameter.Template", "Message": "no such template"},
            ),
        ],
        "UserData": '{"team":"video"}',
        "CreateTime": "2026-03-01T10:00:00Z",
        "SubmitTime": "2026-03-01T10:00:00Z",
        "FinishTime": "2026-03-01T10:04:00Z",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def producing(job_id: str = "m" * 32, status: str = "Success", **extra: Any) -> dict[str, Any]:
    """A ``MediaProducingJob`` as GetMediaProducingJob sends it (``CompleteTime``, no ``SubmitTime``)."""
    data: dict[str, Any] = {
        "JobId": job_id,
        "ProjectId": "proj-1",
        "TemplateId": "tpl-edit",
        "MediaId": "media-1",
        "MediaURL": "https://bucket.oss.example/produced/1.mp4",
        "Status": status,
        "Progress": 100,
        "Duration": 61.5,  # the produced media's length, not the job's run time
        "UserData": "u",
        "CreateTime": "2026-03-01T10:00:00Z",
        "ModifiedTime": "2026-03-01T10:10:00Z",
        "CompleteTime": "2026-03-01T10:10:00Z",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def snapshot(job_id: str = "s" * 32, status: str = "Success", **extra: Any) -> dict[str, Any]:
    """A ``SnapshotJob`` as GetSnapshotJob sends it."""
    data: dict[str, Any] = {
        "JobId": job_id,
        "Name": "thumbs",
        "Status": status,
        "Type": "Sprite",
        "Count": 12,
        "Async": True,
        "Input": {"Type": "OSS", "Media": "oss://bucket/in/a.mp4"},
        "Output": {"Type": "OSS", "Media": "oss://bucket/snap/{Count}.jpg"},
        "PipelineId": "pipe-s",
        "TemplateId": "tpl-snap",
        "TriggerSource": "Console",
        "CreateTime": "2026-03-01T10:00:00Z",
        "SubmitTime": "2026-03-01T10:00:00Z",
        "ModifiedTime": "2026-03-01T10:00:30Z",
        "FinishTime": "2026-03-01T10:00:30Z",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def convert(job_id: str = "c" * 32, state: str = "Complete", **extra: Any) -> dict[str, Any]:
    """A media convert ``Job`` as GetMediaConvertJob sends it (``State``, no ``SubmitTime``)."""
    data: dict[str, Any] = {
        "JobId": job_id,
        "State": state,
        "Percent": 100,
        "PipelineId": "pipe-c",
        "ClientToken": "tok",
        "Config": {
            "JobName": "convert-1",
            "Inputs": [{"Name": "in", "InputFile": {"Type": "OSS", "Media": "oss://bucket/in/c.mov"}}],
            "Outputs": [{"Name": "hd", "OutputFile": {"Type": "OSS", "Media": "oss://bucket/conv/hd.mp4"}}],
        },
        "OutputDetails": [
            {
                "Name": "hd",
                "TaskId": "task-1",
                "Status": "Success",
                "Result": {
                    "OutputFile": {
                        "Type": "OSS",
                        "Media": "oss://bucket/conv/hd.mp4",
                        "Url": "https://bucket.oss.example/conv/hd.mp4",
                    }
                },
                "CreateTime": "2026-03-01T10:00:00Z",
                "FinishTime": "2026-03-01T10:02:00Z",
            }
        ],
        "UserData": "cu",
        "CreateTime": "2026-03-01T10:00:00Z",
        "FinishTime": "2026-03-01T10:02:00Z",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def package(job_id: str = "p" * 32, status: str = "Success", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "JobId": job_id,
        "Name": "pack",
        "Status": status,
        "TriggerSource": "API",
        "Priority": 4,
        "PipelineId": "pipe-p",
        "Inputs": [{"Input": {"Type": "OSS", "Media": "oss://bucket/in/p.mp4"}}],
        "Output": {"Type": "OSS", "Media": "oss://bucket/pack/index.m3u8"},
        "OutputUrl": "https://bucket.oss.example/pack/index.m3u8",
        "SubmitTime": "2026-03-01T10:00:00Z",
        "CreateTime": "2026-03-01T10:00:00Z",
        "FinishTime": "2026-03-01T10:01:00Z",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


FIXTURES = {
    "package": package,
    "transcode": transcode,
    "media_producing": producing,
    "snapshot": snapshot,
    "media_convert": convert,
}


def frame_of(kind: str, *raws: dict[str, Any], **options: Any) -> pd.DataFrame:
    return build_frame([parse_job(kind, raw) for raw in raws], fetched_at=FETCHED, **options)


# --------------------------------------------------------------------------- columns


def assert_dtypes(frame: pd.DataFrame) -> None:
    dtypes = frame.dtypes
    assert list(frame.columns[: len(COMMON_COLUMNS)]) == list(COMMON_COLUMNS)
    assert isinstance(dtypes["kind"], pd.CategoricalDtype)
    assert list(dtypes["kind"].categories) == list(KINDS)
    assert isinstance(dtypes["state"], pd.CategoricalDtype)
    assert list(dtypes["state"].categories) == ["running", "succeeded", "failed", "unknown"]
    assert isinstance(dtypes["status"], pd.CategoricalDtype)
    for name in ("submit_time", "finish_time", "create_time", "modified_time"):
        assert dtypes[name] == pd.DatetimeTZDtype("ns", "UTC"), name
    for name in ("duration", "elapsed"):
        assert dtypes[name] == np.dtype("m8[ns]"), name
    assert dtypes["progress"] == np.dtype("float64")
    expected = {
        "trigger_source": pd.StringDtype(),
        "pipeline_id": pd.StringDtype(),
        "template_id": pd.StringDtype(),
        "project_id": pd.StringDtype(),
        "media_id": pd.StringDtype(),
        "output_media": pd.StringDtype(),
        "user_data": pd.StringDtype(),
        "input_media": np.dtype(object),
        "sub_jobs": np.dtype(object),
        "output_details": np.dtype(object),
        "media_duration": np.dtype("float64"),
    }
    for name in ("job_id", "name", "output_url", "code", "message", "error_code", "error_message"):
        assert dtypes[name] == pd.StringDtype(), name
    for name, dtype in expected.items():
        if name in frame:
            assert dtypes[name] == dtype, name
    for name in ("priority", "snapshot_count", "sub_jobs_failed"):
        if name in frame:
            assert str(dtypes[name]) == "Int64", name


def test_the_common_columns_are_the_pinned_ones() -> None:
    assert COMMON_COLUMNS == (
        "job_id", "kind", "name", "status", "state", "submit_time", "finish_time", "create_time",
        "modified_time", "duration", "elapsed", "progress", "output_url", "code", "message",
        "error_code", "error_message",
    )  # fmt: skip
    # the packaging frame keeps every column it had before the other kinds
    old = [
        "job_id", "name", "status", "trigger_source", "priority", "pipeline_id", "input_media",
        "output_media", "output_url", "code", "message", "user_data", "submit_time", "finish_time",
        "create_time", "modified_time", "duration", "elapsed", "error_code", "error_message",
    ]  # fmt: skip
    assert set(old) <= set(COLUMNS)
    assert COLUMNS[len(COMMON_COLUMNS) :] == (
        "trigger_source", "priority", "pipeline_id", "input_media", "output_media", "user_data"
    )  # fmt: skip
    assert KIND_COLUMNS["transcode"][-2:] == ("sub_jobs", "sub_jobs_failed")


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_the_common_columns_then_its_own(kind: str) -> None:
    frame = frame_of(kind, FIXTURES[kind]())
    assert list(frame.columns) == list(columns_for(kind))
    own = list(frame.columns[len(COMMON_COLUMNS) :])
    assert sorted(own) == sorted(KIND_COLUMNS[kind])
    assert_dtypes(frame)
    assert frame["kind"].tolist() == [kind]
    assert frame["state"].tolist() == ["succeeded"]
    # an empty frame of that kind (e.g. a batch with no IDs) has the same columns and dtypes
    empty = empty_frame(kind=kind)
    assert list(empty.columns) == list(frame.columns)
    assert (empty.dtypes.astype(str) == frame.dtypes.astype(str)).all()


def test_values_of_each_kind_from_sdk_shaped_fixtures() -> None:
    rows = {kind: frame_of(kind, FIXTURES[kind]()).iloc[0] for kind in KINDS}  # one finished job of each kind
    t = rows["transcode"]
    assert (t["job_id"], t["name"], t["status"]) == ("t" * 32, "daily-hd", "Success")
    assert t["duration"] == pd.Timedelta(minutes=4)  # FinishTime - SubmitTime
    assert t["progress"] == 100.0
    assert (t["trigger_source"], t["pipeline_id"], t["priority"]) == ("API", "pipe-t", 6)
    assert t["template_id"] == "tpl-0,tpl-1"
    assert t["input_media"] == ["oss://bucket/in/a.mp4"]
    assert t["user_data"] == '{"team":"video"}'
    assert t["output_url"] == "https://bucket.oss.example/out/0.mp4"  # the file written
    assert t["sub_jobs_failed"] == 1
    subs = t["sub_jobs"]
    assert [s["job_id"] for s in subs] == [f"sub{0:029d}", f"sub{1:029d}"]
    assert [s["status"] for s in subs] == ["Success", "Fail"]
    assert [s["state"] for s in subs] == ["succeeded", "failed"]
    assert [s["output_url"] for s in subs] == [
        "https://bucket.oss.example/out/0.mp4",
        "oss://bucket/out/1.mp4",  # no OutFileMeta: the configured Output.Media
    ]
    assert (subs[1]["code"], subs[1]["message"]) == ("InvalidParameter.Template", "no such template")
    assert subs[0]["code"] is None and subs[0]["template_id"] == "tpl-0"
    assert subs[0]["media_duration"] == 30.5
    assert subs[0]["submit_time"] == datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC)

    m = rows["media_producing"]
    assert pd.isna(m["name"]) and pd.isna(m["submit_time"])
    assert m["finish_time"] == ts("2026-03-01T10:10:00Z")  # CompleteTime
    assert m["duration"] == pd.Timedelta(minutes=10)  # CompleteTime - CreateTime
    assert m["media_duration"] == 61.5  # the media's length, not the job's
    assert (m["project_id"], m["template_id"], m["media_id"]) == ("proj-1", "tpl-edit", "media-1")
    assert m["output_url"] == "https://bucket.oss.example/produced/1.mp4"

    s = rows["snapshot"]
    assert s["duration"] == pd.Timedelta(seconds=30)
    assert pd.isna(s["progress"])
    assert (s["trigger_source"], s["pipeline_id"], s["template_id"]) == ("Console", "pipe-s", "tpl-snap")
    assert s["input_media"] == ["oss://bucket/in/a.mp4"]
    assert s["output_media"] == "oss://bucket/snap/{Count}.jpg"
    assert s["snapshot_count"] == 12

    c = rows["media_convert"]
    assert (c["name"], c["status"]) == ("convert-1", "Complete")
    assert pd.isna(c["submit_time"])
    assert c["duration"] == pd.Timedelta(minutes=2)  # FinishTime - CreateTime
    assert c["input_media"] == ["oss://bucket/in/c.mov"]
    assert c["output_url"] == "https://bucket.oss.example/conv/hd.mp4"
    details = c["output_details"]
    assert [(d["name"], d["status"], d["state"]) for d in details] == [("hd", "Success", "succeeded")]

    p = rows["package"]
    assert (p["priority"], p["output_media"]) == (4, "oss://bucket/pack/index.m3u8")
    assert p["duration"] == pd.Timedelta(minutes=1)
    assert pd.isna(p["progress"])


def test_list_items_have_no_sub_jobs_rather_than_zero() -> None:
    item = transcode(status="Success")
    del item["TranscodeJobList"]  # ListTranscodeJobs items carry no sub-jobs
    empty = transcode(job_id="e" * 32, TranscodeJobList=[])
    frame = frame_of("transcode", item, empty)
    assert frame["sub_jobs"].iloc[0] is None
    assert pd.isna(frame["sub_jobs_failed"].iloc[0])
    assert frame["sub_jobs"].iloc[1] == []
    assert frame["sub_jobs_failed"].iloc[1] == 0
    # without sub-jobs, the output location is the configured destination
    assert frame["output_url"].iloc[0] == "oss://bucket/out/0.mp4"
    listed = convert()
    del listed["OutputDetails"]
    assert frame_of("media_convert", listed)["output_details"].iloc[0] is None


# --------------------------------------------------------------------------- state


STATE_CASES = [
    # (kind, status as sent, state)
    ("package", "Init", "running"),
    ("package", "Success", "succeeded"),
    ("package", "Fail", "failed"),
    ("transcode", "Processing", "running"),
    ("transcode", "Deleted", "unknown"),  # a sub-job status, undocumented for a parent
    ("media_producing", "Queuing", "running"),
    ("media_producing", "Failed", "failed"),
    ("media_producing", "Success", "succeeded"),
    ("snapshot", "Fail", "failed"),
    ("media_convert", "Inited", "running"),
    ("media_convert", "Running", "running"),
    ("media_convert", "Complete", "succeeded"),
    ("media_convert", "Error", "failed"),
    ("media_convert", "Cancelled", "failed"),
    ("snapshot", "Paused", "unknown"),  # undocumented: kept as it came
    ("transcode", "success", "unknown"),  # case matters: never guessed
    ("media_producing", " Success ", "succeeded"),  # surrounding whitespace is not a new status
]


@pytest.mark.parametrize(("kind", "status", "state"), STATE_CASES)
def test_state_rule(kind: str, status: str, state: str) -> None:
    key = "State" if kind == "media_convert" else "Status"
    frame = frame_of(kind, FIXTURES[kind](**{key: status}))
    assert frame["state"].tolist() == [state]
    assert frame["status"].tolist() == [status.strip()]


@pytest.mark.parametrize("kind", KINDS)
def test_missing_or_empty_status_is_unknown_and_undocumented_ones_follow_the_documented(kind: str) -> None:
    key = "State" if kind == "media_convert" else "Status"
    raws = [FIXTURES[kind](job_id=f"{i:032x}") for i in range(4)]
    del raws[0][key]
    raws[1][key] = ""
    raws[2][key] = "Zeta"
    raws[3][key] = 7  # a number where a string belongs
    frame = frame_of(kind, *raws)
    assert frame["state"].tolist() == ["unknown"] * 4
    assert frame["status"].isna().tolist() == [True, True, False, False]
    categories = list(frame["status"].cat.categories)
    documented = {
        "package": ["Init", "Success", "Fail"],
        "transcode": ["Init", "Processing", "Success", "Fail"],
        "media_producing": ["Init", "Queuing", "Processing", "Success", "Failed"],
        "snapshot": ["Init", "Success", "Fail"],
        "media_convert": ["Inited", "Running", "Complete", "Error", "Cancelled"],
    }[kind]
    assert categories == [*documented, "Zeta", "7"]
    assert frame["elapsed"].notna().all()  # unknown is not finished: its age is shown


# --------------------------------------------------------------------------- duration and elapsed


DURATION_CASES = [
    # (kind, fields changed, duration, elapsed at FETCHED 12:00)
    ("package", {}, timedelta(minutes=1), None),
    ("package", {"Status": "Init", "FinishTime": None}, None, timedelta(hours=2)),
    # packaging keeps its rule: a running job that carries a FinishTime has a duration
    ("package", {"Status": "Init"}, timedelta(minutes=1), timedelta(hours=2)),
    ("transcode", {}, timedelta(minutes=4), None),
    ("transcode", {"Status": "Processing"}, None, timedelta(hours=2)),  # running: no duration
    ("transcode", {"Status": "Fail"}, timedelta(minutes=4), None),
    ("transcode", {"SubmitTime": None}, None, None),
    ("transcode", {"FinishTime": ""}, None, None),
    ("transcode", {"FinishTime": "2026-03-01T09:00:00Z"}, None, None),  # ends before it starts
    ("media_producing", {}, timedelta(minutes=10), None),
    ("media_producing", {"Status": "Processing", "CompleteTime": None}, None, timedelta(hours=2)),
    ("media_producing", {"Status": "Queuing"}, None, timedelta(hours=2)),
    ("media_producing", {"Status": "Failed"}, timedelta(minutes=10), None),
    ("media_producing", {"CreateTime": None}, None, None),
    # a SubmitTime is not what media producing measures from
    ("media_producing", {"SubmitTime": "2026-03-01T09:00:00Z"}, timedelta(minutes=10), None),
    ("media_producing", {"CompleteTime": "  2026-03-01T10:20:00Z  "}, timedelta(minutes=20), None),
    ("snapshot", {}, timedelta(seconds=30), None),
    ("snapshot", {"Status": "Init", "FinishTime": None}, None, timedelta(hours=2)),
    ("snapshot", {"SubmitTime": "not a time"}, None, None),
    ("media_convert", {}, timedelta(minutes=2), None),
    ("media_convert", {"State": "Running", "FinishTime": None}, None, timedelta(hours=2)),
    ("media_convert", {"State": "Cancelled"}, timedelta(minutes=2), None),
    ("media_convert", {"CreateTime": None}, None, None),
    # an undocumented status is not finished (it has an elapsed time); its times are as sent
    ("snapshot", {"Status": "Paused"}, timedelta(seconds=30), timedelta(hours=2)),
    # an elapsed time never goes negative (a clock ahead of ours)
    ("transcode", {"Status": "Processing", "SubmitTime": "2026-03-01T13:00:00Z"}, None, timedelta(0)),
]


@pytest.mark.parametrize(("kind", "fields", "duration", "elapsed"), DURATION_CASES)
def test_duration_and_elapsed_rules(
    kind: str, fields: dict[str, Any], duration: timedelta | None, elapsed: timedelta | None
) -> None:
    raw = FIXTURES[kind]()
    for key, value in fields.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    row = frame_of(kind, raw).iloc[0]
    if duration is None:
        assert pd.isna(row["duration"])
    else:
        assert row["duration"] == pd.Timedelta(duration)
    if elapsed is None:
        assert pd.isna(row["elapsed"])
    else:
        assert row["elapsed"] == pd.Timedelta(elapsed)


# --------------------------------------------------------------------------- mixed kinds


def mixed_records() -> list[Any]:
    return [
        parse_job("media_convert", convert(state="Running", FinishTime=None, Percent=40)),
        parse_job("package", package()),
        JobError("gone" + "0" * 28, "InvalidParameter.ResourceNotFound", "no such job"),
        parse_job("transcode", transcode(status="Processing", FinishTime=None, Percent="55.5")),
        parse_job("snapshot", snapshot(status="Weird")),
        parse_job("media_producing", producing(status="Queuing", CompleteTime=None, Progress=None)),
        JobError(None, "MissingJobId", "the job ID is missing"),
    ]


def test_a_mixed_frame_has_every_kind_in_row_order() -> None:
    frame = build_frame(mixed_records(), fetched_at=FETCHED, endpoint="http://e")
    assert list(frame.columns) == list(ALL_COLUMNS)
    assert_dtypes(frame)
    assert frame["kind"].astype(object).where(frame["kind"].notna(), None).tolist() == [
        "media_convert", "package", None, "transcode", "snapshot", "media_producing", None
    ]  # fmt: skip
    assert frame["state"].astype(object).where(frame["state"].notna(), None).tolist() == [
        "running", "succeeded", None, "running", "unknown", "running", None
    ]  # fmt: skip
    # the documented statuses of every kind present, then the undocumented one
    assert list(frame["status"].cat.categories) == [
        "Init", "Success", "Fail", "Processing", "Queuing", "Failed",
        "Inited", "Running", "Complete", "Error", "Cancelled", "Weird",
    ]  # fmt: skip
    assert frame["progress"].tolist()[:2] == [40.0, pytest.approx(float("nan"), nan_ok=True)]
    assert frame["progress"].iloc[3] == 55.5  # a number sent as a string
    assert pd.isna(frame["progress"].iloc[5])
    # each kind's own columns are empty on the other kinds' rows
    assert frame["sub_jobs"].map(lambda v: v is None).tolist() == [True, True, True, False, True, True, True]
    assert frame["priority"].isna().tolist() == [True, False, True, False, True, True, True]
    assert frame["project_id"].notna().tolist() == [False] * 5 + [True, False]
    assert frame["input_media"].tolist()[2] == []
    # error rows
    assert frame["error_code"].notna().tolist() == [False, False, True, False, False, False, True]
    assert frame.attrs["counts"]["errors"] == 2
    assert frame.attrs["counts"]["kind"] == {
        "package": 1, "transcode": 1, "media_producing": 1, "snapshot": 1, "media_convert": 1
    }  # fmt: skip
    assert frame.attrs["counts"]["state"] == {"running": 3, "succeeded": 1, "failed": 0, "unknown": 1}
    json.dumps(frame.attrs)


def test_error_rows_take_the_requested_kind_and_its_columns() -> None:
    frame = build_frame([JobError("x" * 32, "NotFound", "gone")], kind="transcode", fetched_at=FETCHED)
    assert list(frame.columns) == list(columns_for("transcode"))
    assert frame["kind"].tolist() == ["transcode"]
    assert pd.isna(frame["state"].iloc[0])
    both = build_frame([], kind=["snapshot", "media_producing"])
    assert list(both.columns) == list(columns_for(["media_producing", "snapshot"]))
    with pytest.raises(ValueError, match="unknown job kind 'transcoding'"):
        build_frame([], kind="transcoding")


def test_raw_dicts_are_parsed_with_the_given_kind() -> None:
    frame = build_frame([producing()], kind="media_producing", fetched_at=FETCHED)
    assert frame["kind"].tolist() == ["media_producing"]
    assert frame["duration"].tolist() == [pd.Timedelta(minutes=10)]
    with pytest.raises(TypeError, match="JobError"):
        build_frame([object()])  # type: ignore[list-item]


def random_raw(kind: str, rng: random.Random, i: int) -> dict[str, Any]:
    """A job of ``kind`` with random statuses and fields missing, empty or malformed."""
    key = "State" if kind == "media_convert" else "Status"
    statuses = {
        "package": ["Init", "Success", "Fail", "Cancelled"],
        "transcode": ["Init", "Processing", "Success", "Fail", "Deleted"],
        "media_producing": ["Init", "Queuing", "Processing", "Success", "Failed", "Odd"],
        "snapshot": ["Init", "Success", "Fail", ""],
        "media_convert": ["Inited", "Running", "Complete", "Error", "Cancelled", "Paused"],
    }[kind]
    raw = FIXTURES[kind](job_id=f"{kind[:2]}{i:030d}", **{key: rng.choice(statuses)})
    for name in list(raw):
        roll = rng.random()
        if roll < 0.12:
            del raw[name]
        elif roll < 0.18:
            raw[name] = ""
        elif roll < 0.2:
            raw[name] = rng.choice([None, 17, [], {}, "garbage", "2026-13-45T99:00:00Z"])
    for name in ("SubmitTime", "FinishTime", "CompleteTime", "CreateTime"):
        if name in raw and rng.random() < 0.3:
            minute = rng.randrange(0, 120)
            raw[name] = f"2026-03-01T{10 + minute // 60:02d}:{minute % 60:02d}:00Z"
    return raw


def test_every_row_agrees_with_its_model() -> None:
    """Random jobs of every kind: each row is the model's view of its dict (no second rule)."""
    rng = random.Random(9)
    records = []
    for i in range(600):
        kind = KINDS[i % len(KINDS)]
        records.append(parse_job(kind, random_raw(kind, rng, i)))
    frame = build_frame(records, fetched_at=FETCHED)
    assert list(frame.columns) == list(ALL_COLUMNS)

    def value(x: Any) -> Any:
        return None if x is None or (not isinstance(x, (list, dict)) and pd.isna(x)) else x

    for job, (_, row) in zip(records, frame.iterrows()):
        assert value(row["job_id"]) == job.job_id
        assert row["kind"] == job.kind
        assert value(row["status"]) == job.status
        assert row["state"] == job.state
        assert value(row["name"]) == job.name
        for name in ("submit_time", "finish_time", "create_time", "modified_time"):
            expected = getattr(job, name)
            assert value(row[name]) == (pd.Timestamp(expected) if expected is not None else None), name
        assert value(row["duration"]) == job.duration
        assert value(row["elapsed"]) == job.elapsed(FETCHED)
        assert value(row["progress"]) == job.progress
        assert value(row["output_url"]) == job.output_url
        assert value(row["code"]) == job.code
        assert value(row["message"]) == job.message
        if job.kind == "transcode":
            subs = row["sub_jobs"]
            if subs is not None:
                assert [s["job_id"] for s in subs] == [s.job_id for s in job.sub_jobs]
                assert row["sub_jobs_failed"] == job.sub_jobs_failed


def test_builder_filled_out_of_order_equals_build_frame_for_mixed_kinds() -> None:
    rng = random.Random(4)
    records: list[Any] = [parse_job(KINDS[i % 5], random_raw(KINDS[i % 5], rng, i)) for i in range(50)]
    records[7] = JobError("err" + "0" * 29, "Throttling.User", "slow down")
    expected = build_frame(records, fetched_at=FETCHED, endpoint="e")
    builder = FrameBuilder(len(records))
    order = list(range(len(records)))[::-1]
    for i in order[1::2] + order[::2]:
        builder.put(i, records[i])
    frame = builder.frame(fetched_at=FETCHED, endpoint="e")
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)


def test_parquet_round_trip_of_a_mixed_frame(tmp_path: Path) -> None:
    frame = build_frame(mixed_records(), fetched_at=FETCHED, endpoint="http://e")
    path = tmp_path / "mixed.parquet"
    frame.to_parquet(path)
    back = read_parquet(path)
    assert_dtypes(back)
    pd.testing.assert_frame_equal(back, frame)
    assert back.attrs == frame.attrs
    assert all(type(s) is dict for s in back["sub_jobs"].iloc[3])
    pd.testing.assert_frame_equal(restore_types(frame), frame)


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_jobs_of_every_kind_are_kept_verbatim(kind: str) -> None:
    """The emulator's injection-payload jobs of a kind: every text lands in the frame as sent."""
    from ice_widgets.emulator import Emulator

    with Emulator(jobs=2, kind_jobs=2, hostile=6, seed=3) as emu:
        raws = [json.loads(json.dumps(emu.expected(i, kind))) for i in emu.hostile_ids_of(kind)]
    assert len(raws) == 6
    jobs = [parse_job(kind, raw) for raw in raws]
    frame = build_frame(jobs, fetched_at=FETCHED)
    assert list(frame.columns) == list(columns_for(kind))

    def value(x: Any) -> Any:
        return None if not isinstance(x, (list, dict)) and pd.isna(x) else x

    for job, (_, row) in zip(jobs, frame.iterrows()):
        for name in ("job_id", "name", "status", "output_url", "code", "message", "user_data"):
            assert value(row[name]) == getattr(job, name), name
        if kind == "transcode" and row["sub_jobs"] is not None:
            for sub, model in zip(row["sub_jobs"], getattr(job, "sub_jobs", ())):
                assert (sub["name"], sub["output_url"], sub["message"]) == (
                    model.name,
                    model.output_url,
                    model.message,
                )
    # hostile text is somewhere in every job (the corpus puts it in every text field)
    assert all(
        any(isinstance(v, str) and "<" in v for v in row.astype(object)) for _, row in frame.iterrows()
    )
