"""The batch entry points: :func:`fetch_jobs`, :func:`afetch_jobs` and :func:`list_jobs`.

They normalise the IDs and run them through the batch engine (:mod:`ice_widgets._batch`)
and the cache (:mod:`ice_widgets._cache`), and hand the records to the pure frame
builders of :mod:`ice_widgets._frames`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pandas as pd

from ice_widgets._batch import (
    BatchProgress,
    async_client_for,
    resolve_concurrency,
    run_batch,
    run_sync,
    sync_client_for,
    sync_fetcher,
)
from ice_widgets._cache import open_cache
from ice_widgets._errors import public_call
from ice_widgets._frames import FrameBuilder, _to_timestamp, build_frame
from ice_widgets._ids import parse_ids
from ice_widgets._models import JobError, PackageJob

__all__ = ["afetch_jobs", "fetch_jobs", "list_jobs"]


class _Bar:
    """A tqdm.auto progress bar fed from :class:`~ice_widgets._batch.BatchProgress` counters.

    It is only ever touched by the thread (or loop) that called fetch_jobs.
    """

    def __init__(self, enabled: bool, total: int | None, desc: str) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            class _NoMonitor(tqdm):
                monitor_interval = 0  # no tqdm_monitor thread left behind

            self._bar = _NoMonitor(total=total, desc=desc, unit="job", dynamic_ncols=True, leave=True)
        self._errors = -1

    def show(self, done: int, errors: int) -> None:
        bar = self._bar
        if bar is None:
            return
        if errors != self._errors:
            self._errors = errors
            bar.set_postfix(errors=errors, refresh=False)
        if done > bar.n:
            bar.update(done - bar.n)

    def close(self, done: int, errors: int) -> None:
        if self._bar is not None:
            self.show(done, errors)
            self._bar.close()
            self._bar = None


async def _gather(
    entries: list[str | JobError],
    client: Any,
    workers: int,
    cache: Any,
    state: Any,
) -> tuple[FrameBuilder, str]:
    """Fetch the usable IDs among ``entries`` (cache first) into a FrameBuilder, in order."""
    close_sync = None
    fetch_one: Callable[[str], Awaitable[PackageJob]]
    aclient: Any = None
    owned = False
    try:
        aclient = async_client_for(client)
        owned = True
        fetch_one, endpoint = aclient.get_package_job, aclient.endpoint
    except TypeError:
        if client is None or not hasattr(client, "get_package_job"):
            raise
        fetch_one, close_sync = sync_fetcher(client, workers)
        endpoint = client.endpoint
    try:
        builder = FrameBuilder(len(entries))
        row_of: dict[str, int] = {}
        for i, entry in enumerate(entries):
            if isinstance(entry, JobError):
                builder.put(i, entry)
                state.done += 1
                state.errors += 1
            else:
                row_of[entry] = i
        if cache is not None:
            cached = _cache_read(cache, list(row_of), endpoint)
            for job_id, job in cached.items():
                builder.put(row_of[job_id], job, job_id)
            state.cached = len(cached)
            state.done += len(cached)
            todo = [i for i in row_of if i not in cached]
            del cached
        else:
            todo = list(row_of)
        pending: list[PackageJob] = []

        def on_result(job_id: str, record: PackageJob | JobError) -> None:
            builder.put(row_of[job_id], record, job_id)  # the record itself is not kept
            if cache is not None and isinstance(record, PackageJob) and record.is_finished:
                pending.append(record)
                if len(pending) >= 500:
                    _cache_write(cache, pending, endpoint)
                    pending.clear()

        try:
            if todo:
                await run_batch(
                    todo,
                    fetch_one,
                    concurrency=min(workers, len(todo)),
                    progress=state,
                    on_result=on_result,
                    collect=False,
                )
        finally:  # what was fetched stays cached, even after Ctrl-C or a fatal error
            if pending:
                _cache_write(cache, pending, endpoint)
        return builder, endpoint
    finally:
        if owned:
            await aclient.aclose()
        if close_sync is not None:
            close_sync()


def _cache_read(cache: Any, ids: list[str], endpoint: str) -> dict[str, PackageJob]:
    import sqlite3
    import warnings

    try:
        found: dict[str, PackageJob] = cache.get_many(ids, endpoint)
        return found
    except sqlite3.Error as exc:
        warnings.warn(
            f"ice_widgets: the job cache could not be read ({exc}); fetching everything", stacklevel=2
        )
        return {}


def _cache_write(cache: Any, jobs: list[PackageJob], endpoint: str) -> None:
    import sqlite3
    import warnings

    try:
        cache.put_many(jobs, endpoint)
    except sqlite3.Error as exc:
        warnings.warn(f"ice_widgets: the job cache could not be written ({exc})", stacklevel=2)


#: Batches of at least this many rows hand freed heap memory back to the system (glibc).
TRIM_ROWS = 10_000


def _trim_heap() -> None:
    """Return the C heap's free pages to the system (glibc ``malloc_trim``; elsewhere nothing).

    A large batch parses hundreds of thousands of answers on the worker thread; what they
    freed stays in glibc's arenas as resident memory unless handed back. One call costs a
    few milliseconds.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        _MALLOC_TRIM = False
        if sys.platform.startswith("linux"):
            import ctypes

            with contextlib.suppress(OSError, AttributeError):
                _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM: Any = None


