"""Job records of every kind -> one typed pandas DataFrame (pure: no I/O, no client).

:func:`build_frame` is a pure function: a list of job models (:class:`~ice_widgets.PackageJob`,
:class:`~ice_widgets.TranscodeJob`, :class:`~ice_widgets.MediaProducingJob`,
:class:`~ice_widgets.SnapshotJob`, :class:`~ice_widgets.MediaConvertJob`, mixed freely) and
:class:`JobError` records in, a DataFrame with fixed columns and dtypes out. It builds every
column as a packed buffer once, then converts each column in one vectorised step, so
100,000 records take a fraction of a second.

The columns: :data:`COMMON_COLUMNS` first (every kind has them), then the columns of the
kinds in the frame (:data:`KIND_COLUMNS`, in one fixed order, see :func:`columns_for`). A
packaging-only frame has exactly the packaging columns it always had, with their dtypes.

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

from ice_widgets._models import KINDS, STATES, Job, JobError, PackageJob, model_for, parse_job

__all__ = [
    "ALL_COLUMNS",
    "COLUMNS",
    "COMMON_COLUMNS",
    "KIND_COLUMNS",
    "KIND_STATUSES",
    "STRING_COLUMNS",
    "TIME_COLUMNS",
    "FrameBuilder",
    "JobError",
    "build_frame",
    "columns_for",
    "empty_frame",
    "read_parquet",
    "restore_types",
]

#: The columns every frame starts with, in order, whatever the kinds of its jobs.
COMMON_COLUMNS: tuple[str, ...] = (
    "job_id",
    "kind",
    "name",
    "status",
    "state",
    "submit_time",
    "finish_time",
    "create_time",
    "modified_time",
    "duration",
    "elapsed",
    "progress",
    "output_url",
    "code",
    "message",
    "error_code",
    "error_message",
)

#: Each kind's own columns (after the common ones). A frame has those of the kinds in it.
KIND_COLUMNS: dict[str, tuple[str, ...]] = {
    "package": ("trigger_source", "priority", "pipeline_id", "input_media", "output_media", "user_data"),
    "transcode": (
        "trigger_source",
        "priority",
        "pipeline_id",
        "template_id",
        "input_media",
        "user_data",
        "sub_jobs",
        "sub_jobs_failed",
    ),
    "media_producing": ("template_id", "project_id", "media_id", "media_duration", "user_data"),
    "snapshot": (
        "trigger_source",
        "pipeline_id",
        "template_id",
        "input_media",
        "output_media",
        "snapshot_count",
        "user_data",
    ),
    "media_convert": ("pipeline_id", "input_media", "user_data", "output_details"),
}

#: The order of the kinds' own columns in a frame (shared columns appear once).
_OWN_ORDER: tuple[str, ...] = (
    "trigger_source",
    "priority",
    "pipeline_id",
    "template_id",
    "project_id",
    "media_id",
    "input_media",
    "output_media",
    "media_duration",
    "snapshot_count",
    "user_data",
    "sub_jobs",
    "sub_jobs_failed",
    "output_details",
)

#: The statuses each kind documents, in display order (``status`` categories start with
#: those of the kinds in the frame; undocumented ones follow in the order of the rows).
KIND_STATUSES: dict[str, tuple[str, ...]] = {
    "package": ("Init", "Success", "Fail"),
    "transcode": ("Init", "Processing", "Success", "Fail"),
    "media_producing": ("Init", "Queuing", "Processing", "Success", "Failed"),
    "snapshot": ("Init", "Success", "Fail"),
    "media_convert": ("Inited", "Running", "Complete", "Error", "Cancelled"),
}

#: The time each kind's ``elapsed`` (and ``duration``) is measured from.
_START_COLUMN: dict[str, str] = {"media_producing": "create_time", "media_convert": "create_time"}


def _check_kinds(kinds: Iterable[Any]) -> list[str]:
    found = []
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}: use one of {', '.join(KINDS)}")
        if kind not in found:
            found.append(kind)
    return found


def columns_for(kinds: str | Iterable[str]) -> tuple[str, ...]:
    """The columns of a frame holding jobs of ``kinds``: the common ones, then their own.

    Parameters
    ----------
    kinds : str or iterable of str
        Job kinds (see :data:`~ice_widgets.KINDS`).

    Returns
    -------
    tuple of str
        :data:`COMMON_COLUMNS`, then every column of :data:`KIND_COLUMNS` that one of the
        kinds has, in one fixed order (so the columns never depend on the rows' order).

    Raises
    ------
    ValueError
        For an unknown kind.
    """
    wanted = _check_kinds([kinds] if isinstance(kinds, str) else kinds)
    own = {c for kind in wanted for c in KIND_COLUMNS[kind]}
    return COMMON_COLUMNS + tuple(c for c in _OWN_ORDER if c in own)


#: The columns of a packaging frame, in order (every column it had before the other kinds).
COLUMNS: tuple[str, ...] = columns_for("package")
#: The columns of a frame holding every kind.
ALL_COLUMNS: tuple[str, ...] = columns_for(KINDS)
#: Columns of the pandas string dtype.
STRING_COLUMNS: tuple[str, ...] = (
    "job_id",
    "name",
    "output_url",
    "code",
    "message",
    "error_code",
    "error_message",
    "trigger_source",
    "pipeline_id",
    "template_id",
    "project_id",
    "media_id",
    "output_media",
    "user_data",
)
#: Columns of dtype ``datetime64[ns, UTC]``.
TIME_COLUMNS: tuple[str, ...] = ("submit_time", "finish_time", "create_time", "modified_time")
#: Columns of dtype ``Int64`` (nullable).
INT_COLUMNS: tuple[str, ...] = ("priority", "snapshot_count", "sub_jobs_failed")
#: Columns of dtype ``float64`` (NaN when missing).
FLOAT_COLUMNS: tuple[str, ...] = ("progress", "media_duration")
#: Object columns of lists of dicts (None where the API gave none).
RECORD_LIST_COLUMNS: tuple[str, ...] = ("sub_jobs", "output_details")

_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_MICROSECOND = timedelta(microseconds=1)
_NAT = np.iinfo(np.int64).min  # the int64 value of NaT
# datetime64[ns] covers 1677-09-21 .. 2262-04-11; microseconds outside this range become NaT.
_MIN_US = -9_223_372_036_854_775 + 1
_MAX_US = 9_223_372_036_854_775 - 1
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_STATE_CODES: dict[str, int] = {name: i for i, name in enumerate(STATES)}
_UNKNOWN_STATE = _STATE_CODES["unknown"]

STRING_DTYPE = pd.StringDtype()
TIME_DTYPE = pd.DatetimeTZDtype("ns", "UTC")
DELTA_DTYPE = np.dtype("m8[ns]")
KIND_DTYPE = pd.CategoricalDtype(list(KINDS))
STATE_DTYPE = pd.CategoricalDtype(list(STATES))


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


def _delta_micros(value: Any) -> int:
    """Microseconds of a timedelta, or the NaT sentinel (None, out of range, not a timedelta)."""
    if not isinstance(value, timedelta):
        return _NAT
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
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


def _leading_statuses(kinds: Iterable[str]) -> list[str]:
    """The documented statuses of ``kinds``, in display order, each once."""
    leading: dict[str, None] = {}
    for kind in KINDS:
        if kind in kinds:
            leading.update(dict.fromkeys(KIND_STATUSES[kind]))
    return list(leading)


def _categorical(codes: np.ndarray, names: list[str], leading: Sequence[str]) -> Any:
    """Categorical of ``names[codes]`` (-1: missing): ``leading`` first, then the other
    values in the order of the rows (values equal after cleaning share one category)."""
    index: dict[str, int] = {name: j for j, name in enumerate(leading)}
    categories = list(index)
    remap = np.full(len(names) + 1, -1, dtype=np.int64)  # the last slot maps -1 -> -1
    present = codes[codes >= 0]
    if len(present):
        values, first = np.unique(present, return_index=True)
        order = values[np.argsort(first, kind="stable")]
    else:
        order = np.empty(0, dtype=np.int64)
    for code in (int(c) for c in order):
        name = names[code]
        j = index.get(name)
        if j is None:
            j = index[name] = len(categories)
            categories.append(name)
        remap[code] = j
    return pd.Categorical.from_codes(remap[codes], categories=pd.Index(categories, dtype=object))


def _status_column(statuses: list[str | None], kinds: Iterable[str]) -> Any:
    names: dict[str, int] = {}
    codes = np.full(len(statuses), -1, dtype=np.int64)
    for i, status in enumerate(statuses):
        if status is not None:
            codes[i] = names.setdefault(status, len(names))
    cleaned = [_clean_text(name) or "" for name in names]
    return _categorical(codes, cleaned, _leading_statuses(kinds))


def _to_timestamp(value: Any) -> pd.Timestamp:
    """Any datetime-like (naive = UTC) -> a UTC pandas Timestamp."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        return stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC")


