"""The I/O-free heart of the ICE client: what to send, what an answer means, when to retry.

``Client`` and ``AsyncClient`` (``_client.py``) only send requests and sleep; every
decision is taken here, by plain functions and small objects that take the time as an
argument, so they are tested without a network or a clock.

- :func:`resolve_endpoint`: explicit endpoint > ``ALIBABA_CLOUD_ICE_ENDPOINT`` > regional host.
- :class:`RequestBuilder`: a V3-signed ``POST /`` for an action and its parameters.
- :func:`parse_response` and :func:`classify_error`: bytes and a status to a result or an
  :class:`~ice_widgets.IceError` chosen by the error *code*.
- :func:`should_retry`, :func:`retry_delay`: the retry policy.
- :class:`AdaptiveRate`: an AIMD send-rate controller shared by all requests of one client.
- :class:`Call`: the state of one API call across its attempts, driving the front ends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import platform
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from ice_widgets._credentials import ENV_REGION, EXPIRED_TOKEN_CODES, Credential, cli_profile_region
from ice_widgets._errors import (
    CLIENT_CLOSED,
    CONNECT_ERROR,
    CONNECT_TIMEOUT,
    INVALID_REQUEST,
    SSL_ERROR,
    ApiError,
    AuthenticationError,
    ClockSkewError,
    IceError,
    InvalidParameterError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    ThrottlingError,
    TransportError,
)
from ice_widgets._models import KINDS, Job, PackageJob, model_for, parse_job, parse_time
from ice_widgets._signing import EMPTY_SHA256, canonical_query, signature_v3
from ice_widgets._version import __version__

__all__ = [
    "API_VERSION",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_REGION",
    "ENV_ENDPOINT",
    "FORM_PARAMS",
    "KIND_APIS",
    "MAX_BODY_BYTES",
    "USER_AGENT",
    "AdaptiveRate",
    "Call",
    "ClientStats",
    "KindApi",
    "MediaSpec",
    "PreparedRequest",
    "RequestBuilder",
    "classify_error",
    "get_params",
    "is_idempotent",
    "kind_api",
    "list_params",
    "list_requests",
    "media_convert_submit_params",
    "media_object",
    "media_producing_submit_params",
    "next_page_params",
    "parse_job_id",
    "parse_kind_job",
    "parse_kind_page",
    "parse_package_job",
    "parse_page",
    "parse_response",
    "parse_retry_after",
    "parse_submitted_id",
    "resolve_endpoint",
    "resolve_region",
    "retry_delay",
    "should_retry",
    "snapshot_submit_params",
    "transcode_submit_params",
]

logger = logging.getLogger("ice_widgets")

API_VERSION = "2020-11-09"
DEFAULT_REGION = "cn-shanghai"
ENV_ENDPOINT = "ALIBABA_CLOUD_ICE_ENDPOINT"
DEFAULT_MAX_RETRIES = 6
#: Bodies larger than this are refused without being read whole.
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Longest wait honoured from ``x-acs-retry-after`` (seconds).
MAX_RETRY_AFTER = 60.0


USER_AGENT = (
    f"ice_widgets/{__version__} ({platform.system() or 'unknown'}; "
    f"Python/{platform.python_version()}) AlibabaCloud-ICE/{API_VERSION}"
)

_REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9._\-\[\]:]+$")


# --------------------------------------------------------------------------- endpoint


def resolve_region(
    region: str | None = None, *, profile: str | None = None, env: Mapping[str, str] | None = None
) -> str:
    """The region: argument > ``ALIBABA_CLOUD_REGION_ID`` > aliyun CLI profile > cn-shanghai."""
    env = os.environ if env is None else env
    chosen = (region or "").strip() or env.get(ENV_REGION, "").strip()
    if not chosen:
        chosen = cli_profile_region(profile, env) or DEFAULT_REGION
    if not _REGION_RE.match(chosen):
        raise ValueError(f"not a region ID: {chosen!r}")
    return chosen


def resolve_endpoint(
    endpoint: str | None = None,
    region: str | None = None,
    *,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Return the base URL (``scheme://host[:port]``) requests go to.

    Parameters
    ----------
    endpoint : str, optional
        A host (``ice.cn-beijing.aliyuncs.com``, HTTPS) or a URL (``http://127.0.0.1:8765``).
        Always wins when given.
    region : str, optional
        Used for ``https://ice.<region>.aliyuncs.com`` when no endpoint is given anywhere.
    profile : str, optional
        The aliyun CLI profile whose ``region_id`` is used as a fallback.
    env : mapping, optional
        The environment (default ``os.environ``); ``ALIBABA_CLOUD_ICE_ENDPOINT`` is read from it.
    """
    env = os.environ if env is None else env
    chosen = (endpoint or "").strip() or env.get(ENV_ENDPOINT, "").strip()
    if not chosen:
        return f"https://ice.{resolve_region(region, profile=profile, env=env)}.aliyuncs.com"
    return _normalize_endpoint(chosen)


