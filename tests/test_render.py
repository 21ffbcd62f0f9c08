"""The pure renderers: PackageJob / frame rows -> escaped static HTML and text."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from ice_widgets._frames import JobError, build_frame
from ice_widgets._models import PackageJob
from ice_widgets.widgets import _render as r

UTC = UTC


def _job(**fields: object) -> PackageJob:
    base: dict[str, object] = {
        "JobId": "ab4802364a2e49208c99efab82df0001",
        "Name": "my job",
        "Status": "Success",
        "TriggerSource": "API",
        "Priority": 6,
        "PipelineId": "36f3fee40aa047c0b067d0fb85ed0001",
        "Inputs": [{"Input": {"Type": "OSS", "Media": "oss://bucket/in.mp4"}}],
        "Output": {"Type": "OSS", "Media": "oss://bucket/out.m3u8"},
        "OutputUrl": "https://bucket.oss-cn-shanghai.aliyuncs.com/out.m3u8",
        "SubmitTime": "2026-01-01T00:00:00Z",
        "FinishTime": "2026-01-01T00:05:30Z",
        "CreateTime": "2026-01-01T00:00:00Z",
        "ModifiedTime": "2026-01-01T00:05:30Z",
        "UserData": '{"a": 1, "b": [1, 2]}',
    }
    base.update(fields)
    return PackageJob.from_api({k: v for k, v in base.items() if v is not None})


class Tags(HTMLParser):
    """Collects (tag, attrs) of every start tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> Tags:
    parser = Tags()
    parser.feed(markup)
    parser.close()
    return parser


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0.85, "850 ms"),
        (5, "5 s"),
        (2.5, "2.5 s"),
        (42, "42 s"),
        (60, "1 min"),
        (330, "5 min 30 s"),
        (3600 + 300, "1 h 5 min"),
        (7200, "2 h"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h"),
    ],
)
def test_format_duration_in_words(seconds: float, words: str) -> None:
    assert r.format_duration(timedelta(seconds=seconds)) == words
    assert r.format_duration(pd.Timedelta(seconds=seconds)) == words


def test_format_duration_missing_or_negative() -> None:
    assert r.format_duration(None) == "—"
    assert r.format_duration(pd.NaT) == "—"
    assert r.format_duration(timedelta(seconds=-5)) == "—"


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://example.com/a.m3u8", True),
        ("HTTP://example.com/", True),
        ("oss://bucket/out.m3u8", False),
        ("javascript:alert(1)", False),
        ("  javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//evil.example/path", False),
        ('http://evil.example/"><script>alert(1)</script>', False),
        ("https://", False),
        ("https:///path", False),
        ("vbscript:msgbox(1)", False),
    ],
)
def test_only_plain_http_urls_are_links(url: str, linked: bool) -> None:
    assert (r.safe_url(url) is not None) is linked
    tags = parse(r.url_html(url)).tags
    anchors = [a for t, a in tags if t == "a"]
    if linked:
        assert anchors == [
            {"class": "ice-link", "href": url, "rel": "noopener noreferrer", "target": "_blank"}
        ]
    else:
        assert anchors == []
        assert url.strip() in "".join(parse(r.url_html(url)).text) or "\t" in url


