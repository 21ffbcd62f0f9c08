"""Pure functions: the job card of every ICE job kind other than packaging, as HTML and text.

Packaging jobs keep their own card (:func:`ice_widgets.widgets._render.card_html`); this
module renders transcode, media producing, snapshot and media convert jobs, and the
:class:`JobRow` that a frame row (or a bare job ID) stands for until the job is fetched.

The renderers read the attributes every model shares (``job_id, kind, name, status,
state, submit_time, finish_time, create_time, modified_time, duration, progress,
output_urls, code, message, raw``), ``sub_jobs`` of transcode jobs, and details of each
kind from ``raw`` (the dict as the API sent it), always tolerantly: a value of the wrong
type is shown as missing, never trusted. The safety rules of ``_html`` hold here too:
every API string goes through :func:`~ice_widgets.widgets._html.esc` or
:func:`~ice_widgets.widgets._html.url_html`; only http(s) URLs become links; the only
attributes we write hold our own class names, numbers or escaped text.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ice_widgets._models import parse_time
from ice_widgets.widgets import _html as h

__all__ = [
    "KIND_LABELS",
    "JobRow",
    "Part",
    "kind_card_html",
    "kind_card_text",
    "kind_label",
    "parts_of",
]

_UTC = UTC

#: Words for each kind, as the card's tag and the view's kind menu show them.
KIND_LABELS: dict[str, str] = {
    "package": "Packaging",
    "transcode": "Transcode",
    "media_producing": "Media producing",
    "snapshot": "Snapshot",
    "media_convert": "Media convert",
}

#: Most sub-jobs / outputs listed in one card (the rest are counted).
MAX_PARTS = 200

# The status vocabulary of a media convert job's outputs (Init/Scheduled/Success/Failed/
# Skipped): Scheduled is waiting to run; the rest follow the jobs' rule.
_PART_STATES = {"Scheduled": "running", "Running": "running"}


def kind_label(kind: Any) -> str:
    """``"Transcode"`` for ``"transcode"``...; an unknown kind as (clipped) text."""
    if isinstance(kind, str) and kind in KIND_LABELS:
        return KIND_LABELS[kind]
    return h.clip(kind, 40) or "unknown kind"


def _kind_class(kind: Any) -> str:
    """A class-name-safe token for a kind (only the five known kinds, else ``other``)."""
    return kind if isinstance(kind, str) and kind in KIND_LABELS else "other"


# --------------------------------------------------------------------------- tolerant access


def _get(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]...`` through mappings and lists; None when any step is missing."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(value, (list, tuple)) or not -len(value) <= key < len(value):
                return None
            value = value[key]
        else:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
    return value


def _items(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list (a single mapping counts as a list of one)."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, (list, tuple)):
        return [x for x in value if isinstance(x, Mapping)]
    return []


def _text(value: Any) -> str | None:
    """A display string for a scalar from the API (strings, numbers); None otherwise."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return None


