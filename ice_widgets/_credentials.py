"""Where the access key comes from: the conventions Alibaba Cloud users already have.

Order (that of the official ``alibabacloud_credentials`` default chain, explicit sources first):

1. explicit arguments (``access_key_id``, ``access_key_secret``, ``security_token``);
2. an official credentials client or provider passed as ``credentials=``;
3. the environment: ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` /
   ``ALIBABA_CLOUD_SECURITY_TOKEN``; then ``ALIBABA_CLOUD_ROLE_ARN`` +
   ``ALIBABA_CLOUD_OIDC_PROVIDER_ARN`` + ``ALIBABA_CLOUD_OIDC_TOKEN_FILE`` (OIDC, e.g. ACK RRSA);
4. the aliyun CLI file ``~/.aliyun/config.json``, every mode it writes (profile from the
   argument, ``ALIBABA_CLOUD_PROFILE`` or the file's ``current``);
5. ``~/.alibabacloud/credentials.ini`` (or ``ALIBABA_CLOUD_CREDENTIALS_FILE``; section from
   the argument, ``ALIBABA_CLOUD_PROFILE`` or ``default``);
6. the ECS RAM role named by ``ALIBABA_CLOUD_ECS_METADATA``;
7. ``ALIBABA_CLOUD_CREDENTIALS_URI`` (a sidecar serving STS credentials);
8. the instance metadata service (ECS, PAI-DSW: the instance's RAM role), unless
   ``ALIBABA_CLOUD_ECS_METADATA_DISABLED=true``.

Static keys (arguments, environment, CLI modes ``AK``/``StsToken``, ``type = access_key``)
need nothing but the standard library. Every other source is fetched and renewed through the
official library (the extra ``pip install 'ice_widgets[credentials]'``); without it, a source
that needs it is one :class:`CredentialsError` naming the source, where it was found and that
command, before any request is sent.

Temporary credentials are held by a :class:`RefreshingCredentialsProvider`: renewed in the
background ahead of expiry (one renewal at a time, whichever thread or event loop asks), and
marked stale when the service says a token expired, so that the request is signed again.

Nothing found: one :class:`CredentialsError` naming every variable and file looked at.
``HOME`` is honoured so tests can use a temp dir. The secret and the token never appear in any
repr or message (the official library's error texts can quote service answers: only their
type and HTTP status are repeated).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import configparser
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ice_widgets._errors import CredentialsError

__all__ = [
    "ENV_ACCESS_KEY_ID",
    "ENV_ACCESS_KEY_SECRET",
    "ENV_CREDENTIALS_FILE",
    "ENV_CREDENTIALS_URI",
    "ENV_ECS_METADATA",
    "ENV_ECS_METADATA_DISABLED",
    "ENV_PROFILE",
    "ENV_REGION",
    "ENV_SECURITY_TOKEN",
    "ENV_STS_ENDPOINT",
    "INSTALL_HINT",
    "Credential",
    "CredentialsProvider",
    "ObjectCredentialsProvider",
    "RefreshingCredentialsProvider",
    "StaticCredentialsProvider",
    "cli_profile_region",
    "resolve_credentials",
]

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"
ENV_PROFILE = "ALIBABA_CLOUD_PROFILE"
ENV_CREDENTIALS_FILE = "ALIBABA_CLOUD_CREDENTIALS_FILE"
ENV_REGION = "ALIBABA_CLOUD_REGION_ID"
ENV_ROLE_ARN = "ALIBABA_CLOUD_ROLE_ARN"
ENV_OIDC_PROVIDER_ARN = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
ENV_OIDC_TOKEN_FILE = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
ENV_ROLE_SESSION_NAME = "ALIBABA_CLOUD_ROLE_SESSION_NAME"
ENV_STS_ENDPOINT = "ALIBABA_CLOUD_STS_ENDPOINT"
ENV_ECS_METADATA = "ALIBABA_CLOUD_ECS_METADATA"
ENV_ECS_METADATA_DISABLED = "ALIBABA_CLOUD_ECS_METADATA_DISABLED"
ENV_IMDSV1_DISABLED = "ALIBABA_CLOUD_IMDSV1_DISABLED"
ENV_CREDENTIALS_URI = "ALIBABA_CLOUD_CREDENTIALS_URI"
ENV_CLI_PROFILE_DISABLED = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED"

#: The one command that installs what the non-static sources need.
INSTALL_HINT = "pip install 'ice_widgets[credentials]'"
#: Start renewing temporary credentials this long before they expire (at most; a third of
#: their lifetime when that is shorter).
RENEW_AHEAD = 300.0
#: Requests wait for the renewal only this close to expiry (at most; a tenth of the lifetime).
WAIT_AHEAD = 10.0
#: Ask a source whose credentials carry no expiration again after this many seconds.
UNKNOWN_EXPIRY_TTL = 60.0
#: The service's codes for a token that expired: the request is signed again after a renewal.
EXPIRED_TOKEN_CODES = frozenset({"InvalidSecurityToken.Expired"})


class Credential:
    """An access key (and STS token) for signing; its repr never shows the secret or token.

    Parameters
    ----------
    access_key_id : str
    access_key_secret : str
    security_token : str, optional
        Set for STS credentials.
    """

    __slots__ = ("access_key_id", "access_key_secret", "security_token")

    def __init__(self, access_key_id: str, access_key_secret: str, security_token: str | None = None):
        # The ID and the token travel in headers: surrounding whitespace (a pasted newline)
        # would make the request unsendable. The secret is used as given.
        self.access_key_id = access_key_id.strip()
        self.access_key_secret = access_key_secret
        self.security_token = security_token.strip() if security_token and security_token.strip() else None

    def __repr__(self) -> str:
        kind = "sts" if self.security_token else "access_key"
        return f"Credential(access_key_id={self.access_key_id!r}, type={kind!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credential):
            return NotImplemented
        return (self.access_key_id, self.access_key_secret, self.security_token) == (
            other.access_key_id,
            other.access_key_secret,
            other.security_token,
        )

    def __hash__(self) -> int:
        return hash((self.access_key_id, self.access_key_secret, self.security_token))

    def __reduce__(self) -> Any:
        raise TypeError("Credential objects are not picklable (they hold a secret)")


class CredentialsProvider:
    """Gives the credential to sign each request with; ``source`` says where it came from.

    ``renewals`` counts the credentials obtained after the first (temporary credentials only).
    """

    source: str = "unknown"
    renewals: int = 0

    def get(self) -> Credential:  # pragma: no cover - interface
        """Return the credential to sign the next request with."""
        raise NotImplementedError

    async def aget(self) -> Credential:
        """:meth:`get` for event loops (only providers that may do I/O override it)."""
        return self.get()

    def invalidate(self, credential: Credential) -> bool:
        """The service refused ``credential`` as expired: whether signing again may succeed.

        Providers of temporary credentials mark it stale (the next :meth:`get` waits for a
        renewal) and return True; a fixed key cannot be renewed (False).
        """
        return False

    @property
    def account(self) -> str:
        """Who the requests are made as, stable for the process's life (not secret).

        The key under which the account's adaptive rate is kept: a fixed key's ID; for
        temporary credentials (whose key IDs change at each renewal, and again each time a
        new client resolves the same source) the source they are fetched from.
        """
        return f"source:{self.source}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.source!r})"


class StaticCredentialsProvider(CredentialsProvider):
    """A fixed access key (arguments, environment, CLI profile, credentials.ini)."""

    __slots__ = ("_credential", "source")

    def __init__(self, credential: Credential, source: str) -> None:
        self._credential = credential
        self.source = source

    @property
    def access_key_id(self) -> str:
        """The access key ID (not secret)."""
        return self._credential.access_key_id

    @property
    def account(self) -> str:
        """The access key ID: a fixed key is one account, whichever source named it."""
        return f"key:{self._credential.access_key_id}"

    def get(self) -> Credential:
        """Return the fixed credential."""
        return self._credential


def _failure(source: str, exc: BaseException, action: str = "getting credentials") -> CredentialsError:
    """A CredentialsError for a failed fetch that never repeats the library's text.

    The official library's messages quote service answers (which may hold a secret); only the
    exception type and an HTTP status found in the text are kept.
    """
    if isinstance(exc, CredentialsError):
        return exc
    text = str(exc)
    status = re.search(r"(?:http_?code|HttpCode)\s*[=:]\s*(\d{3})", text, re.IGNORECASE)
    detail = type(exc).__name__ + (f", HTTP {status.group(1)}" if status else "")
    if isinstance(exc, (FileNotFoundError, PermissionError)) and exc.filename:
        detail += f", file {exc.filename}"
    return CredentialsError(
        f"{action} from {source} failed ({detail}); check that source, or pass credentials explicitly",
        code="CredentialsProviderFailed",
    )


Fetch = Callable[[], tuple[Credential, float | None]]


class RefreshingCredentialsProvider(CredentialsProvider):
    """Temporary credentials, renewed ahead of expiry; safe across threads and event loops.

    ``fetch()`` returns ``(credential, expiration)`` (epoch seconds, or None when the source
    does not say: then it is asked again every :data:`UNKNOWN_EXPIRY_TTL` seconds). From
    ``expiration - min(RENEW_AHEAD, lifetime / 3)`` one renewal runs in a background thread
    while requests keep using the current credential; from
    ``expiration - min(WAIT_AHEAD, lifetime / 10)`` requests wait for it. Only one renewal
    runs at a time, whichever thread or event loop asks; an event loop never blocks on it.

    Parameters
    ----------
    fetch : callable
        Blocking; called in a worker thread (and once by :meth:`prime`).
    source : str
        Where the credentials come from (no secret).
    clock : callable
        Epoch seconds (``time.time``); tests may replace it.
    """

    def __init__(
        self,
        fetch: Fetch,
        source: str,
        *,
        clock: Callable[[], float] = time.time,
        unknown_ttl: float = UNKNOWN_EXPIRY_TTL,
    ) -> None:
        self._fetch = fetch
        self.source = source
        self._clock = clock
        self._unknown_ttl = unknown_ttl
        self._lock = threading.Lock()
        self._current: Credential | None = None
        self._renew_at = 0.0
        self._wait_at = 0.0
        self._expires: float | None = None
        self._pending: concurrent.futures.Future[Credential] | None = None
        self.renewals = 0

    @property
    def expiration(self) -> float | None:
        """When the current credential expires (epoch seconds), if the source said."""
        return self._expires

    def prime(self) -> Credential:
        """Fetch the first credential now, in the calling thread; raises CredentialsError."""
        with self._lock:
            pending = self._pending
        if pending is not None:
            return pending.result()
        credential, expires = self._checked_fetch()
        with self._lock:
            self._install(credential, expires, self._clock())
        return credential

    def get(self) -> Credential:
        """The credential to sign with now; waits only when none is usable any more."""
        current = self._current
        if current is not None and self._clock() < self._renew_at:
            return current
        usable, pending = self._check()
        if usable is not None:
            return usable
        assert pending is not None
        return pending.result()

    async def aget(self) -> Credential:
        """:meth:`get` for event loops: a renewal is awaited, never waited on in the loop."""
        current = self._current
        if current is not None and self._clock() < self._renew_at:
            return current
        usable, pending = self._check()
        if usable is not None:
            return usable
        assert pending is not None
        return await asyncio.wrap_future(pending)

    def invalidate(self, credential: Credential) -> bool:
        """Mark ``credential`` stale (if it is still the current one); True: sign again."""
        with self._lock:
            if self._current == credential:
                self._renew_at = self._wait_at = 0.0
        return True

    # -- internals ----------------------------------------------------------------------------

    def _check(self) -> tuple[Credential | None, concurrent.futures.Future[Credential] | None]:
        """``(usable credential, None)`` or ``(None, the renewal to wait for)``; starts one if due."""
        with self._lock:
            now = self._clock()
            current = self._current
            if current is not None and now < self._renew_at:
                return current, None
            pending = self._pending
            if pending is None:
                pending = self._pending = concurrent.futures.Future()
                # Running: a waiter that is cancelled (Ctrl-C in a batch) cannot cancel it
                # for everyone else (asyncio.wrap_future cancels the future it wraps).
                pending.set_running_or_notify_cancel()
                thread = threading.Thread(
                    target=self._renew, args=(pending,), name="ice-widgets-credentials", daemon=True
                )
                thread.start()
            if current is not None and now < self._wait_at:
                return current, None
            return None, pending

    def _renew(self, pending: concurrent.futures.Future[Credential]) -> None:
        try:
            credential, expires = self._checked_fetch()
        except BaseException as exc:  # the waiters must always get an answer
            error = exc if isinstance(exc, CredentialsError) else _failure(self.source, exc)
            with self._lock:
                self._pending = None
                now = self._clock()
                if self._current is not None and now < self._wait_at:
                    # Still usable: try again a little later instead of on every request.
                    self._renew_at = min(self._wait_at, now + min(5.0, (self._wait_at - now) / 4))
            pending.set_exception(error)
            return
        with self._lock:
            if self._current is not None and credential != self._current:
                self.renewals += 1
            self._install(credential, expires, self._clock())
            self._pending = None
        pending.set_result(credential)

    def _install(self, credential: Credential, expires: float | None, now: float) -> None:
        self._current = credential
        self._expires = expires
        if expires is None:
            self._renew_at = self._wait_at = now + self._unknown_ttl
            return
        life = max(0.0, expires - now)
        self._renew_at = expires - min(RENEW_AHEAD, life / 3)
        self._wait_at = expires - min(WAIT_AHEAD, life / 10)

    def _checked_fetch(self) -> tuple[Credential, float | None]:
        try:
            credential, expires = self._fetch()
        except Exception as exc:
            raise _failure(self.source, exc) from None
        if not credential.access_key_id or not credential.access_key_secret:
            raise CredentialsError(
                f"{self.source} gave no access key ID or secret", code="CredentialsProviderFailed"
            )
        return credential, expires


class ObjectCredentialsProvider(RefreshingCredentialsProvider):
    """An official ``alibabacloud_credentials`` client (or anything with ``get_credential()``).

    The object is asked again every ``ttl`` seconds (the official client refreshes RAM role
    and STS credentials itself; asking it on every request would cost CPU), in a worker
    thread like every renewal: an event loop never waits on the object's network I/O, and
    its async path (whose refresh lock blocks the loop when two coroutines ask at once) is
    not used.
    """

    def __init__(self, obj: Any, *, ttl: float = 10.0) -> None:
        if not (hasattr(obj, "get_credential") or hasattr(obj, "get_access_key_id")):
            raise CredentialsError(
                "credentials= must be an alibabacloud_credentials client or provider "
                "(an object with get_credential() or get_credentials()); got " + type(obj).__name__,
                code="InvalidCredentials",
            )
        self._obj = obj
        super().__init__(
            self._fetch_unknown_expiry,
            f"credentials object ({type(obj).__module__}.{type(obj).__name__})",
            clock=time.monotonic,
            unknown_ttl=ttl,
        )

    @property
    def account(self) -> str:
        """The object given (two objects of one class may hold different accounts)."""
        return f"object:{id(self._obj):x}"

    def _fetch_unknown_expiry(self) -> tuple[Credential, float | None]:
        return self._ask(), None

    def _ask(self) -> Credential:
        obj = self._obj
        try:
            if hasattr(obj, "get_credential"):
                model = obj.get_credential()
                ak = getattr(model, "access_key_id", None)
                secret = getattr(model, "access_key_secret", None)
                token = getattr(model, "security_token", None)
            else:
                ak = obj.get_access_key_id()
                secret = obj.get_access_key_secret()
                token = obj.get_security_token() if hasattr(obj, "get_security_token") else None
        except CredentialsError:
            raise
        except Exception as exc:  # the library raises its own types; never echo their text blindly
            raise CredentialsError(
                f"the credentials object failed to give a credential: {type(exc).__name__}",
                code="CredentialsProviderFailed",
            ) from None
        if not ak or not secret:
            raise CredentialsError(
                "the credentials object gave no access key ID or secret", code="CredentialsProviderFailed"
            )
        return Credential(str(ak), str(secret), str(token) if token else None)


# --------------------------------------------------------------------------- the official library


def _official(what: str) -> Any:
    """The official ``alibabacloud_credentials.provider`` module, or one clear CredentialsError.

    ``what`` names the source and where it was found (e.g. "the aliyun CLI profile 'x' in
    ~/.aliyun/config.json (mode RamRoleArn)").
    """
    try:
        from alibabacloud_credentials import provider
    except ImportError:
        raise CredentialsError(
            f"{what} needs the official credentials library alibabacloud_credentials, which is not "
            f"installed: {INSTALL_HINT}",
            code="CredentialsLibraryMissing",
        ) from None
    return provider


_QUIET = threading.local()


class _QuietWhileFetching(logging.Filter):
    """Drops the official library's log records while ice_widgets fetches, in that thread.

    It logs every refresh of a short-lived token as a warning and every failure with a
    traceback and the service's answer (which may quote a secret), three times over (one
    handler per module); ice_widgets reports failures itself, as one line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_QUIET, "active", False)


