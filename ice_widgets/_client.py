"""``Client`` and ``AsyncClient``: thin httpx front ends over :mod:`ice_widgets._core`.

They only send requests and sleep; signing, parsing, error classification, retries and
the shared adaptive rate are decided by the core. Every httpx exception becomes an
:class:`~ice_widgets.TransportError`; redirects are never followed.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from ice_widgets._core import (
    DEFAULT_MAX_RETRIES,
    MAX_BODY_BYTES,
    AdaptiveRate,
    Call,
    ClientStats,
    PreparedRequest,
    RequestBuilder,
    format_time,
    parse_job_id,
    parse_package_job,
    parse_page,
    resolve_endpoint,
)
from ice_widgets._credentials import resolve_credentials
from ice_widgets._errors import (
    IceError,
    InvalidParameterError,
    InvalidResponseError,
    RequestTimeoutError,
    TransportError,
)
from ice_widgets._models import PackageJob

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")
MediaSpec = str | tuple[str, str] | Mapping[str, Any]


def _transport_error(exc: Exception, action: str) -> TransportError:
    """Map an httpx exception to ours (the httpx one, which holds the request, is dropped)."""
    detail = str(exc).strip() or type(exc).__name__
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        # The request never left: safe to send again even when the action is not idempotent.
        return RequestTimeoutError(f"{type(exc).__name__}: {detail}", code="ConnectTimeout", action=action)
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"{type(exc).__name__}: {detail}", code="Timeout", action=action)
    if isinstance(exc, (httpx.LocalProtocolError, httpx.UnsupportedProtocol)):
        # The request itself cannot be sent (e.g. a control character in a header): no retry.
        return TransportError(f"{type(exc).__name__}: {detail}", code="InvalidRequest", action=action)
    if isinstance(exc, httpx.ConnectError):
        if isinstance(exc.__context__, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in detail:
            # Every request would fail the same way: not retried, and a batch stops on it.
            return TransportError(
                f"the TLS certificate cannot be verified: {detail}", code="SSLError", action=action
            )
        return TransportError(f"{type(exc).__name__}: {detail}", code="ConnectError", action=action)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.DecodingError)):
        return InvalidResponseError(
            f"{type(exc).__name__}: {detail}", code="IncompleteResponse", action=action
        )
    return TransportError(f"{type(exc).__name__}: {detail}", code="ConnectionError", action=action)


def _too_large(action: str, size: int | str) -> InvalidResponseError:
    return InvalidResponseError(
        f"the answer is larger than {MAX_BODY_BYTES} bytes ({size}); refused",
        code="ResponseTooLarge",
        action=action,
    )


def _too_slow(action: str, timeout: float) -> RequestTimeoutError:
    return RequestTimeoutError(
        f"the answer took longer than {timeout:g} s to arrive in full", code="Timeout", action=action
    )


def _declared_size(response: httpx.Response, action: str) -> None:
    length = response.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _too_large(action, int(length))


def _media_type(media: str) -> str:
    lowered = media.strip().lower()
    return "OSS" if lowered.startswith(("oss://", "http://", "https://")) else "Media"


def _media(spec: MediaSpec) -> dict[str, str]:
    if isinstance(spec, str):
        return {"Type": _media_type(spec), "Media": spec}
    if isinstance(spec, Mapping):
        inner = spec.get("Input", spec)
        if not isinstance(inner, Mapping) or "Media" not in inner:
            raise InvalidParameterError(
                f"a media dict needs 'Media' (and optionally 'Type'): {spec!r}", code="InvalidParameter"
            )
        media = str(inner["Media"])
        return {"Type": str(inner.get("Type") or _media_type(media)), "Media": media}
    if isinstance(spec, tuple) and len(spec) == 2:
        kind, media = spec
        return {"Type": str(kind), "Media": str(media)}
    raise InvalidParameterError(
        f"media must be a string, a (type, media) pair or a dict, not {type(spec).__name__}",
        code="InvalidParameter",
    )


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
    """Remembers the NextPageTokens of one listing; a repeated token would loop forever."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def next(self, token: str | None) -> str | None:
        if token is None:
            return None
        if token in self._seen:
            raise InvalidResponseError(
                f"ListPackageJobs returned the NextPageToken {token!r} twice; stopping instead of looping",
                code="RepeatedPageToken",
                action="ListPackageJobs",
            )
        self._seen.add(token)
        return token