def _normalize_endpoint(value: str) -> str:
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"endpoint must use http or https, not {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("endpoint must not contain a user name or password")
    netloc = parts.netloc
    if not netloc or not _HOST_RE.match(netloc):
        raise ValueError(f"not a valid endpoint host: {netloc!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("endpoint must be a host or a base URL without a path or query")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"not a valid endpoint port in {netloc!r}") from None
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A signed request, ready for the transport: ``POST url`` with ``headers`` and ``body``
    (empty, except for the form parameters of :data:`FORM_PARAMS`)."""

    action: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def __repr__(self) -> str:  # headers hold the STS token: never show them
        return f"PreparedRequest(action={self.action!r}, url={self.url!r})"


_last_stamp: tuple[int, str] = (-1, "")


def _utc_stamp(now: float) -> str:
    """``x-acs-date`` for ``now``: formatted once per second (a batch signs hundreds a second)."""
    global _last_stamp
    second = math.floor(now)
    last = _last_stamp
    if last[0] == second:
        return last[1]
    text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
    _last_stamp = (second, text)
    return text


class RequestBuilder:
    """Builds V3-signed ICE requests for one endpoint; constant headers are computed once.

    Parameters
    ----------
    endpoint : str
        The base URL from :func:`resolve_endpoint`.
    user_agent : str, optional
    """

    __slots__ = (
        "_base_url",
        "_constant",
        "_hmac",
        "_host",
        "_host_line",
        "_sha_line",
        "_version_line",
        "clock",
        "endpoint",
    )

    def __init__(self, endpoint: str, *, user_agent: str = USER_AGENT) -> None:
        self.endpoint = endpoint
        #: The wall clock that dates requests (``x-acs-date``); tests shift it to fake clock skew.
        self.clock: Callable[[], float] = time.time
        self._host = endpoint.split("://", 1)[1]
        self._base_url = endpoint + "/?"
        self._host_line = f"host:{self._host}\n"
        self._sha_line = f"x-acs-content-sha256:{EMPTY_SHA256}\n"
        self._version_line = f"x-acs-version:{API_VERSION}\n"
        self._hmac: tuple[str, Any] | None = None
        self._constant = [
            ("accept", "application/json"),
            ("user-agent", user_agent),
        ]

    def build(
        self,
        action: str,
        params: Mapping[str, str],
        credential: Credential,
        *,
        now: float | None = None,
        nonce: str | None = None,
    ) -> PreparedRequest:
        """Sign ``POST /?<params>`` for ``action``; a fresh nonce and date unless given.

        The query string sent is exactly the one signed (:func:`canonical_query`). The
        parameters the official SDK sends in a form body (:data:`FORM_PARAMS`, e.g. a media
        producing ``Timeline``, which can be far longer than a URL may be) go in the body.
        """
        date = _utc_stamp(self.clock() if now is None else now)
        nonce = nonce or os.urandom(16).hex()
        in_body = FORM_PARAMS.get(action)
        if in_body and any(name in params for name in in_body):
            return self._build_form(action, params, in_body, credential, date, nonce)
        query = canonical_query(params)
        key_id = credential.access_key_id
        token = credential.security_token
        # The canonical headers, in sorted order (see _signing.canonical_request_v3, which the
        # tests hold this against through the documented test vectors and the official SDK).
        if token:
            canonical_headers = (
                f"{self._host_line}x-acs-accesskey-id:{key_id.strip()}\nx-acs-action:{action}\n"
                f"{self._sha_line}x-acs-date:{date}\nx-acs-security-token:{token.strip()}\n"
                f"x-acs-signature-nonce:{nonce}\n{self._version_line}"
            )
            signed_headers = _SIGNED_STS
        else:
            canonical_headers = (
                f"{self._host_line}x-acs-action:{action}\n{self._sha_line}x-acs-date:{date}\n"
                f"x-acs-signature-nonce:{nonce}\n{self._version_line}"
            )
            signed_headers = _SIGNED
        canonical = f"POST\n/\n{query}\n{canonical_headers}\n{signed_headers}\n{EMPTY_SHA256}"
        string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        signature = self._mac(credential.access_key_secret, string_to_sign)
        headers = [
            ("host", self._host),
            ("x-acs-action", action),
            ("x-acs-content-sha256", EMPTY_SHA256),
            ("x-acs-date", date),
            ("x-acs-signature-nonce", nonce),
            ("x-acs-version", API_VERSION),
        ]
        if token:
            headers.append(("x-acs-accesskey-id", key_id))
            headers.append(("x-acs-security-token", token))
        headers += self._constant
        headers.append(
            (
                "authorization",
                f"ACS3-HMAC-SHA256 Credential={key_id},SignedHeaders={signed_headers},Signature={signature}",
            )
        )
        return PreparedRequest(action, self._base_url + query if query else self.endpoint + "/", headers)

    def _build_form(
        self,
        action: str,
        params: Mapping[str, str],
        in_body: frozenset[str],
        credential: Credential,
        date: str,
        nonce: str,
    ) -> PreparedRequest:
        """The rare request with a form body: signed by the general V3 function."""
        query_params = {k: v for k, v in params.items() if k not in in_body}
        body = canonical_query({k: v for k, v in params.items() if k in in_body}).encode("utf-8")
        payload_hash = hashlib.sha256(body).hexdigest()
        signed = {
            "host": self._host,
            "content-type": "application/x-www-form-urlencoded",
            "x-acs-action": action,
            "x-acs-content-sha256": payload_hash,
            "x-acs-date": date,
            "x-acs-signature-nonce": nonce,
            "x-acs-version": API_VERSION,
        }
        if credential.security_token:
            signed["x-acs-accesskey-id"] = credential.access_key_id
            signed["x-acs-security-token"] = credential.security_token
        signature, signed_headers = signature_v3(
            credential.access_key_secret, "POST", "/", query_params, signed, payload_hash
        )
        headers = [*signed.items(), *self._constant]
        headers.append(
            (
                "authorization",
                f"ACS3-HMAC-SHA256 Credential={credential.access_key_id},"
                f"SignedHeaders={signed_headers},Signature={signature}",
            )
        )
        query = canonical_query(query_params)
        return PreparedRequest(
            action, self._base_url + query if query else self.endpoint + "/", headers, body
        )

    def _mac(self, secret: str, message: str) -> str:
        """hex(HMAC-SHA256(secret, message)); the keyed state is computed once per secret."""
        cached = self._hmac
        if cached is None or cached[0] != secret:
            cached = (secret, hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256))
            self._hmac = cached
        mac = cached[1].copy()
        mac.update(message.encode("utf-8"))
        return mac.hexdigest()


#: Parameters sent in an ``application/x-www-form-urlencoded`` body, as the official SDK does.
FORM_PARAMS: dict[str, frozenset[str]] = {"SubmitMediaProducingJob": frozenset({"Timeline"})}

_SIGNED = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
_SIGNED_STS = (
    "host;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;"
    "x-acs-security-token;x-acs-signature-nonce;x-acs-version"
)


# --------------------------------------------------------------------------- errors

_THROTTLING_CODES = frozenset(
    {"Throttling", "Throttling.User", "Throttling.Api", "Throttling.Tenant", "Rejected.Throttling"}
)
_AUTH_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
        "InvalidAccessKeySecret",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidSecurityToken",
        "InvalidSecurityToken.Expired",
        "InvalidSecurityToken.Malformed",
        "InvalidSecurityToken.MismatchWithAccessKey",
        "MissingSecurityToken",
        "InvalidAuthorization",
        "MissingAuthorization",
        "Forbidden.AccessKeyDisabled",
        "UnsupportedSignatureVersion",
        "UnsupportedSignatureType",
    }
)
_SERVER_CODES = frozenset({"ServiceUnavailable", "InternalError", "UnknownError", "ServiceTimeout"})
_NOT_RETRIED_TRANSPORT = frozenset(
    {"UnexpectedRedirect", "RepeatedPageToken", INVALID_REQUEST, CLIENT_CLOSED, SSL_ERROR}
)


def parse_retry_after(value: str | None) -> float | None:
    """``x-acs-retry-after`` in seconds (capped at 60), or ``None`` when absent or invalid.

    The header holds **milliseconds**, as the official SDK reads it
    (``Utils.get_throttling_time_left``, slept as ``millisecond / 1000``).
    """
    if value is None:
        return None
    try:
        milliseconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(milliseconds) or milliseconds <= 0:
        return None
    return min(milliseconds / 1000.0, MAX_RETRY_AFTER)


def _error_class(code: str | None, status: int | None) -> type[ApiError]:
    if code:
        if code == "InvalidTimeStamp.Expired":
            return ClockSkewError
        if code in _AUTH_CODES or code.startswith(("InvalidAccessKeyId", "InvalidSecurityToken")):
            return AuthenticationError
        if code in _THROTTLING_CODES or code.startswith("Throttling") or code.endswith(".Throttling"):
            return ThrottlingError
        if "NotFound" in code:
            return NotFoundError
        if code.startswith(("Forbidden", "NoPermission")):
            return PermissionDeniedError
        if code.startswith(("InvalidParameter", "MissingParameter", "Missing")):
            return InvalidParameterError
        if code in _SERVER_CODES or code.startswith(("ServiceUnavailable", "InternalError")):
            return ServerError
    if status is not None:
        if status == 404:
            return NotFoundError
        if status == 429:
            return ThrottlingError
        if status >= 500:
            return ServerError
    return ApiError


def classify_error(
    status: int | None,
    body: Mapping[str, Any] | None,
    *,
    action: str | None = None,
    retry_after: float | None = None,
    credentials_source: str | None = None,
) -> ApiError:
    """Turn an error answer into the right :class:`ApiError` subclass, by ``Code`` first.

    Parameters
    ----------
    status : int or None
        The HTTP status.
    body : mapping or None
        The decoded JSON body (``Code``, ``Message``, ``RequestId``, ``Recommend``).
    action : str, optional
    retry_after : float, optional
        From ``x-acs-retry-after``.
    credentials_source : str, optional
        Named in authentication errors, so an expired token says where it came from.
    """
    body = body or {}
    code = _str_or_none(body.get("Code"))
    message = _str_or_none(body.get("Message")) or (f"HTTP {status}" if status else "error answer")
    cls = _error_class(code, status)
    if cls is ClockSkewError:
        message = f"{message} Clock skew: this computer's clock is over 15 min off; correct the system time."
    elif issubclass(cls, AuthenticationError) and credentials_source:
        message = f"{message} [credentials from {credentials_source}]"
    return cls(
        message,
        code=code or (f"HTTP{status}" if status else None),
        request_id=_str_or_none(body.get("RequestId")),
        http_status=status,
        recommend=_str_or_none(body.get("Recommend")),
        action=action,
        retry_after=retry_after,
    )


def _str_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


# --------------------------------------------------------------------------- responses


def parse_response(
    action: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials_source: str | None = None,
) -> dict[str, Any]:
    """Decode an answer; return the JSON object of a success or raise the matching error.

    Raises
    ------
    ApiError
        The body carries an error ``Code`` (whatever the status), or the status is an error.
    InvalidResponseError
        Empty, truncated or non-JSON body, or a redirect.
    """
    retry_after = parse_retry_after(headers.get("x-acs-retry-after"))
    if 300 <= status < 400:
        raise InvalidResponseError(
            f"the endpoint answered with a redirect to {headers.get('location', '?')!r}; "
            "redirects are not followed (the signature must not go to another host)",
            code="UnexpectedRedirect",
            http_status=status,
            action=action,
        )
    data: Any = None
    if body:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            data = None
    if not isinstance(data, dict):
        if status >= 400:
            # An error page from a proxy or load balancer: classify by status.
            error = classify_error(status, None, action=action, retry_after=retry_after)
            if type(error) is not ApiError:
                raise error
        raise InvalidResponseError(
            f"the answer is not a JSON object ({_describe_body(body)})",
            code="InvalidResponse",
            http_status=status,
            action=action,
            retry_after=retry_after,
        )
    if status >= 400 or (data.get("Code") and not _has_payload(action, data)):
        raise classify_error(
            status, data, action=action, retry_after=retry_after, credentials_source=credentials_source
        )
    return data


_PAYLOAD_KEYS = {
    "GetPackageJob": "PackageJob",
    "ListPackageJobs": "PackageJobList",
    "SubmitPackageJob": "JobId",
    "GetTranscodeJob": "TranscodeParentJob",
    "ListTranscodeJobs": "Jobs",
    "SubmitTranscodeJob": "TranscodeParentJob",
    "GetMediaProducingJob": "MediaProducingJob",
    "ListMediaProducingJobs": "MediaProducingJobList",
    "SubmitMediaProducingJob": "JobId",
    "GetSnapshotJob": "SnapshotJob",
    "ListSnapshotJobs": "Jobs",
    "SubmitSnapshotJob": "JobId",
    "GetMediaConvertJob": "Job",
    "ListMediaConvertJobs": "Jobs",
    "SubmitMediaConvertJob": "Job",
}


def _has_payload(action: str, data: Mapping[str, Any]) -> bool:
    key = _PAYLOAD_KEYS.get(action)
    return key is None or key in data


def _describe_body(body: bytes) -> str:
    if not body:
        return "empty body"
    return f"{len(body)} bytes starting {body[:60]!r}"


def parse_package_job(data: Mapping[str, Any], job_id: str | None = None) -> PackageJob:
    """The ``PackageJob`` of a GetPackageJob answer; checks it is the job asked for.

    Raises
    ------
    InvalidResponseError
        No ``PackageJob`` object, or one with another ``JobId``.
    """
    raw = data.get("PackageJob")
    if not isinstance(raw, dict):
        raise InvalidResponseError(
            "the answer has no PackageJob object",
            code="InvalidResponse",
            request_id=_str_or_none(data.get("RequestId")),
            action="GetPackageJob",
        )
    job = PackageJob.from_api(raw)
    if job_id is not None and job.job_id is not None and job.job_id.strip() != job_id.strip():
        raise InvalidResponseError(
            f"asked for job {job_id!r} but the answer holds job {job.job_id!r}",
            code="JobIdMismatch",
            request_id=_str_or_none(data.get("RequestId")),
            action="GetPackageJob",
        )
    return job


def parse_page(data: Mapping[str, Any]) -> tuple[list[PackageJob], str | None]:
    """The jobs and the ``NextPageToken`` (None on the last page) of a ListPackageJobs answer."""
    page = data.get("PackageJobList")
    if page is None:
        return [], None
    if not isinstance(page, dict):
        raise InvalidResponseError(
            "PackageJobList is not an object",
            code="InvalidResponse",
            request_id=_str_or_none(data.get("RequestId")),
            action="ListPackageJobs",
        )
    items = page.get("PackageJobs") or []
    if isinstance(items, dict):  # some gateways wrap lists: {"PackageJob": [...]}
        items = items.get("PackageJob") or []
    if not isinstance(items, list):
        items = []
    jobs = [PackageJob.from_api(item) for item in items if isinstance(item, dict)]
    return jobs, _str_or_none(page.get("NextPageToken"))


def parse_job_id(data: Mapping[str, Any]) -> str:
    """The ``JobId`` of a SubmitPackageJob answer."""
    job_id = _str_or_none(data.get("JobId"))
    if job_id is None:
        raise InvalidResponseError(
            "the answer has no JobId",
            code="InvalidResponse",
            request_id=_str_or_none(data.get("RequestId")),
            action="SubmitPackageJob",
        )
    return job_id


def format_time(value: datetime | str) -> str:
    """A ListPackageJobs time bound: UTC ``yyyy-MM-ddTHH:mm:ssZ`` (strings pass unchanged)."""
    if isinstance(value, str):
        return value.strip()
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- retries


#: Failures after which the request surely did not reach the API: a non-idempotent action
#: (SubmitPackageJob) may be sent again only after one of these.
_NOT_SENT = frozenset({CONNECT_ERROR, CONNECT_TIMEOUT, "ServiceUnavailable", "SignatureNonceUsed"})


def is_retryable(error: IceError, *, idempotent: bool = True) -> bool:
    """Whether an error may succeed when sent again (ignoring the attempt budget).

    For a non-idempotent action (``idempotent=False``: SubmitPackageJob creates a job each
    time it is processed) only failures that prove the request was not processed count:
    throttling, a connection that never opened, ServiceUnavailable, SignatureNonceUsed. A read timeout, a
    dropped connection, a truncated body or an InternalError might hide a created job.
    """
    if isinstance(error, ThrottlingError):
        return True
    if not idempotent:
        return error.code in _NOT_SENT
    if isinstance(error, ServerError):
        return True
    if isinstance(error, TransportError):
        return error.code not in _NOT_RETRIED_TRANSPORT
    return isinstance(error, ApiError) and error.code == "SignatureNonceUsed"


def should_retry(
    error: IceError,
    attempt: int,
    max_retries: int = DEFAULT_MAX_RETRIES,
    *,
    nonce_retried: bool = False,
    idempotent: bool = True,
) -> bool:
    """Whether to send again after ``error`` ended attempt number ``attempt`` (1-based).

    Throttling, server errors and transport failures (connection, timeout, bad body) are
    retried up to ``max_retries`` times; ``SignatureNonceUsed`` once; everything else
    (authentication, permission, parameters, not found) never. See :func:`is_retryable`
    for non-idempotent actions.
    """
    if attempt > max_retries or not is_retryable(error, idempotent=idempotent):
        return False
    return not (error.code == "SignatureNonceUsed" and nonce_retried)


def retry_delay(
    attempt: int,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
    *,
    base: float = 0.1,
    cap: float = 8.0,
) -> float:
    """Seconds to wait before the retry that follows failed attempt ``attempt`` (1-based).

    Exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**(attempt-1))]``;
    when the server sent ``x-acs-retry-after``, at least that long (plus up to 10% jitter, so
    that clients told the same value do not return together).
    """
    ceiling: float = min(cap, base * (2 ** max(attempt - 1, 0)))
    delay = rng() * ceiling
    if retry_after is not None and retry_after > 0:
        delay = max(delay, retry_after * (1.0 + 0.1 * rng()))
    return delay


# --------------------------------------------------------------------------- adaptive rate


class AdaptiveRate:
    """An AIMD send-rate controller shared by every request of one client.

    Unlimited until throttling is seen. Answers are counted in short intervals
    (``interval_answers`` answers, ``interval_seconds``, or sooner when throttling piles
    up). An interval with throttling clearly above the background ``noise`` lowers the rate
    towards the throughput the server was just accepting: by ``decrease`` (gentler than
    halving) when throttling is moderate, at most to a half at once (a quarter when most
    answers were throttled), and never below ``decrease`` times what the server accepted
    over the last ``window``. Between decreases, while requests wait for it, the rate
    grows: quickly back towards the rate before the last decrease (``recover``), slowly
    near it (``probe``), multiplicatively past it (``accelerate``), in case the limit has
    risen. A batch so converges on the account's limit with few throttled answers.

    Every gentle decrease is checked at the next interval. Under a rate limit, sending less
    leaves the accepted rate as it was and throttling falls; throttling that does not
    depend on the rate (a shared service under load, an emulator injecting random faults)
    keeps its share while fewer answers are accepted. Then the decrease is undone and the
    share becomes the tolerated ``noise`` (at most ``max_noise``), followed as it drifts,
    so random throttles cannot drive the rate to nothing. While noise is tolerated, a rate
    limit reached later shows as more requests sent without more accepted: the rate is
    lowered and checked again. Heavy throttling (over half the answers) is always a rate
    signal.

    One controller is kept per account (endpoint and access key, :func:`account_rate`) for
    the life of the process: a later batch, watch or client of the same account starts at
    the rate the earlier ones learned instead of bursting into the limit again. After a
    pause of ``idle`` seconds without answers, the interval being counted is dropped (its
    answers, spread over the pause, say nothing about a rate), and so is the check of the
    last decrease; the rate restarts from the one the last decrease set (growth since then
    was probing, often into a limiter's burst that refilled during the pause), and for
    ``hold`` seconds it probes past the rate before the last decrease only slowly: a
    refilled burst hides the limit for a while, and a quick search would overshoot it.

    Pure: every method takes the time ``now`` (any monotonic clock); ``acquired_at`` is
    the time the request reserved its slot with :meth:`acquire`, so that answers to
    requests paced at an older rate do not count against the new one.

    Parameters
    ----------
    decrease : float
        Largest factor applied to the rate by one decrease (0.5 <= decrease < 1).
    probe : float
        Growth per second, as a fraction of the rate before the last decrease, near that rate.
    recover : float
        Growth per second, as a fraction of the rate before the last decrease, well below it.
    accelerate : float
        Relative growth per second once past the rate before the last decrease.
    interval_answers : int
        Answers per measuring interval.
    interval_seconds : float
        An interval also ends after this long with at least 5 answers.
    cooldown : float
        Least seconds between two gentle decreases (heavy throttling waits for none).
    max_noise : float
        The largest throttled share ever taken for noise; more is always a rate signal.
        While noise is tolerated, a decrease is tried again when sending more stops
        bringing more accepted answers (a rate limit reached meanwhile).
    window : float
        Seconds over which accepted throughput is measured.
    min_rate, max_rate : float
        Bounds of the rate (requests per second).
    idle : float
        Seconds without an answer after which the next answer starts a new interval.
    hold : float
        After such a pause, seconds during which the rate grows past the rate before the
        last decrease only slowly (``probe``), unless throttling is met again first.
    """

    def __init__(
        self,
        *,
        decrease: float = 0.85,
        probe: float = 0.02,
        recover: float = 0.25,
        accelerate: float = 0.5,
        interval_answers: int = 40,
        interval_seconds: float = 1.0,
        window: float = 1.0,
        cooldown: float = 0.2,
        max_noise: float = 0.35,
        min_rate: float = 0.5,
        max_rate: float = 100_000.0,
        idle: float = 2.0,
        hold: float = 10.0,
    ) -> None:
        if not 0.5 <= decrease < 1:
            raise ValueError("decrease must be in [0.5, 1)")
        self.decrease = decrease
        self.probe = probe
        self.recover = recover
        self.accelerate = accelerate
        self.interval_answers = interval_answers
        self.interval_seconds = interval_seconds
        self.window = window
        self.cooldown = cooldown
        self.max_noise = max_noise
        self.min_rate = min_rate
        self.max_rate = max_rate
        self.idle = idle
        self.hold = hold
        self.rate: float | None = None  # requests per second; None = unlimited
        self.ceiling: float | None = None  # the rate before the last decrease
        self.noise = 0.0  # throttled share seen whatever the rate
        self.throttles = 0
        self.decreases = 0
        self.undone = 0
        self._next_at = 0.0
        self._last_change = -math.inf
        self._last_growth = 0.0
        self._waited_until = -math.inf
        self._accepted: deque[float] = deque()
        self._first_seen: float | None = None
        self._last_answer = -math.inf
        self._settled: float | None = None  # the rate the last decrease (or undo) set
        self._resumed_at = -math.inf  # when answers came again after a pause
        self._i_start: float | None = None
        self._i_answers = 0
        self._i_throttled = 0
        # before the last decrease: rate, ceiling, throttled share, answers and accepted per second
        self._pending: tuple[float | None, float | None, float, float, float] | None = None
        self._last_decrease = -math.inf
        self._first_throttle: float | None = None
        self._noise_seen = False
        self._testing_limit = False
        self._noise_reference: tuple[float, float] | None = None
        self._sent_avg: float | None = None
        self._got_avg: float | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        rate = "unlimited" if self.rate is None else f"{self.rate:.1f}/s"
        return (
            f"AdaptiveRate(rate={rate}, throttles={self.throttles}, decreases={self.decreases}, "
            f"undone={self.undone}, noise={self.noise:.2f})"
        )

    def acquire(self, now: float) -> float:
        """Reserve a send slot; return how many seconds to wait before sending (0 = now)."""
        with self._lock:
            rate = self.rate
            if rate is None:
                return 0.0
            start = self._next_at if self._next_at > now else now
            self._next_at = start + 1.0 / rate
            delay = start - now
            if delay > 0:
                self._waited_until = start + 1.0
            return delay

    def on_success(self, now: float, acquired_at: float | None = None) -> None:
        """Record an answer that was not throttled."""
        with self._lock:
            accepted = self._accepted
            accepted.append(now)
            horizon = now - self.window
            while accepted and accepted[0] < horizon:
                accepted.popleft()
            self._answer(now, acquired_at, throttled=False)
            self._grow(now)

    def on_throttle(self, now: float, acquired_at: float | None = None) -> None:
        """Record a throttled answer; the rate may go down when its interval ends."""
        with self._lock:
            self.throttles += 1
            if self._first_throttle is None:
                self._first_throttle = now
            self._answer(now, acquired_at, throttled=True)

    # -- internals (called with the lock held) ------------------------------------------------

    @staticmethod
    def _margin(share: float, answers: int) -> float:
        return max(0.03, 2.5 * math.sqrt(max(share * (1.0 - share), 0.0) / answers))

    def _answer(self, now: float, acquired_at: float | None, *, throttled: bool) -> None:
        if self._first_seen is None:
            self._first_seen = now
        if now - self._last_answer > self.idle:
            # After a pause (between two batches, a watch polling slowly), what was counted
            # before it, spread over the pause, would read as a collapse of the accepted rate.
            self._i_start, self._i_answers, self._i_throttled = None, 0, 0
            self._pending = None
            if self._settled is not None and self.rate is not None and self.rate > self._settled:
                # Growth since the last decrease was probing (often into a limiter's refilled
                # burst): restart from the rate throttling last settled, and probe again.
                self.rate = self._settled
                self._last_change = self._last_growth = now
            self._resumed_at = now
        self._last_answer = now
        if acquired_at is not None and acquired_at < self._last_change:
            return  # paced at the rate before the last change: says nothing about this one
        if self._i_start is None:
            self._i_start = now
        self._i_answers += 1
        self._i_throttled += throttled
        answers = self._i_answers
        if (
            answers >= self.interval_answers
            or (self._i_throttled >= 10 and 2 * self._i_throttled >= answers)  # heavy: react now
            or (  # some throttling while none is expected: react early too
                self._i_throttled >= 4
                and answers >= 10
                and not self._noise_seen
                and 5 * self._i_throttled >= answers
            )
            or (answers >= 5 and now - self._i_start >= self.interval_seconds)
        ):
            self._close_interval(now)

    def _close_interval(self, now: float) -> None:
        answers, throttled = self._i_answers, self._i_throttled
        interval = max(now - (self._i_start or now), 1e-3)
        self._i_start, self._i_answers, self._i_throttled = None, 0, 0
        share = throttled / answers
        answer_rate = answers / interval
        accepted_rate = (answers - throttled) / interval
        pending, self._pending = self._pending, None
        if pending is not None:
            if self._undo_if_noise(now, pending, share, answers, answer_rate, accepted_rate):
                return
            if self._noise_seen:
                # The decrease held: a rate limit after all. What is left at the lower rate
                # bounds the noise; after a suspected limit, start learning it afresh.
                self.noise = 0.0 if self._testing_limit else min(self.noise, share)
                self._noise_seen = self.noise > 0.0
            self._testing_limit = False
        if throttled < 2 or share <= self.noise + self._margin(self.noise, answers):
            if self._noise_seen:
                # Once throttling independent of the rate has been seen, follow its level
                # (only with shares that look like it: more is a rate signal, not noise).
                self.noise = min(self.max_noise, self.noise + 0.1 * (share - self.noise))
                if throttled >= 2 and self._limit_suspected(answer_rate, accepted_rate):
                    # Tolerated throttling may hide a rate limit reached since: test again.
                    self._testing_limit = True
                    self._lower(now, accepted_rate, answer_rate, share)
            return
        if share > 0.5 or now - self._last_decrease >= self.cooldown:
            self._lower(now, accepted_rate, answer_rate, share)

    def _limit_suspected(self, answer_rate: float, accepted_rate: float) -> bool:
        """Whether sending more has stopped bringing more accepted answers (a rate limit).

        Under noise the accepted rate grows with the sent rate; under a limit it stays flat.
        Compared, smoothed, with the rates when the noise was last confirmed.
        """
        sent = self._sent_avg = (
            answer_rate if self._sent_avg is None else 0.7 * self._sent_avg + 0.3 * answer_rate
        )
        got = self._got_avg = (
            accepted_rate if self._got_avg is None else 0.7 * self._got_avg + 0.3 * accepted_rate
        )
        reference = self._noise_reference
        if reference is None:
            self._noise_reference = (sent, got)
            return False
        return sent >= 1.15 * reference[0] and got < 1.05 * reference[1]

    def _undo_if_noise(
        self,
        now: float,
        pending: tuple[float | None, float | None, float, float, float],
        share: float,
        answers: int,
        answer_rate: float,
        accepted_rate: float,
    ) -> bool:
        """Check the last decrease; undo it when throttling did not depend on the rate.

        After sending less, a rate limit predicts less throttling (the server still accepts
        the same number per second); throttles that do not depend on the rate predict the
        same share. Noise only when the share is clearly above the limit's prediction, not
        clearly above the share before, and nearer to it. Only a real drop in what was sent
        tests anything. A fluke near a limit can pass for noise: then
        :meth:`_limit_suspected` catches the limit again.
        """
        before_rate, before_ceiling, before_share, before_answer_rate, before_accepted_rate = pending
        if before_share > 0.5 or share > 0.5 or answer_rate > 0.92 * before_answer_rate:
            return False  # no test: heavy throttling, or not less was sent
        if accepted_rate > 0.97 * before_accepted_rate:
            return False  # as many accepted as before with less sent: the mark of a rate limit
        predicted = max(0.0, 1.0 - (1.0 - before_share) * before_answer_rate / answer_rate)
        if (
            share > before_share + self._margin(before_share, answers)
            or share <= predicted + self._margin(max(predicted, 0.05), answers)
            or share <= self.noise
            or abs(share - before_share) >= abs(share - predicted)
        ):
            return False  # a rate limit explains it
        self.noise = min(self.max_noise, max(self.noise, (share + before_share) / 2))
        self._noise_seen = True
        self._noise_reference = None  # taken afresh at the next tolerated interval
        self._sent_avg = self._got_avg = None
        self.rate, self.ceiling = before_rate, before_ceiling
        self._settled = before_rate
        self.undone += 1
        self._last_change = now
        return True

    def _lower(self, now: float, accepted_rate: float, answer_rate: float, share: float) -> None:
        rate = self.rate
        # What was really sent: retry backoff may keep requests below the configured rate.
        sent = answer_rate if rate is None else min(rate, answer_rate)
        # Towards what the server accepted, by at least the gentle `decrease` and at most to
        # a half (a quarter when most answers were throttled) at once.
        floor = 0.25 if share > 0.5 else 0.5
        new_rate = min(self.decrease * sent, max(0.95 * accepted_rate, floor * sent))
        if self._first_throttle is not None and now - self._first_throttle >= self.window:
            # Never below what it has been accepting over the last window: a fixed-window
            # limiter stays shut whatever the rate until it reopens.
            new_rate = max(new_rate, self.decrease * len(self._accepted) / self.window)
        if self.rate is not None:  # the first decrease, from unlimited, meets a burst: not tested
            self._pending = (self.rate, self.ceiling, share, answer_rate, accepted_rate)
        self.ceiling = sent
        self.rate = self._settled = max(self.min_rate, min(self.max_rate, new_rate))
        self.decreases += 1
        self._resumed_at = -math.inf  # the limit met again: the search may go on as usual
        self._last_change = self._last_decrease = now
        self._last_growth = now
        self._next_at = max(self._next_at, now)
        self._waited_until = now + 1.0

    def _grow(self, now: float) -> None:
        rate = self.rate
        if rate is None:
            return
        elapsed = now - self._last_growth
        self._last_growth = now
        if elapsed <= 0 or now > self._waited_until:
            return  # not limited by the rate: no evidence that more would pass
        elapsed = min(elapsed, 1.0)
        ceiling = self.ceiling or rate
        if rate < 0.95 * ceiling:  # well below the last limit: recover quickly
            rate += self.recover * ceiling * elapsed
        elif rate < 1.05 * ceiling or now - self._resumed_at < self.hold:
            # near it, or past it soon after a pause (a limiter's refilled burst hides the
            # limit for a while: a quick search would overshoot into it): probe slowly
            rate += self.probe * ceiling * elapsed
        else:  # past it without a decrease: the limit is higher, search multiplicatively
            rate *= 1.0 + self.accelerate * elapsed
        self.rate = min(self.max_rate, rate)


_ACCOUNT_RATES: dict[tuple[str, str], AdaptiveRate] = {}
_ACCOUNT_RATES_LOCK = threading.Lock()


def account_rate(endpoint: str, account: str) -> AdaptiveRate:
    """The adaptive rate of one account at one endpoint, kept for the life of the process.

    ICE limits requests per account (and API), not per client object: every client made
    for the same ``endpoint`` and ``account`` (see ``CredentialsProvider.account``) shares
    one controller, so what a batch learned about the limit paces the next batch, a watch
    running beside it, and a card's refresh. Measured with ``bench/bench_fetch.py`` (phase
    2): a second batch on a throttled account no longer starts with a burst.
    """
    key = (endpoint, account)
    with _ACCOUNT_RATES_LOCK:
        rate = _ACCOUNT_RATES.get(key)
        if rate is None:
            rate = _ACCOUNT_RATES[key] = AdaptiveRate()
        return rate


def forget_learned_rates() -> int:
    """Forget every account's learned rate (and ``max_rate``); return how many were kept.

    Clients made afterwards start unlimited again, as in a new kernel; clients that exist
    keep the controller they have. For a raised quota, a test, or a benchmark's fresh start.
    """
    with _ACCOUNT_RATES_LOCK:
        count = len(_ACCOUNT_RATES)
        _ACCOUNT_RATES.clear()
        return count


# --------------------------------------------------------------------------- calls


@dataclass
class ClientStats:
    """Counters of one client: ``requests`` sent, ``retries``, ``throttled`` answers, ``errors`` raised."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    errors: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict."""
        return {
            "requests": self.requests,
            "retries": self.retries,
            "throttled": self.throttled,
            "errors": self.errors,
            "by_code": dict(self.by_code),
        }


