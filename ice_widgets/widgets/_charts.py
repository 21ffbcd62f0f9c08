"""Static PNG charts of a job frame, drawn with matplotlib's Agg canvas.

The figures are built with :class:`matplotlib.figure.Figure` and
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg` directly, so the user's pyplot
backend and state are never touched and nothing is shown by itself. PNGs are shown live
in ``widgets.Image`` and embedded in the static HTML, so saved notebooks keep them.

Large batches are aggregated: above :data:`MAX_BARS` jobs, or when the jobs' bars would be
too short to see (jobs of minutes spread over days), the timeline shows jobs submitted per
time bin, stacked by status, instead of one bar per job.

Each status has the colour of its badge in the tables and cards and of its button in the
summary strip (:data:`COLORS`), and the same words in the legends. Colours follow each job's
state (running, succeeded, failed, unknown), so jobs of every kind chart alike: a frame with
a ``state`` column is charted by it, and its legend says running/succeeded/failed/other
unless every job is a packaging job (whose badges' words the legend then keeps).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ice_widgets.widgets import _render
from ice_widgets.widgets._render import STATUS_COLORS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

__all__ = ["COLORS", "LABELS", "MAX_BARS", "STATE_LABELS", "duration_histogram", "labels_for", "timeline"]

#: Timeline bars per job up to this many jobs; above it, binned counts.
MAX_BARS = 2_000
#: Colours per status kind (the badges' colours).
COLORS = {kind: STATUS_COLORS[kind] for kind in ("success", "fail", "running", "unknown")}
_KINDS = ("success", "fail", "running", "unknown")
#: Legend words per status kind: the words of the badges.
LABELS = {"success": "Success", "fail": "Fail", "running": "Init (running)", "unknown": "other"}
#: Legend words per status kind for jobs of other kinds (or several): the states.
STATE_LABELS = {"success": "succeeded", "fail": "failed", "running": "running", "unknown": "other"}
_STATE_CODES = {"succeeded": 0, "failed": 1, "running": 2, "unknown": 3}
#: A bar per job only when the median job lasts at least this share of the time span.
MIN_BAR_SHARE = 1 / 400
_SIZE = (7.0, 2.6)
_DPI = 100


def _figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=_SIZE, dpi=_DPI, facecolor="white")
    fig.subplots_adjust(left=0.12, right=0.98, top=0.88, bottom=0.2)  # fixed: no layout engine cost
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return buffer.getvalue()


def _kinds(status: pd.Series, state: Any = None) -> np.ndarray:
    """Status kind per row as small ints indexing :data:`_KINDS`: by ``state`` when given
    (``running``/``succeeded``/``failed``/``unknown`` per row), else by the packaging statuses."""
    if state is not None:
        values = np.asarray(state, dtype=object)
        out = np.full(len(values), 3, dtype=np.int8)
        for name, code in _STATE_CODES.items():
            out[values == name] = code
        return out
    values = status.astype("object").to_numpy()
    out = np.full(len(values), 3, dtype=np.int8)
    out[values == "Success"] = 0
    out[values == "Fail"] = 1
    out[values == "Init"] = 2
    return out


def labels_for(frame: pd.DataFrame | None) -> dict[str, str]:
    """The legend's words: the badges' (packaging only) or the states' (other kinds)."""
    if frame is None or "kind" not in frame.columns:
        return LABELS
    kinds = set(frame["kind"].dropna().astype(str))
    return LABELS if kinds <= {"package"} else STATE_LABELS


def _unit(seconds: np.ndarray) -> tuple[float, str]:
    top = float(np.nanmax(seconds)) if len(seconds) else 0.0
    if top >= 2 * 3600:
        return 3600.0, "hours"
    if top >= 120:
        return 60.0, "minutes"
    return 1.0, "seconds"


def duration_histogram(
    durations: pd.Series,
    *,
    status: pd.Series | None = None,
    bins: int = 40,
    state: Any = None,
    labels: dict[str, str] | None = None,
) -> bytes | None:
    """A histogram of job durations (finished jobs), or None when there are none.

    Parameters
    ----------
    durations : Series of timedelta64
        The ``duration`` column (missing values are skipped).
    status : Series, optional
        The ``status`` column of the same rows: bars are then stacked by status (Success,
        Fail, other), in the badges' colours. Without it every bar has the Success colour.
    bins : int
        Number of bins.
    state : array-like, optional
        The state of each row (``running``/``succeeded``/``failed``/``unknown``): bars are
        stacked by it instead of by the packaging statuses.
    labels : dict, optional
        Legend words per status kind (default :data:`LABELS`).

    Notes
    -----
    Dashed lines mark the median (p50) and the 90th percentile (p90).
    """
    has = durations.notna().to_numpy(dtype=bool)
    values = durations.to_numpy(dtype="m8[ns]")[has].astype(np.int64) / 1e9
    if not len(values):
        return None
    labels = labels or LABELS
    if status is not None or state is not None:
        kinds = _kinds(status if status is not None else durations, state)[has]
    else:
        kinds = np.zeros(len(values), dtype=np.int8)
    scale, unit = _unit(values)
    fig = _figure()
    ax = fig.add_subplot()
    scaled = values / scale
    edges = np.histogram_bin_edges(scaled, bins=bins)
    bottom = np.zeros(len(edges) - 1)
    for k in (0, 1, 3, 2):  # Success at the bottom, failures above it
        sel = kinds == k
        if not sel.any():
            continue
        counts, _ = np.histogram(scaled[sel], bins=edges)
        kind = _KINDS[k]
        ax.stairs(
            bottom + counts, edges, baseline=bottom.copy(), fill=True, color=COLORS[kind], label=labels[kind]
        )
        bottom += counts
    p50, p90 = np.percentile(scaled, [50, 90])
    for value, name in ((p50, "p50"), (p90, "p90")):
        ax.axvline(value, color="#24292f", linestyle="--", linewidth=1)
        ax.annotate(
            name,
            (value, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -11),
            textcoords="offset points",
            fontsize=8,
            color="#24292f",
        )
    ax.set_xlabel(f"duration ({unit})")
    ax.set_ylabel("jobs")
    ax.set_title(f"Duration of {len(values):,} finished jobs", fontsize=10, loc="left")
    ax.grid(axis="y", alpha=0.3)
    if (status is not None or state is not None) and len(np.unique(kinds)) > 1:
        _legend(ax, labels)
    return _png(fig)


