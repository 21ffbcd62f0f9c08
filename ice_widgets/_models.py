"""One model per ICE job kind, each parsed tolerantly from the API's dict.

Kinds (:data:`KINDS`): ``"package"`` (:class:`PackageJob`), ``"transcode"``
(:class:`TranscodeJob`, with :class:`TranscodeSubJob`), ``"media_producing"``
(:class:`MediaProducingJob`), ``"snapshot"`` (:class:`SnapshotJob`) and
``"media_convert"`` (:class:`MediaConvertJob`, with :class:`MediaConvertOutputDetail`).
Keys and nesting follow the official SDK's response models (alibabacloud-ice20201109).

Every model shares: ``job_id, kind, name, status`` (the raw string as sent, whitespace
stripped), ``state`` (:func:`job_state`), ``submit_time, finish_time, create_time,
modified_time`` (aware UTC or None), ``duration``, ``progress`` (0-100 or None),
``output_urls``, ``output_url``, ``code, message``, ``raw``, ``is_finished``, ``is_failed``.

The parsers never raise on the contents of the dict: a field that cannot be
understood becomes ``None``. The dict as received is kept in ``raw``.

Speed (the batch path parses every job it fetches): the helpers test ``isinstance(x,
(dict, Mapping))``, so the dicts JSON gives match in C before the Mapping ABC's Python-level
``__instancecheck__`` is asked; a transcode sub-job reads its nested objects once each;
:func:`parse_time` keeps the strings it parsed (a transcode job repeats its times in every
sub-job). Measured with ``valgrind --tool=callgrind`` on 200 emulator answers of each kind,
instructions per job (before -> after): transcode 426,000 -> 334,000, media convert 299,000
-> 247,000, packaging 107,000 -> 101,000. What is left is mostly the frozen dataclasses'
``__init__`` (about 29,000 instructions for a ``TranscodeSubJob``'s 17 fields) and one
Python call per field read. ``bench/check_frames.py`` holds the results equal to before.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, NamedTuple

__all__ = [
    "FINISHED_STATUSES",
    "KINDS",
    "KNOWN_STATUSES",
    "STATES",
    "Job",
    "JobError",
    "Media",
    "MediaConvertJob",
    "MediaConvertOutputDetail",
    "MediaProducingJob",
    "PackageJob",
    "SnapshotJob",
    "TranscodeJob",
    "TranscodeSubJob",
    "job_state",
    "model_for",
    "parse_job",
    "parse_time",
]

#: The ICE job kinds ice_widgets handles, in display order.
KINDS: tuple[str, ...] = ("package", "transcode", "media_producing", "snapshot", "media_convert")

Kind = Literal["package", "transcode", "media_producing", "snapshot", "media_convert"]
State = Literal["running", "succeeded", "failed", "unknown"]
#: The values of ``state``, in display order.
STATES: tuple[str, ...] = ("running", "succeeded", "failed", "unknown")

_STATES: dict[str, State] = {
    "Success": "succeeded",
    "Complete": "succeeded",
    "Fail": "failed",
    "Failed": "failed",
    "Error": "failed",
    "Cancelled": "failed",
    "Init": "running",
    "Queuing": "running",
    "Processing": "running",
    "Inited": "running",
    "Running": "running",
}


def job_state(status: Any) -> State:
    """The state of a job from its raw status, the same rule for every kind.

    Success and Complete are ``"succeeded"``; Fail, Failed, Error and Cancelled are
    ``"failed"``; Init, Queuing, Processing, Inited and Running are ``"running"``;
    anything else (None, undocumented or differently cased statuses) is ``"unknown"``:
    it is shown as it came, never guessed. Surrounding whitespace is ignored.

    Parameters
    ----------
    status : str or None
        The status as sent (``Status``, or ``State`` for media convert jobs).

    Returns
    -------
    str
        One of ``"running"``, ``"succeeded"``, ``"failed"``, ``"unknown"``.
    """
    if not isinstance(status, str):
        return "unknown"
    return _STATES.get(status.strip(), "unknown")


#: Statuses the API documents, in display order.
KNOWN_STATUSES: tuple[str, ...] = ("Init", "Success", "Fail")
#: Statuses after which a job never changes again.
FINISHED_STATUSES: frozenset[str] = frozenset({"Success", "Fail"})

_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)


class Media(NamedTuple):
    """A media object: ``type`` is ``"OSS"`` or ``"Media"``; ``media`` a URL or media ID."""

    type: str | None
    media: str | None


def _text(value: Any) -> str | None:
    """A string field: strings are kept (empty -> None); numbers become text; others None."""
    if isinstance(value, str):  # the usual case first
        return value if value.strip() else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    return None


def _user_data(value: Any) -> str | None:
    """UserData is a string; a dict or list (as some callers send) is kept as compact JSON."""
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            return None
    return _text(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
            return int(number) if math.isfinite(number) and number.is_integer() else None
    return None


#: Strings already parsed by :func:`parse_time` (emptied when full). A transcode job sends
#: each of its times again in every sub-job, and the jobs of a batch share many.
_TIMES: dict[str, datetime | None] = {}
_TIMES_MAX = 4096
_NOT_CACHED = object()


def parse_time(value: Any) -> datetime | None:
    """Parse an API timestamp into an aware UTC datetime, or ``None``.

    Accepts ISO 8601 with ``Z`` or an offset, fractional seconds, a space instead
    of ``T``, surrounding whitespace, and epoch seconds or milliseconds as numbers.
    Naive times are taken as UTC (the API documents UTC).
    """
    if type(value) is str:  # datetimes are immutable: one parse serves every equal string
        parsed = _TIMES.get(value, _NOT_CACHED)
        if parsed is _NOT_CACHED:
            parsed = _parse_time(value)
            if len(_TIMES) >= _TIMES_MAX:
                _TIMES.clear()
            _TIMES[value] = parsed
        return parsed  # type: ignore[return-value]
    return _parse_time(value)


def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                return None
            seconds = value / 1000.0 if abs(value) >= 1e11 else float(value)
            return _EPOCH + timedelta(seconds=seconds)
        if not isinstance(value, str):
            return None
        text = value.strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            if text.isdigit():
                return _parse_time(int(text))
            # Lower-case 'z', or more than 6 fractional digits.
            text = text.replace("z", "Z")
            if "." in text:
                head, _, tail = text.partition(".")
                digits = ""
                rest = tail
                while rest and rest[0].isdigit():
                    digits, rest = digits + rest[0], rest[1:]
                text = f"{head}.{digits[:6].ljust(6, '0')}{rest}" if digits else head + rest
            parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=_UTC)
        return parsed.astimezone(_UTC)
    except (ValueError, OverflowError, OSError, TypeError):
        return None


def _media(value: Any) -> Media | None:
    if not isinstance(value, (dict, Mapping)):
        return None
    kind = _text(value.get("Type"))
    media = _text(value.get("Media"))
    if kind is None and media is None:
        return None
    return Media(kind, media)


def _inputs(value: Any) -> tuple[Media, ...]:
    if isinstance(value, (dict, Mapping)):  # a single input instead of a list
        value = [value]
    if not isinstance(value, (list, tuple)):
        return ()
    found = []
    for item in value:
        if not isinstance(item, (dict, Mapping)):
            continue
        # Documented shape: {"Input": {"Type", "Media"}}; tolerate the bare {"Type", "Media"}.
        inner = item.get("Input", item)
        media = _media(inner)
        if media is not None:
            found.append(media)
    return tuple(found)


def _float(value: Any) -> float | None:
    """A finite number (numbers as strings too), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _percent(value: Any) -> float | None:
    """A completion percentage in [0, 100]; anything outside or unparsable is None."""
    number = _float(value)
    if number is None or not 0.0 <= number <= 100.0:
        return None
    return number


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _status(value: Any) -> str | None:
    text = _text(value)
    return text.strip() if text is not None else None


