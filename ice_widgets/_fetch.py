"""The batch entry points: :func:`fetch_jobs`, :func:`afetch_jobs` and :func:`list_jobs`.

They normalise the IDs and run them through the batch engine (:mod:`ice_widgets._batch`)
and the cache (:mod:`ice_widgets._cache`), and hand the records to the pure frame
builders of :mod:`ice_widgets._frames`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from ice_widgets._batch import (
    BatchProgress,
    async_client_for,
    getter,
    resolve_concurrency,
    run_batch,
    run_sync,
    sync_client_for,
    sync_fetcher,
)
from ice_widgets._cache import open_cache
from ice_widgets._errors import public_call
from ice_widgets._frames import FrameBuilder, _to_timestamp, build_frame
from ice_widgets._ids import check_id, parse_ids
from ice_widgets._models import KINDS, Job, JobError, model_for
from ice_widgets._types import AnyClient, CacheArg, JobIds

__all__ = ["afetch_jobs", "fetch_jobs", "list_jobs"]


_MODEL_TYPES: tuple[type[Job], ...] = tuple(model_for(kind) for kind in KINDS)

#: The Get and List operations of each kind, for the progress bar.
_GET_ACTIONS = {
    "package": "GetPackageJob",
    "transcode": "GetTranscodeJob",
    "media_producing": "GetMediaProducingJob",
    "snapshot": "GetSnapshotJob",
    "media_convert": "GetMediaConvertJob",
}
_LIST_ACTIONS = {kind: "List" + action[3:] + "s" for kind, action in _GET_ACTIONS.items()}


def _kind_name(value: Any) -> str | None:
    """A kind as written by a person (``"Transcode"``, ``"media-producing"``) -> the pinned
    name (``"transcode"``, ``"media_producing"``), or None when it is not a kind."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower().replace("-", "_").replace(" ", "_")
    return name if name in KINDS else None


def _check_kind(kind: Any) -> str:
    """The ``kind=`` argument as a pinned kind name; ValueError naming the kinds otherwise."""
    name = _kind_name(kind)
    if name is None:
        raise ValueError(f"unknown job kind {kind!r}: use one of {', '.join(map(repr, KINDS))}")
    return name


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _is_model(value: Any) -> bool:
    """Whether ``value`` is a job model (of any kind): it stands for its ID and kind."""
    return isinstance(value, _MODEL_TYPES)


def _kinded_entries(job_ids: Any, kind: str) -> tuple[list[str | JobError], list[str | None]]:
    """The batch's rows: ``(entries, kinds)``, one distinct ID (or error row) per row.

    ``job_ids`` as for :func:`fetch_jobs`. Each ID's kind is, in order: its row's ``kind``
    column (a DataFrame with ``job_id`` and ``kind`` columns), the model's kind (job
    models given as IDs), else ``kind``. An ID given twice keeps its first row (and kind).
    A row whose ``kind`` is not a kind becomes an ``InvalidKind`` error row.
    """
    pairs: list[tuple[Any, Any]] | None = None
    if _is_model(job_ids):  # one job model: its ID, as its kind
        pairs = [(job_ids.job_id, job_ids.kind)]
    elif isinstance(job_ids, pd.DataFrame) and "kind" in job_ids.columns and job_ids.shape[1] > 1:
        if "job_id" not in job_ids.columns:
            raise TypeError("job_ids is a DataFrame with a 'kind' column but no 'job_id' column")
        pairs = list(zip(job_ids["job_id"].tolist(), job_ids["kind"].tolist()))
    elif not isinstance(job_ids, (str, bytes, bytearray, pd.DataFrame, Mapping)) and isinstance(
        job_ids, Iterable
    ):
        values = job_ids.tolist() if isinstance(job_ids, (pd.Series, pd.Index)) else list(job_ids)
        if any(_is_model(v) for v in values):
            pairs = [(v.job_id, v.kind) if _is_model(v) else (v, None) for v in values]
        else:
            job_ids = values  # an iterator is read once
    if pairs is None:
        entries = parse_ids(job_ids)
        return entries, [kind] * len(entries)
    out: list[str | JobError] = []
    kinds: list[str | None] = []
    seen: set[Any] = set()
    for value, row_kind in pairs:
        entry = check_id(value)  # one item is one ID (the parser's rule)
        if _is_missing(row_kind):
            name: str | None = kind
        else:
            name = _kind_name(row_kind)
            if name is None and isinstance(entry, str):
                entry = JobError(
                    entry, "InvalidKind", f"unknown job kind {row_kind!r}: use one of {', '.join(KINDS)}"
                )
        key: Any = entry if isinstance(entry, str) else ("error", entry.job_id, entry.code)
        if key in seen:
            continue
        seen.add(key)
        out.append(entry)
        kinds.append(name)
    return out, kinds


