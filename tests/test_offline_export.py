"""The README's nbconvert command gives HTML that reads with no kernel and no network.

Each example notebook is executed and converted by the exact command the README gives
(``jupyter nbconvert --execute --to ...``: nbconvert stores the widget state while it
executes, as JupyterLab's "save widget state" does), then opened in the system Chromium with
every request that is not a local file refused. Every job card must show its job ID, status
and duration, every view its summary and first page, with the layout intact (values left
aligned, no table column drawn over another) under nbconvert's own stylesheet.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _nbharness import DEMO_HOSTILE, DEMO_JOBS, DEMO_SEED, NOTEBOOK_NAMES, REPO, copy_notebooks, kernel_env

from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator

pytestmark = [pytest.mark.browser, pytest.mark.notebook, pytest.mark.slow, pytest.mark.timeout(600)]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
JOB_ID = re.compile(r"\b[0-9a-f]{32}\b")


def readme_command() -> list[str]:
    """The one nbconvert command the README gives, as argv (its notebook name last)."""
    text = (REPO / "README.md").read_text()
    found = re.findall(r"^(jupyter nbconvert --execute --to \S+ \S+\.ipynb)$", text, re.M)
    assert len(found) == 1, found
    return shlex.split(found[0])


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(candidate, os.X_OK):
            return candidate
    reason = "no Chromium installed (apt-get install chromium; no browser is ever downloaded)"
    if os.environ.get("ICE_WIDGETS_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(jobs=DEMO_JOBS, seed=DEMO_SEED, hostile=DEMO_HOSTILE, progress_seconds=2.0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def exported(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each example notebook converted by the README's command: name -> the .html file."""
    folder = copy_notebooks(tmp_path_factory.mktemp("export"))
    env = kernel_env(emu.endpoint, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, folder / "home")
    argv = readme_command()
    jupyter = Path(sys.executable).parent / "jupyter"
    out = {}
    for name in NOTEBOOK_NAMES:
        command = [str(jupyter) if argv[0] == "jupyter" else argv[0], *argv[1:-1], name]
        result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=400)
        assert result.returncode == 0, result.stderr[-3000:]
        out[name] = folder / name.replace(".ipynb", ".html")
    return out


@pytest.fixture(scope="module")
def offline_page(exported: dict[str, Path]) -> Iterator[Any]:
    """open(path) -> a page of the file in Chromium, with every network request refused."""
    from playwright.sync_api import sync_playwright

    path = _chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, timeout=60_000)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        refused: list[str] = []

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if url.startswith("file:"):
                request_route.continue_()
            else:
                refused.append(url)
                request_route.abort()

        context.route("**/*", route)

        def open_file(file: Path) -> Any:
            page = context.new_page()
            page.goto(file.as_uri(), wait_until="load")
            page.wait_for_timeout(500)  # let any (failing) script run before looking
            if os.environ.get("ICE_WIDGETS_SHOTS"):
                page.screenshot(path=f"{os.environ['ICE_WIDGETS_SHOTS']}/{file.stem}.png", full_page=True)
            return page

        try:
            yield open_file, refused
        finally:
            browser.close()


def test_export_command_keeps_the_static_form(exported: dict[str, Path]) -> None:
    for name, html in exported.items():
        text = html.read_text()
        assert "ice-root" in text, name
        # No ice_widgets output is left as a widget view that would need the CDN renderer.
        assert WIDGET_VIEW not in text, name
        assert "jupyter-widgets/html-manager" not in text, name


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_cards_and_views_read_offline(
    name: str, exported: dict[str, Path], offline_page: Any, emu: Emulator
) -> None:
    open_file, refused = offline_page
    page = open_file(exported[name])
    cards = page.eval_on_selector_all(
        ".ice-card",
        """els => els.map(card => ({
            text: card.innerText,
            visible: card.getBoundingClientRect().height > 20,
            badge: (card.querySelector('.ice-badge') || {}).innerText || '',
            rows: Object.fromEntries([...card.querySelectorAll('.ice-kv tr')].map(
                tr => [tr.querySelector('th').innerText.trim(), tr.querySelector('td').innerText.trim()])),
            align: [...card.querySelectorAll('.ice-kv td')].map(td => getComputedStyle(td).textAlign),
        }))""",
    )
    views = page.eval_on_selector_all(
        ".ice-root:has(> .ice-strip)",
        """els => els.map(view => ({
            summary: view.querySelector('.ice-strip').innerText,
            rows: view.querySelector('table.ice-table').tBodies[0].rows.length,
            first: (view.querySelector('table.ice-table tbody tr') || {}).innerText || '',
            caption: (view.querySelector('table.ice-table caption') || {}).innerText || '',
            overlaps: [...view.querySelectorAll('table.ice-table')].flatMap(table => {
                const heads = [...table.querySelectorAll('thead th')].map(th => th.getBoundingClientRect());
                return heads.slice(1).flatMap((box, i) =>
                    heads[i].right > box.left + 0.5 ? [[i, heads[i].right, box.left]] : []);
            }),
        }))""",
    )
    expected_cards = {
        "quickstart.ipynb": 4,
        "batch_analysis.ipynb": 4,
        "live_watch.ipynb": 0,
        "transcode_analysis.ipynb": 2,
        "media_producing_live.ipynb": 1,
    }[name]
    assert len(cards) >= expected_cards, (name, len(cards))
    for card in cards:
        assert card["visible"], card["text"][:200]
        job_id = card["rows"]["Job ID"]
        assert JOB_ID.fullmatch(job_id), card["rows"]
        truth = emu.expected(job_id)  # (the kind is known from the ID)
        assert truth["Status"].lower() in card["badge"].lower(), (card["badge"], truth["Status"])
        duration = card["rows"].get("Duration") or card["rows"].get("Elapsed") or ""
        assert re.search(r"\d", duration), card["rows"]  # e.g. "4 min 12 s"; never blank
        assert set(card["align"]) == {"left"}, card["align"]  # not nbconvert's right alignment
    expected_views = {
        "quickstart.ipynb": 0,
        "batch_analysis.ipynb": 1,
        "live_watch.ipynb": 1,
        "transcode_analysis.ipynb": 1,
        "media_producing_live.ipynb": 1,
    }[name]
    assert len(views) == expected_views, (name, len(views))
    for view in views:
        total = int(re.match(r"([\d,]+) jobs", view["summary"]).group(1).replace(",", ""))
        assert (
            total
            == {
                "batch_analysis.ipynb": DEMO_JOBS,
                "live_watch.ipynb": 6,
                "transcode_analysis.ipynb": 5 * 150,  # the day's first 150 jobs of each kind
                "media_producing_live.ipynb": 5,
            }[name]
        )
        assert view["rows"] == min(25, total)
        assert JOB_ID.search(view["first"]), view["first"]
        assert view["overlaps"] == [], view["overlaps"]
    assert all(not url.startswith(("http://127.0.0.1", "http://localhost")) for url in refused)
