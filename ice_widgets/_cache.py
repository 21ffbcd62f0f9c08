"""An on-disk cache of finished ICE jobs of every kind (SQLite from the standard library).

A job that has finished (its ``state`` is ``succeeded`` or ``failed``) never changes
again, so ``fetch_jobs(ids, kind=..., cache="jobs.sqlite")`` asks the service only for the
jobs that are unfinished or not cached yet. Entries are keyed by endpoint, kind and job ID
and hold the job's dict as the API sent it (``job.raw``), as JSON; reading parses it again
with the kind's model (:func:`~ice_widgets._models.parse_job`).

Schema version 2 added the kind; a version-1 file (packaging jobs only) is migrated in
place, in one transaction, the first time it is opened.

Safe to share between processes (two notebooks on one file) and against a crash in the
middle of a write:

- WAL journal: readers never block the writer and see only committed data;
- every write is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): after a crash the
  file holds either all or none of a batch;
- a busy timeout: a writer waits for another process's transaction instead of failing;
- ``synchronous=NORMAL``: in WAL mode a crash (even ``kill -9``) cannot corrupt the file;
  only a power cut may forget the last commits, which a cache can afford.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from ice_widgets._models import KINDS, Job, PackageJob, parse_job

__all__ = ["CacheError", "JobCache"]

_SCHEMA_VERSION = 2
_CHUNK = 500  # IDs per SELECT ... IN (...): below SQLite's variable limit everywhere
_BUSY_TIMEOUT_MS = 30_000


class CacheError(Exception):
    """The cache file cannot be used (not a SQLite database, newer schema, unwritable)."""


def _job_dict(job: Job) -> dict[str, Any] | None:
    """The API dict of a job: the one received, or (packaging) rebuilt from the fields."""
    if job.raw:
        return dict(job.raw)
    if not isinstance(job, PackageJob):
        return None  # nothing to store: the other kinds are only cached as received
    data: dict[str, Any] = {
        "JobId": job.job_id,
        "Name": job.name,
        "Status": job.status,
        "TriggerSource": job.trigger_source,
        "Priority": job.priority,
        "PipelineId": job.pipeline_id,
        "Inputs": [{"Input": {"Type": m.type, "Media": m.media}} for m in job.inputs],
        "OutputUrl": job.output_url,
        "Code": job.code,
        "Message": job.message,
        "UserData": job.user_data,
    }
    if job.output is not None:
        data["Output"] = {"Type": job.output.type, "Media": job.output.media}
    for key, value in (
        ("SubmitTime", job.submit_time),
        ("FinishTime", job.finish_time),
        ("CreateTime", job.create_time),
        ("ModifiedTime", job.modified_time),
    ):
        if value is not None:
            data[key] = value.isoformat()
    return {k: v for k, v in data.items() if v is not None}


class JobCache:
    """A SQLite file of finished jobs, shared safely between threads and processes.

    Parameters
    ----------
    path : str or os.PathLike
        The database file; created (with its parent directory) when missing.

    Raises
    ------
    CacheError
        If the file exists but is not a usable cache.

    Examples
    --------
    >>> with JobCache("jobs.sqlite") as cache:  # doctest: +SKIP
    ...     cache.put_many([job], endpoint="https://ice.cn-shanghai.aliyuncs.com")
    ...     cache.get_many([job.job_id], endpoint="https://ice.cn-shanghai.aliyuncs.com")
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
            self._conn = sqlite3.connect(
                str(self.path),
                timeout=_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(f"cannot open the job cache {str(self.path)!r}: {exc}") from None
        try:
            self._setup_with_retries()
        except sqlite3.Error as exc:
            self._conn.close()
            raise CacheError(f"{str(self.path)!r} is not a usable job cache: {exc}") from None

    def _setup_with_retries(self) -> None:
        # Switching to WAL takes an exclusive lock without waiting on the busy handler: two
        # processes opening a new file at once can see "database is locked". Retry briefly.
        deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
        delay = 0.01
        while True:
            try:
                self._setup()
                return
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _setup(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a file system without shm
            raise sqlite3.OperationalError(f"WAL journal mode is not available (got {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this ice_widgets ({_SCHEMA_VERSION})"
            )
        if version < _SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have upgraded the file between the read and the lock.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 1:  # packaging jobs keyed by (endpoint, job_id): add the kind
                    conn.execute("ALTER TABLE jobs RENAME TO jobs_v1")
                if version < _SCHEMA_VERSION:
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS jobs ("
                        " endpoint TEXT NOT NULL,"
                        " kind TEXT NOT NULL,"
                        " job_id TEXT NOT NULL,"
                        " status TEXT NOT NULL,"
                        " data TEXT NOT NULL,"
                        " stored_at REAL NOT NULL,"
                        " PRIMARY KEY (endpoint, kind, job_id)"
                        ") WITHOUT ROWID"
                    )
                if version == 1:
                    conn.execute(
                        "INSERT INTO jobs (endpoint, kind, job_id, status, data, stored_at)"
                        " SELECT endpoint, 'package', job_id, status, data, stored_at FROM jobs_v1"
                    )
                    conn.execute("DROP TABLE jobs_v1")
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def __repr__(self) -> str:
        return f"JobCache({str(self.path)!r})"

    def __enter__(self) -> JobCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (committed data is already on disk)."""
        with self._lock:
            self._conn.close()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    def get_many(self, job_ids: Iterable[str], endpoint: str, kind: str = "package") -> dict[str, Job]:
        """The cached jobs of ``kind`` among ``job_ids`` for ``endpoint``, as ``{job_id: job}``.

        IDs that are not cached (for this endpoint and kind) are simply absent. Reading
        never blocks on writers.

        Parameters
        ----------
        job_ids : iterable of str
            The IDs to look up.
        endpoint : str
            The service endpoint the jobs were fetched from.
        kind : str
            One of :data:`~ice_widgets.KINDS`; the jobs are parsed with that kind's model.

        Raises
        ------
        ValueError
            If ``kind`` is not one of :data:`~ice_widgets.KINDS`.
        """
        _check_kind(kind)
        ids = list(dict.fromkeys(job_ids))
        found: dict[str, Job] = {}
        with self._lock:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT job_id, data FROM jobs WHERE endpoint = ? AND kind = ? AND job_id IN ({marks})",
                    [endpoint, kind, *chunk],
                ).fetchall()
                for job_id, data in rows:
                    try:
                        raw = json.loads(data)
                    except ValueError:  # pragma: no cover - written by us, in a transaction
                        continue
                    found[job_id] = parse_job(kind, raw)
        return found

    def put_many(self, jobs: Iterable[Job], endpoint: str) -> int:
        """Store the finished jobs among ``jobs`` (one transaction); return how many were stored.

        A job is finished when its ``state`` is ``succeeded`` or ``failed``. Unfinished jobs
        (running, unknown statuses), jobs without an ID and jobs without their API dict
        (other than packaging jobs, which are rebuilt from their fields) are skipped.
        Each job is stored under its own ``kind``.
        """
        now = time.time()
        rows = []
        for job in jobs:
            if not job.job_id or job.state not in _FINISHED_STATES or job.kind not in KINDS:
                continue
            data = _job_dict(job)
            if data is None:
                continue
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            rows.append((endpoint, job.kind, job.job_id, job.status or "", text, now))
        if not rows:
            return 0
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO jobs (endpoint, kind, job_id, status, data, stored_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return len(rows)

    def job_ids(self, endpoint: str | None = None, kind: str | None = None) -> Iterator[str]:
        """Every cached job ID (for ``endpoint`` and of ``kind`` only, when given)."""
        where, params = _where(endpoint, kind)
        with self._lock:
            rows = self._conn.execute(f"SELECT job_id FROM jobs{where} ORDER BY job_id", params).fetchall()
        return iter([r[0] for r in rows])

    def clear(self, endpoint: str | None = None, kind: str | None = None) -> int:
        """Delete the cached jobs (of ``endpoint`` and ``kind`` only, when given); return how many."""
        where, params = _where(endpoint, kind)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                count = conn.execute(f"DELETE FROM jobs{where}", params).rowcount
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return int(count)

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` for an intact file."""
        with self._lock:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


_FINISHED_STATES = frozenset({"succeeded", "failed"})


def _check_kind(kind: Any) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")


def _where(endpoint: str | None, kind: str | None) -> tuple[str, list[str]]:
    """A WHERE clause (or nothing) selecting ``endpoint`` and ``kind`` when given."""
    clauses, params = [], []
    if endpoint is not None:
        clauses.append("endpoint = ?")
        params.append(endpoint)
    if kind is not None:
        _check_kind(kind)
        clauses.append("kind = ?")
        params.append(kind)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def open_cache(cache: str | os.PathLike[str] | JobCache | None) -> tuple[JobCache | None, bool]:
    """``(cache, owned)`` from the ``cache=`` argument of fetch_jobs (owned: close it after)."""
    if cache is None:
        return None, False
    if isinstance(cache, JobCache):
        return cache, False
    if isinstance(cache, (str, os.PathLike)):
        return JobCache(cache), True
    raise TypeError(f"cache must be a path or a JobCache, not {type(cache).__name__}")
