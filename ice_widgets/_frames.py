"""PackageJob records -> one typed pandas DataFrame (pure: no I/O, no client).

:func:`build_frame` is a pure function: a list of :class:`~ice_widgets._models.PackageJob`
and :class:`~ice_widgets._models.JobError` records in, a DataFrame with fixed columns and
dtypes out. It builds every column as a plain list once, then converts each column in one
vectorised step, so 100,000 records take a fraction of a second.

The entry points that fetch records and hand them to the builders here
(:func:`~ice_widgets._fetch.fetch_jobs`, ``afetch_jobs``, ``list_jobs``) live in
:mod:`ice_widgets._fetch`; the ``df.ice`` accessor in :mod:`ice_widgets._accessor`.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ice_widgets._models import FINISHED_STATUSES, KNOWN_STATUSES, JobError, PackageJob

__all__ = [
    "COLUMNS",
    "STRING_COLUMNS",
    "TIME_COLUMNS",
    "FrameBuilder",
    "JobError",
    "build_frame",
    "empty_frame",
    "read_parquet",
    "restore_types",
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


def _ns_array(micros: Any) -> np.ndarray:
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


def _arrow_strings() -> bool:
    """Whether the pandas string dtype is backed by pyarrow (pandas 3 with pyarrow installed)."""
    return getattr(STRING_DTYPE, "storage", None) == "pyarrow"


def _string_array(values: Any) -> pd.api.extensions.ExtensionArray:
    """A pandas string array around a pyarrow ``large_string`` array (no copy)."""
    return pd.arrays.ArrowStringArray(values)


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
    builder = FrameBuilder(len(rows))
    for i, row in enumerate(rows):
        builder.put(i, row)
    return builder.frame(fetched_at=fetched_at, endpoint=endpoint)


class _TextColumn:
    """A string column stored as Arrow's ``large_string`` layout while rows arrive.

    UTF-8 bytes go into one ``bytearray`` and their offsets into an ``array('q')``, in
    arrival order; ``slot[i]`` is the arrival index of row ``i`` (-1: missing). A row then
    costs its bytes plus 16, not a Python ``str`` object kept alive per row.
    """

    __slots__ = ("data", "offsets", "slot")

    def __init__(self, n: int) -> None:
        self.data = bytearray()
        self.offsets = array("q", [0])
        self.slot = array("i", [-1]) * n

    def put(self, i: int, value: Any) -> None:
        if not isinstance(value, str):
            self.slot[i] = -1
            return
        try:
            encoded = value.encode("utf-8")
        except UnicodeEncodeError:  # surrogates: join valid pairs, escape lone ones
            encoded = (_clean_text(value) or "").encode("utf-8")
        self.slot[i] = len(self.offsets) - 1
        self.data += encoded
        self.offsets.append(len(self.data))

    def array(self) -> pd.api.extensions.ExtensionArray:
        """The pandas string array in row order; the column's buffers are released."""
        count = len(self.offsets) - 1
        if not _arrow_strings():  # pandas' Python-backed string dtype: str objects after all
            data, offsets = bytes(self.data), self.offsets
            texts = [data[offsets[k] : offsets[k + 1]].decode("utf-8") for k in range(count)]
            rows = [texts[k] if k >= 0 else None for k in self.slot]
            self.data, self.offsets, self.slot = bytearray(), array("q", [0]), array("i")
            return pd.array(rows, dtype=STRING_DTYPE)
        import pyarrow as pa

        values = pa.LargeStringArray.from_buffers(count, pa.py_buffer(self.offsets), pa.py_buffer(self.data))
        slot = np.frombuffer(self.slot, dtype=np.intc)
        if count == len(slot) and (count == 0 or np.array_equal(slot, np.arange(count))):
            result = values  # rows filled in order, none missing: no reordering copy
        else:
            result = values.take(pa.array(slot, mask=slot < 0))
        del values, slot
        self.data, self.offsets, self.slot = bytearray(), array("q", [0]), array("i")
        return _string_array(result)