def _desc(kinds: list[str]) -> str:
    if len(kinds) == 1:
        return _GET_ACTIONS[kinds[0]]
    return f"Get*Job ({len(kinds)} kinds)"


class _Bar:
    """A tqdm.auto progress bar fed from :class:`~ice_widgets._batch.BatchProgress` counters.

    It is only ever touched by the thread (or loop) that called fetch_jobs.
    """

    def __init__(self, enabled: bool, total: int | None, desc: str) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            class _NoMonitor(tqdm):  # type: ignore[misc]  # tqdm has no type information: Any
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
    kinds: list[str | None],
    client: Any,
    workers: int,
    cache: Any,
    state: Any,
) -> tuple[FrameBuilder, str]:
    """Fetch the usable IDs among ``entries`` (cache first) into a FrameBuilder, in order.

    ``kinds[i]`` is the kind of row ``i``; each job is fetched with its kind's Get.
    """
    close_sync = None
    fetch_one: Callable[[str], Awaitable[Job]]
    kind_of: dict[str, str] = {}
    batch_kinds = sorted({k for k in kinds if k is not None}, key=KINDS.index)

    def dispatch(source: Any) -> Callable[[str], Awaitable[Job]]:
        """``fetch_one`` over the async client ``source``: each job with its kind's Get."""
        if len(batch_kinds) <= 1:  # one kind: its Get, without a look-up per job
            return getter(source, batch_kinds[0] if batch_kinds else "package")
        methods: dict[str, Callable[[str], Awaitable[Job]]] = {k: getter(source, k) for k in batch_kinds}

        async def fetch(job_id: str) -> Job:
            return await methods[kind_of[job_id]](job_id)

        return fetch

    aclient: Any = None
    owned = False
    try:
        aclient = async_client_for(client)
        owned = True
        fetch_one, endpoint = dispatch(aclient), aclient.endpoint
    except TypeError:
        if client is None or not hasattr(client, "get_package_job"):
            raise
        fetch_one, close_sync = sync_fetcher(client, workers, kind_of.__getitem__)
        endpoint = client.endpoint
    try:
        builder = FrameBuilder(len(entries))
        row_of: dict[str, int] = {}
        for i, entry in enumerate(entries):
            if isinstance(entry, JobError):
                builder.put(i, entry, kind=kinds[i])
                state.done += 1
                state.errors += 1
            else:
                row_of[entry] = i
                kind_of[entry] = kinds[i] or "package"
        if cache is not None:
            cached: dict[str, Job] = {}
            for kind in batch_kinds:
                ids = [job_id for job_id, k in kind_of.items() if k == kind]
                cached.update(_cache_read(cache, ids, endpoint, kind))
            for job_id, job in cached.items():
                builder.put(row_of[job_id], job, job_id)
            state.cached = len(cached)
            state.done += len(cached)
            todo = [i for i in row_of if i not in cached]
            del cached
        else:
            todo = list(row_of)
        pending: list[Job] = []

        def on_result(job_id: str, record: Job | JobError) -> None:
            builder.put(row_of[job_id], record, job_id, kind_of[job_id])  # the record is not kept
            if cache is not None and not isinstance(record, JobError) and record.state in _FINISHED:
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


#: The states after which a job never changes again (the cache keeps only those jobs).
_FINISHED = frozenset({"succeeded", "failed"})


def _cache_read(cache: Any, ids: list[str], endpoint: str, kind: str = "package") -> dict[str, Job]:
    import sqlite3
    import warnings

    try:
        found: dict[str, Job] = cache.get_many(ids, endpoint, kind)
        return found
    except sqlite3.Error as exc:
        warnings.warn(
            f"ice_widgets: the job cache could not be read ({exc}); fetching everything", stacklevel=2
        )
        return {}


def _cache_write(cache: Any, jobs: list[Job], endpoint: str) -> None:
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


def _finish(builder: FrameBuilder, endpoint: str, kinds: list[str]) -> pd.DataFrame:
    """The batch's frame; for large batches the heap is trimmed before and after building it.

    The frame has the columns of every kind asked for, even one whose IDs all failed."""
    large = builder.n >= TRIM_ROWS
    if large:
        _trim_heap()
    frame = builder.frame(endpoint=endpoint, kinds=kinds)  # empties the builder
    if large:
        _trim_heap()
    return frame


