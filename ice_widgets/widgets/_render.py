"""Pure functions: job records and job frames -> escaped static HTML and plain text.

Nothing here imports ipywidgets: the same functions build the live widgets' HTML and the
static ``text/html`` / ``text/plain`` fallbacks saved in notebooks. This module holds the
packaging card (and hands every other kind's card to
:mod:`~ice_widgets.widgets._kind_render`), frame rows back to jobs, the summary, filtering
and sorting, the job table, the failure triage and the whole view. The primitives
(escaping, links, times, badges, the stylesheet) live in :mod:`~ice_widgets.widgets._html`,
where its safety rules are written; the public ones are re-exported here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ice_widgets._models import KINDS, KNOWN_STATUSES, Media, PackageJob
from ice_widgets.widgets._html import (
    CARD_LIMIT,
    CELL_LIMIT,
    DASH,
    STATE_KIND,
    STATUS_COLORS,
    STYLE,
    badge_html,
    card_errors_html,
    card_head_html,
    card_head_lines,
    clip,
    copy_html,
    esc,
    format_duration,
    format_time,
    is_missing,
    kv_html,
    safe_url,
    short_time_html,
    short_url_html,
    stale_html,
    state_of,
    status_kind,
    status_label,
    status_text,
    time_html,
    time_line,
    url_html,
    user_data_html,
)
from ice_widgets.widgets._kind_render import JobRow, kind_card_html, kind_card_text, kind_label

__all__ = [
    "CARD_LIMIT",
    "CELL_LIMIT",
    "STATE_KIND",
    "STATUS_COLORS",
    "STYLE",
    "TABLE_COLUMNS",
    "Summary",
    "badge_html",
    "card_html",
    "card_text",
    "clip",
    "esc",
    "filter_positions",
    "format_duration",
    "format_time",
    "job_from_row",
    "safe_url",
    "short_url_html",
    "sort_positions",
    "status_kind",
    "status_label",
    "status_text",
    "summarize",
    "summary_html",
    "summary_text",
    "table_html",
    "table_text",
    "triage",
    "triage_html",
    "url_html",
    "view_html",
    "view_text",
]

# --------------------------------------------------------------------------- job card


def _failure(job: PackageJob) -> tuple[str | None, str | None] | None:
    """The job's code and message when it failed (or reports a code without succeeding)."""
    if job.is_failed or (job.code and job.status != "Success"):
        return job.code, job.message
    return None


def _media_html(media: Media | None) -> str:
    if media is None:
        return DASH
    kind = f'<span class="ice-muted">{esc(media.type, 40)}</span> ' if media.type else ""
    return kind + url_html(media.media)


def _duration_row(job: PackageJob, now: datetime | None) -> tuple[str, str]:
    duration = job.duration
    if duration is not None:
        return "Duration", format_duration(duration)
    elapsed = job.elapsed(now)
    if elapsed is not None:
        return "Elapsed", f"{format_duration(elapsed)} (running)"
    return "Duration", "—"


