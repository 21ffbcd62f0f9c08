"""``Client`` and ``AsyncClient``: thin httpx front ends over :mod:`ice_widgets._core`.

They only send requests and sleep; signing, parsing, error classification, retries and
the shared adaptive rate are decided by the core. Every httpx exception becomes an
:class:`~ice_widgets.TransportError`; redirects are never followed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, cast, overload

import httpx

from ice_widgets._core import (
    DEFAULT_MAX_RETRIES,
    MAX_BODY_BYTES,
    Call,
    ClientStats,
    MediaSpec,
    PreparedRequest,
    RequestBuilder,
    account_rate,
    format_time,
    get_params,
    is_idempotent,
    kind_api,
    list_requests,
    media_convert_submit_params,
    media_object,
    media_producing_submit_params,
    next_page_params,
    parse_job_id,
    parse_kind_job,
    parse_kind_page,
    parse_package_job,
    parse_page,
    parse_submitted_id,
    resolve_endpoint,
    snapshot_submit_params,
    transcode_submit_params,
)
from ice_widgets._credentials import resolve_credentials
from ice_widgets._errors import (
    CLIENT_CLOSED,
    RESPONSE_TOO_LARGE,
    TIMEOUT,
    IceError,
    InvalidParameterError,
    InvalidResponseError,
    RequestTimeoutError,
    TransportError,
    public_call,
)
from ice_widgets._models import (
    Job,
    MediaConvertJob,
    MediaProducingJob,
    PackageJob,
    SnapshotJob,
    TranscodeJob,
)
from ice_widgets._wire import shared_ssl_context, transport_error

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")
J = TypeVar("J", bound=Job)


def _transport_error(exc: Exception, action: str) -> TransportError:
    """Map an httpx exception to ours through the one table (the httpx one, which holds the
    request, is dropped)."""
    return transport_error(exc, action)


def _too_large(action: str, size: int | str) -> InvalidResponseError:
    return InvalidResponseError(
        f"the answer is larger than {MAX_BODY_BYTES} bytes ({size}); refused",
        code=RESPONSE_TOO_LARGE,
        action=action,
    )


def _too_slow(action: str, timeout: float) -> RequestTimeoutError:
    return RequestTimeoutError(
        f"the answer took longer than {timeout:g} s to arrive in full", code=TIMEOUT, action=action
    )


def _declared_size(response: httpx.Response, action: str) -> None:
    length = response.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _too_large(action, int(length))


_media = media_object


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _submit_params(
    inputs: MediaSpec | Iterable[MediaSpec],
    output: MediaSpec,
    name: str | None,
    user_data: str | Mapping[str, Any] | None,
    pipeline_id: str | None,
    priority: int | None,
) -> dict[str, str]:
    if isinstance(inputs, (str, Mapping)) or (
        isinstance(inputs, tuple) and len(inputs) == 2 and all(isinstance(x, str) for x in inputs)
    ):
        inputs = [inputs]  # type: ignore[list-item]
    items = [{"Input": _media(spec)} for spec in inputs]
    if not items:
        raise InvalidParameterError("at least one input is needed", code="MissingInputs")
    params = {"Inputs": _json(items), "Output": _json(_media(output))}
    if name is not None:
        params["Name"] = name
    if user_data is not None:
        params["UserData"] = user_data if isinstance(user_data, str) else _json(dict(user_data))
    schedule: dict[str, Any] = {}
    if pipeline_id is not None:
        schedule["PipelineId"] = pipeline_id
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 10:
            raise InvalidParameterError(
                f"priority must be an integer from 1 to 10, not {priority!r}", code="InvalidParameter"
            )
        schedule["Priority"] = priority
    if schedule:
        params["ScheduleConfig"] = _json(schedule)
    return params


def _list_params(
    status: str | None,
    start: datetime | str | None,
    end: datetime | str | None,
    order_by: str,
    page_size: int,
) -> dict[str, str]:
    if order_by not in ("CreateTimeDesc", "CreateTimeAsc"):
        raise InvalidParameterError(
            f"order_by must be 'CreateTimeDesc' or 'CreateTimeAsc', not {order_by!r}", code="InvalidParameter"
        )
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise InvalidParameterError(
            f"page_size must be an integer, not {page_size!r}", code="InvalidParameter"
        )
    params = {"OrderBy": order_by, "PageSize": str(max(1, min(100, page_size)))}
    if status:
        params["Status"] = status
    if start is not None:
        params["StartOfCreateTime"] = format_time(start)
    if end is not None:
        params["EndOfCreateTime"] = format_time(end)
    return params


def _check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not job_id.strip():
        raise InvalidParameterError(f"job_id must be a non-empty string, not {job_id!r}", code="MissingJobId")
    return job_id.strip()


class _PageTokens:
    """Remembers the next-page tokens of one listing; a repeated token would loop forever."""

    __slots__ = ("_action", "_seen")

    def __init__(self, action: str = "ListPackageJobs") -> None:
        self._action = action
        self._seen: set[str] = set()

    def next(self, token: str | None) -> str | None:
        if token is None:
            return None
        if token in self._seen:
            raise InvalidResponseError(
                f"{self._action} returned the next-page token {token!r} twice; stopping instead of looping",
                code="RepeatedPageToken",
                action=self._action,
            )
        self._seen.add(token)
        return token


class _BaseClient:
    """Everything the two clients share that is not I/O."""

    #: Sleeps that long (time.sleep; AsyncClient: asyncio.sleep); a copy of the same class shares it.
    _sleep: Callable[[float], object]

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        security_token: str | None = None,
        profile: str | None = None,
        credentials: Any = None,
        timeout: float = 10.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_rate: float | None = None,
    ) -> None:
        try:
            self._endpoint = resolve_endpoint(endpoint, region, profile=profile)
        except ValueError as exc:
            raise InvalidParameterError(str(exc), code="InvalidEndpoint") from None
        self._credentials = resolve_credentials(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=security_token,
            profile=profile,
            credentials=credentials,
        )
        self._builder = RequestBuilder(self._endpoint)
        self.max_retries = max(0, int(max_retries))
        self.timeout = float(timeout)
        self.stats = ClientStats()
        if max_rate is not None and (
            isinstance(max_rate, bool) or not isinstance(max_rate, (int, float)) or not max_rate > 0
        ):
            raise InvalidParameterError(
                f"max_rate must be a positive number of requests per second, not {max_rate!r}",
                code="InvalidParameter",
            )
        # One controller per account for the process's life: what an earlier batch learned
        # about the account's limit paces this client from its first request.
        self.rate = account_rate(self._endpoint, self._credentials.account)
        if max_rate is not None:
            # The account's quota, known: never sent faster, and paced from the first request
            self.rate.max_rate = float(max_rate)
            learned = self.rate.rate
            if learned is None or self.rate.decreases == 0 or learned > max_rate:
                self.rate.rate = float(max_rate)  # else keep the lower rate throttling taught

    @property
    def endpoint(self) -> str:
        """The base URL requests go to, e.g. ``https://ice.cn-shanghai.aliyuncs.com``."""
        return self._endpoint

    @property
    def credentials_source(self) -> str:
        """Where the access key came from, e.g. ``environment (ALIBABA_CLOUD_ACCESS_KEY_ID)``."""
        return self._credentials.source

    @property
    def credentials_renewals(self) -> int:
        """How many times temporary credentials were renewed (0 for a fixed key)."""
        return self._credentials.renewals

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self._endpoint!r}, "
            f"credentials_source={self._credentials.source!r})"
        )

    def _call(self, action: str, params: Mapping[str, str], parse: Callable[[dict[str, Any]], T]) -> Call[T]:
        return Call(
            action,
            params,
            parse,
            builder=self._builder,
            rate=self.rate,
            stats=self.stats,
            max_retries=self.max_retries,
            idempotent=is_idempotent(action, params),
            credentials_source=self._credentials.source,
            renew=self._credentials.invalidate,
        )

    @staticmethod
    def _get_plan(kind: str, job_id: str) -> tuple[str, dict[str, str], Callable[[dict[str, Any]], Job]]:
        """``(action, params, parse)`` of a Get of any kind (the ID checked, the kind known)."""
        job_id = _check_job_id(job_id)
        action, params = get_params(kind, job_id)
        return action, params, lambda data: parse_kind_job(kind, data, job_id)

    @staticmethod
    def _model_plan(
        kind: str, job_id: str, model: type[J]
    ) -> tuple[str, dict[str, str], Callable[[dict[str, Any]], J]]:
        """:meth:`_get_plan` of one kind, its parse typed as the kind's model (``model_for(kind)``)."""
        action, params, parse = _BaseClient._get_plan(kind, job_id)
        return action, params, cast("Callable[[dict[str, Any]], J]", parse)

    @staticmethod
    def _submit_plan(
        kind: str, params: dict[str, str]
    ) -> tuple[str, dict[str, str], Callable[[dict[str, Any]], str]]:
        return kind_api(kind).submit_action, params, lambda data: parse_submitted_id(kind, data)

    # The copy's class: the client's own, unless asynchronous= says which.
    @overload
    def copy(self, *, asynchronous: None = None, sender: Any = None, transport: Any = None) -> Self: ...
    @overload
    def copy(
        self, *, asynchronous: Literal[True], sender: Any = None, transport: Any = None
    ) -> AsyncClient: ...
    @overload
    def copy(self, *, asynchronous: Literal[False], sender: Any = None, transport: Any = None) -> Client: ...
    @overload
    def copy(
        self, *, asynchronous: bool | None = None, sender: Any = None, transport: Any = None
    ) -> Client | AsyncClient: ...
    def copy(
        self, *, asynchronous: bool | None = None, sender: Any = None, transport: Any = None
    ) -> Self | Client | AsyncClient:
        """A client for the same account: the one way to make a twin (fetch_jobs, watch, cards).

        The copy has the same endpoint, credentials provider (renewals are shared), timeout
        and retry policy, and **shares** ``stats`` and the adaptive ``rate`` (one account's
        limit is shared), with connections of its own.

        Parameters
        ----------
        asynchronous : bool, optional
            An :class:`AsyncClient` (True) or a :class:`Client` (False); default: the same class.
        sender : object, optional
            What sends the signed requests (see the ``sender`` parameter of the clients).
        transport : httpx transport, optional
            For the httpx path (tests: ``httpx.MockTransport``).
        """
        cls: type[Client] | type[AsyncClient]
        if asynchronous is None:
            cls = AsyncClient if isinstance(self, AsyncClient) else Client
        else:
            cls = AsyncClient if asynchronous else Client
        twin = cls(
            endpoint=self._endpoint,
            credentials=self._credentials,
            timeout=self.timeout,
            max_retries=self.max_retries,
            transport=transport,
            sender=sender,
        )
        twin.stats = self.stats
        twin.rate = self.rate
        twin._builder = self._builder  # the same endpoint: the same signer (and its clock)
        if type(twin) is type(self):
            twin._sleep = self._sleep
        return twin

    def _httpx_options(self) -> dict[str, Any]:
        return {
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)),
            "limits": httpx.Limits(max_connections=64, max_keepalive_connections=64),
            "follow_redirects": False,
            "verify": shared_ssl_context(),  # httpx's default, made once per process
        }


