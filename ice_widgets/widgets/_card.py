"""JobCard: one ICE job of any kind at a glance, built from ipywidgets' core widgets only."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ice_widgets._errors import IceError
from ice_widgets._models import KINDS, model_for
from ice_widgets.widgets import _render
from ice_widgets.widgets._kind_render import JobRow

if TYPE_CHECKING:  # pragma: no cover
    from ice_widgets._client import Client

__all__ = [
    "MODEL_TYPES",
    "JobCard",
    "afetch_one",
    "check_kind",
    "default_client",
    "fetch_one",
    "is_job",
    "placeholder",
    "twin_client",
]

#: The model classes of every kind (a bare one of these renders as its card).
MODEL_TYPES: tuple[type, ...] = tuple(model_for(kind) for kind in KINDS)


def is_job(value: Any) -> bool:
    """True for a model of any kind (PackageJob, TranscodeJob...) or a :class:`JobRow`."""
    return isinstance(value, (*MODEL_TYPES, JobRow))


def check_kind(kind: Any) -> str:
    """``kind`` if it is one of :data:`ice_widgets.KINDS`, else a ValueError that lists them."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}: use one of {', '.join(KINDS)}")
    return kind


def placeholder(job_id: str, kind: str) -> Any:
    """The job of ``kind`` known only by its ID (before it is fetched)."""
    return model_for(check_kind(kind))(job_id=job_id)


def fetch_one(client: Any, job_id: str, kind: str) -> Any:
    """Get one job of ``kind`` with a sync client (``get_package_job`` for packaging)."""
    if kind == "package":
        return client.get_package_job(job_id)
    return client.get_job(job_id, kind=kind)


async def afetch_one(client: Any, job_id: str, kind: str) -> Any:
    """Get one job of ``kind`` with an AsyncClient (GetTranscodeJob returns the sub-jobs)."""
    if kind == "package":
        return await client.get_package_job(job_id)
    return await client.get_job(job_id, kind=kind)


def default_client(client: Any = None, **options: Any) -> Any:
    """``client`` if given, else a new :class:`~ice_widgets._client.Client` from the environment."""
    if client is not None:
        return client
    from ice_widgets._client import Client

    return Client(**{k: v for k, v in options.items() if v is not None})


def twin_client(client: Any, *, asynchronous: bool) -> Any:
    """A Client (or AsyncClient) for the same account as ``client``: its :meth:`copy`.

    The twin signs with the same credentials provider (nothing is copied or shown), has
    the same retry policy and timeout, and shares ``stats`` and the adaptive ``rate``.
    """
    return client.copy(asynchronous=asynchronous)


def _error_of(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, IceError):
        return exc.code or type(exc).__name__, str(exc.message)
    return type(exc).__name__, str(exc)