@public_call
def fetch_jobs(
    job_ids: JobIds,
    *,
    kind: str = "package",
    client: AnyClient = None,
    concurrency: int | None = None,
    progress: bool = True,
    cache: CacheArg = None,
) -> pd.DataFrame:
    """Fetch many jobs of any kind (GetPackageJob, GetTranscodeJob, ...) into one typed DataFrame.

    Works the same in a script and in a Jupyter kernel: the requests run on a private
    event loop in a worker thread while this thread shows progress and waits for Ctrl-C
    (the notebook's stop button), which cancels every outstanding request and raises.

    Parameters
    ----------
    job_ids : str, iterable of str, Series, Index, DataFrame, or job models
        A string may hold several IDs separated by commas or whitespace; in a list, Series
        or column each item is one ID (the rule: :mod:`ice_widgets._ids`). IDs are stripped
        and fetched once each; the frame has one row per distinct ID in first-seen order.
        Empty, missing (None/NaN) and unusable IDs become rows with
        ``error_code``/``error_message``. A DataFrame must have one column or a
        ``job_id`` column; with a ``kind`` column too (a frame from ``fetch_jobs`` or
        ``list_jobs``, or your own), each ID is fetched as its row's kind: one frame for
        a mixed batch. Job models (``TranscodeJob``...) stand for their ID and kind.
    kind : str
        The kind of the IDs whose kind is not given otherwise: one of
        :data:`~ice_widgets.KINDS` (``"package"``, ``"transcode"``, ``"media_producing"``,
        ``"snapshot"``, ``"media_convert"``; case and ``-`` are forgiven).
    client : Client or AsyncClient, optional
        Default: a client configured from the environment (``ALIBABA_CLOUD_*``). Its
        endpoint, credentials, retry policy, ``stats`` and adaptive ``rate`` are used.
    concurrency : int, optional
        Most requests in flight at once (default 32, at most 256). The send rate adapts to
        throttling on its own (AIMD through the client's ``rate``).
    progress : bool
        Show a tqdm progress bar (a widget in notebooks): done/total, rate and errors.
    cache : str, path or JobCache, optional
        A SQLite file of finished jobs (state succeeded or failed), keyed by endpoint, kind
        and ID; only unfinished, unknown and uncached jobs are requested. Safe to share
        between processes.

    Returns
    -------
    pandas.DataFrame
        See :func:`~ice_widgets.build_frame`: the common columns, then those of every kind
        in the batch. Jobs that could not be fetched (not found, forbidden, still failing
        after retries, a row whose ``kind`` is not a kind) have ``error_code`` and
        ``error_message``.

    Raises
    ------
    TypeError
        If ``job_ids`` is not a string or an iterable of IDs (an int, a dict).
    ValueError
        If ``kind`` is not one of :data:`~ice_widgets.KINDS`.
    AuthenticationError, ClockSkewError, CredentialsError
        Failures that doom every request stop the batch at once.
    KeyboardInterrupt
        After cancelling the outstanding requests.

    Examples
    --------
    >>> df = fetch_jobs(parent_ids, kind="transcode")  # doctest: +SKIP
    >>> mixed = fetch_jobs(pd.DataFrame({"job_id": ids, "kind": kinds}))  # doctest: +SKIP
    """
    default = _check_kind(kind)
    entries, kinds = _kinded_entries(job_ids, default)
    requested = _distinct(kinds, default)
    workers = resolve_concurrency(concurrency)
    store, owned = open_cache(cache)
    state = BatchProgress(len(entries))
    bar = _Bar(progress and bool(entries), len(entries), _desc(requested))
    try:
        builder, endpoint = run_sync(
            lambda: _gather(entries, kinds, client, workers, store, state),
            tick=lambda: bar.show(state.done, state.errors),
        )
    finally:
        bar.close(state.done, state.errors)
        if owned and store is not None:
            store.close()
    return _finish(builder, endpoint, requested)


