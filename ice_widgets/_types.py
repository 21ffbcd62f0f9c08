"""Type aliases of the public API, so that mypy and IDEs can follow the entry points.

``JobIds`` is what ``fetch_jobs``/``afetch_jobs``/``watch`` accept as job IDs (the rule of
:mod:`ice_widgets._ids`); ``AnyClient`` the client argument; ``CacheArg`` the ``cache=``
argument. They are real objects (``typing.get_type_hints`` works on the entry points).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from ice_widgets._cache import JobCache
from ice_widgets._client import AsyncClient, Client
from ice_widgets._models import Job

__all__ = ["AnyClient", "CacheArg", "JobIds"]

#: Job IDs: one string (several IDs separated by commas/whitespace), an iterable of IDs or
#: jobs, a Series, Index or 1-d array, or a DataFrame with one column or ``job_id`` (+ ``kind``).
JobIds: TypeAlias = str | Job | Iterable[Any] | pd.Series | pd.Index | pd.DataFrame | np.ndarray
#: The client argument: a sync or async client, or None for one configured from the environment.
AnyClient: TypeAlias = Client | AsyncClient | None
#: The cache argument: a SQLite file path, an open JobCache, or None for no cache.
CacheArg: TypeAlias = str | os.PathLike[str] | JobCache | None