class _BaseClient:
    """Everything the two clients share that is not I/O."""

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
        self.rate = AdaptiveRate()

    @property
    def endpoint(self) -> str:
        """The base URL requests go to, e.g. ``https://ice.cn-shanghai.aliyuncs.com``."""
        return self._endpoint

    @property
    def credentials_source(self) -> str:
        """Where the access key came from, e.g. ``environment (ALIBABA_CLOUD_ACCESS_KEY_ID)``."""
        return self._credentials.source

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self._endpoint!r}, "
            f"credentials_source={self._credentials.source!r})"
        )

    def _call(self, action: str, params: Mapping[str, str], parse: Any) -> Call[Any]:
        return Call(
            action,
            params,
            parse,
            builder=self._builder,
            rate=self.rate,
            stats=self.stats,
            max_retries=self.max_retries,
            idempotent=action != "SubmitPackageJob",
            credentials_source=self._credentials.source,
        )

    def _httpx_options(self) -> dict[str, Any]:
        return {
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)),
            "limits": httpx.Limits(max_connections=64, max_keepalive_connections=64),
            "follow_redirects": False,
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
    transport : httpx.BaseTransport, optional
        For tests (``httpx.MockTransport``).

    Examples
    --------
    >>> with Client(endpoint="http://127.0.0.1:8765") as client:  # doctest: +SKIP
    ...     job = client.get_package_job("ab4802364a2e49208c99efab82df****")
    """

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
        transport: httpx.BaseTransport | None = None,
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
        )
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
        """Close the connection pool."""
        self._http.close()

    def _send(self, prepared: PreparedRequest) -> tuple[int, httpx.Headers, bytes]:
        request = httpx.Request("POST", prepared.url, headers=prepared.headers)
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
            raise TransportError(str(exc), code="ClientClosed", action=prepared.action) from None
        return response.status_code, response.headers, b"".join(chunks)

    def _request(self, action: str, params: Mapping[str, str], parse: Any) -> Any:
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
                done, value, delay = call.answered(clock(), status, headers, body)
                if done:
                    return value
            if delay > 0:
                self._sleep(delay)

    def get_package_job(self, job_id: str) -> PackageJob:
        """Fetch one packaging job (GetPackageJob).

        Raises
        ------
        NotFoundError, PermissionDeniedError, AuthenticationError, ThrottlingError, TransportError, ...
            See :mod:`ice_widgets._errors`.
        """
        job_id = _check_job_id(job_id)
        return self._request("GetPackageJob", {"JobId": job_id}, lambda data: parse_package_job(data, job_id))

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

    def _pages(self, params: dict[str, str]) -> Iterator[PackageJob]:
        tokens = _PageTokens()
        while True:
            jobs, token = self._request("ListPackageJobs", params, parse_page)
            yield from jobs
            token = tokens.next(token)
            if token is None:
                return
            params = {**params, "NextPageToken": token}

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


class AsyncClient(_BaseClient):
    """The asyncio twin of :class:`Client`: same constructor and names, as coroutines.

    ``list_package_jobs`` returns an async iterator. Use ``async with`` or ``await aclose()``.
    """

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
        transport: httpx.AsyncBaseTransport | None = None,
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
        )
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
        """Close the connection pool."""
        await self._http.aclose()

    async def _send(self, prepared: PreparedRequest) -> tuple[int, httpx.Headers, bytes]:
        request = httpx.Request("POST", prepared.url, headers=prepared.headers)
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
            raise TransportError(str(exc), code="ClientClosed", action=prepared.action) from None
        return response.status_code, response.headers, b"".join(chunks)

    async def _request(self, action: str, params: Mapping[str, str], parse: Any) -> Any:
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
                done, value, delay = call.answered(clock(), status, headers, body)
                if done:
                    return value
            if delay > 0:
                await self._sleep(delay)

    async def get_package_job(self, job_id: str) -> PackageJob:
        """Fetch one packaging job (GetPackageJob); see :meth:`Client.get_package_job`."""
        job_id = _check_job_id(job_id)
        return await self._request(
            "GetPackageJob", {"JobId": job_id}, lambda data: parse_package_job(data, job_id)
        )

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