class _CodedColumn:
    """A low-cardinality string column: each distinct value stored once, rows as C int codes."""

    __slots__ = ("codes", "values")

    def __init__(self, n: int, known: Iterable[str] = ()) -> None:
        self.values: dict[str, int] = {name: i for i, name in enumerate(known)}
        self.codes = array("i", [-1]) * n

    def put(self, i: int, value: Any) -> None:
        if not isinstance(value, str):
            self.codes[i] = -1
            return
        code = self.values.get(value)
        if code is None:
            code = self.values[value] = len(self.values)
        self.codes[i] = code

    def names(self) -> list[str]:
        return [_clean_text(name) or "" for name in self.values]

    def array(self) -> pd.api.extensions.ExtensionArray:
        """The pandas string array in row order; the column's buffers are released."""
        codes = np.frombuffer(self.codes, dtype=np.intc)
        if not _arrow_strings():  # pandas' Python-backed string dtype
            names = self.names()
            rows = [names[k] if k >= 0 else None for k in self.codes]
            self.codes, self.values = array("i"), {}
            return pd.array(rows, dtype=STRING_DTYPE)
        import pyarrow as pa

        dictionary = pa.array(self.names(), type=pa.large_string())
        result = dictionary.take(pa.array(codes, mask=codes < 0))
        del codes
        self.codes, self.values = array("i"), {}
        return _string_array(result)

    def categorical(self) -> Any:
        """Categorical: the ``known`` values, then the others in the order of the rows."""
        codes: np.ndarray = np.frombuffer(self.codes, dtype=np.intc)
        names = self.names()
        known = len(KNOWN_STATUSES)
        if len(names) > known:
            extra = np.unique(codes[codes >= known], return_index=True)
            order = [int(c) for c in extra[0][np.argsort(extra[1], kind="stable")]]
            remap = np.full(len(names) + 1, -1, dtype=np.int64)  # the last slot maps -1 -> -1
            remap[:known] = np.arange(known)
            for new, old in enumerate(order, start=known):
                remap[old] = new
            categories = names[:known] + [names[c] for c in order]
            codes = remap[codes]
        else:
            categories = names
            codes = codes.copy()
        return pd.Categorical.from_codes(codes, categories=pd.Index(categories))


