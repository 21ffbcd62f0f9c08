"""PackageJob records -> one typed pandas DataFrame, and the batch entry points.

:func:`build_frame` is a pure function: a list of :class:`~ice_widgets._models.PackageJob`
and :class:`JobError` records in, a DataFrame with fixed columns and dtypes out. It builds
every column as a plain list once, then converts each column in one vectorised step, so
100,000 records take a fraction of a second.

:func:`fetch_jobs`, :func:`afetch_jobs` and :func:`list_jobs` fetch records through the
client (see :mod:`ice_widgets._batch`) and hand them to :func:`build_frame`.

Importing this module registers the ``df.ice`` accessor (:mod:`ice_widgets._accessor`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ice_widgets._models import FINISHED_STATUSES, KNOWN_STATUSES, PackageJob

__all__ = [
    "COLUMNS",
    "STRING_COLUMNS",
    "TIME_COLUMNS",
    "JobError",
    "build_frame",
    "empty_frame",
    "read_parquet",
]

#: The frame's columns, in order.
COLUMNS: tuple[str, ...] = (
    "job_id",
    "name",
    "status",
    "trigger_source",
    "priority",
    "pipeline_id",
    "input_media",
    "output_media",
    "output_url",
    "code",
    "message",
    "user_data",
    "submit_time",
    "finish_time",
    "create_time",
    "modified_time",
    "duration",
    "elapsed",
    "error_code",
    "error_message",
)
#: Columns of the pandas string dtype.
STRING_COLUMNS: tuple[str, ...] = (
    "job_id",
    "name",
    "trigger_source",
    "pipeline_id",
    "output_media",
    "output_url",
    "code",
    "message",
    "user_data",
    "error_code",
    "error_message",
)
#: Columns of dtype ``datetime64[ns, UTC]``.
TIME_COLUMNS: tuple[str, ...] = ("submit_time", "finish_time", "create_time", "modified_time")

_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_MICROSECOND = timedelta(microseconds=1)
_NAT = np.iinfo(np.int64).min  # the int64 value of NaT
# datetime64[ns] covers 1677-09-21 .. 2262-04-11; microseconds outside this range become NaT.
_MIN_US = -9_223_372_036_854_775 + 1
_MAX_US = 9_223_372_036_854_775 - 1
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

STRING_DTYPE = pd.StringDtype()
TIME_DTYPE = pd.DatetimeTZDtype("ns", "UTC")
DELTA_DTYPE = np.dtype("m8[ns]")


class JobError(NamedTuple):
    """A job ID that gave no PackageJob: it becomes a row with ``error_code``/``error_message``.

    Attributes
    ----------
    job_id : str or None
        The ID as given (stripped); ``None`` when the input was empty or unusable.
    code : str
        ``NotFound``, ``Forbidden.RAM``, ``InvalidJobId``, ``Throttling``... (the API's code
        or a local one).
    message : str
        What went wrong, in words.
    """

    job_id: str | None
    code: str
    message: str


# --------------------------------------------------------------------------- conversion


def _micros(value: datetime | None) -> int:
    """Microseconds since the epoch, or the NaT sentinel (None, naive-as-UTC, out of range)."""
    if value is None:
        return _NAT
    try:
        micros = (value - _EPOCH) // _MICROSECOND
    except TypeError:  # naive: the API documents UTC
        try:
            micros = (value.replace(tzinfo=_UTC) - _EPOCH) // _MICROSECOND
        except (TypeError, AttributeError, OverflowError):
            return _NAT
    except (AttributeError, OverflowError):
        return _NAT
    if micros < _MIN_US or micros > _MAX_US:
        return _NAT
    return micros


def _ns_array(micros: list[int]) -> np.ndarray:
    """int64 nanoseconds (NaT kept) from microsecond ints with the NaT sentinel."""
    arr = np.array(micros, dtype=np.int64)
    nat = arr == _NAT
    arr *= 1000
    arr[nat] = _NAT
    return arr


def _times(ns: np.ndarray) -> Any:
    naive: Any = pd.array(ns.view("M8[ns]"))
    return naive.tz_localize("UTC")


def _clean_text(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # surrogates: join valid pairs, escape lone ones
        joined = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        return joined.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _strings(values: list[Any]) -> pd.api.extensions.ExtensionArray:
    """A pandas string array; one conversion for the whole column."""
    if getattr(STRING_DTYPE, "storage", None) == "pyarrow":
        import pyarrow as pa

        try:
            return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
        except (UnicodeEncodeError, pa.ArrowException, TypeError):
            values = [_clean_text(v) if isinstance(v, str) else None for v in values]
            return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    try:
        return pd.array(values, dtype=STRING_DTYPE)
    except (TypeError, ValueError):
        return pd.array([v if isinstance(v, str) else None for v in values], dtype=STRING_DTYPE)


def _object_column(values: list[Any]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # element-wise: numpy would make a 2-D array from lists
        arr[i] = value
    return arr


def _status_column(statuses: list[str | None]) -> Any:
    categories: dict[str, int] = {name: i for i, name in enumerate(KNOWN_STATUSES)}
    codes = []
    for status in statuses:
        if status is None:
            codes.append(-1)
            continue
        code = categories.get(status)
        if code is None:
            code = categories[status] = len(categories)
        codes.append(code)
    names = [_clean_text(c) or "" for c in categories]
    return pd.Categorical.from_codes(np.array(codes, dtype=np.int64), categories=pd.Index(names))


def _priority_column(values: list[int | None]) -> pd.arrays.IntegerArray:
    data = np.zeros(len(values), dtype=np.int64)
    mask = np.ones(len(values), dtype=bool)
    for i, value in enumerate(values):
        if value is not None and _INT64_MIN <= value <= _INT64_MAX:
            data[i] = value
            mask[i] = False
    return pd.arrays.IntegerArray(data, mask)


def _to_timestamp(value: Any) -> pd.Timestamp:
    """Any datetime-like (naive = UTC) -> a UTC pandas Timestamp."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        return stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC")