#: The job model classes, one per kind.
_MODEL_TYPES: tuple[type[Job], ...] = tuple(model_for(kind) for kind in KINDS)


def _as_job(record: Any, kind: str | None) -> Job | JobError:
    if isinstance(record, JobError):
        return record
    if isinstance(record, _MODEL_TYPES):
        return record
    if isinstance(record, Mapping):  # a raw API dict
        return parse_job(kind or "package", record)
    raise TypeError(
        "build_frame expects job records (PackageJob, TranscodeJob, MediaProducingJob, "
        f"SnapshotJob, MediaConvertJob) or JobError, got {type(record).__name__}"
    )


# --------------------------------------------------------------------------- the builder


def _arrow_strings() -> bool:
    """Whether the pandas string dtype is backed by pyarrow (pandas 3 with pyarrow installed)."""
    return getattr(STRING_DTYPE, "storage", None) == "pyarrow"


def _string_array(values: Any) -> pd.api.extensions.ExtensionArray:
    """A pandas string array around a pyarrow ``large_string`` array (no copy)."""
    return pd.arrays.ArrowStringArray(values)


def build_frame(
    records: Iterable[Job | JobError],
    *,
    kind: str | Iterable[str] | None = None,
    fetched_at: datetime | pd.Timestamp | str | None = None,
    endpoint: str | None = None,
) -> pd.DataFrame:
    """Build the typed jobs frame from job and JobError records of any kinds (a pure function).

    Parameters
    ----------
    records : iterable of job models or JobError
        One row per record, in order; kinds may be mixed. A raw API dict is parsed with
        the model of ``kind`` (packaging when ``kind`` is not one kind).
    kind : str or iterable of str, optional
        The kind(s) the frame is for: their columns are in the frame even when no record
        is of that kind (an empty batch, a batch of errors), and :class:`JobError` rows
        get ``kind`` when it is a single kind. Default: the kinds of the records, or
        ``"package"`` when there are none.
    fetched_at : datetime, Timestamp or ISO string, optional
        When the records were fetched (naive = UTC); ``elapsed`` is measured up to it.
        Default: now.
    endpoint : str, optional
        Recorded in ``df.attrs["endpoint"]``.

    Returns
    -------
    pandas.DataFrame
        Columns :func:`columns_for` the kinds present (:data:`COMMON_COLUMNS`, then the
        kinds' own). ``kind`` is Categorical (:data:`~ice_widgets.KINDS`); ``state`` is
        Categorical (running, succeeded, failed, unknown; missing on error rows);
        ``status`` is Categorical (the documented statuses of the kinds present, see
        :data:`KIND_STATUSES`, then undocumented values in the order of the rows); the
        four times are ``datetime64[ns, UTC]``; ``duration`` is the job model's
        ``duration`` (each kind's rule: None while running) and ``elapsed`` (fetch time
        minus the kind's start time, for unfinished jobs only) are ``timedelta64[ns]``;
        ``progress`` and ``media_duration`` are ``float64``; ``priority``,
        ``snapshot_count`` and ``sub_jobs_failed`` are ``Int64``; ``input_media`` holds
        lists of str; ``sub_jobs`` (transcode) and ``output_details`` (media convert) hold
        lists of dicts (None when the API gave none, e.g. a List item); text columns are
        ``pd.StringDtype()``. ``df.attrs`` holds JSON-friendly ``endpoint`` (str or None),
        ``fetched_at`` (ISO 8601 UTC string) and ``counts`` (``{"total": n, "errors": e,
        "status": {...}, "state": {...}, "kind": {...}}``).

    Raises
    ------
    TypeError
        If a record is neither a job model, a JobError nor a mapping.
    ValueError
        For an unknown ``kind``.
    """
    kinds = _check_kinds([kind] if isinstance(kind, str) else (kind or ()))
    single = kinds[0] if len(kinds) == 1 else None
    rows = [_as_job(r, single) for r in records]
    builder = FrameBuilder(len(rows))
    for i, row in enumerate(rows):
        builder.put(i, row, kind=single)
    return builder.frame(fetched_at=fetched_at, endpoint=endpoint, kinds=kinds)


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

    def categorical(self, leading: Sequence[str] = ()) -> Any:
        """Categorical: ``leading``, then the other values in the order of the rows."""
        codes: np.ndarray = np.frombuffer(self.codes, dtype=np.intc).astype(np.int64)
        result = _categorical(codes, self.names(), leading)
        self.codes, self.values = array("i"), {}
        return result


