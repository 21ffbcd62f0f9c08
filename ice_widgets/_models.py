"""PackageJob: one ICE packaging job, parsed tolerantly from the API's dict.

The parser never raises on the contents of the dict: a field that cannot be
understood becomes ``None``. The dict as received is kept in ``raw``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

__all__ = [
    "FINISHED_STATUSES",
    "KNOWN_STATUSES",
    "Media",
    "PackageJob",
    "parse_time",
]

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
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
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


def parse_time(value: Any) -> datetime | None:
    """Parse an API timestamp into an aware UTC datetime, or ``None``.

    Accepts ISO 8601 with ``Z`` or an offset, fractional seconds, a space instead
    of ``T``, surrounding whitespace, and epoch seconds or milliseconds as numbers.
    Naive times are taken as UTC (the API documents UTC).
    """
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
                return parse_time(int(text))
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
    if not isinstance(value, Mapping):
        return None
    kind = _text(value.get("Type"))
    media = _text(value.get("Media"))
    if kind is None and media is None:
        return None
    return Media(kind, media)


def _inputs(value: Any) -> tuple[Media, ...]:
    if isinstance(value, Mapping):  # a single input instead of a list
        value = [value]
    if not isinstance(value, (list, tuple)):
        return ()
    found = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        # Documented shape: {"Input": {"Type", "Media"}}; tolerate the bare {"Type", "Media"}.
        inner = item.get("Input", item)
        media = _media(inner)
        if media is not None:
            found.append(media)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class PackageJob:
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
    """

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
        if not isinstance(data, Mapping):
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