def _quiet_official_logs() -> None:
    logger = logging.getLogger("credentials")
    if not any(isinstance(f, _QuietWhileFetching) for f in logger.filters):
        logger.addFilter(_QuietWhileFetching())


def _official_fetch(provider: Any) -> Fetch:
    """``fetch`` for :class:`RefreshingCredentialsProvider` over an official provider.

    The provider's own cache answers until its stale time (15 min before expiry); renewing
    ahead of that is the official refresh.
    """

    _quiet_official_logs()

    def fetch() -> tuple[Credential, float | None]:
        _QUIET.active = True
        try:
            value = provider.get_credentials()
        finally:
            _QUIET.active = False
        if value is None:
            raise CredentialsError("the provider gave no credentials", code="CredentialsProviderFailed")
        ak = value.get_access_key_id()
        secret = value.get_access_key_secret()
        token = value.get_security_token()
        getter = getattr(value, "get_expiration", None)
        expires = getter() if getter is not None else None
        return (
            Credential(str(ak or ""), str(secret or ""), str(token) if token else None),
            float(expires) if isinstance(expires, (int, float)) and expires > 0 else None,
        )

    return fetch


def _refreshing(provider: Any, source: str) -> RefreshingCredentialsProvider:
    """Wrap an official provider and fetch its first credential now (errors name ``source``)."""
    refreshing = RefreshingCredentialsProvider(_official_fetch(provider), source)
    refreshing.prime()
    return refreshing