T = TypeVar("T")


class Call(Generic[T]):
    """One API call across its attempts; the front ends drive it::

    call = Call(...)
    while True:
        sleep(call.wait(now()))
        request = call.request(credential)
        try:
            status, headers, body = send(request)
        except <transport failure> as exc:
            delay = call.failed(now(), mapped_error)   # raises when not retried
        else:
            done, value, delay = call.answered(now(), status, headers, body)
            if done: return value
        sleep(delay)
    """

    __slots__ = (
        "_rng",
        "acquired_at",
        "action",
        "attempt",
        "builder",
        "credential",
        "credentials_source",
        "idempotent",
        "max_retries",
        "nonce_retried",
        "params",
        "parse",
        "rate",
        "renew",
        "renewed",
        "stats",
    )

    def __init__(
        self,
        action: str,
        params: Mapping[str, str],
        parse: Callable[[dict[str, Any]], T],
        *,
        builder: RequestBuilder,
        rate: AdaptiveRate,
        stats: ClientStats,
        max_retries: int,
        idempotent: bool = True,
        credentials_source: str | None = None,
        rng: Callable[[], float] = random.random,
        renew: Callable[[Credential], bool] | None = None,
    ) -> None:
        self.action = action
        self.params = params
        self.parse = parse
        self.builder = builder
        self.rate = rate
        self.stats = stats
        self.max_retries = max_retries
        self.idempotent = idempotent
        self.credentials_source = credentials_source
        self.attempt = 0
        self.nonce_retried = False
        self.acquired_at = 0.0
        self._rng = rng
        # A token that expires while a request is in flight: the provider is told
        # (``renew(credential)`` -> True when new credentials may come) and the request is
        # signed again once, not counted as an error.
        self.renew = renew
        self.renewed = False
        self.credential: Credential | None = None

    def wait(self, now: float) -> float:
        """Seconds to wait for the shared rate before the next attempt."""
        self.acquired_at = now
        return self.rate.acquire(now)

    def request(self, credential: Credential, now: float) -> PreparedRequest:
        """A freshly signed request (new nonce and date) for the next attempt."""
        self.attempt += 1
        stats = self.stats
        with stats.lock:
            stats.requests += 1
        self.credential = credential
        return self.builder.build(self.action, self.params, credential)

    def answered(
        self, now: float, status: int, headers: Mapping[str, str], body: bytes
    ) -> tuple[Literal[True], T, float] | tuple[Literal[False], None, float]:
        """Handle an answer: ``(True, value, 0)`` or ``(False, None, delay)`` to retry; raises otherwise."""
        try:
            data = parse_response(
                self.action, status, headers, body, credentials_source=self.credentials_source
            )
            value = self.parse(data)
        except IceError as error:
            return False, None, self.failed(now, error)
        self.rate.on_success(now, self.acquired_at)
        return True, value, 0.0

    def failed(self, now: float, error: IceError) -> float:
        """Handle a failed attempt: return the delay before retrying, or raise ``error``."""
        stats = self.stats
        code = error.code or type(error).__name__
        if (
            code in EXPIRED_TOKEN_CODES
            and not self.renewed
            and self.renew is not None
            and self.credential is not None
            and self.renew(self.credential)
        ):
            self.renewed = True
            with stats.lock:
                stats.by_code[code] = stats.by_code.get(code, 0) + 1
                stats.retries += 1
            logger.debug("ice_widgets: %s: the token expired in flight; signing again", self.action)
            return 0.0
        if isinstance(error, ThrottlingError):
            self.rate.on_throttle(now, self.acquired_at)
        elif isinstance(error, ApiError):
            self.rate.on_success(now, self.acquired_at)  # the server accepted the request rate
        retry = should_retry(
            error,
            self.attempt,
            self.max_retries,
            nonce_retried=self.nonce_retried,
            idempotent=self.idempotent,
        )
        with stats.lock:
            stats.by_code[code] = stats.by_code.get(code, 0) + 1
            if isinstance(error, ThrottlingError):
                stats.throttled += 1
            if retry:
                stats.retries += 1
            else:
                stats.errors += 1
        if not retry:
            named = self.params.get("JobId") or self.params.get("ParentJobId")
            if error.job_id is None and named:
                error.job_id = named  # NotFoundError names the job (a transcode job by ParentJobId)
            if self.attempt > 1 and is_retryable(error, idempotent=self.idempotent):
                error.message = f"{error.message} (gave up after {self.attempt} attempts)"
                error.args = (error.message,)
            raise error
        if error.code == "SignatureNonceUsed":
            self.nonce_retried = True
        delay = retry_delay(self.attempt, error.retry_after, self._rng)
        logger.debug(
            "ice_widgets: %s attempt %d failed with %s; retrying in %.2f s",
            self.action,
            self.attempt,
            code,
            delay,
        )
        return delay


