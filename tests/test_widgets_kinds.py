"""JobCard, JobsView, watch and the magics for every ICE job kind (issue 9).

The cards are checked on the SDK-shaped fixtures of ``test_models_kinds`` (each checked
there against the official SDK's models) and on jobs served by the emulator (a real HTTP
server; ``Emulator.expected`` is the truth). Every assertion compares what the widget shows
with what the model or the server holds, never with numbers written here.
"""

from __future__ import annotations

import copy
import html
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from test_models_kinds import (
    CONVERT_GET,
    PRODUCING_GET,
    SNAPSHOT_GET,
    TRANSCODE_GET,
    TRANSCODE_LIST,
)

from ice_widgets._models import (
    KINDS,
    MediaConvertJob,
    MediaProducingJob,
    PackageJob,
    SnapshotJob,
    TranscodeJob,
    job_state,
    model_for,
    parse_job,
)
from ice_widgets.widgets import JobCard
from ice_widgets.widgets import _render as r
from ice_widgets.widgets._kind_render import JobRow, kind_label, parts_of

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STATE_CLASS = {"succeeded": "success", "failed": "fail", "running": "running", "unknown": "unknown"}


def transcode(**changes: Any) -> TranscodeJob:
    data = copy.deepcopy(TRANSCODE_GET["TranscodeParentJob"])
    data.update(changes)
    return TranscodeJob.from_api(data)


def producing(**changes: Any) -> MediaProducingJob:
    data = copy.deepcopy(PRODUCING_GET["MediaProducingJob"])
    data.update(changes)
    return MediaProducingJob.from_api(data)


def snapshot(**changes: Any) -> SnapshotJob:
    data = copy.deepcopy(SNAPSHOT_GET["SnapshotJob"])
    data.update(changes)
    return SnapshotJob.from_api(data)


def convert(**changes: Any) -> MediaConvertJob:
    data = copy.deepcopy(CONVERT_GET["Job"])
    data.update(changes)
    return MediaConvertJob.from_api(data)


FIXTURES = {
    "transcode": transcode,
    "media_producing": producing,
    "snapshot": snapshot,
    "media_convert": convert,
}


