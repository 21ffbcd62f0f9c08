"""Hostile input: what users paste and what the API returns is never trusted.

- Very long input stays bounded: 50,000 IDs through fetch_jobs never have more requests
  in flight at the server than the concurrency cap (counted by the emulator's own
  connections, not by a mock).
- Odd IDs (control characters, 10,000 characters, non-strings, NaN in a Series, another
  letter case) give rows with errors, never exceptions and never a wrong job.
- The injection corpus, in every field the API returns, goes through every renderer and
  through the emulator round trip (server -> client -> frame -> JobCard/JobsView static
  HTML and widget state); the HTML is parsed and must hold no script, no ``on*``
  attribute, no active URL (javascript:, data:, vbscript:) and no element the renderer
  does not make itself.
"""

from __future__ import annotations

import asyncio
import html.parser
import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import ice_widgets
from ice_widgets import Client
from ice_widgets._frames import build_frame
from ice_widgets._models import PackageJob
from ice_widgets.emulator import Emulator
from ice_widgets.emulator.corpus import INJECTION_PAYLOADS, hostile_job, hostile_jobs
from ice_widgets.widgets import _render

# --------------------------------------------------------------------------- the HTML checker

URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "data",
    "xlink:href",
    "poster",
    "background",
    "srcset",
}
ACTIVE_SCHEMES = ("javascript:", "data:", "vbscript:", "file:")
#: Elements that never belong in a rendering of job data.
FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "frame",
    "object",
    "embed",
    "base",
    "meta",
    "link",
    "form",
    "svg",
    "math",
    "body",
    "template",
    "textarea",
    "title",
    "noscript",
    "input",
    "applet",
}


