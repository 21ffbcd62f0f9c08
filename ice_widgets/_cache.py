"""An on-disk cache of finished packaging jobs (SQLite from the standard library).

A job that has finished (``Success`` or ``Fail``) never changes again, so
``fetch_jobs(ids, cache="jobs.sqlite")`` asks the service only for the jobs that are
unfinished or not cached yet. Entries are keyed by endpoint and job ID and hold the API's
``PackageJob`` dict as JSON.

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

from ice_widgets._models import FINISHED_STATUSES, PackageJob

__all__ = ["CacheError", "JobCache"]

_SCHEMA_VERSION = 1
_CHUNK = 500  # IDs per SELECT ... IN (...): below SQLite's variable limit everywhere
_BUSY_TIMEOUT_MS = 30_000


class CacheError(Exception):
    """The cache file cannot be used (not a SQLite database, newer schema, unwritable)."""


def _job_dict(job: PackageJob) -> dict[str, Any]:
    """The API dict of a job: the one received, or rebuilt from the fields."""
    if job.raw:
        return dict(job.raw)
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
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS jobs ("
                    " endpoint TEXT NOT NULL,"
                    " job_id TEXT NOT NULL,"
                    " status TEXT NOT NULL,"
                    " data TEXT NOT NULL,"
                    " stored_at REAL NOT NULL,"
                    " PRIMARY KEY (endpoint, job_id)"
                    ") WITHOUT ROWID"
                )
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

    def get_many(self, job_ids: Iterable[str], endpoint: str) -> dict[str, PackageJob]:
        """The cached jobs among ``job_ids`` for ``endpoint``, as ``{job_id: PackageJob}``.

        IDs that are not cached are simply absent. Reading never blocks on writers.
        """
        ids = list(dict.fromkeys(job_ids))
        found: dict[str, PackageJob] = {}
        with self._lock:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT job_id, data FROM jobs WHERE endpoint = ? AND job_id IN ({marks})",
                    [endpoint, *chunk],
                ).fetchall()
                for job_id, data in rows:
                    try:
                        raw = json.loads(data)
                    except ValueError:  # pragma: no cover - written by us, in a transaction
                        continue
                    found[job_id] = PackageJob.from_api(raw)
        return found

    def put_many(self, jobs: Iterable[PackageJob], endpoint: str) -> int:
        """Store the finished jobs among ``jobs`` (one transaction); return how many were stored.

        Jobs that are not finished (Init, unknown statuses) or have no ID are skipped.
        """
        now = time.time()
        rows = [
            (
                endpoint,
                job.job_id,
                job.status,
                json.dumps(_job_dict(job), ensure_ascii=False, separators=(",", ":")),
                now,
            )
            for job in jobs
            if job.job_id and job.status in FINISHED_STATUSES
        ]
        if not rows:
            return 0
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO jobs (endpoint, job_id, status, data, stored_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return len(rows)

    def job_ids(self, endpoint: str | None = None) -> Iterator[str]:
        """Every cached job ID (for ``endpoint`` only, when given)."""
        with self._lock:
            if endpoint is None:
                rows = self._conn.execute("SELECT job_id FROM jobs ORDER BY job_id").fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT job_id FROM jobs WHERE endpoint = ? ORDER BY job_id", (endpoint,)
                ).fetchall()
        return iter([r[0] for r in rows])

    def clear(self, endpoint: str | None = None) -> int:
        """Delete the cached jobs (of ``endpoint`` only, when given); return how many."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                if endpoint is None:
                    count = conn.execute("DELETE FROM jobs").rowcount
                else:
                    count = conn.execute("DELETE FROM jobs WHERE endpoint = ?", (endpoint,)).rowcount
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


def open_cache(cache: str | os.PathLike[str] | JobCache | None) -> tuple[JobCache | None, bool]:
    """``(cache, owned)`` from the ``cache=`` argument of fetch_jobs (owned: close it after)."""
    if cache is None:
        return None, False
    if isinstance(cache, JobCache):
        return cache, False
    if isinstance(cache, (str, os.PathLike)):
        return JobCache(cache), True
    raise TypeError(f"cache must be a path or a JobCache, not {type(cache).__name__}")