def timeline(frame: pd.DataFrame, *, now: datetime | None = None, max_bars: int = MAX_BARS) -> bytes | None:
    """Jobs over time: one bar per job (submit -> finish, coloured by status) or binned counts.

    Running jobs' bars end at ``now``. Above ``max_bars`` jobs the chart shows how many jobs
    were submitted per time bin, stacked by status. Returns None when no job has a submit time.
    Jobs without a submit time (media producing, media convert) start at their create time.
    """
    submit = frame["submit_time"]
    if "create_time" in frame.columns:
        submit = submit.fillna(frame["create_time"])
    has = submit.notna().to_numpy()
    if not has.any():
        return None
    start = submit.to_numpy(dtype="datetime64[ns]")[has]
    finish = frame["finish_time"].to_numpy(dtype="datetime64[ns]")[has]
    state = _render.states(frame) if "state" in frame.columns else None
    kinds = _kinds(frame["status"], state)[has]
    labels = labels_for(frame)
    now64 = np.datetime64((now or datetime.now(UTC)).replace(tzinfo=None), "ns")
    fig = _figure()
    ax = fig.add_subplot()
    if len(start) <= max_bars and _bars_visible(start, finish):
        order = np.argsort(start, kind="stable")
        start, finish, kinds = start[order], finish[order], kinds[order]
        done = ~np.isnat(finish)
        # Unfinished jobs run to "now", but never stretch the axis far past the finished ones.
        latest = max(start.max(), finish[done].max()) if done.any() else now64
        span = latest - start.min()
        open_end = min(now64, latest + span // 10) if done.any() else max(now64, start.max())
        end = np.where(done, finish, np.maximum(open_end, start))
        end = np.where(end < start, start, end)
        y = np.arange(len(start))
        for k in (2, 3, 0, 1):  # running and unknown underneath, failures on top
            sel = kinds == k
            if sel.any():
                kind = _KINDS[k]
                ax.hlines(y[sel], start[sel], end[sel], colors=COLORS[kind], linewidth=2, label=labels[kind])
                if k >= 2:  # still open: an arrow head at the end
                    ax.plot(end[sel], y[sel], ">", color=COLORS[kind], markersize=3)
        ax.set_ylabel("job (by submit time)")
        # the default y locator is an AutoLocator, a MaxNLocator (the base Locator takes no integer=)
        cast("MaxNLocator", ax.yaxis.get_major_locator()).set_params(integer=True)
        ax.set_title(f"Timeline of {len(start):,} jobs: submit → finish (UTC)", fontsize=10, loc="left")
        ax.invert_yaxis()
    else:
        nbins = 60
        lo, hi = start.min(), start.max()
        if hi == lo:
            hi = lo + np.timedelta64(1, "s")
        edges = np.linspace(lo.astype(np.int64), hi.astype(np.int64), nbins + 1)
        bottom = np.zeros(nbins)
        times = edges.astype("int64").astype("datetime64[ns]")
        for k, kind in enumerate(_KINDS):
            sel = kinds == k
            if not sel.any():
                continue
            counts, _ = np.histogram(start[sel].astype(np.int64), bins=edges)
            # one filled step artist per status (stacked), not one patch per bin
            ax.stairs(
                bottom + counts,
                times,
                baseline=bottom.copy(),
                fill=True,
                color=COLORS[kind],
                label=labels[kind],
            )
            bottom += counts
        ax.set_ylabel("jobs submitted")
        ax.set_title(f"{len(start):,} jobs submitted over time (UTC)", fontsize=10, loc="left")
    _legend(ax, labels)
    ax.grid(axis="x", alpha=0.3)
    _date_axis(ax)
    return _png(fig)


# Legend order: the summary strip's order (running, succeeded, failed, others).
_LEGEND_KINDS = ("running", "success", "fail", "unknown")


def _legend(ax: Axes, words: dict[str, str] | None = None) -> None:
    """The legend on one line above the plot, right of the title (never over the data)."""
    words = words or LABELS
    rank = {words[k]: i for i, k in enumerate(_LEGEND_KINDS)}
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: rank.get(labels[i], 9))
    ax.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        fontsize=8,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=max(1, len(order)),
        frameon=False,
        borderaxespad=0.2,
        handlelength=1.2,
        columnspacing=1.0,
    )


def _bars_visible(start: np.ndarray, finish: np.ndarray) -> bool:
    """Whether one bar per job would be seen: the median job lasts a visible share of the span."""
    done = ~np.isnat(finish)
    if not done.any() or len(start) < 2:
        return True
    span = (max(start.max(), finish[done].max()) - start.min()).astype(np.int64)
    if span <= 0:
        return True
    median = float(np.median((finish[done] - start[done]).astype(np.int64)))
    return bool(median >= span * MIN_BAR_SHARE)


def _date_axis(ax: Axes) -> None:
    """Concise date ticks (``Nov 27``, ``06:00``...) instead of long rotated labels."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    for label in ax.get_xticklabels():
        label.set_fontsize(8)