class _IntColumn:
    """A nullable int64 column (``Int64``): values in ``array('q')``, a byte mask of set rows."""

    __slots__ = ("is_set", "values")

    def __init__(self, n: int) -> None:
        self.values = array("q", [0]) * n
        self.is_set = bytearray(n)

    def put(self, i: int, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and _INT64_MIN <= value <= _INT64_MAX:
            self.values[i] = value
            self.is_set[i] = 1
        else:
            self.is_set[i] = 0

    def array(self) -> Any:
        mask = np.frombuffer(self.is_set, dtype=np.uint8) == 0
        result = pd.arrays.IntegerArray(np.frombuffer(self.values, dtype=np.int64).copy(), mask)
        self.values, self.is_set = array("q"), bytearray()
        return result


def _float_array(values: array[float]) -> np.ndarray:
    return np.frombuffer(values, dtype=np.float64).copy()


def _float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number):
            return number
    return math.nan


def _media_list(items: Iterable[Any]) -> list[str]:
    """The ``media`` of each :class:`~ice_widgets._models.Media`, in order (None skipped)."""
    return [m.media for m in items if m.media is not None]


def _sub_job_dicts(record: Any) -> list[dict[str, Any]] | None:
    """The sub-jobs of a transcode job as plain dicts; None when the API gave no list."""
    subs = record.sub_jobs
    raw = record.raw
    if not subs and not (isinstance(raw, Mapping) and isinstance(raw.get("TranscodeJobList"), list)):
        return None  # a List item: the sub-jobs are not known, not zero
    return [
        {
            "job_id": sub.job_id,
            "index": sub.index,
            "name": sub.name,
            "status": sub.status,
            "state": sub.state,
            "output_url": sub.output_url,
            "template_id": sub.template_id,
            "code": sub.code,
            "message": sub.message,
            "media_duration": sub.media_duration,
            "submit_time": sub.submit_time,
            "finish_time": sub.finish_time,
        }
        for sub in subs
    ]