class SafeHtmlChecker(html.parser.HTMLParser):
    """Collects everything in a document that could run code or load something."""

    def __init__(self, allowed_tags: set[str] | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.allowed_tags = allowed_tags
        self.problems: list[str] = []
        self.tags: set[str] = set()
        self.styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "style":
            self.styles += 1
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        if self.allowed_tags is not None and tag not in self.allowed_tags:
            self.problems.append(f"unexpected <{tag}>")
        attributes = dict(attrs)
        if tag == "img" and "ice-chart" not in (attributes.get("class") or ""):
            self.problems.append("an <img> that is not the renderer's chart")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style" and value and ("expression(" in value.lower() or "url(" in value.lower()):
                self.problems.append(f"<{tag} style={value[:40]!r}>")
            if name in URL_ATTRIBUTES and value is not None:
                compact = "".join(value.split()).lower()
                # The only data: URL allowed is the renderer's own PNG chart.
                if tag == "img" and "ice-chart" in (attributes.get("class") or ""):
                    if not compact.startswith("data:image/png;base64,"):
                        self.problems.append(f"chart src {value[:40]!r}")
                    continue
                if compact.startswith(ACTIVE_SCHEMES) or compact.startswith("//"):
                    self.problems.append(f"<{tag} {name}={value[:60]!r}>")
                if tag == "a" and name == "href" and not compact.startswith(("http://", "https://", "#")):
                    self.problems.append(f"<a href={value[:60]!r}> is not http(s)")
        if tag == "a" and "href" in attributes:
            rel = (attributes.get("rel") or "").split()
            if not {"noopener", "noreferrer"} <= set(rel):
                self.problems.append(f"<a href={attributes['href']!r:.60}> without rel=noopener noreferrer")


def check_html(document: str, allowed_tags: set[str] | None = None) -> SafeHtmlChecker:
    checker = SafeHtmlChecker(allowed_tags)
    checker.feed(document)
    checker.close()
    assert not checker.problems, f"unsafe HTML: {sorted(set(checker.problems))[:10]}"
    return checker


def tags_of(document: str) -> set[str]:
    checker = SafeHtmlChecker()
    checker.feed(document)
    checker.close()
    return checker.tags


# --------------------------------------------------------------------------- renderers, offline


def benign_job(index: int) -> PackageJob:
    return PackageJob.from_api(
        hostile_job(index, "plain-text", status=("Success", "Fail", "Init", "Weird")[index % 4])
        | {"OutputUrl": "https://bucket.example.com/out.m3u8"}
    )


@pytest.fixture(scope="module")
def benign_tags() -> set[str]:
    """Every tag the renderers make on their own, from ordinary jobs (plus links)."""
    jobs = [benign_job(i) for i in range(8)]
    frame = build_frame(jobs)
    tags: set[str] = {"a"}
    for job in jobs:
        tags |= tags_of(_render.card_html(job))
        tags |= tags_of(_render.card_html(job, error=("NotFound", "x"), stale="old"))
    tags |= tags_of(_render.table_html(frame, start=0, total=len(frame)))
    tags |= tags_of(_render.summary_html(_render.summarize(frame), style=True))
    tags |= tags_of(_render.triage_html(_render.triage(frame), style=True))
    tags |= tags_of(view_html(frame))
    assert "script" not in tags
    return tags


def view_html(frame: pd.DataFrame) -> str:
    return _render.view_html(
        summary=_render.summarize(frame),
        page=frame.head(50),
        start=0,
        total=len(frame),
        triage_table=_render.triage(frame),
        stale={str(frame["job_id"].iloc[0]): "<script>alert('stale')</script>"},
        note="<img src=x onerror=alert(1)>",
    )


HOSTILE = hostile_jobs()
HOSTILE_IDS = [f"{i:03d}" for i in range(len(HOSTILE))]


def test_corpus_is_big_enough() -> None:
    assert len(INJECTION_PAYLOADS) >= 30


@pytest.mark.parametrize("index", range(len(HOSTILE)), ids=HOSTILE_IDS)
def test_every_payload_through_every_card_renderer(index: int, benign_tags: set[str]) -> None:
    raw = HOSTILE[index]
    job = PackageJob.from_api(raw)
    payload = INJECTION_PAYLOADS[index % len(INJECTION_PAYLOADS)]
    documents = {
        "card": _render.card_html(job),
        "card+error": _render.card_html(job, error=(payload, payload), stale=payload),
    }
    for name, document in documents.items():
        checker = check_html(document, benign_tags)
        assert checker.styles <= 1, f"{name}: a <style> that the renderer did not make"
    text = _render.card_text(job)
    assert isinstance(text, str)


def test_every_payload_through_the_table_summary_triage_and_view(benign_tags: set[str]) -> None:
    jobs: list[Any] = [PackageJob.from_api(raw) for raw in HOSTILE]
    frame = build_frame(jobs)
    # Errors carry payloads too (code and message of a failed fetch).
    from ice_widgets._frames import JobError

    errors = [JobError(f"{i:032x}", p, p) for i, p in enumerate(INJECTION_PAYLOADS)]
    frame_with_errors = build_frame(jobs + errors)
    for target in (frame, frame_with_errors):
        for start in range(0, len(target), 25):
            page = target.iloc[start : start + 25]
            check_html(_render.table_html(page, start=start, total=len(target)), benign_tags)
            stale = {str(j): p for j, p in zip(page["job_id"], INJECTION_PAYLOADS, strict=False)}
            check_html(_render.table_html(page, start=start, total=len(target), stale=stale), benign_tags)
        check_html(_render.summary_html(_render.summarize(target), style=True), benign_tags)
        check_html(_render.triage_html(_render.triage(target), style=True), benign_tags)
        check_html(view_html(target), benign_tags)
        for text in (
            _render.summary_text(_render.summarize(target)),
            _render.table_text(target.head(50)),
            _render.triage_text(_render.triage(target)),
        ):
            assert isinstance(text, str)


class VisibleText(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def test_payloads_are_shown_as_text_not_dropped() -> None:
    """Escaping, not stripping: a payload's visible text survives in the card."""
    for index in (0, 4, 13, 23):  # script, img onerror, javascript:, quote breaking
        raw = HOSTILE[index]
        payload = INJECTION_PAYLOADS[index]
        document = _render.card_html(PackageJob.from_api(raw))
        text = VisibleText()
        text.feed(document)
        assert payload.strip() in "".join(text.parts), f"payload {payload!r} is not shown as text"


def test_job_card_widget_state_and_mimebundle_are_safe(benign_tags: set[str]) -> None:
    import ipywidgets as widgets

    from ice_widgets import JobCard

    for raw in HOSTILE[:: max(1, len(HOSTILE) // 20)]:
        card = JobCard(PackageJob.from_api(raw))
        try:
            bundle = card._repr_mimebundle_() or {}
            check_html(bundle.get("text/html", card.to_html()), benign_tags)
            # Every HTML string the front end will set as innerHTML.
            for child in _walk(card):
                if isinstance(child, widgets.HTML | widgets.HTMLMath | widgets.Label):
                    check_html(str(child.value), benign_tags)
                    check_html(str(getattr(child, "description", "") or ""), benign_tags)
                    if isinstance(child, widgets.HTMLMath):
                        raise AssertionError("HTMLMath renders $...$ from data")
        finally:
            card.close()


def _walk(widget: Any) -> Iterator[Any]:
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from _walk(child)


# --------------------------------------------------------------------------- odd IDs


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(jobs=400, seed=31, hostile=len(INJECTION_PAYLOADS)) as emulator:
        yield emulator


def _client(emu: Emulator, **kw: Any) -> Client:
    return Client(
        endpoint=emu.endpoint,
        access_key_id=emu.access_key_id,
        access_key_secret=emu.access_key_secret,
        **kw,
    )


def test_odd_ids_become_rows_with_errors(emu: Emulator) -> None:
    good = emu.job_ids[:5]
    odd: list[Any] = [
        good[0].upper(),  # IDs are lower-case hex; another case is another (missing) job
        "\x00" + good[1],
        good[2] + "\r\nX-Injected: 1",
        "\x1b[31m" + good[3],
        "\u202e" + good[4],
        "a" * 10_000,
        "../../etc/passwd",
        "%00",
        "<script>alert(1)</script>",
        "",
        "   ",
        None,
        math.nan,
        12345,
        3.5,
        b"bytes-id",
        ("tuple",),
    ]
    with _client(emu) as client:
        frame = ice_widgets.fetch_jobs([*good, *odd], client=client, progress=False)
    # The exact table: one row per distinct input, in input order; every odd ID an error row
    # with its own code (identical error rows, "" and "   ", None and NaN, are one row each).
    # Seen failing under the mutation ``odd_ids_dropped`` (tests/_mutations.py), which the
    # old check (``len(frame) <= ...``) let pass.
    not_found = "InvalidParameter.ResourceNotFound"
    control = "InvalidJobId"
    expected: list[tuple[Any, str | None]] = [
        *((job_id, None) for job_id in good),
        (good[0].upper(), not_found),  # another case is another (missing) job
        ("\x00" + good[1], control),
        (good[2] + "\r\nX-Injected: 1", control),
        ("\x1b[31m" + good[3], control),
        ("\u202e" + good[4], control),
        ("a" * 256, "InvalidJobId"),  # cut to 256 characters in the row
        ("../../etc/passwd", not_found),
        ("%00", not_found),
        ("<script>alert(1)</script>", not_found),
        ("", "EmptyJobId"),  # "" and "   "
        (None, "MissingJobId"),  # None and NaN
        ("12345", "InvalidJobId"),
        ("3.5", "InvalidJobId"),
        ("bytes-id", not_found),  # ASCII bytes are decoded, then asked for
        ("('tuple',)", "InvalidJobId"),
    ]
    got = [
        (None if pd.isna(job_id) else job_id, None if pd.isna(code) else code)
        for job_id, code in zip(frame["job_id"], frame["error_code"])
    ]
    assert len(got) == len(expected), f"{len(got)} rows, expected {len(expected)}: {got!r:.2000}"
    assert got == expected
    # Every good job is there and right; no odd ID shows any job's data.
    for job_id in good:
        row = frame.loc[frame["job_id"] == job_id]
        assert row["name"].iloc[0] == emu.expected(job_id).get("Name")
        assert row["status"].iloc[0] == emu.expected(job_id)["Status"]
    bad_rows = frame.iloc[len(good) :]
    assert bad_rows["status"].isna().all() and bad_rows["name"].isna().all()
    assert bad_rows["error_message"].notna().all()


def test_series_with_nan_and_duplicates(emu: Emulator) -> None:
    ids = pd.Series([emu.job_ids[0], None, math.nan, f"  {emu.job_ids[0]}  ", emu.job_ids[1], pd.NA])
    with _client(emu) as client:
        frame = ice_widgets.fetch_jobs(ids, client=client, progress=False)
    good = frame.loc[frame["error_code"].isna(), "job_id"].tolist()
    assert good == [emu.job_ids[0], emu.job_ids[1]], "duplicates and whitespace variants fetched once"


@pytest.mark.parametrize("value", [12345, {"a": 1}, 3.5, None])
def test_wrong_type_for_the_whole_argument(emu: Emulator, value: Any) -> None:
    with _client(emu) as client, pytest.raises(TypeError):
        ice_widgets.fetch_jobs(value, client=client, progress=False)


# --------------------------------------------------------------------------- 50,000 IDs


class InFlight:
    """Counts requests in flight at the server: a request starts when the emulator handles
    it (``_App.handle``) and is in flight while its connection waits to deliver the answer."""

    def __init__(self, emu: Emulator) -> None:
        self.app = emu._runner.app
        self.state = emu._runner.state
        self.max = 0
        self.samples = 0
        self._lock = threading.Lock()
        self._original = self.app.handle

    def __enter__(self) -> InFlight:
        def handle(request: Any) -> Any:
            # Connections holding a delayed answer, plus this one.
            busy = sum(1 for conn in self.state.connections if conn.busy) + 1
            self.samples += 1
            if busy > self.max:
                self.max = busy
            return self._original(request)

        self.app.handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        self.app.handle = self._original


@pytest.mark.slow
def test_fifty_thousand_ids_stay_within_the_concurrency_cap() -> None:
    """50,000 IDs: requests in flight (at the server) and asyncio tasks (on the caller's
    loop, for afetch_jobs) both stay bounded by the cap, not by the number of IDs."""
    cap = 8
    with Emulator(jobs=1000, seed=41, latency_ms=2) as emu:
        ids = [f"{i:032x}" for i in range(50_000 - 1000)] + emu.job_ids
        tasks_max = 0

        async def run() -> pd.DataFrame:
            nonlocal tasks_max
            done = asyncio.Event()

            async def sample() -> None:
                nonlocal tasks_max
                while not done.is_set():
                    tasks_max = max(tasks_max, len(asyncio.all_tasks()))
                    await asyncio.sleep(0.02)

            sampler = asyncio.create_task(sample())
            try:
                with _client(emu) as client:
                    return await ice_widgets.afetch_jobs(ids, client=client, concurrency=cap, progress=False)
            finally:
                done.set()
                await sampler

        with InFlight(emu) as counter:
            frame = asyncio.run(run())
        assert counter.samples >= 50_000
        assert 1 < counter.max <= cap, f"{counter.max} requests in flight with concurrency={cap}"
        # The main task, the sampler and the workers: never one per ID.
        assert tasks_max <= cap + 4, f"{tasks_max} asyncio tasks at once for 50,000 IDs"
        assert len(frame) == 50_000
        assert frame["error_code"].isna().sum() == 1000
        print(f"50,000 IDs: at most {counter.max} requests in flight, {tasks_max} tasks (cap {cap})")


# --------------------------------------------------------------------------- emulator round trip


def _json_normal(value: Any) -> Any:
    """What a value becomes on the wire (lone surrogate pairs join, for instance)."""
    return json.loads(json.dumps(value))


def test_injection_round_trip_through_the_emulator(emu: Emulator, benign_tags: set[str]) -> None:
    import ipywidgets as widgets

    from ice_widgets import JobCard, JobsView

    ids = emu.hostile_ids
    assert len(ids) == len(INJECTION_PAYLOADS)
    with _client(emu) as client:
        frame = ice_widgets.fetch_jobs(ids, client=client, progress=False)
    assert frame["error_code"].isna().all()
    # The payloads arrive byte for byte (as the wire carries them): nothing is "cleaned" away.
    for row in frame.itertuples():
        truth = _json_normal(emu.expected(row.job_id))
        for column, field in (("name", "Name"), ("message", "Message"), ("code", "Code")):
            shown = getattr(row, column)
            shown = None if shown is pd.NA else shown
            assert shown == (truth[field] if truth[field].strip() else None), (column, truth[field][:80])
    view = JobsView(frame, page_size=10)
    try:
        for page in range(view.page_count):
            view.go_to_page(page)
            check_html(view.to_html(charts=page == 0), benign_tags | {"img"})
            for child in _walk(view):
                if isinstance(child, widgets.HTML):
                    check_html(str(child.value), benign_tags | {"img"})
        text = view.to_text()
        assert isinstance(text, str)
    finally:
        view.close()
    for job_id in ids:
        with _client(emu) as client:
            card = JobCard(client.get_package_job(job_id), client=client)
            try:
                check_html(card.to_html(), benign_tags)
                for child in _walk(card):
                    if isinstance(child, widgets.HTML):
                        check_html(str(child.value), benign_tags)
            finally:
                card.close()


def test_watch_polls_within_its_concurrency() -> None:
    """A watch over 1,200 jobs: requests in flight within its concurrency, and a fixed number
    of asyncio tasks on the kernel's loop (not one per watched job each round)."""
    from ice_widgets.widgets._watch import WatchView

    cap = 6
    with Emulator(jobs=3000, seed=43, latency_ms=2) as emu:
        ids = emu.job_ids[-1200:]  # the newest: about a quarter still Init
        tasks_max = 0

        async def run() -> int:
            nonlocal tasks_max
            done = asyncio.Event()

            async def sample() -> None:
                nonlocal tasks_max
                while not done.is_set():
                    tasks_max = max(tasks_max, len(asyncio.all_tasks()))
                    await asyncio.sleep(0.02)

            sampler = asyncio.create_task(sample())
            with _client(emu) as client:
                # What watch() builds, stepped by hand instead of by its background task.
                view = WatchView(ids, client=client, interval=0.05, concurrency=cap)
                try:
                    first = await view.poll_once()
                    second = await view.poll_once()
                finally:
                    view.close()
                    done.set()
                    await sampler
            assert first == len(ids) and 0 < second < first
            return second

        with InFlight(emu) as counter:
            asyncio.run(run())
        assert 1 < counter.max <= cap, f"{counter.max} requests in flight with concurrency={cap}"
        # Its workers (and gather's wrappers), the main task and the sampler: never one per job.
        assert tasks_max <= 2 * cap + 4, f"{tasks_max} asyncio tasks at once to watch {len(ids)} jobs"
        print(f"watch over {len(ids)} jobs: at most {counter.max} requests in flight, {tasks_max} tasks")