# --------------------------------------------------------------------------- job kinds


@dataclass(frozen=True, slots=True)
class KindApi:
    """The wire names of one job kind's Get, List and Submit operations.

    Read from the official SDK's request and response models (alibabacloud-ice20201109);
    every List has its own paging, time-filter and sort names.
    """

    kind: str
    get_action: str
    #: The request parameter that names the job in Get (``JobId``; ``ParentJobId`` for transcode).
    get_param: str
    #: The key of the job object in a Get answer.
    get_key: str
    list_action: str
    #: The key of the list of jobs in a List answer.
    list_key: str
    token_param: str
    token_key: str
    size_param: str
    start_param: str
    end_param: str
    sort_param: str
    #: ``CreateTimeDesc``/``CreateTimeAsc`` in the kind's own words.
    sort_values: tuple[str, str]
    #: The documented values of the List ``Status`` filter.
    statuses: tuple[str, ...]
    submit_action: str
    #: Whether Submit takes a ``ClientToken`` (then it is sent, and a retry is safe).
    client_token: bool
    #: The widest creation-time range one List accepts (media producing: 30 days), or None.
    max_range: timedelta | None = None


KIND_APIS: dict[str, KindApi] = {
    api.kind: api
    for api in (
        KindApi(
            "package",
            "GetPackageJob",
            "JobId",
            "PackageJob",
            "ListPackageJobs",
            "PackageJobList",
            "NextPageToken",
            "NextPageToken",
            "PageSize",
            "StartOfCreateTime",
            "EndOfCreateTime",
            "OrderBy",
            ("CreateTimeDesc", "CreateTimeAsc"),
            ("Init", "Success", "Fail"),
            "SubmitPackageJob",
            False,
        ),
        KindApi(
            "transcode",
            "GetTranscodeJob",
            "ParentJobId",
            "TranscodeParentJob",
            "ListTranscodeJobs",
            "Jobs",
            "NextPageToken",
            "NextPageToken",
            "PageSize",
            "StartOfCreateTime",
            "EndOfCreateTime",
            "OrderBy",
            ("CreateTimeDesc", "CreateTimeAsc"),
            ("Init", "Success", "Fail"),
            "SubmitTranscodeJob",
            True,
        ),
        KindApi(
            "media_producing",
            "GetMediaProducingJob",
            "JobId",
            "MediaProducingJob",
            "ListMediaProducingJobs",
            "MediaProducingJobList",
            "NextToken",
            "NextToken",
            "MaxResults",
            "StartTime",
            "EndTime",
            "SortBy",
            ("CreationTime:Desc", "CreationTime:Asc"),
            ("Init", "Processing", "Success", "Failed"),
            "SubmitMediaProducingJob",
            True,
            timedelta(days=30),
        ),
        KindApi(
            "snapshot",
            "GetSnapshotJob",
            "JobId",
            "SnapshotJob",
            "ListSnapshotJobs",
            "Jobs",
            "NextPageToken",
            "NextPageToken",
            "PageSize",
            "StartOfCreateTime",
            "EndOfCreateTime",
            "OrderBy",
            ("CreateTimeDesc", "CreateTimeAsc"),
            ("Init", "Success", "Fail"),
            "SubmitSnapshotJob",
            False,
        ),
        KindApi(
            "media_convert",
            "GetMediaConvertJob",
            "JobId",
            "Job",
            "ListMediaConvertJobs",
            "Jobs",
            "NextPageToken",
            "NextPageToken",
            "PageSize",
            "StartOfCreateTime",
            "EndOfCreateTime",
            "OrderBy",
            ("CreateTimeDesc", "CreateTimeAsc"),
            ("Inited", "Running", "Complete", "Error", "Cancelled"),
            "SubmitMediaConvertJob",
            True,
        ),
    )
}