def _truthy(value: Any) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _safe_uri(uri: str) -> str:
    """A credentials URI without its query or user info (either may hold a token)."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _duration(value: Any) -> int | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _sts_options(spec: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    endpoint = str(spec.get("sts_endpoint") or env.get(ENV_STS_ENDPOINT) or "").strip()
    if endpoint:
        options["sts_endpoint"] = endpoint
    region = str(spec.get("sts_region") or "").strip()
    if region:
        options["sts_region_id"] = region
    if spec.get("enable_vpc") is not None:
        options["enable_vpc"] = _truthy(spec.get("enable_vpc"))
    return options


#: aliyun CLI modes that are fixed keys (read without the official library).
_STATIC_MODES = ("AK", "StsToken")
#: aliyun CLI modes ice_widgets builds from the official library's providers.
_ROLE_MODES = ("RamRoleArn", "ChainableRamRoleArn", "EcsRamRole", "OIDC", "CredentialsURI")
#: aliyun CLI modes handed whole to the official CLI profile provider (it writes tokens back).
_DELEGATED_MODES = ("CloudSSO", "OAuth", "External")


class _Profiles:
    """The aliyun CLI config: builds the official provider of a profile, following source_profile."""

    def __init__(
        self, data: Mapping[str, Any], path: Path, env: Mapping[str, str], label: str | None = None
    ) -> None:
        self.data = data
        self.path = path
        self.env = env
        self.label = label

    def find(self, name: str) -> dict[str, Any] | None:
        for item in self.data.get("profiles") or []:
            if isinstance(item, dict) and item.get("name") == name:
                return item
        return None

    def where(self, name: str, mode: str) -> str:
        if self.label is not None:
            return self.label
        return f"the aliyun CLI profile {name!r} in {self.path} (mode {mode})"

    def official(self, name: str, depth: int = 0) -> tuple[Any, str]:
        """``(official provider, description)`` for profile ``name``; CredentialsError if impossible."""
        profile = self.find(name)
        if profile is None or depth > 5:
            raise CredentialsError(
                f"the aliyun CLI config {self.path} has no profile {name!r} (or source_profile loops)",
                code="NoCredentials",
            )
        mode = str(profile.get("mode") or "AK")
        where = self.where(name, mode)
        providers = _official(where)
        ak = str(profile.get("access_key_id") or "")
        secret = str(profile.get("access_key_secret") or "")
        try:
            if mode == "AK":
                return providers.StaticAKCredentialsProvider(access_key_id=ak, access_key_secret=secret), (
                    f"access key {ak!r}"
                )
            if mode == "StsToken":
                return providers.StaticSTSCredentialsProvider(
                    access_key_id=ak, access_key_secret=secret, security_token=profile.get("sts_token")
                ), f"STS token of {ak!r}"
            if mode in ("RamRoleArn", "ChainableRamRoleArn"):
                if mode == "RamRoleArn":
                    base: Any = providers.StaticAKCredentialsProvider(
                        access_key_id=ak, access_key_secret=secret
                    )
                    base_text = f"access key {ak!r}"
                else:
                    source_name = str(profile.get("source_profile") or "")
                    base, inner = self.official(source_name, depth + 1)
                    base_text = f"profile {source_name!r}: {inner}"
                arn = str(profile.get("ram_role_arn") or "")
                return providers.RamRoleArnCredentialsProvider(
                    credentials_provider=base,
                    role_arn=arn,
                    role_session_name=profile.get("ram_session_name") or None,
                    duration_seconds=_duration(profile.get("expired_seconds")),
                    policy=profile.get("policy") or None,
                    external_id=profile.get("external_id") or None,
                    **_sts_options(profile, self.env),
                ), f"RAM role {arn!r} assumed with {base_text}"
            if mode == "EcsRamRole":
                role = str(profile.get("ram_role_name") or "") or None
                return _ecs_provider(
                    providers, role, self.env, where
                ), f"ECS RAM role {role or '(from metadata)'!r}"
            if mode == "OIDC":
                arn = str(profile.get("ram_role_arn") or "")
                return providers.OIDCRoleArnCredentialsProvider(
                    role_arn=arn,
                    oidc_provider_arn=profile.get("oidc_provider_arn") or None,
                    oidc_token_file_path=profile.get("oidc_token_file") or None,
                    role_session_name=profile.get("role_session_name")
                    or profile.get("ram_session_name")
                    or None,
                    duration_seconds=_duration(profile.get("expired_seconds")),
                    policy=profile.get("policy") or None,
                    **_sts_options(profile, self.env),
                ), f"OIDC role {arn!r} (token file {profile.get('oidc_token_file')})"
            if mode == "CredentialsURI":
                uri = str(profile.get("credentials_uri") or "")
                return providers.URLCredentialsProvider(uri=uri), f"credentials URI {_safe_uri(uri)}"
            if mode in _DELEGATED_MODES:
                from alibabacloud_credentials.provider.cli_profile import CLIProfileCredentialsProvider

                official = CLIProfileCredentialsProvider(profile_name=name, profile_file=str(self.path))
                if mode == "External":  # the program only: its arguments may hold a secret
                    program = str(profile.get("process_command") or "").split(" ")[0]
                    return official, f"External process {Path(program).name!r}"
                if mode == "CloudSSO":
                    account = profile.get("cloud_sso_account_id")
                    return (
                        official,
                        f"CloudSSO account {account!r} ({profile.get('cloud_sso_access_config')})",
                    )
                return official, f"OAuth sign-in ({profile.get('oauth_site_type') or 'CN'})"
        except CredentialsError:
            raise
        except (ValueError, TypeError) as exc:  # the official constructors validate their arguments
            raise CredentialsError(f"{where} is incomplete: {exc}", code="IncompleteCredentials") from None
        raise CredentialsError(
            f"{where}: ice_widgets does not know this mode; modes: "
            + ", ".join((*_STATIC_MODES, *_ROLE_MODES, *_DELEGATED_MODES)),
            code="UnsupportedCredentialsMode",
        )


def _ecs_provider(providers: Any, role: str | None, env: Mapping[str, str], where: str) -> Any:
    """The official ECS RAM role provider, without its background scheduler thread.

    Renewal ahead of expiry is :class:`RefreshingCredentialsProvider`'s; the official
    provider's ``async_update_enabled`` would start an APScheduler thread per client.
    """
    if _truthy(env.get(ENV_ECS_METADATA_DISABLED)):
        raise CredentialsError(
            f"{where} asks for the ECS RAM role {role or '(from metadata)'!r}, but "
            f"{ENV_ECS_METADATA_DISABLED}=true forbids the metadata service",
            code="CredentialsDisabled",
        )
    return providers.EcsRamRoleCredentialsProvider(
        role_name=role or None,
        disable_imds_v1=_truthy(env.get(ENV_IMDSV1_DISABLED)),
        async_update_enabled=False,
    )


# --------------------------------------------------------------------------- files


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME") or env.get("USERPROFILE")
    return Path(home) if home else Path.home()


def _cli_config_path(env: Mapping[str, str]) -> Path:
    return _home(env) / ".aliyun" / "config.json"


def _ini_path(env: Mapping[str, str]) -> Path:
    configured = env.get(ENV_CREDENTIALS_FILE)
    if configured:
        return Path(configured).expanduser()
    return _home(env) / ".alibabacloud" / "credentials.ini"


def _read_cli_config(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("r", encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CredentialsError(
            f"cannot read the aliyun CLI config {path}: {type(exc).__name__}", code="InvalidCredentialsFile"
        ) from None
    return data if isinstance(data, dict) else None


def _read_cli_profile(path: Path, profile: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """Return ``(profile dict, profile name)`` from the aliyun CLI config, or ``(None, name)``."""
    data = _read_cli_config(path)
    if data is None:
        return None, profile
    name = profile or data.get("current") or "default"
    for item in data.get("profiles") or []:
        if isinstance(item, dict) and item.get("name") == name:
            return item, str(name)
    return None, str(name)


def cli_profile_region(profile: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The ``region_id`` of the aliyun CLI profile, if the file and the profile exist."""
    env = os.environ if env is None else env
    try:
        found, _ = _read_cli_profile(_cli_config_path(env), profile or env.get(ENV_PROFILE) or None)
    except CredentialsError:
        return None
    if found:
        region = found.get("region_id")
        if isinstance(region, str) and region.strip():
            return region.strip()
    return None


