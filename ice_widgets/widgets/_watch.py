"""watch(): a JobsView that refreshes unfinished jobs until every one has finished.

Jobs of every kind can be watched, together: each is fetched with its kind's Get
(GetTranscodeJob returns a transcode job's sub-jobs) and leaves the watch when its state is
succeeded or failed.

One poller per view, an :class:`asyncio.Task` on the kernel's own running event loop: no
thread, no thread per job. Each round fetches the unfinished jobs through an
:class:`~ice_widgets._client.AsyncClient` with bounded concurrency, then redraws the view
once (only its visible page is rendered). Between rounds the "updated N s ago" line ticks.

* A job whose refresh fails keeps its last known state and is marked stale (never shown as
  current); a job that was never fetched shows the error.
* Throttling doubles the delay between rounds (up to :data:`MAX_DELAY`); a good round
  resets it.
* The poller stops when every job has finished, on :meth:`WatchView.close`, on
  ``%unload_ext ice_widgets`` (:func:`stop_all`) and at interpreter exit.

Without a running loop (a script, a test) nothing is scheduled: step the view with
``await view.poll_once()`` or run it to the end with ``await view.run()``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import math
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ice_widgets._errors import (
    AuthenticationError,
    CredentialsError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    ThrottlingError,
)
from ice_widgets._frames import build_frame
from ice_widgets._ids import check_id, code_message, split_ids
from ice_widgets._models import KINDS, JobError
from ice_widgets.widgets._card import afetch_one, check_kind, is_job, placeholder, twin_client
from ice_widgets.widgets._view import JobsView

if TYPE_CHECKING:
    from ice_widgets._client import AsyncClient, Client

__all__ = ["MAX_DELAY", "WatchView", "live_pollers", "stop_all", "watch"]

#: Longest delay between rounds while the API throttles us (seconds).
MAX_DELAY = 120.0
#: Errors after which a job will never be found: it counts as finished for the poller.
_PERMANENT = (NotFoundError, PermissionDeniedError, InvalidParameterError)
#: Errors after which no job can be fetched: the poller stops and says why.
_FATAL = (AuthenticationError, CredentialsError)

_LIVE: weakref.WeakSet[WatchView] = weakref.WeakSet()


def live_pollers() -> list[WatchView]:
    """The views whose poller is running now."""
    return [view for view in list(_LIVE) if view.running]


def stop_all() -> None:
    """Stop every running poller (used by ``%unload_ext`` and at interpreter exit)."""
    for view in list(_LIVE):
        with contextlib.suppress(Exception):
            view.stop()


atexit.register(stop_all)


def _code_message(exc: BaseException) -> tuple[str, str]:
    return code_message(exc)  # the one error-to-row rule (ice_widgets._ids)


def _async_client(client: Any) -> tuple[Any, bool]:
    """``(AsyncClient, owned)`` from an AsyncClient, a sync Client (its twin) or None."""
    from ice_widgets._client import AsyncClient

    if client is None:
        return AsyncClient(), True
    if hasattr(client, "aclose"):
        return client, False
    return twin_client(client, asynchronous=True), True


def _not_watchable(job_ids: Any) -> str | None:
    """Why ``job_ids`` cannot hold job IDs (None, a number), in one line; None when it can."""
    if job_ids is None or isinstance(job_ids, bytes) or not isinstance(job_ids, Iterable):
        what = "None" if job_ids is None else f"a {type(job_ids).__name__}"
        return (
            "watch() takes job IDs (a list, a Series, a DataFrame with a job_id column, or a "
            f"string), not {what}"
        )
    return None


def _nothing_to_watch(job_ids: Any) -> str:
    """The notice of a watch with no job ID in it."""
    try:
        given = len(job_ids)
    except TypeError:
        given = 0
    if given:
        return f"nothing to watch: the {given:,} values given hold no job ID"
    return "nothing to watch: no job IDs were given"


def _clean_ids(job_ids: Any, kind: str = "package", invalid: dict[str, Any] | None = None) -> dict[str, str]:
    """Distinct, stripped IDs in order -> their kind; jobs give their ID and kind; a frame
    its ``job_id`` (and ``kind``) columns; None/NaN/blank are skipped; unusable IDs
    (:func:`ice_widgets._ids.check_id`) go to ``invalid`` as JobError rows, never requested."""
    if invalid is None:
        invalid = {}
    columns = getattr(job_ids, "columns", None)
    pairs: list[tuple[Any, Any]]
    if columns is not None:  # a DataFrame: its job_id column, and its kind column if any
        kinds = job_ids["kind"].tolist() if "kind" in columns else [kind] * len(job_ids)
        pairs = list(zip(job_ids["job_id"].tolist(), kinds))
    else:
        pairs = [(item, kind) for item in job_ids]
    found: dict[str, str] = {}
    for item, item_kind in pairs:
        if is_job(item):
            item, item_kind = item.job_id, item.kind
        if not isinstance(item_kind, str) or not item_kind:
            item_kind = kind
        entry = check_id(item)  # the one job-ID rule (ice_widgets._ids)
        if isinstance(entry, str):
            found.setdefault(entry, check_kind(item_kind))
        elif entry.code == "InvalidJobId" and entry.job_id:
            invalid.setdefault(entry.job_id, entry)
    return found


def _job_error(job_id: str, kind: str, code: str, message: str) -> Any:
    """A row for a job that could not be fetched (its kind is set on the frame's row)."""
    return JobError(job_id, code, message)


class WatchView(JobsView):
    """A :class:`JobsView` whose unfinished jobs are refreshed until all have finished.

    Build it with :func:`watch`. ``running`` tells whether the poller runs; ``stop()`` stops
    it and keeps the view; ``close()`` stops it and closes the widget.
    """

    # Class-level defaults: a view whose __init__ failed is still safe to close and collect.
    _task: asyncio.Task[None] | None = None
    _aclient: Any = None
    _owns_aclient = False
    _owns_sync = False
    _stopped = False

    def __init__(
        self,
        job_ids: Iterable[Any],
        *,
        client: Any = None,
        interval: float = 5.0,
        concurrency: int = 16,
        page_size: int = 25,
        kind: str = "package",
    ) -> None:
        problem = _not_watchable(job_ids)
        if problem:
            raise TypeError(problem)
        invalid: dict[str, Any] = {}
        kinds = _clean_ids(job_ids, check_kind(kind), invalid)
        self._records: dict[str, Any] = {i: placeholder(i, k) for i, k in kinds.items()}
        for job_id, row in invalid.items():  # shown as error rows, never requested
            if job_id not in kinds:
                kinds[job_id] = check_kind(kind)
                self._records[job_id] = _job_error(job_id, kinds[job_id], row.code, row.message)
        ids = list(kinds)
        self._ids = ids
        self._kinds = kinds
        self._fetched: set[str] = set()  # fetched at least once
        self._done: set[str] = set(invalid) & set(kinds)  # finished, or permanently unfetchable
        self._interval = max(0.05, float(interval))
        self._delay = self._interval
        self._concurrency = max(1, int(concurrency))
        self._given_client = client
        self._aclient: Any = None
        self._owns_aclient = False
        self._task: asyncio.Task[None] | None = None
        self._updated_at: datetime | None = None
        self._rounds = 0
        self._throttled = 0
        self._failure: str | None = None
        self._stopped = False
        self._looping = False
        # Job cards opened from the view refresh with a sync client for the same endpoint and key.
        self._owns_sync = client is not None and hasattr(client, "aclose")
        sync_client = twin_client(client, asynchronous=False) if self._owns_sync else client
        super().__init__(self._build(), client=sync_client, page_size=page_size)
        self.add_class("ice-watch")
        _LIVE.add(self)
        self.set_notice("waiting for the first refresh" if ids else _nothing_to_watch(job_ids))

    # ------------------------------------------------------------------ state

    @property
    def running(self) -> bool:
        """True while the poller task exists and has not finished."""
        return self._task is not None and not self._task.done()

    @property
    def finished(self) -> bool:
        """True when every job has finished (or can never be fetched)."""
        return len(self._done) == len(self._ids)

    @property
    def rounds(self) -> int:
        """Refresh rounds done so far."""
        return self._rounds

    @property
    def delay(self) -> float:
        """Seconds until the next round (grows while throttled)."""
        return self._delay

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The poller task, if one was started."""
        return self._task

    # ------------------------------------------------------------------ polling

    def start(self) -> bool:
        """Start the poller on the running event loop; False when no loop runs (or it finished)."""
        if self.running or self.finished or self._stopped:
            return self.running
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.set_notice("not polling (no running event loop): await view.poll_once() to refresh")
            return False
        self._task = loop.create_task(self.run(), name=f"ice_widgets.watch({len(self._ids)} jobs)")
        return True

    async def run(self) -> None:
        """Refresh until every job has finished (or the view is stopped)."""
        self._looping = True
        try:
            while not self._stopped and not self.finished:
                await self.poll_once()
                if self.finished or self._failure or self._stopped:
                    break
                await self._wait(self._delay)
        finally:
            self._looping = False
            await self._release_client()
            self._show_notice()

    async def _wait(self, seconds: float) -> None:
        """Sleep until the next round, ticking the "updated N s ago" line once a second."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not self._stopped:
            left = end - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(1.0, left))
            self._show_notice(next_in=max(0.0, end - loop.time()))

    async def poll_once(self) -> int:
        """Fetch every unfinished job once and redraw; returns how many were fetched."""
        if self._failure:
            return 0
        if self._aclient is None:
            self._aclient, self._owns_aclient = _async_client(self._given_client)
        pending = [i for i in self._ids if i not in self._done]
        semaphore = asyncio.Semaphore(self._concurrency)
        throttled = 0
        retry_after = 0.0

        async def one(job_id: str) -> None:
            nonlocal throttled, retry_after
            async with semaphore:
                if self._stopped:
                    return
                try:
                    job = await afetch_one(self._aclient, job_id, self._kinds[job_id])
                except asyncio.CancelledError:
                    raise
                except _FATAL as exc:
                    self._failure = "{}: {}".format(*_code_message(exc))
                except Exception as exc:
                    code, message = _code_message(exc)
                    if isinstance(exc, ThrottlingError):
                        throttled += 1
                        retry_after = max(retry_after, float(exc.retry_after or 0.0))
                    if job_id in self._fetched:  # keep the last known state, visibly stale
                        self._stale[job_id] = f"{code}: {message}"
                    else:
                        self._records[job_id] = _job_error(job_id, self._kinds[job_id], code, message)
                    if isinstance(exc, _PERMANENT):
                        self._done.add(job_id)
                else:
                    self._records[job_id] = job
                    self._fetched.add(job_id)
                    self._stale.pop(job_id, None)
                    if job.state in ("succeeded", "failed"):  # the same rule for every kind
                        self._done.add(job_id)

        jobs = iter(pending)

        async def worker() -> None:
            for job_id in jobs:  # a fixed pool of workers: no task per job (issue 6)
                await one(job_id)

        await asyncio.gather(*(worker() for _ in range(min(self._concurrency, len(pending)))))
        self._rounds += 1
        self._throttled += throttled
        if throttled:
            self._delay = min(MAX_DELAY, max(self._delay * 2, retry_after, self._interval))
        else:
            self._delay = self._interval
        self._updated_at = datetime.now(UTC)
        if not self._stopped:
            frame = self._build(
                fetched_at=self._updated_at, endpoint=getattr(self._aclient, "endpoint", None)
            )
            self.set_frame(frame, stale=self._stale)
            self._show_notice()
        if self._failure or self.finished or not self._looping:
            # Stepped by hand, each call may run on its own loop (asyncio.run): close the
            # client it made now, where its connections live.
            await self._release_client()
        return len(pending)

    def _build(self, **options: Any) -> Any:
        """The frame of the watched jobs; rows that could not be fetched keep their kind."""
        kinds = sorted(set(self._kinds.values()), key=KINDS.index)
        frame = build_frame([self._records[i] for i in self._ids], kind=kinds or None, **options)
        if "kind" in frame.columns and len(frame):
            missing = frame["kind"].isna().to_numpy(dtype=bool)
            if missing.any():
                frame.loc[missing, "kind"] = [self._kinds.get(str(i), None) for i in frame["job_id"][missing]]
        return frame

    def _show_notice(self, next_in: float | None = None) -> None:
        if self._stopped and self.comm is None:
            return
        parts = []
        if self._updated_at is not None:
            ago = (datetime.now(UTC) - self._updated_at).total_seconds()
            parts.append(f"updated {max(0, math.floor(ago))} s ago")
        if self._failure:
            parts.append(f"stopped: {self._failure}")
        elif self.finished:
            parts.append("all jobs finished; no longer refreshing")
        elif self._stopped:
            parts.append("stopped")
        else:
            waiting = len(self._ids) - len(self._done)
            parts.append(f"watching {waiting:,} unfinished job{'s' if waiting != 1 else ''}")
            if next_in is not None:
                parts.append(f"next refresh in {math.ceil(next_in)} s")
            if self._delay > self._interval:
                parts.append(f"throttled: slowed to every {self._delay:.0f} s")
        stale = len(self._stale)
        if stale:
            parts.append(f"{stale:,} stale")
        self.set_notice(" · ".join(parts))

    async def _release_client(self) -> None:
        client, self._aclient = self._aclient, None
        if client is not None and self._owns_aclient:
            with contextlib.suppress(Exception):
                await client.aclose()

    def stop(self) -> None:
        """Stop refreshing (the view stays as it is, marked stopped)."""
        self._stopped = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                task.cancel()
        elif self._aclient is not None and self._owns_aclient:  # stepped by hand: close it if we can
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            client, self._aclient = self._aclient, None
            if loop is not None:
                loop.create_task(client.aclose())
            else:
                with contextlib.suppress(Exception):
                    asyncio.run(client.aclose())
        with contextlib.suppress(Exception):
            self._show_notice()

    def close(self) -> None:
        """Stop the poller and close the widget."""
        self.stop()
        _LIVE.discard(self)
        if getattr(self, "_owns_sync", False) and self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        super().close()

    def __del__(self) -> None:
        # A destructor never raises (ipywidgets' Widget.__del__ closes the widget).
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        if not getattr(self, "_ids", None):
            return f"WatchView({getattr(self, '_notice', None) or 'no jobs'})"
        state = "running" if self.running else ("finished" if self.finished else "stopped")
        return f"WatchView({len(self._ids):,} jobs, {len(self._done):,} done, {state}, rounds={self._rounds})"

    def to_text(self) -> str:
        """Readable text: the watch state line, then the dashboard."""
        if not self._ids:
            return self._notice or ""  # "nothing to watch: ...", not an empty table
        return f"{self._notice or ''}\n{super().to_text()}".lstrip()