def _time(value: Any) -> datetime | None:
    """A model's datetime as is, or an API timestamp parsed (None when neither)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
    return parse_time(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _attr(job: Any, name: str, default: Any = None) -> Any:
    """An attribute of a model, or ``default`` when it has none (or reading it fails)."""
    try:
        return getattr(job, name, default)
    except Exception:  # a property that cannot compute on odd data
        return default


def _raw(job: Any) -> Mapping[str, Any]:
    raw = _attr(job, "raw")
    return raw if isinstance(raw, Mapping) else {}


def _state(job: Any) -> str:
    state = _attr(job, "state")
    if state in ("running", "succeeded", "failed", "unknown"):
        return str(state)
    return h.state_of(_attr(job, "status"))


def _list_html(values: Sequence[str], limit: int = 50) -> str:
    if not values:
        return h.DASH
    if len(values) == 1:
        return values[0]
    items = "".join(f"<li>{v}</li>" for v in values[:limit])
    more = f'<li class="ice-muted">… {len(values) - limit:,} more</li>' if len(values) > limit else ""
    return f'<ol style="margin:0;padding-left:1.4em">{items}{more}</ol>'


def _copy(value: Any) -> str:
    text = _text(value) if not isinstance(value, str) else value
    if not text:
        return "—"
    return h.copy_html(text, 200)


def _user_data(value: Any) -> str | None:
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return None
    return _text(value)


# --------------------------------------------------------------------------- a job from a row


@dataclass(frozen=True)
class JobRow:
    """A job of any kind as a frame row holds it (or only its ID, before it is fetched).

    It has the attributes every model shares, so the card renders it like a fetched job;
    the row's other columns (each kind's own: ``template_ids``, ``pipeline_id``...) are in
    ``extras`` and read as attributes too. ``raw`` is empty (a row keeps no wire dict), so
    details only a Get returns (a transcode job's sub-jobs, a convert job's outputs) show
    after a refresh, unless the row holds them.
    """

    kind: str = "package"
    job_id: str | None = None
    name: str | None = None
    status: str | None = None
    state: str = "unknown"
    submit_time: datetime | None = None
    finish_time: datetime | None = None
    create_time: datetime | None = None
    modified_time: datetime | None = None
    duration: timedelta | None = None
    progress: float | None = None
    output_urls: tuple[str, ...] = ()
    code: str | None = None
    message: str | None = None
    sub_jobs: tuple[Any, ...] | None = None
    extras: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not fields: the row's other columns.
        if name.startswith("__") or name == "extras":
            raise AttributeError(name)
        extras = self.__dict__.get("extras") or {}
        if name in extras:
            return extras[name]
        raise AttributeError(name)

    @property
    def output_url(self) -> str | None:
        """The first output URL, or None."""
        return self.output_urls[0] if self.output_urls else None

    @property
    def is_finished(self) -> bool:
        """True once the job succeeded or failed."""
        return self.state in ("succeeded", "failed")

    @property
    def is_failed(self) -> bool:
        """True when the job failed."""
        return self.state == "failed"


# --------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class Part:
    """One sub-job of a transcode job, or one output of a media convert job, for display."""

    label: str | None
    job_id: str | None
    status: str | None
    state: str
    template: str | None = None
    outputs: tuple[str, ...] = ()
    duration: timedelta | None = None
    code: str | None = None
    message: str | None = None
    detail: str | None = None


def _field(item: Any, name: str, key: str | None = None) -> Any:
    """A sub-job's attribute (model) or key (a dict as a frame may hold it)."""
    if isinstance(item, Mapping):
        value = item.get(name)
        return item.get(key) if value is None and key else value
    return _attr(item, name)


def _part_state(item: Any, status: str | None) -> str:
    state = _field(item, "state")
    return state if state in ("running", "succeeded", "failed", "unknown") else h.state_of(status)


def _sub_job_part(sub: Any, index: int) -> Part:
    status = _text(_field(sub, "status", "Status"))
    raw = sub if isinstance(sub, Mapping) else _raw(sub)
    outputs: list[str] = []
    for value in (_field(sub, "output_url"), _get(raw, "Output", "Media"), _get(raw, "Output", "OutputUrl")):
        text = _text(value)
        if text and text not in outputs:
            outputs.append(text)
        if outputs:  # the file written (the model's choice) when there is one
            break
    duration = _field(sub, "duration")
    if not isinstance(duration, timedelta):
        start, end = (
            _time(_field(sub, "submit_time", "SubmitTime")),
            _time(_field(sub, "finish_time", "FinishTime")),
        )
        duration = end - start if start is not None and end is not None and end >= start else None
    bits = []
    meta = _get(raw, "OutFileMeta", "FileBasicInfo")
    width, height = _text(_get(meta, "Width")), _text(_get(meta, "Height"))
    if width and height:
        bits.append(f"{width}×{height}")
    seconds = _number(_field(sub, "media_duration"))
    if seconds is not None and seconds >= 0:
        bits.append(f"{h.format_duration(timedelta(seconds=seconds))} of media")
    size = _number(_field(sub, "file_size"))
    if size is not None and size >= 0:
        bits.append(_bytes(size))
    index_value = _field(sub, "index", "JobIndex")
    label = _text(index_value)
    return Part(
        label=label if label is not None else str(index + 1),
        job_id=_text(_field(sub, "job_id", "JobId")),
        status=status,
        state=_part_state(sub, status),
        template=_text(_field(sub, "template_id"))
        or _text(_get(raw, "ProcessConfig", "Transcode", "TemplateId")),
        outputs=tuple(outputs),
        duration=duration,
        code=_text(_field(sub, "code")),
        message=_text(_field(sub, "message")),
        detail=" · ".join(bits) or None,
    )