def test_format_time_local_and_utc_in_another_zone() -> None:
    code = (
        "from datetime import datetime, timezone;"
        "from ice_widgets.widgets._render import format_time;"
        "print(format_time(datetime(2026, 1, 1, tzinfo=timezone.utc)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"TZ": "Asia/Shanghai", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "('2026-01-01 08:00:00 CST (UTC+08:00)', '2026-01-01 00:00:00 UTC')"


def test_card_html_success_fields() -> None:
    markup = r.card_html(_job())
    doc = parse(markup)
    badges = [a for t, a in doc.tags if "ice-badge" in (a.get("class") or "")]
    assert badges and all(a["class"] == "ice-badge ice-status-success" for a in badges)
    text = "".join(doc.text)
    assert next(a["title"] for _, a in doc.tags if "ice-badge" in (a.get("class") or "")) == "Success"
    assert "Success" in text  # text, not colour alone (the ✓ comes from the stylesheet)
    assert '.ice-status-success::before{content:"✓ "}' in markup
    for expected in ("my job", "ab4802364a2e49208c99efab82df0001", "API", "36f3fee40aa047c0b067d0fb85ed0001"):
        assert expected in text
    assert "5 min 30 s" in text
    assert "oss://bucket/in.mp4" in text and "oss://bucket/out.m3u8" in text
    links = [a for t, a in doc.tags if t == "a"]
    assert [a["href"] for a in links] == ["https://bucket.oss-cn-shanghai.aliyuncs.com/out.m3u8"]
    assert '"b": [\n    1,\n    2\n  ]' in text  # UserData pretty-printed
    assert not [a for _, a in doc.tags if a.get("class") == "ice-error"]  # no failure box on success
    assert markup.count("<style>") == 1


def test_card_html_failure_prominent() -> None:
    job = _job(Status="Fail", Code="InvalidParameter.Input", Message="input missing")
    markup = r.card_html(job)
    doc = parse(markup)
    boxes = [a for t, a in doc.tags if a.get("class") == "ice-error"]
    assert len(boxes) == 1
    assert "InvalidParameter.Input" in markup and "input missing" in markup
    assert any(a.get("class") == "ice-badge ice-status-fail" for _, a in doc.tags)
    text = r.card_text(job)
    assert "✗ Fail" in text and "Code:       InvalidParameter.Input" in text


def test_card_running_shows_elapsed_and_unknown_status_is_distinct() -> None:
    now = datetime(2026, 1, 1, 0, 2, 0, tzinfo=UTC)
    running = _job(Status="Init", FinishTime=None)
    markup = r.card_html(running, now=now)
    assert "ice-status-running" in markup and "2 min (running)" in markup and "Elapsed" in markup
    weird = r.card_html(_job(Status="Paused"))
    assert "ice-status-unknown" in weird and ">Paused</span>" in weird
    assert r.status_label("Paused") == "? Paused" and r.status_label("Init") == "● Init (running)"
    kinds = {r.status_kind(s) for s in ("Success", "Fail", "Init", "Paused")}
    assert kinds == {"success", "fail", "running", "unknown"}


def test_card_fetch_error_and_stale() -> None:
    markup = r.card_html(PackageJob(job_id="nope"), error=("NotFound", "no such job"))
    assert "ice-status-error" in markup and "NotFound" in markup and "no such job" in markup
    stale = r.card_html(_job(Status="Init"), stale="Throttling: slow down")
    doc = parse(stale)
    marks = [a for t, a in doc.tags if a.get("class") == "ice-stale"]
    assert marks and marks[0]["title"] == "Throttling: slow down"
    assert "[stale: Throttling: slow down]" in r.card_text(_job(), stale="Throttling: slow down")


def test_user_data_not_json_kept_as_text() -> None:
    markup = r.card_html(_job(UserData="plain <b>text</b>"))
    assert "plain &lt;b&gt;text&lt;/b&gt;" in markup


def test_long_values_are_clipped_with_a_note() -> None:
    markup = r.card_html(_job(Name="x" * 5000))
    assert "x" * 300 in markup and "x" * 301 not in markup and "(+4,700 chars)" in markup


def test_control_characters_replaced() -> None:
    assert r.clip("\x1b[31mred\x00", 100) == "\ufffd[31mred\ufffd"
    assert "\x1b" not in r.card_text(_job(Name="\x1b[31mred"))


def _frame() -> pd.DataFrame:
    jobs: list[object] = []
    for i in range(40):
        status = ["Success", "Fail", "Init", "Paused"][i % 4]
        fields: dict[str, object] = {
            "JobId": f"job{i:03d}",
            "Name": f"name {i}",
            "Status": status,
            "SubmitTime": f"2026-01-01T00:{i:02d}:00Z",
            "FinishTime": None if status in ("Init", "Paused") else f"2026-01-01T01:{i:02d}:00Z",
        }
        if status == "Fail":
            fields["Code"] = "E1" if i % 8 == 1 else "E2"
            fields["Message"] = "bad input" if i % 8 == 1 else "worse"
        jobs.append(_job(**fields))
    jobs.append(JobError("gone1", "NotFound", "no such job"))
    jobs.append(JobError("gone2", "NotFound", "no such job"))
    return build_frame(jobs)


def test_summary_counts_rate_and_quantiles() -> None:
    frame = _frame()
    summary = r.summarize(frame)
    assert summary.total == 42
    assert summary.counts == {"Init": 10, "Success": 10, "Fail": 10, "Paused": 10, "error": 2}
    assert summary.success_rate == pytest.approx(0.5)
    durations = frame["duration"].dropna()
    assert summary.max == durations.max()
    assert summary.p50 == pd.Timedelta(np.percentile(durations.astype("int64"), 50), "ns")
    markup = r.summary_html(summary)
    assert "50.0%" in markup and "ice-status-error" in markup and "42 jobs" in markup
    assert "Fail: 10" in r.summary_text(summary)


def test_filter_and_sort_positions() -> None:
    frame = _frame()
    fail = r.filter_positions(frame, status="Fail")
    assert list(frame["status"].iloc[fail].unique()) == ["Fail"] and len(fail) == 10
    errors = r.filter_positions(frame, status="error")
    assert list(frame["job_id"].iloc[errors]) == ["gone1", "gone2"]
    text = r.filter_positions(frame, text="NAME 1")  # case-insensitive, substring, names
    assert set(frame["name"].iloc[text]) == {"name 1"} | {f"name {i}" for i in range(10, 20)}
    by_code = r.filter_positions(frame, text="e1")
    assert set(frame["job_id"].iloc[by_code]) == {"job001", "job009", "job017", "job025", "job033", "gone1"}
    both = r.filter_positions(frame, status="Fail", text="job00")
    assert list(frame["job_id"].iloc[both]) == ["job001", "job005", "job009"]
    everything = r.filter_positions(frame)
    desc = r.sort_positions(frame, everything, "submit_time", ascending=False)
    times = frame["submit_time"].iloc[desc]
    assert times.dropna().is_monotonic_decreasing and times.iloc[-2:].isna().all()  # missing last
    by_name = r.sort_positions(frame, everything, "name", ascending=True)
    names = list(frame["name"].iloc[by_name].dropna())
    assert names == sorted(names)
    by_status = r.sort_positions(frame, everything, "status", ascending=True)
    assert frame["status"].iloc[by_status].iloc[0] == "Fail"
    by_inputs = r.sort_positions(frame, everything, "input_media", ascending=True)
    assert len(by_inputs) == len(frame)


def test_table_page_and_text() -> None:
    frame = _frame()
    page = frame.iloc[10:20]
    markup = r.table_html(page, start=10, total=42, stale={"job012": "Throttling"})
    doc = parse(markup)
    rows = [a for t, a in doc.tags if t == "tr"]
    assert len(rows) == 11  # header + 10
    assert "rows 11–20 of 42" in markup
    assert markup.count('class="ice-stale"') == 1
    assert "<code" in markup and "E2" in markup  # error codes shown
    text = r.table_text(page, start=10, total=42)
    assert "job010" in text and "(rows 11–20 of 42)" in text
    assert "No jobs match." in r.table_html(frame.iloc[0:0], total=0)


def test_triage_groups_by_code_and_message() -> None:
    table = r.triage(_frame())
    records = table.to_dict("records")
    assert [(x["kind"], x["code"], x["message"], x["count"]) for x in records] == [
        ("job failed", "E1", "bad input", 5),
        ("job failed", "E2", "worse", 5),
        ("fetch error", "NotFound", "no such job", 2),
    ]
    assert records[0]["example_job_id"] == "job001"
    markup = r.triage_html(table)
    assert "bad input" in markup and "NotFound" in markup
    assert "No failed jobs." in r.triage_html(r.triage(_frame().iloc[0:1]))


def test_view_html_and_text() -> None:
    frame = _frame()
    summary = r.summarize(frame)
    tri = r.triage(frame)
    markup = r.view_html(
        summary=summary,
        page=frame.head(5),
        start=0,
        total=42,
        triage_table=tri,
        charts=[("chart", b"\x89PNG")],
    )
    doc = parse(markup)
    imgs = [a for t, a in doc.tags if t == "img"]
    assert imgs == [{"class": "ice-chart", "alt": "chart", "src": "data:image/png;base64,iVBORw=="}]
    assert markup.count("<style>") == 1
    text = r.view_text(summary=summary, page=frame.head(5), start=0, total=42, triage_table=tri)
    assert text.startswith("JobsView: 42 jobs") and "Failures:" in text and "VBox" not in text


def test_job_from_row_round_trip() -> None:
    frame = _frame()
    job, error = r.job_from_row(frame.iloc[1].to_dict())
    assert error is None
    assert (job.job_id, job.status, job.code, job.message) == ("job001", "Fail", "E1", "bad input")
    assert job.duration == frame["duration"].iloc[1]
    assert job.inputs[0].media == "oss://bucket/in.mp4"
    _, error = r.job_from_row(frame.iloc[-1].to_dict())
    assert error == ("NotFound", "no such job")


def test_render_module_imports_no_ipywidgets() -> None:
    code = "import sys, ice_widgets.widgets._render; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_table_rows_stay_one_line_with_the_full_text_on_hover() -> None:
    long_name = "travel-vlog-01268-hls-abr-" + "x" * 60
    url = "https://live-archive-hz.oss-cn-hangzhou.aliyuncs.com/packaged/2026/11/27/a/master.m3u8?Expires=1"
    jobs = [
        _job(JobId="a" * 32, Name=long_name, OutputUrl=url),
        _job(
            JobId="b" * 32, Status="Fail", Code="InvalidParameter.Input", Message="no video", OutputUrl=None
        ),
        _job(JobId="c" * 32, OutputUrl="oss://bucket/packaged/out.m3u8"),
    ]
    markup = r.table_html(build_frame(jobs))
    doc = parse(markup)
    # the table fills its box, in a container that scrolls sideways; cells never wrap
    assert ("div", {"class": "ice-root ice-scroll"}) in doc.tags
    assert ("table", {"class": "ice-table ice-fill"}) in doc.tags
    for rule in (".ice-scroll{overflow-x:auto", "white-space:nowrap", "text-overflow:ellipsis"):
        assert rule in r.STYLE
    # long names are cut by the stylesheet only: the whole name is the text and the title
    names = [
        a for t, a in doc.tags if t == "span" and a.get("class") == "ice-ell" and a.get("title") == long_name
    ]
    assert len(names) == 1 and long_name in "".join(doc.text)
    # the whole job ID, copyable, in the compact monospace style
    ids = [a for t, a in doc.tags if a.get("class") == "ice-copy"]
    assert len(ids) == 3 and all(j * 32 in "".join(doc.text) for j in "abc")
    # an http(s) output: a link to the whole URL, showing its file name
    (link,) = [a for t, a in doc.tags if t == "a"]
    assert link == {
        "class": "ice-link ice-url ice-ell",
        "href": url,
        "title": url,
        "rel": "noopener noreferrer",
        "target": "_blank",
    }
    assert ">master.m3u8</a>" in markup
    # any other output is text (not a link, not mistaken for a job ID), whole in its title
    oss = [a for t, a in doc.tags if a.get("title") == "oss://bucket/packaged/out.m3u8"]
    assert oss == [{"class": "ice-mono ice-ell", "title": "oss://bucket/packaged/out.m3u8"}]
    # the code of a failure, with its message on hover
    codes = [a for t, a in doc.tags if t == "code"]
    assert codes == [{"class": "ice-ell", "title": "InvalidParameter.Input: no video"}]


def test_table_running_job_shows_elapsed_time_marked_as_running() -> None:
    frame = build_frame([_job(Status="Init", FinishTime=None)])
    markup = r.table_html(frame)
    assert 'class="ice-elapsed" title="still running: time since it was submitted"' in markup


def test_status_colours_are_the_same_in_badges_and_charts() -> None:
    from ice_widgets.widgets import _charts

    for kind, colour in _charts.COLORS.items():
        assert f".ice-status-{kind}{{background:{colour}}}" in r.STYLE


def test_card_link_wraps_only_after_slashes_and_keeps_its_text() -> None:
    url = "https://live-archive-hz.oss-cn-hangzhou.aliyuncs.com/packaged/concert-01041/cmaf-abr/master.m3u8"
    doc = parse(r.url_html(url))
    assert "".join(doc.text) == url  # the visible (and copied) text is the whole URL
    kept = [a for t, a in doc.tags if t == "span"]
    assert len(kept) == 4 and all(a == {"class": "ice-nowrap"} for a in kept)  # no break inside
    assert [t for t, _ in doc.tags].count("wbr") == 4  # a break allowed after each "/" of the path
