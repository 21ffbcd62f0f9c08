"""The ICE emulator's HTTP/1.1 server, request authentication, API handlers and faults.

A hand-written :class:`asyncio.Protocol` server: keep-alive, pipelining (answers in
order), ``Content-Length`` bodies, and hard caps on the request line, the header block
and the body. Every answer is JSON, errors included, as ICE answers.

Error answers (HTTP status, ``Code``), as Alibaba Cloud's gateway gives them:

======  ===========================================  ==========================================
status  Code                                         when
======  ===========================================  ==========================================
400     MissingParameter                             no signature at all, or a required
                                                     parameter/header is missing
400     IncompleteSignature                          an Authorization header that cannot be
                                                     parsed, an unsupported signature method
404     InvalidAccessKeyId.NotFound                  unknown access key ID
400     SignatureDoesNotMatch                        wrong secret or tampered request
400     SignatureNonceUsed                           a nonce seen before (within 15 minutes)
400     InvalidTimeStamp.Expired                     x-acs-date / Timestamp over 15 min off
400     InvalidTimeStamp.Format                      a date that cannot be parsed
400     MissingSecurityToken                         the key is an STS key, no token sent
400     InvalidSecurityToken.Malformed               a token that is not the configured one
400     InvalidSecurityToken.Expired                 a token configured as expired
400     InvalidSecurityToken.MismatchWithAccessKey   a token sent with a long-term key
404     InvalidAction.NotFound                       unknown action, or a path other than /
400     InvalidVersion                               a version other than 2020-11-09
400     InvalidParameter                             PageSize, OrderBy, times, tokens, JSON...
404     InvalidParameter.ResourceNotFound            GetPackageJob for a job that does not
                                                     exist (ICE does not document this code;
                                                     related services use it with 404)
400     Throttling.User                              beyond ``qps`` (token bucket) or an
                                                     injected throttle; with
                                                     ``x-acs-retry-after`` in milliseconds,
                                                     as the official SDK reads it
503     ServiceUnavailable                           injected fault
500     InternalError                                injected fault
405     UnsupportedHTTPMethod                        a method other than GET/POST
400/411/413/414/431  BadRequest, LengthRequired,     malformed HTTP, chunked bodies, caps;
        RequestEntityTooLarge, RequestURITooLong,    the connection is closed afterwards
        RequestHeaderFieldsTooLarge
======  ===========================================  ==========================================
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from ice_widgets import _signing
from ice_widgets.emulator._constants import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from ice_widgets.emulator._data import ApiError, JobStore, _dumps, parse_api_time
from ice_widgets.emulator._kinds import KIND_SPECS, KINDS, OTHER_KINDS

__all__ = [
    "FAULT_KINDS",
    "Emulator",
    "EmulatorProcess",
    "Settings",
    "Stats",
    "build_parser",
    "main",
    "serve",
    "start_subprocess",
]

API_VERSION = "2020-11-09"
PACKAGE_ACTIONS = ("GetPackageJob", "ListPackageJobs", "SubmitPackageJob")
#: action -> (kind, what it does): every action the emulator serves.
KIND_ACTIONS: dict[str, tuple[str, str]] = {
    **{
        action: ("package", verb)
        for action, verb in zip(PACKAGE_ACTIONS, ("get", "list", "submit"), strict=True)
    },
    **{
        action: (spec.kind, verb)
        for spec in KIND_SPECS.values()
        for action, verb in zip(
            (spec.get_action, spec.list_action, spec.submit_action), ("get", "list", "submit"), strict=True
        )
    },
}
ACTIONS: tuple[str, ...] = tuple(KIND_ACTIONS)
FAULT_KINDS: tuple[str, ...] = ("throttle", "503", "500", "drop", "truncate", "slow")
#: Largest request line (method, target, version) accepted: beyond it, 414.
MAX_REQUEST_LINE = 32 * 1024
#: Largest header block (request line included): beyond it, 431.
MAX_HEADER_BYTES = 64 * 1024
#: Largest body: beyond it, 413.
MAX_BODY_BYTES = 1024 * 1024
#: Largest number of headers.
MAX_HEADERS = 100
#: Requests parsed but not yet answered on one connection before reading pauses.
MAX_PIPELINED = 256
#: Allowed clock difference for x-acs-date / Timestamp, and how long nonces are kept.
SKEW_SECONDS = 15 * 60
#: Most nonces remembered (oldest forgotten first beyond this).
MAX_NONCES = 2_000_000
#: Idle keep-alive connections and incomplete requests are closed after this long.
IDLE_TIMEOUT = 75.0
#: After answering with ``Connection: close``, how long to keep reading (and dropping) input.
LINGER_SECONDS = 2.0
_TOKEN_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
LISTEN_LINE = "ICE emulator listening on {endpoint}"

_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}

_MESSAGES = {
    "SignatureDoesNotMatch": "Specified signature is not matched with our calculation.",
    "InvalidAccessKeyId.NotFound": "Specified access key is not found.",
    "SignatureNonceUsed": "Specified signature nonce was used already.",
    "InvalidTimeStamp.Expired": "Specified time stamp or date value is expired.",
    "InvalidTimeStamp.Format": "Specified time stamp or date value is not well formatted.",
    "IncompleteSignature": "The request signature does not conform to Aliyun standards.",
    "MissingSecurityToken": "SecurityToken is mandatory for this request.",
    "InvalidSecurityToken.Malformed": "Specified SecurityToken is malformed.",
    "InvalidSecurityToken.Expired": "Specified SecurityToken is expired.",
    "InvalidSecurityToken.MismatchWithAccessKey": "Specified SecurityToken mismatch with the AccessKey.",
    "InvalidAction.NotFound": "Specified api is not found, please check your url and method.",
    "InvalidVersion": "Specified parameter Version is not valid.",
    "Throttling.User": "Request was denied due to user flow control.",
    "ServiceUnavailable": "The request has failed due to a temporary failure of the server.",
    "InternalError": "The request processing has failed due to some unknown error, exception or failure.",
    "InvalidParameter.ResourceNotFound": "The specified resource is not found.",
    "UnsupportedHTTPMethod": "The specified HTTP method is not supported.",
}


def _api_error(status: int, code: str, message: str | None = None) -> ApiError:
    return ApiError(status, code, message or _MESSAGES.get(code, code))


def _missing(name: str) -> ApiError:
    return ApiError(
        400,
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request is not supplied.',
    )


def _invalid(name: str, detail: str = "") -> ApiError:
    suffix = f" {detail}" if detail else ""
    return ApiError(400, "InvalidParameter", f"The specified parameter {name} is not valid.{suffix}")


# ---------------------------------------------------------------------------------------------
# settings and counters


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Run-time settings of the emulator; change them with ``Emulator.configure``."""

    access_key_id: str = DEFAULT_ACCESS_KEY_ID
    access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET
    security_token: str | None = None
    expired_security_tokens: frozenset[str] = frozenset()
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULT_KINDS
    slow_ms: float = 15000.0
    qps: float | None = None
    check_nonce: bool = True
    check_time: bool = True
    #: An ``emulator._sts.StsIssuer``: its temporary keys are accepted until they expire.
    sts: Any = None

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("access_key_id", "latency_ms", "fault_rate", "faults", "slow_ms", "qps")
        )
        token = "***" if self.security_token else None
        return f"Settings({shown}, access_key_secret=***, security_token={token})"

    def validated(self) -> Settings:
        unknown = [kind for kind in self.faults if kind not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; choose from {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        if self.qps is not None and self.qps <= 0:
            raise ValueError("qps must be positive (or None for no limit)")
        if self.latency_ms < 0 or self.slow_ms < 0:
            raise ValueError("latency_ms and slow_ms must not be negative")
        return self


@dataclass
class Stats:
    """Counters of what the server did (read them from any thread)."""

    connections: int = 0
    accepted: int = 0  # TCP connections accepted; with TLS also those whose handshake failed
    requests: int = 0
    responses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    # keys known in advance are present from the start (at 0), so that another thread
    # iterating over these counters never sees them change size
    actions: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(ACTIONS, 0)))
    faults: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(FAULT_KINDS, 0)))
    signatures: Counter[str] = field(default_factory=lambda: Counter({"ACS3-HMAC-SHA256": 0, "HMAC-SHA1": 0}))
    throttled: int = 0
    submitted: int = 0
    internal_errors: int = 0  # bugs caught by the last-resort handler (should stay 0)

    @property
    def faults_injected(self) -> int:
        """Total number of injected faults, all kinds."""
        return sum(self.faults.values())

    def snapshot(self) -> dict[str, Any]:
        """A plain dict copy of the counters."""
        return {
            "connections": self.connections,
            "accepted": self.accepted,
            "requests": self.requests,
            "responses": dict(self.responses),
            "codes": dict(self.codes),
            "actions": dict(self.actions),
            "faults": dict(self.faults),
            "faults_injected": self.faults_injected,
            "signatures": dict(self.signatures),
            "throttled": self.throttled,
            "submitted": self.submitted,
            "internal_errors": self.internal_errors,
        }


