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