#: Largest page every List accepts (PageSize and MaxResults are 1 to 100).
MAX_PAGE_SIZE = 100


def kind_api(kind: str) -> KindApi:
    """The wire names of a job kind; an unknown kind is an :class:`InvalidParameterError`."""
    api = KIND_APIS.get(kind) if isinstance(kind, str) else None
    if api is None:
        raise InvalidParameterError(
            f"unknown job kind {kind!r}: use one of {', '.join(KINDS)}", code="InvalidKind"
        )
    return api


def get_params(kind: str, job_id: str) -> tuple[str, dict[str, str]]:
    """``(action, params)`` of the Get operation of ``kind`` for one job."""
    api = kind_api(kind)
    return api.get_action, {api.get_param: job_id}


def parse_kind_job(kind: str, data: Mapping[str, Any], job_id: str | None = None) -> Job:
    """The job of a Get answer of any kind; checks it is the job asked for.

    Raises
    ------
    InvalidResponseError
        No job object under the kind's key, or one with another ID.
    """
    if kind == "package":
        return parse_package_job(data, job_id)
    api = kind_api(kind)
    raw = data.get(api.get_key)
    request_id = _str_or_none(data.get("RequestId"))
    if not isinstance(raw, dict):
        raise InvalidResponseError(
            f"the answer has no {api.get_key} object" + (f" for job {job_id!r}" if job_id else ""),
            code="InvalidResponse",
            request_id=request_id,
            action=api.get_action,
        )
    job = parse_job(kind, raw)
    if job_id is not None and job.job_id is not None and job.job_id.strip() != job_id.strip():
        raise InvalidResponseError(
            f"asked for {kind} job {job_id!r} but the answer holds job {job.job_id!r}",
            code="JobIdMismatch",
            request_id=request_id,
            action=api.get_action,
        )
    return job