def _mapping(value: Any) -> Mapping[str, Any]:
    """A nested object; a JSON object sent as a string is decoded; anything else is empty."""
    # (dict, Mapping): a dict (what JSON gives) matches in C before the Mapping ABC's
    # ABCMeta.__instancecheck__ (a Python call) is asked; other mappings still count.
    if isinstance(value, (dict, Mapping)):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def _items(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list (a single mapping counts as a one-item list)."""
    if type(value) is list:  # the JSON case first (a plain list is never a Mapping)
        return [item for item in value if isinstance(item, (dict, Mapping))]
    if isinstance(value, (dict, Mapping)):
        return [value]
    if not isinstance(value, (list, tuple)):
        return []
    return [item for item in value if isinstance(item, (dict, Mapping))]


def _path(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...`` through nested objects, or None."""
    for key in keys:
        data = (data if isinstance(data, dict) else _mapping(data)).get(key)
        if data is None:
            return None
    return data


def _raw(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return data if isinstance(data, dict) else dict(data)


def _unique(values: Any) -> tuple[str, ...]:
    """Non-empty strings, first occurrence kept, in order."""
    seen: dict[str, None] = {}
    for value in values:
        if value is not None and value not in seen:
            seen[value] = None
    return tuple(seen)


def _failure_detail(value: Any) -> tuple[str | None, str | None]:
    """(code, message) from an untyped result object such as ``SubmitResultJson``."""
    data = _mapping(value)
    code = message = None
    for key in ("Code", "code", "ErrorCode", "errorCode"):
        code = _text(data.get(key))
        if code is not None:
            break
    for key in ("Message", "message", "ErrorMessage", "errorMessage", "Msg", "msg"):
        message = _text(data.get(key))
        if message is not None:
            break
    return code, message


class _Shared:
    """What every job model (and sub-job) derives from its fields: state, duration, elapsed."""

    __slots__ = ()

    #: The kind of job (see KINDS). Subclasses set it without an annotation, so it is a
    #: plain class attribute and never a dataclass field (``PackageJob(**fields)`` keeps working).
    kind: ClassVar[str] = ""
    #: The field that starts the duration, and the one that ends it.
    _START: ClassVar[str] = "submit_time"
    _END: ClassVar[str] = "finish_time"

    status: str | None

    @property
    def state(self) -> State:
        """``"running"``, ``"succeeded"``, ``"failed"`` or ``"unknown"`` (see :func:`job_state`)."""
        return job_state(self.status)

    @property
    def is_finished(self) -> bool:
        """True when the state is succeeded or failed (the job will not change again)."""
        return self.state in ("succeeded", "failed")

    @property
    def is_failed(self) -> bool:
        """True when the state is failed."""
        return self.state == "failed"

    @property
    def duration(self) -> timedelta | None:
        """End minus start (see the class docstring); None while running, when either is
        missing, or when the end is before the start."""
        if self.state == "running":
            return None
        start: datetime | None = getattr(self, self._START)
        end: datetime | None = getattr(self, self._END)
        if start is None or end is None or end < start:
            return None
        return end - start

    def elapsed(self, now: datetime | None = None) -> timedelta | None:
        """Time since the start for an unfinished job (None when finished or the start is unknown)."""
        start: datetime | None = getattr(self, self._START)
        if self.is_finished or start is None:
            return None
        now = now or datetime.now(_UTC)
        return max(now - start, timedelta(0))

    def __repr__(self) -> str:
        duration = self.duration
        extra = f", duration={duration}" if duration is not None else ""
        job_id = getattr(self, "job_id", None)
        name = getattr(self, "name", None)
        return f"{type(self).__name__}(job_id={job_id!r}, status={self.status!r}, name={name!r}{extra})"


class _Outputs(_Shared):
    """``output_url`` as the first of ``output_urls`` (for the kinds other than packaging)."""

    __slots__ = ()

    @property
    def output_urls(self) -> list[str]:  # pragma: no cover - every model overrides it
        return []

    @property
    def output_url(self) -> str | None:
        """The first of ``output_urls``, or None."""
        urls = self.output_urls
        return urls[0] if urls else None


@dataclass(frozen=True, slots=True, repr=False)
class PackageJob(_Shared):
    """One packaging job as returned by GetPackageJob or ListPackageJobs.

    Build it with :meth:`PackageJob.from_api`; every field is optional because
    the API may omit any of them.

    Attributes
    ----------
    job_id, name, status, trigger_source, pipeline_id, output_url, code, message, user_data : str or None
        Text fields as sent. ``status`` is kept as-is, including unknown values.
    priority : int or None
        1 to 10, higher runs first.
    inputs : tuple of Media
        The job's inputs, in order.
    output : Media or None
        Where the packaged output goes.
    submit_time, finish_time, create_time, modified_time : datetime or None
        Timezone-aware UTC datetimes.
    raw : dict
        The dict as received from the API.
    kind : str
        ``"package"``.
    state : str
        See :func:`job_state`. ``is_finished`` keeps the packaging rule (status Success or
        Fail), so an undocumented status such as Cancelled has state failed but is not
        finished.
    progress : None
        Packaging jobs report no progress.
    output_urls : list of str
        ``[output_url]`` when there is one.
    """

    kind = "package"

    job_id: str | None = None
    name: str | None = None
    status: str | None = None
    trigger_source: str | None = None
    priority: int | None = None
    pipeline_id: str | None = None
    inputs: tuple[Media, ...] = ()
    output: Media | None = None
    output_url: str | None = None
    code: str | None = None
    message: str | None = None
    user_data: str | None = None
    submit_time: datetime | None = None
    finish_time: datetime | None = None
    create_time: datetime | None = None
    modified_time: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_api(cls, data: Any) -> PackageJob:
        """Parse the ``PackageJob`` dict of an API response; never raises.

        Parameters
        ----------
        data : Any
            The ``PackageJob`` object (or a list item of ``PackageJobs``). Anything
            that is not a mapping gives an empty job.

        Returns
        -------
        PackageJob
        """
        if not isinstance(data, (dict, Mapping)):
            return cls(raw={})
        get = data.get
        status = _text(get("Status"))
        return cls(
            job_id=_text(get("JobId")),
            name=_text(get("Name")),
            status=status.strip() if status is not None else None,
            trigger_source=_text(get("TriggerSource")),
            priority=_int(get("Priority")),
            pipeline_id=_text(get("PipelineId")),
            inputs=_inputs(get("Inputs")),
            output=_media(get("Output")),
            output_url=_text(get("OutputUrl")),
            code=_text(get("Code")),
            message=_text(get("Message")),
            user_data=_user_data(get("UserData")),
            submit_time=parse_time(get("SubmitTime")),
            finish_time=parse_time(get("FinishTime")),
            create_time=parse_time(get("CreateTime")),
            modified_time=parse_time(get("ModifiedTime")),
            raw=data if isinstance(data, dict) else dict(data),
        )

    @property
    def progress(self) -> float | None:
        """Always None: packaging jobs report no progress."""
        return None

    @property
    def output_urls(self) -> list[str]:
        """``[output_url]`` when the job has one, else ``[]``."""
        return [self.output_url] if self.output_url is not None else []

    @property
    def is_finished(self) -> bool:
        """True for Success and Fail; Init and unknown statuses are not finished."""
        return self.status in FINISHED_STATUSES

    @property
    def is_failed(self) -> bool:
        """True when the job finished with status Fail."""
        return self.status == "Fail"

    @property
    def duration(self) -> timedelta | None:
        """``finish_time - submit_time`` when both exist and finish >= submit, else None."""
        if self.submit_time is None or self.finish_time is None:
            return None
        if self.finish_time < self.submit_time:
            return None
        return self.finish_time - self.submit_time

    def elapsed(self, now: datetime | None = None) -> timedelta | None:
        """Time since submission for an unfinished job (None when finished or unknown)."""
        if self.is_finished or self.submit_time is None:
            return None
        now = now or datetime.now(_UTC)
        return max(now - self.submit_time, timedelta(0))

    def __repr__(self) -> str:
        duration = self.duration
        extra = f", duration={duration}" if duration is not None else ""
        return f"PackageJob(job_id={self.job_id!r}, status={self.status!r}, name={self.name!r}{extra})"


def _media_of(value: Any) -> Media | None:
    """``{Type, Media}``; a stream's ``InputUrl``/``OutputUrl`` stands for a missing ``Media``."""
    data = _mapping(value)
    kind = _text(data.get("Type"))
    media = _text(data.get("Media")) or _text(data.get("InputUrl")) or _text(data.get("OutputUrl"))
    if kind is None and media is None:
        return None
    return Media(kind, media)


def _template_id(process_config: Any) -> str | None:
    return _text(_path(process_config, "Transcode", "TemplateId"))


@dataclass(frozen=True, slots=True, repr=False)
class TranscodeSubJob(_Shared):
    """One sub-job of a transcode job (an item of ``TranscodeJobList``, GetTranscodeJob only).

    Attributes
    ----------
    job_id, parent_job_id, name, status, template_id, user_data : str or None
        ``JobId``, ``ParentJobId``, ``Name``, ``Status`` (Init, Processing, Success, Fail,
        Deleted, as sent), ``ProcessConfig.Transcode.TemplateId``, ``UserData``.
    index : int or None
        ``JobIndex``, the sub-job's place in its parent.
    output : Media or None
        ``Output`` (``Type``, ``Media``; a stream's ``OutputUrl`` when there is no ``Media``).
    output_url : str or None
        Where the output file is: ``OutFileMeta.FileBasicInfo.FileUrl`` (the file written),
        else ``Output.Media``, else ``Output.OutputUrl`` (media streams).
    code, message : str or None
        The failure detail found in the untyped ``SubmitResultJson`` (``Code``/``Message``),
        for a sub-job that did not succeed; None otherwise.
    media_duration : float or None
        Length of the output media in seconds (``OutFileMeta.FileBasicInfo.Duration``).
    file_size : int or None
        ``OutFileMeta.FileBasicInfo.FileSize`` in bytes.
    create_time, submit_time, finish_time : datetime or None
    state, duration, is_finished, is_failed
        As for the jobs; ``duration`` is ``finish_time - submit_time``.
    raw : dict
    """

    job_id: str | None = None
    parent_job_id: str | None = None
    index: int | None = None
    name: str | None = None
    status: str | None = None
    output: Media | None = None
    output_url: str | None = None
    template_id: str | None = None
    code: str | None = None
    message: str | None = None
    media_duration: float | None = None
    file_size: int | None = None
    user_data: str | None = None
    create_time: datetime | None = None
    submit_time: datetime | None = None
    finish_time: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_api(cls, data: Any) -> TranscodeSubJob:
        """Parse one item of ``TranscodeJobList``; never raises.

        Parameters
        ----------
        data : Any
            The sub-job object; anything that is not a mapping gives an empty sub-job.

        Returns
        -------
        TranscodeSubJob
        """
        if not isinstance(data, (dict, Mapping)):
            return cls(raw={})
        get = data.get
        status = _status(get("Status"))
        sent_output = get("Output")
        output = _media_of(sent_output)
        info = _mapping(_mapping(get("OutFileMeta")).get("FileBasicInfo"))
        output_url = (
            _text(info.get("FileUrl"))
            or (output.media if output is not None else None)
            or _text(_mapping(sent_output).get("OutputUrl"))
        )
        code, message = (None, None)
        if job_state(status) != "succeeded":
            code, message = _failure_detail(get("SubmitResultJson"))
        return cls(
            job_id=_text(get("JobId")),
            parent_job_id=_text(get("ParentJobId")),
            index=_int(get("JobIndex")),
            name=_text(get("Name")),
            status=status,
            output=output,
            output_url=output_url,
            template_id=_template_id(get("ProcessConfig")),
            code=code,
            message=message,
            media_duration=_float(info.get("Duration")),
            file_size=_int(info.get("FileSize")),
            user_data=_user_data(get("UserData")),
            create_time=parse_time(get("CreateTime")),
            submit_time=parse_time(get("SubmitTime")),
            finish_time=parse_time(get("FinishTime")),
            raw=_raw(data),
        )


@dataclass(frozen=True, slots=True, repr=False)
class TranscodeJob(_Outputs):
    """One transcode (parent) job: ``TranscodeParentJob`` of GetTranscodeJob, or an item of
    ``Jobs`` of ListTranscodeJobs (list items carry no sub-jobs).

    The parent's ``Status`` and its sub-jobs' differ, and the API documents a parent
    "Success" as all sub-jobs succeeded (Get) or at least one (List): read ``sub_jobs``.

    Attributes
    ----------
    job_id : str or None
        ``ParentJobId``.
    name, status, trigger_source, pipeline_id, user_data : str or None
    kind : str
        ``"transcode"``.
    progress : float or None
        ``Percent``.
    job_count : int or None
        ``JobCount``, the number of sub-jobs.
    priority : int or None
        ``ScheduleConfig.Priority``.
    inputs : tuple of Media
        ``InputGroup``.
    outputs : tuple of Media
        ``OutputGroup[].Output`` (the configured destinations).
    template_ids : tuple of str
        The transcode template of each output group (``ProcessConfig.Transcode.TemplateId``).
    sub_jobs : tuple of TranscodeSubJob
        ``TranscodeJobList``, in ``JobIndex`` order as sent; empty for list items.
    code, message : str or None
        The transcode models carry no ``Code``/``Message``: when the parent failed, these are
        those of its first failed sub-job that has them (else None).
    output_urls : list of str
        Each sub-job's ``output_url``; without sub-jobs, each output group's ``Output.Media``
        (or a stream's ``OutputUrl``).
    submit_time, finish_time, create_time, modified_time : datetime or None
    duration : timedelta or None
        ``finish_time - submit_time``; None while running.
    raw : dict
    """

    kind = "transcode"

    job_id: str | None = None
    name: str | None = None
    status: str | None = None
    progress: float | None = None
    job_count: int | None = None
    trigger_source: str | None = None
    pipeline_id: str | None = None
    priority: int | None = None
    inputs: tuple[Media, ...] = ()
    outputs: tuple[Media, ...] = ()
    template_ids: tuple[str, ...] = ()
    sub_jobs: tuple[TranscodeSubJob, ...] = ()
    code: str | None = None
    message: str | None = None
    user_data: str | None = None
    submit_time: datetime | None = None
    finish_time: datetime | None = None
    create_time: datetime | None = None
    modified_time: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_api(cls, data: Any) -> TranscodeJob:
        """Parse ``TranscodeParentJob`` (Get) or a ``Jobs`` item (List); never raises.

        Parameters
        ----------
        data : Any
            The parent job object; anything that is not a mapping gives an empty job.

        Returns
        -------
        TranscodeJob
        """
        if not isinstance(data, (dict, Mapping)):
            return cls(raw={})
        get = data.get
        status = _status(get("Status"))
        sub_jobs = tuple(TranscodeSubJob.from_api(item) for item in _items(get("TranscodeJobList")))
        groups = _items(get("OutputGroup"))
        code, message = _text(get("Code")), _text(get("Message"))
        if code is None and message is None and job_state(status) == "failed":
            for sub in sub_jobs:
                if sub.is_failed and (sub.code or sub.message):
                    code, message = sub.code, sub.message
                    break
        schedule = _mapping(get("ScheduleConfig"))
        return cls(
            job_id=_text(get("ParentJobId")) or _text(get("JobId")),
            name=_text(get("Name")),
            status=status,
            progress=_percent(get("Percent")),
            job_count=_int(get("JobCount")),
            trigger_source=_text(get("TriggerSource")),
            pipeline_id=_text(schedule.get("PipelineId")),
            priority=_int(schedule.get("Priority")),
            inputs=tuple(m for m in map(_media_of, _items(get("InputGroup"))) if m is not None),
            outputs=tuple(m for m in (_media_of(g.get("Output")) for g in groups) if m is not None),
            template_ids=_unique(_template_id(g.get("ProcessConfig")) for g in groups),
            sub_jobs=sub_jobs,
            code=code,
            message=message,
            user_data=_user_data(get("UserData")),
            submit_time=parse_time(get("SubmitTime")),
            finish_time=parse_time(get("FinishTime")),
            create_time=parse_time(get("CreateTime")),
            modified_time=parse_time(get("ModifiedTime")),
            raw=_raw(data),
        )

    @property
    def output_urls(self) -> list[str]:
        """Each sub-job's output location; without sub-jobs, the output groups' destinations."""
        if self.sub_jobs:
            return list(_unique(sub.output_url for sub in self.sub_jobs))
        return list(_unique(media.media for media in self.outputs))

    @property
    def sub_jobs_failed(self) -> int:
        """How many sub-jobs failed (0 when there are none, e.g. a list item)."""
        return sum(1 for sub in self.sub_jobs if sub.is_failed)


@dataclass(frozen=True, slots=True, repr=False)
class MediaProducingJob(_Outputs):
    """One media producing (editing/rendering) job: ``MediaProducingJob`` of
    GetMediaProducingJob, or an item of ``MediaProducingJobList``.

    Media producing jobs have no name, no ``SubmitTime``/``FinishTime`` (they finish at
    ``CompleteTime``, which is also ``finish_time`` here); list items have no ``Progress``.

    Attributes
    ----------
    job_id, status, project_id, template_id, media_id, media_url, vod_media_id, user_data : str or None
    kind : str
        ``"media_producing"``.
    name : None
        The API gives these jobs no name (a ``Name`` key, if ever sent, is kept).
    progress : float or None
        ``Progress`` (Get only).
    media_duration : float or None
        ``Duration``: the length in seconds of the produced media, not the job's run time.
    complete_time, finish_time : datetime or None
        Both ``CompleteTime``.
    create_time, modified_time : datetime or None
    submit_time : None
    code, message : str or None
    output_urls : list of str
        ``[MediaURL]`` when there is one.
    duration : timedelta or None
        ``complete_time - create_time``; None while running.
    raw : dict
    """

    kind = "media_producing"
    _START = "create_time"
    _END = "complete_time"

    job_id: str | None = None
    name: str | None = None
    status: str | None = None
    progress: float | None = None
    project_id: str | None = None
    template_id: str | None = None
    media_id: str | None = None
    media_url: str | None = None
    vod_media_id: str | None = None
    media_duration: float | None = None
    code: str | None = None
    message: str | None = None
    user_data: str | None = None
    create_time: datetime | None = None
    complete_time: datetime | None = None
    modified_time: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_api(cls, data: Any) -> MediaProducingJob:
        """Parse ``MediaProducingJob`` (Get) or a ``MediaProducingJobList`` item; never raises.

        Parameters
        ----------
        data : Any
            The job object; anything that is not a mapping gives an empty job.

        Returns
        -------
        MediaProducingJob
        """
        if not isinstance(data, (dict, Mapping)):
            return cls(raw={})
        get = data.get
        return cls(
            job_id=_text(get("JobId")),
            name=_text(get("Name")),
            status=_status(get("Status")),
            progress=_percent(get("Progress")),
            project_id=_text(get("ProjectId")),
            template_id=_text(get("TemplateId")),
            media_id=_text(get("MediaId")),
            media_url=_text(get("MediaURL")),
            vod_media_id=_text(get("VodMediaId")),
            media_duration=_float(get("Duration")),
            code=_text(get("Code")),
            message=_text(get("Message")),
            user_data=_user_data(get("UserData")),
            create_time=parse_time(get("CreateTime")),
            complete_time=parse_time(get("CompleteTime")),
            modified_time=parse_time(get("ModifiedTime")),
            raw=_raw(data),
        )

    @property
    def finish_time(self) -> datetime | None:
        """``CompleteTime``: when the job finished."""
        return self.complete_time

    @property
    def submit_time(self) -> datetime | None:
        """Always None: media producing jobs have no ``SubmitTime``."""
        return None

    @property
    def output_urls(self) -> list[str]:
        """``[media_url]`` when the job has one."""
        return [self.media_url] if self.media_url is not None else []


class OssFile(NamedTuple):
    """An OSS object: ``bucket``, ``location`` (the region, e.g. ``oss-cn-shanghai``), ``object``."""

    bucket: str | None
    location: str | None
    object: str | None


def _oss_file(value: Any) -> OssFile | None:
    data = _mapping(value)
    found = OssFile(_text(data.get("Bucket")), _text(data.get("Location")), _text(data.get("Object")))
    return None if found == (None, None, None) else found


@dataclass(frozen=True, slots=True, repr=False)
class SnapshotJob(_Outputs):
    """One snapshot job: ``SnapshotJob`` of GetSnapshotJob, or an item of ``Jobs`` of
    ListSnapshotJobs (list items have no ``Code``, ``Message``, ``UserData``, ``TemplateConfig``).

    Attributes
    ----------
    job_id, name, status, snapshot_type, pipeline_id, template_id, trigger_source, user_data : str or None
        ``snapshot_type`` is ``Type`` (Normal, Sprite, WebVtt).
    kind : str
        ``"snapshot"``.
    is_async : bool or None
        ``Async``.
    count : int or None
        ``Count``, the number of snapshots.
    input, output : Media or None
    output_oss : OssFile or None
        ``Output.OssFile`` (Get only).
    progress : None
        Snapshot jobs report no progress.
    code, message : str or None
        Get only.
    output_urls : list of str
        ``Output.Media`` (it may hold ``{Count}``/``{TileCount}`` placeholders), else
        ``oss://Bucket/Object`` from ``Output.OssFile``.
    submit_time, finish_time, create_time, modified_time : datetime or None
    duration : timedelta or None
        ``finish_time - submit_time``; None while running.
    raw : dict
    """

    kind = "snapshot"

    job_id: str | None = None
    name: str | None = None
    status: str | None = None
    snapshot_type: str | None = None
    is_async: bool | None = None
    count: int | None = None
    input: Media | None = None
    output: Media | None = None
    output_oss: OssFile | None = None
    pipeline_id: str | None = None
    template_id: str | None = None
    trigger_source: str | None = None
    code: str | None = None
    message: str | None = None
    user_data: str | None = None
    submit_time: datetime | None = None
    finish_time: datetime | None = None
    create_time: datetime | None = None
    modified_time: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_api(cls, data: Any) -> SnapshotJob:
        """Parse ``SnapshotJob`` (Get) or a ``Jobs`` item (List); never raises.

        Parameters
        ----------
        data : Any
            The job object; anything that is not a mapping gives an empty job.

        Returns
        -------
        SnapshotJob
        """
        if not isinstance(data, (dict, Mapping)):
            return cls(raw={})
        get = data.get
        return cls(
            job_id=_text(get("JobId")),
            name=_text(get("Name")),
            status=_status(get("Status")),
            snapshot_type=_text(get("Type")),
            is_async=_bool(get("Async")),
            count=_int(get("Count")),
            input=_media_of(get("Input")),
            output=_media_of(get("Output")),
            output_oss=_oss_file(_path(get("Output"), "OssFile")),
            pipeline_id=_text(get("PipelineId")),
            template_id=_text(get("TemplateId")),
            trigger_source=_text(get("TriggerSource")),
            code=_text(get("Code")),
            message=_text(get("Message")),
            user_data=_user_data(get("UserData")),
            submit_time=parse_time(get("SubmitTime")),
            finish_time=parse_time(get("FinishTime")),
            create_time=parse_time(get("CreateTime")),
            modified_time=parse_time(get("ModifiedTime")),
            raw=_raw(data),
        )

    @property
    def progress(self) -> float | None:
        """Always None: snapshot jobs report no progress."""
        return None

    @property
    def output_urls(self) -> list[str]:
        """``Output.Media``, else ``oss://Bucket/Object`` of ``Output.OssFile``."""
        if self.output is not None and self.output.media is not None:
            return [self.output.media]
        oss = self.output_oss
        if oss is not None and oss.bucket and oss.object:
            return [f"oss://{oss.bucket}/{oss.object.lstrip('/')}"]
        return []


_DETAIL_STATES: dict[str, State] = {"Scheduled": "running"}


@dataclass(frozen=True, slots=True, repr=False)
class MediaConvertOutputDetail(_Shared):
    """One output (or output group) task of a media convert job (``OutputDetails`` or
    ``OutputGroupDetails``, Get only).

    Attributes
    ----------
    name, task_id, status, code, message : str or None
        ``status`` is the task's own vocabulary (Init, Scheduled, Success, Failed, Skipped;
        groups also Running). Scheduled counts as running; Skipped stays unknown.
    group : str or None
        For an output of an output group, the group's name.
    is_group : bool
        True for an item of ``OutputGroupDetails`` itself.
    output_url : str or None
        ``Result.OutputFile.Url`` (the stored file of a media asset), else ``Result.OutputFile.Media``.
    create_time, finish_time : datetime or None
    state, duration, is_finished, is_failed
        ``duration`` is ``finish_time - create_time``.
    raw : dict
    """

    _START = "create_time"

    name: str | None = None
    task_id: str | None = None
    status: str | None = None
    group: str | None = None
    is_group: bool = False
    output_url: str | None = None
    code: str | None = None
    message: str | None = None
    create_time: datetime | None = None
    finish_time: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_api(
        cls, data: Any, *, group: str | None = None, is_group: bool = False
    ) -> MediaConvertOutputDetail:
        """Parse one ``MediaConvertOutputDetail`` (or group detail); never raises.

        Parameters
        ----------
        data : Any
            The detail object; anything that is not a mapping gives an empty detail.
        group : str, optional
            The name of the output group it belongs to.
        is_group : bool
            True for an output group's own detail.

        Returns
        -------
        MediaConvertOutputDetail
        """
        if not isinstance(data, (dict, Mapping)):
            return cls(raw={}, group=group, is_group=is_group)
        get = data.get
        output_file = _path(get("Result"), "OutputFile")
        return cls(
            name=_text(get("Name")),
            task_id=_text(get("TaskId")),
            status=_status(get("Status")),
            group=group,
            is_group=is_group,
            output_url=_text(_path(output_file, "Url")) or _text(_path(output_file, "Media")),
            code=_text(get("Code")),
            message=_text(get("Message")),
            create_time=parse_time(get("CreateTime")),
            finish_time=parse_time(get("FinishTime")),
            raw=_raw(data),
        )

    @property
    def state(self) -> State:
        """As :func:`job_state`, with the output tasks' Scheduled counted as running."""
        if isinstance(self.status, str) and self.status in _DETAIL_STATES:
            return _DETAIL_STATES[self.status]
        return job_state(self.status)


@dataclass(frozen=True, slots=True, repr=False)
class MediaConvertJob(_Outputs):
    """One media convert job: ``Job`` of GetMediaConvertJob, or an item of ``Jobs`` of
    ListMediaConvertJobs (list items have no ``Percent`` nor output details).

    Media convert jobs report ``State`` (Inited, Running, Complete, Error, Cancelled), kept
    here as ``status``; they have no ``SubmitTime``.

    Attributes
    ----------
    job_id, status, pipeline_id, client_token, code, message, user_data : str or None
    kind : str
        ``"media_convert"``.
    name : str or None
        ``Config.JobName``.
    progress : float or None
        ``Percent`` (Get only).
    inputs : tuple of Media
        ``Config.Inputs[].InputFile``.
    outputs : tuple of MediaConvertOutputDetail
        ``OutputDetails``, then each ``OutputGroupDetails`` item followed by its ``Outputs``.
    output_urls : list of str
        The outputs' files when there are details; otherwise the configured destinations
        (``Config.Outputs[].OutputFile.Media``, ``Config.OutputGroups[].GroupConfig.OutputFileBase.Media``).
    create_time, finish_time : datetime or None
    submit_time, modified_time : None
        Not in the API (a ``ModifiedTime`` key, if ever sent, is kept).
    duration : timedelta or None
        ``finish_time - create_time``; None while running.
    raw : dict
    """

    kind = "media_convert"
    _START = "create_time"

    job_id: str | None = None
    name: str | None = None
    status: str | None = None
    progress: float | None = None
    pipeline_id: str | None = None
    client_token: str | None = None
    inputs: tuple[Media, ...] = ()
    outputs: tuple[MediaConvertOutputDetail, ...] = ()
    destinations: tuple[str, ...] = ()
    code: str | None = None
    message: str | None = None
    user_data: str | None = None
    create_time: datetime | None = None
    finish_time: datetime | None = None
    modified_time: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_api(cls, data: Any) -> MediaConvertJob:
        """Parse ``Job`` (Get) or a ``Jobs`` item (List); never raises.

        Parameters
        ----------
        data : Any
            The job object; anything that is not a mapping gives an empty job.

        Returns
        -------
        MediaConvertJob
        """
        if not isinstance(data, (dict, Mapping)):
            return cls(raw={})
        get = data.get
        config = _mapping(get("Config"))
        details = [MediaConvertOutputDetail.from_api(item) for item in _items(get("OutputDetails"))]
        for group in _items(get("OutputGroupDetails")):
            parsed = MediaConvertOutputDetail.from_api(group, is_group=True)
            details.append(parsed)
            details.extend(
                MediaConvertOutputDetail.from_api(item, group=parsed.name)
                for item in _items(group.get("Outputs"))
            )
        destinations = [_text(_path(item, "OutputFile", "Media")) for item in _items(config.get("Outputs"))]
        destinations += [
            _text(_path(item, "GroupConfig", "OutputFileBase", "Media"))
            for item in _items(config.get("OutputGroups"))
        ]
        return cls(
            job_id=_text(get("JobId")),
            name=_text(config.get("JobName")) or _text(get("Name")),
            status=_status(get("State")) or _status(get("Status")),
            progress=_percent(get("Percent")),
            pipeline_id=_text(get("PipelineId")),
            client_token=_text(get("ClientToken")),
            inputs=tuple(
                m
                for m in (_media_of(item.get("InputFile")) for item in _items(config.get("Inputs")))
                if m is not None
            ),
            outputs=tuple(details),
            destinations=_unique(destinations),
            code=_text(get("Code")),
            message=_text(get("Message")),
            user_data=_user_data(get("UserData")),
            create_time=parse_time(get("CreateTime")),
            finish_time=parse_time(get("FinishTime")),
            modified_time=parse_time(get("ModifiedTime")),
            raw=_raw(data),
        )

    @property
    def submit_time(self) -> datetime | None:
        """Always None: media convert jobs have no ``SubmitTime``."""
        return None

    @property
    def output_urls(self) -> list[str]:
        """The output files of the details, else the configured destinations."""
        found = _unique(d.output_url for d in self.outputs if not d.is_group)
        return list(found or self.destinations)


Job = PackageJob | TranscodeJob | MediaProducingJob | SnapshotJob | MediaConvertJob

_MODELS: dict[str, type[Job]] = {
    "package": PackageJob,
    "transcode": TranscodeJob,
    "media_producing": MediaProducingJob,
    "snapshot": SnapshotJob,
    "media_convert": MediaConvertJob,
}


def model_for(kind: str) -> type[Job]:
    """The model class of a job kind.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.

    Returns
    -------
    type
        ``PackageJob``, ``TranscodeJob``, ``MediaProducingJob``, ``SnapshotJob`` or ``MediaConvertJob``.

    Raises
    ------
    ValueError
        For an unknown kind (the message lists the valid ones).
    """
    try:
        return _MODELS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown job kind {kind!r}: use one of {', '.join(KINDS)}") from None


def parse_job(kind: str, data: Any) -> Job:
    """Parse one job dict of the given kind; never raises on ``data``.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS` (an unknown kind raises ``ValueError``).
    data : Any
        The job object as the API sent it.

    Returns
    -------
    Job
        The kind's model.
    """
    return model_for(kind).from_api(data)


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