class Tree(HTMLParser):
    """Elements as (tag, attrs, text inside) for simple queries on the renderers' markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        if tag not in ("br", "wbr", "img", "input"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i]["tag"] == tag:
                del self._open[i:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.elements
            if e["tag"] == tag and (cls is None or cls in (e["attrs"].get("class") or "").split())
        ]


def tree(markup: str) -> Tree:
    parsed = Tree()
    parsed.feed(markup)
    parsed.close()
    return parsed


def head_badge(markup: str) -> dict[str, Any]:
    heads = tree(markup).find("div", "ice-head")
    assert heads, markup[:300]
    inner = tree(_outer_html_of_first(markup, "ice-head"))
    return inner.find("span", "ice-badge")[0]


def _outer_html_of_first(markup: str, cls: str) -> str:
    start = markup.index(f'class="{cls}"')
    start = markup.rindex("<", 0, start)
    end = markup.index("</div>", start)
    return markup[start:end]


def kv_rows(markup: str) -> dict[str, str]:
    """The card's field table: heading -> the cell's text."""
    rows: dict[str, str] = {}
    for name, cell in re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", markup, re.S):
        rows[name] = html.unescape(re.sub(r"<[^>]+>", "", cell))
    return rows


# ----------------------------------------------------------------------------- cards


@pytest.mark.parametrize("kind", list(FIXTURES))
def test_every_kind_renders_its_own_card(kind: str) -> None:
    job = FIXTURES[kind]()
    assert job.kind == kind
    markup = r.card_html(job)
    assert f"ice-kind-{kind}" in markup
    badge = head_badge(markup)
    assert badge["text"] == r.status_text(job.status, state=job.state)
    assert f"ice-status-{STATE_CLASS[job.state]}" in badge["attrs"]["class"]
    tags = tree(markup).find("span", "ice-kindtag")
    assert [t["text"] for t in tags] == [kind_label(kind)]
    rows = kv_rows(markup)
    assert rows["Job ID"] == job.job_id
    assert rows["Duration"] == r.format_duration(job.duration)
    # every output URL is shown; http(s) ones are links, the others selectable text
    links = {a["attrs"]["href"] for a in tree(markup).find("a", "ice-link")}
    for url in job.output_urls:
        assert url in markup
        assert (url in links) == url.startswith(("http://", "https://"))
    assert not any(h.startswith(("oss:", "javascript:")) for h in links)
    text = r.card_text(job)
    assert job.job_id in text and kind_label(kind) in text
    assert r.status_text(job.status, state=job.state) in text


def test_transcode_card_lists_sub_jobs_with_their_own_badges_and_outputs() -> None:
    job = transcode()
    assert len(job.sub_jobs) >= 2 and {s.state for s in job.sub_jobs} >= {"succeeded", "failed"}
    markup = r.card_html(job)
    parsed = tree(markup)
    rows = parsed.find("tr", "ice-part")
    assert len(rows) == len(job.sub_jobs)
    for sub in job.sub_jobs:
        (row,) = [r_ for r_ in rows if sub.job_id in r_["text"]]
        assert sub.status in row["text"]
        assert sub.template_id in row["text"]
        assert f"ice-part-{STATE_CLASS[sub.state]}" in row["attrs"]["class"]
        # the sub-job's badge has its own status and colour (not the parent's)
        assert re.search(
            rf'<tr class="ice-part ice-part-{STATE_CLASS[sub.state]}">.*?'
            rf'<span class="ice-badge ice-status-{STATE_CLASS[sub.state]}" title="{sub.status}">',
            markup,
            re.S,
        )
        if sub.output_url and sub.output_url.startswith("https://"):
            assert any(a["attrs"]["href"] == sub.output_url for a in parsed.find("a", "ice-url"))
    failed = [s for s in job.sub_jobs if s.is_failed]
    failures = parsed.find("tr", "ice-part-failure")
    assert len(failures) == len(failed)
    for sub, row in zip(failed, failures):
        assert sub.code and sub.code in row["text"] and sub.message in row["text"]
    # the parent says Success while a sub-job failed: the card says so in words
    assert job.state == "succeeded"
    (warning,) = parsed.find("div", "ice-warn")
    assert f"{len(failed)} of {len(job.sub_jobs)} sub-jobs failed" in warning["text"]
    text = r.card_text(job)
    for sub in job.sub_jobs:
        assert sub.job_id in text and sub.status in text


def test_transcode_list_item_says_where_the_sub_jobs_are() -> None:
    job = TranscodeJob.from_api(TRANSCODE_LIST["Jobs"][0])
    assert job.sub_jobs == ()
    markup = r.card_html(job)
    assert not tree(markup).find("tr", "ice-part")
    assert "Refresh fetches the job with its sub-jobs" in markup


def test_media_convert_card_lists_outputs_with_their_own_statuses() -> None:
    job = convert()
    found = parts_of(job)
    assert found is not None and found[0] == "Outputs"
    markup = r.card_html(job)
    rows = tree(markup).find("tr", "ice-part")
    assert len(rows) == len(job.outputs)
    for detail, row in zip(job.outputs, rows):
        assert detail.status in row["text"]
        assert f"ice-part-{STATE_CLASS[detail.state]}" in row["attrs"]["class"]


@pytest.mark.parametrize(
    ("make", "key"),
    [(producing, "Progress"), (convert, "Percent"), (transcode, "Percent")],
)
def test_progress_bar_shows_the_jobs_progress(make: Any, key: str) -> None:
    status_key = "State" if make is convert else "Status"
    running = {"Status": "Processing", "State": "Running"}[status_key]
    job = make(**{key: 42.5, status_key: running, "FinishTime": None, "CompleteTime": None})
    assert job.state == "running" and job.progress == 42.5
    markup = r.card_html(job, now=datetime(2030, 1, 1, tzinfo=UTC))
    (bar,) = tree(markup).find("progress", "ice-progress")
    assert float(bar["attrs"]["value"]) == job.progress and bar["attrs"]["max"] == "100"
    assert "42%" in kv_rows(markup)["Progress"]
    assert "Elapsed" in kv_rows(markup)  # running: the time since it started, not a duration
    assert "Progress:   42%" in r.card_text(job)


STATUSES = (
    *("Success", "Complete", "Fail", "Failed", "Error", "Cancelled", "Init", "Queuing", "Processing"),
    *("Inited", "Running", "Paused", "<b>Weird</b>", ""),
)


@pytest.mark.parametrize("kind", list(FIXTURES))
@pytest.mark.parametrize("status", STATUSES)
def test_badge_colour_follows_the_state_and_shows_the_status_as_sent(kind: str, status: str) -> None:
    key = "State" if kind == "media_convert" else "Status"
    job = FIXTURES[kind](**{key: status})
    markup = r.card_html(job)
    badge = head_badge(markup)
    state = job_state(status) if status else "unknown"
    assert job.state == state
    assert f"ice-status-{STATE_CLASS[state]}" in badge["attrs"]["class"]
    if status:  # shown as it came (a running one marked so), never another word
        assert badge["text"].startswith(status)
        assert badge["text"] == status + (" (running)" if state == "running" else "")


@pytest.mark.parametrize("kind", list(FIXTURES))
def test_duration_is_the_kinds_rule_and_none_while_running(kind: str) -> None:
    job = FIXTURES[kind]()
    assert job.duration is not None
    start = job.create_time if kind in ("media_producing", "media_convert") else job.submit_time
    assert job.duration == job.finish_time - start
    assert kv_rows(r.card_html(job))["Duration"] == r.format_duration(job.duration)
    key, running = ("State", "Running") if kind == "media_convert" else ("Status", "Processing")
    live = FIXTURES[kind](**{key: running})
    assert live.state == "running" and live.duration is None
    now = start + timedelta(minutes=7)
    rows = kv_rows(r.card_html(live, now=now))
    assert "Duration" not in rows and rows["Elapsed"] == "7 min (running)"


def test_media_producing_shows_the_media_length_apart_from_the_run_time() -> None:
    job = producing()
    rows = kv_rows(r.card_html(job))
    assert job.media_duration is not None
    assert rows["Media length"] == r.format_duration(timedelta(seconds=job.media_duration))
    assert rows["Duration"] == r.format_duration(job.complete_time - job.create_time)
    assert "Completed" in rows and "Submitted" not in rows


def test_failed_job_shows_its_code_and_message() -> None:
    job = snapshot()
    assert job.is_failed and job.code and job.message
    markup = r.card_html(job)
    (error,) = tree(markup).find("div", "ice-error")
    assert job.code in error["text"] and job.message in error["text"]


@pytest.mark.parametrize("kind", list(FIXTURES))
def test_bare_model_renders_as_its_card(kind: str) -> None:
    job = FIXTURES[kind]()
    card = JobCard(job)
    try:
        bundle = card._repr_mimebundle_()
        assert WIDGET_MIME in bundle
        assert bundle["text/html"] == r.card_html(job)
        assert bundle["text/plain"] == r.card_text(job)
        assert card.kind == kind and card.job is job
        assert card._html.value == r.card_html(job)
        assert f"kind={kind!r}" in repr(card)
    finally:
        card.close()


def test_card_of_an_id_needs_a_known_kind() -> None:
    with pytest.raises(ValueError, match="media_convert"):
        JobCard("abc", kind="transcoding")
    card = JobCard("abc", kind="snapshot", error=("NotFound", "no such job"))
    try:
        assert isinstance(card.job, SnapshotJob) and card.job.job_id == "abc"
        assert "Could not fetch this job" in card.to_html() and "ice-kind-snapshot" in card.to_html()
    finally:
        card.close()


def test_job_row_renders_like_the_model_it_stands_for() -> None:
    job = producing(Status="Processing", Progress=30, CompleteTime=None)
    row = JobRow(
        kind=job.kind,
        job_id=job.job_id,
        status=job.status,
        state=job.state,
        create_time=job.create_time,
        progress=job.progress,
        output_urls=tuple(job.output_urls),
    )
    now = job.create_time + timedelta(seconds=90)
    a, b = r.card_html(job, now=now), r.card_html(row, now=now)
    for markup in (a, b):
        assert "30%" in kv_rows(markup)["Progress"] and kv_rows(markup)["Elapsed"] == "1 min 30 s (running)"
    assert head_badge(a) == head_badge(b)


def test_package_card_is_unchanged_by_the_kinds() -> None:
    job = PackageJob.from_api(
        {"JobId": "x" * 32, "Name": "pkg", "Status": "Success", "SubmitTime": "2026-01-01T00:00:00Z"}
    )
    markup = r.card_html(job, style=False)
    assert "ice-kindtag" not in markup and "ice-card-success" in markup


def test_kinds_are_the_contracts() -> None:
    assert set(FIXTURES) | {"package"} == set(KINDS)
    for kind in KINDS:
        assert model_for(kind).kind == kind


# ----------------------------------------------------------------- against the emulator


def _pick(emulator: Any, kind: str, want: Any) -> str:
    """The first seeded job ID of ``kind`` whose parsed job satisfies ``want``."""
    for job_id in emulator.ids(kind):
        if want(parse_job(kind, emulator.expected(job_id, kind))):
            return job_id
    raise AssertionError(f"no {kind} job fits")


@pytest.mark.parametrize("kind", list(FIXTURES))
def test_card_of_an_id_fetches_the_job_of_its_kind(kind: str, client: Any, emulator: Any) -> None:
    job_id = _pick(emulator, kind, lambda j: j.is_finished)
    truth = parse_job(kind, emulator.expected(job_id, kind))
    card = JobCard(job_id, kind=kind, client=client)
    try:
        assert card.error is None and card.job == truth
        markup = card.to_html()
        assert markup == r.card_html(truth)
        assert f"ice-status-{STATE_CLASS[truth.state]}" in head_badge(markup)["attrs"]["class"]
        for sub in getattr(truth, "sub_jobs", ()):
            assert sub.job_id in markup
        assert card.refresh() == truth  # the Refresh button: the same Get again
    finally:
        card.close()


def test_transcode_card_from_the_emulator_shows_a_failed_sub_job_of_a_successful_parent(
    client: Any, emulator: Any
) -> None:
    job_id = _pick(emulator, "transcode", lambda j: j.state == "succeeded" and j.sub_jobs_failed)
    card = JobCard(job_id, kind="transcode", client=client)
    try:
        job = card.job
        parsed = tree(card.to_html())
        assert len(parsed.find("tr", "ice-part")) == len(job.sub_jobs)
        assert len(parsed.find("tr", "ice-part-fail")) >= job.sub_jobs_failed
        assert parsed.find("div", "ice-warn")
        text = card.to_text()
        for sub in job.sub_jobs:
            assert re.search(rf"{re.escape(sub.status)}\s+{sub.job_id}", text)
    finally:
        card.close()


def test_card_refresh_in_a_running_loop_uses_the_kinds_get(emulator: Any) -> None:
    import asyncio

    from ice_widgets import AsyncClient

    job_id = _pick(emulator, "media_convert", lambda j: j.outputs)
    truth = parse_job("media_convert", emulator.expected(job_id, "media_convert"))

    async def main() -> Any:
        async with AsyncClient(
            endpoint=emulator.endpoint,
            access_key_id=emulator.access_key_id,
            access_key_secret=emulator.access_key_secret,
        ) as aclient:
            card = JobCard(job_id, kind="media_convert", client=aclient, error=("pending", "not fetched"))
            try:
                task = card._refresh_clicked()
                assert task is not None
                return await task
            finally:
                card.close()

    assert asyncio.run(main()) == truth


def test_unknown_id_of_a_kind_shows_the_error_in_the_card(client: Any) -> None:
    card = JobCard("0" * 32, kind="media_producing", client=client)
    try:
        assert card.error is not None and card.error[0]
        assert "Could not fetch this job" in card.to_html()
        assert "0" * 32 in card.to_text()
    finally:
        card.close()


# ------------------------------------------------------------------------------ magics


@pytest.fixture
def ip(ice_env: Any) -> Any:
    """The IPython test shell with the extension loaded (unloaded after the test)."""
    from IPython.testing import globalipapp

    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "ice_widgets")
    try:
        yield shell
    finally:
        if "ice_widgets" in shell.extension_manager.loaded:
            shell.run_line_magic("unload_ext", "ice_widgets")
        for name in ("_ice_jobs", "_ice_watch", "tid"):
            shell.user_ns.pop(name, None)


def test_ice_job_magic_takes_a_kind(ip: Any, emulator: Any) -> None:
    from IPython.utils.capture import capture_output

    job_id = _pick(emulator, "transcode", lambda j: len(j.sub_jobs) >= 2)
    truth = parse_job("transcode", emulator.expected(job_id, "transcode"))
    for line in (f"--kind transcode {job_id}", f"--kind=transcode {job_id}"):
        with capture_output() as cap:
            ip.run_line_magic("ice_job", line)
        (data,) = [o.data for o in cap.outputs]
        assert WIDGET_MIME in data
        assert data["text/html"] == r.card_html(truth)
        for sub in truth.sub_jobs:
            assert sub.job_id in data["text/plain"]
    ip.user_ns["tid"] = job_id
    with capture_output() as cap:
        ip.run_line_magic("ice_job", "--kind transcode tid")
    assert "ice-kind-transcode" in cap.outputs[0].data["text/html"]
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="media_convert"):
        ip.run_line_magic("ice_job", f"--kind transcoding {job_id}")


@pytest.mark.parametrize("kind", list(FIXTURES))
def test_a_bare_job_of_every_kind_displays_as_its_card(ip: Any, kind: str) -> None:
    job = FIXTURES[kind]()
    data, _ = ip.display_formatter.format(job)
    assert WIDGET_MIME in data
    assert data["text/html"] == r.card_html(job)
    ip.run_line_magic("unload_ext", "ice_widgets")
    data, _ = ip.display_formatter.format(job)
    assert WIDGET_MIME not in data and "text/html" not in data  # the formatter is gone


# --------------------------------------------------------------------- JobsView, kinds


@pytest.fixture(scope="module")
def mixed(emulator: Any) -> Any:
    """A frame of jobs of every kind, as the emulator holds them (30 of each)."""
    from ice_widgets._frames import build_frame

    jobs = [parse_job(k, emulator.expected(i, k)) for k in KINDS for i in emulator.ids(k)[:30]]
    return jobs, build_frame(jobs)


def test_view_over_mixed_kinds_has_a_kind_column_and_menu(mixed: Any) -> None:
    from ice_widgets.widgets import JobsView

    jobs, frame = mixed
    view = JobsView(frame, page_size=500)
    try:
        assert view.mixed and view.kinds == list(KINDS)
        assert [v for _, v in view._kind_menu.options] == ["", *KINDS]
        assert [label for label, _ in view._kind_menu.options][1:] == [kind_label(k) for k in KINDS]
        assert view._kind_menu.layout.display is None  # shown: there is a choice
        page = tree(view._table.value)
        assert [h["text"] for h in page.find("th")][:3] == ["#", "Status", "Kind"]
        rows = page.find("tr")[1:]
        assert len(rows) == len(jobs)
        for row, job in zip(rows, jobs):  # the frame's order: the jobs' order
            assert job.job_id in row["text"] and kind_label(job.kind) in row["text"]
        for job in jobs:  # every badge: the status as sent, the colour of the state
            assert (
                f'<span class="ice-badge ice-status-{STATE_CLASS[job.state]}" '
                f'title="{html.escape(r.status_text(job.status, state=job.state))}">'
            ) in view._table.value
        for kind in KINDS:
            view.set_filter(kind=kind)
            assert view._kind_menu.value == kind
            shown = set(view.export()["job_id"])
            assert shown == {j.job_id for j in jobs if j.kind == kind}
        view._kind_menu.value = "media_convert"  # the menu, as the front end sets it
        assert set(view.export()["kind"].astype(str)) == {"media_convert"}
        view.set_filter(kind=None)
        assert view.filtered_count == len(jobs)
    finally:
        view.close()


def test_view_counts_and_colours_by_state(mixed: Any) -> None:
    from ice_widgets.widgets import JobsView

    jobs, frame = mixed
    view = JobsView(frame)
    try:
        buttons = {b._ice_status: b for b in view._status_box.children if b._ice_status}
        statuses = {j.status for j in jobs if j.status}
        assert set(buttons) == statuses
        for status, button in buttons.items():
            n = sum(1 for j in jobs if j.status == status)
            assert button.description.endswith(f" {n:,}")
            assert button.style.button_color == r.STATUS_COLORS[STATE_CLASS[job_state(status)]]
        succeeded = sum(1 for j in jobs if j.state == "succeeded")
        failed = sum(1 for j in jobs if j.state == "failed")
        assert view.summary.success_rate == pytest.approx(succeeded / (succeeded + failed))
        assert view.summary.failed == failed
        assert view._tabs.titles[2] == f"Failures ({failed:,})"
        triage = view.triage()
        assert int(triage["count"].sum()) == failed
        by_code: dict[str, int] = {}
        for j in jobs:
            if j.state == "failed":
                by_code[j.code or ""] = by_code.get(j.code or "", 0) + 1
        assert triage.groupby("code")["count"].sum().to_dict() == by_code
    finally:
        view.close()


def test_single_kind_view_hides_the_kind_menu_and_column(mixed: Any) -> None:
    from ice_widgets.widgets import JobsView

    _, frame = mixed
    for kind in ("package", "snapshot"):
        view = JobsView(frame[frame["kind"] == kind].reset_index(drop=True))
        try:
            assert not view.mixed and view._kind_menu.layout.display == "none"
            assert "<th>Kind</th>" not in view._table.value
        finally:
            view.close()


@pytest.mark.parametrize("kind", list(FIXTURES))
def test_opening_a_row_of_every_kind_shows_its_card(mixed: Any, kind: str) -> None:
    from ice_widgets.widgets import JobsView

    jobs, frame = mixed
    candidates = [j for j in jobs if j.kind == kind]
    job = next((j for j in candidates if parts_of(j) is not None), candidates[0])
    view = JobsView(frame)
    try:
        card = view.open_job(job.job_id)
        assert isinstance(card.job, JobRow) and card.kind == kind
        markup = card.to_html()
        assert f"ice-kind-{kind}" in markup
        assert f"ice-status-{STATE_CLASS[job.state]}" in head_badge(markup)["attrs"]["class"]
        assert kv_rows(markup)["Duration"] == r.format_duration(job.duration)
        found = parts_of(job)
        if found is not None:  # sub-jobs / outputs came with the row (a Get): listed
            rows = tree(markup).find("tr", "ice-part")
            assert len(rows) == len(found[1])
            for part, row in zip(found[1], rows):
                assert f"ice-part-{STATE_CLASS[part.state]}" in row["attrs"]["class"]
    finally:
        view.close()


def test_charts_colour_jobs_of_every_kind_by_state(mixed: Any) -> None:
    import numpy as np

    from ice_widgets.widgets import _charts

    jobs, frame = mixed
    codes = _charts._kinds(frame["status"], r.states(frame))
    want = np.array([{"succeeded": 0, "failed": 1, "running": 2, "unknown": 3}[j.state] for j in jobs])
    assert (codes == want).all()
    assert _charts.labels_for(frame) == _charts.STATE_LABELS
    assert _charts.labels_for(frame[frame["kind"] == "package"]) == _charts.LABELS
    png = _charts.timeline(frame)
    assert png is not None and png.startswith(b"\x89PNG")


# ------------------------------------------------------------------------ watch, kinds


def _aclient(emulator: Any) -> Any:
    from ice_widgets import AsyncClient

    class Counting(AsyncClient):  # the real client, counting the Gets it sends per job
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.gets: dict[str, int] = {}

        async def get_job(self, job_id: str, *, kind: str = "package") -> Any:
            self.gets[job_id] = self.gets.get(job_id, 0) + 1
            return await super().get_job(job_id, kind=kind)

    return Counting(
        endpoint=emulator.endpoint,
        access_key_id=emulator.access_key_id,
        access_key_secret=emulator.access_key_secret,
    )


def test_watch_jobs_of_several_kinds_until_each_finishes(client: Any, emulator: Any) -> None:
    import asyncio

    import pandas as pd

    from ice_widgets.widgets._watch import WatchView

    producing = [
        client.submit_media_producing_job(
            f"https://bucket.oss-cn-shanghai.aliyuncs.com/out/{n}.mp4", timeline={"VideoTracks": []}
        )
        for n in range(3)
    ]
    parent = client.submit_transcode_job(
        "oss://bucket/in.mp4",
        ["oss://bucket/out/720p.mp4", "oss://bucket/out/1080p.mp4"],
        template_id="S00000001-200010",
        name="force-partial",
    )
    finished = _pick(emulator, "snapshot", lambda j: j.is_finished)
    ids = pd.DataFrame(
        {
            "job_id": [*producing, parent, finished],
            "kind": ["media_producing"] * 3 + ["transcode", "snapshot"],
        }
    )

    async def main() -> tuple[WatchView, dict[str, int]]:
        aclient = _aclient(emulator)
        view = WatchView(ids, client=aclient, interval=0.2)
        try:
            assert list(view.frame["kind"].astype(str)) == list(ids["kind"])
            assert view.start() and view.task is not None
            assert view.task.get_loop() is asyncio.get_running_loop()
            await asyncio.wait_for(view.task, 60)
            return view, aclient.gets
        finally:
            await aclient.aclose()

    view, gets = asyncio.run(main())
    try:
        assert view.finished and not view.running
        frame = view.frame.set_index("job_id")
        for job_id, kind in zip(ids["job_id"], ids["kind"]):
            truth = parse_job(kind, emulator.expected(job_id, kind))
            assert truth.is_finished
            assert frame.loc[job_id, "status"] == truth.status
            assert frame.loc[job_id, "state"] == truth.state
        # a finished job leaves the watch: the snapshot was fetched once, the others until done
        assert gets[finished] == 1
        assert max(gets.values()) == view.rounds
        # the transcode job was polled with Get: its sub-jobs are in the frame
        truth = parse_job("transcode", emulator.expected(parent, "transcode"))
        subs = frame.loc[parent, "sub_jobs"]
        assert [s["job_id"] for s in subs] == [s.job_id for s in truth.sub_jobs]
        assert truth.state == "succeeded" and truth.sub_jobs_failed == 1
        assert frame.loc[parent, "sub_jobs_failed"] == 1
        card = view.open_job(parent)
        assert len(tree(card.to_html()).find("tr", "ice-part")) == len(truth.sub_jobs)
        assert "all jobs finished" in view.to_text()
    finally:
        view.close()


def test_watch_takes_a_kind_for_plain_ids(emulator: Any) -> None:
    import asyncio

    from ice_widgets.widgets import watch

    ids = emulator.ids("media_convert")[:4]
    view = watch(ids, kind="media_convert", client=_aclient(emulator))  # no loop: nothing runs
    try:
        assert not view.running and list(view.frame["kind"].astype(str)) == ["media_convert"] * 4
        asyncio.run(view.poll_once())
        for job_id in ids:
            truth = parse_job("media_convert", emulator.expected(job_id, "media_convert"))
            row = view.frame[view.frame["job_id"] == job_id].iloc[0]
            assert row["status"] == truth.status and row["state"] == truth.state
        with pytest.raises(ValueError, match="transcode"):
            watch(ids, kind="convert")
    finally:
        view.close()


def test_ice_watch_magic_takes_a_kind_or_a_frames_kinds(ip: Any, emulator: Any) -> None:
    import pandas as pd
    from IPython.core.error import UsageError
    from IPython.utils.capture import capture_output

    ids = emulator.ids("snapshot")[:3]
    ip.user_ns["tid"] = ids
    with capture_output() as cap:
        ip.run_line_magic("ice_watch", "--kind snapshot --interval 0.5 tid")
    view = ip.user_ns["_ice_watch"]
    try:
        assert WIDGET_MIME in cap.outputs[0].data
        assert list(view.frame["job_id"]) == ids
        assert list(view.frame["kind"].astype(str)) == ["snapshot"] * 3
        assert view._interval == 0.5
    finally:
        view.close()
    frame = pd.DataFrame(
        {"job_id": [ids[0], emulator.ids("transcode")[0]], "kind": ["snapshot", "transcode"]}
    )
    ip.user_ns["tid"] = frame
    with capture_output():
        ip.run_line_magic("ice_watch", "tid")  # no --kind: each row keeps its own
    view = ip.user_ns["_ice_watch"]
    try:
        assert list(view.frame["kind"].astype(str)) == ["snapshot", "transcode"]
        assert view.mixed
    finally:
        view.close()
    with pytest.raises(UsageError, match="--kind must be one of"):
        ip.run_line_magic("ice_watch", "--kind snap tid")


def test_watch_error_rows_keep_their_kind(emulator: Any) -> None:
    import asyncio

    import pandas as pd

    from ice_widgets.widgets._watch import WatchView

    known = emulator.ids("media_convert")[0]
    ids = pd.DataFrame({"job_id": ["0" * 32, known], "kind": ["transcode", "media_convert"]})

    async def main() -> WatchView:
        aclient = _aclient(emulator)
        view = WatchView(ids, client=aclient)
        await view.poll_once()
        await aclient.aclose()
        return view

    view = asyncio.run(main())
    try:
        frame = view.frame
        assert list(frame["kind"].astype(str)) == ["transcode", "media_convert"]
        missing = frame.iloc[0]
        assert missing["error_code"] and pd.isna(missing["status"])
        assert view.finished  # a job that does not exist is never asked for again
        assert "Transcode" in view._table.value and "fetch error" in view._table.value
    finally:
        view.close()


def test_view_of_ids_of_a_kind_and_ice_jobs_magic(ip: Any, client: Any, emulator: Any) -> None:
    import pandas as pd
    from IPython.utils.capture import capture_output

    from ice_widgets.widgets import JobsView

    ids = emulator.ids("snapshot")[:5]
    view = JobsView(ids, kind="snapshot", client=client)
    try:
        assert list(view.frame["job_id"]) == ids
        for job_id, status in zip(ids, view.frame["status"]):
            assert status == emulator.expected(job_id, "snapshot")["Status"]
        assert set(view.frame["kind"].astype(str)) == {"snapshot"} and not view.mixed
    finally:
        view.close()

    ip.user_ns["tid"] = ids
    with capture_output() as cap:
        ip.run_line_magic("ice_jobs", "--kind snapshot tid")
    frame = ip.user_ns["_ice_jobs"]
    assert list(frame["job_id"]) == ids and set(frame["kind"].astype(str)) == {"snapshot"}
    assert WIDGET_MIME in cap.outputs[0].data
    mixed = pd.DataFrame(
        {"job_id": [ids[0], emulator.ids("transcode")[0]], "kind": ["snapshot", "transcode"]}
    )
    ip.user_ns["tid"] = mixed
    with capture_output() as cap:
        ip.run_line_magic("ice_jobs", "tid")  # no --kind: each row keeps its own kind
    frame = ip.user_ns["_ice_jobs"]
    assert list(frame["kind"].astype(str)) == ["snapshot", "transcode"]
    assert "<th>Kind</th>" in cap.outputs[0].data["text/html"]