def _convert_part(item: Any, index: int) -> Part:
    status = _text(_field(item, "status", "Status"))
    name = _text(_field(item, "name", "Name"))
    group = _text(_field(item, "group"))
    if _field(item, "is_group") is True:
        name = f"group {name or ''}".strip()
    elif group:
        name = f"{group} / {name or '?'}"
    url = _text(_field(item, "output_url"))
    duration = _field(item, "duration")
    if not isinstance(duration, timedelta):
        start, end = _time(_field(item, "create_time")), _time(_field(item, "finish_time"))
        duration = end - start if start is not None and end is not None and end >= start else None
    return Part(
        label=name or str(index + 1),
        job_id=_text(_field(item, "task_id", "TaskId")),
        status=status,
        state=_part_state(item, status),
        outputs=(url,) if url else (),
        duration=duration,
        code=_text(_field(item, "code", "Code")),
        message=_text(_field(item, "message", "Message")),
    )


def _bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GB"  # pragma: no cover


def _sequence(value: Any) -> list[Any] | None:
    if value is None or isinstance(value, (str, bytes, Mapping)):
        return None
    try:
        return list(value)
    except TypeError:
        return None


def parts_of(job: Any) -> tuple[str, list[Part]] | None:
    """The job's parts with their own statuses: ``("Sub-jobs", [...])`` for a transcode job,
    ``("Outputs", [...])`` for a media convert job; None for kinds without parts and when
    the record carries none (a List item, a frame row)."""
    kind = _attr(job, "kind")
    if kind == "transcode":
        subs = _sequence(_attr(job, "sub_jobs"))
        if not subs:
            return None
        return "Sub-jobs", [_sub_job_part(s, i) for i, s in enumerate(subs)]
    if kind == "media_convert":
        # a model's ``outputs``; a frame row's ``output_details`` (the same, as dicts)
        outputs = _sequence(_attr(job, "outputs")) or _sequence(_attr(job, "output_details"))
        if not outputs:
            return None
        return "Outputs", [_convert_part(d, i) for i, d in enumerate(outputs)]
    return None