def watch(
    job_ids: Iterable[Any] | str,
    *,
    kind: str = "package",
    client: Client | AsyncClient | None = None,
    interval: float = 5.0,
    concurrency: int = 16,
) -> WatchView:
    """Show jobs and refresh the unfinished ones until all have finished.

    Parameters
    ----------
    job_ids : iterable of str, or str
        The jobs to watch: IDs (a string may hold several, separated by spaces or commas),
        jobs of any kind, a Series, or a frame with a ``job_id`` column (and a ``kind``
        column for jobs of several kinds). Blank and missing values are skipped; repeated
        IDs are watched once.
    kind : str
        The kind of the IDs given (one of :data:`ice_widgets.KINDS`, default ``"package"``);
        jobs and a frame's ``kind`` column carry their own. Each job is fetched with its
        kind's Get (a transcode job with its sub-jobs) and leaves the watch when its state
        is succeeded or failed.
    client : AsyncClient or Client, optional
        Defaults to an :class:`~ice_widgets.AsyncClient` from the environment.
    interval : float
        Seconds between refresh rounds (doubled while the API throttles, up to 2 min).
    concurrency : int
        Requests in flight at most.

    Returns
    -------
    WatchView
        A :class:`JobsView`. In a notebook the poller starts at once on the kernel's event
        loop; elsewhere call ``await view.poll_once()`` or ``await view.run()``.
    """
    problem = _not_watchable(job_ids)
    if problem:
        raise TypeError(problem)  # here, so the traceback ends at the call
    if isinstance(job_ids, str):
        job_ids = split_ids(job_ids)  # the one rule for a string of several IDs
    view = WatchView(job_ids, client=client, interval=interval, concurrency=concurrency, kind=kind)
    view.start()
    return view
