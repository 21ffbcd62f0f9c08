"""Every injection payload through every renderer: nothing from the API becomes markup.

Each payload of ``INJECTION_PAYLOADS`` is put in every string field of a job (``hostile_job``)
and rendered by the job card, the table page, the summary strip, the failure triage, the
whole static view, the text/plain forms and the live widgets' state. An HTML parser then
checks that the only markup is ours: no ``<script>`` (or other active element), no ``on*``
attribute, no link or source that is not http(s) (or our own PNG charts), and the payload
still shows, escaped, as text.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from ice_widgets._frames import build_frame
from ice_widgets._models import PackageJob
from ice_widgets.emulator.corpus import INJECTION_PAYLOADS, hostile_job, hostile_jobs
from ice_widgets.widgets import JobCard, JobsView
from ice_widgets.widgets import _render as r

FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "base",
    "meta",
    "link",
    "form",
    "svg",
    "math",
    "template",
    "textarea",
    "title",
    "noscript",
    "input",
    "button",
    "body",
    "details",
    "frame",
    "frameset",
}
URL_ATTRS = {"href", "src", "action", "formaction", "data", "xlink:href", "srcset", "poster", "background"}
OUR_STYLES = {"margin:0;padding-left:1.4em", "text-align:left"}
PNG = re.compile(r"^data:image/png;base64,[A-Za-z0-9+/=]+$")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


class Checker(HTMLParser):
    """Records every tag and attribute; ``problems`` lists what must never appear."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "style":
            self._in_style = True
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            if name == "style" and value not in OUR_STYLES:
                self.problems.append(f"{tag} style={value!r}")
            if name in URL_ATTRS:
                low = value.strip().lower()
                if tag == "a" and name == "href" and low.startswith(("http://", "https://")):
                    if dict(attrs).get("rel") != "noopener noreferrer":
                        self.problems.append("link without rel=noopener noreferrer")
                    continue
                if (
                    tag == "img"
                    and name == "src"
                    and PNG.match(value)
                    and dict(attrs).get("class") == "ice-chart"
                ):
                    continue
                self.problems.append(f"{tag} {name}={value[:60]!r}")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        else:
            self.text.append(data)


def check(markup: str) -> Checker:
    checker = Checker()
    checker.feed(markup)
    checker.close()
    assert checker.problems == [], checker.problems[:5]
    for style in checker.styles:  # the only <style> content is our own block
        assert f"<style>{style}</style>" == r.STYLE
    assert markup.count("<style>") <= 1
    return checker


#: C0 and C1 control characters (but tab and newline) are shown as U+FFFD.
SHOWN_AS_REPLACEMENT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown(payload: str, limit: int) -> str:
    """What a renderer must show of ``payload``, built from the raw payload, not by the renderer.

    Control characters replaced by U+FFFD, and a text longer than ``limit`` cut there with
    the cut noted (``… (+N chars)``). Never empty for a non-empty payload, so "the payload is
    still there, as text" cannot pass by matching an empty string. Seen failing under the
    mutation ``clip_shows_nothing`` (tests/_mutations.py), which the old version (``r.clip``
    itself) let pass.
    """
    text = SHOWN_AS_REPLACEMENT.sub("\ufffd", payload)
    if len(text) > limit:
        text = f"{text[:limit]}… (+{len(text) - limit:,} chars)"
    assert text or not payload
    return text


PAYLOADS = list(enumerate(INJECTION_PAYLOADS))


def test_corpus_is_big_enough() -> None:
    assert len(INJECTION_PAYLOADS) >= 30


@pytest.mark.parametrize(("index", "payload"), PAYLOADS, ids=[str(i) for i, _ in PAYLOADS])
def test_card_html_and_text(index: int, payload: str) -> None:
    for status in ("Success", "Fail", "Init", "<b>Weird</b>"):
        job = PackageJob.from_api(hostile_job(index, payload, status=status))
        markup = r.card_html(job, stale=payload)
        checker = check(markup)
        text = "".join(checker.text)
        if job.name:  # the payload is still there, as text (and escaped in the source)
            assert shown(payload, 300) in text, f"payload {index} not shown as text"
            assert html.escape(shown(payload, 300), quote=True) in markup, f"payload {index} not escaped"
        if status == "Fail" and job.message:
            assert shown(payload, r.CARD_LIMIT) in text
        plain = r.card_text(job, stale=payload)
        assert not CONTROL.search(plain.replace("\n", ""))
        if job.name:
            assert shown(payload, 200) in plain
    error_markup = r.card_html(PackageJob(job_id="x"), error=(payload, payload))
    check(error_markup)