def list_params(
    kind: str,
    *,
    status: str | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    order_by: str = "CreateTimeDesc",
    page_size: int | None = None,
) -> tuple[str, dict[str, str]]:
    """``(action, params)`` of the first List request of ``kind``, in the kind's own names.

    Parameters
    ----------
    kind : str
    status : str, optional
        Sent as ``Status`` unchanged (each kind documents its own values, see
        ``KIND_APIS[kind].statuses``; media convert jobs are filtered by their ``State``).
    start, end : datetime or str, optional
        Creation-time bounds (``StartOfCreateTime``/``EndOfCreateTime``, or
        ``StartTime``/``EndTime`` for media producing); naive datetimes are UTC.
    order_by : str
        ``CreateTimeDesc`` or ``CreateTimeAsc`` (``SortBy=CreationTime:Desc`` for media producing).
    page_size : int, optional
        1 to 100 (``PageSize`` or ``MaxResults``); None means 100.
    """
    api = kind_api(kind)
    if order_by not in ("CreateTimeDesc", "CreateTimeAsc"):
        raise InvalidParameterError(
            f"order_by must be 'CreateTimeDesc' or 'CreateTimeAsc', not {order_by!r}",
            code="InvalidParameter",
            action=api.list_action,
        )
    if page_size is None:
        page_size = MAX_PAGE_SIZE
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise InvalidParameterError(
            f"page_size must be an integer, not {page_size!r}",
            code="InvalidParameter",
            action=api.list_action,
        )
    if status is not None and not isinstance(status, str):
        raise InvalidParameterError(
            f"status must be a string such as {api.statuses[0]!r}, not {status!r}",
            code="InvalidParameter",
            action=api.list_action,
        )
    params = {
        api.sort_param: api.sort_values[0 if order_by == "CreateTimeDesc" else 1],
        api.size_param: str(max(1, min(MAX_PAGE_SIZE, page_size))),
    }
    if status and status.strip():
        params["Status"] = status.strip()
    if start is not None:
        params[api.start_param] = format_time(start)
    if end is not None:
        params[api.end_param] = format_time(end)
    return api.list_action, params


