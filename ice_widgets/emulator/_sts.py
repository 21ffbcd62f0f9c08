"""The credential sources the emulator can act as: STS tokens that expire, and who hands them out.

:class:`StsIssuer` issues temporary keys (``STS.`` access key ID, secret, security token,
``Expiration``) that the ICE emulator accepts (``Emulator(sts=issuer)``) until they expire,
then refuses with HTTP 400 ``InvalidSecurityToken.Expired``, as Alibaba Cloud does. Tokens
live ``ttl`` seconds: far shorter than any real STS allows (15 min at least), so that tests
see renewals happen.

:class:`CredentialSources` is one small HTTP server on 127.0.0.1 that hands them out the
ways the official ``alibabacloud_credentials`` providers fetch them:

- a credentials URI (``ALIBABA_CLOUD_CREDENTIALS_URI``): ``GET /credentials`` answers
  ``{"Code": "Success", "AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}``;
- STS (``sts_endpoint``; the official providers take a URL with ``http://`` there):
  ``AssumeRole`` (RPC, signed HMAC-SHA1 with a long-term key or another STS key: the CLI's
  ``RamRoleArn`` and ``ChainableRamRoleArn`` modes) and ``AssumeRoleWithOIDC`` (unsigned;
  the OIDC token must be the one written by :meth:`CredentialSources.write_oidc_token`, the
  role and provider ARNs the configured ones: ACK RRSA, the CLI's ``OIDC`` mode);
- the ECS instance metadata service (``100.100.100.200``; IMDSv2 token, role name, role
  credentials). The official provider's host is fixed, but it honours ``HTTP_PROXY``: this
  server, named as that proxy, answers for ``100.100.100.200`` itself and forwards nothing.

Everything counts in :attr:`CredentialSources.counts`. Error answers carry ``Code`` /
``Message`` / ``RequestId`` like the real services (codes: ``SignatureDoesNotMatch``,
``InvalidAccessKeyId.NotFound``, ``InvalidSecurityToken.Expired``, ``EntityNotExist.Role``,
``AuthenticationFail.OIDCToken.Invalid``, ``MissingParameter``).
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from ice_widgets import _signing
from ice_widgets.emulator._constants import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

__all__ = ["METADATA_HOST", "CredentialSources", "IssuedCredential", "StsIssuer"]

#: The ECS metadata service's address (fixed in the official provider).
METADATA_HOST = "100.100.100.200"
DEFAULT_ACCOUNT = "1234567890123456"
DEFAULT_ROLE_ARN = f"acs:ram::{DEFAULT_ACCOUNT}:role/ice-notebook"
DEFAULT_OIDC_PROVIDER_ARN = f"acs:ram::{DEFAULT_ACCOUNT}:oidc-provider/ack-rrsa-emulator"
DEFAULT_ECS_ROLE = "dsw-role"
#: Issued keys are forgotten this long after they expired (bounded memory).
FORGET_AFTER = 900.0


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class IssuedCredential(NamedTuple):
    """One temporary key. ``expiration`` is whole epoch seconds, as ``Expiration`` says."""

    access_key_id: str
    access_key_secret: str
    security_token: str
    expiration: int
    subject: str

    def __repr__(self) -> str:
        return f"IssuedCredential(access_key_id={self.access_key_id!r}, expiration={self.expiration})"

    def as_json(self) -> dict[str, str]:
        """The ``Credentials`` object of an STS answer."""
        return {
            "AccessKeyId": self.access_key_id,
            "AccessKeySecret": self.access_key_secret,
            "SecurityToken": self.security_token,
            "Expiration": _iso(self.expiration),
        }


class StsIssuer:
    """Issues temporary keys and checks them for the ICE emulator (thread-safe).

    Parameters
    ----------
    ttl : float
        Seconds a key lives (``Expiration`` is rounded down to a whole second).
    expire_early : float
        Refuse keys this many seconds before their announced ``Expiration`` (a clock that
        disagrees; forces requests to race an expiry).
    clock : callable
        Epoch seconds.
    """

    def __init__(
        self, ttl: float = 3600.0, *, expire_early: float = 0.0, clock: Callable[[], float] = time.time
    ):
        self.ttl = float(ttl)
        self.expire_early = float(expire_early)
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, IssuedCredential] = {}
        #: ``issued``, ``accepted``, ``expired`` (requests refused for an expired token), ...
        self.counts: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"StsIssuer(ttl={self.ttl}, issued={self.counts['issued']})"

    def issue(self, subject: str) -> IssuedCredential:
        """A new key for ``subject`` (a role ARN or session), valid for ``ttl`` seconds."""
        now = self._clock()
        issued = IssuedCredential(
            access_key_id="STS.NT" + secrets.token_hex(12),
            access_key_secret=secrets.token_urlsafe(33),
            security_token="CAIS" + secrets.token_urlsafe(96),
            expiration=int(now + self.ttl),
            subject=subject,
        )
        with self._lock:
            horizon = now - FORGET_AFTER
            if len(self._keys) > 1000:
                for key in [k for k, v in self._keys.items() if v.expiration < horizon]:
                    del self._keys[key]
            self._keys[issued.access_key_id] = issued
            self.counts["issued"] += 1
        return issued

    def knows(self, access_key_id: str) -> bool:
        """Whether ``access_key_id`` was issued here (and not forgotten)."""
        return access_key_id in self._keys

    def verify(self, access_key_id: str, token: str | None) -> tuple[str | None, str | None]:
        """``(secret, None)`` for a good key and token, else ``(None, error code)``."""
        issued = self._keys.get(access_key_id)
        if issued is None:
            return None, "InvalidAccessKeyId.NotFound"
        if not token:
            return None, "MissingSecurityToken"
        if not hmac.compare_digest(token.encode(), issued.security_token.encode()):
            return None, "InvalidSecurityToken.MismatchWithAccessKey"
        with self._lock:
            if self._clock() >= issued.expiration - self.expire_early:
                self.counts["expired"] += 1
                return None, "InvalidSecurityToken.Expired"
            self.counts["accepted"] += 1
        return issued.access_key_secret, None


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def _answer(self, method: str) -> None:
        sources = self.server.sources
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 65536)) if length else b""
        target = urlsplit(self.path)
        if target.scheme:  # absolute form: we were named as a proxy
            host = target.hostname or ""
            if host != METADATA_HOST and host != "127.0.0.1":
                self._send(403, b'{"Code":"Forbidden","Message":"this stand-in forwards nothing"}')
                return
            metadata = host == METADATA_HOST
        else:
            metadata = target.path.startswith("/latest/")
        try:
            if metadata:
                status, payload, kind = sources._metadata(method, target.path, self.headers)
            elif target.path == sources.uri_path:
                status, payload, kind = 200, json.dumps(sources._uri_answer()).encode(), "uri"
            elif target.path in ("", "/"):
                params = dict(parse_qsl(target.query, keep_blank_values=True))
                if body and "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
                    params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
                status, payload, kind = 200, json.dumps(sources._sts(method, params)).encode(), "sts"
            else:
                raise _Refusal(404, "InvalidAction.NotFound", "Specified api is not found.")
        except _Refusal as refusal:
            sources._count(f"refused:{refusal.code}")
            payload = json.dumps(
                {
                    "RequestId": sources._request_id(),
                    "HostId": "sts.aliyuncs.com",
                    "Code": refusal.code,
                    "Message": refusal.message,
                }
            ).encode()
            self._send(refusal.status, payload)
            return
        self._send(status, payload, "text/plain" if kind == "text" else "application/json")

    def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sources: CredentialSources


class CredentialSources:
    """A credentials URI, an STS endpoint and an ECS metadata stand-in, on 127.0.0.1.

    Parameters
    ----------
    ttl : float
        Lifetime of the keys handed out (seconds); or pass ``issuer``.
    issuer : StsIssuer, optional
        Shared with ``Emulator(sts=...)`` so that the ICE emulator accepts the keys.
    access_key_id, access_key_secret : str
        The long-term key allowed to call AssumeRole (default: the emulator's).
    role_arn, oidc_provider_arn, ecs_role : str
        The role that may be assumed, the OIDC provider, the ECS instance's role name.
    port : int
        0 picks a free one.

    Examples
    --------
    >>> with CredentialSources(ttl=5) as sources, Emulator(sts=sources.issuer) as emu:  # doctest: +SKIP
    ...     os.environ["ALIBABA_CLOUD_CREDENTIALS_URI"] = sources.uri
    ...     Client(endpoint=emu.endpoint).credentials_source
    'alibabacloud_credentials: credentials URI http://127.0.0.1:.../credentials'
    """

    uri_path = "/credentials"

    def __init__(
        self,
        ttl: float = 3600.0,
        *,
        issuer: StsIssuer | None = None,
        access_key_id: str = DEFAULT_ACCESS_KEY_ID,
        access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET,
        role_arn: str = DEFAULT_ROLE_ARN,
        oidc_provider_arn: str = DEFAULT_OIDC_PROVIDER_ARN,
        ecs_role: str = DEFAULT_ECS_ROLE,
        port: int = 0,
    ) -> None:
        self.issuer = issuer if issuer is not None else StsIssuer(ttl)
        self.access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        self.role_arn = role_arn
        self.oidc_provider_arn = oidc_provider_arn
        self.ecs_role = ecs_role
        self.oidc_token = "eyJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(48) + ".emulator"
        self._metadata_tokens: set[str] = set()
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._rid = 0
        #: Requests served, by kind: ``uri``, ``AssumeRole``, ``AssumeRoleWithOIDC``,
        #: ``metadata-token``, ``metadata-role``, ``metadata-credentials``, ``refused:<Code>``.
        self.counts: Counter[str] = Counter()

    def __repr__(self) -> str:
        where = self.sts_endpoint if self._server is not None else "stopped"
        return f"<CredentialSources {where} ttl={self.issuer.ttl}>"

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> CredentialSources:
        """Listen on 127.0.0.1 (a thread per connection; daemon threads)."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.sources = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="ice-emulator-sts", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)

    def __enter__(self) -> CredentialSources:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- where to find it ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        if self._server is None:
            raise RuntimeError("CredentialSources is not started")
        return int(self._server.server_address[1])

    @property
    def sts_endpoint(self) -> str:
        """For ``ALIBABA_CLOUD_STS_ENDPOINT`` / a CLI profile's ``sts_endpoint``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def uri(self) -> str:
        """For ``ALIBABA_CLOUD_CREDENTIALS_URI``."""
        return f"http://127.0.0.1:{self.port}{self.uri_path}"

    @property
    def proxy(self) -> str:
        """For ``HTTP_PROXY``: requests to the ECS metadata service come here."""
        return f"http://127.0.0.1:{self.port}"

    def write_oidc_token(self, path: str | Path) -> Path:
        """Write the OIDC token AssumeRoleWithOIDC accepts (what ACK mounts for RRSA)."""
        target = Path(path)
        target.write_text(self.oidc_token, encoding="utf-8")
        return target

    # -- the services -------------------------------------------------------------------------

    def _count(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1

    def _request_id(self) -> str:
        with self._lock:
            self._rid += 1
            return f"E1A2B3C4-0000-4000-8000-{self._rid:012d}"

    def _uri_answer(self) -> dict[str, str]:
        self._count("uri")
        issued = self.issuer.issue("credentials-uri")
        return {"Code": "Success", **issued.as_json(), "LastUpdated": _iso(time.time())}

    def _sts(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        action = params.get("Action")
        if action not in ("AssumeRole", "AssumeRoleWithOIDC"):
            raise _Refusal(404, "InvalidAction.NotFound", "Specified api is not found.")
        for name in ("RoleArn", "RoleSessionName"):
            if not params.get(name):
                raise _Refusal(400, "MissingParameter", f"{name} is mandatory for this action.")
        if action == "AssumeRole":
            self._check_signature(method, params)
        else:
            if params.get("OIDCProviderArn") != self.oidc_provider_arn:
                raise _Refusal(
                    404, "EntityNotExist.OIDCProvider", "The specified OIDC provider does not exist."
                )
            token = params.get("OIDCToken") or ""
            if not hmac.compare_digest(token.strip().encode(), self.oidc_token.encode()):
                raise _Refusal(400, "AuthenticationFail.OIDCToken.Invalid", "The OIDC token is invalid.")
        if params["RoleArn"] != self.role_arn:
            raise _Refusal(404, "EntityNotExist.Role", "The role not exists.")
        self._count(action)
        issued = self.issuer.issue(f"{params['RoleArn']}/{params['RoleSessionName']}")
        answer: dict[str, Any] = {
            "RequestId": self._request_id(),
            "AssumedRoleUser": {
                "AssumedRoleId": f"3{DEFAULT_ACCOUNT[:10]}:{params['RoleSessionName']}",
                "Arn": f"{params['RoleArn']}/{params['RoleSessionName']}",
            },
            "Credentials": issued.as_json(),
        }
        if action == "AssumeRoleWithOIDC":
            answer["OIDCTokenInfo"] = {
                "Issuer": "https://oidc-ack.emulator",
                "Subject": "system:serviceaccount",
            }
        return answer

    def _check_signature(self, method: str, params: dict[str, str]) -> None:
        for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp"):
            if not params.get(name):
                raise _Refusal(400, "MissingParameter", f"{name} is mandatory for this action.")
        key = params["AccessKeyId"]
        if self.issuer.knows(key):  # chained: an STS key assumes the next role
            secret, code = self.issuer.verify(key, params.get("SecurityToken"))
            if code is not None or secret is None:
                raise _Refusal(400 if code != "InvalidAccessKeyId.NotFound" else 404, str(code), str(code))
        elif hmac.compare_digest(key.encode(), self.access_key_id.encode()):
            secret = self._access_key_secret
        else:
            raise _Refusal(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        expected = _signing.sign_v1(secret, method, params)
        if not hmac.compare_digest(expected.encode(), params["Signature"].encode()):
            raise _Refusal(
                400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
            )

    def _metadata(self, method: str, path: str, headers: Any) -> tuple[int, bytes, str]:
        if method == "PUT" and path == "/latest/api/token":
            self._count("metadata-token")
            token = secrets.token_urlsafe(24)
            with self._lock:
                self._metadata_tokens.add(token)
            return 200, token.encode(), "text"
        given = headers.get("X-aliyun-ecs-metadata-token")
        if given is not None and given not in self._metadata_tokens:
            raise _Refusal(401, "Unauthorized", "The metadata token is not valid.")
        prefix = "/latest/meta-data/ram/security-credentials/"
        if method != "GET" or not path.startswith(prefix):
            raise _Refusal(404, "NotFound", "Not found.")
        role = path[len(prefix) :]
        if not role:
            self._count("metadata-role")
            return 200, self.ecs_role.encode(), "text"
        if role != self.ecs_role:
            raise _Refusal(404, "NotFound", "Not found.")
        self._count("metadata-credentials")
        issued = self.issuer.issue(f"ecs:{role}")
        body = {"Code": "Success", **issued.as_json(), "LastUpdated": _iso(time.time())}
        return 200, json.dumps(body).encode(), "json"