def _from_cli(path: Path, name: str, env: Mapping[str, str]) -> CredentialsProvider | None:
    """The provider for CLI profile ``name`` (None when the file or profile is absent)."""
    data = _read_cli_config(path)
    if data is None:
        return None
    profiles = _Profiles(data, path, env)
    found = profiles.find(name)
    if found is None:
        return None
    mode = str(found.get("mode") or "AK")
    ak = found.get("access_key_id")
    secret = found.get("access_key_secret")
    if mode in _STATIC_MODES:
        if not (ak and secret):
            return None
        token = found.get("sts_token") if mode == "StsToken" else None
        return StaticCredentialsProvider(
            Credential(str(ak), str(secret), str(token) if token else None),
            f"aliyun CLI profile {name!r} in {path}",
        )
    official, description = profiles.official(name)
    return _refreshing(
        official,
        f"alibabacloud_credentials: {description} (aliyun CLI profile {name!r}, mode {mode}, {path})",
    )


#: credentials.ini types and the aliyun CLI mode (and key names) they are built as.
_INI_TYPES = {
    "ram_role_arn": ("RamRoleArn", {"role_arn": "ram_role_arn", "role_session_name": "ram_session_name"}),
    "ecs_ram_role": ("EcsRamRole", {"role_name": "ram_role_name"}),
    "oidc_role_arn": (
        "OIDC",
        {"role_arn": "ram_role_arn", "oidc_token_file_path": "oidc_token_file"},
    ),
    "credentials_uri": ("CredentialsURI", {}),
}