def test_frame_renderers_with_every_payload() -> None:
    records = [PackageJob.from_api(d) for d in hostile_jobs()]
    frame = build_frame(records)
    stale = {str(j.job_id): p for j, p in zip(records, INJECTION_PAYLOADS)}
    for start in range(0, len(frame), 25):
        page = frame.iloc[start : start + 25]
        markup = r.table_html(page, start=start, total=len(frame), stale=stale)
        text = "".join(check(markup).text)
        for name in page["name"].dropna():
            assert shown(name, r.CELL_LIMIT) in text
        plain = r.table_text(page, start=start, total=len(frame))
        assert not CONTROL.search(plain.replace("\n", ""))
    summary = r.summarize(frame)
    check(r.summary_html(summary))
    assert "<b>Weird</b>" in "".join(check(r.summary_html(summary)).text)
    triage = r.triage(frame, limit=1000)
    text = "".join(check(r.triage_html(triage)).text)
    for message in triage["message"]:
        assert shown(message, 400) in text
    markup = r.view_html(
        summary=summary,
        page=frame.head(25),
        start=0,
        total=len(frame),
        triage_table=triage,
        charts=[("a", b"\x89PNG\r\n")],
        stale=stale,
        note=INJECTION_PAYLOADS[0],
    )
    check(markup)
    plain = r.view_text(summary=summary, page=frame.head(25), start=0, total=len(frame), triage_table=triage)
    assert not CONTROL.search(plain.replace("\n", ""))


def _tree(root: Any) -> list[Any]:
    found = [root]
    for child in getattr(root, "children", ()) or ():
        found.extend(_tree(child))
    return found


def _check_widget_state(root: Any) -> None:
    """Every HTML widget's value is safe markup; other widgets hold text, never markup flags."""
    import ipywidgets as widgets

    for widget in _tree(root):
        state = widget.get_state()
        if isinstance(widget, (widgets.HTML, widgets.HTMLMath)):
            check(state["value"])
        assert not state.get("description_allow_html"), widget


def test_widgets_state_with_every_payload() -> None:
    records = [PackageJob.from_api(d) for d in hostile_jobs()]
    frame = build_frame(records)
    view = JobsView(frame)
    for page in range(view.page_count):
        view.go_to_page(page)
        _check_widget_state(view)
        for _label, position in view._row_menu.options[1:4]:  # open some cards of each page
            view._row_menu.value = position
            _check_widget_state(view)
    view.set_filter(text="<script>")
    assert view.filtered_count > 0
    _check_widget_state(view)
    view._tabs.selected_index = 2
    _check_widget_state(view)
    bundle = view._repr_mimebundle_()
    check(bundle["text/html"])
    assert not CONTROL.search(bundle["text/plain"].replace("\n", ""))
    for job in records:
        card = JobCard(job, stale=str(job.name))
        _check_widget_state(card)
        bundle = card._repr_mimebundle_()
        check(bundle["text/html"])
        assert not CONTROL.search(bundle["text/plain"].replace("\n", ""))
        card.close()
    view.close()


def test_escaping_is_html_escape_with_quotes() -> None:
    payload = "\"'<>&"
    assert r.esc(payload) == html.escape(payload, quote=True)


def test_hostile_jobs_from_the_emulator_through_live_widgets() -> None:
    """End to end: hostile jobs served over HTTP, fetched, viewed, watched and carded."""
    import asyncio

    from ice_widgets import AsyncClient, Client
    from ice_widgets.emulator import Emulator
    from ice_widgets.widgets._watch import WatchView

    with Emulator(jobs=5, seed=11, port=0, hostile=len(INJECTION_PAYLOADS)) as emu:
        options = {
            "endpoint": emu.endpoint,
            "access_key_id": emu.access_key_id,
            "access_key_secret": emu.access_key_secret,
        }
        ids = emu.hostile_ids
        assert len(ids) == len(INJECTION_PAYLOADS)
        with Client(**options) as client:
            view = JobsView(ids, client=client)
            assert view.frame["error_code"].isna().all()
            for page in range(view.page_count):
                view.go_to_page(page)
                _check_widget_state(view)
            check(view.to_html())
            card = JobCard(ids[1], client=client)
            _check_widget_state(card)
            check(card.to_html())
            card.close()
            view.close()

        async def watched() -> WatchView:
            aclient = AsyncClient(**options)
            watching = WatchView(ids, client=aclient)
            await watching.poll_once()
            await aclient.aclose()
            return watching

        watching = asyncio.run(watched())
        _check_widget_state(watching)
        bundle = watching._repr_mimebundle_()
        check(bundle["text/html"])
        assert emu.access_key_secret not in repr(bundle)
        watching.close()
