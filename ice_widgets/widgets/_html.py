"""Pure HTML primitives shared by every renderer: escaping, links, times, durations, status
badges and the one stylesheet.

The job cards (:mod:`~ice_widgets.widgets._render` for packaging, the tables and the view;
:mod:`~ice_widgets.widgets._kind_render` for the other kinds) are built from these; this
module imports neither of them, nor ipywidgets.

Safety rules, applied in one place (:func:`esc`, :func:`url_html`):

* every string that comes from the API is cut to a display length, stripped of control
  characters and escaped with ``html.escape(quote=True)`` before it reaches HTML;
* only ``http://`` and ``https://`` URLs become links, always with
  ``rel="noopener noreferrer" target="_blank"``; anything else (``oss://``, ``javascript:``,
  ``data:``...) is shown as selectable text;
* the markup contains no script and no event handler; styling is one ``<style>`` block with
  classes prefixed ``ice-``.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ice_widgets._models import job_state

__all__ = [
    "CARD_LIMIT",
    "CELL_LIMIT",
    "DASH",
    "STATE_KIND",
    "STATE_WORDS",
    "STATUS_COLORS",
    "STYLE",
    "USER_DATA_LIMIT",
    "badge_html",
    "card_errors_html",
    "card_head_html",
    "card_head_lines",
    "clip",
    "copy_html",
    "esc",
    "format_duration",
    "format_time",
    "is_missing",
    "kv_html",
    "safe_url",
    "short_time_html",
    "short_url_html",
    "stale_html",
    "state_of",
    "status_kind",
    "status_label",
    "status_text",
    "time_html",
    "time_line",
    "url_html",
    "user_data_html",
]

_UTC = UTC

#: Longest text shown for one field in a card; the rest is cut with a note.
CARD_LIMIT = 2_000
#: Longest text shown in one table cell.
CELL_LIMIT = 120
#: Longest UserData shown (pretty-printed) in a card.
USER_DATA_LIMIT = 8_000

#: What a card row or a table cell shows for a missing value.
DASH = '<span class="ice-muted">—</span>'

# C0/C1 control characters except tab and newline: terminal escapes, NUL, BEL...
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Characters that make a URL unsafe to link whatever its scheme says.
_URL_BAD = re.compile(r"[\x00-\x20\x7f-\x9f\"'<>`\\]")

#: Colour of each status kind: the badges, the summary strip's buttons and the charts use these.
STATUS_COLORS = {
    "success": "#1a7f37",
    "fail": "#cf222e",
    "running": "#0969da",
    "unknown": "#6e7781",
    "error": "#9a6700",
}
# Jobs of every kind: the kind's tag beside the name, progress bars, the sub-jobs table.
_KIND_RULES = (
    ".ice-kindtag{border:1px solid rgba(127,127,127,.5);border-radius:4px;padding:0 5px;font-size:11px;"
    "white-space:nowrap;opacity:.85}\n"
    ".ice-progress{width:10em;height:.8em;vertical-align:middle}\n"
    # as specific as the host-proof table rules below (.ice-root table.ice-table td)
    ".ice-root table.ice-parts td{vertical-align:top}"
    ".ice-root table.ice-parts td.ice-out{white-space:normal;min-width:12em}"
    ".ice-root table.ice-parts td.ice-out .ice-ell{max-width:11em}\n"
    ".ice-root table.ice-parts .ice-msg{white-space:normal;overflow-wrap:anywhere}\n"
    ".ice-root table.ice-parts tr.ice-part-fail{background:rgba(207,34,46,.06)}"
    ".ice-root table.ice-parts tr.ice-part:has(+ tr.ice-part-failure) td{border-bottom:none}\n"
    ".ice-root table.ice-parts tr.ice-part-failure td{padding-top:0;white-space:normal}\n"
    ".ice-warn{border-left:4px solid #9a6700;background:rgba(154,103,0,.1);padding:4px 8px;margin:6px 0}\n"
)
_STATUS_RULES = "".join(f".ice-status-{kind}{{background:{color}}}" for kind, color in STATUS_COLORS.items())

# The static HTML must keep its layout under the host's stylesheet: JupyterLab and nbconvert
# style every table in an HTML output (`:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td`
# right-aligns cells, `table-layout: fixed` gives every column the same width, so long job IDs
# run into the next column; rows are striped, tables centred). These rules are one step more
# specific than the host's (`.ice-root table.x td` is 0,2,2 against 0,2,1).
_HOST_RULES = """\
.ice-root table.ice-kv,.ice-root table.ice-table{table-layout:auto;margin:0;border:none;\
font-size:inherit;color:inherit}
.ice-root table.ice-table{font-size:12px}
.ice-root table.ice-kv th,.ice-root table.ice-kv td,.ice-root table.ice-table th,\
.ice-root table.ice-table td{text-align:left;line-height:1.4}
.ice-root table.ice-kv th{padding:2px 12px 2px 0;vertical-align:top;white-space:nowrap}
.ice-root table.ice-kv td{padding:2px 0;vertical-align:top;white-space:normal}
.ice-root table.ice-table th,.ice-root table.ice-table td{padding:3px 6px;white-space:nowrap}
.ice-root table.ice-table td.ice-wrap{white-space:normal}
.ice-root table.ice-table td.ice-num,.ice-root table.ice-table th.ice-num{text-align:right}
.ice-root table.ice-kv tbody tr,.ice-root table.ice-kv tr{background:transparent}
.ice-root table.ice-kv ol{margin:0}
"""

STYLE = (
    """<style>
