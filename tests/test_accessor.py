"""df.ice: summary, failures, refresh, view, parquet round trip."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ice_widgets
from ice_widgets import _accessor  # noqa: F401  (registers df.ice)
from ice_widgets._frames import JobError, build_frame, read_parquet
from ice_widgets._models import PackageJob
from ice_widgets.emulator import Emulator


def job(job_id: str, status: str, minutes: float | None = None, **extra: object) -> PackageJob:
    raw: dict[str, object] = {"JobId": job_id, "Status": status, "SubmitTime": "2026-01-01T00:00:00Z"}
    if minutes is not None:
        finish = pd.Timestamp("2026-01-01T00:00:00Z") + pd.Timedelta(minutes=minutes)
        raw["FinishTime"] = finish.isoformat()
    raw.update(extra)
    return PackageJob.from_api(raw)


@pytest.fixture
def frame() -> pd.DataFrame:
    records = [
        *(job(f"s{i}", "Success", minutes=i + 1) for i in range(100)),
        job("f1", "Fail", 1, Code="InvalidInput", Message="bad input"),
        job("f2", "Fail", 2, Code="InvalidInput", Message="bad input"),
        job("f3", "Fail", 3, Code="InvalidInput", Message="bad input"),
        job("f4", "Fail", 4, Code="InvalidInput", Message="bad input"),
        job("f5", "Fail", 5, Code="Timeout", Message="took too long"),
        job("f6", "Fail", 6),  # no code at all
        job("i1", "Init"),
        job("w1", "Weird"),
        JobError("gone", "InvalidParameter.ResourceNotFound", "not found"),
        JobError(None, "MissingJobId", "missing"),
    ]
    return build_frame(records, fetched_at="2026-01-02T00:00:00Z")


def test_summary_counts_rate_and_percentiles(frame: pd.DataFrame) -> None:
    summary = frame.ice.summary()
    assert summary["total"] == 110
    assert summary["errors"] == 2
    assert (
        summary["Success"] == 100 and summary["Fail"] == 6 and summary["Init"] == 1 and summary["Weird"] == 1
    )
    assert summary["success_rate"] == pytest.approx(100 / 106)
    durations = frame["duration"].dropna()
    assert summary["duration_p50"] == durations.quantile(0.5)
    assert summary["duration_p90"] == durations.quantile(0.9)
    assert summary["duration_p99"] == durations.quantile(0.99)
    assert summary["duration_max"] == pd.Timedelta(minutes=100)


def test_summary_of_an_empty_frame() -> None:
    summary = build_frame([]).ice.summary()
    assert summary["total"] == 0
    assert np.isnan(summary["success_rate"])
    assert pd.isna(summary["duration_p50"]) and pd.isna(summary["duration_max"])


def test_failures_grouped_by_code_and_message(frame: pd.DataFrame) -> None:
    failures = frame.ice.failures()
    assert list(failures.columns) == ["source", "kind", "code", "message", "count", "example_ids"]
    top = failures.iloc[0]
    assert (top["source"], top["kind"], top["code"], top["message"], top["count"]) == (
        "job",
        "package",
        "InvalidInput",
        "bad input",
        4,
    )
    assert top["example_ids"] == ["f1", "f2", "f3"]
    assert failures["count"].sum() == 6 + 2
    fetch = failures[failures["source"] == "fetch"]
    assert set(fetch["code"]) == {"InvalidParameter.ResourceNotFound", "MissingJobId"}
    no_code = failures[(failures["source"] == "job") & failures["code"].isna()]
    assert no_code["example_ids"].tolist() == [["f6"]]


def test_failures_of_a_clean_frame_is_empty_with_columns() -> None:
    failures = build_frame([job("a", "Success", 1)]).ice.failures()
    assert len(failures) == 0
    assert list(failures.columns) == ["source", "kind", "code", "message", "count", "example_ids"]


def test_accessor_on_a_foreign_frame_explains() -> None:
    with pytest.raises(AttributeError, match="jobs frame"):
        pd.DataFrame({"a": [1]}).ice.summary()


def test_unfinished_mask(frame: pd.DataFrame) -> None:
    mask = frame.ice.unfinished()
    assert frame.loc[mask, "job_id"].tolist() == ["i1", "w1", "gone"]


def test_parquet_round_trip_through_the_accessor(frame: pd.DataFrame, tmp_path: Path) -> None:
    frame.loc[0, "input_media"]
    frame.at[0, "input_media"] = ["oss://b/a.mp4", "oss://b/b.mp4"]
    path = tmp_path / "jobs.parquet"
    frame.ice.to_parquet(path)
    plain = pd.read_parquet(path)
    back = plain.ice.typed()
    pd.testing.assert_frame_equal(back, frame)
    assert back.at[0, "input_media"] == ["oss://b/a.mp4", "oss://b/b.mp4"]
    pd.testing.assert_frame_equal(read_parquet(path), frame)
    assert back.attrs == frame.attrs


def test_refresh_refetches_only_unfinished_rows() -> None:
    with (
        Emulator(jobs=50, seed=2, progress_seconds=0.5) as emu,
        ice_widgets.Client(
            endpoint=emu.endpoint, access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret
        ) as client,
    ):
        new_ids = [emu.submit(name=f"fresh-{i}") for i in range(3)]
        ids = emu.job_ids[:20] + new_ids
        frame = ice_widgets.fetch_jobs(ids, client=client, progress=False)
        frame.index = pd.RangeIndex(100, 100 + len(frame))  # the index is kept
        assert (frame.set_index("job_id").loc[new_ids, "status"] == "Init").all()
        unfinished = int(frame.ice.unfinished().sum())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(emu.expected(i)["Status"] == "Init" for i in new_ids):
            time.sleep(0.1)
        before = client.stats.requests
        fresh = frame.ice.refresh(client=client)
        assert client.stats.requests - before == unfinished
        assert list(fresh.index) == list(frame.index)
        assert fresh["job_id"].tolist() == frame["job_id"].tolist()
        by_id = fresh.set_index("job_id")
        for job_id in new_ids:
            assert by_id.loc[job_id, "status"] == emu.expected(job_id)["Status"] != "Init"
            assert pd.notna(by_id.loc[job_id, "duration"])
        finished = ~frame.ice.unfinished()
        cols = [c for c in frame.columns if c not in ("elapsed", "status")]
        pd.testing.assert_frame_equal(fresh.loc[finished, cols], frame.loc[finished, cols])
        assert list(fresh["status"].cat.categories[:3]) == ["Init", "Success", "Fail"]
        assert fresh.attrs["counts"]["total"] == len(frame)


def test_view_returns_a_jobs_view(frame: pd.DataFrame) -> None:
    view = frame.ice.view()
    assert type(view).__name__ == "JobsView"
