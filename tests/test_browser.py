"""The example notebooks in JupyterLab, driven through the system Chromium with Playwright.

One emulator (in this process, so the test knows the truth) and one JupyterLab (the
demo's launcher) serve the whole module. Each notebook is opened, run with the menu
Run > Run All Cells, and checked in the page: what the widgets show, that filters and
paging work, that the injection-corpus jobs ran no script, and that a notebook saved
from JupyterLab still shows its cards once nbconvert has rendered it to static HTML.

Screenshots of the JobCard, the JobsView and the live watch are taken on every run; with
ICE_WIDGETS_UPDATE_SCREENSHOTS=1 they replace docs/jobcard.png, jobsview.png and watch.png.

No browser is ever downloaded: the test uses /usr/bin/chromium (or ``chromium`` on PATH)
and skips, with the reason, when there is none, unless ICE_WIDGETS_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _nbharness import DEMO_HOSTILE, DEMO_JOBS, DEMO_SEED, REPO, copy_notebooks

from ice_widgets.emulator import Emulator
from ice_widgets.widgets._render import STATUS_COLORS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

DOCS = REPO / "docs"
# Screenshots go to docs/ only when asked (they change with every run: times, "updated 1 s
# ago"), else to a temporary folder: `ICE_WIDGETS_UPDATE_SCREENSHOTS=1 pytest tests/test_browser.py`.
UPDATE_SCREENSHOTS = os.environ.get("ICE_WIDGETS_UPDATE_SCREENSHOTS") == "1"
RUN_TIMEOUT_MS = int(os.environ.get("ICE_WIDGETS_RUN_TIMEOUT_MS", "240000"))
STEP_TIMEOUT_MS = 30_000

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Installed before any page script: counts alert()/confirm()/prompt() calls, so a payload
# that manages to run (most of the corpus calls alert(1)) leaves a trace we can read.
PROBE_INIT = """
(() => {
  for (const name of ["alert", "confirm", "prompt"]) {
    window[name] = (...args) => { window.__ice_dialogs = (window.__ice_dialogs || 0) + 1; };
  }
})();
"""

# Everything in the DOM that would navigate to or run a script URL.
SCRIPT_URLS_JS = r"""
() => {
  const bad = /^\s*(javascript|vbscript|data)\s*:/i;
  const found = [];
  for (const el of document.querySelectorAll("[href], [src], [action], [formaction], [data]")) {
    for (const attr of ["href", "src", "action", "formaction", "data"]) {
      const value = el.getAttribute(attr);
      if (value === null) continue;
      const squashed = value.replace(/[\u0000-\u0020\u200b]/g, "");
      if (bad.test(squashed) && !(el.tagName === "IMG" && /^data:image\/png/i.test(squashed))) {
        found.push(el.tagName + " " + attr + "=" + value.slice(0, 80));
      }
    }
  }
  return found;
}
"""

ALL_RAN_JS = r"""
() => {
  const cells = [...document.querySelectorAll(".jp-Notebook .jp-CodeCell")];
  if (!cells.length) return false;
  const prompts = cells.map(c => (c.querySelector(".jp-InputPrompt") || {}).textContent || "");
  const busy = document.querySelector(".jp-Notebook-ExecutionIndicator[data-status=busy]");
  return !busy && prompts.every(t => /\[\d+\]/.test(t));
}
"""


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("ICE_WIDGETS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (and ICE_WIDGETS_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = _chromium()
    if path is None:
        _skip_or_fail("no Chromium installed (apt-get install chromium; no browser is ever downloaded)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _skip_or_fail("Playwright's Python package is not installed")
    assert path is not None
    return path


@pytest.fixture(scope="module", autouse=True)
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    global SHOTS
    SHOTS = DOCS if UPDATE_SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    return SHOTS


SHOTS = DOCS


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    # Submitted jobs run 3-9 s: long enough to see the watch while some still run.
    with Emulator(jobs=DEMO_JOBS, seed=DEMO_SEED, hostile=DEMO_HOSTILE, progress_seconds=6.0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def lab(emu: Emulator, chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from ice_widgets._demo import DemoServers

    folder = copy_notebooks(tmp_path_factory.mktemp("lab") / "notebooks")
    home = tmp_path_factory.mktemp("home")
    with DemoServers(notebook_dir=folder, endpoint=emu.endpoint, extra_env={"HOME": str(home)}) as demo:
        yield demo


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


class Opened:
    """A notebook open in a page, with the dialogs that were attempted."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.add_init_script(PROBE_INIT)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def open_and_run(page: Any, lab: Any, name: str, *, wait: bool = True) -> Opened:
    """Open ``name`` in JupyterLab, run all cells from the Run menu, wait until all ran."""
    opened = Opened(page)
    lab.start_kernel(name)  # the notebook attaches to it: no kernel dialog
    page.goto(lab.notebook_url(name, workspace=Path(name).stem.replace("_", "-")))
    page.wait_for_function(
        "() => { const k = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-Toolbar-kernelName'); return k && /ipykernel|Python/.test(k.textContent) && "
        "document.querySelector('.jp-Notebook-ExecutionIndicator[data-status=idle]'); }",
        timeout=120_000,
    )
    # More room for the outputs: collapse the file browser (click its active tab).
    current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current.count():
        current.first.click()
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})  # focus the notebook
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li[data-command='runmenu:run-all']").click()
    if wait:
        wait_all_ran(page, name)
    return opened


