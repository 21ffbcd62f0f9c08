"""Static PNG charts of a job frame, drawn with matplotlib's Agg canvas.

The figures are built with :class:`matplotlib.figure.Figure` and
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg` directly, so the user's pyplot
backend and state are never touched and nothing is shown by itself. PNGs are shown live
in ``widgets.Image`` and embedded in the static HTML, so saved notebooks keep them.

Large batches are aggregated: above :data:`MAX_BARS` jobs the timeline shows jobs
submitted per time bin (stacked by status) instead of one bar per job.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pandas as pd

__all__ = ["COLORS", "MAX_BARS", "duration_histogram", "timeline"]

#: Timeline bars per job up to this many jobs; above it, binned counts.
MAX_BARS = 2_000
#: Colours per status kind (the badges' colours).
COLORS = {
    "success": "#1a7f37",
    "fail": "#cf222e",
    "running": "#0969da",
    "unknown": "#6e7781",
}
_KINDS = ("success", "fail", "running", "unknown")
_SIZE = (7.0, 2.6)
_DPI = 80


def _figure():  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=_SIZE, dpi=_DPI, facecolor="white")
    fig.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=0.24)  # fixed: no layout engine cost
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return buffer.getvalue()


def _kinds(status: pd.Series) -> np.ndarray:
    """Status kind per row as small ints indexing :data:`_KINDS`."""
    values = status.astype("object").to_numpy()
    out = np.full(len(values), 3, dtype=np.int8)
    out[values == "Success"] = 0
    out[values == "Fail"] = 1
    out[values == "Init"] = 2
    return out


def _unit(seconds: np.ndarray) -> tuple[float, str]:
    top = float(np.nanmax(seconds)) if len(seconds) else 0.0
    if top >= 2 * 3600:
        return 3600.0, "hours"
    if top >= 120:
        return 60.0, "minutes"
    return 1.0, "seconds"


def duration_histogram(durations: pd.Series, *, bins: int = 40) -> bytes | None:
    """A histogram of job durations (finished jobs), or None when there are none.

    Parameters
    ----------
    durations : Series of timedelta64
        The ``duration`` column (missing values are skipped).
    bins : int
        Number of bins.
    """
    values = durations.dropna().to_numpy(dtype="m8[ns]").astype(np.int64) / 1e9
    if not len(values):
        return None
    scale, unit = _unit(values)
    fig = _figure()
    ax = fig.add_subplot()
    counts, edges = np.histogram(values / scale, bins=bins)
    ax.stairs(counts, edges, fill=True, color=COLORS["success"], alpha=0.85)
    ax.set_xlabel(f"duration ({unit})")
    ax.set_ylabel("jobs")
    ax.set_title(f"Duration of {len(values):,} finished jobs", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def timeline(frame: pd.DataFrame, *, now: datetime | None = None, max_bars: int = MAX_BARS) -> bytes | None:
    """Jobs over time: one bar per job (submit -> finish, coloured by status) or binned counts.

    Running jobs' bars end at ``now``. Above ``max_bars`` jobs the chart shows how many jobs
    were submitted per time bin, stacked by status. Returns None when no job has a submit time.
    """
    submit = frame["submit_time"]
    has = submit.notna().to_numpy()
    if not has.any():
        return None
    start = submit.to_numpy(dtype="datetime64[ns]")[has]
    finish = frame["finish_time"].to_numpy(dtype="datetime64[ns]")[has]
    kinds = _kinds(frame["status"])[has]
    now64 = np.datetime64((now or datetime.now(UTC)).replace(tzinfo=None), "ns")
    fig = _figure()
    ax = fig.add_subplot()
    if len(start) <= max_bars:
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
                ax.hlines(y[sel], start[sel], end[sel], colors=COLORS[kind], linewidth=2, label=kind)
                if k >= 2:  # still open: an arrow head at the end
                    ax.plot(end[sel], y[sel], ">", color=COLORS[kind], markersize=3)
        ax.set_ylabel("job (by submit time)")
        ax.set_title(f"Timeline of {len(start):,} jobs: submit → finish (UTC)", fontsize=10)
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
                bottom + counts, times, baseline=bottom.copy(), fill=True, color=COLORS[kind], label=kind
            )
            bottom += counts
        ax.set_ylabel("jobs submitted")
        ax.set_title(f"{len(start):,} jobs submitted over time, by status (UTC)", fontsize=10)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.8)
    ax.grid(axis="x", alpha=0.3)
    for label in ax.get_xticklabels():
        label.set_fontsize(8)
    fig.autofmt_xdate()
    return _png(fig)