def _finish(builder: FrameBuilder, endpoint: str) -> pd.DataFrame:
    """The batch's frame; for large batches the heap is trimmed before and after building it."""
    large = builder.n >= TRIM_ROWS
    if large:
        _trim_heap()
    frame = builder.frame(endpoint=endpoint)  # empties the builder
    if large:
        _trim_heap()
    return frame


@public_call
def fetch_jobs(
    job_ids: Any,
    *,
    client: Any = None,
    concurrency: int | None = None,
    progress: bool = True,
    cache: Any = None,
) -> pd.DataFrame:
    """Fetch many packaging jobs (GetPackageJob) into one typed DataFrame.

    Works the same in a script and in a Jupyter kernel: the requests run on a private
    event loop in a worker thread while this thread shows progress and waits for Ctrl-C
    (the notebook's stop button), which cancels every outstanding request and raises.

    Parameters
    ----------
    job_ids : str, iterable of str, Series, Index or DataFrame
        A string may hold several IDs separated by commas or whitespace; in a list, Series
        or column each item is one ID (the rule: :mod:`ice_widgets._ids`). IDs are stripped
        and fetched once each; the frame has one row per distinct ID in first-seen order.
        Empty, missing (None/NaN) and unusable IDs become rows with
        ``error_code``/``error_message``. A DataFrame must have one column or a
        ``job_id`` column.
    client : Client or AsyncClient, optional
        Default: a client configured from the environment (``ALIBABA_CLOUD_*``). Its
        endpoint, credentials, retry policy, ``stats`` and adaptive ``rate`` are used.
    concurrency : int, optional
        Most requests in flight at once (default 32, at most 256). The send rate adapts to
        throttling on its own (AIMD through the client's ``rate``).
    progress : bool
        Show a tqdm progress bar (a widget in notebooks): done/total, rate and errors.
    cache : str, path or JobCache, optional
        A SQLite file of finished (Success/Fail) jobs; only unfinished and unknown jobs
        are requested. Safe to share between processes.

    Returns
    -------
    pandas.DataFrame
        See :func:`build_frame`. Jobs that could not be fetched (not found, forbidden,
        still failing after retries) have ``error_code`` and ``error_message``.

    Raises
    ------
    TypeError
        If ``job_ids`` is not a string or an iterable of IDs (an int, a dict).
    AuthenticationError, ClockSkewError, CredentialsError
        Failures that doom every request stop the batch at once.
    KeyboardInterrupt
        After cancelling the outstanding requests.
    """
    entries = parse_ids(job_ids)
    workers = resolve_concurrency(concurrency)
    store, owned = open_cache(cache)
    state = BatchProgress(len(entries))
    bar = _Bar(progress and bool(entries), len(entries), "GetPackageJob")
    try:
        builder, endpoint = run_sync(
            lambda: _gather(entries, client, workers, store, state),
            tick=lambda: bar.show(state.done, state.errors),
        )
    finally:
        bar.close(state.done, state.errors)
        if owned and store is not None:
            store.close()
    return _finish(builder, endpoint)


