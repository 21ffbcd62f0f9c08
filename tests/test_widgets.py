"""JobCard and JobsView built without a kernel: their state and their static HTML."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from ice_widgets._errors import NotFoundError  # noqa: E402
from ice_widgets._models import PackageJob  # noqa: E402
from ice_widgets.widgets import JobCard  # noqa: E402

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
