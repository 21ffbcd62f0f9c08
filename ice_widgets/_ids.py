"""Job IDs in, and per-job failures out: the one parser and the one error-to-row function.

Every entry point that takes job IDs (``fetch_jobs``/``afetch_jobs``, ``watch``, the
``%ice_job``/``%ice_jobs``/``%ice_watch`` magics, ``JobsView`` given IDs) reads them with
:func:`parse_ids` / :func:`check_id`, and every per-job failure becomes a row through
:func:`error_row`. The rule, in one place:

* **A string holds one or more IDs**, separated by commas and/or whitespace:
  ``"a b"``, ``"a,b"`` and ``"a, b\\n"`` are the two IDs ``a`` and ``b``; ``"  a  "`` is ``a``.
* **Inside a list, Series, Index, array or frame column, each item is one ID**, stripped.
  An item that still holds whitespace, a comma or control characters (``"a b"``,
  ``"a,b"``, ``"a\\r\\nX: 1"``) is not split: it becomes an ``InvalidJobId`` row, never
  a request. So does a non-string item (``12345``), an ID longer than
  :data:`MAX_ID_LENGTH`, and non-ASCII bytes.
* Missing items (None, NaN, ``pd.NA``) are ``MissingJobId`` rows and empty ones ``EmptyJobId``
  rows (``watch`` and the magics skip both). Repeated IDs count once, in first-seen order.
* A job model stands for its ``job_id``; a DataFrame for its one column or its ``job_id``
  column. Anything else as a whole (None, an int, a dict) is a ``TypeError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, get_args

from ice_widgets._errors import IceError
from ice_widgets._models import Job, JobError

__all__ = [
    "MAX_ID_LENGTH",
    "check_id",
    "code_message",
    "error_row",
    "id_values",
    "parse_ids",
    "split_ids",
]

#: Longest job ID sent to the service; ICE job IDs are 32 hex digits.
MAX_ID_LENGTH = 256

_SEPARATORS = re.compile(r"[\s,]+")
#: The job models of every kind: each stands for its ``job_id``.
_MODEL_TYPES: tuple[type, ...] = get_args(Job)


def split_ids(text: str) -> list[str]:
    """The IDs in one string: split on commas and whitespace, empty pieces dropped."""
    return [piece for piece in _SEPARATORS.split(text) if piece]


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    import pandas as pd

    return value is pd.NA or value is pd.NaT


def _job_id_of(value: Any) -> Any:
    """A job model (any kind) stands for its ID; other values for themselves."""
    model: Any = value
    return model.job_id if isinstance(value, _MODEL_TYPES) else value


def id_values(job_ids: Any) -> list[Any]:
    """The values inside the ``job_ids`` argument, one per ID (a string split by the rule).

    Raises
    ------
    TypeError
        When ``job_ids`` as a whole is not a string, a job, or an iterable of IDs.
    """
    import numpy as np
    import pandas as pd

    if isinstance(job_ids, str):
        return list(split_ids(job_ids))
    if isinstance(job_ids, _MODEL_TYPES):
        return [_job_id_of(job_ids)]
    if isinstance(job_ids, pd.DataFrame):
        if job_ids.shape[1] == 1:
            return [_job_id_of(v) for v in job_ids.iloc[:, 0].tolist()]
        if "job_id" in job_ids.columns:
            return list(job_ids["job_id"].tolist())
        raise TypeError(
            f"job_ids is a DataFrame with {job_ids.shape[1]} columns and none named 'job_id'; "
            "pass one column, e.g. df['JobId']"
        )
    if isinstance(job_ids, (pd.Series, pd.Index)):
        return [_job_id_of(v) for v in job_ids.tolist()]
    if isinstance(job_ids, np.ndarray):
        if job_ids.ndim != 1:
            raise TypeError(f"job_ids must be one-dimensional, not an array of shape {job_ids.shape}")
        return list(job_ids.tolist())
    if isinstance(job_ids, Mapping):
        raise TypeError(f"job_ids must be an iterable of job IDs, not a mapping ({type(job_ids).__name__})")
    if isinstance(job_ids, (bytes, bytearray)) or not isinstance(job_ids, Iterable):
        raise TypeError(
            "job_ids must be a job ID string or an iterable of them (list, Series, Index, "
            f"one-column DataFrame), not {type(job_ids).__name__}"
        )
    return [_job_id_of(v) for v in job_ids]


def check_id(value: Any) -> str | JobError:
    """One item: a usable, stripped job ID, or the JobError row that replaces it."""
    if _is_missing(value):
        return JobError(None, "MissingJobId", "the job ID is missing (None/NaN)")
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return JobError(repr(bytes(value))[:MAX_ID_LENGTH], "InvalidJobId", "the job ID is not text")
    if not isinstance(value, str):
        return JobError(
            str(value)[:MAX_ID_LENGTH],
            "InvalidJobId",
            f"a job ID must be a string, not {type(value).__name__}",
        )
    text = value.strip()
    if not text:
        return JobError("", "EmptyJobId", "the job ID is empty")
    if len(text) > MAX_ID_LENGTH:
        return JobError(text[:MAX_ID_LENGTH], "InvalidJobId", f"the job ID is longer than {MAX_ID_LENGTH}")
    # The only printable whitespace is " " (every other str.isspace() character is a control
    # or separator, not printable: checked over all of Unicode), so one ``in`` replaces a
    # generator step per character (a 32-character ID: 33 of them, once per ID of a batch).
    if not text.isprintable() or " " in text:
        return JobError(text, "InvalidJobId", "the job ID contains whitespace or control characters")
    if "," in text:
        return JobError(text, "InvalidJobId", "the job ID contains a comma (IDs are separated by commas)")
    return text


def parse_ids(job_ids: Any) -> list[str | JobError]:
    """Distinct entries in first-seen order: stripped IDs, or JobError rows for unusable ones.

    See the module docstring for the rule. Identical error rows (``""`` and ``"   "``,
    None and NaN) are one row each.

    Raises
    ------
    TypeError
        When ``job_ids`` as a whole is not a string or an iterable of IDs (an int, a dict).
    """
    seen: set[Any] = set()
    entries: list[str | JobError] = []
    for value in id_values(job_ids):
        entry = check_id(value)
        key: Any = entry if isinstance(entry, str) else ("error", entry.job_id, entry.code)
        if key in seen:
            continue
        seen.add(key)
        entries.append(entry)
    return entries


def code_message(error: BaseException) -> tuple[str, str]:
    """``(code, message)`` of a per-job failure: the API's or transport's code, else the
    exception's class name; the message on one line."""
    if isinstance(error, IceError):
        code = error.code or type(error).__name__
        message = str(error.message)
    else:
        code = type(error).__name__
        message = str(error) or code
    return code, " ".join(message.split()) or code


def error_row(job_id: str | None, error: BaseException) -> JobError:
    """The JobError row for a per-job failure (used by fetch_jobs, watch and the views)."""
    code, message = code_message(error)
    return JobError(job_id, code, message)
