"""The IPython extension: ``%load_ext ice_widgets``.

Registers

* ``%ice_job [--kind K] [--endpoint E] [--profile P] [--region R] JOB_ID``: shows a
  :class:`JobCard`; ``--kind`` is one of :data:`ice_widgets.KINDS` (default ``package``):
  ``%ice_job --kind transcode ID`` shows a transcode job with its sub-jobs;
* ``%ice_jobs [options] EXPR``: ``EXPR`` is a Python expression in the user namespace
  giving job IDs (a list, a Series, a DataFrame with a ``job_id`` column, a string), or IDs
  written inline, separated by spaces or commas. Shows a :class:`JobsView` and stores the
  frame in ``_ice_jobs``;
* ``%ice_watch [options] EXPR``: the same IDs, watched live (:func:`watch`); the view is
  stored in ``_ice_watch``;
* ``--kind K`` on all three: the kind of the IDs; a DataFrame with a ``kind`` column (or
  jobs) carries its own kinds, so one magic can show or watch jobs of several kinds;
* display formatters so a bare job of any kind (``PackageJob``, ``TranscodeJob``,
  ``MediaProducingJob``, ``SnapshotJob``, ``MediaConvertJob``) at the end of a cell shows
  as its job card.

``%unload_ext ice_widgets`` removes the magics and the formatter and stops every poller.
IPython is imported here only, when the extension is loaded.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast, overload

from IPython.core import magic as _ipython_magic
from IPython.core import magic_arguments as _ipython_magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class

from ice_widgets._ids import check_id, split_ids
from ice_widgets._models import KINDS, model_for

if TYPE_CHECKING:
    from ice_widgets._client import AsyncClient, Client

__all__ = ["IceMagics", "load_ipython_extension", "unload_ipython_extension"]

MAGIC_NAMES = ("ice_job", "ice_jobs", "ice_watch")
# Leading options (``--endpoint X``, ``--profile=Y``); the rest of the line is the expression.
_OPTIONS = re.compile(r"^\s*((?:--(?:endpoint|profile|region|kind)(?:=|\s+)\S+\s*)*)(.*)$", re.S)
# IDs written inline: word characters, dashes, dots and the docs' masking stars.
_INLINE_IDS = re.compile(r"^[\w.*\-]+(?:[\s,]+[\w.*\-]+)*[\s,]*$")
# What an ICE ID looks like (32 hex digits; the docs mask the end with stars): a word that
# is a valid Python name but not this is taken for a variable, never sent as an ID.
_ID_LIKE = re.compile(r"[0-9a-fA-F*]{16,}")

# (id(shell), model class) -> the mimebundle formatter that was registered for it before us.
_SAVED: dict[tuple[int, type], Any] = {}
_MISSING = object()
#: The model class of every kind: a bare one renders as its card.
MODEL_TYPES: tuple[type, ...] = tuple(model_for(kind) for kind in KINDS)
_KIND_HELP = f"job kind: {', '.join(KINDS)} (default package)"

_F = TypeVar("_F", bound=Callable[..., Any])


class _SameFunction(Protocol):
    """A decorator that returns the function it was given, as IPython's argument ones do."""

    def __call__(self, func: _F, /) -> _F: ...


# IPython's magic_arguments module is untyped (its decorators would make the magics untyped
# under mypy --strict), and line_magic is typed as returning a function or a decorator: the
# names used here, typed once with what they do at run time (each decorator returns the
# function it was given, marked).
line_magic = cast("_SameFunction", _ipython_magic.line_magic)
magic_arguments = cast("Callable[[], _SameFunction]", _ipython_magic_arguments.magic_arguments)
argument = cast("Callable[..., _SameFunction]", _ipython_magic_arguments.argument)
parse_argstring = cast(
    "Callable[[Callable[..., Any], str], argparse.Namespace]", _ipython_magic_arguments.parse_argstring
)


def _display(obj: object) -> None:
    """IPython's ``display`` (untyped), typed."""
    from IPython.display import display

    cast("Callable[[object], None]", display)(obj)


def _kind(args: argparse.Namespace) -> str | None:
    """The ``--kind`` given (checked), or None."""
    kind = getattr(args, "kind", None)
    if kind is None:
        return None
    if kind not in KINDS:
        raise UsageError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return str(kind)


def _options(magic: Callable[..., Any], line: str) -> tuple[argparse.Namespace, str]:
    """Parse the leading options with magic_arguments; return them and the raw rest."""
    match = _OPTIONS.match(line)
    assert match is not None  # the pattern matches any string
    prefix, rest = match.group(1), match.group(2).strip()
    args = parse_argstring(magic, prefix)
    return args, rest