def card_html(
    job: Any,
    *,
    error: tuple[str, str] | None = None,
    stale: str | None = None,
    now: datetime | None = None,
    style: bool = True,
) -> str:
    """The static HTML of one job.

    Parameters
    ----------
    job : PackageJob, TranscodeJob, MediaProducingJob, SnapshotJob, MediaConvertJob or JobRow
        The job; only ``job_id`` (and ``kind``) are needed when ``error`` is given. Jobs of
        the other kinds get their own card (``_kind_render.kind_card_html``): transcode
        sub-jobs with their own badges and outputs, progress, each kind's fields.
    error : (code, message), optional
        The job could not be fetched: shown instead of the job's fields that are unknown.
    stale : str, optional
        Why the last refresh failed: the card is marked stale, the fields are the last known.
    now : datetime, optional
        The time running jobs' elapsed time is measured to (default: now).
    style : bool
        Include the ``<style>`` block.
    """
    if not isinstance(job, PackageJob):  # transcode, media producing, snapshot, media convert
        return kind_card_html(job, error=error, stale=stale, now=now, style=style)
    fetch_error = error is not None and job.status is None
    kind = status_kind(job.status, fetch_error=fetch_error)
    parts = [STYLE if style else "", f'<div class="ice-root ice-card ice-card-{kind}">']
    parts.append(card_head_html(badge_html(job.status, fetch_error=fetch_error), job.name, stale))
    parts.append(card_errors_html(error, _failure(job)))
    label, duration = _duration_row(job, now)
    rows: list[tuple[str, str]] = [
        ("Job ID", copy_html(job.job_id, 200)),
        ("Trigger source", esc(job.trigger_source, 200) or "—"),
        (
            "Pipeline",
            f'<span class="ice-copy">{esc(job.pipeline_id, 200)}</span>' if job.pipeline_id else "—",
        ),
        ("Priority", str(job.priority) if job.priority is not None else "—"),
        ("Submitted", time_html(job.submit_time)),
        ("Finished", time_html(job.finish_time)),
        (label, html.escape(duration)),
    ]
    if job.inputs:
        items = "".join(f"<li>{_media_html(m)}</li>" for m in job.inputs[:50])
        more = f'<li class="ice-muted">… {len(job.inputs) - 50} more</li>' if len(job.inputs) > 50 else ""
        rows.append(("Inputs", f'<ol style="margin:0;padding-left:1.4em">{items}{more}</ol>'))
    else:
        rows.append(("Inputs", DASH))
    rows.append(("Output", _media_html(job.output)))
    rows.append(("Output URL", url_html(job.output_url)))
    if job.message and not job.is_failed and not job.code:
        rows.append(("Message", esc(job.message)))
    rows.append(("User data", user_data_html(job.user_data)))
    rows.append(("Created", time_html(job.create_time)))
    rows.append(("Modified", time_html(job.modified_time)))
    parts.append(kv_html(rows))
    parts.append("</div>")
    return "".join(parts)