def _as_job(record: Any) -> PackageJob | JobError:
    if isinstance(record, (PackageJob, JobError)):
        return record
    if isinstance(record, Mapping):  # a raw API dict
        return PackageJob.from_api(record)
    raise TypeError(f"build_frame expects PackageJob or JobError records, got {type(record).__name__}")


# --------------------------------------------------------------------------- the builder


def build_frame(
    records: Iterable[PackageJob | JobError],
    *,
    fetched_at: datetime | pd.Timestamp | str | None = None,
    endpoint: str | None = None,
) -> pd.DataFrame:
    """Build the typed jobs frame from PackageJob and JobError records (a pure function).

    Parameters
    ----------
    records : iterable of PackageJob or JobError
        One row per record, in order. A raw API ``PackageJob`` dict is parsed with
        :meth:`PackageJob.from_api`.
    fetched_at : datetime, Timestamp or ISO string, optional
        When the records were fetched (naive = UTC); ``elapsed`` is measured up to it.
        Default: now.
    endpoint : str, optional
        Recorded in ``df.attrs["endpoint"]``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS` in order. ``status`` is Categorical (Init, Success, Fail,
        then unknown values in first-seen order); the four times are
        ``datetime64[ns, UTC]``; ``duration`` (finish - submit, when both exist and finish
        >= submit) and ``elapsed`` (fetch time - submit time, unfinished jobs only) are
        ``timedelta64[ns]``; ``priority`` is ``Int64``; ``input_media`` holds lists of
        str; text columns are ``pd.StringDtype()``. ``df.attrs`` holds JSON-friendly
        ``endpoint`` (str or None), ``fetched_at`` (ISO 8601 UTC string) and ``counts``
        (``{"total": n, "errors": e, "status": {status: n, ...}}``).

    Raises
    ------
    TypeError
        If a record is neither a PackageJob, a JobError nor a mapping.
    """
    rows = [_as_job(r) for r in records]
    fetched = _to_timestamp(fetched_at) if fetched_at is not None else pd.Timestamp.now(tz="UTC")
    n = len(rows)
    blank = PackageJob()
    jobs: list[PackageJob] = []
    error_code: list[str | None] = [None] * n
    error_message: list[str | None] = [None] * n
    job_ids: list[str | None] = [None] * n
    for i, row in enumerate(rows):
        if isinstance(row, PackageJob):
            jobs.append(row)
            job_ids[i] = row.job_id
        else:
            jobs.append(blank)
            job_ids[i] = row.job_id
            error_code[i] = row.code
            error_message[i] = row.message

    statuses = [j.status for j in jobs]
    columns: dict[str, Any] = {}
    columns["job_id"] = _strings(job_ids)
    columns["name"] = _strings([j.name for j in jobs])
    columns["status"] = _status_column(statuses)
    columns["trigger_source"] = _strings([j.trigger_source for j in jobs])
    columns["priority"] = _priority_column([j.priority for j in jobs])
    columns["pipeline_id"] = _strings([j.pipeline_id for j in jobs])
    columns["input_media"] = _object_column(
        [[m.media for m in j.inputs if m.media is not None] for j in jobs]
    )
    columns["output_media"] = _strings([j.output.media if j.output is not None else None for j in jobs])
    columns["output_url"] = _strings([j.output_url for j in jobs])
    columns["code"] = _strings([j.code for j in jobs])
    columns["message"] = _strings([j.message for j in jobs])
    columns["user_data"] = _strings([j.user_data for j in jobs])

    ns: dict[str, np.ndarray] = {}
    for name in TIME_COLUMNS:
        ns[name] = _ns_array([_micros(getattr(j, name)) for j in jobs])
        columns[name] = _times(ns[name])

    submit, finish = ns["submit_time"], ns["finish_time"]
    submit_ok = submit != _NAT
    duration = np.full(n, _NAT, dtype=np.int64)
    both = submit_ok & (finish != _NAT)
    if both.any():
        delta = finish[both] - submit[both]
        delta[delta < 0] = _NAT
        duration[both] = delta
    columns["duration"] = duration.view(DELTA_DTYPE)

    fetched_ns = int(fetched.as_unit("ns").value)
    unfinished = np.fromiter((s not in FINISHED_STATUSES for s in statuses), dtype=bool, count=n)
    elapsed = np.full(n, _NAT, dtype=np.int64)
    pick = unfinished & submit_ok
    if pick.any():
        elapsed[pick] = np.maximum(fetched_ns - submit[pick], 0)
    columns["elapsed"] = elapsed.view(DELTA_DTYPE)

    columns["error_code"] = _strings(error_code)
    columns["error_message"] = _strings(error_message)

    frame = pd.DataFrame(columns, index=pd.RangeIndex(n), columns=list(COLUMNS), copy=False)
    frame.attrs = {
        "endpoint": endpoint,
        "fetched_at": fetched.isoformat(),
        "counts": _counts(frame),
    }
    return frame