class _TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class _Nonces:
    """Nonces seen within the skew window (bounded)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._order: deque[tuple[float, str]] = deque()

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, nonce: str) -> bool:
        return nonce in self._seen

    def add(self, nonce: str, now: float) -> None:
        order = self._order
        horizon = now - 2 * SKEW_SECONDS
        while order and (order[0][0] < horizon or len(order) >= MAX_NONCES):
            self._seen.discard(order.popleft()[1])
        self._seen.add(nonce)
        order.append((now, nonce))


# ---------------------------------------------------------------------------------------------
# the application: authentication and actions


class _Request(NamedTuple):
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    fault: str | None = None  # drop / truncate / slow
    delay: float = 0.0
    head_only: bool = False  # an answer to HEAD: headers, no body


class _App:
    """Turns parsed requests into answers. Runs on the event loop thread only."""

    def __init__(
        self, store: JobStore, settings: Settings, seed: int, stores: Callable[[str], JobStore] | None = None
    ) -> None:
        self.store = store
        #: the store of a kind (created on first use); packaging is ``store``
        self.store_of: Callable[[str], JobStore] = stores or (lambda kind: store)
        self.settings = settings
        self.stats = Stats()
        self.nonces = _Nonces()
        self.bucket: _TokenBucket | None = _TokenBucket(settings.qps) if settings.qps else None
        self.fault_rng = random.Random(f"faults-{seed}")
        self._rid_prefix = f"{random.Random(seed).getrandbits(64):016X}"
        self._rid_counter = 0
        self.host_id = "ice.cn-shanghai.aliyuncs.com"

    def apply(self, settings: Settings) -> None:
        old = self.settings
        self.settings = settings
        if settings.qps != old.qps:
            self.bucket = _TokenBucket(settings.qps) if settings.qps else None

    def request_id(self) -> str:
        self._rid_counter += 1
        p = self._rid_prefix
        n = f"{self._rid_counter:012X}"
        return f"{p[:8]}-{p[8:12]}-{p[12:16]}-{n[:4]}-{n[4:]}{p[:4]}"[:36]

    # -- answers ------------------------------------------------------------------------------

    def ok(self, payload: bytes, request_id: str) -> _Answer:
        body = b'{"RequestId":"' + request_id.encode() + b'",' + payload + b"}"
        self.stats.responses[200] += 1
        return _Answer(200, body, [("x-acs-request-id", request_id)])

    def error(self, err: ApiError, request_id: str | None = None) -> _Answer:
        request_id = request_id or self.request_id()
        body = json.dumps(
            {
                "RequestId": request_id,
                "HostId": self.host_id,
                "Code": err.code,
                "Message": err.message,
                "Recommend": (
                    f"https://api.aliyun.com/troubleshoot?q={err.code}&product=ICE&requestId={request_id}"
                ),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        self.stats.responses[err.status] += 1
        self.stats.codes[err.code] += 1
        headers = [("x-acs-request-id", request_id), *err.headers.items()]
        return _Answer(err.status, body, headers)

    # -- the pipeline -------------------------------------------------------------------------

    def handle(self, req: _Request) -> _Answer:
        """Answer one request (never raises)."""
        self.stats.requests += 1
        settings = self.settings
        fault = self._pick_fault(settings)
        if fault in ("throttle", "503", "500"):
            self.stats.faults[fault] += 1
            answer = self._fault_answer(fault)
            fault = None
        else:
            try:
                answer = self._dispatch(req, settings)
            except ApiError as err:
                answer = self.error(err)
            except Exception as exc:  # a bug must not take the server down
                self.stats.internal_errors += 1
                print(f"ice emulator: internal error: {exc!r}", file=sys.stderr, flush=True)
                answer = self.error(_api_error(500, "InternalError"))
        if settings.latency_ms:
            answer.delay = settings.latency_ms / 1000.0
        if fault is not None:
            self.stats.faults[fault] += 1
            answer.fault = fault
            if fault == "slow":
                answer.delay += settings.slow_ms / 1000.0
        return answer

    def _pick_fault(self, settings: Settings) -> str | None:
        if settings.fault_rate <= 0 or not settings.faults:
            return None
        rng = self.fault_rng
        if rng.random() >= settings.fault_rate:
            return None
        return settings.faults[rng.randrange(len(settings.faults))]

    def _fault_answer(self, fault: str) -> _Answer:
        if fault == "throttle":
            self.stats.throttled += 1
            err = _api_error(400, "Throttling.User")
            err.headers["x-acs-retry-after"] = str(self.fault_rng.choice((50, 100, 200)))
            return self.error(err)
        if fault == "503":
            return self.error(_api_error(503, "ServiceUnavailable"))
        return self.error(_api_error(500, "InternalError"))

    def _dispatch(self, req: _Request, settings: Settings) -> _Answer:
        if req.method not in ("POST", "GET"):
            err = _api_error(405, "UnsupportedHTTPMethod")
            err.headers["Allow"] = "GET, POST"
            raise err
        if req.path != "/":
            raise _api_error(404, "InvalidAction.NotFound")
        query = _parse_query(req.query)
        params = query
        headers = req.headers
        if req.body and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            try:
                form = _parse_query(req.body.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise _api_error(400, "InvalidParameter", "The request body is not valid UTF-8.") from exc
            params = {**form, **query}
        authorization = headers.get("authorization")
        v3 = authorization is not None
        action = headers.get("x-acs-action") if v3 else params.get("Action")
        if action is None:
            action = params.get("Action") or headers.get("x-acs-action")
        if not action:
            raise _missing("Action")
        version = (headers.get("x-acs-version") if v3 else params.get("Version")) or params.get("Version")
        if action not in ACTIONS:
            raise _api_error(404, "InvalidAction.NotFound")
        if not version:
            raise _missing("Version")
        if version != API_VERSION:
            raise _api_error(400, "InvalidVersion")
        now = time.time()
        if v3:
            assert authorization is not None
            self._verify_v3(req, query, authorization, settings, now)
        elif "Signature" in params:
            self._verify_v1(req, params, settings, now)
        else:
            raise _missing("Signature")
        if self.bucket is not None:
            wait = self.bucket.take()
            if wait:
                self.stats.throttled += 1
                err = _api_error(400, "Throttling.User")
                err.headers["x-acs-retry-after"] = str(max(1, int(wait * 1000 + 0.999)))
                raise err
        self.stats.actions[action] += 1
        kind, verb = KIND_ACTIONS[action]
        if kind != "package":
            store = self.store_of(kind)
            if verb == "get":
                return self._get_kind(store, params)
            if verb == "list":
                return self._list_kind(store, params)
            return self._submit_kind(store, params)
        if verb == "get":
            return self._get(params)
        if verb == "list":
            return self._list(params)
        return self._submit(params)

    # -- authentication -----------------------------------------------------------------------

    def _check_time(self, value: str | None, name: str, settings: Settings, now: float) -> None:
        if value is None:
            raise _missing(name)
        stamp = parse_api_time(value)
        if stamp is None:
            raise _api_error(400, "InvalidTimeStamp.Format")
        if settings.check_time and abs(stamp - now) > SKEW_SECONDS:
            raise _api_error(400, "InvalidTimeStamp.Expired")

    def _check_key(self, access_key_id: str, token: str | None, settings: Settings) -> str:
        """Check the key and token; return the secret the signature must be made with."""
        if settings.sts is not None and settings.sts.knows(access_key_id):
            secret, code = settings.sts.verify(access_key_id, token)
            if code is not None:
                raise _api_error(400, code)
            return str(secret)
        if not _same(access_key_id, settings.access_key_id):
            raise _api_error(404, "InvalidAccessKeyId.NotFound")
        if settings.security_token is None:
            if token:
                raise _api_error(400, "InvalidSecurityToken.MismatchWithAccessKey")
            return settings.access_key_secret
        if not token:
            raise _api_error(400, "MissingSecurityToken")
        if token in settings.expired_security_tokens:
            raise _api_error(400, "InvalidSecurityToken.Expired")
        if not _same(token, settings.security_token):
            raise _api_error(400, "InvalidSecurityToken.Malformed")
        return settings.access_key_secret

    def _check_nonce(self, nonce: str, settings: Settings, now: float) -> None:
        if not settings.check_nonce:
            return
        if nonce in self.nonces:
            raise _api_error(400, "SignatureNonceUsed")
        self.nonces.add(nonce, now)

    def _verify_v3(
        self, req: _Request, query: dict[str, str], authorization: str, settings: Settings, now: float
    ) -> None:
        algorithm, _, rest = authorization.strip().partition(" ")
        if algorithm != _signing.V3_ALGORITHM:
            raise _api_error(400, "IncompleteSignature")
        fields: dict[str, str] = {}
        for part in rest.split(","):
            key, sep, value = part.strip().partition("=")
            if not sep:
                raise _api_error(400, "IncompleteSignature")
            fields[key] = value
        credential = fields.get("Credential")
        signed = fields.get("SignedHeaders")
        signature = fields.get("Signature")
        if not credential or not signed or not signature:
            raise _api_error(400, "IncompleteSignature")
        headers = req.headers
        names = signed.split(";")
        for required in ("x-acs-date", "x-acs-signature-nonce"):
            if required not in headers:
                raise _missing(required)
            if required not in names:
                raise _api_error(400, "IncompleteSignature")
        token = headers.get("x-acs-security-token")
        if token is not None and "x-acs-security-token" not in names:
            raise _api_error(400, "IncompleteSignature")
        key_header = headers.get("x-acs-accesskey-id")
        if key_header is not None and key_header != credential:
            raise _api_error(400, "InvalidSecurityToken.MismatchWithAccessKey")
        secret = self._check_key(credential, token, settings)
        self._check_time(headers.get("x-acs-date"), "x-acs-date", settings, now)
        body_hash = hashlib.sha256(req.body).hexdigest() if req.body else _signing.EMPTY_SHA256
        payload_hash = headers.get("x-acs-content-sha256", body_hash)
        if payload_hash != body_hash:
            raise _api_error(
                400, "SignatureDoesNotMatch", "The x-acs-content-sha256 does not match the body."
            )
        signed_values: dict[str, str] = {}
        for name in names:
            header_value = headers.get(name)
            if header_value is None:
                raise _api_error(400, "SignatureDoesNotMatch")
            signed_values[name] = header_value
        expected, _ = _signing.signature_v3(secret, req.method, req.path, query, signed_values, payload_hash)
        if not _same(expected, signature):
            raise _api_error(400, "SignatureDoesNotMatch")
        self._check_nonce(headers["x-acs-signature-nonce"], settings, now)
        self.stats.signatures["ACS3-HMAC-SHA256"] += 1

    def _verify_v1(self, req: _Request, params: dict[str, str], settings: Settings, now: float) -> None:
        for name in ("AccessKeyId", "SignatureNonce", "Timestamp", "SignatureMethod"):
            if name not in params:
                raise _missing(name)
        if params["SignatureMethod"] != "HMAC-SHA1" or params.get("SignatureVersion", "1.0") != "1.0":
            raise _api_error(400, "IncompleteSignature", "Specified signature method is not supported.")
        secret = self._check_key(params["AccessKeyId"], params.get("SecurityToken"), settings)
        self._check_time(params["Timestamp"], "Timestamp", settings, now)
        expected = _signing.sign_v1(secret, req.method, params)
        if not _same(expected, params["Signature"]):
            raise _api_error(400, "SignatureDoesNotMatch")
        self._check_nonce(params["SignatureNonce"], settings, now)
        self.stats.signatures["HMAC-SHA1"] += 1

    # -- actions ------------------------------------------------------------------------------

    def _get(self, params: Mapping[str, str]) -> _Answer:
        job_id = params.get("JobId")
        if not job_id:
            raise _missing("JobId")
        body = self.store.get_bytes(job_id)
        if body is None:
            raise _api_error(404, "InvalidParameter.ResourceNotFound")
        return self.ok(b'"PackageJob":' + body, self.request_id())

    def _list(self, params: Mapping[str, str]) -> _Answer:
        raw_size = params.get("PageSize", "")
        if raw_size.strip() == "":
            page_size = 20
        else:
            try:
                page_size = int(raw_size)
            except ValueError:
                raise _invalid("PageSize", "It must be an integer from 0 to 100.") from None
            if not 0 <= page_size <= 100:
                raise _invalid("PageSize", "It must be an integer from 0 to 100.")
            if page_size == 0:
                page_size = 20
        order = params.get("OrderBy") or "CreateTimeDesc"
        if order not in ("CreateTimeDesc", "CreateTimeAsc"):
            raise _invalid("OrderBy", "Valid values: CreateTimeDesc, CreateTimeAsc.")
        bounds: list[float | None] = []
        for name in ("StartOfCreateTime", "EndOfCreateTime"):
            value = params.get(name)
            if value:
                stamp = parse_api_time(value)
                if stamp is None:
                    raise _invalid(name, "The format is yyyy-MM-ddTHH:mm:ssZ.")
                bounds.append(stamp)
            else:
                bounds.append(None)
        status = params.get("Status") or None
        listing = self.store.list(
            status=status,
            job_id=params.get("JobId") or None,
            start=bounds[0],
            end=bounds[1],
            order=order,
            page_size=page_size,
            token=params.get("NextPageToken") or None,
        )
        parts = [b'"PackageJobList":{']
        if listing.next_token:
            parts.append(b'"NextPageToken":"' + listing.next_token.encode() + b'",')
        parts.append(b'"PackageJobs":[' + b",".join(listing.items) + b"]}")
        return self.ok(b"".join(parts), self.request_id())

    def _submit(self, params: Mapping[str, str]) -> _Answer:
        inputs = _json_param(params, "Inputs", list)
        output = _json_param(params, "Output", dict)
        for item in inputs:
            if not isinstance(item, dict) or not isinstance(item.get("Input"), dict):
                raise _invalid("Inputs", 'Each item must be {"Input": {"Type": ..., "Media": ...}}.')
            if not item["Input"].get("Media"):
                raise _invalid("Inputs", "Input.Media is required.")
        if not inputs:
            raise _invalid("Inputs", "At least one input is required.")
        if not output.get("Media"):
            raise _invalid("Output", "Output.Media is required.")
        schedule: dict[str, Any] = {}
        if params.get("ScheduleConfig"):
            schedule = _json_param(params, "ScheduleConfig", dict)
        priority = schedule.get("Priority")
        if priority is not None:
            try:
                priority = int(priority)
            except (TypeError, ValueError):
                raise _invalid("ScheduleConfig.Priority", "It must be an integer from 1 to 10.") from None
            if not 1 <= priority <= 10:
                raise _invalid("ScheduleConfig.Priority", "It must be an integer from 1 to 10.")
        pipeline = schedule.get("PipelineId")
        job_id = self.store.submit(
            inputs,
            output,
            name=params.get("Name"),
            user_data=params.get("UserData"),
            pipeline_id=str(pipeline) if pipeline is not None else None,
            priority=priority,
        )
        self.stats.submitted += 1
        return self.ok(b'"JobId":"' + job_id.encode() + b'"', self.request_id())

    # -- the other kinds ---------------------------------------------------------------------------

    def _get_kind(self, store: JobStore, params: Mapping[str, str]) -> _Answer:
        spec = KIND_SPECS[store.kind]
        job_id = params.get(spec.id_key)
        if not job_id:
            raise _missing(spec.id_key)
        body = store.get_bytes(job_id)
        if body is None:
            raise _api_error(404, "InvalidParameter.ResourceNotFound")
        return self.ok(b'"' + spec.get_key.encode() + b'":' + body, self.request_id())

    def _list_kind(self, store: JobStore, params: Mapping[str, str]) -> _Answer:
        spec = KIND_SPECS[store.kind]
        if spec.paging == "token":  # ListMediaProducingJobs: NextToken / MaxResults, SortBy
            size_name, token_name, default_size = "MaxResults", "NextToken", 10
            sort = params.get("SortBy") or "CreationTime:Desc"
            if sort not in ("CreationTime:Desc", "CreationTime:Asc"):
                raise _invalid("SortBy", "Valid values: CreationTime:Asc, CreationTime:Desc.")
            order = "CreateTimeAsc" if sort == "CreationTime:Asc" else "CreateTimeDesc"
        else:
            size_name, token_name, default_size = "PageSize", "NextPageToken", 20
            order = params.get("OrderBy") or "CreateTimeDesc"
            if order not in ("CreateTimeDesc", "CreateTimeAsc"):
                raise _invalid("OrderBy", "Valid values: CreateTimeDesc, CreateTimeAsc.")
        raw_size = params.get(size_name, "").strip()
        page_size = default_size
        if raw_size:
            try:
                page_size = int(raw_size)
            except ValueError:
                raise _invalid(size_name, "It must be an integer from 1 to 100.") from None
            if not 0 <= page_size <= 100:
                raise _invalid(size_name, "It must be an integer from 1 to 100.")
            page_size = page_size or default_size
        bounds: list[float | None] = []
        for name in spec.time_params:
            value = params.get(name)
            if value:
                stamp = parse_api_time(value)
                if stamp is None:
                    raise _invalid(name, "The format is yyyy-MM-ddTHH:mm:ssZ.")
                bounds.append(stamp)
            else:
                bounds.append(None)
        start, end = bounds
        if spec.paging == "token" and start is not None and end is not None and end - start > 30 * 86400:
            raise _invalid("EndTime", "The time range between StartTime and EndTime cannot exceed 30 days.")
        job_id: str | None
        match: Callable[[dict[str, Any]], bool] | None = None
        if spec.paging == "token":
            job_id = None
            keyword = params.get("Keyword") or None
            project = params.get("ProjectId") or None
            if keyword is not None and len(keyword) == 32 and keyword in store:
                job_id = keyword
            elif keyword is not None or project is not None:

                def match(data: dict[str, Any]) -> bool:
                    if project is not None and data.get("ProjectId") != project:
                        return False
                    return keyword is None or keyword in str(data.get("JobId", ""))

        else:
            job_id = params.get(spec.id_key) or None
        listing = store.list(
            status=params.get("Status") or None,
            job_id=job_id,
            start=bounds[0],
            end=bounds[1],
            order=order,
            page_size=page_size,
            token=params.get(token_name) or None,
            token_name=token_name,
            match=match,
        )
        parts = [b'"' + spec.list_key.encode() + b'":[' + b",".join(listing.items) + b"]"]
        if listing.next_token:
            parts.append(b'"' + token_name.encode() + b'":"' + listing.next_token.encode() + b'"')
        elif store.kind == "media_convert":  # documented as required, empty on the last page
            parts.append(b'"NextPageToken":""')
        if spec.paging == "token":
            parts.append(b'"MaxResults":"' + str(page_size).encode() + b'"')
        return self.ok(b",".join(parts), self.request_id())

    def _submit_kind(self, store: JobStore, params: Mapping[str, str]) -> _Answer:
        given: dict[str, Any] = {}
        kind = store.kind
        for name in (
            "Name",
            "UserData",
            "ClientToken",
            "PipelineId",
            "ProjectId",
            "TemplateId",
            "ClipsParam",
        ):
            if params.get(name):
                given[name] = params[name]
        if kind == "transcode":
            given["InputGroup"] = _json_param(params, "InputGroup", list)
            given["OutputGroup"] = _json_param(params, "OutputGroup", list)
            if not given["InputGroup"] or not all(
                isinstance(item, dict) and item.get("Media") and item.get("Type")
                for item in given["InputGroup"]
            ):
                raise _invalid("InputGroup", "Each input needs Type and Media.")
            if not given["OutputGroup"]:
                raise _invalid("OutputGroup", "At least one output is required.")
            for item in given["OutputGroup"]:
                output = item.get("Output") if isinstance(item, dict) else None
                process = item.get("ProcessConfig") if isinstance(item, dict) else None
                if not isinstance(output, dict) or not output.get("Media") or not output.get("Type"):
                    raise _invalid("OutputGroup", "Each item needs Output.Type and Output.Media.")
                if not isinstance(process, dict) or not isinstance(process.get("Transcode"), dict):
                    raise _invalid("OutputGroup", "Each item needs ProcessConfig.Transcode.")
            if params.get("ScheduleConfig"):
                given["ScheduleConfig"] = _schedule_param(params)
        elif kind == "media_producing":
            if not (params.get("ProjectId") or params.get("Timeline") or params.get("TemplateId")):
                raise _missing("ProjectId, Timeline or TemplateId")
            if params.get("TemplateId") and not params.get("ClipsParam"):
                raise _missing("ClipsParam")
            if params.get("Timeline"):
                _json_param(params, "Timeline", dict)
                given["Timeline"] = params["Timeline"]
            config = _json_param(params, "OutputMediaConfig", dict)
            target = params.get("OutputMediaTarget") or "oss-object"
            if target not in ("oss-object", "vod-media", "S3"):
                raise _invalid("OutputMediaTarget", "Valid values: oss-object, vod-media, S3.")
            if target != "vod-media" and not config.get("MediaURL"):
                raise _invalid("OutputMediaConfig", "MediaURL is required for an OSS output.")
            if target == "vod-media" and not (config.get("StorageLocation") and config.get("FileName")):
                raise _invalid(
                    "OutputMediaConfig", "StorageLocation and FileName are required for a VOD output."
                )
            given["OutputMediaConfig"] = config
            given["OutputMediaTarget"] = target
        elif kind == "snapshot":
            for name in ("Input", "Output"):
                value = _json_param(params, name, dict)
                if not value.get("Media") or not value.get("Type"):
                    raise _invalid(name, f"{name}.Type and {name}.Media are required.")
                given[name] = value
            template = _json_param(params, "TemplateConfig", dict)
            if not template.get("TemplateId"):
                raise _invalid("TemplateConfig", "TemplateConfig.TemplateId is required.")
            given["TemplateConfig"] = template
            if params.get("ScheduleConfig"):
                given["ScheduleConfig"] = _json_param(params, "ScheduleConfig", dict)
        else:  # media_convert
            config = _json_param(params, "Config", dict)
            inputs = config.get("Inputs")
            if not isinstance(inputs, list) or not inputs:
                raise _invalid("Config", "Config.Inputs needs at least one input.")
            if not config.get("Outputs") and not config.get("OutputGroups"):
                raise _invalid("Config", "Config needs Outputs or OutputGroups.")
            given["Config"] = config
        job = store.submit_kind(given)
        self.stats.submitted += 1
        spec = KIND_SPECS[kind]
        if kind == "transcode":
            body: dict[str, Any] = {spec.get_key: job}
        elif kind == "media_producing":
            body = {"JobId": job["JobId"], "MediaId": job.get("MediaId"), "ProjectId": job.get("ProjectId")}
            if given.get("OutputMediaTarget") == "vod-media":
                body["VodMediaId"] = job.get("VodMediaId") or job.get("MediaId")
        elif kind == "snapshot":
            body = {"JobId": job["JobId"]}
        else:  # the Submit model's job has no times and no Percent
            body = {"Job": {k: v for k, v in job.items() if k not in ("CreateTime", "FinishTime", "Percent")}}
        return self.ok(_dumps(body)[1:-1], self.request_id())


def _same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings, whatever characters they hold."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _json_param(params: Mapping[str, str], name: str, kind: type) -> Any:
    raw = params.get(name)
    if not raw:
        raise _missing(name)
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise _invalid(name, "It must be a JSON string.") from None
    if not isinstance(value, kind):
        raise _invalid(name, f"It must be a JSON {'array' if kind is list else 'object'}.")
    return value


def _schedule_param(params: Mapping[str, str]) -> dict[str, Any]:
    schedule: dict[str, Any] = _json_param(params, "ScheduleConfig", dict)
    priority = schedule.get("Priority")
    if priority is not None:
        try:
            value = int(priority)
        except (TypeError, ValueError):
            raise _invalid("ScheduleConfig.Priority", "It must be an integer from 1 to 10.") from None
        if not 1 <= value <= 10:
            raise _invalid("ScheduleConfig.Priority", "It must be an integer from 1 to 10.")
    return schedule


def _parse_query(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    if not query:
        return params
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        params[unquote_plus(key)] = unquote_plus(value)
    return params


# ---------------------------------------------------------------------------------------------
# HTTP/1.1


class _HttpError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class _DateCache:
    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode("ascii")
        return self._value


_DATE = _DateCache()


class _Connection(asyncio.Protocol):
    """One client connection: parses requests, answers them in order."""

    def __init__(self, server: _ServerState) -> None:
        self.server = server
        self.app = server.app
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.queue: deque[tuple[_Request, bool]] = deque()
        self.busy = False
        self.closing = False
        self.paused = False  # the transport's write buffer is full
        self.reading = True
        self.error: _HttpError | None = None
        self.last_active = time.monotonic()

    # -- asyncio callbacks ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)
        self.app.stats.connections += 1
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.connections.discard(self)
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_active = time.monotonic()
        if self.error is not None:
            return
        self.buffer += data
        try:
            self._parse()
        except _HttpError as err:
            self.error = err
            self.buffer.clear()
        except Exception as exc:  # never let a parsing bug kill the connection silently
            self.app.stats.internal_errors += 1
            print(f"ice emulator: cannot parse a request: {exc!r}", file=sys.stderr, flush=True)
            self.error = _HttpError(400, "BadRequest", "The request could not be parsed.")
            self.buffer.clear()
        self._pump()

    # -- parsing ------------------------------------------------------------------------------

    def _parse(self) -> None:
        buf = self.buffer
        while buf and not self.closing:
            while buf[:2] == b"\r\n":  # empty lines before a request line are allowed
                del buf[:2]
            if not buf:
                return
            if buf[0] not in _TOKEN_START:  # TLS, HTTP/2 binary, garbage: no need to wait
                raise _HttpError(400, "BadRequest", "This is not an HTTP/1.1 request.")
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                line_end = buf.find(b"\r\n")
                if (line_end < 0 and len(buf) > MAX_REQUEST_LINE) or line_end > MAX_REQUEST_LINE:
                    raise _HttpError(414, "RequestURITooLong", "The request line is too long.")
                if len(buf) > MAX_HEADER_BYTES:
                    raise _HttpError(431, "RequestHeaderFieldsTooLarge", "The request headers are too large.")
                return
            if end > MAX_HEADER_BYTES:
                raise _HttpError(431, "RequestHeaderFieldsTooLarge", "The request headers are too large.")
            head = bytes(buf[:end]).decode("latin-1")
            lines = head.split("\r\n")
            request_line = lines[0]
            if len(request_line) > MAX_REQUEST_LINE:
                raise _HttpError(414, "RequestURITooLong", "The request line is too long.")
            parts = request_line.split(" ")
            if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/1."):
                raise _HttpError(400, "BadRequest", "The request line is malformed.")
            method, target, version = parts
            if len(lines) - 1 > MAX_HEADERS:
                raise _HttpError(431, "RequestHeaderFieldsTooLarge", "Too many request headers.")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep or not name or name != name.strip() or " " in name:
                    raise _HttpError(400, "BadRequest", "A request header is malformed.")
                name = name.lower()
                value = value.strip()
                if name in headers:
                    if name in ("content-length", "host"):
                        raise _HttpError(400, "BadRequest", f"Duplicate {name} header.")
                    headers[name] = ",".join(sorted((headers[name], value)))
                else:
                    headers[name] = value
            if "transfer-encoding" in headers:
                raise _HttpError(
                    411, "LengthRequired", "Chunked bodies are not supported; send Content-Length."
                )
            length_text = headers.get("content-length", "0")
            if not (length_text.isascii() and length_text.isdigit() and len(length_text) <= 15):
                raise _HttpError(400, "BadRequest", "The Content-Length header is not valid.")
            length = int(length_text)
            if length > MAX_BODY_BYTES:
                raise _HttpError(413, "RequestEntityTooLarge", "The request body is too large.")
            total = end + 4 + length
            if len(buf) < total:
                if headers.get("expect", "").lower() == "100-continue" and len(buf) == end + 4:
                    assert self.transport is not None
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return
            body = bytes(buf[end + 4 : total])
            del buf[:total]
            path, _, query = target.partition("?")
            connection = headers.get("connection", "").lower()
            keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
            self.queue.append((_Request(method.upper(), path, query, headers, body), keep_alive))
            if not keep_alive:
                break

    # -- answering ----------------------------------------------------------------------------

    def pause_writing(self) -> None:
        """The client is not reading its answers: stop reading its requests until it does."""
        self.paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self.paused = False
        self._pump()

    def _update_reading(self) -> None:
        """Read while answers flow and at most MAX_PIPELINED requests wait (back-pressure)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        wanted = not self.paused and len(self.queue) <= MAX_PIPELINED
        if wanted and not self.reading:
            transport.resume_reading()
        elif not wanted and self.reading:
            transport.pause_reading()
        self.reading = wanted

    def _pump(self) -> None:
        while self.queue and not self.busy and not self.closing and not self.paused:
            request, keep_alive = self.queue.popleft()
            answer = self.app.handle(request)
            answer.head_only = request.method == "HEAD"
            if answer.delay > 0:
                self.busy = True
                loop = asyncio.get_running_loop()
                loop.call_later(answer.delay, self._deliver, answer, keep_alive)
                return
            self._send(answer, keep_alive)
        if self.error is not None and not self.queue and not self.busy and not self.closing:
            self._fail(self.error)
        self._update_reading()

    def _deliver(self, answer: _Answer, keep_alive: bool) -> None:
        self.busy = False
        if self.closing:
            return
        self._send(answer, keep_alive)
        self._pump()

    def _send(self, answer: _Answer, keep_alive: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            self.closing = True
            return
        if answer.fault == "drop":
            self.closing = True
            transport.abort()
            return
        body = answer.body
        length = len(body)
        if answer.fault == "truncate":
            length = len(body) + 64 + len(body) // 2
            body = body[: len(body) // 2]
            keep_alive = False
        head = [
            b"HTTP/1.1 ",
            str(answer.status).encode(),
            b" ",
            _STATUS_TEXT.get(answer.status, "Unknown").encode(),
            b"\r\nDate: ",
            _DATE.get(),
            b"\r\nContent-Type: application/json;charset=utf-8\r\nContent-Length: ",
            str(length).encode(),
            b"\r\n",
        ]
        for name, value in answer.headers:
            head.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
        head.append(b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n")
        if not answer.head_only:
            head.append(body)
        transport.write(b"".join(head))
        if not keep_alive:
            self.closing = True
            self._linger(transport)

    def _linger(self, transport: asyncio.Transport) -> None:
        """Close after the answer is out: half-close first, so that unread request bytes
        (a huge query, a body never read) do not turn into a reset that destroys the answer."""
        if transport.can_write_eof():
            transport.write_eof()
            asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)
        else:
            transport.close()

    def _fail(self, err: _HttpError) -> None:
        """Answer a request that could not be parsed, then close the connection."""
        self.app.stats.requests += 1
        self._send(self.app.error(ApiError(err.status, err.code, err.message)), keep_alive=False)


class _ServerState:
    def __init__(self, app: _App) -> None:
        self.app = app
        self.connections: set[_Connection] = set()

    def sweep(self) -> None:
        horizon = time.monotonic() - IDLE_TIMEOUT
        for conn in list(self.connections):
            if conn.last_active < horizon and not conn.busy and conn.transport is not None:
                conn.closing = True
                conn.transport.close()

    def close_all(self) -> None:
        for conn in list(self.connections):
            conn.closing = True
            if conn.transport is not None:
                conn.transport.abort()
        self.connections.clear()


# ---------------------------------------------------------------------------------------------
# running it


def _kind_counts(jobs: int, kind_jobs: int | Mapping[str, int] | None) -> dict[str, int]:
    """How many seeded jobs of each kind: packaging ``jobs``; the others ``kind_jobs``."""
    if kind_jobs is None:
        counts = dict.fromkeys(OTHER_KINDS, jobs)
    elif isinstance(kind_jobs, Mapping):
        unknown = [kind for kind in kind_jobs if kind not in KINDS]
        if unknown:
            raise ValueError(f"unknown job kinds {unknown} in kind_jobs; choose from {', '.join(KINDS)}")
        counts = {kind: int(kind_jobs.get(kind, jobs)) for kind in OTHER_KINDS}
    else:
        counts = dict.fromkeys(OTHER_KINDS, int(kind_jobs))
    if any(n < 0 for n in counts.values()):
        raise ValueError("kind_jobs must not be negative")
    return {"package": jobs, **counts}


class _Runner:
    """Owns the store, the app and the asyncio server on one event loop."""

    def __init__(
        self,
        *,
        jobs: int,
        seed: int,
        hostile: int,
        anchor: float | None,
        progress_seconds: float,
        settings: Settings,
        host: str,
        port: int,
        allow_remote: bool = False,
        progress_seeded: bool = False,
        tls: tuple[str, str] | ssl.SSLContext | None = None,
        kind_jobs: int | Mapping[str, int] | None = None,
    ) -> None:
        if not allow_remote and not _is_loopback(host):
            raise ValueError(f"refusing to listen on non-loopback host {host!r} (pass allow_remote=True)")
        self.kind_counts = _kind_counts(jobs, kind_jobs)
        self.store = JobStore(
            jobs,
            seed,
            hostile=hostile,
            anchor=anchor,
            progress_seconds=progress_seconds,
            progress_seeded=progress_seeded,
        )
        # the other kinds' data sets are built on first use (a packaging-only run pays nothing),
        # with the packaging store's options; without an explicit anchor, a kind's data set
        # leads up to the moment it is built, so it looks current whenever it is first seen
        self._store_options: dict[str, Any] = {
            "seed": seed,
            "hostile": hostile,
            "anchor": anchor,
            "progress_seconds": progress_seconds,
            "progress_seeded": progress_seeded,
        }
        self.stores: dict[str, JobStore] = {"package": self.store}
        self.app = _App(self.store, settings.validated(), seed, self.store_of)
        self.state = _ServerState(self.app)
        self.host = host
        self.port = port
        self.ssl_context = _server_ssl_context(tls)
        self.server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    def store_of(self, kind: str) -> JobStore:
        """The store of ``kind``, built on first use (call on the loop thread, or before start)."""
        store = self.stores.get(kind)
        if store is None:
            if kind not in KINDS:
                raise ValueError(f"unknown job kind {kind!r}; choose from {', '.join(KINDS)}")
            options = self._store_options
            store = JobStore(
                self.kind_counts[kind],
                options["seed"],
                hostile=options["hostile"],
                anchor=options["anchor"],
                progress_seconds=options["progress_seconds"],
                progress_seeded=options["progress_seeded"],
                kind=kind,
            )
            self.stores[kind] = store
        return store

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl_context is not None else 'http'}://{host}:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            self._accept,
            self.host,
            self.port,
            backlog=4096,
            reuse_address=True,
            ssl=self.ssl_context,
        )
        sockets = self.server.sockets
        self.port = sockets[0].getsockname()[1]
        self._schedule_sweep()

    def _accept(self) -> _Connection:
        # called for every accepted TCP connection, before any TLS handshake
        self.app.stats.accepted += 1
        return _Connection(self.state)

    def _schedule_sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self.state.sweep()
        self._sweeper = loop.call_later(5.0, self._schedule_sweep)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.server is not None:
            self.server.close()
            self.state.close_all()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2.0)


