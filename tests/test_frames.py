"""build_frame: a pure function from PackageJob / JobError records to the typed frame."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ice_widgets._frames import (
    COLUMNS,
    FrameBuilder,
    JobError,
    build_frame,
    empty_frame,
    read_parquet,
    restore_types,
)
from ice_widgets._models import PackageJob
from ice_widgets.emulator.corpus import hostile_jobs

FETCHED = datetime(2026, 1, 2, 0, 0, tzinfo=UTC)


def job(**fields: object) -> PackageJob:
    raw = {
        "JobId": "a" * 32,
        "Name": "n",
        "Status": "Success",
        "TriggerSource": "API",
        "Priority": 6,
        "PipelineId": "p1",
        "Inputs": [
            {"Input": {"Type": "OSS", "Media": "oss://b/in1.mp4"}},
            {"Input": {"Type": "Media", "Media": "mediaid2"}},
        ],
        "Output": {"Type": "OSS", "Media": "oss://b/out.m3u8"},
        "OutputUrl": "https://b.example/out.m3u8",
        "UserData": '{"k":1}',
        "SubmitTime": "2026-01-01T00:00:00Z",
        "FinishTime": "2026-01-01T00:05:00Z",
        "CreateTime": "2026-01-01T00:00:00Z",
        "ModifiedTime": "2026-01-01T00:05:00Z",
    }
    raw.update(fields)
    return PackageJob.from_api({k: v for k, v in raw.items() if v is not None})


def assert_schema(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(COLUMNS)
    dtypes = frame.dtypes
    assert isinstance(dtypes["status"], pd.CategoricalDtype)
    assert list(dtypes["status"].categories[:3]) == ["Init", "Success", "Fail"]
    for name in ("submit_time", "finish_time", "create_time", "modified_time"):
        assert dtypes[name] == pd.DatetimeTZDtype("ns", "UTC"), name
    assert dtypes["duration"] == np.dtype("m8[ns]")
    assert dtypes["elapsed"] == np.dtype("m8[ns]")
    assert str(dtypes["priority"]) == "Int64"
    assert dtypes["input_media"] == np.dtype(object)
    for name in ("job_id", "name", "trigger_source", "pipeline_id", "output_media", "output_url"):
        assert dtypes[name] == pd.StringDtype(), name
    for name in ("code", "message", "user_data", "error_code", "error_message"):
        assert dtypes[name] == pd.StringDtype(), name


def test_empty_input_gives_empty_frame_with_schema() -> None:
    frame = build_frame([], endpoint="http://x")
    assert len(frame) == 0
    assert_schema(frame)
    assert frame.attrs["counts"] == {
        "total": 0,
        "errors": 0,
        "status": {"Init": 0, "Success": 0, "Fail": 0},
        "state": {"running": 0, "succeeded": 0, "failed": 0, "unknown": 0},
        "kind": {"package": 0, "transcode": 0, "media_producing": 0, "snapshot": 0, "media_convert": 0},
    }
    assert_schema(empty_frame())


def test_values_of_a_finished_job() -> None:
    frame = build_frame([job()], fetched_at=FETCHED, endpoint="http://127.0.0.1:1")
    assert_schema(frame)
    row = frame.iloc[0]
    assert row["job_id"] == "a" * 32
    assert row["status"] == "Success"
    assert row["priority"] == 6
    assert row["input_media"] == ["oss://b/in1.mp4", "mediaid2"]
    assert row["output_media"] == "oss://b/out.m3u8"
    assert row["output_url"] == "https://b.example/out.m3u8"
    assert row["submit_time"] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert row["duration"] == pd.Timedelta(minutes=5)
    assert pd.isna(row["elapsed"])  # finished
    assert pd.isna(row["error_code"]) and pd.isna(row["code"])
    assert frame.attrs["endpoint"] == "http://127.0.0.1:1"
    assert frame.attrs["fetched_at"] == "2026-01-02T00:00:00+00:00"
    json.dumps(frame.attrs)  # attrs stay JSON-friendly (parquet stores them as JSON)


def test_elapsed_for_unfinished_and_duration_rules() -> None:
    records = [
        job(JobId="init", Status="Init", FinishTime=None),
        job(JobId="neg", FinishTime="2025-12-31T23:00:00Z"),  # finish before submit
        job(JobId="nosubmit", SubmitTime=None),
        job(JobId="future", Status="Init", SubmitTime="2026-01-03T00:00:00Z", FinishTime=None),
    ]
    frame = build_frame(records, fetched_at="2026-01-02T00:00:00").set_index("job_id")
    assert frame.loc["init", "elapsed"] == pd.Timedelta(days=1)  # naive fetched_at = UTC
    assert pd.isna(frame.loc["init", "duration"])
    assert pd.isna(frame.loc["neg", "duration"])
    assert pd.isna(frame.loc["nosubmit", "duration"])
    assert frame.loc["future", "elapsed"] == pd.Timedelta(0)  # clock skew never goes negative


def test_status_categories_keep_unknowns_in_first_seen_order() -> None:
    records = [
        job(Status="Zeta"),
        job(Status="Fail"),
        job(Status="Alpha"),
        job(Status="Zeta"),
        job(Status=None),
    ]
    frame = build_frame(records)
    assert list(frame["status"].cat.categories) == ["Init", "Success", "Fail", "Zeta", "Alpha"]
    assert frame["status"].isna().tolist() == [False, False, False, False, True]
    assert frame.attrs["counts"]["status"] == {"Init": 0, "Success": 0, "Fail": 1, "Zeta": 2, "Alpha": 1}
    # an unknown status is not finished: it gets an elapsed time
    assert frame["elapsed"].notna().tolist() == [True, False, True, True, True]  # None too


def test_error_rows_keep_order_and_are_otherwise_empty() -> None:
    records = [
        job(JobId="ok1"),
        JobError("missing", "NotFound", "no such job"),
        JobError(None, "InvalidJobId", "empty"),
    ]
    frame = build_frame(records)
    assert frame["job_id"].tolist()[:2] == ["ok1", "missing"]
    assert pd.isna(frame["job_id"].iloc[2])
    assert frame["error_code"].tolist()[1:] == ["NotFound", "InvalidJobId"]
    assert frame["error_message"].iloc[1] == "no such job"
    err = frame.iloc[1]
    assert pd.isna(err["status"]) and pd.isna(err["submit_time"]) and pd.isna(err["priority"])
    assert err["input_media"] == []
    assert frame.attrs["counts"]["errors"] == 2
    assert frame.attrs["counts"]["total"] == 3


def test_missing_fields_and_strings_as_numbers() -> None:
    frame = build_frame([PackageJob.from_api({"JobId": "x", "Priority": "7"}), PackageJob()])
    assert frame["priority"].tolist()[0] == 7
    assert pd.isna(frame["priority"].iloc[1])
    assert frame["input_media"].tolist() == [[], []]
    assert frame["submit_time"].isna().all()


def test_extreme_values_become_missing_not_errors() -> None:
    records = [
        PackageJob(job_id="far", submit_time=datetime(9999, 1, 1, tzinfo=UTC), priority=2**70),
        PackageJob(job_id="naive", submit_time=datetime(2026, 1, 1), finish_time=datetime(2026, 1, 1, 0, 1)),
        PackageJob(job_id="\ud800lone", name="x\udfff", status="\ud800"),
    ]
    frame = build_frame(records)
    assert pd.isna(frame["submit_time"].iloc[0])
    assert pd.isna(frame["priority"].iloc[0])
    assert frame["submit_time"].iloc[1] == pd.Timestamp("2026-01-01", tz="UTC")
    assert frame["duration"].iloc[1] == timedelta(minutes=1)
    assert frame["job_id"].iloc[2] == "\\ud800lone"  # a lone surrogate is escaped, not an error
    pair = build_frame([PackageJob(job_id="\ud83d\ude00")])  # a surrogate pair is joined
    assert pair["job_id"].iloc[0] == "\U0001f600"


def test_hostile_strings_are_kept_verbatim() -> None:
    raws = json.loads(json.dumps(hostile_jobs()))  # as a client receives them
    frame = build_frame([PackageJob.from_api(r) for r in raws])
    assert len(frame) == len(raws)
    for raw, (_, row) in zip(raws, frame.iterrows()):
        name = raw["Name"] if raw["Name"].strip() else None
        assert (row["name"] if pd.notna(row["name"]) else None) == name
    assert "<b>Weird</b>" in list(frame["status"].cat.categories)


def test_raw_dicts_are_parsed_and_bad_records_refused() -> None:
    frame = build_frame([{"JobId": "d1", "Status": "Init"}])
    assert frame["job_id"].tolist() == ["d1"]
    with pytest.raises(TypeError, match=r"PackageJob, .* or JobError"):
        build_frame([42])  # type: ignore[list-item]


def test_parquet_round_trip_keeps_nested_columns_and_types(tmp_path) -> None:
    records = [job(JobId="a"), job(JobId="b", Status="Weird", Inputs=[]), JobError("c", "NotFound", "gone")]
    frame = build_frame(records, fetched_at=FETCHED, endpoint="http://e")
    path = tmp_path / "jobs.parquet"
    frame.to_parquet(path)
    back = read_parquet(path)
    assert_schema(back)
    assert back["input_media"].tolist() == [["oss://b/in1.mp4", "mediaid2"], [], []]
    assert all(type(v) is list for v in back["input_media"])
    pd.testing.assert_frame_equal(back, frame)
    assert back.attrs == frame.attrs


def test_restore_types_is_idempotent() -> None:
    frame = build_frame([job(), JobError("z", "E", "m")])
    pd.testing.assert_frame_equal(restore_types(frame), frame)


def test_builder_filled_out_of_order_equals_build_frame_in_order() -> None:
    """The batch engine puts rows as answers arrive: the frame must not depend on that order."""
    records: list[PackageJob | JobError] = []
    for i in range(60):
        status = ["Success", "Init", "Zeta", "Fail", "Alpha"][i % 5]
        records.append(
            job(
                JobId=f"{i:032x}",
                Name=f"name-{i}" if i % 7 else "bad \udc80 surrogate",
                Status=status,
                PipelineId=f"p{i % 3}",
                Priority=2**70 if i == 11 else i,
                Message="\U0001f600 fine" if i == 3 else None,
                FinishTime=None if status != "Success" else "2026-01-01T00:05:00Z",
            )
        )
    records[5] = JobError(records[5].job_id, "NotFound", "no job 5")
    records[9] = JobError(None, "MissingJobId", "missing")
    expected = build_frame(records, fetched_at=FETCHED, endpoint="e")

    order = list(range(len(records)))[::-1]
    order = order[1::2] + order[::2]  # reversed and interleaved: every row arrives out of place
    builder = FrameBuilder(len(records) + 2)  # two slots never filled
    for i in order:
        builder.put(i, records[i])
    frame = builder.frame(fetched_at=FETCHED, endpoint="e")
    assert_schema(frame)
    # the categories follow the rows' order (Zeta is in row 2, Alpha in row 4), not arrival
    assert list(frame["status"].cat.categories) == ["Init", "Success", "Fail", "Zeta", "Alpha"]
    pd.testing.assert_frame_equal(frame.iloc[: len(records)], expected, check_exact=True)
    assert frame["name"].iloc[7] == "bad \\udc80 surrogate"  # a lone surrogate is escaped
    assert frame["message"].iloc[3] == "\U0001f600 fine"
    assert pd.isna(frame["priority"].iloc[11])  # beyond int64: missing, not an error
    tail = frame.iloc[len(records) :]
    assert tail["job_id"].isna().all() and tail["status"].isna().all()
    assert tail["input_media"].tolist() == [[], []]