def card_text(
    job: Any,
    *,
    error: tuple[str, str] | None = None,
    stale: str | None = None,
    now: datetime | None = None,
) -> str:
    """A readable plain-text card (for consoles and ``text/plain``), for a job of any kind."""
    if not isinstance(job, PackageJob):
        return kind_card_text(job, error=error, stale=stale, now=now)
    fetch_error = error is not None and job.status is None
    lines = card_head_lines(
        status_label(job.status, fetch_error=fetch_error),
        job.name,
        job.job_id,
        stale=stale,
        error=error,
        failure=_failure(job),
    )
    if job.trigger_source or job.pipeline_id or job.priority is not None:
        lines.append(
            f"  Trigger:    {clip(job.trigger_source, 100) or '—'}"
            f"   Pipeline: {clip(job.pipeline_id, 100) or '—'}"
            f"   Priority: {job.priority if job.priority is not None else '—'}"
        )
    for name, value in (("Submitted", job.submit_time), ("Finished", job.finish_time)):
        if value is not None:
            lines.append(time_line(name, value))
    label, duration = _duration_row(job, now)
    lines.append(f"  {label + ':':<11} {duration}")
    for media in job.inputs[:10]:
        lines.append(f"  Input:      {clip(media.media, 300)}")
    if job.output is not None:
        lines.append(f"  Output:     {clip(job.output.media, 300)}")
    if job.output_url:
        lines.append(f"  Output URL: {clip(job.output_url, 300)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- frame rows


def _row_value(row: Mapping[Any, Any], name: str) -> Any:
    value = row.get(name)
    return None if is_missing(value) else value


def job_from_row(row: Mapping[Any, Any]) -> tuple[Any, tuple[str, str] | None]:
    """A frame row (a mapping of column -> value) back to ``(job, fetch error or None)``.

    A packaging row gives a :class:`PackageJob`; a row of another kind a
    :class:`~ice_widgets.widgets._kind_render.JobRow` with the shared attributes (and the
    sub-jobs when the row holds them).
    """

    def text(name: str) -> str | None:
        value = _row_value(row, name)
        return None if value is None else str(value)

    def time(name: str) -> datetime | None:
        value = _row_value(row, name)
        if value is None:
            return None
        return pd.Timestamp(value).to_pydatetime()

    code = text("error_code")
    error = (code, text("error_message") or "") if code is not None else None
    kind = text("kind")
    if kind is not None and kind != "package":
        return _kind_row(row, kind, text, time), error

    inputs_value = row.get("input_media")
    inputs: tuple[Media, ...] = ()
    if isinstance(inputs_value, (list, tuple, np.ndarray)):
        inputs = tuple(Media(None, str(m)) for m in inputs_value if not is_missing(m))
    output = text("output_media")
    priority = _row_value(row, "priority")
    job = PackageJob(
        job_id=text("job_id"),
        name=text("name"),
        status=text("status"),
        trigger_source=text("trigger_source"),
        priority=int(priority) if priority is not None else None,
        pipeline_id=text("pipeline_id"),
        inputs=inputs,
        output=Media(None, output) if output is not None else None,
        output_url=text("output_url"),
        code=text("code"),
        message=text("message"),
        user_data=text("user_data"),
        submit_time=time("submit_time"),
        finish_time=time("finish_time"),
        create_time=time("create_time"),
        modified_time=time("modified_time"),
    )
    return job, error


def _kind_row(row: Mapping[Any, Any], kind: str, text: Any, time: Any) -> Any:
    duration = _row_value(row, "duration")
    progress = _row_value(row, "progress")
    urls = row.get("output_urls")
    if isinstance(urls, (list, tuple, np.ndarray)):
        output_urls = tuple(str(u) for u in urls if not is_missing(u))
    else:
        output_urls = (text("output_url"),) if text("output_url") else ()
    subs = row.get("sub_jobs")
    sub_jobs = tuple(subs) if isinstance(subs, (list, tuple, np.ndarray)) else None
    status = text("status")
    # the row's other columns (each kind's own) are read as attributes of the JobRow
    extras = {
        str(k): (v if isinstance(v, (list, tuple, np.ndarray)) else _row_value(row, k))
        for k, v in row.items()
        if k not in _ROW_FIELDS
    }
    return JobRow(
        kind=kind,
        job_id=text("job_id"),
        name=text("name"),
        status=status,
        state=state_of(status, _row_value(row, "state")),
        submit_time=time("submit_time"),
        finish_time=time("finish_time"),
        create_time=time("create_time"),
        modified_time=time("modified_time"),
        duration=pd.Timedelta(duration).to_pytimedelta() if duration is not None else None,
        progress=float(progress) if isinstance(progress, (int, float, np.number)) else None,
        output_urls=output_urls,
        code=text("code"),
        message=text("message"),
        sub_jobs=sub_jobs,
        extras=extras,
    )


_ROW_FIELDS = frozenset(
    {"kind", "job_id", "name", "status", "state", "duration", "progress", "output_urls", "sub_jobs"}
    | {"submit_time", "finish_time", "create_time", "modified_time", "code", "message"}
)


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Summary:
    """Counts and duration statistics of a job frame.

    Attributes
    ----------
    total : int
        Rows.
    counts : dict
        Rows per status as sent, in display order (running statuses such as Init, then
        succeeded, failed and unknown ones), only statuses present; fetch errors under
        ``"error"``.
    success_rate : float or None
        Succeeded / (succeeded + failed), by state (Success and Complete succeed; Fail,
        Failed, Error and Cancelled fail); None when nothing has finished.
    p50, p90, max : timedelta or None
        Duration statistics of finished jobs.
    """

    total: int
    counts: dict[str, int] = field(default_factory=dict)
    success_rate: float | None = None
    p50: pd.Timedelta | None = None
    p90: pd.Timedelta | None = None
    max: pd.Timedelta | None = None

    @property
    def finished(self) -> int:
        """Jobs that succeeded or failed (by state, whatever their kind's status words)."""
        return sum(n for s, n in self.counts.items() if s != ERROR_KEY and state_of(s) in _DONE)

    @property
    def failed(self) -> int:
        """Jobs whose state is failed (Fail, Failed, Error, Cancelled...)."""
        return sum(n for s, n in self.counts.items() if s != ERROR_KEY and state_of(s) == "failed")


#: Key used in :attr:`Summary.counts` for rows whose fetch failed.
ERROR_KEY = "error"
_DONE = frozenset({"succeeded", "failed"})
_STATE_ORDER = {"running": 0, "succeeded": 1, "failed": 2, "unknown": 3}
#: Display order of the statuses every kind documents (others follow, by name).
_STATUS_WORDS = ("Inited", "Queuing", "Processing", "Running", "Complete", "Failed", "Error", "Cancelled")
_STATUS_ORDER = {s: i for i, s in enumerate((*KNOWN_STATUSES, *_STATUS_WORDS))}


def _status_order(status: Any) -> tuple[int, int, str]:
    text = str(status)
    return (_STATE_ORDER[state_of(text)], _STATUS_ORDER.get(text, len(_STATUS_ORDER)), text)


def summarize(frame: pd.DataFrame) -> Summary:
    """Counts per status, success rate and duration p50/p90/max, all vectorised."""
    total = len(frame)
    counts: dict[str, int] = {}
    if total:
        status = frame["status"]
        vc = status.value_counts(sort=False, dropna=True)
        order = sorted(vc.index, key=_status_order)
        for s in order:
            if int(vc[s]):
                counts[str(s)] = int(vc[s])
        errors = int((status.isna() & frame["error_code"].notna()).sum())
        if errors:
            counts[ERROR_KEY] = errors
        missing = int((status.isna() & frame["error_code"].isna()).sum())
        if missing:
            counts["unknown"] = counts.get("unknown", 0) + missing
    success = sum(n for s, n in counts.items() if s != ERROR_KEY and state_of(s) == "succeeded")
    fail = sum(n for s, n in counts.items() if s != ERROR_KEY and state_of(s) == "failed")
    rate = success / (success + fail) if success + fail else None
    p50 = p90 = top = None
    if total:
        durations = frame["duration"].dropna()
        if len(durations):
            values = durations.to_numpy(dtype="m8[ns]").astype(np.int64)
            q50, q90 = np.percentile(values, [50, 90])
            p50, p90 = pd.Timedelta(int(q50), "ns"), pd.Timedelta(int(q90), "ns")
            top = pd.Timedelta(int(values.max()), "ns")
    return Summary(total, counts, rate, p50, p90, top)


def _count_label(status: str) -> str:
    if status == ERROR_KEY:
        return "⚠ fetch error"
    return status_label(status)


def _count_text(status: str) -> str:
    return "fetch error" if status == ERROR_KEY else status_text(status)


def summary_html(summary: Summary, *, style: bool = False) -> str:
    """The summary strip: badges with counts, success rate, durations."""
    parts = [
        STYLE if style else "",
        f'<div class="ice-root ice-strip"><strong>{summary.total:,} jobs</strong>',
    ]
    for status, n in summary.counts.items():
        kind = "error" if status == ERROR_KEY else status_kind(status)
        label = html.escape(_count_text(status), quote=True)
        parts.append(f'<span class="ice-badge ice-status-{kind}" title="{label}">{label}: {n:,}</span>')
    rate = "—" if summary.success_rate is None else f"{summary.success_rate:.1%}"
    parts.append(f"<span>success rate <strong>{rate}</strong></span>")
    parts.append(
        f'<span class="ice-muted">duration p50 {format_duration(summary.p50)} · p90 '
        f"{format_duration(summary.p90)} · max {format_duration(summary.max)}</span></div>"
    )
    return "".join(parts)


def summary_text(summary: Summary) -> str:
    """The summary strip as one or two lines of text."""
    counts = ", ".join(f"{_count_label(s)}: {n:,}" for s, n in summary.counts.items()) or "no jobs"
    rate = "—" if summary.success_rate is None else f"{summary.success_rate:.1%}"
    return (
        f"{summary.total:,} jobs ({counts}); success rate {rate}; duration p50 "
        f"{format_duration(summary.p50)}, p90 {format_duration(summary.p90)}, "
        f"max {format_duration(summary.max)}"
    )


# --------------------------------------------------------------------------- filter and sort


def states(frame: pd.DataFrame) -> np.ndarray:
    """The state of every row (object array of ``running``/``succeeded``/``failed``/``unknown``).

    From the frame's ``state`` column where it has one, else from ``status`` by the models'
    rule; rows with neither (fetch errors) are ``unknown``.
    """
    status = frame["status"] if "status" in frame.columns else pd.Series([None] * len(frame))
    if isinstance(status.dtype, pd.CategoricalDtype):
        lookup = np.array([state_of(c) for c in status.cat.categories] + ["unknown"], dtype=object)
        out = lookup[status.cat.codes.to_numpy()]  # code -1 (missing) -> the last: unknown
    else:
        out = np.array([state_of(v) for v in status.astype(object)], dtype=object)
    if "state" in frame.columns:
        given = frame["state"].astype(object).to_numpy()
        known = np.isin(given, list(STATE_KIND))
        out = np.where(known, given, out)
    return out


def kinds(frame: pd.DataFrame) -> list[str]:
    """The job kinds present in ``frame`` (its ``kind`` column), in the order of ``KINDS``."""
    if "kind" not in frame.columns or not len(frame):
        return []
    present = {str(k) for k in frame["kind"].dropna().unique()}
    return [k for k in KINDS if k in present] + sorted(present - set(KINDS))


def filter_positions(
    frame: pd.DataFrame, *, status: str | None = None, text: str | None = None, kind: str | None = None
) -> np.ndarray:
    """Row positions matching a status (``"error"`` for fetch errors), a text (ID, name,
    codes) and a job kind (``"transcode"``...; the frame's ``kind`` column).

    Vectorised; the text match is a case-insensitive substring match, not a regex.
    """
    mask = np.ones(len(frame), dtype=bool)
    if kind and "kind" in frame.columns:
        mask &= (frame["kind"] == kind).fillna(False).to_numpy(dtype=bool)
    if status:
        column = frame["status"]
        if status == ERROR_KEY:
            mask &= (column.isna() & frame["error_code"].notna()).to_numpy()
        elif status == "unknown" and not (column == "unknown").fillna(False).any():
            mask &= (column.isna() & frame["error_code"].isna()).to_numpy()
        else:
            mask &= (column == status).fillna(False).to_numpy(dtype=bool)
    needle = (text or "").strip()
    if needle:
        hit = np.zeros(len(frame), dtype=bool)
        for name in ("job_id", "name", "code", "error_code"):
            hit |= frame[name].str.contains(needle, case=False, regex=False, na=False).to_numpy(dtype=bool)
        mask &= hit
    return np.flatnonzero(mask)


def sort_positions(
    frame: pd.DataFrame, positions: np.ndarray, column: str | None, ascending: bool
) -> np.ndarray:
    """``positions`` reordered by ``column`` (missing values last); stable."""
    if not column or column not in frame.columns or len(positions) < 2:
        return positions
    values = frame[column].iloc[positions]
    if values.dtype == object:  # lists of media
        values = values.map(lambda v: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v))
    elif isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("string")
    order: np.ndarray = (
        values.reset_index(drop=True)
        .sort_values(ascending=ascending, na_position="last", kind="stable")
        .index.to_numpy()
    )
    reordered: np.ndarray = positions[order]
    return reordered


