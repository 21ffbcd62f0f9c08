"""PackageJob.from_api: every tolerance the API needs, and a property test that it never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ice_widgets._models import FINISHED_STATUSES, KNOWN_STATUSES, Media, PackageJob, parse_time

DOC_EXAMPLE: dict[str, Any] = {
    "JobId": "ab4802364a2e49208c99efab82df****",
    "TriggerSource": "API",
    "Name": "job-name",
    "Inputs": [{"Input": {"Type": "OSS", "Media": "oss://bucket/path/to/video.mp4"}}],
    "Output": {"Type": "OSS", "Media": "oss://bucket/path/to/video.m3u8"},
    "OutputUrl": "http://bucket.oss-cn-shanghai.aliyuncs.com/output.m3u8",
    "PipelineId": "36f3fee40aa047c0b067d0fb85ed****",
    "Priority": 6,
    "Status": "Init",
    "Code": "InvalidParameter",
    "Message": "Resource content bad.",
    "SubmitTime": "2022-09-08T11:34:05Z",
    "FinishTime": "2022-09-08T11:44:05Z",
    "UserData": '{"param": "value"}',
    "CreateTime": "2022-09-08T11:34:05Z\n",
    "ModifiedTime": "2022-09-08T11:44:05Z\n",
}


def utc(*args: int, micro: int = 0) -> datetime:
    return datetime(*args, tzinfo=UTC).replace(microsecond=micro)  # type: ignore[misc]


def test_doc_example_parses_completely() -> None:
    job = PackageJob.from_api(DOC_EXAMPLE)
    assert job.job_id == "ab4802364a2e49208c99efab82df****"
    assert job.trigger_source == "API" and job.name == "job-name"
    assert job.inputs == (Media("OSS", "oss://bucket/path/to/video.mp4"),)
    assert job.output == Media("OSS", "oss://bucket/path/to/video.m3u8")
    assert job.output_url == "http://bucket.oss-cn-shanghai.aliyuncs.com/output.m3u8"
    assert job.pipeline_id == "36f3fee40aa047c0b067d0fb85ed****"
    assert job.priority == 6 and job.status == "Init"
    assert job.code == "InvalidParameter" and job.message == "Resource content bad."
    assert job.user_data == '{"param": "value"}'
    assert job.submit_time == utc(2022, 9, 8, 11, 34, 5)
    assert job.finish_time == utc(2022, 9, 8, 11, 44, 5)
    assert job.create_time == utc(2022, 9, 8, 11, 34, 5), "the doc's trailing newline is stripped"
    assert job.modified_time == utc(2022, 9, 8, 11, 44, 5)
    assert job.raw is DOC_EXAMPLE
    assert job.is_finished is False  # Init
    assert job.duration == timedelta(minutes=10)


def test_reference_page_example_parses() -> None:
    """The response example of the GetPackageJob reference page, vendored in tests/data.

    Copied verbatim (the JSON block only) from Alibaba Cloud's GetPackageJob page (API
    2020-11-09, "Last Updated: Mar 30, 2026"): it runs everywhere, CI included, where the old
    test read a file outside the repository and skipped. Seen failing under the mutation
    ``times_not_stripped`` (tests/_mutations.py).
    """
    path = Path(__file__).resolve().parent / "data" / "GetPackageJob.response.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    job = PackageJob.from_api(body["PackageJob"])
    assert job.create_time == utc(2022, 9, 8, 11, 34, 5)
    assert job == PackageJob.from_api(DOC_EXAMPLE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-09-08T11:34:05Z", utc(2022, 9, 8, 11, 34, 5)),
        ("  2022-09-08T11:34:05Z\n", utc(2022, 9, 8, 11, 34, 5)),
        ("\t2022-09-08T11:34:05Z\r\n ", utc(2022, 9, 8, 11, 34, 5)),
        ("2022-09-08T11:34:05.5Z", utc(2022, 9, 8, 11, 34, 5, micro=500000)),
        ("2022-09-08T11:34:05.123Z", utc(2022, 9, 8, 11, 34, 5, micro=123000)),
        ("2022-09-08T11:34:05.123456Z", utc(2022, 9, 8, 11, 34, 5, micro=123456)),
        ("2022-09-08T11:34:05.123456789Z", utc(2022, 9, 8, 11, 34, 5, micro=123456)),
        ("2022-09-08T19:34:05+08:00", utc(2022, 9, 8, 11, 34, 5)),
        ("2022-09-08T06:34:05-05:00", utc(2022, 9, 8, 11, 34, 5)),
        ("2022-09-08T11:34:05+0000", utc(2022, 9, 8, 11, 34, 5)),
        ("2022-09-08T11:34:05", utc(2022, 9, 8, 11, 34, 5)),  # naive: UTC as documented
        ("2022-09-08 11:34:05", utc(2022, 9, 8, 11, 34, 5)),
        ("2022-09-08t11:34:05z", utc(2022, 9, 8, 11, 34, 5)),
        (1662636845, utc(2022, 9, 8, 11, 34, 5)),
        (1662636845000, utc(2022, 9, 8, 11, 34, 5)),
        ("1662636845", utc(2022, 9, 8, 11, 34, 5)),
        ("", None),
        ("   ", None),
        ("\n", None),
        ("yesterday", None),
        ("2022-13-45T99:99:99Z", None),
        (None, None),
        (True, None),
        ([], None),
        ({}, None),
        (float("nan"), None),
        (float("inf"), None),
        (10**30, None),
    ],
)
def test_parse_time(text: Any, expected: datetime | None) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)


def test_offsets_are_normalised_to_utc() -> None:
    job = PackageJob.from_api(
        {"SubmitTime": "2022-09-08T19:34:05+08:00", "FinishTime": "2022-09-08T11:44:05Z"}
    )
    assert job.submit_time is not None and job.submit_time.tzinfo is UTC
    assert job.duration == timedelta(minutes=10)


def test_empty_strings_become_none() -> None:
    job = PackageJob.from_api(
        {
            "JobId": "j",
            "Name": "",
            "Status": "",
            "Code": "  ",
            "Message": "",
            "OutputUrl": "",
            "PipelineId": "",
            "Priority": "",
            "SubmitTime": "",
            "FinishTime": " \n",
            "UserData": "",
            "Output": {"Type": "", "Media": ""},
            "Inputs": "",
        }
    )
    assert job.job_id == "j"
    for name in ("name", "status", "code", "message", "output_url", "pipeline_id", "priority", "user_data"):
        assert getattr(job, name) is None, name
    assert job.submit_time is None and job.finish_time is None
    assert job.output is None and job.inputs == ()
    assert job.duration is None and not job.is_finished


def test_missing_fields() -> None:
    job = PackageJob.from_api({})
    assert job == PackageJob()
    assert job.job_id is None and job.inputs == () and job.duration is None and not job.is_finished
    assert PackageJob.from_api({"JobId": "only"}).job_id == "only"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (6, 6),
        ("6", 6),
        (" 7 ", 7),
        ("8.0", 8),
        (9.0, 9),
        ("x", None),
        (6.5, None),
        (True, None),
        (None, None),
    ],
)
def test_priority_numbers_as_strings(value: Any, expected: int | None) -> None:
    assert PackageJob.from_api({"Priority": value}).priority == expected


def test_numbers_where_strings_are_expected() -> None:
    job = PackageJob.from_api({"JobId": 12345, "Name": 3.5, "Code": 404, "PipelineId": True})
    assert job.job_id == "12345" and job.name == "3.5" and job.code == "404"
    assert job.pipeline_id is None


@pytest.mark.parametrize("status", ["Processing", "Cancelled", "success", "FAIL", "Unknown", "排队中"])
def test_unknown_statuses_are_kept_and_not_finished(status: str) -> None:
    job = PackageJob.from_api({"Status": status, "SubmitTime": "2022-09-08T11:34:05Z"})
    assert job.status == status
    assert job.is_finished is False
    assert job.elapsed(utc(2022, 9, 8, 12, 34, 5)) == timedelta(hours=1)


def test_status_whitespace_is_stripped() -> None:
    assert PackageJob.from_api({"Status": " Success\n"}).status == "Success"


@pytest.mark.parametrize(
    ("status", "finished"), [("Success", True), ("Fail", True), ("Init", False), (None, False)]
)
def test_is_finished(status: str | None, finished: bool) -> None:
    assert PackageJob.from_api({"Status": status}).is_finished is finished
    assert set(KNOWN_STATUSES) >= FINISHED_STATUSES


def test_unknown_extra_fields_are_kept_in_raw() -> None:
    data = {**DOC_EXAMPLE, "NewField": {"nested": [1, 2]}, "Another": None}
    job = PackageJob.from_api(data)
    assert job.raw["NewField"] == {"nested": [1, 2]}
    assert job == PackageJob.from_api(DOC_EXAMPLE)


@pytest.mark.parametrize(
    ("submit", "finish", "expected"),
    [
        ("2022-09-08T11:34:05Z", "2022-09-08T11:44:05Z", timedelta(minutes=10)),
        ("2022-09-08T11:34:05Z", "2022-09-08T11:34:05Z", timedelta(0)),
        ("2022-09-08T11:44:05Z", "2022-09-08T11:34:05Z", None),  # finish before submit
        ("2022-09-08T11:34:05Z", None, None),
        (None, "2022-09-08T11:44:05Z", None),
        ("2022-09-08T11:34:05Z", "", None),
        ("garbage", "2022-09-08T11:44:05Z", None),
        ("2022-09-08T11:34:05.250Z", "2022-09-08T11:34:06Z", timedelta(milliseconds=750)),
    ],
)
def test_duration_rules(submit: str | None, finish: str | None, expected: timedelta | None) -> None:
    assert PackageJob.from_api({"SubmitTime": submit, "FinishTime": finish}).duration == expected


def test_elapsed_only_for_unfinished_jobs() -> None:
    now = utc(2022, 9, 8, 12, 0, 0)
    running = PackageJob.from_api({"Status": "Init", "SubmitTime": "2022-09-08T11:00:00Z"})
    assert running.elapsed(now) == timedelta(hours=1)
    assert running.elapsed(utc(2022, 9, 8, 10, 0, 0)) == timedelta(0), "never negative"
    done = PackageJob.from_api({"Status": "Success", "SubmitTime": "2022-09-08T11:00:00Z"})
    assert done.elapsed(now) is None


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ([{"Input": {"Type": "OSS", "Media": "oss://a"}}], (Media("OSS", "oss://a"),)),
        ([{"Type": "Media", "Media": "m1"}], (Media("Media", "m1"),)),  # bare items
        ({"Input": {"Type": "OSS", "Media": "oss://a"}}, (Media("OSS", "oss://a"),)),  # a single dict
        ([{"Input": {"Media": "oss://a"}}, "junk", 5, None, {"Input": {}}], (Media(None, "oss://a"),)),
        ("oss://a", ()),
        (None, ()),
    ],
)
def test_inputs_shapes(inputs: Any, expected: tuple[Media, ...]) -> None:
    assert PackageJob.from_api({"Inputs": inputs}).inputs == expected


def test_user_data_dict_becomes_compact_json() -> None:
    assert PackageJob.from_api({"UserData": {"k": "välue"}}).user_data == '{"k":"välue"}'


def test_jobs_are_immutable_and_hashable() -> None:
    job = PackageJob.from_api(DOC_EXAMPLE)
    with pytest.raises(AttributeError):
        job.status = "Success"  # type: ignore[misc]
    assert hash(job) == hash(PackageJob.from_api(dict(DOC_EXAMPLE)))
    assert "ab4802364a2e49208c99efab82df****" in repr(job)


@pytest.mark.parametrize("data", [None, [], "string", 5, 1.5, True, ["a", {"JobId": "x"}]])
def test_non_mappings_give_an_empty_job(data: Any) -> None:
    assert PackageJob.from_api(data) == PackageJob()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "JobId",
        "Name",
        "Status",
        "TriggerSource",
        "Priority",
        "PipelineId",
        "Inputs",
        "Output",
        "OutputUrl",
        "Code",
        "Message",
        "UserData",
        "SubmitTime",
        "FinishTime",
        "CreateTime",
        "ModifiedTime",
        "Input",
        "Type",
        "Media",
    ]
)
TIMESTAMPISH = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.text(alphabet="0123456789-:TZ.+ z\n", max_size=40),
    st.integers(min_value=-(10**20), max_value=10**20),
)


@settings(max_examples=600, deadline=None)
@given(
    data=st.one_of(
        JSON,
        st.dictionaries(FIELDS, JSON, max_size=12),
        st.dictionaries(FIELDS, TIMESTAMPISH, max_size=8),
    )
)
def test_from_api_never_raises(data: Any) -> None:
    job = PackageJob.from_api(data)
    # Every derived value works too.
    assert isinstance(job.is_finished, bool)
    duration = job.duration
    assert duration is None or duration >= timedelta(0)
    job.elapsed(datetime(2024, 1, 1, tzinfo=UTC))
    repr(job)
    hash(job)
    for value in (job.submit_time, job.finish_time, job.create_time, job.modified_time):
        assert value is None or value.utcoffset() == timedelta(0)
    assert job.priority is None or isinstance(job.priority, int)
    for name in ("job_id", "name", "status", "code", "message", "user_data", "output_url"):
        value = getattr(job, name)
        assert value is None or (isinstance(value, str) and value.strip())