def _counts(frame: pd.DataFrame) -> dict[str, Any]:
    """JSON-friendly counts: total rows, error rows, rows per status (categories in order)."""
    status_counts = frame["status"].value_counts(sort=False)
    return {
        "total": len(frame),
        "errors": int(frame["error_code"].notna().sum()),
        "status": {str(k): int(v) for k, v in status_counts.items()},
    }


def empty_frame(*, fetched_at: Any = None, endpoint: str | None = None) -> pd.DataFrame:
    """The frame of zero rows, with every column and dtype of :func:`build_frame`."""
    return build_frame([], fetched_at=fetched_at, endpoint=endpoint)


def read_parquet(path: Any, **kwargs: Any) -> pd.DataFrame:
    """Read a frame written with ``df.to_parquet`` back with the exact column types.

    pyarrow reads list columns back as numpy arrays; this turns ``input_media`` back into
    lists of str and restores the categorical order of ``status``.
    """
    frame = pd.read_parquet(path, **kwargs)
    return restore_types(frame)


def restore_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with the columns of :func:`build_frame` coerced to their dtypes.

    Used after a parquet or pickle round-trip, or on a frame whose columns were edited.
    Columns that are missing are left missing; other columns are left alone.
    """
    out = frame.copy()
    for name in STRING_COLUMNS:
        if name in out and out[name].dtype != STRING_DTYPE:
            out[name] = out[name].astype(STRING_DTYPE)
    for name in TIME_COLUMNS:
        if name in out and out[name].dtype != TIME_DTYPE:
            out[name] = pd.to_datetime(out[name], utc=True).astype(TIME_DTYPE)
    for name in ("duration", "elapsed"):
        if name in out and out[name].dtype != DELTA_DTYPE:
            out[name] = pd.to_timedelta(out[name]).astype(DELTA_DTYPE)
    if "priority" in out and str(out["priority"].dtype) != "Int64":
        out["priority"] = out["priority"].astype("Int64")
    if "input_media" in out:
        out["input_media"] = _object_column([_as_list(v) for v in out["input_media"]])
    if "status" in out:
        values = out["status"].astype(object).where(out["status"].notna(), None)
        out["status"] = _status_column([v if isinstance(v, str) else None for v in values])
    out.attrs = dict(frame.attrs)
    return out


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (Sequence, np.ndarray)):
        return [str(v) for v in value if v is not None]
    return []