def _parts_html(title: str, parts: list[Part]) -> str:
    counts: dict[str, int] = {}
    for part in parts:
        counts[part.state] = counts.get(part.state, 0) + 1
    tally = " ".join(
        f'<span class="ice-badge ice-status-{h.STATE_KIND[s]}">{h.STATE_WORDS[s]}: {counts[s]:,}</span>'
        for s in ("succeeded", "failed", "running", "unknown")
        if counts.get(s)
    )
    head = f'<div class="ice-section">{title} ({len(parts):,}) {tally}</div>'
    sub_jobs = title == "Sub-jobs"
    width = 6 if sub_jobs else 5
    rows = []
    for part in parts[:MAX_PARTS]:
        outputs = "<br>".join(h.short_url_html(u) for u in part.outputs[:5]) or h.DASH
        detail = f'<div class="ice-muted">{h.esc(part.detail, 200)}</div>' if part.detail else ""
        template = f'<td><span class="ice-mono">{h.esc(part.template, 80)}</span></td>' if sub_jobs else ""
        css = h.STATE_KIND[part.state]
        rows.append(
            f'<tr class="ice-part ice-part-{css}">'
            f'<td class="ice-muted">{h.esc(part.label, 60)}</td>'
            f"<td>{h.badge_html(part.status, state=part.state)}</td>"
            f'<td><span class="ice-copy">{h.esc(part.job_id, 80)}</span></td>'
            f"{template}"
            f'<td class="ice-num">{html.escape(h.format_duration(part.duration))}</td>'
            f'<td class="ice-out">{outputs}{detail}</td></tr>'
        )
        if part.code or part.message or part.state == "failed":
            # the failure on its own line under the part, as wide as the table
            failure = (
                f"<code>{h.esc(part.code, 200) or '—'}</code> "
                f'<span class="ice-msg">{h.esc(part.message, 1000) or "(no message)"}</span>'
            )
            rows.append(
                f'<tr class="ice-part-failure ice-part-{css}"><td></td>'
                f'<td colspan="{width - 1}" class="ice-wrap">{failure}</td></tr>'
            )
    if len(parts) > MAX_PARTS:
        rows.append(
            f'<tr><td colspan="{width}" class="ice-muted">'
            f"… {len(parts) - MAX_PARTS:,} more not shown</td></tr>"
        )
    heads = (
        '<th>#</th><th>Status</th><th>Job ID</th><th>Template</th><th class="ice-num">Duration</th>'
        "<th>Output</th>"
        if sub_jobs
        else '<th>Output</th><th>Status</th><th>Task ID</th><th class="ice-num">Duration</th><th>File</th>'
    )
    return (
        f'{head}<div class="ice-scroll"><table class="ice-table ice-parts"><thead><tr>{heads}'
        "</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


# --------------------------------------------------------------------------- per-kind rows


def _progress_html(progress: float | None, state: str) -> str:
    if progress is None:
        return h.DASH
    value = min(100.0, max(0.0, progress))
    return (
        f'<progress class="ice-progress ice-progress-{h.STATE_KIND[state]}" max="100" value="{value:.1f}">'
        f"</progress> {value:.0f}%"
    )


def _duration_row(job: Any, state: str, now: datetime | None) -> tuple[str, str]:
    duration = _attr(job, "duration")
    if isinstance(duration, timedelta):
        return "Duration", h.format_duration(duration)
    if state == "running":
        start = _attr(job, "submit_time") or _attr(job, "create_time")
        if isinstance(start, datetime):
            now = now or datetime.now(_UTC)
            elapsed = max(now - start, timedelta(0))
            return "Elapsed", f"{h.format_duration(elapsed)} (running)"
    return "Duration", "—"


def _media_html(media: Any) -> str:
    """A :class:`~ice_widgets.Media` (type, location) as HTML: the type muted, the location a link or text."""
    if media is None:
        return h.DASH
    if isinstance(media, str):  # a frame row holds locations only
        return h.url_html(media)
    kind = _text(_attr(media, "type"))
    location = _text(_attr(media, "media"))
    prefix = f'<span class="ice-muted">{h.esc(kind, 40)}</span> ' if kind else ""
    return prefix + h.url_html(location)


def _first(values: Any) -> Any:
    items = _sequence(values)
    return items[0] if items else None


def _medias_html(values: Any) -> str:
    items = _sequence(values) or []
    return _list_html([_media_html(m) for m in items])


def _ids_html(values: Any) -> str:
    items = [v for v in (_sequence(values) or []) if _text(v)]
    return _list_html([_copy(v) for v in items])


def _number_text(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "—"
    return f"{number:,.0f}" if number.is_integer() else f"{number:,g}"


def _kind_rows(job: Any) -> list[tuple[str, str]]:
    """Rows only this kind has, after the shared ones."""
    kind = _attr(job, "kind")
    rows: list[tuple[str, str]] = []
    if kind == "transcode":
        rows.append(("Inputs", _medias_html(_attr(job, "inputs") or _attr(job, "input_media"))))
        rows.append(("Outputs", _medias_html(_attr(job, "outputs"))))
        rows.append(("Templates", _ids_html(_attr(job, "template_ids") or [_attr(job, "template_id")])))
        rows.append(("Sub-job count", _number_text(_attr(job, "job_count"))))
        rows.append(("Trigger source", h.esc(_attr(job, "trigger_source"), 200) or "—"))
        rows.append(("Pipeline", _copy(_attr(job, "pipeline_id"))))
        rows.append(("Priority", _number_text(_attr(job, "priority"))))
    elif kind == "media_producing":
        rows.append(("Media ID", _copy(_attr(job, "media_id"))))
        seconds = _number(_attr(job, "media_duration"))
        length = (
            h.format_duration(timedelta(seconds=seconds)) if seconds is not None and seconds >= 0 else "—"
        )
        rows.append(("Media length", html.escape(length)))
        rows.append(("Project", _copy(_attr(job, "project_id"))))
        rows.append(("Template", _copy(_attr(job, "template_id"))))
        if _text(_attr(job, "vod_media_id")):
            rows.append(("VOD media ID", _copy(_attr(job, "vod_media_id"))))
    elif kind == "snapshot":
        rows.append(("Input", _media_html(_attr(job, "input") or _first(_attr(job, "input_media")))))
        rows.append(("Output", _media_html(_attr(job, "output") or _attr(job, "output_media"))))
        oss = _attr(job, "output_oss")
        if oss is not None:
            bucket, location, obj = (_text(_attr(oss, n)) for n in ("bucket", "location", "object"))
            text = f"oss://{bucket or '?'}/{obj or ''}" + (f" ({location})" if location else "")
            rows.append(("Output OSS file", f'<span class="ice-copy">{h.esc(text, 500)}</span>'))
        rows.append(("Snapshot type", h.esc(_attr(job, "snapshot_type"), 80) or "—"))
        rows.append(("Count", _number_text(_attr(job, "count") or _attr(job, "snapshot_count"))))
        rows.append(("Template", _copy(_attr(job, "template_id"))))
        rows.append(("Pipeline", _copy(_attr(job, "pipeline_id"))))
        rows.append(("Trigger source", h.esc(_attr(job, "trigger_source"), 200) or "—"))
    elif kind == "media_convert":
        rows.append(("Inputs", _medias_html(_attr(job, "inputs") or _attr(job, "input_media"))))
        destinations = [h.url_html(d) for d in (_sequence(_attr(job, "destinations")) or []) if _text(d)]
        rows.append(("Destinations", _list_html(destinations)))
        rows.append(("Pipeline", _copy(_attr(job, "pipeline_id"))))
        if _text(_attr(job, "client_token")):
            rows.append(("Client token", _copy(_attr(job, "client_token"))))
    return rows


def _output_links(job: Any) -> list[str]:
    urls = _sequence(_attr(job, "output_urls")) or []
    found = [u for u in urls if isinstance(u, str) and u.strip()]
    if not found:
        single = _attr(job, "output_url")
        if isinstance(single, str) and single.strip():
            found = [single]
    return found


def _failure(job: Any, state: str) -> tuple[str | None, str | None] | None:
    code, message = _text(_attr(job, "code")), _text(_attr(job, "message"))
    if state == "failed" or (code and state != "succeeded"):
        return code, message
    return None


def _mixed_outcome(state: str, title: str, parts: list[Part]) -> str | None:
    """A warning when the job says it succeeded while some of its parts failed (ICE documents a
    transcode parent's Success as "all sub-jobs" in one place and "at least one" in another)."""
    failed = sum(1 for p in parts if p.state == "failed")
    if state == "succeeded" and failed:
        noun = "sub-jobs" if title == "Sub-jobs" else "outputs"
        return f"{failed:,} of {len(parts):,} {noun} failed although the job reports success."
    return None


def kind_card_html(
    job: Any,
    *,
    error: tuple[str, str] | None = None,
    stale: str | None = None,
    now: datetime | None = None,
    style: bool = True,
) -> str:
    """The static HTML card of a transcode, media producing, snapshot or media convert job.

    Parameters
    ----------
    job : model or JobRow
        ``TranscodeJob``, ``MediaProducingJob``, ``SnapshotJob``, ``MediaConvertJob`` or a
        :class:`JobRow`; only ``job_id`` and ``kind`` are needed when ``error`` is given.
    error, stale, now, style
        As for :func:`ice_widgets.widgets._render.card_html`.
    """
    status = _attr(job, "status")
    fetch_error = error is not None and status is None
    state = _state(job)
    kind = _attr(job, "kind")
    css = "error" if fetch_error else h.STATE_KIND[state]
    parts = [
        h.STYLE if style else "",
        f'<div class="ice-root ice-card ice-card-{css} ice-kind-{_kind_class(kind)}">',
    ]
    badge = h.badge_html(status, state=state, fetch_error=fetch_error)
    parts.append(h.card_head_html(badge, _attr(job, "name"), stale, tag=kind_label(kind)))
    failure = _failure(job, state)
    parts.append(h.card_errors_html(error, failure))
    label, duration = _duration_row(job, state, now)
    rows: list[tuple[str, str]] = [("Job ID", _copy(_attr(job, "job_id")))]
    progress = _number(_attr(job, "progress"))
    if kind in ("media_producing", "media_convert", "transcode") or progress is not None:
        rows.append(("Progress", _progress_html(progress, state)))
    if kind not in ("media_producing", "media_convert"):
        rows.append(("Submitted", h.time_html(_attr(job, "submit_time"))))
    else:
        rows.append(("Created", h.time_html(_attr(job, "create_time"))))
    rows.append(
        ("Completed" if kind == "media_producing" else "Finished", h.time_html(_attr(job, "finish_time")))
    )
    rows.append((label, html.escape(duration)))
    links = [h.url_html(u) for u in _output_links(job)]
    rows.append(("Output URL" if len(links) <= 1 else "Output URLs", _list_html(links)))
    rows.extend(_kind_rows(job))
    if failure is None and _text(_attr(job, "message")):
        rows.append(("Message", h.esc(_attr(job, "message"))))
    user_data = _user_data(_attr(job, "user_data"))
    rows.append(("User data", h.user_data_html(user_data)))
    if kind not in ("media_producing", "media_convert"):
        rows.append(("Created", h.time_html(_attr(job, "create_time"))))
    rows.append(("Modified", h.time_html(_attr(job, "modified_time"))))
    parts.append(h.kv_html(rows))
    found = parts_of(job)
    if found is not None:
        warning = _mixed_outcome(state, *found)
        if warning:
            parts.append(f'<div class="ice-warn">{html.escape(warning)}</div>')
        parts.append(_parts_html(*found))
    elif kind == "transcode":
        failed = _number(_attr(job, "sub_jobs_failed")) if isinstance(job, JobRow) else None
        note = f" ({failed:,.0f} failed)" if failed else ""
        parts.append(
            '<div class="ice-section">Sub-jobs</div><div class="ice-muted">'
            f"None in this record{note} (List answers and table rows carry no sub-jobs): "
            "Refresh fetches the job with its sub-jobs.</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def kind_card_text(
    job: Any,
    *,
    error: tuple[str, str] | None = None,
    stale: str | None = None,
    now: datetime | None = None,
) -> str:
    """A readable plain-text card of a job of any kind but packaging."""
    status = _attr(job, "status")
    fetch_error = error is not None and status is None
    state = _state(job)
    kind = _attr(job, "kind")
    lines = h.card_head_lines(
        h.status_label(status, state=state, fetch_error=fetch_error),
        _attr(job, "name"),
        _attr(job, "job_id"),
        stale=stale,
        error=error,
        failure=_failure(job, state),
        tag=kind_label(kind),
    )
    progress = _number(_attr(job, "progress"))
    if progress is not None:
        lines.append(f"  Progress:   {min(100.0, max(0.0, progress)):.0f}%")
    for name, value in (
        ("Submitted", _attr(job, "submit_time")),
        ("Created", _attr(job, "create_time") if kind in ("media_producing", "media_convert") else None),
        ("Completed" if kind == "media_producing" else "Finished", _attr(job, "finish_time")),
    ):
        if isinstance(value, datetime):
            lines.append(h.time_line(name, value))
    label, duration = _duration_row(job, state, now)
    lines.append(f"  {label + ':':<11} {duration}")
    for url in _output_links(job)[:10]:
        lines.append(f"  Output URL: {h.clip(url, 300)}")
    found = parts_of(job)
    if found is not None:
        title, parts = found
        lines.append(f"  {title} ({len(parts):,}):")
        for part in parts[:50]:
            label_text = h.status_label(part.status, state=part.state)
            line = f"    {h.clip(part.label, 30):<6} {label_text[:24]:<24} {h.clip(part.job_id, 40)}"
            if part.outputs:
                line += f"  {h.clip(part.outputs[0], 200)}"
            if part.code or part.message:
                line += f"  {h.clip(part.code, 80) or '—'}: {h.clip(part.message, 200)}"
            lines.append(line)
        if len(parts) > 50:
            lines.append(f"    … {len(parts) - 50:,} more")
    return "\n".join(lines)
