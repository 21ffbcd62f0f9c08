"""JobsView: a batch dashboard over a job frame, built from ipywidgets' core widgets.

Only the visible page is rendered (one HTML widget of ``page_size`` rows); filters and
sorting are vectorised pandas/numpy over row positions; charts are drawn on demand (when
their tab is opened or the static HTML is asked for) and cached per filter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ice_widgets.widgets import _charts, _render
from ice_widgets.widgets._card import JobCard, check_kind, is_job
from ice_widgets.widgets._kind_render import kind_label

if TYPE_CHECKING:  # pragma: no cover
    from ice_widgets._client import Client

__all__ = ["JobsView", "conform", "records_to_frame"]

#: Menu value of "no sort" and "all statuses": a Dropdown whose value is None shows nothing
#: selected, so the menus use the empty string for these choices (never a column or status:
#: a frame's empty statuses are missing values, not "").
_NONE = ""

#: Sortable columns offered in the sort menu: (label, column).
SORT_CHOICES: tuple[tuple[str, str], ...] = (
    ("original order", _NONE),
    ("kind", "kind"),
    ("state", "state"),
    ("progress", "progress"),
    ("submit time", "submit_time"),
    ("finish time", "finish_time"),
    ("duration", "duration"),
    ("status", "status"),
    ("name", "name"),
    ("job ID", "job_id"),
    ("priority", "priority"),
    ("trigger source", "trigger_source"),
    ("pipeline", "pipeline_id"),
    ("code", "code"),
    ("message", "message"),
    ("output URL", "output_url"),
    ("output media", "output_media"),
    ("input media", "input_media"),
    ("create time", "create_time"),
    ("modified time", "modified_time"),
    ("elapsed", "elapsed"),
    ("user data", "user_data"),
    ("fetch error", "error_code"),
    ("fetch error message", "error_message"),
)

#: Background of the summary strip's status buttons: the badges' and the charts' colours.
_BUTTON_COLORS = _render.STATUS_COLORS


def records_to_frame(records: Iterable[Any], *, client: Any = None, kind: str = "package") -> pd.DataFrame:
    """A job frame from jobs of any kind / JobErrors, or from job IDs fetched with ``client``.

    IDs (of ``kind``) go through :func:`ice_widgets.fetch_jobs` (bounded, adaptive, with
    progress); records already fetched are put before them.
    """
    from ice_widgets._fetch import fetch_jobs
    from ice_widgets._frames import build_frame
    from ice_widgets._models import JobError

    items = list(records)
    # Jobs and JobError records are kept; everything else is an ID for fetch_jobs, which
    # turns missing and unusable ones (None, NaN, "") into rows with their error.
    done = [x for x in items if is_job(x) or isinstance(x, JobError)]
    ids = [x for x in items if not (is_job(x) or isinstance(x, JobError))]
    if not ids:
        return build_frame(done)
    options: dict[str, Any] = {} if check_kind(kind) == "package" else {"kind": kind}
    frame = fetch_jobs(ids, client=client, **options)
    if done:
        frame = pd.concat([build_frame(done), frame], ignore_index=True)
    return frame


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` itself when it has the job frame's columns and dtypes; else a conformed copy.

    Missing columns are added empty and the others coerced (after CSV, parquet or edits), so
    a frame a user has trimmed or reloaded can still be viewed.
    """
    from ice_widgets._frames import COLUMNS, empty_frame, restore_types

    template = empty_frame().dtypes
    if all(c in frame.columns and str(frame[c].dtype) == str(template[c]) for c in COLUMNS):
        return frame
    out = frame.copy()
    for name in COLUMNS:
        if name not in out.columns:
            out[name] = pd.Series([None] * len(out), index=out.index, dtype=object)
    return restore_types(out)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Object columns that hold lists (written to CSV as ``;``-separated text).
_LIST_COLUMNS = frozenset({"input_media", "output_urls", "inputs", "outputs", "template_ids", "sub_jobs"})


