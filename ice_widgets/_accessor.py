"""The ``df.ice`` accessor on job frames (from ``fetch_jobs``, ``list_jobs`` or ``build_frame``).

Registered (``import ice_widgets._accessor``) by the package facade as soon as a frame-making
name (``fetch_jobs``, ``build_frame``, ``JobsView``...) is loaded from ``ice_widgets``, and by
``%load_ext ice_widgets``. It sits above the fetch and widget layers: it calls
``fetch_jobs`` (``refresh``) and ``JobsView`` (``view``); nothing below imports it::

    df = ice_widgets.fetch_jobs(ids)
    df.ice.summary()      # counts by status, success rate, duration percentiles
    df.ice.failures()     # failed jobs grouped by code and message
    df = df.ice.refresh() # re-fetch the unfinished rows only
    df.ice.view()         # an interactive JobsView widget
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ice_widgets._frames import COLUMNS, _counts, restore_types
from ice_widgets._models import FINISHED_STATUSES

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

    def summary(self) -> pd.Series:
        """Counts by status, success rate and duration percentiles, as one Series.

        Returns
        -------
        pandas.Series
            ``total``; ``errors`` (rows that could not be fetched); one count per status
            (Init, Success, Fail, then unknown ones); ``success_rate`` = Success / (Success +
            Fail), NaN when nothing finished; ``duration_p50``, ``duration_p90``,
            ``duration_p99``, ``duration_max`` (Timedelta, NaT when no durations).
        """
        self._need("status", "duration", "error_code")
        frame = self._obj
        status = frame["status"]
        counts = status.value_counts(sort=False)
        values: dict[str, Any] = {"total": len(frame), "errors": int(frame["error_code"].notna().sum())}
        for name, count in counts.items():
            values[str(name)] = int(count)
        success = int(counts.get("Success", 0))
        failed = int(counts.get("Fail", 0))
        values["success_rate"] = success / (success + failed) if success + failed else np.nan
        durations = frame["duration"].dropna()
        for label, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            values[f"duration_{label}"] = durations.quantile(q) if len(durations) else pd.NaT
        values["duration_max"] = durations.max() if len(durations) else pd.NaT
        return pd.Series(values, dtype=object, name="summary")

    def failures(self) -> pd.DataFrame:
        """Failed jobs grouped by code and message, most frequent first.

        Jobs with status ``Fail`` are grouped by their ``code``/``message`` (``source`` =
        ``"job"``); rows that could not be fetched by ``error_code``/``error_message``
        (``source`` = ``"fetch"``).

        Returns
        -------
        pandas.DataFrame
            Columns ``source, code, message, count, example_ids`` (up to 3 IDs each).
        """
        self._need("job_id", "status", "code", "message", "error_code", "error_message")
        frame = self._obj
        parts = []
        failed = frame[frame["status"] == "Fail"]
        if len(failed):
            parts.append(
                pd.DataFrame({"source": "job", "code": failed["code"], "message": failed["message"]})
            )
            parts[-1]["job_id"] = failed["job_id"]
        errors = frame[frame["error_code"].notna()]
        if len(errors):
            parts.append(
                pd.DataFrame(
                    {"source": "fetch", "code": errors["error_code"], "message": errors["error_message"]}
                )
            )
            parts[-1]["job_id"] = errors["job_id"]
        columns = ["source", "code", "message", "count", "example_ids"]
        if not parts:
            return pd.DataFrame(
                {
                    "source": pd.Series([], dtype=pd.StringDtype()),
                    "code": pd.Series([], dtype=pd.StringDtype()),
                    "message": pd.Series([], dtype=pd.StringDtype()),
                    "count": pd.Series([], dtype="int64"),
                    "example_ids": pd.Series([], dtype=object),
                }
            )[columns]
        rows = pd.concat(parts, ignore_index=True)
        grouped = rows.groupby(["source", "code", "message"], dropna=False, sort=False)
        out = grouped.agg(
            count=("job_id", "size"),
            example_ids=("job_id", lambda s: [str(v) for v in s.dropna().head(_EXAMPLES)]),
        ).reset_index()
        out = out.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
        for name in ("source", "code", "message"):
            out[name] = out[name].astype(pd.StringDtype())
        out["count"] = out["count"].astype("int64")
        return out[columns]

    def unfinished(self) -> pd.Series:
        """Boolean mask of the rows ``refresh`` would re-fetch: not Success/Fail, with an ID."""
        self._need("job_id", "status")
        frame = self._obj
        finished = frame["status"].isin(list(FINISHED_STATUSES)).to_numpy(dtype=bool, na_value=False)
        has_id = frame["job_id"].notna().to_numpy(dtype=bool)
        invalid = np.zeros(len(frame), dtype=bool)
        if "error_code" in frame.columns:
            codes = frame["error_code"]
            invalid = codes.isin(["EmptyJobId", "MissingJobId", "InvalidJobId"]).to_numpy(
                dtype=bool, na_value=False
            )
        return pd.Series(~finished & has_id & ~invalid, index=frame.index, name="unfinished")

    def refresh(
        self, client: Any = None, *, progress: bool = False, concurrency: int | None = None
    ) -> pd.DataFrame:
        """Re-fetch the unfinished rows (Init, unknown statuses, fetch errors); return a new frame.

        Finished rows (Success, Fail) are kept as they are; row order and index are kept.

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

        self._need(*COLUMNS)
        frame = self._obj
        mask = self.unfinished().to_numpy()
        if not mask.any():
            return frame.copy()
        ids = frame.loc[mask, "job_id"].tolist()
        fresh = fetch_jobs(ids, client=client, progress=progress, concurrency=concurrency)
        fresh_by_id = fresh.set_index(fresh["job_id"].astype(object))
        positions = np.flatnonzero(mask)
        replacement = fresh_by_id.loc[ids].reset_index(drop=True)
        replacement.index = frame.index[positions]
        kept = frame.loc[~mask]
        order = pd.Series(np.arange(len(frame)), index=frame.index)
        combined = pd.concat([kept.astype({"status": object}), replacement.astype({"status": object})])
        combined = combined.iloc[np.argsort(order.loc[combined.index].to_numpy(), kind="stable")]
        combined = combined[list(frame.columns)]
        out = restore_types(combined)
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
