"""The ``df.ice`` accessor on job frames (from ``fetch_jobs``, ``list_jobs`` or ``build_frame``).

Registered (``import ice_widgets._accessor``) by the package facade as soon as a frame-making
name (``fetch_jobs``, ``build_frame``, ``JobsView``...) is loaded from ``ice_widgets``, and by
``%load_ext ice_widgets``. It sits above the fetch and widget layers: it calls
``fetch_jobs`` (``refresh``) and ``JobsView`` (``view``); nothing below imports it.
Every method works on frames of one kind or of mixed kinds: what is finished, failed or
running is read from the ``state`` column, the same rule for every kind::

    df = ice_widgets.fetch_jobs(ids, kind="transcode")
    df.ice.summary()      # counts by state and status, success rate, duration percentiles
    df.ice.summary(by="kind")  # the same, one row per kind
    df.ice.failures()     # failed jobs (and failed transcode sub-jobs) grouped by code and message
    df.ice.sub_jobs()     # one row per transcode sub-job
    df.ice.output_details()  # one row per media convert output (and output group)
    df = df.ice.refresh() # re-fetch the unfinished rows only, each with its kind's Get
    df.ice.view()         # an interactive JobsView widget
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ice_widgets._frames import (
    COMMON_COLUMNS,
    DELTA_DTYPE,
    STATE_DTYPE,
    STRING_DTYPE,
    TIME_DTYPE,
    _counts,
    restore_types,
)
from ice_widgets._models import STATES, job_state

__all__ = ["IceAccessor"]

_EXAMPLES = 3


@pd.api.extensions.register_dataframe_accessor("ice")
class IceAccessor:
    """Job-frame helpers: ``summary``, ``failures``, ``refresh``, ``view``, parquet I/O."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._obj = frame

    def _need(self, *columns: str) -> None:
        missing = [c for c in columns if c not in self._obj.columns]
        if missing:
            raise AttributeError(
                "df.ice needs a jobs frame (from fetch_jobs, list_jobs or build_frame); "
                f"missing columns: {missing}"
            )

    # -- analysis ----------------------------------------------------------------------------

    def _states(self) -> pd.Series:
        """The ``state`` column (derived from ``status`` for a frame saved without one)."""
        frame = self._obj
        if "state" in frame.columns:
            return frame["state"]
        status = frame["status"].astype(object)
        states = [job_state(s) if isinstance(s, str) else None for s in status]
        return pd.Series(pd.Categorical(states, dtype=STATE_DTYPE), index=frame.index, name="state")

    def summary(self, by: str | None = None) -> pd.Series | pd.DataFrame:
        """Counts by state and status, success rate and duration percentiles.

        Parameters
        ----------
        by : str, optional
            ``"kind"`` (or another column): one row per value, in a DataFrame.

        Returns
        -------
        pandas.Series, or pandas.DataFrame with ``by``
            ``total``; ``errors`` (rows that could not be fetched); ``running``,
            ``succeeded``, ``failed``, ``unknown`` (the ``state`` of every kind); one count
            per raw status (the documented ones of the kinds present, then unknown ones);
            ``success_rate`` = succeeded / (succeeded + failed), NaN when nothing finished;
            ``duration_p50``, ``duration_p90``, ``duration_p99``, ``duration_max``
            (Timedelta, NaT when no durations).
        """
        self._need("status", "duration", "error_code")
        if by is not None:
            self._need(by)
            frame = self._obj
            keys = frame[by]
            groups: list[Any] = list(
                keys.cat.categories if isinstance(keys.dtype, pd.CategoricalDtype) else keys.dropna().unique()
            )
            rows = {}
            for value in groups:
                part = frame[(keys == value).to_numpy(dtype=bool, na_value=False)]
                if len(part):
                    rows[value] = IceAccessor(part).summary()
            out = pd.DataFrame(rows).T if rows else pd.DataFrame()
            out.index.name = by
            return out.fillna({c: 0 for c in out.columns if not c.startswith(("duration_", "success_rate"))})
        frame = self._obj
        status = frame["status"]
        values: dict[str, Any] = {"total": len(frame), "errors": int(frame["error_code"].notna().sum())}
        states = self._states().value_counts(sort=False)
        for name in STATES:
            values[name] = int(states.get(name, 0))
        counts = status.value_counts(sort=False)
        for value, count in counts.items():
            values.setdefault(str(value), int(count))
        success, failed = values["succeeded"], values["failed"]
        values["success_rate"] = success / (success + failed) if success + failed else np.nan
        durations = frame["duration"].dropna()
        for label, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            values[f"duration_{label}"] = durations.quantile(q) if len(durations) else pd.NaT
        values["duration_max"] = durations.max() if len(durations) else pd.NaT
        return pd.Series(values, dtype=object, name="summary")

    def failures(self, *, sub_jobs: bool = True) -> pd.DataFrame:
        """Failures grouped by kind, code and message, most frequent first.

        Jobs whose ``state`` is failed are grouped by their ``code``/``message``
        (``source`` = ``"job"``); failed transcode sub-jobs by theirs (``source`` =
        ``"sub_job"``, with their parent's ID as the example: a transcode job that
        "succeeded" may still have failed outputs); rows that could not be fetched by
        ``error_code``/``error_message`` (``source`` = ``"fetch"``).

        Parameters
        ----------
        sub_jobs : bool
            Include the failed sub-jobs of transcode jobs.

        Returns
        -------
        pandas.DataFrame
            Columns ``source, kind, code, message, count, example_ids`` (up to 3 IDs each).
        """
        self._need("job_id", "status", "code", "message", "error_code", "error_message")
        frame = self._obj
        kinds = (
            frame["kind"].astype(object) if "kind" in frame.columns else pd.Series(None, index=frame.index)
        )
        parts = []
        failed_mask = (self._states() == "failed").to_numpy(dtype=bool, na_value=False)
        if failed_mask.any():
            failed = frame[failed_mask]
            parts.append(
                pd.DataFrame(
                    {
                        "source": "job",
                        "kind": kinds[failed_mask],
                        "code": failed["code"].astype(object),
                        "message": failed["message"].astype(object),
                        "job_id": failed["job_id"].astype(object),
                    }
                )
            )
        if sub_jobs and "sub_jobs" in frame.columns:
            rows = [
                (sub.get("code"), sub.get("message"), parent)
                for parent, subs in zip(frame["job_id"].astype(object), frame["sub_jobs"])
                if isinstance(subs, list)
                for sub in subs
                if isinstance(sub, dict) and sub.get("state") == "failed"
            ]
            if rows:
                codes, messages, parents = zip(*rows)
                parts.append(
                    pd.DataFrame(
                        {
                            "source": "sub_job",
                            "kind": "transcode",
                            "code": list(codes),
                            "message": list(messages),
                            "job_id": list(parents),
                        }
                    )
                )
        error_mask = frame["error_code"].notna().to_numpy(dtype=bool)
        if error_mask.any():
            errors = frame[error_mask]
            parts.append(
                pd.DataFrame(
                    {
                        "source": "fetch",
                        "kind": kinds[error_mask],
                        "code": errors["error_code"].astype(object),
                        "message": errors["error_message"].astype(object),
                        "job_id": errors["job_id"].astype(object),
                    }
                )
            )
        columns = ["source", "kind", "code", "message", "count", "example_ids"]
        if not parts:
            return pd.DataFrame(
                {
                    "source": pd.Series([], dtype=STRING_DTYPE),
                    "kind": pd.Series([], dtype=STRING_DTYPE),
                    "code": pd.Series([], dtype=STRING_DTYPE),
                    "message": pd.Series([], dtype=STRING_DTYPE),
                    "count": pd.Series([], dtype="int64"),
                    "example_ids": pd.Series([], dtype=object),
                }
            )[columns]
        rows_frame = pd.concat(parts, ignore_index=True)
        grouped = rows_frame.groupby(["source", "kind", "code", "message"], dropna=False, sort=False)
        out = grouped.agg(
            count=("job_id", "size"),
            example_ids=("job_id", lambda s: [str(v) for v in dict.fromkeys(s.dropna())][:_EXAMPLES]),
        ).reset_index()
        out = out.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
        for name in ("source", "kind", "code", "message"):
            out[name] = out[name].astype(STRING_DTYPE)
        out["count"] = out["count"].astype("int64")
        return out[columns]

    def sub_jobs(self) -> pd.DataFrame:
        """One row per transcode sub-job: the ``sub_jobs`` column exploded.

        Rows of other kinds, and transcode rows without sub-jobs (List items), give none.

        Returns
        -------
        pandas.DataFrame
            Columns ``parent_job_id, job_id, index, name, status, state, output_url,
            template_id, code, message, media_duration, submit_time, finish_time,
            duration``: ``status`` is Categorical (Init, Processing, Success, Fail,
            Deleted, then unknown values), ``state`` Categorical (running, succeeded,
            failed, unknown), times ``datetime64[ns, UTC]``, ``duration`` (finish - submit,
            None while running) ``timedelta64[ns]``, ``index`` ``Int64``,
            ``media_duration`` (seconds of the output media) ``float64``.
        """
        self._need("job_id")
        parents, records = self._exploded("sub_jobs")
        frame = _records_frame(
            parents,
            records,
            strings=("job_id",),
            statuses=_SUB_JOB_STATUSES,
            tail=("output_url", "template_id", "code", "message"),
            start="submit_time",
        )
        index = [v if isinstance(v, int) else None for v in _values(records, "index")]
        frame.insert(2, "index", pd.Series(index, index=frame.index, dtype="Int64"))
        frame.insert(3, "name", pd.Series(_values(records, "name"), index=frame.index, dtype=STRING_DTYPE))
        media = pd.to_numeric(pd.Series(_values(records, "media_duration"), dtype=object)).astype(np.float64)
        frame.insert(len(frame.columns) - 3, "media_duration", media.to_numpy())
        submit = frame.pop("start_time")
        frame.insert(len(frame.columns) - 2, "submit_time", submit)
        return frame

    def output_details(self) -> pd.DataFrame:
        """One row per output (and output group) of a media convert job: ``output_details`` exploded.

        Rows of other kinds, and media convert rows without details (List items), give none.

        Returns
        -------
        pandas.DataFrame
            Columns ``parent_job_id, name, group, is_group, status, state, output_url, code,
            message, create_time, finish_time, duration``: ``status`` Categorical (Init,
            Scheduled, Running, Success, Failed, Skipped, then unknown values), ``state``
            Categorical, times ``datetime64[ns, UTC]``, ``duration`` (finish - create, None
            while running) ``timedelta64[ns]``.
        """
        self._need("job_id")
        parents, records = self._exploded("output_details")
        frame = _records_frame(
            parents,
            records,
            strings=("name", "group"),
            statuses=_OUTPUT_STATUSES,
            tail=("output_url", "code", "message"),
            start="create_time",
        )
        groups = [r.get("is_group") is True for r in records]
        frame.insert(3, "is_group", pd.Series(groups, index=frame.index, dtype="boolean"))
        return frame

    def _exploded(self, column: str) -> tuple[list[Any], list[dict[str, Any]]]:
        """(parent job IDs, dicts) of the list-of-dicts ``column``, one pair per dict."""
        frame = self._obj
        records: list[dict[str, Any]] = []
        parents: list[Any] = []
        if column in frame.columns:
            for parent, items in zip(frame["job_id"].astype(object), frame[column]):
                if isinstance(items, (list, np.ndarray)):
                    for item in items:
                        if isinstance(item, dict):
                            records.append(item)
                            parents.append(None if pd.isna(parent) else parent)
        return parents, records

    def unfinished(self) -> pd.Series:
        """Boolean mask of the rows ``refresh`` would re-fetch: state not succeeded/failed, with an ID."""
        self._need("job_id", "status")
        frame = self._obj
        finished = self._states().isin(["succeeded", "failed"]).to_numpy(dtype=bool, na_value=False)
        has_id = frame["job_id"].notna().to_numpy(dtype=bool)
        invalid = np.zeros(len(frame), dtype=bool)
        if "error_code" in frame.columns:
            codes = frame["error_code"]
            invalid = codes.isin(["EmptyJobId", "MissingJobId", "InvalidJobId", "InvalidKind"]).to_numpy(
                dtype=bool, na_value=False
            )
        return pd.Series(~finished & has_id & ~invalid, index=frame.index, name="unfinished")

    def refresh(
        self, client: Any = None, *, progress: bool = False, concurrency: int | None = None
    ) -> pd.DataFrame:
        """Re-fetch the unfinished rows (running, unknown states, fetch errors); return a new frame.

        Finished rows (state succeeded or failed) are kept as they are; row order and index
        are kept. Each row is fetched with its ``kind``'s Get (packaging for a row without
        a kind), so a mixed frame refreshes in one batch.

        Parameters
        ----------
        client : Client or AsyncClient, optional
            Default: a client configured from the environment.
        progress : bool
            Show a progress bar while fetching.
        concurrency : int, optional
            As in :func:`~ice_widgets.fetch_jobs`.
        """
        from ice_widgets._fetch import fetch_jobs

        self._need(*COMMON_COLUMNS)
        frame = self._obj
        mask = self.unfinished().to_numpy()
        if not mask.any():
            return frame.copy()
        ids = frame.loc[mask, "job_id"].astype(object).tolist()
        kinds = frame.loc[mask, "kind"].astype(object).tolist()
        request = pd.DataFrame({"job_id": ids, "kind": kinds})
        fresh = fetch_jobs(request, client=client, progress=progress, concurrency=concurrency)
        fresh_by_id = fresh.set_index(fresh["job_id"].astype(object))
        positions = np.flatnonzero(mask)
        replacement = fresh_by_id.loc[ids].reset_index(drop=True)
        replacement.index = frame.index[positions]
        kept = frame.loc[~mask]
        order = pd.Series(np.arange(len(frame)), index=frame.index)
        loose = {"status": object}
        combined = pd.concat([kept.astype(loose), replacement.astype(loose)])
        combined = combined.iloc[np.argsort(order.loc[combined.index].to_numpy(), kind="stable")]
        extra = [c for c in fresh.columns if c not in frame.columns]  # a kind new to the frame
        columns = list(frame.columns) + extra
        for name in columns:
            if name not in combined.columns:
                combined[name] = None
        out = restore_types(combined[columns])
        out.attrs = {
            "endpoint": fresh.attrs.get("endpoint", frame.attrs.get("endpoint")),
            "fetched_at": fresh.attrs.get("fetched_at"),
            "counts": _counts(out),
        }
        return out

    # -- display and files -------------------------------------------------------------------

    def view(self, **options: Any) -> Any:
        """An interactive :class:`ice_widgets.JobsView` of this frame (needs ipywidgets)."""
        from ice_widgets.widgets._view import JobsView

        return JobsView(self._obj, **options)

    def to_parquet(self, path: Any, **kwargs: Any) -> None:
        """Write the frame to parquet (pyarrow); read it back with :meth:`typed` or
        ``ice_widgets._frames.read_parquet`` to get lists and categories back exactly."""
        self._obj.to_parquet(path, **kwargs)

    def typed(self) -> pd.DataFrame:
        """The frame with every jobs column coerced to its dtype (after parquet, CSV, edits)."""
        return restore_types(self._obj)


