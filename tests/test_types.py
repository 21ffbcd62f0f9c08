"""The public entry points are typed (not ``Any``), and the hints resolve at run time."""

from __future__ import annotations

import typing

from ice_widgets._fetch import afetch_jobs, fetch_jobs, list_jobs
from ice_widgets._types import AnyClient, CacheArg, JobIds


def test_fetch_entry_points_carry_the_aliases() -> None:
    for function in (fetch_jobs, afetch_jobs):
        hints = typing.get_type_hints(function)
        assert hints["job_ids"] == JobIds and hints["client"] == AnyClient and hints["cache"] == CacheArg
        assert typing.Any not in (hints["job_ids"], hints["client"], hints["cache"])
    assert typing.get_type_hints(list_jobs)["client"] == AnyClient


def test_the_aliases_name_what_the_parser_takes() -> None:
    import pandas as pd

    from ice_widgets import AsyncClient, Client, JobCache, PackageJob

    assert {str, PackageJob, pd.Series, pd.DataFrame, pd.Index} <= set(typing.get_args(JobIds))
    assert set(typing.get_args(AnyClient)) == {Client, AsyncClient, type(None)}
    assert JobCache in typing.get_args(CacheArg)
