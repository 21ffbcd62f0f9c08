"""ice_widgets: inspect Alibaba Cloud ICE media jobs (every kind in ``KINDS``) in Jupyter.

Every public name is loaded on first use, so ``import ice_widgets`` is cheap and
never imports IPython or ipywidgets: scripts and the emulator start fast, and the
widget names pull in ipywidgets only when a notebook asks for them.

``%load_ext ice_widgets`` registers the magics (see :mod:`ice_widgets.extension`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ice_widgets._version import __version__ as __version__

# public name -> private module that defines it
_LAZY: dict[str, str] = {
    # models
    "KINDS": "ice_widgets._models",
    "PackageJob": "ice_widgets._models",
    "TranscodeJob": "ice_widgets._models",
    "TranscodeSubJob": "ice_widgets._models",
    "MediaProducingJob": "ice_widgets._models",
    "SnapshotJob": "ice_widgets._models",
    "MediaConvertJob": "ice_widgets._models",
    "MediaConvertOutputDetail": "ice_widgets._models",
    "JobError": "ice_widgets._models",
    "Media": "ice_widgets._models",
    # errors
    "IceError": "ice_widgets._errors",
    "CredentialsError": "ice_widgets._errors",
    "ApiError": "ice_widgets._errors",
    "ThrottlingError": "ice_widgets._errors",
    "AuthenticationError": "ice_widgets._errors",
    "ClockSkewError": "ice_widgets._errors",
    "PermissionDeniedError": "ice_widgets._errors",
    "NotFoundError": "ice_widgets._errors",
    "InvalidParameterError": "ice_widgets._errors",
    "ServerError": "ice_widgets._errors",
    "TransportError": "ice_widgets._errors",
    "RequestTimeoutError": "ice_widgets._errors",
    "InvalidResponseError": "ice_widgets._errors",
    # clients
    "Client": "ice_widgets._client",
    "AsyncClient": "ice_widgets._client",
    "forget_learned_rates": "ice_widgets._core",
    # frames and the fetch entry points
    "build_frame": "ice_widgets._frames",
    "fetch_jobs": "ice_widgets._fetch",
    "afetch_jobs": "ice_widgets._fetch",
    "list_jobs": "ice_widgets._fetch",
    "read_parquet": "ice_widgets._frames",
    "JobCache": "ice_widgets._cache",
    # widgets (import ipywidgets, and through it IPython)
    "JobCard": "ice_widgets.widgets",
    "JobsView": "ice_widgets.widgets",
    "watch": "ice_widgets.widgets",
}

__all__ = [*sorted(_LAZY), "load_ipython_extension", "unload_ipython_extension"]

# Names from these modules make (or show) job frames: loading one registers ``df.ice``.
_FRAME_MODULES = frozenset({"ice_widgets._frames", "ice_widgets._fetch", "ice_widgets.widgets"})


if not TYPE_CHECKING:
    # Type checkers see the names of the TYPE_CHECKING block at the end, and no other: a
    # misspelt public name is an error to them, not a silent Any.

    def __getattr__(name: str) -> Any:
        module_name = _LAZY.get(name)
        if module_name is None:
            raise AttributeError(f"module 'ice_widgets' has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        if module_name in _FRAME_MODULES:
            from ice_widgets import _accessor
        globals()[name] = value  # later look-ups skip __getattr__
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext ice_widgets``: register magics and display formatters."""
    from ice_widgets import extension

    extension.load_ipython_extension(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Called by ``%unload_ext ice_widgets``: undo everything the extension registered."""
    from ice_widgets import extension

    extension.unload_ipython_extension(ipython)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    # One `from m import X as X` per name: the explicit re-export mypy --strict needs (``__all__``
    # is computed, so it does not count), kept one per line by ruff's import sorting.
    from ice_widgets._cache import JobCache as JobCache
    from ice_widgets._client import AsyncClient as AsyncClient
    from ice_widgets._client import Client as Client
    from ice_widgets._core import forget_learned_rates as forget_learned_rates
    from ice_widgets._errors import ApiError as ApiError
    from ice_widgets._errors import AuthenticationError as AuthenticationError
    from ice_widgets._errors import ClockSkewError as ClockSkewError
    from ice_widgets._errors import CredentialsError as CredentialsError
    from ice_widgets._errors import IceError as IceError
    from ice_widgets._errors import InvalidParameterError as InvalidParameterError
    from ice_widgets._errors import InvalidResponseError as InvalidResponseError
    from ice_widgets._errors import NotFoundError as NotFoundError
    from ice_widgets._errors import PermissionDeniedError as PermissionDeniedError
    from ice_widgets._errors import RequestTimeoutError as RequestTimeoutError
    from ice_widgets._errors import ServerError as ServerError
    from ice_widgets._errors import ThrottlingError as ThrottlingError
    from ice_widgets._errors import TransportError as TransportError
    from ice_widgets._fetch import afetch_jobs as afetch_jobs
    from ice_widgets._fetch import fetch_jobs as fetch_jobs
    from ice_widgets._fetch import list_jobs as list_jobs
    from ice_widgets._frames import build_frame as build_frame
    from ice_widgets._frames import read_parquet as read_parquet
    from ice_widgets._models import KINDS as KINDS
    from ice_widgets._models import JobError as JobError
    from ice_widgets._models import Media as Media
    from ice_widgets._models import MediaConvertJob as MediaConvertJob
    from ice_widgets._models import MediaConvertOutputDetail as MediaConvertOutputDetail
    from ice_widgets._models import MediaProducingJob as MediaProducingJob
    from ice_widgets._models import PackageJob as PackageJob
    from ice_widgets._models import SnapshotJob as SnapshotJob
    from ice_widgets._models import TranscodeJob as TranscodeJob
    from ice_widgets._models import TranscodeSubJob as TranscodeSubJob
    from ice_widgets.widgets import JobCard as JobCard
    from ice_widgets.widgets import JobsView as JobsView
    from ice_widgets.widgets import watch as watch