# --------------------------------------------------------------------------- table

#: Columns of the job table, (frame column, heading).
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("status", "Status"),
    ("name", "Name"),
    ("job_id", "Job ID"),
    ("submit_time", "Submitted"),
    ("duration", "Duration"),
    ("priority", "Priority"),
    ("code", "Code"),
    ("output_url", "Output"),
)


#: The job kind's column, after the status, in tables over several kinds.
KIND_COLUMN: tuple[str, str] = ("kind", "Kind")

# Table cells aligned right (numbers): duration, priority.
_NUMERIC = frozenset({"duration", "priority"})
# The cell that takes the room left (the name): cut to fit, the table never wider than its box
# unless even the shortest name would not fit (then it scrolls sideways).
_GROW = "name"


def table_columns(with_kind: bool = False) -> tuple[tuple[str, str], ...]:
    """The table's columns: :data:`TABLE_COLUMNS`, with the kind after the status if asked."""
    if not with_kind:
        return TABLE_COLUMNS
    return (TABLE_COLUMNS[0], KIND_COLUMN, *TABLE_COLUMNS[1:])


def _row_cells(row: Mapping[Any, Any], stale: str | None, now: datetime | None) -> dict[str, str]:
    fetch_error = _row_value(row, "error_code") is not None
    status = _row_value(row, "status")
    state = state_of(status, _row_value(row, "state"))
    duration = _row_value(row, "duration")
    if duration is not None:
        duration_html = html.escape(format_duration(duration))
    else:
        elapsed = _row_value(row, "elapsed")
        duration_html = (
            '<span class="ice-elapsed" title="still running: time since it was submitted">'
            f"{html.escape(format_duration(elapsed))}</span>"
            if elapsed is not None
            else DASH
        )
        progress = _row_value(row, "progress")
        if state == "running" and isinstance(progress, (int, float, np.number)) and math.isfinite(progress):
            value = min(100.0, max(0.0, float(progress)))
            duration_html += f' <span class="ice-muted" title="progress">{value:.0f}%</span>'
    kind = _row_value(row, "kind")
    code = _row_value(row, "code")
    if fetch_error:
        code_html = (
            f'<span class="ice-stale ice-ell" title="{esc(row.get("error_code"), 200)}: '
            f'{esc(row.get("error_message"), 300)}">{esc(row.get("error_code"), 80)}</span>'
        )
    elif code is not None:
        message = _row_value(row, "message")
        hover = esc(code, 200) + (f": {esc(message, 300)}" if message is not None else "")
        code_html = f'<code class="ice-ell" title="{hover}">{esc(code, 80)}</code>'
    else:
        code_html = ""
    name = _row_value(row, "name")
    name_html = (
        f'<span class="ice-ell" title="{esc(name, 500)}">{esc(name, CELL_LIMIT)}</span>'
        if name is not None
        else DASH
    )
    priority = _row_value(row, "priority")
    submitted = row.get("submit_time")
    if is_missing(submitted):  # media producing and media convert jobs have no SubmitTime
        submitted = row.get("create_time")
    return {
        "status": badge_html(status, fetch_error=fetch_error, state=state) + stale_html(stale),
        "kind": (f'<span class="ice-muted">{esc(kind_label(kind), 40)}</span>' if kind is not None else DASH),
        "name": name_html,
        "job_id": (
            f'<span class="ice-copy" title="job ID (click to select)">{esc(row.get("job_id"), 80)}</span>'
        ),
        "submit_time": short_time_html(submitted),
        "duration": duration_html,
        "priority": str(priority) if priority is not None else "",
        "code": code_html,
        "output_url": short_url_html(_row_value(row, "output_url")),
    }


