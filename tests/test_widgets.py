"""JobCard and JobsView built without a kernel: their state and their static HTML."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ice_widgets._errors import NotFoundError
from ice_widgets._frames import JobError, build_frame
from ice_widgets._models import PackageJob
from ice_widgets.widgets import JobCard, JobsView

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _api(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "JobId": "ab4802364a2e49208c99efab82df0001",
        "Name": "my job",
        "Status": "Success",
        "TriggerSource": "API",
        "Priority": 6,
        "Inputs": [{"Input": {"Type": "OSS", "Media": "oss://bucket/in.mp4"}}],
        "Output": {"Type": "OSS", "Media": "oss://bucket/out.m3u8"},
        "OutputUrl": "https://bucket.oss-cn-shanghai.aliyuncs.com/out.m3u8",
        "SubmitTime": "2026-01-01T00:00:00Z",
        "FinishTime": "2026-01-01T00:05:30Z",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


class FakeClient:
    """Answers get_package_job from a dict; raises NotFoundError for other IDs."""

    def __init__(self, jobs: dict[str, dict[str, object]]) -> None:
        self.jobs = jobs
        self.calls: list[str] = []
        self.closed = False

    def get_package_job(self, job_id: str) -> PackageJob:
        self.calls.append(job_id)
        if job_id not in self.jobs:
            raise NotFoundError("The job does not exist.", code="InvalidParameter.ResourceNotFound")
        return PackageJob.from_api(self.jobs[job_id])

    def close(self) -> None:
        self.closed = True


def _all_widgets(root: Any) -> list[Any]:
    found = [root]
    for child in getattr(root, "children", ()):
        found.extend(_all_widgets(child))
    return found


def _state_text(root: Any) -> str:
    """Every synced trait of every widget in the tree, as one string."""
    return "\n".join(repr(w.get_state()) for w in _all_widgets(root))


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _classes(markup: str) -> list[str]:
    parser = Tags()
    parser.feed(markup)
    return [a.get("class") or "" for _, a in parser.tags]


# --------------------------------------------------------------------------- JobCard


def test_card_from_job_state_and_mimebundle() -> None:
    card = JobCard(PackageJob.from_api(_api()))
    assert card.job.status == "Success"
    assert "ice-badge ice-status-success" in _classes(card._html.value)
    assert card._id_text.value == "ab4802364a2e49208c99efab82df0001"
    bundle = card._repr_mimebundle_()
    assert bundle[WIDGET_MIME]["model_id"] == card.model_id
    assert bundle["text/html"] == card.to_html()
    assert "ice-badge ice-status-success" in _classes(bundle["text/html"])
    assert bundle["text/plain"].startswith("✓ Success  my job")
    assert "VBox" not in bundle["text/plain"] and "VBox" not in repr(card)
    assert repr(card) == "JobCard(job_id='ab4802364a2e49208c99efab82df0001', status='Success', name='my job')"
    card.close()


def test_card_job_id_is_read_only_but_selectable() -> None:
    card = JobCard(PackageJob.from_api(_api()))
    card._id_text.value = "edited"
    assert card._id_text.value == "ab4802364a2e49208c99efab82df0001"
    assert not card._id_text.disabled  # a disabled input cannot be selected in every browser


def test_card_from_id_fetches_and_refreshes() -> None:
    client = FakeClient({"j1": _api(JobId="j1", Status="Init", FinishTime=None)})
    card = JobCard("j1", client=client)  # type: ignore[arg-type]
    assert client.calls == ["j1"]
    assert "ice-status-running" in card._html.value
    client.jobs["j1"] = _api(JobId="j1", Status="Fail", Code="E.Bad", Message="bad input")
    card._refresh_button.click()  # the button's handler, as the front end would call it
    assert client.calls == ["j1", "j1"]
    assert card.job.status == "Fail"
    assert "ice-status-fail" in card._html.value and "E.Bad" in card._html.value
    assert "fetched" in card._note.value


def test_card_refresh_failure_marks_stale_and_keeps_last_job() -> None:
    client = FakeClient({"j1": _api(JobId="j1", Status="Init", FinishTime=None)})
    card = JobCard("j1", client=client)  # type: ignore[arg-type]
    del client.jobs["j1"]
    card.refresh()
    assert card.job.status == "Init"  # last known, not dropped
    assert card.stale is not None and "ResourceNotFound" in card.stale
    assert "ice-stale" in _classes(card._html.value)
    assert "[stale:" in card._repr_mimebundle_()["text/plain"]


def test_card_for_missing_job_shows_error() -> None:
    card = JobCard("missing", client=FakeClient({}))  # type: ignore[arg-type]
    assert card.error is not None and card.error[0] == "InvalidParameter.ResourceNotFound"
    assert "ice-badge ice-status-error" in _classes(card.to_html())
    assert "error=" in repr(card)


def test_card_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        JobCard(42)  # type: ignore[arg-type]


def test_card_close_closes_only_its_own_client(monkeypatch: pytest.MonkeyPatch) -> None:
    given = FakeClient({"j1": _api(JobId="j1")})
    card = JobCard("j1", client=given)  # type: ignore[arg-type]
    card.close()
    assert not given.closed
    made = FakeClient({"j1": _api(JobId="j1")})
    monkeypatch.setattr("ice_widgets.widgets._card.default_client", lambda client=None, **_: made)
    card = JobCard("j1")
    card.close()
    assert made.closed


def test_card_state_holds_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "S3cr3t-not-to-show-0123456789"
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIsomething")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", secret + "-token")
    monkeypatch.setenv("ALIBABA_CLOUD_ICE_ENDPOINT", "http://127.0.0.1:9")  # nothing listens
    card = JobCard("ab4802364a2e49208c99efab82df0001")
    everything = _state_text(card) + repr(card._repr_mimebundle_()) + repr(card)
    assert secret not in everything
    assert card.error is not None  # the connection failed and is shown
    card.close()


# --------------------------------------------------------------------------- JobsView


def _records(n: int = 60) -> list[object]:
    records: list[object] = []
    for i in range(n):
        status = ["Success", "Fail", "Init"][i % 3]
        records.append(
            PackageJob.from_api(
                _api(
                    JobId=f"job{i:03d}",
                    Name=f"name {i}",
                    Status=status,
                    SubmitTime=f"2026-01-01T00:{i % 60:02d}:00Z",
                    FinishTime=None if status == "Init" else f"2026-01-01T01:{i % 60:02d}:00Z",
                    Code="E.Bad" if status == "Fail" else None,
                    Message="bad input" if status == "Fail" else None,
                )
            )
        )
    records.append(JobError("gone", "NotFound", "no such job"))
    return records


def _view(**kwargs: Any) -> JobsView:
    return JobsView(build_frame(_records()), **kwargs)


def _table_rows(view: JobsView) -> int:
    return view._table.value.count("<tr>") - 1  # minus the header


def test_view_first_page_summary_and_controls() -> None:
    view = _view(page_size=25)
    assert view.filtered_count == 61 and view.page_count == 3
    assert _table_rows(view) == 25
    assert "rows 1–25 of 61" in view._table.value
    assert view.summary.counts == {"Init": 20, "Success": 20, "Fail": 20, "error": 1}
    labels = [b.description for b in view._status_box.children]
    assert labels == ["All 61", "Init (running) 20", "Success 20", "Fail 20", "fetch error 1"]
    assert "50.0%" in view._stats_html.value
    assert view._row_menu.options[1] == ("1. job000 · name 0", 0)
    assert len(view._row_menu.options) == 26  # the visible page only
    assert view._first.disabled and not view._next.disabled
    assert repr(view) == "JobsView(61 jobs, page 1/3)"


def test_view_status_button_filters_and_menu_follows() -> None:
    view = _view()
    fail_button = next(b for b in view._status_box.children if b.description.startswith("Fail"))
    fail_button.click()
    assert view.filtered_count == 20
    assert view._status_menu.value == "Fail"
    assert fail_button.icon == "filter"
    assert set(view.export()["status"]) == {"Fail"}
    view._status_menu.value = "error"  # the front end changing the dropdown
    assert list(view.export()["job_id"]) == ["gone"]
    assert "NotFound" in view._table.value
    view._status_box.children[0].click()  # All
    assert view.filtered_count == 61


def test_view_text_filter_sort_and_pages() -> None:
    view = _view(page_size=10)
    view._text_box.value = "NAME 1"  # as typed in the front end
    assert set(view.export()["name"]) == {"name 1"} | {f"name {i}" for i in range(10, 20)}
    view._text_box.value = ""
    view._sort_menu.value = "submit_time"
    view._order.value = False
    times = view.export()["submit_time"]
    assert times.dropna().is_monotonic_decreasing
    assert view.page == 0
    view._next.click()
    assert view.page == 1 and "rows 11–20 of 61" in view._table.value
    view._last.click()
    assert view.page == 6 and _table_rows(view) == 1 and view._next.disabled
    view.go_to_page(99)
    assert view.page == 6
    view._first.click()
    assert view.page == 0
    with pytest.raises(ValueError):
        view.sort_by("no such column")


def test_view_row_menu_opens_job_card() -> None:
    view = _view()
    view._row_menu.value = view._row_menu.options[2][1]  # second row: job001, a failure
    (card,) = view._card_box.children
    assert isinstance(card, JobCard)
    assert card.job.job_id == "job001" and "E.Bad" in card.to_html()
    card2 = view.open_job("gone")
    assert card.comm is None or card._repr_mimebundle_ is None  # the previous card was closed
    assert card2.error == ("NotFound", "no such job")
    with pytest.raises(KeyError):
        view.open_job("nope")


def test_view_charts_and_triage_tabs() -> None:
    view = _view()
    assert view._hist.value == b""  # nothing drawn before the tab is opened
    view._tabs.selected_index = 1
    assert bytes(view._hist.value[:8]) == b"\x89PNG\r\n\x1a\n"
    assert bytes(view._timeline.value[:8]) == b"\x89PNG\r\n\x1a\n"
    view._tabs.selected_index = 2
    assert "E.Bad" in view._triage_html.value and "bad input" in view._triage_html.value
    assert view.triage()["count"].tolist() == [20, 1]


def test_view_mimebundle_static_html_and_text() -> None:
    view = _view()
    bundle = view._repr_mimebundle_()
    assert bundle[WIDGET_MIME]["model_id"] == view.model_id
    markup = bundle["text/html"]
    assert markup.count("<img") == 2 and "data:image/png;base64," in markup
    assert "rows 1–25 of 61" in markup and "Failure triage" in markup
    assert "ice-badge ice-status-fail" in _classes(markup)
    text = bundle["text/plain"]
    assert text.startswith("JobsView: 61 jobs") and "job000" in text and "VBox" not in text


def test_view_export_and_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    view = _view()
    view.set_filter(status="Fail")
    exported = view.export()
    assert len(exported) == 20 and exported.dtypes.equals(view.frame.dtypes)
    path = view.to_csv(tmp_path / "out.csv")
    back = pd.read_csv(path)
    assert list(back["job_id"]) == list(exported["job_id"])
    assert back["input_media"].iloc[0] == "oss://bucket/in.mp4"
    monkeypatch.chdir(tmp_path)
    view._export_button.click()
    written = list(tmp_path.glob("ice_jobs_*.csv"))
    assert len(written) == 1 and len(pd.read_csv(written[0])) == 20
    assert written[0].name in view._export_note.value


def test_csv_export_defuses_spreadsheet_formulas(tmp_path: Path) -> None:
    """API text that a spreadsheet would run as a formula is written with a leading quote."""
    jobs = [
        PackageJob.from_api(
            {
                "JobId": f"job{i}",
                "Status": "Fail",
                "Name": name,
                "Message": "-1 bytes",
                "Inputs": [{"Input": {"Type": "OSS", "Media": "@oss://b/x.mp4"}}],
            }
        )
        for i, name in enumerate(['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "plain"])
    ]
    view = JobsView(build_frame(jobs))
    back = pd.read_csv(view.to_csv(tmp_path / "safe.csv"), dtype=str)
    assert list(back["name"]) == ['\'=HYPERLINK("http://evil.example","x")', "'+cmd|' /C calc'!A0", "plain"]
    assert set(back["message"]) == {"'-1 bytes"}
    assert set(back["input_media"]) == {"'@oss://b/x.mp4"}
    assert list(back["job_id"]) == ["job0", "job1", "job2"]
    raw = pd.read_csv(view.to_csv(tmp_path / "raw.csv", spreadsheet_safe=False), dtype=str)
    assert raw["name"].iloc[0] == '=HYPERLINK("http://evil.example","x")'


def test_view_from_ids_fetches_with_the_client(client: Any, emulator: Any) -> None:
    ids = [*emulator.job_ids[:3], "0" * 32]
    view = JobsView(ids, client=client)
    assert list(view.frame["job_id"]) == ids
    expected = [emulator.expected(i)["Status"] for i in ids[:3]]
    assert view.frame["status"].astype(str).tolist()[:3] == expected
    assert view.summary.counts.get("error") == 1  # the missing job is a row with its error
    assert client.stats.requests >= 4
    view.close()
    series = pd.Series([emulator.job_ids[0], None, float("nan"), " "])  # as read from a CSV
    view = JobsView(series, client=client)
    assert len(view.frame) >= 2 and view.frame["status"].iloc[0] == emulator.expected(series[0])["Status"]
    assert view.summary.counts.get("error", 0) >= 1  # unusable IDs are rows with their error
    view.close()


def test_view_set_frame_keeps_filters_and_marks_stale() -> None:
    view = _view(page_size=10)
    view.set_filter(status="Init")
    frame = view.frame.copy()
    frame["status"] = frame["status"].where(frame["job_id"] != "job002", "Success")
    view.set_frame(frame, stale={"job005": "Throttling: slow down"})
    assert view.filtered_count == 19
    assert view._table.value.count('class="ice-stale"') == 1
    view.set_notice("updated 3 s ago")
    assert "updated 3 s ago" in view._notice_html.value
    assert "updated 3 s ago" in view.to_html(charts=False)


def test_view_close_closes_children() -> None:
    view = _view()
    children = _all_widgets(view)
    view.close()
    assert all(w.comm is None for w in children)


def test_view_state_is_small_for_a_large_frame() -> None:
    records = _records(3000)
    view = JobsView(build_frame(records), page_size=25)
    size = sum(len(repr(w.get_state())) for w in _all_widgets(view))
    assert _table_rows(view) == 25
    assert size < 200_000  # one page, not 3,000 rows


def test_df_ice_view_and_trimmed_frames(tmp_path: Path) -> None:
    frame = build_frame(_records())
    view = frame.ice.view(page_size=5)
    assert isinstance(view, JobsView) and view.frame is frame and view.page_count == 13
    trimmed = frame[["job_id", "name", "status", "duration", "error_code"]]
    view2 = JobsView(trimmed)
    assert view2.summary.counts == view.summary.counts and "name 0" in view2._table.value
    frame.drop(columns=["input_media"]).to_csv(tmp_path / "jobs.csv", index=False)
    view3 = JobsView(pd.read_csv(tmp_path / "jobs.csv"))
    assert view3.summary.counts == view.summary.counts
    assert view3.summary.p50 == view.summary.p50
    view3.sort_by("submit_time", ascending=False)
    assert view3.export()["submit_time"].dropna().is_monotonic_decreasing


def test_card_refresh_button_in_a_running_loop_does_not_block(client: Any, emulator: Any) -> None:
    """With a running loop (a kernel) the button schedules arefresh() instead of blocking."""
    import asyncio

    job_id = emulator.job_ids[0]
    card = JobCard(PackageJob(job_id=job_id, status="Init"), client=client)

    async def main() -> None:
        task = card._refresh_clicked()
        assert task is not None and not task.done()  # scheduled, the handler returned at once
        assert card._refresh_clicked() is task  # a second click while it runs: the same task
        job = await task
        assert job.status == emulator.expected(job_id)["Status"]

    asyncio.run(main())
    assert card.job.status == emulator.expected(job_id)["Status"] and card.stale is None
    assert "fetched" in card._note.value
    card.close()


def test_charts_both_timeline_modes() -> None:
    from ice_widgets.widgets import _charts

    small = build_frame(_records(30))
    assert _charts.timeline(small)[:4] == b"\x89PNG"
    assert _charts.timeline(small, max_bars=10)[:4] == b"\x89PNG"  # the aggregated path
    assert _charts.duration_histogram(small["duration"])[:4] == b"\x89PNG"
    empty = small.iloc[0:0]
    assert _charts.timeline(empty) is None and _charts.duration_histogram(empty["duration"]) is None


def test_view_set_frame_relabels_status_buttons_without_new_widgets() -> None:
    view = _view()
    before = list(view._status_box.children)
    frame = view.frame.copy()
    frame["status"] = frame["status"].where(frame["job_id"] != "job002", "Success")
    view.set_frame(frame)
    after = list(view._status_box.children)
    assert after == before  # the same button widgets
    assert [b.description for b in after][1:3] == ["Init (running) 19", "Success 21"]
    frame["status"] = frame["status"].where(frame["status"] != "Fail", "Success")
    view.set_frame(frame)  # no Fail any more: the buttons are rebuilt
    assert "Fail" not in [b.description.split()[0] for b in view._status_box.children]
    assert all(b.comm is None for b in before)


def test_view_menus_show_their_choice_from_the_start() -> None:
    view = _view()
    # A Dropdown whose value is None shows an empty box: every menu starts on a real choice.
    assert view._status_menu.label == "All"
    assert view._sort_menu.label == "original order"
    assert view._row_menu.index == 0 and view._row_menu.label.startswith("— choose a row")
    view.sort_by("job_id", ascending=False)
    assert view._sort_menu.label == "job ID" and view._order.label == "↓ desc"
    view.set_filter(status="Fail")
    assert view._status_menu.label == "✗ Fail"
    view._status_menu.value = ""  # "All" chosen in the front end
    assert view.filtered_count == 61 and view._status_menu.label == "All"
    view._sort_menu.value = ""  # "original order" chosen in the front end
    assert list(view.export()["job_id"])[:2] == ["job000", "job001"]
    view._row_menu.value = -1  # the placeholder opens nothing
    assert view._card_box.children == ()


def test_view_status_buttons_have_the_badges_colours() -> None:
    from ice_widgets.widgets import _charts, _render

    view = _view()
    buttons = {b._ice_status: b for b in view._status_box.children}
    assert buttons[None].style.button_color is None  # "All" stays neutral
    for status, kind in (("Success", "success"), ("Fail", "fail"), ("Init", "running")):
        colour = buttons[status].style.button_color
        assert colour == _charts.COLORS[kind]
        assert f".ice-status-{kind}{{background:{colour}}}" in _render.STYLE
    assert f".ice-status-error{{background:{buttons['error'].style.button_color}}}" in _render.STYLE
    assert "ice-selected" in buttons[None]._dom_classes
    buttons["Fail"].click()
    assert "ice-selected" in buttons["Fail"]._dom_classes
    assert "ice-selected" not in buttons[None]._dom_classes


def test_view_order_buttons_and_failures_tab_title() -> None:
    view = _view()
    assert [label for label, _ in view._order.options] == ["↑ asc", "↓ desc"]
    assert view._order.tooltips == ("ascending", "descending")
    assert view._tabs.titles == ("Jobs", "Charts", "Failures (21)")  # 20 failed, 1 fetch error
    frame = view.frame[view.frame["status"] == "Success"].reset_index(drop=True)
    view.set_frame(frame)
    assert view._tabs.titles[2] == "Failures"


def test_charts_histogram_by_status_and_timeline_mode_choice() -> None:
    import numpy as np

    from ice_widgets.widgets import _charts

    small = build_frame(_records(30))
    assert _charts.duration_histogram(small["duration"], status=small["status"])[:4] == b"\x89PNG"
    day = np.datetime64("2026-01-01T00:00:00", "ns")
    starts = day + np.arange(100) * np.timedelta64(1, "h")  # 100 jobs over four days...
    short = starts + np.timedelta64(60, "s")  # ...of one minute each: bars too thin to see
    long = starts + np.timedelta64(3, "h")
    assert not _charts._bars_visible(starts, short)
    assert _charts._bars_visible(starts, long)
    assert _charts._bars_visible(starts, np.full(100, np.datetime64("NaT", "ns")))  # none finished