def _output_detail_dicts(record: Any) -> list[dict[str, Any]] | None:
    """The output details of a media convert job as plain dicts; None when the API gave none."""
    details = record.outputs
    raw = record.raw
    if not details and not (
        isinstance(raw, Mapping) and ("OutputDetails" in raw or "OutputGroupDetails" in raw)
    ):
        return None
    return [
        {
            "name": detail.name,
            "group": detail.group,
            "is_group": detail.is_group,
            "status": detail.status,
            "state": detail.state,
            "output_url": detail.output_url,
            "code": detail.code,
            "message": detail.message,
            "create_time": detail.create_time,
            "finish_time": detail.finish_time,
        }
        for detail in details
    ]


class FrameBuilder:
    """The columns of :func:`build_frame`, filled one row slot at a time, in any order.

    The batch engine puts each record in its row as it arrives and keeps no job model
    (nor its raw dict) alive. Nor does it keep a Python object per value: text goes into
    packed UTF-8 buffers (Arrow's layout), low-cardinality text (status, trigger source,
    pipeline, template, codes and messages) is stored once per distinct value with a C
    int code per row, times and durations as int64 microseconds, numbers in ``array``.
    Only the list columns (``input_media``, and the sub-jobs of transcode jobs and the
    output details of media convert jobs) hold Python objects. A 200,000-ID packaging
    batch then costs a few hundred bytes per row until the frame is built, one column at
    a time. Slots never filled become empty rows.

    Parameters
    ----------
    n : int
        Number of rows.
    """

    __slots__ = (
        "_states",
        "code",
        "create",
        "duration",
        "error_code",
        "error_message",
        "finish",
        "input_media",
        "job_id",
        "kind",
        "media_duration",
        "media_id",
        "message",
        "modified",
        "n",
        "name",
        "output_details",
        "output_media",
        "output_url",
        "pipeline_id",
        "priority",
        "progress",
        "project_id",
        "snapshot_count",
        "start",
        "state",
        "status",
        "sub_jobs",
        "sub_jobs_failed",
        "submit",
        "template_id",
        "trigger_source",
        "user_data",
    )

    def __init__(self, n: int) -> None:
        self.n = n
        self.job_id = _TextColumn(n)
        self.kind = _CodedColumn(n, KINDS)
        self.name = _TextColumn(n)
        self.status = _CodedColumn(n)
        self.state = array("b", [-1]) * n
        self.submit = array("q", [_NAT]) * n  # microseconds since the epoch, or _NAT
        self.finish = array("q", [_NAT]) * n
        self.create = array("q", [_NAT]) * n
        self.modified = array("q", [_NAT]) * n
        self.duration = array("q", [_NAT]) * n  # microseconds, or _NAT
        self.start = array("q", [_NAT]) * n  # the start of an unfinished job, for elapsed
        self.progress = array("d", [math.nan]) * n
        self.output_url = _TextColumn(n)
        self.code = _CodedColumn(n)
        self.message = _CodedColumn(n)
        self.error_code = _CodedColumn(n)
        self.error_message = _TextColumn(n)
        # the kinds' own columns
        self.trigger_source = _CodedColumn(n)
        self.priority = _IntColumn(n)
        self.pipeline_id = _CodedColumn(n)
        self.template_id = _CodedColumn(n)
        self.project_id = _TextColumn(n)
        self.media_id = _TextColumn(n)
        self.input_media: list[list[str] | None] = [None] * n
        self.output_media = _TextColumn(n)
        self.media_duration = array("d", [math.nan]) * n
        self.snapshot_count = _IntColumn(n)
        self.user_data = _TextColumn(n)
        self.sub_jobs: list[list[dict[str, Any]] | None] = [None] * n
        self.sub_jobs_failed = _IntColumn(n)
        self.output_details: list[list[dict[str, Any]] | None] = [None] * n
        self._states: dict[tuple[str, str | None], tuple[int, bool]] = {}

    def put(self, i: int, record: Job | JobError, job_id: str | None = None, kind: str | None = None) -> None:
        """Fill row ``i`` from ``record``.

        Parameters
        ----------
        i : int
            The row.
        record : job model or JobError
        job_id : str, optional
            Replaces a missing ``record.job_id``.
        kind : str, optional
            The kind of a :class:`JobError` row (the kind that was requested); a job's
            kind is its model's.
        """
        self.job_id.put(i, record.job_id if record.job_id is not None else job_id)
        if isinstance(record, JobError):
            row_kind = getattr(record, "kind", None) or kind
            self.kind.put(i, row_kind if row_kind in KINDS else None)
            self.error_code.put(i, record.code)
            self.error_message.put(i, record.message)
            return
        kind = record.kind
        self.kind.put(i, kind)
        self.name.put(i, record.name)
        status = record.status
        self.status.put(i, status)
        # state and finished depend on the kind and status only: asked of the model once each
        known = self._states.get((kind, status))
        if known is None:
            known = self._states[(kind, status)] = (
                _STATE_CODES.get(record.state, _UNKNOWN_STATE),
                bool(record.is_finished),
            )
        self.state[i], finished = known
        submit = record.submit_time
        self.submit[i] = submit_us = _micros(submit)
        self.finish[i] = finish_us = _micros(record.finish_time)
        create = record.create_time
        self.create[i] = _micros(create)
        self.modified[i] = _micros(record.modified_time)
        if kind == "package":  # PackageJob.duration, from the microseconds at hand
            if submit_us != _NAT and finish_us != _NAT and finish_us >= submit_us:
                self.duration[i] = finish_us - submit_us
        else:
            try:
                self.duration[i] = _delta_micros(record.duration)
            except TypeError:  # a naive and an aware time (built by hand): no duration
                self.duration[i] = _NAT
        if not finished:
            self.start[i] = _micros(create if _START_COLUMN.get(kind) == "create_time" else submit)
        progress = record.progress
        if progress is not None:
            self.progress[i] = _float(progress)
        self.output_url.put(i, record.output_url)
        self.code.put(i, record.code)
        self.message.put(i, record.message)
        self.user_data.put(i, record.user_data)
        if isinstance(record, PackageJob):
            self.trigger_source.put(i, record.trigger_source)
            self.priority.put(i, record.priority)
            self.pipeline_id.put(i, record.pipeline_id)
            if record.inputs:
                self.input_media[i] = _media_list(record.inputs)
            output = record.output
            self.output_media.put(i, output.media if output is not None else None)
        elif kind == "transcode":
            self._put_transcode(i, record)
        elif kind == "media_producing":
            self.template_id.put(i, getattr(record, "template_id", None))
            self.project_id.put(i, getattr(record, "project_id", None))
            self.media_id.put(i, getattr(record, "media_id", None))
            self.media_duration[i] = _float(getattr(record, "media_duration", None))
        elif kind == "snapshot":
            self.trigger_source.put(i, getattr(record, "trigger_source", None))
            self.pipeline_id.put(i, getattr(record, "pipeline_id", None))
            self.template_id.put(i, getattr(record, "template_id", None))
            source = getattr(record, "input", None)
            if source is not None and source.media is not None:
                self.input_media[i] = [source.media]
            urls = record.output_urls
            self.output_media.put(i, urls[0] if urls else None)
            self.snapshot_count.put(i, getattr(record, "count", None))
        elif kind == "media_convert":
            self.pipeline_id.put(i, getattr(record, "pipeline_id", None))
            inputs = getattr(record, "inputs", ())
            if inputs:
                self.input_media[i] = _media_list(inputs)
            self.output_details[i] = _output_detail_dicts(record)

    def _put_transcode(self, i: int, record: Any) -> None:
        self.trigger_source.put(i, record.trigger_source)
        self.priority.put(i, record.priority)
        self.pipeline_id.put(i, record.pipeline_id)
        templates = record.template_ids
        self.template_id.put(i, ",".join(templates) if templates else None)
        if record.inputs:
            self.input_media[i] = _media_list(record.inputs)
        subs = _sub_job_dicts(record)
        self.sub_jobs[i] = subs
        if subs is not None:
            self.sub_jobs_failed.put(i, sum(1 for sub in subs if sub["state"] == "failed"))

    def frame(
        self,
        *,
        fetched_at: datetime | pd.Timestamp | str | None = None,
        endpoint: str | None = None,
        kinds: Iterable[str] = (),
    ) -> pd.DataFrame:
        """The typed frame (see :func:`build_frame`).

        Columns are converted one at a time and each one's buffers are released as soon
        as it is converted, so building never holds two copies of the data. The builder
        is empty afterwards.

        Parameters
        ----------
        fetched_at, endpoint
            As for :func:`build_frame`.
        kinds : iterable of str
            Kinds whose columns the frame has even without a row of that kind (the kinds
            that were requested); the kinds of the rows are always included.
        """
        fetched = _to_timestamp(fetched_at) if fetched_at is not None else pd.Timestamp.now(tz="UTC")
        n = self.n
        requested = _check_kinds(kinds)
        kind_codes = np.frombuffer(self.kind.codes, dtype=np.intc)
        present = {KINDS[int(c)] for c in np.unique(kind_codes) if c >= 0}
        present.update(requested)
        if not present:
            present = {"package"}
        names = columns_for(sorted(present, key=KINDS.index))
        wanted = set(names)

        columns: dict[str, Any] = {}
        columns["job_id"] = self.job_id.array()
        columns["kind"] = pd.Categorical.from_codes(kind_codes.astype(np.int64), dtype=KIND_DTYPE)
        self.kind = _CodedColumn(0)
        columns["name"] = self.name.array()
        columns["status"] = self.status.categorical(_leading_statuses(present))
        state_codes = np.frombuffer(self.state, dtype=np.int8).astype(np.int64)
        columns["state"] = pd.Categorical.from_codes(state_codes, dtype=STATE_DTYPE)
        self.state = array("b")

        ns: dict[str, np.ndarray] = {}
        for name, micros in zip(TIME_COLUMNS, (self.submit, self.finish, self.create, self.modified)):
            ns[name] = _ns_array(micros)
            columns[name] = _times(ns[name])
        self.submit = self.finish = self.create = self.modified = array("q")
        columns["duration"] = _ns_array(self.duration).view(DELTA_DTYPE)
        self.duration = array("q")

        fetched_ns = int(fetched.as_unit("ns").value)
        start = _ns_array(self.start)
        self.start = array("q")
        elapsed = np.full(n, _NAT, dtype=np.int64)
        pick = start != _NAT
        if pick.any():
            elapsed[pick] = np.maximum(fetched_ns - start[pick], 0)
        columns["elapsed"] = elapsed.view(DELTA_DTYPE)
        del start, ns

        columns["progress"] = _float_array(self.progress)
        self.progress = array("d")
        columns["output_url"] = self.output_url.array()
        columns["code"] = self.code.array()
        columns["message"] = self.message.array()
        columns["error_code"] = self.error_code.array()
        columns["error_message"] = self.error_message.array()

        # the kinds' own columns (only those of the kinds in the frame are converted)
        if "trigger_source" in wanted:
            columns["trigger_source"] = self.trigger_source.array()
        if "priority" in wanted:
            columns["priority"] = self.priority.array()
        if "pipeline_id" in wanted:
            columns["pipeline_id"] = self.pipeline_id.array()
        if "template_id" in wanted:
            columns["template_id"] = self.template_id.array()
        if "project_id" in wanted:
            columns["project_id"] = self.project_id.array()
        if "media_id" in wanted:
            columns["media_id"] = self.media_id.array()
        if "input_media" in wanted:
            media = np.empty(n, dtype=object)
            for i, value in enumerate(self.input_media):  # element-wise: numpy would make 2-D
                media[i] = value if value is not None else []
            columns["input_media"] = media
        if "output_media" in wanted:
            columns["output_media"] = self.output_media.array()
        if "media_duration" in wanted:
            columns["media_duration"] = _float_array(self.media_duration)
        if "snapshot_count" in wanted:
            columns["snapshot_count"] = self.snapshot_count.array()
        if "user_data" in wanted:
            columns["user_data"] = self.user_data.array()
        if "sub_jobs" in wanted:
            columns["sub_jobs"] = _object_column(self.sub_jobs)
        if "sub_jobs_failed" in wanted:
            columns["sub_jobs_failed"] = self.sub_jobs_failed.array()
        if "output_details" in wanted:
            columns["output_details"] = _object_column(self.output_details)
        self._release()

        frame = pd.DataFrame(columns, index=pd.RangeIndex(n), columns=list(names), copy=False)
        frame.attrs = {
            "endpoint": endpoint,
            "fetched_at": fetched.isoformat(),
            "counts": _counts(frame),
        }
        return frame

    def _release(self) -> None:
        """Drop every buffer (the builder is spent once its frame is built)."""
        empty = 0
        for name in ("trigger_source", "pipeline_id", "template_id"):
            setattr(self, name, _CodedColumn(empty))
        for name in ("project_id", "media_id", "output_media", "user_data"):
            setattr(self, name, _TextColumn(empty))
        self.priority = self.snapshot_count = self.sub_jobs_failed = _IntColumn(empty)
        self.media_duration = array("d")
        self.input_media, self.sub_jobs, self.output_details = [], [], []