.ice-root{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px;\
color:var(--jp-ui-font-color1,inherit);line-height:1.4}
.ice-card{border:1px solid rgba(127,127,127,.35);border-radius:6px;padding:8px 12px;max-width:60em}
.ice-head{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-bottom:6px}
.ice-name{font-weight:600;font-size:14px;overflow-wrap:anywhere;unicode-bidi:isolate}
.ice-badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;\
line-height:1.35;color:#fff;white-space:nowrap}
"""
    + _STATUS_RULES
    + """
.ice-status-success::before{content:"✓ "}.ice-status-fail::before{content:"✗ "}
.ice-status-running::before{content:"● "}.ice-status-unknown::before{content:"? "}
.ice-status-error::before{content:"⚠ "}
.ice-stale{border:1px dashed #9a6700;color:#9a6700;border-radius:4px;padding:0 4px;font-size:12px;\
margin-left:4px;white-space:nowrap}
.ice-error{border-left:4px solid #cf222e;background:rgba(207,34,46,.1);padding:4px 8px;margin:6px 0}
.ice-error code{font-weight:700}
.ice-kv,.ice-table{border-collapse:collapse;font-size:inherit;color:inherit}
.ice-root a.ice-link{color:var(--jp-content-link-color,#0969da);text-decoration:underline;\
text-underline-offset:2px}
.ice-root a.ice-link:hover{text-decoration-thickness:2px}
.ice-root a.ice-link::after{content:" ↗";font-size:.85em;text-decoration:none;display:inline-block;\
margin-left:1px}
.ice-scroll{overflow-x:auto;max-width:100%}
.ice-nowrap{white-space:nowrap}
.ice-kv th{text-align:left;font-weight:600;padding:2px 12px 2px 0;vertical-align:top;white-space:nowrap}
.ice-kv td{padding:2px 0;overflow-wrap:anywhere;unicode-bidi:isolate}
.ice-table{font-size:12px}
.ice-table.ice-fill{width:100%}
.ice-table th,.ice-table td{border-bottom:1px solid rgba(127,127,127,.25);padding:3px 6px;\
text-align:left;vertical-align:middle;white-space:nowrap;unicode-bidi:isolate}
.ice-table thead th{font-weight:600;border-bottom-width:2px}
.ice-table tbody tr:hover{background:rgba(127,127,127,.1)}
.ice-table td.ice-num,.ice-table th.ice-num{text-align:right;font-variant-numeric:tabular-nums}
.ice-table caption{text-align:left;caption-side:top;padding:0 0 2px}
.ice-table .ice-copy{font-size:11px}
.ice-ell{display:inline-block;max-width:16em;overflow:hidden;text-overflow:ellipsis;\
white-space:nowrap;vertical-align:middle}
.ice-table td.ice-grow{max-width:0;width:100%;min-width:10em}
.ice-grow>.ice-ell{display:block;max-width:none}
.ice-table .ice-badge{font-size:11px;padding:0 7px}
.ice-table code{font-family:var(--jp-code-font-family,monospace);font-size:11px;max-width:13em}
.ice-table .ice-url{max-width:10em}
.ice-elapsed{font-style:italic}
.ice-table td.ice-wrap{white-space:normal;min-width:16em}
.ice-table a.ice-link::after{content:none}
.ice-mono{font-family:var(--jp-code-font-family,monospace);font-size:11px}
.ice-copy{user-select:all;font-family:var(--jp-code-font-family,monospace);font-size:12px}
.ice-muted{opacity:.7;font-size:12px}
.ice-pre{white-space:pre-wrap;overflow-wrap:anywhere;max-height:20em;overflow:auto;margin:0;\
font-family:var(--jp-code-font-family,monospace);font-size:12px}
.ice-strip{display:flex;gap:14px;flex-wrap:wrap;align-items:center;margin:4px 0}
.ice-section{font-weight:600;margin:10px 0 4px}
.ice-chart{max-width:100%;background:#fff}
.ice-jobsview .widget-html-content,.ice-jobsview .jupyter-widget-html-content,\
.ice-jobcard .widget-html-content,.ice-jobcard .jupyter-widget-html-content{min-width:0}
.ice-jobsview .ice-selected{outline:2px solid var(--jp-ui-font-color1,#24292f);outline-offset:1px}
"""
    + _HOST_RULES
    + _KIND_RULES
    + """</style>"""
)

# --------------------------------------------------------------------------- text helpers


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pd.NA (lists and arrays are never missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return False


def clip(value: Any, limit: int) -> str:
    """``value`` as display text: control characters replaced, cut to ``limit`` characters.

    Returns the empty string for missing values. The cut is noted in the text
    (``… (+N chars)``) so a shortened value never looks complete.
    """
    if is_missing(value):
        return ""
    text = _CONTROL.sub("\ufffd", str(value))
    if len(text) > limit:
        text = f"{text[:limit]}… (+{len(text) - limit:,} chars)"
    return text


def esc(value: Any, limit: int = CARD_LIMIT) -> str:
    """Clip and HTML-escape ``value`` (quotes included); missing values give ``""``."""
    return html.escape(clip(value, limit), quote=True)


def safe_url(value: Any) -> str | None:
    """Return ``value`` if it is an absolute http(s) URL safe to put in ``href``, else None.

    The check is strict: no whitespace or control characters anywhere (``java\\tscript:``),
    no quotes or angle brackets, a scheme of exactly ``http`` or ``https`` and a host.
    """
    if not isinstance(value, str) or len(value) > 4_096 or _URL_BAD.search(value):
        return None
    lower = value.lower()
    for prefix in ("http://", "https://"):
        if lower.startswith(prefix):
            host = value[len(prefix) :].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
            return value if host and not host.startswith("@") else None
    return None


def _url_text_html(url: str, limit: int) -> str:
    """The escaped text of a URL that wraps only after a ``/`` (never inside ``cmaf-abr``)."""
    text = clip(url, limit)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return html.escape(text, quote=True)
    head, *segments = rest.split("/")
    parts = [html.escape(f"{scheme}{sep}{head}", quote=True)]
    for segment in segments:
        piece = html.escape(segment, quote=True)
        # a segment stays whole unless it alone is longer than a line
        parts.append(f'<span class="ice-nowrap">{piece}</span>' if 0 < len(segment) <= 60 else piece)
    return "/<wbr>".join(parts)


def url_html(value: Any, limit: int = CARD_LIMIT) -> str:
    """A link for an http(s) URL; any other value as selectable text (one click selects it)."""
    if is_missing(value):
        return DASH
    url = safe_url(value)
    if url is not None:
        return (
            f'<a class="ice-link" href="{html.escape(url, quote=True)}" rel="noopener noreferrer" '
            f'target="_blank">{_url_text_html(url, limit)}</a>'
        )
    return copy_html(value, limit)


def copy_html(value: Any, limit: int = CARD_LIMIT) -> str:
    """``value`` as selectable text (one click selects it): IDs, URLs that are no links."""
    return f'<span class="ice-copy" title="select to copy">{esc(value, limit)}</span>'


def format_duration(value: timedelta | pd.Timedelta | None) -> str:
    """A duration in words: ``"850 ms"``, ``"42 s"``, ``"5 min 30 s"``, ``"2 h 5 min"``, ``"3 d 4 h"``."""
    if value is None or is_missing(value):
        return "—"
    seconds = value.total_seconds()
    if not math.isfinite(seconds) or seconds < 0:
        return "—"
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 and not float(seconds).is_integer() else f"{int(seconds)} s"
    total = int(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min {secs} s" if secs else f"{minutes} min"


def format_time(value: datetime | pd.Timestamp | None) -> tuple[str, str]:
    """``(local, utc)`` texts of an aware time: local in the kernel's time zone, with its offset.

    ``("2026-01-01 08:05:00 CST (UTC+08:00)", "2026-01-01 00:05:00 UTC")``; both ``"—"``
    when the time is missing.
    """
    if value is None or is_missing(value):
        return "—", "—"
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    utc = value.astimezone(_UTC)
    local = utc.astimezone()
    utc_text = f"{utc:%Y-%m-%d %H:%M:%S} UTC"
    offset = local.strftime("%z")
    if offset in ("", "+0000"):
        return utc_text, utc_text
    zone = local.tzname() or ""
    zone = "" if zone.startswith(("+", "-")) else f" {zone}"
    return f"{local:%Y-%m-%d %H:%M:%S}{zone} (UTC{offset[:3]}:{offset[3:]})", utc_text


def time_html(value: Any) -> str:
    """The time of a card row: local time, UTC on hover and after it."""
    local, utc = format_time(value)
    if local == "—":
        return DASH
    if local == utc:
        return f'<span class="ice-time" title="{utc}">{utc}</span>'
    return (
        f'<span class="ice-time" title="{utc}">{html.escape(local)}</span> '
        f'<span class="ice-muted">· {utc}</span>'
    )


def short_time_html(value: Any) -> str:
    """Compact local time for table cells, UTC in the title."""
    local, utc = format_time(value)
    if local == "—":
        return DASH
    return f'<span title="{html.escape(local)} · {utc}">{html.escape(local[:16])}</span>'


# --------------------------------------------------------------------------- status


_KIND_LABEL = {
    "success": "✓",
    "fail": "✗",
    "running": "●",
    "unknown": "?",
    "error": "⚠",
}

#: The badge colour (class ``ice-status-<kind>``) of each job state of the models.
STATE_KIND = {"succeeded": "success", "failed": "fail", "running": "running", "unknown": "unknown"}
#: Words for each state (legends of charts over mixed kinds, tallies of sub-jobs).
STATE_WORDS = {"succeeded": "succeeded", "failed": "failed", "running": "running", "unknown": "other"}
_STATES = frozenset(STATE_KIND)


def state_of(status: Any, state: Any = None) -> str:
    """The state (``running``, ``succeeded``, ``failed``, ``unknown``) of a raw status.

    ``state`` wins when it is one of the four (a model's or a frame's ``state``); else the
    status is mapped by the models' rule (:func:`ice_widgets._models.job_state`), so the
    statuses of every kind (Success, Complete, Fail, Failed, Error, Cancelled, Init,
    Queuing, Processing, Inited, Running) colour the same way.
    """
    if isinstance(state, str) and state in _STATES:
        return state
    if is_missing(status) or not isinstance(status, str):
        return "unknown"
    return job_state(status)


def status_kind(status: Any, *, fetch_error: bool = False, state: Any = None) -> str:
    """``success``, ``fail``, ``running``, ``error`` (fetch failed) or ``unknown``: the badge colour.

    Decided by the job's state (given, or derived from ``status`` by the models' rule).
    """
    if fetch_error and is_missing(status):
        return "error"
    return STATE_KIND[state_of(status, state)]


def status_text(status: Any, *, fetch_error: bool = False, state: Any = None) -> str:
    """The words of a status: ``"Success"``, ``"Fail"``, ``"Init (running)"``, ``"fetch error"``.

    The status is shown as it came; a running one is marked ``(running)``.
    """
    kind = status_kind(status, fetch_error=fetch_error, state=state)
    if kind == "error":
        return "fetch error"
    if is_missing(status):
        return "running" if kind == "running" else "unknown"
    if kind == "running":
        return f"{clip(status, 30)} (running)"
    return clip(status, 40)


def status_label(status: Any, *, fetch_error: bool = False, state: Any = None) -> str:
    """Plain text of a status with its symbol: ``"✓ Success"``, ``"● Init (running)"``."""
    kind = status_kind(status, fetch_error=fetch_error, state=state)
    return f"{_KIND_LABEL[kind]} {status_text(status, fetch_error=fetch_error, state=state)}"


def badge_html(status: Any, *, fetch_error: bool = False, state: Any = None) -> str:
    """A coloured status badge with its words (classes ``ice-badge ice-status-<kind>``).

    The colour follows the job's state (``state``, or derived from ``status``); the
    symbol (✓ ✗ ● ? ⚠) is added by the stylesheet, so the badge's text is the status.
    """
    kind = status_kind(status, fetch_error=fetch_error, state=state)
    text = html.escape(status_text(status, fetch_error=fetch_error, state=state), quote=True)
    return f'<span class="ice-badge ice-status-{kind}" title="{text}">{text}</span>'


def stale_html(reason: str | None) -> str:
    """The visible mark of a row whose last refresh failed (reason on hover)."""
    if reason is None:
        return ""
    return f'<span class="ice-stale" title="{esc(reason, 300)}">⚠ stale</span>'


# --------------------------------------------------------------------------- blocks and links


def user_data_html(value: str | None) -> str:
    """A UserData value as an escaped block (JSON pretty-printed when it is JSON)."""
    if value is None:
        return DASH
    text = value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        pass
    else:
        if isinstance(parsed, (dict, list)):
            text = json.dumps(parsed, indent=2, ensure_ascii=False)
    return f'<pre class="ice-pre">{esc(text, USER_DATA_LIMIT)}</pre>'


def _url_file(url: str) -> str:
    """The last path segment of a URL (its file: ``master.m3u8``), else its host."""
    rest = url.split("://", 1)[-1].split("#", 1)[0].split("?", 1)[0]
    host, _, path = rest.partition("/")
    segments = [x for x in path.split("/") if x]
    return segments[-1] if segments else host


def short_url_html(value: Any) -> str:
    """A compact link for a table cell: the URL's file name, the whole URL on hover.

    http(s) URLs link to themselves (``href`` and ``title`` hold the full URL, host and
    path); any other value is shown as text, cut with an ellipsis, the full value in ``title``.
    """
    if is_missing(value):
        return ""
    url = safe_url(value)
    if url is None:
        return f'<span class="ice-mono ice-ell" title="{esc(value, 500)}">{esc(value, CELL_LIMIT)}</span>'
    return (
        f'<a class="ice-link ice-url ice-ell" href="{html.escape(url, quote=True)}" title="{esc(url, 500)}" '
        f'rel="noopener noreferrer" target="_blank">{esc(_url_file(url), CELL_LIMIT)}</a>'
    )


# --------------------------------------------------------------------------- what every card shares


def card_head_html(badge: str, name: Any, stale: str | None, *, tag: str | None = None) -> str:
    """A card's first line: the status badge, the kind's tag (if given), the name, the stale mark."""
    title = esc(name, 300) if name else '<span class="ice-muted">(no name)</span>'
    tag_html = f'<span class="ice-kindtag">{html.escape(tag)}</span>' if tag is not None else ""
    return (
        f'<div class="ice-head">{badge}{tag_html}<span class="ice-name">{title}</span>'
        f"{stale_html(stale)}</div>"
    )


def card_errors_html(error: tuple[str, str] | None, failure: tuple[Any, Any] | None) -> str:
    """A card's error blocks: why the job could not be fetched, then the job's own failure.

    ``error`` is the fetch's ``(code, message)``; ``failure`` the job's ``(code, message)``
    as the API sent them, None when the job did not fail.
    """
    parts = []
    if error is not None:
        parts.append(
            f'<div class="ice-error">Could not fetch this job: <code>{esc(error[0], 200)}</code>'
            f"<div>{esc(error[1])}</div></div>"
        )
    if failure is not None:
        parts.append(
            f'<div class="ice-error">Code <code>{esc(failure[0], 300) or "—"}</code>'
            f'<div class="ice-msg">{esc(failure[1]) or "(no message)"}</div></div>'
        )
    return "".join(parts)


def kv_html(rows: Iterable[tuple[str, str]]) -> str:
    """A card's table of ``(heading, HTML value)`` rows (the values already escaped)."""
    cells = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<table class="ice-kv">{cells}</table>'


def card_head_lines(
    label: str,
    name: Any,
    job_id: Any,
    *,
    stale: str | None,
    error: tuple[str, str] | None,
    failure: tuple[Any, Any] | None,
    tag: str | None = None,
) -> list[str]:
    """The first lines of a plain-text card: status, kind, name, stale mark, ID, errors.

    ``label`` is the status with its symbol (:func:`status_label`); ``error`` and
    ``failure`` as for :func:`card_errors_html`.
    """
    head = f"{label}  " + (f"[{tag}]  " if tag is not None else "") + (clip(name, 200) or "(no name)")
    if stale is not None:
        head += f"  [stale: {clip(stale, 200)}]"
    lines = [head, f"  Job ID:     {clip(job_id, 200)}"]
    if error is not None:
        lines.append(f"  Fetch error: {clip(error[0], 200)}: {clip(error[1], 500)}")
    if failure is not None:
        lines.append(f"  Code:       {clip(failure[0], 300) or '—'}")
        lines.append(f"  Message:    {clip(failure[1], 500) or '—'}")
    return lines


def time_line(name: str, value: Any) -> str:
    """A time in a plain-text card: ``"  Submitted: <local>  (<UTC>)"`` (UTC only once when equal)."""
    local, utc = format_time(value)
    return f"  {name + ':':<11} {local}" + (f"  ({utc})" if local != utc else "")