def _read_ini(path: Path, section: str, env: Mapping[str, str]) -> CredentialsProvider | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open("r", encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        return None
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        raise CredentialsError(
            f"cannot read the credentials file {path}: {type(exc).__name__}", code="InvalidCredentialsFile"
        ) from None
    if not parser.has_section(section):
        return None
    items = {key: value.split("#")[0].strip() for key, value in parser[section].items()}
    kind = items.get("type") or "access_key"
    ak = items.get("access_key_id") or ""
    secret = items.get("access_key_secret") or ""
    if kind in _INI_TYPES:
        mode, renames = _INI_TYPES[kind]
        spec: dict[str, Any] = {**items, "name": section, "mode": mode}
        for old, new in renames.items():
            if old in items:
                spec[new] = items[old]
        where = f"section [{section}] of {path} (type = {kind})"
        profiles = _Profiles({"profiles": [spec]}, path, env, label=where)
        _official(where)
        official, description = profiles.official(section)
        return _refreshing(
            official, f"alibabacloud_credentials: {description} (credentials file {path} [{section}])"
        )
    if kind != "access_key":
        raise CredentialsError(
            f"section [{section}] of {path} has type = {kind}; ice_widgets reads types access_key, "
            + ", ".join(_INI_TYPES),
            code="UnsupportedCredentialsMode",
        )
    if not (ak and secret):
        raise CredentialsError(
            f"section [{section}] of {path} lacks access_key_id or access_key_secret",
            code="IncompleteCredentials",
        )
    return StaticCredentialsProvider(Credential(ak, secret), f"credentials file {path} [{section}]")


# --------------------------------------------------------------------------- the chain


def _from_oidc_env(env: Mapping[str, str]) -> CredentialsProvider | None:
    names = (ENV_ROLE_ARN, ENV_OIDC_PROVIDER_ARN, ENV_OIDC_TOKEN_FILE)
    values = [env.get(name, "").strip() for name in names]
    if not all(values):
        return None
    arn, provider_arn, token_file = values
    where = f"the OIDC role {arn!r} of the environment ({', '.join(names)})"
    providers = _official(where)
    try:
        official = providers.OIDCRoleArnCredentialsProvider(
            role_arn=arn,
            oidc_provider_arn=provider_arn,
            oidc_token_file_path=token_file,
            role_session_name=env.get(ENV_ROLE_SESSION_NAME) or None,
            **_sts_options({}, env),
        )
    except ValueError as exc:
        raise CredentialsError(f"{where} is incomplete: {exc}", code="IncompleteCredentials") from None
    return _refreshing(official, f"alibabacloud_credentials: OIDC role {arn!r} (token file {token_file})")


def _from_credentials_uri(env: Mapping[str, str]) -> CredentialsProvider | None:
    uri = env.get(ENV_CREDENTIALS_URI, "").strip()
    if not uri:
        return None
    shown = _safe_uri(uri)
    providers = _official(f"the credentials URI {shown} ({ENV_CREDENTIALS_URI})")
    return _refreshing(
        providers.URLCredentialsProvider(uri=uri), f"alibabacloud_credentials: credentials URI {shown}"
    )


def _from_named_ecs_role(env: Mapping[str, str]) -> CredentialsProvider | None:
    role = env.get(ENV_ECS_METADATA, "").strip()
    if not role or _truthy(env.get(ENV_ECS_METADATA_DISABLED)):
        return None
    where = f"the ECS RAM role {role!r} ({ENV_ECS_METADATA})"
    providers = _official(where)
    return _refreshing(
        _ecs_provider(providers, role, env, where), f"alibabacloud_credentials: ECS RAM role {role!r}"
    )


def _from_instance_metadata(env: Mapping[str, str]) -> CredentialsProvider | None:
    """The instance's RAM role from the metadata service (ECS, PAI-DSW), or None if there is none."""
    if _truthy(env.get(ENV_ECS_METADATA_DISABLED)):
        return None
    try:
        from alibabacloud_credentials import provider as providers
    except ImportError:
        return None
    where = "the instance metadata service"
    try:
        official = _ecs_provider(providers, None, env, where)
    except ValueError:  # the library read ALIBABA_CLOUD_ECS_METADATA_DISABLED=true when imported
        return None
    role = ""
    find_role = getattr(official, "_get_role_name", None)  # names the role in the source
    if find_role is not None:
        try:
            role = str(find_role() or "").strip()  # one short request; fails fast off ECS
        except Exception:
            return None
    if role:  # the instance has a role: a failure to get its credentials is worth an error
        official = _ecs_provider(providers, role, env, where)
        return _refreshing(official, f"alibabacloud_credentials: ECS RAM role {role!r}")
    try:
        return _refreshing(official, "alibabacloud_credentials: ECS RAM role (instance metadata)")
    except CredentialsError:
        return None


def resolve_credentials(
    *,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    security_token: str | None = None,
    profile: str | None = None,
    credentials: Any = None,
    env: Mapping[str, str] | None = None,
) -> CredentialsProvider:
    """Find credentials in the documented order; see the module docstring.

    Parameters
    ----------
    access_key_id, access_key_secret, security_token : str, optional
        Explicit credentials; the ID and secret must be given together.
    profile : str, optional
        The aliyun CLI profile or credentials.ini section to use.
    credentials : object, optional
        An official ``alibabacloud_credentials`` client or provider, or another client's
        :class:`CredentialsProvider` (shared as it is).
    env : mapping, optional
        The environment (default ``os.environ``).

    Returns
    -------
    CredentialsProvider
        With ``source`` naming where the key came from. Temporary credentials have been
        fetched once already (a source that fails says so here, before any request).

    Raises
    ------
    CredentialsError
        Nothing usable was found (the message names everything looked at); a source needs the
        official library and it is missing (``CredentialsLibraryMissing``); a source failed.
    """
    env = os.environ if env is None else env

    if access_key_id or access_key_secret:
        if not (access_key_id and access_key_secret):
            missing = "access_key_secret" if access_key_id else "access_key_id"
            raise CredentialsError(
                f"access_key_id and access_key_secret must be given together ({missing} is missing)",
                code="IncompleteCredentials",
            )
        return StaticCredentialsProvider(
            Credential(access_key_id, access_key_secret, security_token), "arguments"
        )
    if isinstance(credentials, CredentialsProvider):
        return credentials  # another client's provider, shared: copies of a client renew together
    if credentials is not None:
        if hasattr(credentials, "get_credentials") and not hasattr(credentials, "get_credential"):
            # An official provider (URLCredentialsProvider, ...): its Credentials carry Expiration.
            return RefreshingCredentialsProvider(
                _official_fetch(credentials),
                f"alibabacloud_credentials: {type(credentials).__name__} (credentials=)",
            )
        return ObjectCredentialsProvider(credentials)

    env_id = env.get(ENV_ACCESS_KEY_ID, "").strip()
    env_secret = env.get(ENV_ACCESS_KEY_SECRET, "").strip()
    if env_id or env_secret:
        if not (env_id and env_secret):
            missing = ENV_ACCESS_KEY_SECRET if env_id else ENV_ACCESS_KEY_ID
            raise CredentialsError(
                f"{missing} is not set although its partner is", code="IncompleteCredentials"
            )
        token = env.get(ENV_SECURITY_TOKEN, "").strip() or security_token
        return StaticCredentialsProvider(
            Credential(env_id, env_secret, token), f"environment ({ENV_ACCESS_KEY_ID})"
        )
    found = _from_oidc_env(env)
    if found is not None:
        return found

    profile_name = profile or env.get(ENV_PROFILE) or None
    cli_path = _cli_config_path(env)
    cli_name = profile_name
    if not _truthy(env.get(ENV_CLI_PROFILE_DISABLED)):
        data = _read_cli_config(cli_path)
        if data is not None:
            cli_name = str(profile_name or data.get("current") or "default")
            found = _from_cli(cli_path, cli_name, env)
            if found is not None:
                return found

    ini_path = _ini_path(env)
    section = profile_name or "default"
    found = _read_ini(ini_path, section, env)
    if found is not None:
        return found

    for step in (_from_named_ecs_role, _from_credentials_uri, _from_instance_metadata):
        found = step(env)
        if found is not None:
            return found

    looked = [
        "the access_key_id/access_key_secret arguments",
        "credentials=",
        f"the environment variables {ENV_ACCESS_KEY_ID}, {ENV_ACCESS_KEY_SECRET} and {ENV_SECURITY_TOKEN}",
        f"{ENV_ROLE_ARN}/{ENV_OIDC_PROVIDER_ARN}/{ENV_OIDC_TOKEN_FILE}",
        f"the aliyun CLI config {cli_path} (profile {cli_name or 'current'})",
        f"{ini_path} (section [{section}]; set {ENV_CREDENTIALS_FILE} to use another file)",
        f"{ENV_ECS_METADATA}, {ENV_CREDENTIALS_URI}",
    ]
    try:
        import alibabacloud_credentials  # noqa: F401

        if _truthy(env.get(ENV_ECS_METADATA_DISABLED)):
            looked.append(f"not the instance's RAM role ({ENV_ECS_METADATA_DISABLED}=true)")
        else:
            looked.append(
                f"the instance's RAM role (ECS metadata; {ENV_ECS_METADATA_DISABLED}=true skips it)"
            )
        hint = ""
    except ImportError:
        hint = f"; on ECS or PAI-DSW with an instance RAM role: {INSTALL_HINT}"
    raise CredentialsError(
        "no Alibaba Cloud credentials found; looked at "
        + "; ".join(looked)
        + hint
        + ". To try ice_widgets without an account, run `ice-widgets demo` (or `make demo` in a "
        "checkout): a local ICE emulator and JupyterLab with demo credentials",
        code="NoCredentials",
    )