def _list_text(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = []
        for item in value:
            if isinstance(item, dict):  # a sub-job as a frame holds it
                item = f"{item.get('job_id', '')}:{item.get('status', '')}"
            parts.append(str(item))
        return ";".join(parts)
    return value


def _defuse_formula(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would run as a formula with ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class JobsView(widgets.VBox):  # type: ignore[misc]  # ipywidgets has no type information: VBox is Any
    """A dashboard over a batch of jobs: summary, filterable sortable paged table, charts, triage.

    Parameters
    ----------
    frame_or_ids : DataFrame, or iterable of job IDs / jobs of any kind / JobError
        A frame as built by :func:`ice_widgets.build_frame` (``df.ice.view()`` passes its
        frame; one frame may hold jobs of several kinds), or records to build one from; job
        IDs are fetched with ``client``.
    client : Client, optional
        Used to fetch IDs and to refresh the opened job card.
    page_size : int
        Rows per table page (only these are rendered and sent to the browser).
    kind : str
        The kind of the job IDs given (default ``"package"``).

    Notes
    -----
    Over several kinds the table gains a Kind column and a kind menu filters by kind;
    badges, buttons and charts are coloured by each job's ``state`` (running, succeeded,
    failed, unknown), whatever words its kind uses for its status.

    Examples
    --------
    >>> view = JobsView(frame)  # doctest: +SKIP
    >>> view.set_filter(status="Fail", text="InvalidParameter")  # doctest: +SKIP
    >>> failed = view.export()  # doctest: +SKIP
    """

    def __init__(
        self,
        frame_or_ids: pd.DataFrame | Iterable[Any],
        *,
        client: Client | None = None,
        page_size: int = 25,
        kind: str = "package",
    ) -> None:
        if isinstance(frame_or_ids, pd.DataFrame):
            frame = conform(frame_or_ids)
        elif isinstance(frame_or_ids, str) or is_job(frame_or_ids):
            frame = records_to_frame([frame_or_ids], client=client, kind=kind)
        else:
            frame = records_to_frame(frame_or_ids, client=client, kind=kind)
        self._client = client
        self._frame = frame
        self._page_size = max(1, int(page_size))
        self._status: str | None = None
        self._kind: str | None = None
        self._text = ""
        self._sort: str | None = None
        self._ascending = True
        self._page = 0
        self._stale: dict[str, str] = {}
        self._notice: str | None = None
        self._summary = _render.summarize(frame)
        self._positions = np.arange(len(frame))
        self._triage: pd.DataFrame | None = None
        self._chart_cache: dict[tuple[Any, ...], list[tuple[str, bytes | None]]] = {}
        self._card: JobCard | None = None
        self._quiet = False  # set while controls are updated from code

        # -- summary strip
        self._status_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._stats_html = widgets.HTML()
        self._notice_html = widgets.HTML()
        # -- controls
        self._text_box = widgets.Text(
            placeholder="filter by job ID, name or code",
            continuous_update=False,
            layout=widgets.Layout(width="22em"),
        )
        self._text_box.observe(self._on_text, names="value")
        self._status_menu = _menu("Status", [("All", _NONE)], self._on_status_menu)
        self._kind_menu = _menu("Kind", [("All kinds", _NONE)], self._on_kind_menu)
        sort_choices = [c for c in SORT_CHOICES if c[1] == _NONE or c[1] in frame.columns]
        self._sort_menu = _menu("Sort by", sort_choices, self._on_sort)
        self._order = widgets.ToggleButtons(
            options=[("↑ asc", True), ("↓ desc", False)],
            value=True,
            tooltips=["ascending", "descending"],
            style={"button_width": "5.5em"},
        )
        self._order.observe(self._on_sort, names="value")
        self._first = widgets.Button(icon="angle-double-left", tooltip="first page", layout=_small())
        self._prev = widgets.Button(icon="angle-left", tooltip="previous page", layout=_small())
        self._next = widgets.Button(icon="angle-right", tooltip="next page", layout=_small())
        self._last = widgets.Button(icon="angle-double-right", tooltip="last page", layout=_small())
        self._first.on_click(lambda _b: self.go_to_page(0))
        self._prev.on_click(lambda _b: self.go_to_page(self._page - 1))
        self._next.on_click(lambda _b: self.go_to_page(self._page + 1))
        self._last.on_click(lambda _b: self.go_to_page(self.page_count - 1))
        self._page_label = widgets.Label()
        # -- table and the opened job
        self._table = widgets.HTML(layout=widgets.Layout(width="100%"))
        self._row_menu = widgets.Dropdown(
            description="Open job",
            layout=widgets.Layout(width="40em"),
            style={"description_width": "auto"},
        )
        self._row_menu.observe(self._on_row, names="value")
        self._card_box = widgets.VBox()
        # -- export
        self._export_button = widgets.Button(
            description="Export CSV", icon="download", tooltip="write the filtered rows to a CSV file"
        )
        self._export_button.on_click(lambda _b: self._export_clicked())
        self._export_note = widgets.HTML()
        # -- tabs
        self._hist = widgets.Image(format="png", layout=_chart_layout())
        self._timeline = widgets.Image(format="png", layout=_chart_layout())
        self._charts_note = widgets.HTML()
        self._triage_html = widgets.HTML()
        table_tab = widgets.VBox(
            [
                widgets.HBox(
                    [self._first, self._prev, self._page_label, self._next, self._last],
                    layout=widgets.Layout(align_items="center"),
                ),
                self._table,
                self._row_menu,
                self._card_box,
            ]
        )
        charts_tab = widgets.VBox([self._charts_note, self._hist, self._timeline])
        self._tabs = widgets.Tab(children=[table_tab, charts_tab, self._triage_html])
        self._tabs.titles = ("Jobs", "Charts", "Failures")
        self._tabs.observe(self._on_tab, names="selected_index")
        controls = widgets.HBox(
            [self._text_box, self._status_menu, self._sort_menu, self._order, self._kind_menu],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        super().__init__(
            [
                widgets.HTML(_render.STYLE),
                self._status_box,
                widgets.HBox([self._stats_html, self._notice_html]),
                controls,
                self._tabs,
                widgets.HBox(
                    [self._export_button, self._export_note], layout=widgets.Layout(align_items="center")
                ),
            ]
        )
        self.add_class("ice-jobsview")
        self._refresh_summary()
        self._render_page()

    # ------------------------------------------------------------------ public state

    @property
    def frame(self) -> pd.DataFrame:
        """The whole frame shown (unfiltered)."""
        return self._frame

    @property
    def summary(self) -> _render.Summary:
        """Counts, success rate and duration statistics of the whole frame."""
        return self._summary

    @property
    def page(self) -> int:
        """The current page, from 0."""
        return self._page

    @property
    def page_count(self) -> int:
        """Pages of filtered rows (at least 1)."""
        return max(1, math.ceil(len(self._positions) / self._page_size))

    @property
    def filtered_count(self) -> int:
        """Rows matching the current filters."""
        return len(self._positions)

    @property
    def kinds(self) -> list[str]:
        """The job kinds in the frame, in the order of :data:`ice_widgets.KINDS`."""
        return _render.kinds(self._frame)

    @property
    def mixed(self) -> bool:
        """True when the frame holds jobs of more than one kind (the table shows the kind)."""
        return len(self.kinds) > 1

    @property
    def stale(self) -> Mapping[str, str]:
        """Job ID -> why its last refresh failed (the row shows its last known state)."""
        return dict(self._stale)

    def page_frame(self) -> pd.DataFrame:
        """The rows of the visible page, in display order."""
        start = self._page * self._page_size
        return self._frame.iloc[self._positions[start : start + self._page_size]]

    def triage(self) -> pd.DataFrame:
        """Failed jobs (and fetch errors) grouped by code and message, most frequent first."""
        if self._triage is None:
            self._triage = _render.triage(self._frame)
        return self._triage

    def export(self) -> pd.DataFrame:
        """The filtered rows, in display order, as a new DataFrame (same columns and dtypes)."""
        out = self._frame.iloc[self._positions].copy()
        out.attrs = dict(self._frame.attrs)
        return out

    def to_csv(self, path: str | Path, *, spreadsheet_safe: bool = True, **kwargs: Any) -> Path:
        """Write the filtered rows to a CSV file; returns its path.

        Parameters
        ----------
        path : str or Path
            Where to write.
        spreadsheet_safe : bool
            Job names, messages and user data come from the API: a text cell starting with
            ``=``, ``+``, ``-``, ``@``, tab or carriage return would run as a formula when
            the file is opened in a spreadsheet, so such cells get a leading ``'`` (OWASP's
            advice for CSV injection). Pass False for a byte-exact export.
        **kwargs
            Passed to :meth:`pandas.DataFrame.to_csv`.

        Notes
        -----
        Lists (input media, output URLs...) are written as ``;``-separated text; a
        transcode row's sub-jobs as their IDs and statuses.
        """
        path = Path(path)
        out = self.export()
        lists = [c for c in out.columns if out[c].dtype == object and c in _LIST_COLUMNS]
        for column in lists:
            out[column] = out[column].map(_list_text)
        if spreadsheet_safe:
            for column in out.columns:
                if column in lists or pd.api.types.is_string_dtype(out[column].dtype):
                    out[column] = out[column].map(_defuse_formula, na_action="ignore")
        kwargs.setdefault("index", False)
        out.to_csv(path, **kwargs)
        return path

    # ------------------------------------------------------------------ commands

    def set_filter(
        self,
        *,
        status: str | EllipsisType | None = ...,
        text: str | None = None,
        kind: str | EllipsisType | None = ...,
    ) -> None:
        """Filter the table by status (``None`` for all, ``"error"`` for fetch errors), by job
        kind (``"transcode"``...; ``None`` for all) and/or by text."""
        if status is not ...:
            self._status = status or None
        if kind is not ...:
            self._kind = kind or None
        if text is not None:
            self._text = text
        self._apply()

    def sort_by(self, column: str | None, ascending: bool = True) -> None:
        """Sort the table by a frame column (``None``: the frame's order)."""
        if column is not None and column not in self._frame.columns:
            raise ValueError(f"no column {column!r}")
        self._sort, self._ascending = column, bool(ascending)
        self._apply()

    def go_to_page(self, page: int) -> None:
        """Show page ``page`` (from 0; clamped to the pages there are)."""
        self._page = min(max(0, int(page)), self.page_count - 1)
        self._render_page()

    def open_job(self, job_id: str) -> JobCard:
        """Open the job card of ``job_id`` below the table (it need not be on the visible page)."""
        matches = np.flatnonzero((self._frame["job_id"] == job_id).fillna(False).to_numpy(dtype=bool))
        if not len(matches):
            raise KeyError(job_id)
        return self._open_position(int(matches[0]))

    def set_frame(self, frame: pd.DataFrame, *, stale: Mapping[str, str] | None = None) -> None:
        """Show a new version of the frame (same jobs, newer states), keeping filters and page."""
        self._frame = frame
        if stale is not None:
            self._stale = dict(stale)
        self._summary = _render.summarize(frame)
        self._triage = None
        self._chart_cache.clear()
        self._refresh_summary()
        self._apply(keep_page=True)
        if self._card is not None and self._card.job.job_id:  # the open card follows the frame
            matches = np.flatnonzero(
                (frame["job_id"] == self._card.job.job_id).fillna(False).to_numpy(dtype=bool)
            )
            if len(matches):
                job, error = _render.job_from_row(frame.iloc[int(matches[0])].to_dict())
                self._card.update(job, error=error, stale=self._stale.get(self._card.job.job_id))
        if self._tabs.selected_index == 2:
            self._render_triage()
        if self._tabs.selected_index == 1:
            self._render_charts()

    def set_notice(self, text: str | None) -> None:
        """A short line beside the summary (e.g. ``updated 3 s ago``)."""
        self._notice = text
        self._notice_html.value = (
            f'<span class="ice-root ice-muted">&nbsp;· {_render.esc(text, 300)}</span>' if text else ""
        )

    # ------------------------------------------------------------------ internals

    def _apply(self, *, keep_page: bool = False) -> None:
        positions = _render.filter_positions(
            self._frame, status=self._status, text=self._text, kind=self._kind
        )
        self._positions = _render.sort_positions(self._frame, positions, self._sort, self._ascending)
        self._page = min(self._page, self.page_count - 1) if keep_page else 0
        self._sync_controls()
        self._render_page()
        if self._tabs.selected_index == 1:
            self._render_charts()

    def _sync_controls(self) -> None:
        self._quiet = True
        try:
            options = [("All", _NONE)] + [
                (_render.status_label(s) if s != _render.ERROR_KEY else "⚠ fetch error", s)
                for s in self._summary.counts
            ]
            if self._status is not None and self._status not in self._summary.counts:
                options.append((_render.clip(self._status, 40), self._status))
            if list(self._status_menu.options) != options:
                self._status_menu.options = options
            self._status_menu.value = _NONE if self._status is None else self._status
            present = _render.kinds(self._frame)
            kind_options = [("All kinds", _NONE)] + [(kind_label(k), k) for k in present]
            if self._kind is not None and self._kind not in present:
                kind_options.append((kind_label(self._kind), self._kind))
            if list(self._kind_menu.options) != kind_options:
                self._kind_menu.options = kind_options
            self._kind_menu.value = _NONE if self._kind is None else self._kind
            # one kind: nothing to choose (packaging-only views look as before)
            self._kind_menu.layout.display = None if len(kind_options) > 2 else "none"
            self._text_box.value = self._text
            self._sort_menu.value = _NONE if self._sort is None else self._sort
            self._order.value = self._ascending
            for button in self._status_box.children:
                chosen = getattr(button, "_ice_status", None) == self._status
                button.icon = "filter" if chosen else ""
                if chosen:
                    button.add_class("ice-selected")
                else:
                    button.remove_class("ice-selected")
        finally:
            self._quiet = False

    def _refresh_summary(self) -> None:
        summary = self._summary
        wanted: list[tuple[str | None, str, str | None]] = [(None, f"All {summary.total:,}", None)]
        for status, n in summary.counts.items():
            kind = "error" if status == _render.ERROR_KEY else _render.status_kind(status)
            label = "fetch error" if status == _render.ERROR_KEY else _render.status_text(status)
            wanted.append((status, f"{label} {n:,}", _BUTTON_COLORS[kind]))
        current = list(self._status_box.children)
        if [getattr(b, "_ice_status", None) for b in current] == [w[0] for w in wanted]:
            for button, (_, description, _) in zip(current, wanted):  # same statuses: relabel only
                if button.description != description:
                    button.description = description
        else:
            buttons = []
            for key, description, color in wanted:
                button = widgets.Button(
                    description=description,
                    tooltip="show every job" if key is None else f"show only {description.rsplit(' ', 1)[0]}",
                    layout=widgets.Layout(width="auto", margin="2px 6px 2px 0"),
                )
                if color is not None:  # the status's own colour, as in the badges and charts
                    button.style.button_color = color
                    button.style.text_color = "white"
                    button.style.font_weight = "600"
                button._ice_status = key
                button.on_click(self._on_status_button)
                buttons.append(button)
            self._status_box.children = buttons
            for old in current:
                old.close()
        rate = "—" if summary.success_rate is None else f"{summary.success_rate:.1%}"
        self._stats_html.value = (
            f'<span class="ice-root">success rate <strong>{rate}</strong> · duration p50 '
            f"{_render.format_duration(summary.p50)} · p90 {_render.format_duration(summary.p90)}"
            f" · max {_render.format_duration(summary.max)}</span>"
        )
        failures = summary.failed + summary.counts.get(_render.ERROR_KEY, 0)
        self._tabs.titles = ("Jobs", "Charts", f"Failures ({failures:,})" if failures else "Failures")
        self._sync_controls()

    def _render_page(self) -> None:
        page = self.page_frame()
        start = self._page * self._page_size
        self._table.value = _render.table_html(
            page, start=start, total=len(self._positions), stale=self._stale, with_kind=self.mixed
        )
        self._page_label.value = f"page {self._page + 1:,} of {self.page_count:,}"
        self._first.disabled = self._prev.disabled = self._page == 0
        self._next.disabled = self._last.disabled = self._page >= self.page_count - 1
        options: list[tuple[str, int]] = [("— choose a row of this page —", -1)]
        for i, (position, job_id, name) in enumerate(
            zip(
                self._positions[start : start + self._page_size],
                page["job_id"].tolist(),
                page["name"].tolist(),
            )
        ):
            label = f"{start + i + 1}. {_render.clip(job_id, 40)}"
            if isinstance(name, str):
                label += f" · {_render.clip(name, 40)}"
            options.append((label, int(position)))
        self._quiet = True
        try:
            self._row_menu.options = options
            self._row_menu.value = -1
        finally:
            self._quiet = False

    def _render_triage(self) -> None:
        self._triage_html.value = _render.triage_html(self.triage())

    def _charts(self) -> list[tuple[str, bytes | None]]:
        key = (self._status, self._text, self._kind)
        charts = self._chart_cache.get(key)
        if charts is None:
            rows = self._frame.iloc[np.sort(self._positions)]
            now = _fetched_at(self._frame)
            charts = [
                (
                    "histogram of job durations",
                    _charts.duration_histogram(
                        rows["duration"],
                        status=rows["status"],
                        state=_render.states(rows),
                        labels=_charts.labels_for(rows),
                    ),
                ),
                ("timeline of jobs", _charts.timeline(rows, now=now)),
            ]
            self._chart_cache[key] = charts
        return charts

    def _render_charts(self) -> None:
        (_, hist), (_, timeline) = self._charts()
        self._hist.value = hist or b""
        self._timeline.value = timeline or b""
        self._hist.layout.display = None if hist else "none"
        self._timeline.layout.display = None if timeline else "none"
        filtered = " (filtered)" if self._status or self._text or self._kind else ""
        self._charts_note.value = (
            f'<span class="ice-muted">{len(self._positions):,} jobs{filtered}</span>'
            if hist or timeline
            else '<span class="ice-muted">No times to chart.</span>'
        )

    def _open_position(self, position: int) -> JobCard:
        row = self._frame.iloc[position].to_dict()
        job, error = _render.job_from_row(row)
        stale = self._stale.get(job.job_id) if job.job_id else None
        card = JobCard(job, client=self._client, error=error, stale=stale)
        if self._card is not None:
            self._card.close()
        self._card = card
        self._card_box.children = [card]
        return card

    def _export_clicked(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        try:
            path = self.to_csv(Path.cwd() / f"ice_jobs_{stamp}.csv")
        except OSError as exc:
            self._export_note.value = f'<span class="ice-stale">export failed: {_render.esc(exc, 300)}</span>'
            return
        self._export_note.value = (
            f'<span class="ice-root">wrote {len(self._positions):,} rows to '
            f'<span class="ice-copy">{_render.esc(str(path), 500)}</span></span>'
        )

    # -- observers (the front end calls these)

    def _on_text(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.set_filter(text=change["new"] or "")

    def _on_status_menu(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.set_filter(status=change["new"])

    def _on_kind_menu(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.set_filter(kind=change["new"])

    def _on_status_button(self, button: widgets.Button) -> None:
        self.set_filter(status=getattr(button, "_ice_status", None))

    def _on_sort(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self.sort_by(self._sort_menu.value or None, self._order.value)

    def _on_row(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None and change["new"] >= 0:
            self._open_position(int(change["new"]))

    def _on_tab(self, change: dict[str, Any]) -> None:
        if change["new"] == 1:
            self._render_charts()
        elif change["new"] == 2:
            self._render_triage()

    # ------------------------------------------------------------------ display

    def to_html(self, *, charts: bool = True) -> str:
        """Static HTML: summary, the current page, failure triage and (by default) the charts."""
        start = self._page * self._page_size
        return _render.view_html(
            summary=self._summary,
            page=self.page_frame(),
            start=start,
            total=len(self._positions),
            triage_table=self.triage(),
            charts=self._charts() if charts else (),
            stale=self._stale,
            note=self._notice,
            with_kind=self.mixed,
        )

    def to_text(self) -> str:
        """Readable plain text: summary, the first rows of the page, failure triage."""
        return _render.view_text(
            summary=self._summary,
            page=self.page_frame(),
            start=self._page * self._page_size,
            total=len(self._positions),
            triage_table=self.triage(),
            note=self._notice,
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = self.to_text()
        data["text/html"] = self.to_html()
        return data

    def close(self) -> None:
        """Close the dashboard and every widget in it."""
        card = getattr(self, "_card", None)  # (close also runs for a half-built view)
        if card is not None:
            card.close()
            self._card = None
        for widget in _descendants(self):
            if widget is not self:
                widget.close()
        super().close()

    def __repr__(self) -> str:
        shown = "" if len(self._positions) == len(self._frame) else f", {len(self._positions):,} shown"
        name = type(self).__name__
        return f"{name}({len(self._frame):,} jobs{shown}, page {self._page + 1}/{self.page_count})"


def _menu(
    description: str, options: list[tuple[str, Any]], on_change: Callable[[dict[str, Any]], None]
) -> widgets.Dropdown:
    """A filter or sort menu of the view's controls, set to its first choice (none)."""
    menu = widgets.Dropdown(
        options=options,
        value=_NONE,
        description=description,
        layout=widgets.Layout(width="15em"),
        style={"description_width": "auto"},
    )
    menu.observe(on_change, names="value")
    return menu


def _small() -> widgets.Layout:
    return widgets.Layout(width="2.6em")


def _chart_layout() -> widgets.Layout:
    # Natural size (a VBox would stretch the PNG to its width, blurred), smaller if need be.
    return widgets.Layout(max_width="100%", align_self="flex-start", margin="0 0 8px 0")


def _fetched_at(frame: pd.DataFrame) -> datetime | None:
    value = frame.attrs.get("fetched_at")
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.to_pydatetime()


def _descendants(root: Any) -> list[Any]:
    found = [root]
    for child in getattr(root, "children", ()) or ():
        found.extend(_descendants(child))
    return found