class Emulator:
    """An ICE emulator running on its own thread and event loop (for tests and notebooks).

    Parameters
    ----------
    jobs, seed
        Size and seed of the deterministic data set.
    port
        TCP port on 127.0.0.1; 0 picks a free one (see ``endpoint``).
    latency_ms
        Added to every answer.
    fault_rate
        Fraction of requests that meet a fault, chosen from ``faults``.
    faults
        Fault kinds: ``throttle``, ``503``, ``500``, ``drop`` (close without answering),
        ``truncate`` (Content-Length larger than the body, then close), ``slow`` (answer
        after ``slow_ms``). ``None`` means all of them.
    qps
        Token-bucket limit; beyond it ``Throttling.User`` with ``x-acs-retry-after``.
    access_key_id, access_key_secret, security_token
        The credentials it accepts (defaults: ``DEFAULT_ACCESS_KEY_ID`` /
        ``DEFAULT_ACCESS_KEY_SECRET``, no STS token). With ``security_token`` set, every
        request must carry that token.
    hostile
        Number of extra jobs carrying injection payloads in every field.
    anchor
        POSIX time the seeded times lead up to (default: now; the other kinds: the moment
        their data set is first used). Give one for data that is the same on every run.
    progress_seconds
        Average time a submitted job stays ``Init``.
    progress_seeded
        Let the seeded ``Init`` jobs finish too, within about ``10 * progress_seconds``
        (default False: they stay ``Init``, so ``expected()`` of seeded jobs never changes).
    tls
        Serve HTTPS: ``(certfile, keyfile)`` PEM paths or a server ``ssl.SSLContext``
        (``endpoint`` then starts with ``https://``). Default: plain HTTP.
    kind_jobs
        Seeded jobs of every other kind (transcode, media producing, snapshot, media
        convert): an int for all of them, or a mapping kind -> int (kinds left out get
        ``jobs``). Default: ``jobs`` of each. A kind's data set is built when it is
        first used (a request of that kind, ``ids(kind)``, ``expected``...).
    sts
        An :class:`~ice_widgets.emulator._sts.StsIssuer` (e.g. ``CredentialSources().issuer``):
        the temporary keys it issues are accepted until they expire, then refused with
        ``InvalidSecurityToken.Expired``.

    Examples
    --------
    >>> with Emulator(jobs=100, seed=1) as emu:  # doctest: +SKIP
    ...     client = Client(endpoint=emu.endpoint, access_key_id=emu.access_key_id,
    ...                     access_key_secret=emu.access_key_secret)
    ...     job = client.get_package_job(emu.job_ids[0])
    """

    def __init__(
        self,
        jobs: int = 1000,
        seed: int = 1,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        latency_ms: float = 0.0,
        fault_rate: float = 0.0,
        faults: Iterable[str] | str | None = None,
        slow_ms: float = 15000.0,
        qps: float | None = None,
        access_key_id: str = DEFAULT_ACCESS_KEY_ID,
        access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET,
        security_token: str | None = None,
        expired_security_tokens: Iterable[str] = (),
        hostile: int = 0,
        anchor: float | None = None,
        progress_seconds: float = 3.0,
        progress_seeded: bool = False,
        check_nonce: bool = True,
        check_time: bool = True,
        tls: tuple[str, str] | ssl.SSLContext | None = None,
        kind_jobs: int | Mapping[str, int] | None = None,
        sts: Any = None,
    ) -> None:
        self._settings = Settings(
            sts=sts,
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=security_token,
            expired_security_tokens=frozenset(expired_security_tokens),
            latency_ms=float(latency_ms),
            fault_rate=float(fault_rate),
            faults=_fault_tuple(faults),
            slow_ms=float(slow_ms),
            qps=qps,
            check_nonce=check_nonce,
            check_time=check_time,
        ).validated()
        self._runner = _Runner(
            jobs=jobs,
            seed=seed,
            hostile=hostile,
            anchor=anchor,
            progress_seconds=progress_seconds,
            settings=self._settings,
            host=host,
            port=port,
            progress_seeded=progress_seeded,
            tls=tls,
            kind_jobs=kind_jobs,
        )
        self.seed = seed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = self.endpoint if self._thread is not None else "stopped"
        return f"<Emulator {state} jobs={len(self._runner.store)} seed={self.seed}>"

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start serving on a background thread; returns self once it listens."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._runner.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._runner.stop())
                loop.close()

        self._thread = threading.Thread(target=run, name="ice-emulator", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self._loop = None

    close = stop

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop thread (or directly when not running)."""
        loop = self._loop
        if loop is None or self._thread is None or threading.current_thread() is self._thread:
            return fn()

        async def wrapper() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), loop).result(30)

    # -- what tests read ------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8765`` (``https://`` when serving TLS)."""
        return self._runner.endpoint

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self._runner.port

    @property
    def access_key_id(self) -> str:
        """The access key ID it accepts."""
        return self._settings.access_key_id

    @property
    def access_key_secret(self) -> str:
        """The secret it accepts (for wiring up clients in tests; never print it)."""
        return self._settings.access_key_secret

    @property
    def security_token(self) -> str | None:
        """The STS token it requires, if any."""
        return self._settings.security_token

    @property
    def settings(self) -> Settings:
        """The current settings."""
        return self._settings

    @property
    def job_ids(self) -> list[str]:
        """The seeded packaging job IDs, in creation order (hostile jobs not included)."""
        return list(self._runner.store.seeded_ids)

    @property
    def hostile_ids(self) -> list[str]:
        """The IDs of the packaging jobs carrying injection payloads (``hostile=N``)."""
        return list(self._runner.store.hostile_ids)

    def ids(self, kind: str = "package") -> list[str]:
        """The seeded job IDs of ``kind``, in creation order (hostile jobs not included).

        ``kind`` is one of ``"package"``, ``"transcode"``, ``"media_producing"``,
        ``"snapshot"``, ``"media_convert"``. For transcode these are parent job IDs.
        """
        return list(self._call(lambda: self._runner.store_of(kind).seeded_ids))

    def hostile_ids_of(self, kind: str = "package") -> list[str]:
        """The IDs of the jobs of ``kind`` carrying injection payloads (``hostile=N``)."""
        return list(self._call(lambda: self._runner.store_of(kind).hostile_ids))

    def all_job_ids(self, kind: str = "package") -> list[str]:
        """Every job of ``kind`` the server holds now (seeded, hostile, added, submitted), oldest first."""
        return list(self._call(lambda: self._runner.store_of(kind).ids()))

    def kind_of(self, job_id: str) -> str | None:
        """The kind of the job ``job_id`` (``"package"``, ``"transcode"``...), or None if there is none."""

        def find() -> str | None:
            for kind in KINDS:
                if job_id in self._runner.store_of(kind):
                    return kind
            return None

        result: str | None = self._call(find)
        return result

    def expected(self, job_id: str, kind: str | None = None) -> dict[str, Any]:
        """The job dict the server holds now for ``job_id``, exactly as Get returns it
        inside its response key (``PackageJob``, ``TranscodeParentJob``, ``MediaProducingJob``,
        ``SnapshotJob`` or ``Job``): the truth for tests.

        ``kind`` is inferred from the ID when None.

        Raises
        ------
        KeyError
            When there is no such job (of that kind).
        """

        def fetch() -> dict[str, Any] | None:
            kinds = KINDS if kind is None else (kind,)
            for each in kinds:
                data = self._runner.store_of(each).get(job_id)
                if data is not None:
                    return data
            return None

        data = self._call(fetch)
        if data is None:
            raise KeyError(job_id)
        return dict(data)

    @property
    def stats(self) -> Stats:
        """Counters: requests served, faults injected, throttled, codes, actions."""
        return self._runner.app.stats

    # -- changing it while it runs ----------------------------------------------------------------

    def configure(self, **changes: Any) -> Settings:
        """Change settings at run time, e.g. ``configure(fault_rate=0.3, faults=["drop"], qps=50)``.

        Accepts the fields of :class:`Settings`; ``faults=None`` means all kinds.
        Returns the new settings.
        """
        if "faults" in changes:
            changes["faults"] = _fault_tuple(changes["faults"])
        if "expired_security_tokens" in changes:
            changes["expired_security_tokens"] = frozenset(changes["expired_security_tokens"])
        settings = replace(self._settings, **changes).validated()
        self._settings = settings
        self._call(lambda: self._runner.app.apply(settings))
        return settings

    def add_job(self, job: Mapping[str, Any], kind: str = "package") -> str:
        """Add a job dict of ``kind`` as it is (it must carry its ID key: ``JobId``, or
        ``ParentJobId`` for transcode); returns the ID. Get returns it byte for byte."""
        return str(self._call(lambda: self._runner.store_of(kind).add(job)))

    def submit(
        self,
        inputs: Sequence[str] | Sequence[Mapping[str, Any]] = ("oss://bucket/input.mp4",),
        output: str | Mapping[str, Any] = "oss://bucket/output/master.m3u8",
        *,
        name: str | None = None,
        user_data: str | None = None,
        pipeline_id: str | None = None,
        priority: int | None = None,
    ) -> str:
        """Submit a job directly (no HTTP); it finishes after about ``progress_seconds``."""
        items = [
            {"Input": {"Type": "OSS", "Media": item}} if isinstance(item, str) else dict(item)
            for item in inputs
        ]
        out = {"Type": "OSS", "Media": output} if isinstance(output, str) else dict(output)
        return str(
            self._call(
                lambda: self._runner.store.submit(
                    items, out, name=name, user_data=user_data, pipeline_id=pipeline_id, priority=priority
                )
            )
        )


def _fault_tuple(faults: Iterable[str] | str | None) -> tuple[str, ...]:
    if faults is None:
        return FAULT_KINDS
    if isinstance(faults, str):
        faults = [part for part in faults.split(",") if part.strip()]
    return tuple(str(kind).strip() for kind in faults)


# ---------------------------------------------------------------------------------------------
# command line and subprocess


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser`` (shared by the CLI and ``python -m``)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (loopback only; default 127.0.0.1)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the emulator has no TLS and a public secret: think twice)",
    )
    parser.add_argument("--port", type=int, default=8765, help="TCP port; 0 picks a free one (default 8765)")
    parser.add_argument("--jobs", type=int, default=1000, help="number of seeded jobs (default 1000)")
    parser.add_argument(
        "--kind-jobs",
        type=int,
        default=None,
        help="seeded jobs of every other kind: transcode, snapshot... (default: --jobs)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the data set and the faults (default 1)")
    parser.add_argument("--hostile", type=int, default=0, help="extra jobs carrying injection payloads")
    parser.add_argument(
        "--anchor",
        type=float,
        default=None,
        help="POSIX time seeded jobs lead up to (default: now)",
    )
    parser.add_argument(
        "--progress-seconds", type=float, default=3.0, help="how long submitted jobs stay Init (default 3)"
    )
    parser.add_argument(
        "--progress-seeded",
        action="store_true",
        help="let the seeded Init jobs finish too (within about 10 x --progress-seconds)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer (default 0)")
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="fraction of requests that meet a fault"
    )
    parser.add_argument(
        "--faults",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated fault kinds (default all: {','.join(FAULT_KINDS)})",
    )
    parser.add_argument(
        "--slow-ms", type=float, default=15000.0, help="delay of the 'slow' fault (default 15000)"
    )
    parser.add_argument(
        "--qps", type=float, default=None, help="token-bucket limit; beyond it Throttling.User"
    )
    parser.add_argument(
        "--access-key-id",
        default=os.environ.get("ICE_EMULATOR_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID),
        help=f"accepted access key ID (default {DEFAULT_ACCESS_KEY_ID})",
    )
    parser.add_argument(
        "--access-key-secret",
        default=os.environ.get("ICE_EMULATOR_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET),
        help="accepted secret (default: the documented DEFAULT_ACCESS_KEY_SECRET)",
    )
    parser.add_argument("--security-token", default=None, help="require this STS security token")
    parser.add_argument(
        "--tls-cert", default=None, help="serve HTTPS with this PEM certificate (chain); needs --tls-key"
    )
    parser.add_argument("--tls-key", default=None, help="the PEM private key of --tls-cert")
    parser.add_argument(
        "--expired-security-token",
        action="append",
        default=[],
        help="a token to refuse as expired (repeatable)",
    )


def _tls_arguments(args: argparse.Namespace) -> tuple[str, str] | None:
    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if bool(cert) != bool(key):
        raise ValueError("--tls-cert and --tls-key go together")
    return (cert, key) if cert and key else None


def _server_ssl_context(tls: tuple[str, str] | ssl.SSLContext | None) -> ssl.SSLContext | None:
    """The server-side TLS context for ``tls`` (None: plain HTTP)."""
    if tls is None or isinstance(tls, ssl.SSLContext):
        return tls
    certfile, keyfile = tls
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["http/1.1"])
    return context


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m ice_widgets.emulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m ice_widgets.emulator", description="Run a local ICE (2020-11-09) emulator."
    )
    add_arguments(parser)
    return parser