class FrameBuilder:
    """The columns of :func:`build_frame`, filled one row slot at a time, in any order.

    The batch engine puts each record in its row as it arrives and keeps no PackageJob
    (nor its raw dict) alive. Nor does it keep a Python object per value: text goes into
    packed UTF-8 buffers (Arrow's layout), low-cardinality text (status, trigger source,
    pipeline, codes and messages) is stored once per distinct value with a C int code per
    row, times as int64 microseconds and priorities as int64 in ``array('q')``. A
    200,000-ID batch then costs a few hundred bytes per row until the frame is built, one
    column at a time. Slots never filled become empty rows.

    Parameters
    ----------
    n : int
        Number of rows.
    """

    __slots__ = (
        "code",
        "create",
        "error_code",
        "error_message",
        "finish",
        "input_media",
        "job_id",
        "message",
        "modified",
        "n",
        "name",
        "output_media",
        "output_url",
        "pipeline_id",
        "priority",
        "priority_set",
        "status",
        "submit",
        "trigger_source",
        "user_data",
    )

    def __init__(self, n: int) -> None:
        self.n = n
        self.job_id = _TextColumn(n)
        self.name = _TextColumn(n)
        self.status = _CodedColumn(n, KNOWN_STATUSES)
        self.trigger_source = _CodedColumn(n)
        self.priority = array("q", [0]) * n
        self.priority_set = bytearray(n)  # 1 where priority holds a value
        self.pipeline_id = _CodedColumn(n)
        self.input_media: list[list[str] | None] = [None] * n
        self.output_media = _TextColumn(n)
        self.output_url = _TextColumn(n)
        self.code = _CodedColumn(n)
        self.message = _CodedColumn(n)
        self.user_data = _TextColumn(n)
        self.submit = array("q", [_NAT]) * n  # microseconds since the epoch, or _NAT
        self.finish = array("q", [_NAT]) * n
        self.create = array("q", [_NAT]) * n
        self.modified = array("q", [_NAT]) * n
        self.error_code = _CodedColumn(n)
        self.error_message = _TextColumn(n)

    def put(self, i: int, record: PackageJob | JobError, job_id: str | None = None) -> None:
        """Fill row ``i`` from ``record``; ``job_id`` replaces a missing ``record.job_id``."""
        self.job_id.put(i, record.job_id if record.job_id is not None else job_id)
        if isinstance(record, PackageJob):
            self.name.put(i, record.name)
            self.status.put(i, record.status)
            self.trigger_source.put(i, record.trigger_source)
            priority = record.priority
            if isinstance(priority, int) and _INT64_MIN <= priority <= _INT64_MAX:
                self.priority[i] = priority
                self.priority_set[i] = 1
            else:
                self.priority_set[i] = 0
            self.pipeline_id.put(i, record.pipeline_id)
            if record.inputs:
                self.input_media[i] = [m.media for m in record.inputs if m.media is not None]
            output = record.output
            self.output_media.put(i, output.media if output is not None else None)
            self.output_url.put(i, record.output_url)
            self.code.put(i, record.code)
            self.message.put(i, record.message)
            self.user_data.put(i, record.user_data)
            self.submit[i] = _micros(record.submit_time)
            self.finish[i] = _micros(record.finish_time)
            self.create[i] = _micros(record.create_time)
            self.modified[i] = _micros(record.modified_time)
        else:
            self.error_code.put(i, record.code)
            self.error_message.put(i, record.message)

    def frame(
        self, *, fetched_at: datetime | pd.Timestamp | str | None = None, endpoint: str | None = None
    ) -> pd.DataFrame:
        """The typed frame (see :func:`build_frame`).

        Columns are converted one at a time and each one's buffers are released as soon
        as it is converted, so building never holds two copies of the data. The builder
        is empty afterwards.
        """
        fetched = _to_timestamp(fetched_at) if fetched_at is not None else pd.Timestamp.now(tz="UTC")
        n = self.n
        columns: dict[str, Any] = {}
        columns["job_id"] = self.job_id.array()
        columns["name"] = self.name.array()
        columns["status"] = self.status.categorical()
        columns["trigger_source"] = self.trigger_source.array()
        mask = np.frombuffer(self.priority_set, dtype=np.uint8) == 0
        columns["priority"] = pd.arrays.IntegerArray(
            np.frombuffer(self.priority, dtype=np.int64).copy(), mask
        )
        self.priority, self.priority_set = array("q"), bytearray()
        columns["pipeline_id"] = self.pipeline_id.array()
        media = np.empty(n, dtype=object)
        for i, value in enumerate(self.input_media):  # element-wise: numpy would make a 2-D array
            media[i] = value if value is not None else []
        self.input_media = []
        columns["input_media"] = media
        columns["output_media"] = self.output_media.array()
        columns["output_url"] = self.output_url.array()
        columns["code"] = self.code.array()
        columns["message"] = self.message.array()
        columns["user_data"] = self.user_data.array()

        ns: dict[str, np.ndarray] = {}
        for name, micros in zip(TIME_COLUMNS, (self.submit, self.finish, self.create, self.modified)):
            ns[name] = _ns_array(micros)
            columns[name] = _times(ns[name])
        self.submit = self.finish = self.create = self.modified = array("q")

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
        finished = columns["status"].isin(sorted(FINISHED_STATUSES))
        unfinished = ~np.asarray(finished, dtype=bool)
        elapsed = np.full(n, _NAT, dtype=np.int64)
        pick = unfinished & submit_ok
        if pick.any():
            elapsed[pick] = np.maximum(fetched_ns - submit[pick], 0)
        columns["elapsed"] = elapsed.view(DELTA_DTYPE)

        columns["error_code"] = self.error_code.array()
        columns["error_message"] = self.error_message.array()

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