def _counts(frame: pd.DataFrame) -> dict[str, Any]:
    """JSON-friendly counts: total rows, error rows, rows per status, state and kind."""
    counts: dict[str, Any] = {
        "total": len(frame),
        "errors": int(frame["error_code"].notna().sum()) if "error_code" in frame else 0,
    }
    for name in ("status", "state", "kind"):
        if name in frame:
            values = frame[name].value_counts(sort=False)
            counts[name] = {str(k): int(v) for k, v in values.items()}
    return counts


def empty_frame(
    *, kind: str | Iterable[str] = "package", fetched_at: Any = None, endpoint: str | None = None
) -> pd.DataFrame:
    """The frame of zero rows, with every column and dtype of :func:`build_frame` for ``kind``."""
    return build_frame([], kind=kind, fetched_at=fetched_at, endpoint=endpoint)


def read_parquet(path: Any, **kwargs: Any) -> pd.DataFrame:
    """Read a frame written with ``df.to_parquet`` back with the exact column types.

    pyarrow reads list columns back as numpy arrays; this turns ``input_media`` back into
    lists of str, ``sub_jobs``/``output_details`` into lists of dicts, and restores the
    categories of ``kind``, ``status`` and ``state``.
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
    for name in INT_COLUMNS:
        if name in out and str(out[name].dtype) != "Int64":
            out[name] = pd.to_numeric(out[name], errors="coerce").astype("Float64").astype("Int64")
    for name in FLOAT_COLUMNS:
        if name in out and out[name].dtype != np.float64:
            out[name] = pd.to_numeric(out[name], errors="coerce").astype(np.float64)
    if "input_media" in out:
        out["input_media"] = _object_column([_as_list(v) for v in out["input_media"]])
    for name in RECORD_LIST_COLUMNS:
        if name in out:
            out[name] = _object_column([_as_records(v) for v in out[name]])
    if "kind" in out and out["kind"].dtype != KIND_DTYPE:
        kinds = out["kind"].astype(object)
        out["kind"] = pd.Categorical([k if k in KINDS else None for k in kinds], dtype=KIND_DTYPE)
    if "state" in out and out["state"].dtype != STATE_DTYPE:
        states = out["state"].astype(object)
        out["state"] = pd.Categorical([s if s in STATES else None for s in states], dtype=STATE_DTYPE)
    if "status" in out:
        present = set(out["kind"].dropna().astype(str)) if "kind" in out else set()
        values = out["status"].astype(object).where(out["status"].notna(), None)
        out["status"] = _status_column(
            [v if isinstance(v, str) else None for v in values], present or {"package"}
        )
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


def _as_records(value: Any) -> list[dict[str, Any]] | None:
    """A list of dicts back from parquet (numpy arrays of dicts) or pickle; None stays None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str):
        return [_plain_record(v) for v in value if isinstance(v, Mapping)]
    return None


def _plain_record(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, pd.Timestamp):
            item = None if pd.isna(item) else item.to_pydatetime()
        elif isinstance(item, float) and math.isnan(item) and key != "media_duration":
            item = None
        elif isinstance(item, np.generic):
            item = item.item()
        out[key] = item
    return out