@public_call
async def afetch_jobs(
    job_ids: Any,
    *,
    client: Any = None,
    concurrency: int | None = None,
    progress: bool = True,
    cache: Any = None,
) -> pd.DataFrame:
    """The awaitable :func:`fetch_jobs`: runs on the caller's event loop.

    ``client`` may be a :class:`~ice_widgets.Client` or an :class:`~ice_widgets.AsyncClient`;
    the batch runs on a twin of it with connections of its own (sharing its credentials,
    ``stats`` and ``rate``), closed when the batch ends. Cancelling the awaiting task
    cancels every outstanding request.
    """
    entries = parse_ids(job_ids)
    workers = resolve_concurrency(concurrency)
    store, owned = open_cache(cache)
    state = BatchProgress(len(entries))
    bar = _Bar(progress and bool(entries), len(entries), "GetPackageJob")

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.1)
            bar.show(state.done, state.errors)

    ticker = asyncio.create_task(tick()) if progress and entries else None
    try:
        builder, endpoint = await _gather(entries, client, workers, store, state)
    finally:
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        bar.close(state.done, state.errors)
        if owned and store is not None:
            store.close()
    return _finish(builder, endpoint)


def _bound(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        stamp = _to_timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a datetime, pandas Timestamp or ISO 8601 string: {exc}") from None
    if pd.isna(stamp):
        raise ValueError(f"{name} is not a time: {value!r}")
    result: datetime = stamp.to_pydatetime()
    return result


@public_call
def list_jobs(
    *,
    client: Any = None,
    status: str | None = None,
    start: datetime | pd.Timestamp | str | None = None,
    end: datetime | pd.Timestamp | str | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """List packaging jobs (ListPackageJobs, 100 per page) into the typed DataFrame.

    Parameters
    ----------
    client : Client or AsyncClient, optional
        Default: a client configured from the environment.
    status : str, optional
        ``Init``, ``Success`` or ``Fail``.
    start, end : datetime, pandas Timestamp or ISO 8601 string, optional
        Bounds of the jobs' creation time; naive times are UTC.
    limit : int, optional
        Stop after this many jobs.
    progress : bool
        Show a tqdm progress bar of the jobs listed so far.

    Returns
    -------
    pandas.DataFrame
        See :func:`build_frame`; newest jobs first.

    Examples
    --------
    >>> list_jobs(start="2026-01-01", end="2026-01-02", status="Fail")  # doctest: +SKIP
    """
    begin, finish = _bound(start, "start"), _bound(end, "end")
    if begin is not None and finish is not None and begin > finish:
        raise ValueError(f"start ({begin.isoformat()}) is after end ({finish.isoformat()})")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative int or None, not {limit!r}")
    sync = sync_client_for(client)
    jobs: list[PackageJob | JobError] = []
    bar = _Bar(progress, None, "ListPackageJobs")
    try:
        if limit != 0:
            pages = sync.list_package_jobs(status=status, start=begin, end=finish, page_size=100)
            try:
                for job in pages:
                    jobs.append(job)
                    if len(jobs) % 100 == 0:
                        bar.show(len(jobs), 0)
                    if limit is not None and len(jobs) >= limit:
                        break
            finally:
                close = getattr(pages, "close", None)
                if close is not None:
                    close()
        endpoint = sync.endpoint
    finally:
        bar.close(len(jobs), 0)
        if sync is not client:
            sync.close()
    return build_frame(jobs, endpoint=endpoint)