@public_call
async def afetch_jobs(
    job_ids: JobIds,
    *,
    kind: str = "package",
    client: AnyClient = None,
    concurrency: int | None = None,
    progress: bool = True,
    cache: CacheArg = None,
) -> pd.DataFrame:
    """The awaitable :func:`fetch_jobs`: runs on the caller's event loop.

    Takes the same arguments (``kind=``, a DataFrame with ``job_id`` and ``kind`` columns
    for a mixed batch). ``client`` may be a :class:`~ice_widgets.Client` or an
    :class:`~ice_widgets.AsyncClient`; the batch runs on a copy of it with connections of
    its own (sharing its credentials, ``stats`` and ``rate``), closed when the batch ends.
    Cancelling the awaiting task cancels every outstanding request.
    """
    default = _check_kind(kind)
    entries, kinds = _kinded_entries(job_ids, default)
    requested = _distinct(kinds, default)
    workers = resolve_concurrency(concurrency)
    store, owned = open_cache(cache)
    state = BatchProgress(len(entries))
    bar = _Bar(progress and bool(entries), len(entries), _desc(requested))

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.1)
            bar.show(state.done, state.errors)

    ticker = asyncio.create_task(tick()) if progress and entries else None
    try:
        builder, endpoint = await _gather(entries, kinds, client, workers, store, state)
    finally:
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        bar.close(state.done, state.errors)
        if owned and store is not None:
            store.close()
    return _finish(builder, endpoint, requested)


def _distinct(kinds: list[str | None], default: str) -> list[str]:
    """The kinds of a batch, in :data:`KINDS` order (``default`` for an empty batch)."""
    found = sorted({k for k in kinds if k is not None}, key=KINDS.index)
    return found or [default]


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
    kind: str | Iterable[str] = "package",
    client: AnyClient = None,
    status: str | None = None,
    start: datetime | pd.Timestamp | str | None = None,
    end: datetime | pd.Timestamp | str | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """List jobs of a kind (ListPackageJobs, ListTranscodeJobs, ...) into the typed DataFrame.

    Each kind's List pages its own way (``NextPageToken``/``PageSize``, or
    ``NextToken``/``MaxResults`` for media producing) and names its filters its own way;
    the client takes care of it. List items carry fewer fields than Get: transcode items
    have no sub-jobs (``sub_jobs`` is None, not empty), media producing items no progress,
    media convert items no output details. Fetch them with ``fetch_jobs(df)`` for the rest.

    Parameters
    ----------
    kind : str or iterable of str
        One of :data:`~ice_widgets.KINDS`, or several: each is listed in turn, into one
        frame (in the order given).
    client : Client or AsyncClient, optional
        Default: a client configured from the environment.
    status : str, optional
        The kind's own status filter, as the API spells it: packaging, transcode and
        snapshot ``Init``/``Success``/``Fail``; media producing ``Init``/``Processing``/
        ``Success``/``Failed``; media convert ``Inited``/``Running``/``Complete``/``Error``.
    start, end : datetime, pandas Timestamp or ISO 8601 string, optional
        Bounds of the jobs' creation time; naive times are UTC.
    limit : int, optional
        Stop after this many jobs (in all).
    progress : bool
        Show a tqdm progress bar of the jobs listed so far.

    Returns
    -------
    pandas.DataFrame
        See :func:`~ice_widgets.build_frame`; newest jobs first (for each kind).

    Raises
    ------
    ValueError
        For an unknown kind, an unparsable time, ``start`` after ``end`` or a negative
        ``limit``.

    Examples
    --------
    >>> list_jobs(start="2026-01-01", end="2026-01-02", status="Fail")  # doctest: +SKIP
    >>> list_jobs(kind="transcode", start="2026-01-01", end="2026-01-02")  # doctest: +SKIP
    """
    names = [_check_kind(kind)] if isinstance(kind, str) else [_check_kind(k) for k in kind]
    if not names:
        raise ValueError(f"kind must name at least one of {', '.join(map(repr, KINDS))}")
    names = list(dict.fromkeys(names))
    begin, finish = _bound(start, "start"), _bound(end, "end")
    if begin is not None and finish is not None and begin > finish:
        raise ValueError(f"start ({begin.isoformat()}) is after end ({finish.isoformat()})")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative int or None, not {limit!r}")
    sync = sync_client_for(client)
    jobs: list[Job | JobError] = []
    desc = _LIST_ACTIONS[names[0]] if len(names) == 1 else f"List*Jobs ({len(names)} kinds)"
    bar = _Bar(progress, None, desc)
    try:
        for name in names:
            if limit is not None and len(jobs) >= limit:
                break
            if name == "package":
                pages = sync.list_package_jobs(status=status, start=begin, end=finish, page_size=100)
            else:
                pages = sync.list_jobs(kind=name, status=status, start=begin, end=finish, page_size=100)
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
    return build_frame(jobs, kind=names, endpoint=endpoint)