def _as_time(value: datetime | str) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return parse_time(value)


def list_requests(
    kind: str,
    *,
    status: str | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    order_by: str = "CreateTimeDesc",
    page_size: int | None = None,
) -> tuple[str, list[dict[str, str]]]:
    """``(action, [params, ...])``: one listing per time window, each paged on its own.

    A range wider than the kind accepts in one List (media producing: 30 days) is cut into
    consecutive windows that do not overlap (the API's times are whole seconds: a window ends
    one second before the next begins), newest first for ``CreateTimeDesc``. Every other
    listing is a single window. Arguments are checked as :func:`list_params` checks them.
    """
    action, params = list_params(
        kind, status=status, start=start, end=end, order_by=order_by, page_size=page_size
    )
    api = kind_api(kind)
    if api.max_range is None or start is None or end is None:
        return action, [params]
    first, last = _as_time(start), _as_time(end)
    if first is None or last is None or last - first <= api.max_range:
        return action, [params]
    first = first.replace(microsecond=0)
    windows: list[dict[str, str]] = []
    step = api.max_range
    while first <= last:
        upper = min(first + step - timedelta(seconds=1), last)
        windows.append({**params, api.start_param: format_time(first), api.end_param: format_time(upper)})
        first = upper + timedelta(seconds=1)
    if order_by == "CreateTimeDesc":
        windows.reverse()
    return action, windows


def next_page_params(kind: str, params: Mapping[str, str], token: str) -> dict[str, str]:
    """The parameters of the request for the page after ``token``."""
    return {**params, kind_api(kind).token_param: token}


def parse_kind_page(kind: str, data: Mapping[str, Any]) -> tuple[list[Job], str | None]:
    """The jobs and the next-page token (None on the last page) of a List answer of any kind."""
    if kind == "package":
        packaging, next_token = parse_page(data)
        return list[Job](packaging), next_token
    api = kind_api(kind)
    items = data.get(api.list_key)
    if items is None:
        items = []
    if isinstance(items, dict):  # a gateway's wrapped list: {"Job": [...]}
        inner = [value for value in items.values() if isinstance(value, list)]
        items = inner[0] if len(inner) == 1 else None
    if not isinstance(items, list):
        raise InvalidResponseError(
            f"{api.list_key} is not a list",
            code="InvalidResponse",
            request_id=_str_or_none(data.get("RequestId")),
            action=api.list_action,
        )
    model = model_for(kind)
    jobs: list[Job] = [model.from_api(item) for item in items if isinstance(item, dict)]
    return jobs, _str_or_none(data.get(api.token_key))


def parse_submitted_id(kind: str, data: Mapping[str, Any]) -> str:
    """The ID of the job a Submit answer created: ``JobId``, ``TranscodeParentJob.ParentJobId``
    (transcode) or ``Job.JobId`` (media convert)."""
    api = kind_api(kind)
    if kind == "transcode":
        parent = data.get("TranscodeParentJob")
        value = parent.get("ParentJobId") if isinstance(parent, dict) else None
    elif kind == "media_convert":
        job = data.get("Job")
        value = job.get("JobId") if isinstance(job, dict) else None
    else:
        value = data.get("JobId")
    job_id = _str_or_none(value)
    if job_id is None:
        raise InvalidResponseError(
            "the answer has no ID of the created job",
            code="InvalidResponse",
            request_id=_str_or_none(data.get("RequestId")),
            action=api.submit_action,
        )
    return job_id


# --------------------------------------------------------------------------- submit parameters

#: A media object as callers write it: ``"oss://bucket/key"`` (or an http(s) URL: type OSS),
#: a media ID (type Media), a ``(type, media)`` pair, or ``{"Type": ..., "Media": ...}``.
MediaSpec = str | tuple[str, str] | Mapping[str, Any]


def _media_type(media: str) -> str:
    lowered = media.strip().lower()
    return "OSS" if lowered.startswith(("oss://", "http://", "https://")) else "Media"


def media_object(spec: MediaSpec) -> dict[str, str]:
    """``{"Type": ..., "Media": ...}`` from a :data:`MediaSpec` (``{"Input": {...}}`` is unwrapped).

    Raises
    ------
    InvalidParameterError
        For anything else, naming what was given.
    """
    if isinstance(spec, str):
        if not spec.strip():
            raise InvalidParameterError("a media location must not be empty", code="InvalidParameter")
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


def _one_or_many(value: Any) -> list[Any]:
    """A single media spec (string, pair of strings, dict) as a one-item list; lists pass."""
    if isinstance(value, (str, Mapping)) or (
        isinstance(value, tuple) and len(value) == 2 and all(isinstance(x, str) for x in value)
    ):
        return [value]
    if value is None:
        return []
    try:
        return list(value)
    except TypeError:
        raise InvalidParameterError(
            f"expected a media location or a list of them, not {type(value).__name__}",
            code="InvalidParameter",
        ) from None


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_param(value: Any, name: str, action: str) -> str:
    """A JSON-valued parameter: a string is sent as given, a dict or list as compact JSON."""
    if isinstance(value, str):
        if not value.strip():
            raise InvalidParameterError(f"{name} must not be empty", code="InvalidParameter", action=action)
        return value
    if isinstance(value, (Mapping, list, tuple)):
        return _compact_json(dict(value) if isinstance(value, Mapping) else list(value))
    raise InvalidParameterError(
        f"{name} must be a JSON string, a dict or a list, not {type(value).__name__}",
        code="InvalidParameter",
        action=action,
    )


def _common_submit(
    params: dict[str, str],
    api: KindApi,
    *,
    name: str | None = None,
    user_data: str | Mapping[str, Any] | None = None,
    client_token: str | None = None,
) -> dict[str, str]:
    if name is not None:
        params["Name"] = name
    if user_data is not None:
        params["UserData"] = _json_param(user_data, "user_data", api.submit_action)
    if api.client_token:
        # The same token on every attempt: the service creates the job once, so a retry is safe.
        params["ClientToken"] = client_token or uuid.uuid4().hex
    return params


def _schedule(pipeline_id: str | None, priority: int | None, action: str) -> dict[str, Any]:
    schedule: dict[str, Any] = {}
    if pipeline_id is not None:
        schedule["PipelineId"] = pipeline_id
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 10:
            raise InvalidParameterError(
                f"priority must be an integer from 1 to 10, not {priority!r}",
                code="InvalidParameter",
                action=action,
            )
        schedule["Priority"] = priority
    return schedule


