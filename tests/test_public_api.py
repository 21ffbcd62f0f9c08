"""The public surface: ``ice_widgets.__all__`` is exactly the documented names, each resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ice_widgets

PUBLIC = {
    # models
    "KINDS",
    "PackageJob",
    "TranscodeJob",
    "TranscodeSubJob",
    "MediaProducingJob",
    "SnapshotJob",
    "MediaConvertJob",
    "MediaConvertOutputDetail",
    "Media",
    # errors
    "IceError",
    "CredentialsError",
    "ApiError",
    "ThrottlingError",
    "AuthenticationError",
    "ClockSkewError",
    "PermissionDeniedError",
    "NotFoundError",
    "InvalidParameterError",
    "ServerError",
    "TransportError",
    "RequestTimeoutError",
    "InvalidResponseError",
    # clients
    "Client",
    "AsyncClient",
    "forget_learned_rates",
    # frames
    "build_frame",
    "fetch_jobs",
    "afetch_jobs",
    "list_jobs",
    "read_parquet",
    "JobError",
    "JobCache",
    # widgets
    "JobCard",
    "JobsView",
    "watch",
    # extension
    "load_ipython_extension",
    "unload_ipython_extension",
}


def test_all_is_exactly_the_public_names() -> None:
    assert set(ice_widgets.__all__) == PUBLIC
    assert len(ice_widgets.__all__) == len(PUBLIC)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(ice_widgets, name)
    assert value is not None
    assert name in dir(ice_widgets)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'fetch_job'"):
        _ = ice_widgets.fetch_job  # type: ignore[attr-defined]


def test_every_error_derives_from_ice_error() -> None:
    for name in PUBLIC:
        value = getattr(ice_widgets, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, ice_widgets.IceError), name


def test_the_client_names_do_not_pull_in_the_notebook_stack() -> None:
    """A script using the client and frames never imports IPython or ipywidgets."""
    code = (
        "import sys, ice_widgets\n"
        "ice_widgets.Client, ice_widgets.fetch_jobs, ice_widgets.PackageJob\n"
        "print(sorted(m for m in ('IPython', 'ipywidgets', 'matplotlib') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