def wait_all_ran(page: Any, name: str) -> None:
    """Wait until every code cell has run; fail on any error output."""
    try:
        page.wait_for_function(ALL_RAN_JS, timeout=RUN_TIMEOUT_MS, polling=500)
    except Exception as exc:
        raise AssertionError(f"{name} did not finish running:\n{_describe(page)}") from exc
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t or "Error" in t]
    assert not tracebacks, tracebacks
    assert page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").count() == 0


def _describe(page: Any) -> str:
    """What the page shows: prompts, kernel state, the last outputs (for failure messages)."""
    try:
        state = page.evaluate(
            "() => ({prompts: [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]"
            ".map(e => e.textContent), kernel: (document.querySelector('.jp-Toolbar-kernelName') || {})"
            ".textContent, status: (document.querySelector('.jp-Notebook-ExecutionIndicator') || "
            "{dataset: {}}).dataset.status, dialogs: [...document.querySelectorAll('.jp-Dialog')]"
            ".map(e => e.innerText)})"
        )
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()[-5:]
    except Exception as exc:  # the page itself is gone
        return f"(page unreadable: {exc})"
    return f"{state}\nlast outputs: {[o[:500] for o in outputs]}"


def click(locator: Any) -> None:
    """Click once the element has stopped moving (outputs above may still be laying out)."""
    locator.scroll_into_view_if_needed()
    box = None
    for _ in range(50):
        now = locator.bounding_box()
        if now is not None and now == box:
            break
        box = now
        locator.page.wait_for_timeout(100)
    locator.click()


def _rgb(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({red}, {green}, {blue})"


def _background(locator: Any) -> str:
    return str(locator.evaluate("(el) => getComputedStyle(el).backgroundColor"))


def cell(page: Any, snippet: str) -> Any:
    """The output area of the one code cell whose source contains ``snippet``."""
    found = page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text=snippet))
    assert found.count() == 1, f"{found.count()} cells contain {snippet!r}"
    return found.locator(".jp-OutputArea")


def assert_inert(opened: Opened) -> None:
    """No injected script ran and no script URL made it into the DOM."""
    page = opened.page
    assert page.evaluate("() => window.__ice_pwned") is None
    assert page.evaluate("() => window.__ice_xss") is None
    assert page.evaluate("() => window.__ice_dialogs") is None
    assert opened.dialogs == []
    assert page.evaluate(SCRIPT_URLS_JS) == []
    assert page.locator("base[href*='evil']").count() == 0
    assert page.locator("link[href*='evil']").count() == 0