@overload
def _client(args: argparse.Namespace, *, asynchronous: Literal[False] = False) -> Client | None: ...
@overload
def _client(args: argparse.Namespace, *, asynchronous: Literal[True]) -> AsyncClient | None: ...
def _client(args: argparse.Namespace, *, asynchronous: bool = False) -> Client | AsyncClient | None:
    """A client for the magic's options, or None (the widgets then use the environment)."""
    options = {k: getattr(args, k) for k in ("endpoint", "profile", "region") if getattr(args, k, None)}
    if not options:
        return None
    from ice_widgets._client import AsyncClient, Client

    return (AsyncClient if asynchronous else Client)(**options)


def _check_names(text: str, user_ns: Any) -> None:
    """Refuse words that look like Python names but are undefined (a typo), before any request."""
    for word in split_ids(text):
        if word.isidentifier() and not _ID_LIKE.fullmatch(word) and word not in user_ns:
            raise UsageError(
                f"name {word!r} is not defined: no request was sent. Give a job ID or a variable "
                "that holds one (check the spelling, or run the cell that defines it)."
            )


def ids_from_value(value: Any) -> list[str]:
    """Job IDs from what an expression gave: a string, IDs, jobs, a Series or a frame."""
    return list(dict.fromkeys(_ids_in(value)))  # repeated IDs count once, first-seen order


def _ids_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return split_ids(value)  # the one rule for a string of several IDs (ice_widgets._ids)
    if isinstance(value, MODEL_TYPES):
        job_id = getattr(value, "job_id", None)
        return [job_id] if job_id else []
    columns = getattr(value, "columns", None)
    if columns is not None:
        if "job_id" not in columns:
            raise UsageError("the DataFrame has no job_id column")
        value = value["job_id"]
    if isinstance(value, Iterable):
        ids: list[str] = []
        for item in value:
            if isinstance(item, MODEL_TYPES):
                item = getattr(item, "job_id", None)
            entry = check_id(item)  # each item is one ID (ice_widgets._ids)
            if isinstance(entry, str):
                ids.append(entry)
            elif entry.code == "InvalidJobId":
                raise UsageError(f"not a job ID: {item!r} ({entry.message}); no request was sent")
        return ids
    raise UsageError(f"expected job IDs, got {type(value).__name__}")