def table_html(
    page: pd.DataFrame,
    *,
    start: int = 0,
    total: int | None = None,
    stale: Mapping[str, str] | None = None,
    now: datetime | None = None,
    style: bool = False,
    with_kind: bool = False,
) -> str:
    """One page of the job table (only these rows are rendered).

    Every row is one line high: long names, codes and URLs are cut with an ellipsis (the
    whole text on hover) and the table scrolls sideways when it is wider than its box.

    Parameters
    ----------
    page : DataFrame
        The rows to show (already filtered, sorted and sliced).
    start : int
        Position of the page's first row among the filtered rows (for the row numbers).
    total : int, optional
        Number of filtered rows, for the caption.
    stale : mapping of job ID -> reason, optional
        Rows whose last refresh failed.
    with_kind : bool
        Show each row's job kind (for frames of several kinds).
    """
    stale = stale or {}
    total = len(page) if total is None else total
    columns = table_columns(with_kind)
    head = "".join(
        f'<th class="ice-num">{title}</th>' if name in _NUMERIC else f"<th>{title}</th>"
        for name, title in columns
    )
    rows = []
    for i, record in enumerate(page.to_dict("records")):
        job_id = record.get("job_id")
        reason = stale.get(job_id) if isinstance(job_id, str) else None
        values = _row_cells(record, reason, now)
        cells = "".join(
            f'<td class="ice-num">{values[name]}</td>'
            if name in _NUMERIC
            else (
                f'<td class="ice-grow">{values[name]}</td>' if name == _GROW else f"<td>{values[name]}</td>"
            )
            for name, _ in columns
        )
        rows.append(f'<tr><td class="ice-muted ice-num">{start + i + 1:,}</td>{cells}</tr>')
    if not rows:
        rows.append(f'<tr><td colspan="{len(columns) + 1}" class="ice-muted">No jobs match.</td></tr>')
    end = start + len(page)
    caption = f"rows {start + 1:,}–{end:,} of {total:,}" if len(page) else f"0 of {total:,} rows"
    return (
        f'{STYLE if style else ""}<div class="ice-root ice-scroll"><table class="ice-table ice-fill">'
        f'<caption class="ice-muted">{caption}</caption>'
        f'<thead><tr><th class="ice-num">#</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def table_text(page: pd.DataFrame, *, start: int = 0, total: int | None = None) -> str:
    """One page of the table as aligned text."""
    total = len(page) if total is None else total
    lines = []
    for i, record in enumerate(page.to_dict("records")):
        fetch_error = _row_value(record, "error_code") is not None
        label = status_label(
            _row_value(record, "status"), fetch_error=fetch_error, state=_row_value(record, "state")
        )
        duration = format_duration(_row_value(record, "duration"))
        code = clip(record.get("error_code") if fetch_error else record.get("code"), 40)
        kind = _row_value(record, "kind")
        tag = f"[{clip(kind, 20)}] " if kind is not None and kind != "package" else ""
        lines.append(
            f"{start + i + 1:>6}  {label[:18]:<18} {clip(record.get('job_id'), 40):<34} "
            f"{duration:>12}  {tag}{clip(record.get('name'), 40)}{'  ' + code if code else ''}"
        )
    lines.append(f"        (rows {start + 1 if len(page) else 0:,}–{start + len(page):,} of {total:,})")
    return "\n".join(lines)


# --------------------------------------------------------------------------- failure triage


def triage(frame: pd.DataFrame, *, limit: int = 50) -> pd.DataFrame:
    """Failed jobs and fetch errors grouped by code and message, most frequent first.

    A job failed when its state is failed (Fail, Failed, Error, Cancelled, whatever its kind).
    Returns a DataFrame with columns ``kind`` (``"job failed"`` or ``"fetch error"``),
    ``code``, ``message``, ``count`` and ``example_job_id``, at most ``limit`` rows.
    """
    pieces = []
    failed = frame[states(frame) == "failed"]
    if len(failed):
        pieces.append(("job failed", failed[["code", "message", "job_id"]]))
    errors = frame[(frame["status"].isna() & frame["error_code"].notna()).to_numpy(dtype=bool)]
    if len(errors):
        part = errors[["error_code", "error_message", "job_id"]].rename(
            columns={"error_code": "code", "error_message": "message"}
        )
        pieces.append(("fetch error", part))
    out = []
    for kind, part in pieces:
        grouped = (
            part.fillna({"code": "", "message": ""})
            .groupby(["code", "message"], sort=False, observed=True)["job_id"]
            .agg(["size", "first"])
            .reset_index()
            .rename(columns={"size": "count", "first": "example_job_id"})
        )
        grouped.insert(0, "kind", kind)
        out.append(grouped)
    if not out:
        return pd.DataFrame({"kind": [], "code": [], "message": [], "count": [], "example_job_id": []})
    result: pd.DataFrame = pd.concat(out, ignore_index=True).sort_values(
        "count", ascending=False, kind="stable"
    )
    return result.head(limit).reset_index(drop=True)


def triage_html(table: pd.DataFrame, *, style: bool = False) -> str:
    """The failure triage table; an empty table says there are no failures."""
    if not len(table):
        return f'{STYLE if style else ""}<div class="ice-root ice-muted">No failed jobs.</div>'
    rows = []
    for record in table.to_dict("records"):
        kind = "error" if record["kind"] == "fetch error" else "fail"
        rows.append(
            f'<tr><td><span class="ice-badge ice-status-{kind}">{html.escape(record["kind"])}</span></td>'
            f"<td><code>{esc(record['code'], 120) or '—'}</code></td>"
            f'<td class="ice-wrap">{esc(record["message"], 400) or "—"}</td>'
            f'<td class="ice-num">{int(record["count"]):,}</td>'
            f'<td><span class="ice-copy">{esc(record["example_job_id"], 80)}</span></td></tr>'
        )
    return (
        f'{STYLE if style else ""}<div class="ice-root ice-scroll"><table class="ice-table"><thead><tr>'
        '<th>Kind</th><th>Code</th><th>Message</th><th class="ice-num">Jobs</th><th>Example job</th>'
        "</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def triage_text(table: pd.DataFrame) -> str:
    """The failure triage as text lines."""
    if not len(table):
        return "No failed jobs."
    return "\n".join(
        f"{int(r['count']):>7}  {r['kind']:<11} {clip(r['code'], 40) or '—'}: {clip(r['message'], 100)}"
        for r in table.to_dict("records")
    )


# --------------------------------------------------------------------------- whole view


def _img_html(png: bytes | None, alt: str) -> str:
    if not png:
        return ""
    import base64

    data = base64.b64encode(png).decode("ascii")
    return f'<img class="ice-chart" alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


def view_html(
    *,
    summary: Summary,
    page: pd.DataFrame,
    start: int,
    total: int,
    triage_table: pd.DataFrame,
    charts: Sequence[tuple[str, bytes | None]] = (),
    stale: Mapping[str, str] | None = None,
    note: str | None = None,
    with_kind: bool = False,
) -> str:
    """The dashboard's static HTML: summary, first page, failure triage and charts.

    ``with_kind`` adds the job kind column (frames of several kinds).
    """
    parts = [STYLE, '<div class="ice-root">', summary_html(summary)]
    if note:
        parts.append(f'<div class="ice-muted">{esc(note, 500)}</div>')
    parts.append(table_html(page, start=start, total=total, stale=stale, with_kind=with_kind))
    parts.append('<div class="ice-section">Failure triage</div>')
    parts.append(triage_html(triage_table))
    images = [_img_html(png, alt) for alt, png in charts]
    if any(images):
        parts.append('<div class="ice-section">Charts</div><div>')
        parts.extend(images)
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def view_text(
    *,
    summary: Summary,
    page: pd.DataFrame,
    start: int,
    total: int,
    triage_table: pd.DataFrame,
    note: str | None = None,
    max_rows: int = 10,
) -> str:
    """The dashboard as readable text: summary, the first rows, the triage."""
    parts = ["JobsView: " + summary_text(summary)]
    if note:
        parts.append(clip(note, 300))
    parts.append(table_text(page.head(max_rows), start=start, total=total))
    if len(triage_table):
        parts.append("Failures:\n" + triage_text(triage_table.head(10)))
    return "\n".join(parts)