_SUB_JOB_STATUSES = ("Init", "Processing", "Success", "Fail", "Deleted")


_OUTPUT_STATUSES = ("Init", "Scheduled", "Running", "Success", "Failed", "Skipped")


def _values(records: list[dict[str, Any]], key: str) -> list[Any]:
    return [r.get(key) for r in records]


def _times(records: list[dict[str, Any]], key: str) -> Any:
    values = [
        v if v is not None and not (isinstance(v, float) and np.isnan(v)) else None
        for v in _values(records, key)
    ]
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True).astype(TIME_DTYPE).array


def _records_frame(
    parents: list[Any],
    records: list[dict[str, Any]],
    *,
    strings: tuple[str, ...],
    statuses: tuple[str, ...],
    tail: tuple[str, ...],
    start: str,
) -> pd.DataFrame:
    """The typed frame of exploded sub-records: ``parent_job_id``, ``strings``, ``status``,
    ``state``, ``tail`` (strings), ``start_time`` (from ``start``), ``finish_time``,
    ``duration`` (finish - start; None while running or negative)."""
    status = [s if isinstance(s, str) else None for s in _values(records, "status")]
    categories = list(statuses) + [s for s in dict.fromkeys(status) if s is not None and s not in statuses]
    columns: dict[str, Any] = {"parent_job_id": pd.array(parents, dtype=STRING_DTYPE)}
    for key in strings:
        columns[key] = pd.array(_values(records, key), dtype=STRING_DTYPE)
    columns["status"] = pd.Categorical(status, categories=categories)
    columns["state"] = pd.Categorical(_values(records, "state"), dtype=STATE_DTYPE)
    for key in tail:
        columns[key] = pd.array(_values(records, key), dtype=STRING_DTYPE)
    columns["start_time" if start == "submit_time" else start] = _times(records, start)
    columns["finish_time"] = _times(records, "finish_time")
    out = pd.DataFrame(columns)
    begin = out["start_time" if start == "submit_time" else start]
    running = (out["state"] == "running").to_numpy(dtype=bool, na_value=False)
    duration = (out["finish_time"] - begin).astype(DELTA_DTYPE)
    negative = (duration < pd.Timedelta(0)).to_numpy(dtype=bool, na_value=False)
    out["duration"] = duration.where(~(running | negative))
    return out