@magics_class
class IceMagics(Magics):
    """Line magics that show ICE jobs of every kind."""

    @property
    def _shell(self) -> Any:
        if self.shell is None:  # pragma: no cover - magics are always bound to a shell
            raise UsageError("no IPython shell")
        return self.shell

    def _resolve(self, text: str) -> list[str]:
        """EXPR -> job IDs: evaluate in the user namespace, or read IDs written inline."""
        return self._resolve_value(text)[0]

    def _resolve_value(self, text: str) -> tuple[list[str], Any]:
        """EXPR -> (job IDs, the value they came from)."""
        if not text:
            raise UsageError("give job IDs or an expression that yields them")
        try:
            value = self._shell.ev(text)
        except (NameError, SyntaxError):
            if not _INLINE_IDS.match(text):
                raise
            _check_names(text, self._shell.user_ns)
            value = text
        ids = ids_from_value(value)
        if not ids:
            raise UsageError("no job IDs")
        return ids, value

    def _jobs_of(self, text: str, kind: str | None) -> Any:
        """What fetch_jobs / watch get: the IDs, or (no ``--kind``, several kinds) the jobs
        or the frame's ``job_id``/``kind`` columns, so each ID keeps its own kind."""
        ids, value = self._resolve_value(text)
        if kind is not None:
            return ids
        columns = getattr(value, "columns", None)
        if columns is not None and "kind" in columns:
            return value[["job_id", "kind"]]
        if isinstance(value, MODEL_TYPES):
            return [value]
        if isinstance(value, (list, tuple)) and any(isinstance(x, MODEL_TYPES) for x in value):
            return list(value)
        return ids

    @magic_arguments()
    @argument("--kind", help=_KIND_HELP)
    @argument("--endpoint", help="ICE endpoint (host or URL), e.g. http://127.0.0.1:8765")
    @argument("--profile", help="aliyun CLI / credentials.ini profile")
    @argument("--region", help="region ID, e.g. cn-shanghai")
    @argument("job_id", nargs="*", help="the job ID (or a variable holding it)")
    @line_magic
    def ice_job(self, line: str) -> None:
        """Show one job as a card: ``%ice_job [--kind K] [--endpoint E] JOB_ID``."""
        from ice_widgets.widgets import JobCard

        args, rest = _options(self.ice_job, line)
        if not rest:
            raise UsageError("usage: %ice_job [--kind K] [--endpoint E] [--profile P] [--region R] JOB_ID")
        kind = _kind(args)
        user_ns = self._shell.user_ns
        value: Any
        if rest.isidentifier() and rest in user_ns:
            value = user_ns[rest]  # a variable holding the ID (or the PackageJob)
        elif _INLINE_IDS.match(rest):
            _check_names(rest, user_ns)
            value = rest  # the ID itself
        else:
            value = self._shell.ev(rest)  # an expression: jobs[0], df.job_id.iloc[3]
        if isinstance(value, MODEL_TYPES):
            _display(JobCard(value, client=_client(args)))
            return
        ids = ids_from_value(value)
        if len(ids) != 1:
            raise UsageError("%ice_job takes one job ID; use %ice_jobs for several")
        _display(JobCard(ids[0], kind=kind or "package", client=_client(args)))

    @magic_arguments()
    @argument("--kind", help=_KIND_HELP)
    @argument("--endpoint", help="ICE endpoint (host or URL)")
    @argument("--profile", help="aliyun CLI / credentials.ini profile")
    @argument("--region", help="region ID")
    @argument("expr", nargs="*", help="a Python expression giving job IDs, or IDs separated by spaces/commas")
    @line_magic
    def ice_jobs(self, line: str) -> None:
        """Fetch jobs and show a dashboard; the frame is stored in ``_ice_jobs``."""
        from ice_widgets.widgets import JobsView
        from ice_widgets.widgets._view import records_to_frame

        args, rest = _options(self.ice_jobs, line)
        kind = _kind(args)
        jobs = self._jobs_of(rest, kind)
        client = _client(args)
        if isinstance(jobs, list):
            frame = records_to_frame(jobs, client=client, kind=kind or "package")
        else:  # a frame with job_id and kind columns: one fetch for the mixed batch
            from ice_widgets._fetch import fetch_jobs

            frame = fetch_jobs(jobs, client=client)
        self._shell.user_ns["_ice_jobs"] = frame
        _display(JobsView(frame, client=client))

    @magic_arguments()
    @argument("--kind", help=_KIND_HELP)
    @argument("--endpoint", help="ICE endpoint (host or URL)")
    @argument("--profile", help="aliyun CLI / credentials.ini profile")
    @argument("--region", help="region ID")
    @argument("--interval", help="seconds between refreshes (default 5)")
    @argument("expr", nargs="*", help="a Python expression giving job IDs, or IDs separated by spaces/commas")
    @line_magic
    def ice_watch(self, line: str) -> None:
        """Watch jobs until they finish; the view is stored in ``_ice_watch``."""
        from ice_widgets.widgets import watch

        interval = 5.0
        match = re.search(r"--interval(?:=|\s+)(\S+)", line)
        if match:
            try:
                interval = float(match.group(1))
            except ValueError:
                raise UsageError(f"--interval must be a number, not {match.group(1)!r}") from None
            line = line[: match.start()] + line[match.end() :]
        args, rest = _options(self.ice_watch, line)
        kind = _kind(args)
        jobs = self._jobs_of(rest, kind)
        view = watch(jobs, kind=kind or "package", client=_client(args, asynchronous=True), interval=interval)
        self._shell.user_ns["_ice_watch"] = view
        _display(view)


def _job_bundle(job: Any) -> dict[str, Any]:
    """The mime bundle of a bare job of any kind: a live JobCard plus its static HTML and text."""
    from ice_widgets.widgets import JobCard

    return JobCard(job)._repr_mimebundle_() or {}


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the display formatter of every kind's model (idempotent)."""
    ipython.register_magics(IceMagics)
    formatter = ipython.display_formatter.mimebundle_formatter
    for model in MODEL_TYPES:
        key = (id(ipython), model)
        previous = formatter.for_type(model, _job_bundle)
        if key not in _SAVED:
            _SAVED[key] = _MISSING if previous is None else previous


def unload_ipython_extension(ipython: Any) -> None:
    """Undo :func:`load_ipython_extension`: magics, formatter, and every live poller."""
    manager = ipython.magics_manager
    for name in MAGIC_NAMES:
        line_magics = manager.magics["line"]
        if getattr(line_magics.get(name), "__self__", None).__class__ is IceMagics:
            del line_magics[name]
    if isinstance(manager.registry.get("IceMagics"), IceMagics):
        del manager.registry["IceMagics"]
    formatter = ipython.display_formatter.mimebundle_formatter
    for model in MODEL_TYPES:
        previous = _SAVED.pop((id(ipython), model), _MISSING)
        if previous is _MISSING:
            formatter.pop(model, None)
        else:
            formatter.for_type(model, previous)
    watch_module = sys.modules.get("ice_widgets.widgets._watch")
    if watch_module is not None:
        watch_module.stop_all()