def shoot(locator: Any, name: str, *, content: str | None = None) -> Path:
    """Screenshot one widget (into docs/ or a temporary folder), the viewport grown to fit it.

    ``content``: a selector of the parts that carry content; the shot is cropped to their
    right edge (a widget box spans the whole output width even when its content does not).
    """
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / name
    page = locator.page
    size = page.viewport_size
    box = locator.bounding_box()
    if box is not None and size is not None and box["height"] + 200 > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": int(box["height"]) + 400})
        page.wait_for_timeout(300)  # let JupyterLab lay the taller panel out
    try:
        locator.scroll_into_view_if_needed()
        box = locator.bounding_box()
        right = None
        if content is not None and box is not None:
            right = locator.evaluate(
                "(el, sel) => Math.max(...[...el.querySelectorAll(sel)]"
                ".map(e => e.getBoundingClientRect().right))",
                content,
            )
        if right is not None and box is not None and box["x"] < right < box["x"] + box["width"]:
            clip = {"x": box["x"], "y": box["y"], "width": right - box["x"] + 12, "height": box["height"]}
            page.screenshot(path=str(path), clip=clip, animations="disabled")
        else:
            locator.screenshot(path=str(path), animations="disabled")
    finally:
        if size is not None:
            page.set_viewport_size(size)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    return path


# ---------------------------------------------------------------------------- quickstart


def test_quickstart_job_card(lab: Any, page: Any, emu: Emulator) -> None:
    opened = open_and_run(page, lab, "quickstart.ipynb")
    # %ice_job, JobCard(job_id), the bare PackageJob and the failed job: four cards
    assert page.locator(".ice-jobcard").count() == 4
    for snippet in ("%ice_job job_id", "client.get_package_job(job_id)"):
        assert cell(page, snippet).locator(".ice-jobcard .ice-badge.ice-status-success").count() >= 1

    card = cell(page, "card = JobCard(").locator(".ice-jobcard")
    job_id = card.locator("input").first.input_value()
    truth = emu.expected(job_id)
    assert truth["Status"] == "Success"
    badge = card.locator(".ice-head .ice-badge")
    assert badge.inner_text().strip() == "Success"
    assert "ice-status-success" in (badge.get_attribute("class") or "")
    # the badge really is painted in the success colour (and the fail badge below in red)
    assert _background(badge) == _rgb(STATUS_COLORS["success"])
    row = card.locator("tr", has=page.locator("th", has_text=re.compile(r"^Duration$")))
    duration = row.locator("td").inner_text().strip()
    # The shown duration is the server's FinishTime - SubmitTime, to the smallest unit shown.
    # Seen failing under the mutation ``duration_minutes_and_seconds_swapped``
    # (tests/_mutations.py), which the old check (a digit somewhere) let pass.
    shown, unit = _duration_seconds(duration)
    truth_seconds = (_utc(truth["FinishTime"]) - _utc(truth["SubmitTime"])).total_seconds()
    assert shown <= truth_seconds < shown + unit, f"shown {duration!r}, the server says {truth_seconds} s"
    link = card.locator("tr", has=page.locator("th", has_text="Output URL")).locator("a")
    assert link.get_attribute("href") == truth["OutputUrl"]
    assert link.get_attribute("href").startswith(("http://", "https://"))

    failed = cell(page, 'status="Fail"').locator(".ice-jobcard")
    failed_badge = failed.locator(".ice-head .ice-badge")
    assert failed_badge.inner_text().strip() == "Fail"
    assert "ice-status-fail" in (failed_badge.get_attribute("class") or "")
    assert _background(failed_badge) == _rgb(STATUS_COLORS["fail"])
    failed_id = failed.locator("input").first.input_value()
    assert emu.expected(failed_id)["Code"] in failed.inner_text()
    assert failed.locator("tr", has=page.locator("th", has_text="Output URL")).locator("a").count() == 0

    assert_inert(opened)
    shoot(card, "jobcard.png", content=".ice-card, input, button, .ice-muted")


_UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _duration_seconds(text: str) -> tuple[float, float]:
    """``"5 min 30 s"`` -> ``(330.0, 1.0)``: the seconds shown and the smallest unit shown."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|min|s|h|d)\b", text)
    assert parts and re.fullmatch(r"(\s*\d+(?:\.\d+)?\s*(ms|min|s|h|d))+\s*", text), text
    total = sum(float(number) * _UNITS[unit] for number, unit in parts)
    number, unit = parts[-1]
    smallest = _UNITS[unit] * (0.1 if "." in number else 1.0)
    return total, smallest


def _utc(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))


# ------------------------------------------------------------------------ batch analysis


def _table_ids(view: Any) -> list[str]:
    return [t.strip() for t in view.locator("table.ice-table tbody tr td .ice-copy").all_inner_texts()]


def test_batch_analysis_jobs_view(lab: Any, page: Any, emu: Emulator, tmp_path: Path) -> None:
    opened = open_and_run(page, lab, "batch_analysis.ipynb")
    view = page.locator(".ice-jobsview").first
    view.scroll_into_view_if_needed()

    first_page = _table_ids(view)
    assert len(first_page) == 25

    # status filter: only failed jobs remain, and they really failed
    listed = (lab.notebook_dir / "job_ids.csv").read_text().split()[1:]  # written by the notebook
    assert len(listed) == 2000
    fail_count = sum(emu.expected(i)["Status"] == "Fail" for i in listed)
    click(view.locator("button", has_text=re.compile(r"^\s*Fail\b")).first)
    page.wait_for_function(
        "(before) => { const ids = [...document.querySelectorAll('.ice-jobsview table.ice-table "
        "tbody tr td .ice-copy')].map(e => e.textContent.trim()); return ids.length && "
        "ids.join() !== before; }",
        arg=",".join(first_page),
    )
    failed_ids = _table_ids(view)
    assert failed_ids and failed_ids != first_page
    statuses = {job_id: emu.expected(job_id)["Status"] for job_id in failed_ids}
    assert set(statuses.values()) == {"Fail"}, statuses
    assert f"of {fail_count:,}" in view.locator("table.ice-table caption").inner_text()
    assert view.locator("table.ice-table .ice-badge.ice-status-success").count() == 0

    # back to all, then page 2
    click(view.locator("button", has_text=re.compile(r"^\s*All\b")).first)
    page.wait_for_function(
        "(first) => [...document.querySelectorAll('.ice-jobsview table.ice-table tbody tr td "
        ".ice-copy')].map(e => e.textContent.trim()).join() === first",
        arg=",".join(first_page),
    )
    click(view.locator("button[title='next page']").first)
    expect_label = re.compile(r"page 2 of")
    page.wait_for_function(
        "() => /page 2 of/.test(document.querySelector('.ice-jobsview').textContent)",
    )
    assert expect_label.search(view.inner_text())
    second_page = _table_ids(view)
    assert len(second_page) == 25 and not set(second_page) & set(first_page)

    # sorting by job ID starts again on page 1, in ID order
    view.locator("select").nth(1).select_option(label="job ID")
    page.wait_for_function("() => /page 1 of/.test(document.querySelector('.ice-jobsview').textContent)")
    by_id = _table_ids(view)
    assert by_id == sorted(by_id) and by_id != first_page
    shoot(view, "jobsview.png")

    # the charts tab shows two PNG charts
    click(view.locator(".lm-TabBar-tab, .p-TabBar-tab", has_text="Charts").first)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.ice-jobsview img')]"
        ".filter(i => i.naturalWidth > 100 && i.offsetParent !== null).length >= 2",
    )

    # the hostile jobs' cards are on the page, their payloads shown as text
    hostile = cell(page, "hostile = df[").locator(".ice-jobcard")
    assert hostile.count() == len(emu.hostile_ids)
    hostile_text = cell(page, "hostile = df[").inner_text()
    assert all(job_id in hostile_text for job_id in emu.hostile_ids)
    assert "<script>window.__ice_pwned = 1</script>" in hostile_text
    assert_inert(opened)

    # Save from JupyterLab, render the saved notebook with nbconvert (no kernel), open that.
    page.keyboard.press("Control+s")
    saved = lab.notebook_dir / "batch_analysis.ipynb"
    _wait_saved(saved)
    static = _static_html(saved, tmp_path)
    static_page = page.context.new_page()
    static_opened = Opened(static_page)
    static_page.goto(static.as_uri())
    text = static_page.inner_text("body")
    successes = sum(emu.expected(i)["Status"] == "Success" for i in listed)
    assert re.search(rf"^Success\s+{successes}$", text, re.M), "the summary is missing"
    assert re.search(r"^total\s+2000$", text, re.M)
    assert "2,000 jobs" in text  # the JobsView's static summary
    assert static_page.locator(".ice-card").count() >= len(emu.hostile_ids)
    assert static_page.locator(".ice-card .ice-badge").count() >= len(emu.hostile_ids)
    assert "<script>window.__ice_pwned = 1</script>" in text
    assert_inert(static_opened)


def _wait_saved(path: Path, timeout: float = 30.0) -> None:
    import nbformat

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:
            nb = None
        if nb is not None and all(
            cell.get("execution_count") for cell in nb.cells if cell.cell_type == "code"
        ):
            return
        time.sleep(0.3)
    raise AssertionError(f"{path.name} was not saved with outputs")


def _static_html(path: Path, tmp_path: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    out = tmp_path / (path.stem + ".html")
    out.write_text(body, encoding="utf-8")
    return out


# ---------------------------------------------------------------- every payload, in the page

#: Every element of the outputs with an event-handler attribute (on*), as "TAG attr".
EVENT_HANDLERS_JS = r"""
() => {
  const found = [];
  for (const el of document.querySelectorAll(".jp-OutputArea *")) {
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) found.push(el.tagName + " " + attr.name);
    }
  }
  return found;
}
"""

#: Fire the events the corpus's handlers wait for on every element of the outputs.
FIRE_EVENTS_JS = r"""
() => {
  const kinds = ["mouseover", "mouseenter", "mousemove", "click", "focus", "focusin", "load", "error",
                 "animationstart", "transitionend", "toggle", "pointerover"];
  let fired = 0;
  for (const el of document.querySelectorAll(".jp-OutputArea *")) {
    for (const kind of kinds) {
      try { el.dispatchEvent(new Event(kind, {bubbles: false})); fired += 1; } catch (e) {}
    }
  }
  return fired;
}
"""

CORPUS_NOTEBOOK = """\
import ice_widgets as iw
from IPython.display import HTML, display

