"""The example notebooks in Notebook 7 and in Voilà, as well as JupyterLab, in the system Chromium.

For each front end the quickstart and the batch analysis run against the emulator: the job
cards' badges match the server, and the JobsView filters, pages and opens a card through
real clicks (the widgets talk to a live kernel). Errors logged to the browser console by the
widgets (a view that cannot render, a failed comm message) and failed requests (a 404 such
as JupyterLab's ``/lsp/status`` when the language server is half off) fail the test.

No browser is ever downloaded: ``/usr/bin/chromium`` (Debian's) is driven by Playwright.
Screenshots go to docs/ with ``ICE_WIDGETS_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _nbharness import DEMO_HOSTILE, DEMO_JOBS, DEMO_SEED, REPO, copy_notebooks

from ice_widgets._demo import DemoError, DemoServers, free_port
from ice_widgets.emulator import Emulator

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
UPDATE_SCREENSHOTS = os.environ.get("ICE_WIDGETS_UPDATE_SCREENSHOTS") == "1"
DOCS = REPO / "docs"
IDS_JS = (
    "() => [...document.querySelectorAll('.ice-jobsview table.ice-table tbody tr td .ice-copy')]"
    ".map(e => e.textContent.trim())"
)
PROMPTS_DONE_JS = r"""
() => {
  const cells = [...document.querySelectorAll(".jp-Notebook .jp-CodeCell")];
  if (!cells.length) return false;
  return cells.every(c => /\[\d+\]/.test((c.querySelector(".jp-InputPrompt") || {}).textContent || ""));
}
"""
# Console messages that are not about this project's widgets (each with why it is allowed).
ALLOWED_CONSOLE = (
    # Chromium's own noise when the page asks for a favicon the server does not have.
    re.compile(r"favicon\.ico"),
    # Notebook 7.6's own start-up error: it appears on a blank notebook with no ice_widgets
    # import (a settings listener reads a plugin's schema before it has loaded).
    re.compile(r"reading 'schema'\).*static/notebook/notebook_core", re.S),
    # Voilà's page template loads Font Awesome from jsdelivr; this machine has no network. (A
    # DNS failure's console line names no URL: the failed request itself is checked below.)
    re.compile(r"^https://cdn\.jsdelivr\.net/npm/@fortawesome/"),
    re.compile(r"^Failed to load resource: net::ERR_NAME_NOT_RESOLVED$"),
    # Voilà 0.5 loading Notebook 7's own lab extension (a module-federation mismatch between
    # the two packages' builds): it names @jupyter-notebook/lab-extension, not our widgets.
    re.compile(r"RUNTIME-012.*@jupyter-notebook/lab-extension", re.S),
)


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(candidate, os.X_OK):
            return candidate
    reason = "no Chromium installed (apt-get install chromium; no browser is ever downloaded)"
    if os.environ.get("ICE_WIDGETS_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class FrontEnd(DemoServers):
    """Notebook 7 or Voilà (or JupyterLab) on 127.0.0.1 with a random token, as the demo
    starts JupyterLab: same environment (emulator endpoint, demo key), same clean-up."""

    def __init__(self, app: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app

    def notebook_url(self, name: str = "quickstart.ipynb", *, workspace: str | None = None) -> str:
        if self.app == "notebook":
            return f"{self.base_url}/notebooks/{name}?token={self.token}"
        if self.app == "voila":
            return f"{self.base_url}/voila/render/{name}?token={self.token}"
        return super().notebook_url(name, workspace=workspace)

    def _start_lab(self) -> None:
        if self.app == "lab":
            super()._start_lab()
            return
        self._write_settings()
        self.port = free_port()
        common = [f"--port={self.port}", "--no-browser"]
        if self.app == "notebook":
            argv = [
                sys.executable,
                "-m",
                "notebook",
                *common,
                "--ServerApp.ip=127.0.0.1",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={self.notebook_dir}",
                f"--IdentityProvider.token={self.token}",
                "--ServerApp.log_level=WARN",
            ]
        else:
            argv = [
                sys.executable,
                "-m",
                "voila",
                *common,
                "--Voila.ip=127.0.0.1",
                "--Voila.port_retries=0",
                f"--Voila.root_dir={self.notebook_dir}",
                f"--Voila.token={self.token}",
                "--show_tracebacks=True",
            ]
        if self.app == "notebook" and hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-root")
        proc, log_path = self._spawn(self.app, argv, self.environment())
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.base_url}/?token={self.token}", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
            self._remember_descendants()
        raise DemoError(f"{self.app} did not start:\n{log_path.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(jobs=DEMO_JOBS, seed=DEMO_SEED, hostile=DEMO_HOSTILE, progress_seconds=2.0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module", params=["notebook", "voila"])
def front(request: Any, emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontEnd]:
    folder = copy_notebooks(tmp_path_factory.mktemp(request.param) / "notebooks")
    home = tmp_path_factory.mktemp(f"{request.param}-home")
    with FrontEnd(
        request.param, notebook_dir=folder, endpoint=emu.endpoint, extra_env={"HOME": str(home)}
    ) as f:
        yield f


class Watched:
    """A page whose console errors, uncaught exceptions and failed requests are recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.context.set_default_timeout(60_000)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", self._page_error)
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._failed)

    def _page_error(self, exc: Any) -> None:
        text = f"{exc}\n{exc.stack or ''}"
        if not any(p.search(text) for p in ALLOWED_CONSOLE):
            self.problems.append(f"page error: {text[:1500]}")

    def _failed(self, request: Any) -> None:
        if not any(p.search(request.url) for p in ALLOWED_CONSOLE):
            self.problems.append(f"request failed: {request.url}")

    def _console(self, message: Any) -> None:
        if message.type == "error" and not any(p.search(message.text) for p in ALLOWED_CONSOLE):
            self.problems.append(f"console: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and not any(p.search(response.url) for p in ALLOWED_CONSOLE):
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    page = Watched(browser)
    try:
        yield page
    finally:
        page.close()


def run_notebook(front: FrontEnd, watched: Watched, name: str) -> Any:
    """Open ``name`` in the front end and run every cell; returns the page."""
    page = watched.page
    if front.app == "notebook":
        front.start_kernel(name)  # the page attaches to it: no kernel dialog
        page.goto(front.notebook_url(name))
        page.wait_for_selector(".jp-Notebook .jp-CodeCell")
        page.wait_for_function(
            "() => /Idle|idle/.test((document.querySelector('.jp-Notebook-ExecutionIndicator, "
            ".jp-KernelStatus, #jp-top-bar') || {}).textContent || '') || "
            "document.querySelector('.jp-Notebook-ExecutionIndicator[data-status=idle]')",
            timeout=120_000,
        )
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.locator("li[data-command='runmenu:run-all']").click()
        page.wait_for_function(PROMPTS_DONE_JS, timeout=300_000, polling=500)
    else:
        page.goto(front.notebook_url(name), timeout=300_000, wait_until="load")
        # Voilà runs the cells before (or while) it sends the page; then the widgets render.
        page.wait_for_selector(".jp-OutputArea", timeout=300_000)
        page.wait_for_function(
            "() => !document.querySelector('#loading, .voila-spinner-color1') || "
            "getComputedStyle(document.querySelector('#loading') || document.body).display === 'none'",
            timeout=300_000,
        )
    text = page.inner_text("body")
    assert "Traceback" not in text, text[-3000:]
    assert page.locator("[data-mime-type='application/vnd.jupyter.error']").count() == 0
    return page


def check_card(card: Any, emu: Emulator) -> str:
    job_id = card.locator("input").first.input_value() if card.locator("input").count() else ""
    if not job_id:
        row = card.locator("tr", has=card.page.locator("th", has_text=re.compile(r"^Job ID$")))
        job_id = row.locator("td").inner_text().strip()
    truth = emu.expected(job_id)
    badge = card.locator(".ice-head .ice-badge").first
    assert badge.inner_text().strip().split(" (")[0] == truth["Status"]  # "Init (running)"
    assert f"ice-status-{ {'Success': 'success', 'Fail': 'fail'}.get(truth['Status'], 'running') }" in (
        badge.get_attribute("class") or ""
    )
    return job_id


def shoot(locator: Any, name: str) -> None:
    target = DOCS if UPDATE_SCREENSHOTS else Path(os.environ.get("TMPDIR", "/tmp"))
    locator.scroll_into_view_if_needed()
    path = target / name
    locator.screenshot(path=str(path), animations="disabled")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quickstart(front: FrontEnd, watched: Watched, emu: Emulator) -> None:
    page = run_notebook(front, watched, "quickstart.ipynb")
    page.wait_for_function("() => document.querySelectorAll('.ice-jobcard').length >= 4", timeout=120_000)
    cards = page.locator(".ice-jobcard")
    assert cards.count() == 4  # %ice_job, JobCard(job_id), the bare PackageJob, the failed job
    statuses = []
    for i in range(cards.count()):
        job_id = check_card(cards.nth(i), emu)
        statuses.append(emu.expected(job_id)["Status"])
    assert statuses.count("Success") == 3 and statuses[-1] == "Fail"
    duration = cards.nth(1).locator("tr", has=page.locator("th", has_text=re.compile(r"^Duration$")))
    assert re.search(r"\d", duration.locator("td").inner_text())
    shoot(cards.nth(1), f"{front.app}-jobcard.png")
    assert watched.problems == []


def test_batch_analysis(front: FrontEnd, watched: Watched, emu: Emulator) -> None:
    page = run_notebook(front, watched, "batch_analysis.ipynb")
    view = page.locator(".ice-jobsview").first
    page.wait_for_function(f"() => ({IDS_JS})().length === 25", timeout=120_000)
    view.scroll_into_view_if_needed()
    first = page.evaluate(IDS_JS)

    # the status filter, through the strip's "Fail" button
    view.locator("button", has_text=re.compile(r"^\s*Fail\b")).first.click()
    page.wait_for_function(
        f"(before) => {{ const ids = ({IDS_JS})(); return ids.length && ids.join() !== before; }}",
        arg=",".join(first),
    )
    failed = page.evaluate(IDS_JS)
    assert {emu.expected(i)["Status"] for i in failed} == {"Fail"}
    # opening a card from the "Open job" menu (a failed job: its state does not change)
    menu = view.locator(".widget-dropdown", has=page.locator("label", has_text="Open job")).locator("select")
    pick = next(o for o in menu.locator("option").all_inner_texts() if re.search(r"[0-9a-f]{32}", o))
    menu.select_option(label=pick)
    card = view.locator(".ice-jobcard").first
    card.wait_for(timeout=60_000)
    opened = check_card(card, emu)
    assert opened in pick and emu.expected(opened)["Status"] == "Fail"
    shoot(view, f"{front.app}-jobsview.png")
    view.locator("button", has_text=re.compile(r"^\s*All\b")).first.click()
    page.wait_for_function(f"(first) => ({IDS_JS})().join() === first", arg=",".join(first))

    # paging
    view.locator("button[title='next page']").first.click()
    page.wait_for_function("() => /page 2 of/.test(document.querySelector('.ice-jobsview').textContent)")
    second = page.evaluate(IDS_JS)
    assert len(second) == 25 and not set(second) & set(first)

    assert watched.problems == []


def test_jupyterlab_has_no_failed_requests(emu: Emulator, watched: Watched, tmp_path: Path) -> None:
    """The demo's JupyterLab: the language server is fully on, so no /lsp/status 404."""
    folder = copy_notebooks(tmp_path / "notebooks")
    with FrontEnd(
        "lab", notebook_dir=folder, endpoint=emu.endpoint, extra_env={"HOME": str(tmp_path)}
    ) as lab:
        lab.start_kernel("quickstart.ipynb")
        page = watched.page
        page.goto(lab.notebook_url("quickstart.ipynb", workspace="frontends"))
        page.wait_for_selector(".jp-Notebook .jp-CodeCell")
        page.wait_for_timeout(3000)  # the language-server status is asked for after load
        status = page.evaluate(
            "async (token) => (await fetch('/lsp/status?token=' + token)).status", lab.token
        )
        assert status == 200
    assert watched.problems == []


def test_voila_runs_after_installing_only_the_package_and_voila() -> None:
    """`pip install ice_widgets voila` brings a kernel: ipykernel is a dependency."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert any(r.startswith("ipykernel") for r in project["dependencies"]), project["dependencies"]
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"python3"' in out.stdout
