"""The job-kind notebooks in JupyterLab, driven through the system Chromium with Playwright.

Like ``tests/test_browser.py`` (whose helpers and fixtures this module uses): one emulator
in this process (the truth), the demo's JupyterLab, each notebook run from the Run menu.

* ``transcode_analysis.ipynb``: the transcode card lists every sub-job with its own badge,
  painted in its state's colour, and its output links; a parent that says Success with a
  failed sub-job is flagged; the JobsView over every kind has a Kind column and a kind
  menu that filters the rows, and its status buttons are coloured by state.
* ``media_producing_live.ipynb``: the watch shows the submitted jobs running, then each
  with the status the emulator holds, and stops by itself.

Screenshots ``transcode_card.png`` and ``jobsview_mixed.png`` go to docs/ with
ICE_WIDGETS_UPDATE_SCREENSHOTS=1 (else to a temporary folder).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_browser as tb
from _nbharness import DEMO_HOSTILE, DEMO_JOBS, DEMO_SEED
from test_browser import _background, _rgb, assert_inert, cell, open_and_run, shoot, wait_all_ran

from ice_widgets._models import KINDS, parse_job
from ice_widgets.emulator import Emulator
from ice_widgets.widgets._kind_render import kind_label
from ice_widgets.widgets._render import STATE_KIND, STATUS_COLORS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]


# The fixtures of tests/test_browser.py: Chromium, the demo's JupyterLab (on this module's
# emulator), the browser and a fresh page per test.
chromium_path = tb.chromium_path
lab = tb.lab
browser = tb.browser
page = tb.page


@pytest.fixture(scope="module", autouse=True)
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tb.SHOTS = tb.DOCS if tb.UPDATE_SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    return tb.SHOTS


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    # Submitted jobs run 3-9 s: long enough to see the watch while some still run.
    with Emulator(jobs=DEMO_JOBS, seed=DEMO_SEED, hostile=DEMO_HOSTILE, progress_seconds=6.0) as emulator:
        yield emulator


def _colour_of(state: str) -> str:
    return _rgb(STATUS_COLORS[STATE_KIND[state]])


def _check_transcode_card(page: Any, card: Any, emu: Emulator) -> Any:
    """The card against the emulator: every sub-job, its badge, colour and outputs."""
    job_id = card.locator("input").first.input_value()
    truth = parse_job("transcode", emu.expected(job_id, "transcode"))
    assert truth.sub_jobs
    badge = card.locator(".ice-head .ice-badge")
    assert badge.inner_text().strip().startswith(truth.status)
    assert _background(badge) == _colour_of(truth.state)
    rows = card.locator("tr.ice-part")
    assert rows.count() == len(truth.sub_jobs)
    for i, sub in enumerate(truth.sub_jobs):
        row = rows.nth(i)
        assert sub.job_id in row.inner_text()
        sub_badge = row.locator(".ice-badge")
        assert sub_badge.inner_text().strip().startswith(sub.status)
        assert _background(sub_badge) == _colour_of(sub.state)
        links = [a.get_attribute("href") for a in row.locator("a").all()]
        if sub.output_url and sub.output_url.startswith(("http://", "https://")):
            assert links == [sub.output_url]
        else:
            assert links == []
    failures = card.locator("tr.ice-part-failure")
    assert failures.count() == sum(1 for s in truth.sub_jobs if s.is_failed)
    for sub in (s for s in truth.sub_jobs if s.is_failed and s.code):
        assert sub.code in card.inner_text()
    warned = card.locator(".ice-warn").count() == 1
    assert warned == (truth.state == "succeeded" and truth.sub_jobs_failed > 0)
    return truth


def test_transcode_analysis(lab: Any, page: Any, emu: Emulator) -> None:
    opened = open_and_run(page, lab, "transcode_analysis.ipynb")

    card = cell(page, "JobCard(slowest").locator(".ice-jobcard")
    assert card.locator(".ice-kind-transcode").count() == 1
    _check_transcode_card(page, card, emu)

    bare = cell(page, "client.get_job(worst").locator(".ice-jobcard")
    truth = _check_transcode_card(page, bare, emu)
    if truth.sub_jobs_failed:  # the day has a parent that hides a failed sub-job
        assert bare.locator(".ice-warn").count() == 1 or truth.state != "succeeded"
    shoot(bare, "transcode_card.png", content=".ice-card, input, button, .ice-muted")

    view = cell(page, "view = JobsView(everything.sort_values(").locator(".ice-jobsview").first
    view.scroll_into_view_if_needed()
    headings = [t.strip() for t in view.locator("table.ice-table thead th").all_inner_texts()]
    assert headings[:3] == ["#", "Status", "Kind"]
    kind_menu = (
        view.locator(".widget-dropdown")
        .filter(has=page.locator("label", has_text=re.compile(r"^\s*Kind\s*$")))
        .locator("select")
    )
    labels = [o.replace("\xa0", " ").strip() for o in kind_menu.locator("option").all_inner_texts()]
    assert labels == ["All kinds", *(kind_label(k) for k in KINDS)], labels
    # every row: its kind and status as the emulator holds them, its badge in its state's colour
    rows = view.locator("table.ice-table tbody tr")
    kinds_seen = set()
    for i in range(rows.count()):
        row = rows.nth(i)
        job_id = row.locator(".ice-copy").first.inner_text().strip()
        kind = emu.kind_of(job_id)
        assert kind is not None
        kinds_seen.add(kind)
        job = parse_job(kind, emu.expected(job_id, kind))
        assert row.locator("td").nth(2).inner_text().strip() == kind_label(kind)
        row_badge = row.locator(".ice-badge").first
        assert row_badge.inner_text().strip().startswith(str(job.status))
        assert _background(row_badge) == _colour_of(job.state)
    # the status buttons of statuses other kinds use (Complete, Error...) in their state's colour
    for status, state in (("Complete", "succeeded"), ("Error", "failed"), ("Failed", "failed")):
        button = view.locator("button", has_text=re.compile(rf"^\s*{status}\s+\d"))
        if button.count():
            assert _background(button.first) == _colour_of(state)
    shoot(view, "jobsview_mixed.png")

    kind_menu.select_option(label="Transcode")
    page.wait_for_function(
        "() => { const v = [...document.querySelectorAll('.ice-jobsview')].pop(); "
        "const cells = [...v.querySelectorAll('table.ice-table tbody tr td:nth-child(3)')]; "
        "return cells.length && cells.every(c => c.textContent.trim() === 'Transcode'); }"
    )
    for job_id in [t.strip() for t in view.locator("table.ice-table tbody tr .ice-copy").all_inner_texts()]:
        assert emu.kind_of(job_id) == "transcode"
    assert_inert(opened)


def test_media_producing_live(lab: Any, page: Any, emu: Emulator) -> None:
    before = set(emu.ids("media_producing"))
    opened = open_and_run(page, lab, "media_producing_live.ipynb", wait=False)
    watch_box = page.locator(".ice-watch").first
    badges = ".ice-watch table.ice-table .ice-badge"
    seen_running = False
    finished = 0
    kinds: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        kinds = page.eval_on_selector_all(badges, "els => els.map(e => e.className)")
        running = sum("ice-status-running" in k for k in kinds)
        finished = sum(bool(re.search(r"ice-status-(success|fail)", k)) for k in kinds)
        seen_running = seen_running or running > 0
        if finished == 5:
            break
        page.wait_for_timeout(100)
    assert seen_running, "the watch never showed a running job"
    assert finished == 5, f"the watch did not finish: {kinds}"
    wait_all_ran(page, "media_producing_live.ipynb")
    rows = watch_box.locator("table.ice-table tbody tr")
    shown = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        job_id = re.search(r"[0-9a-f]{32}", row.inner_text()).group(0)
        badge = row.locator(".ice-badge")
        shown[job_id] = badge.inner_text().strip()
        job = parse_job("media_producing", emu.expected(job_id, "media_producing"))
        assert _background(badge) == _colour_of(job.state)
    assert len(shown) == 5 and not set(shown) & before  # the jobs the notebook submitted
    assert {emu.kind_of(i) for i in shown} == {"media_producing"}
    truth = {i: emu.expected(i, "media_producing")["Status"] for i in shown}
    assert shown == truth
    assert "Failed" in shown.values()  # the job set up to fail
    assert "no longer refreshing" in watch_box.inner_text()
    assert "all finished: True" in cell(page, "await w.task").inner_text()
    card = cell(page, "client.get_job(failed").locator(".ice-jobcard")
    assert card.locator(".ice-kind-media_producing").count() == 1
    assert card.locator(".ice-head .ice-badge").inner_text().strip() == "Failed"
    assert_inert(opened)