def transcode_submit_params(
    inputs: Any,
    outputs: Any,
    *,
    template_id: str | None = None,
    name: str | None = None,
    user_data: str | Mapping[str, Any] | None = None,
    pipeline_id: str | None = None,
    priority: int | None = None,
    client_token: str | None = None,
) -> dict[str, str]:
    """SubmitTranscodeJob parameters: ``InputGroup``, ``OutputGroup``, ``ScheduleConfig``, ...

    Each output is a media spec (transcoded with ``template_id``), ``{"Output": spec,
    "TemplateId": ...}``, or a full ``OutputGroup`` item ``{"Output": {...}, "ProcessConfig":
    {...}}`` (sent as given, with ``template_id`` filled in when it has none).
    """
    action = "SubmitTranscodeJob"
    input_group = [media_object(spec) for spec in _one_or_many(inputs)]
    if not input_group:
        raise InvalidParameterError("at least one input is needed", code="MissingInputs", action=action)
    output_group = []
    for index, spec in enumerate(_one_or_many(outputs)):
        if isinstance(spec, Mapping) and "Output" in spec:
            item = {k: v for k, v in spec.items() if k != "TemplateId"}
            item["Output"] = media_object(spec["Output"])
            process = dict(spec.get("ProcessConfig") or {})
            transcode = dict(process.get("Transcode") or {})
            chosen = transcode.get("TemplateId") or spec.get("TemplateId") or template_id
            if chosen:
                transcode["TemplateId"] = chosen
            process["Transcode"] = transcode
            item["ProcessConfig"] = process
        else:
            item = {"Output": media_object(spec), "ProcessConfig": {"Transcode": {"TemplateId": template_id}}}
        if not item["ProcessConfig"]["Transcode"].get("TemplateId"):
            raise InvalidParameterError(
                f"output {index} has no transcode template: pass template_id=... (e.g. 'S00000001-200010') "
                "or give the output as {'Output': ..., 'TemplateId': ...}",
                code="MissingTemplateId",
                action=action,
            )
        output_group.append(item)
    if not output_group:
        raise InvalidParameterError("at least one output is needed", code="MissingOutputs", action=action)
    api = kind_api("transcode")
    params = {"InputGroup": _compact_json(input_group), "OutputGroup": _compact_json(output_group)}
    schedule = _schedule(pipeline_id, priority, action)
    if schedule:
        params["ScheduleConfig"] = _compact_json(schedule)
    return _common_submit(params, api, name=name, user_data=user_data, client_token=client_token)


def media_producing_submit_params(
    output: str | Mapping[str, Any],
    *,
    timeline: str | Mapping[str, Any] | None = None,
    template_id: str | None = None,
    clips_param: str | Mapping[str, Any] | None = None,
    project_id: str | None = None,
    output_target: str | None = None,
    user_data: str | Mapping[str, Any] | None = None,
    client_token: str | None = None,
) -> dict[str, str]:
    """SubmitMediaProducingJob parameters.

    ``output`` is the ``OutputMediaConfig``: a URL string becomes ``{"MediaURL": url}``;
    exactly one of ``timeline``, ``template_id`` (with ``clips_param``) and ``project_id``.
    """
    action = "SubmitMediaProducingJob"
    chosen = [
        n for n, v in (("timeline", timeline), ("template_id", template_id), ("project_id", project_id)) if v
    ]
    if len(chosen) != 1:
        raise InvalidParameterError(
            "give exactly one of timeline, template_id (with clips_param) and project_id"
            + (f"; got {', '.join(chosen)}" if chosen else ""),
            code="InvalidParameter",
            action=action,
        )
    if template_id and not clips_param:
        raise InvalidParameterError(
            "a template job needs clips_param (the template's materials)",
            code="MissingClipsParam",
            action=action,
        )
    if isinstance(output, str):
        if not output.strip():
            raise InvalidParameterError("output must not be empty", code="InvalidParameter", action=action)
        config: Any = {"MediaURL": output}
    else:
        config = output
    params = {"OutputMediaConfig": _json_param(config, "output", action)}
    if timeline:
        params["Timeline"] = _json_param(timeline, "timeline", action)
    if template_id:
        params["TemplateId"] = template_id
    if clips_param:
        params["ClipsParam"] = _json_param(clips_param, "clips_param", action)
    if project_id:
        params["ProjectId"] = project_id
    if output_target:
        params["OutputMediaTarget"] = output_target
    return _common_submit(params, kind_api("media_producing"), user_data=user_data, client_token=client_token)


def snapshot_submit_params(
    input: MediaSpec,
    output: MediaSpec,
    *,
    template_id: str,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
    user_data: str | Mapping[str, Any] | None = None,
    pipeline_id: str | None = None,
) -> dict[str, str]:
    """SubmitSnapshotJob parameters: ``Input``, ``Output``, ``TemplateConfig`` (``TemplateId``
    and ``OverwriteParams`` from ``overrides``, e.g. ``{"Type": "Sprite", "Count": 10}``)."""
    action = "SubmitSnapshotJob"
    if not template_id or not isinstance(template_id, str):
        raise InvalidParameterError(
            "a snapshot job needs template_id (a snapshot template ID)",
            code="MissingTemplateId",
            action=action,
        )
    template: dict[str, Any] = {"TemplateId": template_id}
    if overrides:
        template["OverwriteParams"] = dict(overrides)
    params = {
        "Input": _compact_json(media_object(input)),
        "Output": _compact_json(media_object(output)),
        "TemplateConfig": _compact_json(template),
    }
    schedule = _schedule(pipeline_id, None, action)
    if schedule:
        params["ScheduleConfig"] = _compact_json(schedule)
    return _common_submit(params, kind_api("snapshot"), name=name, user_data=user_data)


def media_convert_submit_params(
    inputs: Any = None,
    outputs: Any = None,
    *,
    template_id: str | None = None,
    name: str | None = None,
    config: str | Mapping[str, Any] | None = None,
    user_data: str | Mapping[str, Any] | None = None,
    pipeline_id: str | None = None,
    client_token: str | None = None,
) -> dict[str, str]:
    """SubmitMediaConvertJob parameters: a ``Config`` (MediaConvertJobConfig) given whole, or
    built from ``inputs`` and ``outputs`` (media specs, each output with ``template_id``, or
    ``MediaConvertOutput`` dicts with ``OutputFile`` and ``TemplateId``)."""
    action = "SubmitMediaConvertJob"
    if config is not None:
        if inputs is not None or outputs is not None:
            raise InvalidParameterError(
                "give either config or inputs and outputs, not both", code="InvalidParameter", action=action
            )
        if isinstance(config, Mapping) and name is not None and "JobName" not in config:
            config = {**config, "JobName": name}
        body = _json_param(config, "config", action)
    else:
        sources = [
            {"Name": f"input{i}", "InputFile": media_object(spec)}
            for i, spec in enumerate(_one_or_many(inputs))
        ]
        if not sources:
            raise InvalidParameterError("at least one input is needed", code="MissingInputs", action=action)
        targets = []
        for index, spec in enumerate(_one_or_many(outputs)):
            if isinstance(spec, Mapping) and "OutputFile" in spec:
                item = dict(spec)
                item["OutputFile"] = media_object(spec["OutputFile"])
                item.setdefault("Name", f"output{index}")
                if template_id and not item.get("TemplateId"):
                    item["TemplateId"] = template_id
            else:
                item = {"Name": f"output{index}", "OutputFile": media_object(spec), "TemplateId": template_id}
            if not item.get("TemplateId"):
                raise InvalidParameterError(
                    f"output {index} has no transcode template: pass template_id=...",
                    code="MissingTemplateId",
                    action=action,
                )
            targets.append(item)
        if not targets:
            raise InvalidParameterError("at least one output is needed", code="MissingOutputs", action=action)
        built: dict[str, Any] = {"Inputs": sources, "Outputs": targets}
        if name is not None:
            built["JobName"] = name
        body = _compact_json(built)
    params = {"Config": body}
    if pipeline_id is not None:
        params["PipelineId"] = pipeline_id
    return _common_submit(params, kind_api("media_convert"), user_data=user_data, client_token=client_token)


def is_idempotent(action: str, params: Mapping[str, str]) -> bool:
    """Whether sending ``action`` twice is harmless: reads are; a Submit only with a ``ClientToken``."""
    return not action.startswith("Submit") or bool(params.get("ClientToken"))