class Client(_BaseClient):
    """A synchronous ICE client.

    Parameters
    ----------
    endpoint : str, optional
        A host or base URL; else ``ALIBABA_CLOUD_ICE_ENDPOINT``; else the regional host.
    region : str, optional
        Else ``ALIBABA_CLOUD_REGION_ID``, the aliyun CLI profile, or cn-shanghai.
    access_key_id, access_key_secret, security_token : str, optional
        Else the environment, the aliyun CLI config, or ``~/.alibabacloud/credentials.ini``.
    profile : str, optional
        The aliyun CLI profile / credentials.ini section.
    credentials : object, optional
        An official ``alibabacloud_credentials`` client (RAM roles and the rest).
    timeout : float
        Seconds per attempt (connecting is capped at 5 s).
    max_retries : int
        Retries after the first attempt for throttling, server and transport errors.
    max_rate : float, optional
        The account's quota in requests per second, when known: requests are paced at it
        from the first one (no burst) and never sent faster; below it the adaptive rate
        still backs off on throttling. Like the learned rate, it is the account's: it holds
        for every client of the same endpoint and key in this process (until
        :func:`ice_widgets.forget_learned_rates`). Default: unlimited until throttling is
        seen (or the rate an earlier client of the account learned).
    transport : httpx.BaseTransport, optional
        For tests (``httpx.MockTransport``).
    sender : object, optional
        What sends the signed requests instead of httpx, the way httpx takes ``transport=``:
        ``send(prepared) -> (status, headers, body)`` and ``close()`` (for an AsyncClient,
        coroutines ``send`` and ``aclose``). The batch engine passes its h11 sender
        (:class:`ice_widgets._batch.RawSender`) to a :meth:`copy` of the client this way.

    Examples
    --------
    >>> with Client(endpoint="http://127.0.0.1:8765") as client:  # doctest: +SKIP
    ...     job = client.get_package_job("ab4802364a2e49208c99efab82df****")
    """

    @public_call
    def __init__(
        self,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        security_token: str | None = None,
        profile: str | None = None,
        credentials: Any = None,
        timeout: float = 10.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_rate: float | None = None,
        transport: httpx.BaseTransport | None = None,
        sender: Any = None,
    ) -> None:
        super().__init__(
            endpoint=endpoint,
            region=region,
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=security_token,
            profile=profile,
            credentials=credentials,
            timeout=timeout,
            max_retries=max_retries,
            max_rate=max_rate,
        )
        self._transport = transport  # None: httpx's own (the batch engine reads it, not httpx's)
        self._sender = sender
        self._http = httpx.Client(transport=transport, **self._httpx_options())
        self._sleep: Callable[[float], object] = time.sleep  # replaced in tests to record delays

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (and the sender, when one was given)."""
        if self._sender is not None:
            self._sender.close()
        self._http.close()

    def _send(self, prepared: PreparedRequest) -> tuple[int, Any, bytes]:
        if self._sender is not None:
            result: tuple[int, Any, bytes] = self._sender.send(prepared)
            return result
        request = httpx.Request("POST", prepared.url, headers=prepared.headers, content=prepared.body or None)
        deadline = time.monotonic() + self.timeout
        try:
            response = self._http.send(request, stream=True, follow_redirects=False)
            try:
                _declared_size(response, prepared.action)
                chunks = []
                total = 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > MAX_BODY_BYTES:
                        raise _too_large(prepared.action, f"over {total}")
                    if time.monotonic() > deadline:
                        raise _too_slow(prepared.action, self.timeout)
                    chunks.append(chunk)
            finally:
                response.close()
        except IceError:
            raise
        except httpx.HTTPError as exc:
            raise _transport_error(exc, prepared.action) from None
        except RuntimeError as exc:  # httpx: "Cannot send a request, as the client has been closed."
            if "closed" not in str(exc):
                raise
            raise TransportError(str(exc), code=CLIENT_CLOSED, action=prepared.action) from None
        return response.status_code, response.headers, b"".join(chunks)

    def _request(self, action: str, params: Mapping[str, str], parse: Callable[[dict[str, Any]], T]) -> T:
        call = self._call(action, params, parse)
        clock = time.monotonic
        credentials = self._credentials
        while True:
            wait = call.wait(clock())
            if wait > 0:
                self._sleep(wait)
            prepared = call.request(credentials.get(), clock())
            try:
                status, headers, body = self._send(prepared)
            except IceError as error:
                delay = call.failed(clock(), error)
            else:
                answer = call.answered(clock(), status, headers, body)
                if answer[0]:
                    return answer[1]
                delay = answer[2]
            if delay > 0:
                self._sleep(delay)

    @public_call
    def get_package_job(self, job_id: str) -> PackageJob:
        """Fetch one packaging job (GetPackageJob).

        Raises
        ------
        NotFoundError, PermissionDeniedError, AuthenticationError, ThrottlingError, TransportError, ...
            See :mod:`ice_widgets._errors`.
        """
        job_id = _check_job_id(job_id)
        return self._request("GetPackageJob", {"JobId": job_id}, lambda data: parse_package_job(data, job_id))

    @public_call
    def list_package_jobs(
        self,
        *,
        status: str | None = None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        order_by: str = "CreateTimeDesc",
        page_size: int = 100,
    ) -> Iterator[PackageJob]:
        """Iterate over every job matching the filters, page after page (ListPackageJobs).

        Parameters
        ----------
        status : str, optional
            ``Init``, ``Success`` or ``Fail``.
        start, end : datetime or str, optional
            Bounds of the creation time (naive datetimes are taken as UTC).
        order_by : str
            ``CreateTimeDesc`` (newest first) or ``CreateTimeAsc``.
        page_size : int
            Jobs per request, 1 to 100.
        """
        params = _list_params(status, start, end, order_by, page_size)
        return self._pages(params)

    @public_call
    def _pages(self, params: dict[str, str]) -> Iterator[PackageJob]:
        tokens = _PageTokens()
        while True:
            jobs, token = self._request("ListPackageJobs", params, parse_page)
            yield from jobs
            token = tokens.next(token)
            if token is None:
                return
            params = {**params, "NextPageToken": token}

    @public_call
    def submit_package_job(
        self,
        inputs: MediaSpec | Iterable[MediaSpec],
        output: MediaSpec,
        *,
        name: str | None = None,
        user_data: str | Mapping[str, Any] | None = None,
        pipeline_id: str | None = None,
        priority: int | None = None,
    ) -> str:
        """Submit a packaging job (SubmitPackageJob) and return its JobId.

        Parameters
        ----------
        inputs : str, (type, media) pair, dict, or a list of them
            A string is an OSS URL (``oss://``, ``http(s)://``; type OSS) or a media ID (type Media).
        output : str, (type, media) pair, or dict
        name, user_data, pipeline_id, priority : optional
            ``user_data`` may be a dict (sent as compact JSON); ``priority`` is 1 to 10.
        """
        params = _submit_params(inputs, output, name, user_data, pipeline_id, priority)
        return self._request("SubmitPackageJob", params, parse_job_id)

    # ------------------------------------------------------------------ every job kind

    # The kind's model when the kind is a literal; any model for a kind known at run time.
    @overload
    def get_job(self, job_id: str, *, kind: Literal["package"] = "package") -> PackageJob: ...
    @overload
    def get_job(self, job_id: str, *, kind: Literal["transcode"]) -> TranscodeJob: ...
    @overload
    def get_job(self, job_id: str, *, kind: Literal["media_producing"]) -> MediaProducingJob: ...
    @overload
    def get_job(self, job_id: str, *, kind: Literal["snapshot"]) -> SnapshotJob: ...
    @overload
    def get_job(self, job_id: str, *, kind: Literal["media_convert"]) -> MediaConvertJob: ...
    @overload
    def get_job(self, job_id: str, *, kind: str) -> Job: ...
    @public_call
    def get_job(self, job_id: str, *, kind: str = "package") -> Job:
        """Fetch one job of any kind (GetPackageJob, GetTranscodeJob, ...).

        Parameters
        ----------
        job_id : str
            The job's ID (for transcode, the parent job ID).
        kind : str
            One of ``ice_widgets.KINDS``.

        Returns
        -------
        PackageJob, TranscodeJob, MediaProducingJob, SnapshotJob or MediaConvertJob

        Raises
        ------
        InvalidParameterError
            An empty ID or an unknown kind (code ``InvalidKind``), before anything is sent.
        NotFoundError, PermissionDeniedError, AuthenticationError, ThrottlingError, TransportError, ...
            See :mod:`ice_widgets._errors`; ``error.action`` names the operation.
        """
        if kind == "package":
            return self.get_package_job(job_id)
        return self._request(*self._get_plan(kind, job_id))

    @public_call
    def list_jobs(
        self,
        *,
        kind: str = "package",
        status: str | None = None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        page_size: int | None = None,
        order_by: str = "CreateTimeDesc",
    ) -> Iterator[Job]:
        """Iterate over every job of a kind matching the filters, across pages.

        Each kind pages in its own way (``NextPageToken``/``PageSize``, or ``NextToken``/
        ``MaxResults`` for media producing) and names its filters its own way; this takes care
        of it. Arguments are checked before the first request.

        Parameters
        ----------
        kind : str
            One of ``ice_widgets.KINDS``.
        status : str, optional
            The kind's own status filter, sent as ``Status``: package, transcode and snapshot
            ``Init``/``Success``/``Fail``; media producing ``Init``/``Processing``/``Success``/
            ``Failed``; media convert ``Inited``/``Running``/``Complete``/``Error`` (its ``State``).
        start, end : datetime or str, optional
            Bounds of the creation time (naive datetimes are taken as UTC). ListMediaProducingJobs
            takes at most 30 days at once: a wider range is listed as consecutive 30-day windows.
        page_size : int, optional
            Jobs per request, 1 to 100 (default 100).
        order_by : str
            ``CreateTimeDesc`` (newest first) or ``CreateTimeAsc``.

        Yields
        ------
        The kind's model, one per job.
        """
        action, windows = list_requests(
            kind, status=status, start=start, end=end, order_by=order_by, page_size=page_size
        )
        return self._kind_pages(kind, action, windows)

    @public_call
    def _kind_pages(self, kind: str, action: str, windows: list[dict[str, str]]) -> Iterator[Job]:
        for params in windows:
            tokens = _PageTokens(action)
            while True:
                jobs, token = self._request(action, params, lambda data: parse_kind_page(kind, data))
                yield from jobs
                token = tokens.next(token)
                if token is None:
                    break
                params = next_page_params(kind, params, token)

    @public_call
    def get_transcode_job(self, parent_job_id: str) -> TranscodeJob:
        """Fetch one transcode job with its sub-jobs (GetTranscodeJob, by ``ParentJobId``)."""
        return self._request(*self._model_plan("transcode", parent_job_id, TranscodeJob))

    @public_call
    def get_media_producing_job(self, job_id: str) -> MediaProducingJob:
        """Fetch one media producing job (GetMediaProducingJob), with its ``Progress``."""
        return self._request(*self._model_plan("media_producing", job_id, MediaProducingJob))

    @public_call
    def get_snapshot_job(self, job_id: str) -> SnapshotJob:
        """Fetch one snapshot job (GetSnapshotJob), with its ``Code``/``Message``."""
        return self._request(*self._model_plan("snapshot", job_id, SnapshotJob))

    @public_call
    def get_media_convert_job(self, job_id: str) -> MediaConvertJob:
        """Fetch one media convert job (GetMediaConvertJob), with its output details."""
        return self._request(*self._model_plan("media_convert", job_id, MediaConvertJob))

    @public_call
    def list_transcode_jobs(self, **filters: Any) -> Iterator[TranscodeJob]:
        """Every transcode job matching the filters (ListTranscodeJobs; items carry no sub-jobs).

        Takes the keyword arguments of :meth:`list_jobs` except ``kind``.
        """
        return cast("Iterator[TranscodeJob]", self.list_jobs(kind="transcode", **filters))

    @public_call
    def list_media_producing_jobs(self, **filters: Any) -> Iterator[MediaProducingJob]:
        """Every media producing job matching the filters (ListMediaProducingJobs; no ``Progress``).

        Takes the keyword arguments of :meth:`list_jobs` except ``kind``.
        """
        return cast("Iterator[MediaProducingJob]", self.list_jobs(kind="media_producing", **filters))

    @public_call
    def list_snapshot_jobs(self, **filters: Any) -> Iterator[SnapshotJob]:
        """Every snapshot job matching the filters (ListSnapshotJobs; no ``Code``/``Message``).

        Takes the keyword arguments of :meth:`list_jobs` except ``kind``.
        """
        return cast("Iterator[SnapshotJob]", self.list_jobs(kind="snapshot", **filters))

    @public_call
    def list_media_convert_jobs(self, **filters: Any) -> Iterator[MediaConvertJob]:
        """Every media convert job matching the filters (ListMediaConvertJobs; no details).

        Takes the keyword arguments of :meth:`list_jobs` except ``kind``.
        """
        return cast("Iterator[MediaConvertJob]", self.list_jobs(kind="media_convert", **filters))

    @public_call
    def submit_transcode_job(
        self,
        inputs: MediaSpec | Iterable[MediaSpec],
        outputs: MediaSpec | Iterable[MediaSpec | Mapping[str, Any]],
        *,
        template_id: str | None = None,
        name: str | None = None,
        user_data: str | Mapping[str, Any] | None = None,
        pipeline_id: str | None = None,
        priority: int | None = None,
        client_token: str | None = None,
    ) -> str:
        """Submit a transcode job (SubmitTranscodeJob) and return its ``ParentJobId``.

        Parameters
        ----------
        inputs : str, (type, media) pair, dict, or a list of them
            One input transcodes it; several are merged. A string is an OSS URL
            (``oss://``, ``http(s)://``; type OSS) or a media ID (type Media).
        outputs : media spec, or a list of them
            One sub-job per output. Each is transcoded with ``template_id``, unless given as
            ``{"Output": spec, "TemplateId": ...}`` or a full ``OutputGroup`` item
            ``{"Output": {...}, "ProcessConfig": {...}}``.
        template_id : str, optional
            The transcode template (e.g. ``S00000001-200010``) of the outputs that name none.
        name, user_data, pipeline_id, priority : optional
            ``user_data`` may be a dict (sent as compact JSON); ``priority`` is 1 to 10.
        client_token : str, optional
            The idempotency key; one is generated when not given, so a retried submit creates
            one job only.

        Returns
        -------
        str
            The new job's ``ParentJobId``.
        """
        params = transcode_submit_params(
            inputs,
            outputs,
            template_id=template_id,
            name=name,
            user_data=user_data,
            pipeline_id=pipeline_id,
            priority=priority,
            client_token=client_token,
        )
        return self._request(*self._submit_plan("transcode", params))

    @public_call
    def submit_media_producing_job(
        self,
        output: str | Mapping[str, Any],
        *,
        timeline: str | Mapping[str, Any] | None = None,
        template_id: str | None = None,
        clips_param: str | Mapping[str, Any] | None = None,
        project_id: str | None = None,
        output_target: str | None = None,
        user_data: str | Mapping[str, Any] | None = None,
        client_token: str | None = None,
    ) -> str:
        """Submit a media producing (editing) job (SubmitMediaProducingJob); return its ``JobId``.

        Parameters
        ----------
        output : str or dict
            The ``OutputMediaConfig``: an output URL (``{"MediaURL": url}``) or the whole dict
            (e.g. ``{"StorageLocation": ..., "FileName": ...}`` for VOD, with ``output_target``).
        timeline, template_id, project_id : optional
            Exactly one: a timeline (dict or JSON), a template (with ``clips_param``), or an
            editing project.
        clips_param : str or dict, optional
            The template's materials.
        output_target : str, optional
            ``OutputMediaTarget``: ``oss-object`` (default), ``vod-media`` or ``S3``.
        user_data : str or dict, optional
            E.g. ``{"NotifyAddress": "https://..."}``.
        client_token : str, optional
            The idempotency key (generated when not given).

        Returns
        -------
        str
        """
        params = media_producing_submit_params(
            output,
            timeline=timeline,
            template_id=template_id,
            clips_param=clips_param,
            project_id=project_id,
            output_target=output_target,
            user_data=user_data,
            client_token=client_token,
        )
        return self._request(*self._submit_plan("media_producing", params))

    @public_call
    def submit_snapshot_job(
        self,
        input: MediaSpec,
        output: MediaSpec,
        *,
        template_id: str,
        overrides: Mapping[str, Any] | None = None,
        name: str | None = None,
        user_data: str | Mapping[str, Any] | None = None,
        pipeline_id: str | None = None,
    ) -> str:
        """Submit a snapshot job (SubmitSnapshotJob) and return its ``JobId``.

        Parameters
        ----------
        input, output : str, (type, media) pair, or dict
            The output object must hold ``{Count}`` for several snapshots, ``{TileCount}``
            for a sprite, and end with ``.vtt`` for WebVTT.
        template_id : str
            The snapshot template.
        overrides : dict, optional
            ``TemplateConfig.OverwriteParams``, e.g. ``{"Type": "Sprite", "Count": 10}``.
        name, user_data, pipeline_id : optional

        Returns
        -------
        str

        Notes
        -----
        SubmitSnapshotJob has no idempotency key: a submit whose answer was lost (timeout,
        dropped connection) is not sent again, since it may have created the job.
        """
        params = snapshot_submit_params(
            input,
            output,
            template_id=template_id,
            overrides=overrides,
            name=name,
            user_data=user_data,
            pipeline_id=pipeline_id,
        )
        return self._request(*self._submit_plan("snapshot", params))

    @public_call
    def submit_media_convert_job(
        self,
        inputs: MediaSpec | Iterable[MediaSpec] | None = None,
        outputs: MediaSpec | Iterable[MediaSpec | Mapping[str, Any]] | None = None,
        *,
        template_id: str | None = None,
        name: str | None = None,
        config: str | Mapping[str, Any] | None = None,
        user_data: str | Mapping[str, Any] | None = None,
        pipeline_id: str | None = None,
        client_token: str | None = None,
    ) -> str:
        """Submit a media convert job (SubmitMediaConvertJob) and return its ``JobId``.

        Parameters
        ----------
        inputs, outputs : media specs, optional
            Build the ``Config`` from these: each output is transcoded with ``template_id``
            (or is a ``MediaConvertOutput`` dict with ``OutputFile`` and ``TemplateId``).
        template_id : str, optional
        name : str, optional
            ``Config.JobName``.
        config : str or dict, optional
            The whole ``MediaConvertJobConfig`` instead (output groups for HLS/DASH and the rest).
        user_data, pipeline_id : optional
        client_token : str, optional
            The idempotency key (generated when not given).

        Returns
        -------
        str
        """
        params = media_convert_submit_params(
            inputs,
            outputs,
            template_id=template_id,
            name=name,
            config=config,
            user_data=user_data,
            pipeline_id=pipeline_id,
            client_token=client_token,
        )
        return self._request(*self._submit_plan("media_convert", params))


class AsyncClient(_BaseClient):
    """The asyncio twin of :class:`Client`: same constructor and names, as coroutines.

    ``list_package_jobs`` returns an async iterator. Use ``async with`` or ``await aclose()``.
    """

    @public_call
    def __init__(
        self,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        security_token: str | None = None,
        profile: str | None = None,
        credentials: Any = None,
        timeout: float = 10.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_rate: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sender: Any = None,
    ) -> None:
        super().__init__(
            endpoint=endpoint,
            region=region,
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=security_token,
            profile=profile,
            credentials=credentials,
            timeout=timeout,
            max_retries=max_retries,
            max_rate=max_rate,
        )
        self._transport = transport  # None: httpx's own (the batch engine reads it, not httpx's)
        self._sender = sender
        self._http = httpx.AsyncClient(transport=transport, **self._httpx_options())
        self._sleep: Callable[[float], Awaitable[object]] = asyncio.sleep  # replaced in tests

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (and the sender, when one was given)."""
        if self._sender is not None:
            await self._sender.aclose()
        await self._http.aclose()

    async def _send(self, prepared: PreparedRequest) -> tuple[int, Any, bytes]:
        if self._sender is not None:
            result: tuple[int, Any, bytes] = await self._sender.send(prepared)
            return result
        request = httpx.Request("POST", prepared.url, headers=prepared.headers, content=prepared.body or None)
        deadline = time.monotonic() + self.timeout
        try:
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                _declared_size(response, prepared.action)
                chunks = []
                total = 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > MAX_BODY_BYTES:
                        raise _too_large(prepared.action, f"over {total}")
                    if time.monotonic() > deadline:
                        raise _too_slow(prepared.action, self.timeout)
                    chunks.append(chunk)
            finally:
                await response.aclose()
        except IceError:
            raise
        except httpx.HTTPError as exc:
            raise _transport_error(exc, prepared.action) from None
        except RuntimeError as exc:  # httpx: "Cannot send a request, as the client has been closed."
            if "closed" not in str(exc):
                raise
            raise TransportError(str(exc), code=CLIENT_CLOSED, action=prepared.action) from None
        return response.status_code, response.headers, b"".join(chunks)

    async def _request(
        self, action: str, params: Mapping[str, str], parse: Callable[[dict[str, Any]], T]
    ) -> T:
        call = self._call(action, params, parse)
        clock = time.monotonic
        credentials = self._credentials
        while True:
            wait = call.wait(clock())
            if wait > 0:
                await self._sleep(wait)
            prepared = call.request(await credentials.aget(), clock())
            try:
                status, headers, body = await self._send(prepared)
            except IceError as error:
                delay = call.failed(clock(), error)
            else:
                answer = call.answered(clock(), status, headers, body)
                if answer[0]:
                    return answer[1]
                delay = answer[2]
            if delay > 0:
                await self._sleep(delay)

    @public_call
    async def get_package_job(self, job_id: str) -> PackageJob:
        """Fetch one packaging job (GetPackageJob); see :meth:`Client.get_package_job`."""
        job_id = _check_job_id(job_id)
        return await self._request(
            "GetPackageJob", {"JobId": job_id}, lambda data: parse_package_job(data, job_id)
        )

    @public_call
    def list_package_jobs(
        self,
        *,
        status: str | None = None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        order_by: str = "CreateTimeDesc",
        page_size: int = 100,
    ) -> AsyncIterator[PackageJob]:
        """Iterate asynchronously over every matching job; see :meth:`Client.list_package_jobs`."""
        params = _list_params(status, start, end, order_by, page_size)
        return self._pages(params)

    @public_call
    async def _pages(self, params: dict[str, str]) -> AsyncIterator[PackageJob]:
        tokens = _PageTokens()
        while True:
            jobs, token = await self._request("ListPackageJobs", params, parse_page)
            for job in jobs:
                yield job
            token = tokens.next(token)
            if token is None:
                return
            params = {**params, "NextPageToken": token}

    @public_call
    async def submit_package_job(
        self,
        inputs: MediaSpec | Iterable[MediaSpec],
        output: MediaSpec,
        *,
        name: str | None = None,
        user_data: str | Mapping[str, Any] | None = None,
        pipeline_id: str | None = None,
        priority: int | None = None,
    ) -> str:
        """Submit a packaging job and return its JobId; see :meth:`Client.submit_package_job`."""
        params = _submit_params(inputs, output, name, user_data, pipeline_id, priority)
        return await self._request("SubmitPackageJob", params, parse_job_id)

    # ------------------------------------------------------------------ every job kind

    @overload
    async def get_job(self, job_id: str, *, kind: Literal["package"] = "package") -> PackageJob: ...
    @overload
    async def get_job(self, job_id: str, *, kind: Literal["transcode"]) -> TranscodeJob: ...
    @overload
    async def get_job(self, job_id: str, *, kind: Literal["media_producing"]) -> MediaProducingJob: ...
    @overload
    async def get_job(self, job_id: str, *, kind: Literal["snapshot"]) -> SnapshotJob: ...
    @overload
    async def get_job(self, job_id: str, *, kind: Literal["media_convert"]) -> MediaConvertJob: ...
    @overload
    async def get_job(self, job_id: str, *, kind: str) -> Job: ...
    @public_call
    async def get_job(self, job_id: str, *, kind: str = "package") -> Job:
        """Fetch one job of any kind; see :meth:`Client.get_job`."""
        if kind == "package":
            return await self.get_package_job(job_id)
        return await self._request(*self._get_plan(kind, job_id))

    @public_call
    def list_jobs(
        self,
        *,
        kind: str = "package",
        status: str | None = None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        page_size: int | None = None,
        order_by: str = "CreateTimeDesc",
    ) -> AsyncIterator[Job]:
        """Iterate asynchronously over every matching job of a kind; see :meth:`Client.list_jobs`."""
        action, windows = list_requests(
            kind, status=status, start=start, end=end, order_by=order_by, page_size=page_size
        )
        return self._kind_pages(kind, action, windows)

    @public_call
    async def _kind_pages(self, kind: str, action: str, windows: list[dict[str, str]]) -> AsyncIterator[Job]:
        for params in windows:
            tokens = _PageTokens(action)
            while True:
                jobs, token = await self._request(action, params, lambda data: parse_kind_page(kind, data))
                for job in jobs:
                    yield job
                token = tokens.next(token)
                if token is None:
                    break
                params = next_page_params(kind, params, token)

    @public_call
    async def get_transcode_job(self, parent_job_id: str) -> TranscodeJob:
        """See :meth:`Client.get_transcode_job`."""
        return await self._request(*self._model_plan("transcode", parent_job_id, TranscodeJob))

    @public_call
    async def get_media_producing_job(self, job_id: str) -> MediaProducingJob:
        """See :meth:`Client.get_media_producing_job`."""
        return await self._request(*self._model_plan("media_producing", job_id, MediaProducingJob))

    @public_call
    async def get_snapshot_job(self, job_id: str) -> SnapshotJob:
        """See :meth:`Client.get_snapshot_job`."""
        return await self._request(*self._model_plan("snapshot", job_id, SnapshotJob))

    @public_call
    async def get_media_convert_job(self, job_id: str) -> MediaConvertJob:
        """See :meth:`Client.get_media_convert_job`."""
        return await self._request(*self._model_plan("media_convert", job_id, MediaConvertJob))

    @public_call
    def list_transcode_jobs(self, **filters: Any) -> AsyncIterator[TranscodeJob]:
        """See :meth:`Client.list_transcode_jobs`."""
        return cast("AsyncIterator[TranscodeJob]", self.list_jobs(kind="transcode", **filters))

    @public_call
    def list_media_producing_jobs(self, **filters: Any) -> AsyncIterator[MediaProducingJob]:
        """See :meth:`Client.list_media_producing_jobs`."""
        return cast("AsyncIterator[MediaProducingJob]", self.list_jobs(kind="media_producing", **filters))

    @public_call
    def list_snapshot_jobs(self, **filters: Any) -> AsyncIterator[SnapshotJob]:
        """See :meth:`Client.list_snapshot_jobs`."""
        return cast("AsyncIterator[SnapshotJob]", self.list_jobs(kind="snapshot", **filters))

    @public_call
    def list_media_convert_jobs(self, **filters: Any) -> AsyncIterator[MediaConvertJob]:
        """See :meth:`Client.list_media_convert_jobs`."""
        return cast("AsyncIterator[MediaConvertJob]", self.list_jobs(kind="media_convert", **filters))

    @public_call
    async def submit_transcode_job(
        self,
        inputs: MediaSpec | Iterable[MediaSpec],
        outputs: MediaSpec | Iterable[MediaSpec | Mapping[str, Any]],
        *,
        template_id: str | None = None,
        name: str | None = None,
        user_data: str | Mapping[str, Any] | None = None,
        pipeline_id: str | None = None,
        priority: int | None = None,
        client_token: str | None = None,
    ) -> str:
        """See :meth:`Client.submit_transcode_job`."""
        params = transcode_submit_params(
            inputs,
            outputs,
            template_id=template_id,
            name=name,
            user_data=user_data,
            pipeline_id=pipeline_id,
            priority=priority,
            client_token=client_token,
        )
        return await self._request(*self._submit_plan("transcode", params))

    @public_call
    async def submit_media_producing_job(
        self,
        output: str | Mapping[str, Any],
        *,
        timeline: str | Mapping[str, Any] | None = None,
        template_id: str | None = None,
        clips_param: str | Mapping[str, Any] | None = None,
        project_id: str | None = None,
        output_target: str | None = None,
        user_data: str | Mapping[str, Any] | None = None,
        client_token: str | None = None,
    ) -> str:
        """See :meth:`Client.submit_media_producing_job`."""
        params = media_producing_submit_params(
            output,
            timeline=timeline,
            template_id=template_id,
            clips_param=clips_param,
            project_id=project_id,
            output_target=output_target,
            user_data=user_data,
            client_token=client_token,
        )
        return await self._request(*self._submit_plan("media_producing", params))

    @public_call
    async def submit_snapshot_job(
        self,
        input: MediaSpec,
        output: MediaSpec,
        *,
        template_id: str,
        overrides: Mapping[str, Any] | None = None,
        name: str | None = None,
        user_data: str | Mapping[str, Any] | None = None,
        pipeline_id: str | None = None,
    ) -> str:
        """See :meth:`Client.submit_snapshot_job`."""
        params = snapshot_submit_params(
            input,
            output,
            template_id=template_id,
            overrides=overrides,
            name=name,
            user_data=user_data,
            pipeline_id=pipeline_id,
        )
        return await self._request(*self._submit_plan("snapshot", params))

    @public_call
    async def submit_media_convert_job(
        self,
        inputs: MediaSpec | Iterable[MediaSpec] | None = None,
        outputs: MediaSpec | Iterable[MediaSpec | Mapping[str, Any]] | None = None,
        *,
        template_id: str | None = None,
        name: str | None = None,
        config: str | Mapping[str, Any] | None = None,
        user_data: str | Mapping[str, Any] | None = None,
        pipeline_id: str | None = None,
        client_token: str | None = None,
    ) -> str:
        """See :meth:`Client.submit_media_convert_job`."""
        params = media_convert_submit_params(
            inputs,
            outputs,
            template_id=template_id,
            name=name,
            config=config,
            user_data=user_data,
            pipeline_id=pipeline_id,
            client_token=client_token,
        )
        return await self._request(*self._submit_plan("media_convert", params))