client = iw.Client(endpoint={endpoint!r})  # the demo's key, from the environment
ids = {ids!r}
df = iw.fetch_jobs(ids, client=client, progress=False)
assert df["error_code"].isna().all() and len(df) == {count}
jobs = [client.get_package_job(job_id) for job_id in ids]
"""


def test_every_injection_payload_in_the_browser(lab: Any, page: Any, tmp_path: Path) -> None:
    """All 71 payloads of the corpus, not only the demo's four ``<script>`` ones, reach the page:

    in the live widgets (a JobsView of every hostile job on one page, a JobCard each) and in
    their static HTML displayed as trusted HTML output, which JupyterLab renders as it is
    and whose inline scripts it runs, so an unescaped payload would run. Then every event
    the payloads' handlers wait for is fired on every element of the outputs, and: no
    probe variable set, no dialog, no ``on*`` attribute and no script URL in the outputs,
    and the payloads are on the page as text. Seen failing under the mutation
    ``attribute_quotes_not_escaped`` (tests/_mutations.py), which the old checks (four
    ``<script>`` payloads, inert in an ipywidgets HTML value even unescaped) let pass.
    """
    import nbformat

    from ice_widgets.emulator.corpus import INJECTION_PAYLOADS

    count = len(INJECTION_PAYLOADS)
    with Emulator(jobs=5, seed=11, hostile=count) as corpus:
        ids = list(corpus.hostile_ids)
        assert len(ids) == count
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(CORPUS_NOTEBOOK.format(endpoint=corpus.endpoint, ids=ids, count=count)),
            nbformat.v4.new_code_cell("view = iw.JobsView(df, page_size=100)\nview"),
            # One output (JupyterLab shows at most 50 outputs of a cell).
            nbformat.v4.new_code_cell(
                "import ipywidgets\nipywidgets.VBox([iw.JobCard(job) for job in jobs])"
            ),
            nbformat.v4.new_code_cell("display(HTML(view.to_html()))  # static form, trusted"),
            nbformat.v4.new_code_cell("display(HTML(''.join(iw.JobCard(job).to_html() for job in jobs)))"),
        ]
        name = "hostile_corpus.ipynb"
        nbformat.write(nb, lab.notebook_dir / name)
        opened = open_and_run(page, lab, name)
        assert page.locator(".ice-jobsview table.ice-table tbody tr").count() >= count
        assert page.locator(".ice-jobcard").count() == count
        static_cards = cell(page, "display(HTML(''.join(").locator(".ice-card")
        assert static_cards.count() == count
        fired = page.evaluate(FIRE_EVENTS_JS)
        assert fired > 1000, fired
        page.wait_for_timeout(500)  # let anything scheduled by a handler run
        assert page.evaluate(EVENT_HANDLERS_JS) == []
        assert_inert(opened)
        # The payloads are there, as text (those that read the same once whitespace is folded).
        text = cell(page, "display(HTML(''.join(").inner_text()
        plain = [
            p for p in INJECTION_PAYLOADS if p == " ".join(p.split()) and p.isprintable() and len(p) <= 300
        ]
        assert len(plain) >= count // 2
        missing = [p for p in plain if p not in text]
        assert missing == [], missing[:5]


# ---------------------------------------------------------------------------- live watch


def test_live_watch(lab: Any, page: Any, emu: Emulator) -> None:
    opened = open_and_run(page, lab, "live_watch.ipynb", wait=False)
    watch_box = page.locator(".ice-watch").first
    badges = ".ice-watch table.ice-table .ice-badge"
    # Live: the widget changes by itself, from jobs still running to all finished. The
    # screenshot is taken mid-way when possible (half of the jobs done, others running).
    seen_running = shot = False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        kinds = page.eval_on_selector_all(badges, "els => els.map(e => e.className)")
        running = sum("ice-status-running" in k for k in kinds)
        finished = sum(bool(re.search(r"ice-status-(success|fail)", k)) for k in kinds)
        seen_running = seen_running or running > 0
        if not shot and running and finished >= 3:
            shoot(watch_box, "watch.png")
            shot = True
        if finished == 6:
            break
        page.wait_for_timeout(100)
    assert seen_running, "the watch never showed a running job"
    assert finished == 6, f"the watch did not finish: {kinds}"
    if not shot:
        shoot(watch_box, "watch.png")
    wait_all_ran(page, "live_watch.ipynb")
    rows = watch_box.locator("table.ice-table tbody tr")
    shown = {}
    for i in range(rows.count()):
        text = rows.nth(i).inner_text()
        job_id = re.search(r"[0-9a-f]{32}", text).group(0)
        shown[job_id] = rows.nth(i).locator(".ice-badge").inner_text().strip()
    assert len(shown) == 6
    assert shown == {job_id: emu.expected(job_id)["Status"] for job_id in shown}
    assert "Fail" in shown.values()  # the clip set up to fail
    assert "no longer refreshing" in watch_box.inner_text()
    assert "all finished: True" in cell(page, "await w.task").inner_text()
    assert_inert(opened)


# ------------------------------------------------------------------------- skip policy


def test_missing_browser_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ICE_WIDGETS_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium"):
        _skip_or_fail("no Chromium installed")
    monkeypatch.setenv("ICE_WIDGETS_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="ICE_WIDGETS_REQUIRE_BROWSER=1"):
        _skip_or_fail("no Chromium installed")