class JobCard(widgets.VBox):  # type: ignore[misc]  # ipywidgets has no type information: VBox is Any
    """One ICE job: status badge, fields, failure details and a Refresh button.

    Every kind has its card: a transcode job lists its sub-jobs with their own status
    badges and output links; media producing and media convert jobs show their progress
    (and a convert job its outputs); the badge's colour follows the job's ``state``.

    Parameters
    ----------
    job_or_id : PackageJob, TranscodeJob, MediaProducingJob, SnapshotJob, MediaConvertJob or str
        A job already fetched, or a job ID to fetch now with ``client``.
    kind : str
        The kind of the job ID (one of :data:`ice_widgets.KINDS`, default ``"package"``);
        ignored when a job is given (it has its kind).
    client : Client, optional
        Used to fetch and refresh; by default one is made from the environment when needed.
    error : (code, message), optional
        The job could not be fetched (used by :class:`JobsView` for rows that failed).
    stale : str, optional
        Why the last refresh failed; the card is marked stale.

    Notes
    -----
    Displayed in a notebook it is a live widget; saved notebooks, nbviewer and consoles get
    the same card as static HTML and as text (see :meth:`_repr_mimebundle_`).
    """

    def __init__(
        self,
        job_or_id: Any,
        *,
        kind: str = "package",
        client: Client | None = None,
        error: tuple[str, str] | None = None,
        stale: str | None = None,
    ) -> None:
        self._client = client
        self._owns_client = False
        self._error = error
        self._stale = stale
        self._fetched_at: datetime | None = None
        self._pending: asyncio.Task[Any] | None = None
        self._job: Any
        if is_job(job_or_id):
            self._job = job_or_id
        elif isinstance(job_or_id, str):
            self._job = placeholder(job_or_id.strip(), kind)
        else:
            raise TypeError(
                "JobCard needs a job (PackageJob, TranscodeJob...) or a job ID, "
                f"not {type(job_or_id).__name__}"
            )
        self._kind: str = str(getattr(self._job, "kind", kind))

        self._html = widgets.HTML(layout=widgets.Layout(width="100%"))
        self._id_text = widgets.Text(
            value=self._job.job_id or "",
            description="Job ID",
            tooltip="Select and copy the job ID",
            layout=widgets.Layout(width="28em"),
        )
        self._id_text.observe(self._keep_id, names="value")  # read-only: edits are undone
        self._refresh_button = widgets.Button(
            description="Refresh",
            icon="refresh",
            tooltip="Fetch this job again",
            layout=widgets.Layout(width="auto"),
        )
        self._refresh_button.on_click(lambda _button: self._refresh_clicked())
        self._note = widgets.HTML()
        controls = widgets.HBox([self._id_text, self._refresh_button, self._note])
        super().__init__([self._html, controls])
        self.add_class("ice-jobcard")
        if isinstance(job_or_id, str) and error is None:
            self.refresh()
        else:
            self._render()

    # ------------------------------------------------------------------ state

    @property
    def job(self) -> Any:
        """The job as last fetched (the model of its kind)."""
        return self._job

    @property
    def kind(self) -> str:
        """The job's kind: ``"package"``, ``"transcode"``..."""
        return self._kind

    @property
    def error(self) -> tuple[str, str] | None:
        """``(code, message)`` when the job could not be fetched at all, else None."""
        return self._error

    @property
    def stale(self) -> str | None:
        """Why the last refresh failed while an earlier fetch succeeded, else None."""
        return self._stale

    def update(self, job: Any, *, error: tuple[str, str] | None = None, stale: str | None = None) -> None:
        """Show a newer state of the same job (used by live views); redraws only if it changed."""
        if (job, error, stale) == (self._job, self._error, self._stale):
            return
        self._job, self._error, self._stale = job, error, stale
        self._render()

    def _keep_id(self, change: dict[str, Any]) -> None:
        if change["new"] != (self._job.job_id or ""):
            self._id_text.value = self._job.job_id or ""

    def _render(self) -> None:
        self._html.value = _render.card_html(self._job, error=self._error, stale=self._stale)
        if self._fetched_at is not None:
            self._note.value = f'<span class="ice-muted">fetched {self._fetched_at:%H:%M:%S} UTC</span>'

    # ------------------------------------------------------------------ actions

    def _get_client(self) -> Any:
        if self._client is None:
            self._client = default_client()
            self._owns_client = True
        return self._client

    def refresh(self) -> Any:
        """Fetch the job again with the client and redraw; errors are shown, not raised.

        A transcode job is fetched with GetTranscodeJob, which returns its sub-jobs.

        Returns
        -------
        PackageJob, TranscodeJob, MediaProducingJob, SnapshotJob or MediaConvertJob
            The job now shown (the previous one if the refresh failed).
        """
        if not self._job.job_id:
            self._error = ("InvalidJobId", "no job ID to fetch")
            self._render()
            return self._job
        self._refresh_button.disabled = True
        try:
            job = fetch_one(self._get_client(), self._job.job_id, self._kind)
        except Exception as exc:  # shown in the card; a widget callback must not raise
            self._failed(_error_of(exc))
        else:
            self._fetched(job)
        finally:
            self._refresh_button.disabled = False
        self._render()
        return self._job

    def _refresh_clicked(self) -> asyncio.Task[Any] | None:
        """In a kernel (a running loop) refresh without blocking it; elsewhere refresh now."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.refresh()
            return None
        if self._pending is not None and not self._pending.done():
            return self._pending
        self._pending = loop.create_task(self.arefresh())
        return self._pending

    async def arefresh(self) -> Any:
        """:meth:`refresh` as a coroutine, with an AsyncClient for the same endpoint and key."""
        if not self._job.job_id:
            return self.refresh()
        self._refresh_button.disabled = True
        self._note.value = '<span class="ice-muted">refreshing…</span>'
        client: Any = None
        owned = False
        try:
            if self._client is not None and hasattr(self._client, "aclose"):
                client = self._client
            else:
                from ice_widgets._client import AsyncClient

                client = twin_client(self._client, asynchronous=True) if self._client else AsyncClient()
                owned = True
            job = await afetch_one(client, self._job.job_id, self._kind)
        except Exception as exc:  # shown in the card
            self._note.value = ""
            self._failed(_error_of(exc))
        else:
            self._fetched(job)
        finally:
            self._refresh_button.disabled = False
            if owned and client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()
        self._render()
        return self._job

    def _fetched(self, job: Any) -> None:
        self._job, self._error, self._stale = job, None, None
        self._fetched_at = datetime.now(UTC)

    def _failed(self, error: tuple[str, str]) -> None:
        if self._job.status is None:  # never fetched: nothing to show but the error
            self._error = error
        else:  # keep the last good job, visibly stale
            self._stale = f"{error[0]}: {error[1]}"

    def close(self) -> None:
        """Close the widget (and the client it made itself)."""
        pending = getattr(self, "_pending", None)
        if pending is not None and not pending.done():
            with contextlib.suppress(RuntimeError):
                pending.cancel()
        if self._owns_client and self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass
            self._client = None
        super().close()

    # ------------------------------------------------------------------ display

    def to_html(self) -> str:
        """The card as static HTML (what saved notebooks show)."""
        return _render.card_html(self._job, error=self._error, stale=self._stale)

    def to_text(self) -> str:
        """The card as plain text."""
        return _render.card_text(self._job, error=self._error, stale=self._stale)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = self.to_text()
        data["text/html"] = self.to_html()
        return data

    def __repr__(self) -> str:
        job = self._job
        state = (
            "stale"
            if self._stale
            else (f"error={self._error[0]!r}" if self._error else f"status={job.status!r}")
        )
        kind = "" if self._kind == "package" else f"kind={self._kind!r}, "
        return f"JobCard({kind}job_id={job.job_id!r}, {state}, name={_render.clip(job.name, 60)!r})"
