"""The injection corpus through the card, view and watch state of every job kind (issue 9).

Every payload of ``INJECTION_PAYLOADS`` replaces every string of an SDK-shaped job of each
kind (every key the official SDK's models have, nested sub-jobs and output details
included) and the job's status; the models parsed from that are rendered by the card
(HTML and text), the table, the summary, the triage, the whole view and the live widgets'
state, and checked with the same HTML checker as packaging (``tests/test_xss.py``): no
element, attribute, style or URL that the renderers do not make themselves, and the
payload still shown, escaped, as text. The emulator's ``hostile=`` jobs of every kind go
through the same renderers end to end over HTTP.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_models_kinds import CONVERT_GET, PRODUCING_GET, SNAPSHOT_GET, TRANSCODE_GET
from test_xss import CONTROL, _check_widget_state, check

from ice_widgets._models import parse_job
from ice_widgets.emulator.corpus import INJECTION_PAYLOADS
from ice_widgets.widgets import JobCard
from ice_widgets.widgets import _render as r

BODIES = {
    "transcode": TRANSCODE_GET["TranscodeParentJob"],
    "media_producing": PRODUCING_GET["MediaProducingJob"],
    "snapshot": SNAPSHOT_GET["SnapshotJob"],
    "media_convert": CONVERT_GET["Job"],
}
#: Keys whose values the models read as times or numbers: a payload there is just missing.
PAYLOADS = list(enumerate(INJECTION_PAYLOADS))


def poisoned(value: Any, payload: str) -> Any:
    """``value`` with every string in it (at any depth) replaced by ``payload``."""
    if isinstance(value, str):
        return payload
    if isinstance(value, dict):
        return {k: poisoned(v, payload) for k, v in value.items()}
    if isinstance(value, list):
        return [poisoned(v, payload) for v in value]
    return value


def hostile(kind: str, payload: str, status: str | None = None) -> Any:
    """A job of ``kind`` whose every string is ``payload`` (its status ``status`` if given)."""
    data = poisoned(copy.deepcopy(BODIES[kind]), payload)
    if status is not None:
        data["State" if kind == "media_convert" else "Status"] = status
        for sub in data.get("TranscodeJobList", []):
            sub["Status"] = "Fail"  # failed sub-jobs show their (hostile) failure detail
    return parse_job(kind, data)


@pytest.mark.parametrize("kind", list(BODIES))
@pytest.mark.parametrize(("index", "payload"), PAYLOADS, ids=[str(i) for i, _ in PAYLOADS])
def test_card_of_every_kind_with_every_payload(kind: str, index: int, payload: str) -> None:
    for status in (None, "Success", "Failed", "Running"):
        job = hostile(kind, payload, status)
        markup = r.card_html(job, stale=payload)
        text = "".join(check(markup).text)
        shown = r.clip(payload, 300)
        if job.name:  # still there, as text
            assert shown in text and r.esc(payload, 300) in markup
        if status is None and job.status:  # the payload as the status: the badge's text
            assert r.clip(payload, 40)[:30] in text
        for sub in getattr(job, "sub_jobs", ()):
            assert r.clip(sub.job_id, 80) in text
        plain = r.card_text(job, stale=payload)
        assert not CONTROL.search(plain.replace("\n", ""))
    check(r.card_html(parse_job(kind, {}), error=(payload, payload)))


@pytest.mark.parametrize("kind", list(BODIES))
def test_live_card_state_of_every_kind(kind: str) -> None:
    for payload in INJECTION_PAYLOADS:
        card = JobCard(hostile(kind, payload, "Failed"), stale=payload)
        try:
            _check_widget_state(card)
            bundle = card._repr_mimebundle_()
            check(bundle["text/html"])
            assert not CONTROL.search(bundle["text/plain"].replace("\n", ""))
        finally:
            card.close()


def _pages(view: Any) -> None:
    for number in range(view.page_count):
        view.go_to_page(number)
        _check_widget_state(view)
        for _label, position in view._row_menu.options[1:4]:  # open some cards of each page
            view._row_menu.value = position
            _check_widget_state(view)


def test_view_of_every_kind_with_every_payload() -> None:
    from ice_widgets._frames import build_frame
    from ice_widgets.widgets import JobsView

    jobs = [hostile(kind, p, s) for kind in BODIES for p in INJECTION_PAYLOADS for s in (None, "Failed")]
    frame = build_frame(jobs)
    stale = {str(j.job_id): INJECTION_PAYLOADS[0] for j in jobs[:5]}
    for start in range(0, len(frame), 50):
        page = frame.iloc[start : start + 50]
        markup = r.table_html(page, start=start, total=len(frame), stale=stale, with_kind=True)
        text = "".join(check(markup).text)
        for name in page["name"].dropna():
            assert r.clip(name, r.CELL_LIMIT) in text
        assert not CONTROL.search(r.table_text(page).replace("\n", ""))
    summary = r.summarize(frame)
    check(r.summary_html(summary))
    triage = r.triage(frame, limit=1000)
    text = "".join(check(r.triage_html(triage)).text)
    for message in triage["message"]:
        assert r.clip(message, 400) in text
    view = JobsView(frame, page_size=100)
    try:
        assert view.mixed
        _pages(view)
        view.set_filter(kind="transcode", text="<script>")
        assert view.filtered_count > 0
        _check_widget_state(view)
        view._tabs.selected_index = 2
        _check_widget_state(view)
        bundle = view._repr_mimebundle_()
        check(bundle["text/html"])
        assert not CONTROL.search(bundle["text/plain"].replace("\n", ""))
    finally:
        view.close()


def test_hostile_jobs_of_every_kind_from_the_emulator_through_card_view_and_watch() -> None:
    """End to end: hostile jobs of every kind served over HTTP, fetched, viewed, watched, carded."""
    import asyncio

    import pandas as pd

    from ice_widgets import AsyncClient, Client, InvalidResponseError
    from ice_widgets._frames import build_frame
    from ice_widgets.emulator import Emulator
    from ice_widgets.widgets import JobsView
    from ice_widgets.widgets._watch import WatchView

    with Emulator(jobs=5, seed=11, port=0, hostile=len(INJECTION_PAYLOADS)) as emu:
        options = {
            "endpoint": emu.endpoint,
            "access_key_id": emu.access_key_id,
            "access_key_secret": emu.access_key_secret,
            "max_retries": 0,  # one job of 10 MB is refused: once is enough
        }
        ids = {kind: emu.hostile_ids_of(kind) for kind in BODIES}
        too_large: set[str] = set()
        assert all(len(v) == len(INJECTION_PAYLOADS) for v in ids.values())
        with Client(**options) as client:
            jobs = []
            for kind, kind_ids in ids.items():
                for job_id in kind_ids:
                    try:
                        jobs.append(client.get_job(job_id, kind=kind))
                    except InvalidResponseError as exc:  # a 100 KB payload in every field of
                        assert exc.code == "ResponseTooLarge"  # a big job: refused, not shown
                        too_large.add(job_id)
            assert len(jobs) + len(too_large) == sum(map(len, ids.values()))
            assert len(too_large) <= len(ids)
            view = JobsView(build_frame(jobs), client=client)
            try:
                _pages(view)
                check(view.to_html())
            finally:
                view.close()
            for kind, kind_ids in ids.items():
                card = JobCard(kind_ids[1], kind=kind, client=client)
                try:
                    assert card.error is None
                    _check_widget_state(card)
                    check(card.to_html())
                finally:
                    card.close()

        frame = pd.DataFrame([(i, k) for k, v in ids.items() for i in v], columns=["job_id", "kind"])

        async def watched() -> WatchView:
            aclient = AsyncClient(**options)
            watching = WatchView(frame, client=aclient)
            await watching.poll_once()
            await aclient.aclose()
            return watching

        watching = asyncio.run(watched())
        try:
            errors = watching.frame[watching.frame["error_code"].notna()]
            assert set(errors["job_id"]) == too_large
            assert set(errors["error_code"]) <= {"ResponseTooLarge"}
            _pages(watching)
            bundle = watching._repr_mimebundle_()
            check(bundle["text/html"])
            assert emu.access_key_secret not in repr(bundle)
        finally:
            watching.close()