def serve(args: argparse.Namespace) -> int:
    """Run the emulator in the foreground until SIGINT/SIGTERM; returns an exit status."""
    try:
        settings = Settings(
            access_key_id=args.access_key_id,
            access_key_secret=args.access_key_secret,
            security_token=args.security_token,
            expired_security_tokens=frozenset(args.expired_security_token or ()),
            latency_ms=args.latency_ms,
            fault_rate=args.fault_rate,
            faults=_fault_tuple(args.faults),
            slow_ms=args.slow_ms,
            qps=args.qps,
        ).validated()
        runner = _Runner(
            jobs=args.jobs,
            seed=args.seed,
            hostile=args.hostile,
            anchor=args.anchor,
            progress_seconds=args.progress_seconds,
            settings=settings,
            host=args.host,
            port=args.port,
            allow_remote=args.allow_remote,
            progress_seeded=args.progress_seeded,
            tls=_tls_arguments(args),
            kind_jobs=getattr(args, "kind_jobs", None),
        )
    except (ValueError, OSError) as exc:
        print(f"ice-widgets emulator: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await runner.start()
        except OSError as exc:
            print(f"ice-widgets emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        print(LISTEN_LINE.format(endpoint=runner.endpoint), flush=True)
        await stop.wait()
        await runner.stop()
        stats = runner.app.stats
        print(
            f"ice-widgets emulator: stopped after {stats.requests} requests "
            f"({stats.faults_injected} faults, {stats.throttled} throttled)",
            file=sys.stderr,
            flush=True,
        )
        return 0

    return asyncio.run(run())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ice_widgets.emulator``."""
    args = build_parser().parse_args(argv)
    try:
        return serve(args)
    except KeyboardInterrupt:  # Ctrl-C before the server listened (while building the data set)
        return 130


class EmulatorProcess(NamedTuple):
    """An emulator running in a child process (see :func:`start_subprocess`)."""

    endpoint: str
    process: subprocess.Popen[str]

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the child and wait; kill it if it does not stop in time. Returns its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return int(self.process.returncode)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_subprocess(
    *,
    jobs: int = 1000,
    seed: int = 1,
    timeout: float = 60.0,
    python: str | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> EmulatorProcess:
    """Start ``python -m ice_widgets.emulator --port 0`` and wait for its endpoint line.

    Keyword ``options`` become flags: ``latency_ms=5`` -> ``--latency-ms 5``,
    ``faults=["drop"]`` -> ``--faults drop``. Use the result as a context manager or call
    ``.stop()``; it is a ``(endpoint, process)`` tuple.
    """
    args = [python or sys.executable, "-m", "ice_widgets.emulator", "--jobs", str(jobs), "--seed", str(seed)]
    options.setdefault("port", 0)
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, str(value)]
    args += list(extra_args)
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )
    assert proc.stdout is not None
    line_box: list[str] = []
    stdout = proc.stdout

    def read_line() -> None:
        line_box.append(stdout.readline())

    reader = threading.Thread(target=read_line, daemon=True)
    reader.start()
    reader.join(timeout)
    line = line_box[0] if line_box else ""
    prefix = LISTEN_LINE.format(endpoint="")
    if not line.startswith(prefix):
        proc.kill()
        proc.wait(10)
        raise RuntimeError(f"the emulator did not start (exit code {proc.returncode}, first line {line!r})")
    return EmulatorProcess(line.strip()[len(prefix) :], proc)
