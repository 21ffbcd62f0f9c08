"""Where the access key comes from: the conventions Alibaba Cloud users already have.

Order (the same as the official ``alibabacloud_credentials`` library):

1. explicit arguments (``access_key_id``, ``access_key_secret``, ``security_token``);
2. an official credentials client passed as ``credentials=`` (RAM roles and the rest);
3. ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` /
   ``ALIBABA_CLOUD_SECURITY_TOKEN``;
4. the aliyun CLI file ``~/.aliyun/config.json`` (modes ``AK`` and ``StsToken``; profile from
   the argument, ``ALIBABA_CLOUD_PROFILE`` or the file's ``current``);
5. ``~/.alibabacloud/credentials.ini`` (or ``ALIBABA_CLOUD_CREDENTIALS_FILE``; section from
   the argument, ``ALIBABA_CLOUD_PROFILE`` or ``default``; ``type = access_key``).

Nothing found: one :class:`CredentialsError` naming every variable and file looked at.
No I/O beyond reading those two small files; ``HOME`` is honoured so tests can use a temp dir.
The secret and the token never appear in any repr or message.
"""

from __future__ import annotations

import configparser
import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ice_widgets._errors import CredentialsError

__all__ = [
    "ENV_ACCESS_KEY_ID",
    "ENV_ACCESS_KEY_SECRET",
    "ENV_CREDENTIALS_FILE",
    "ENV_PROFILE",
    "ENV_REGION",
    "ENV_SECURITY_TOKEN",
    "Credential",
    "CredentialsProvider",
    "ObjectCredentialsProvider",
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
    """Gives the credential to sign each request with; ``source`` says where it came from."""

    source: str = "unknown"

    def get(self) -> Credential:  # pragma: no cover - interface
        """Return the credential to sign the next request with."""
        raise NotImplementedError

    async def aget(self) -> Credential:
        """:meth:`get` for event loops (only providers that may do I/O override it)."""
        return self.get()

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

    def get(self) -> Credential:
        """Return the fixed credential."""
        return self._credential


class ObjectCredentialsProvider(CredentialsProvider):
    """An official ``alibabacloud_credentials`` client (or anything with ``get_credential()``).

    The credential is cached for ``ttl`` seconds: the official client refreshes RAM role
    and STS credentials itself, and asking it on every request would cost CPU.
    """

    def __init__(self, obj: Any, *, ttl: float = 10.0) -> None:
        if not (hasattr(obj, "get_credential") or hasattr(obj, "get_access_key_id")):
            raise CredentialsError(
                "credentials= must be an alibabacloud_credentials client "
                "(an object with get_credential()); got " + type(obj).__name__,
                code="InvalidCredentials",
            )
        self._obj = obj
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cached: Credential | None = None
        self._expires = 0.0
        self.source = f"credentials object ({type(obj).__module__}.{type(obj).__name__})"

    def get(self) -> Credential:
        """Return a cached credential, asking the object again after ``ttl`` seconds."""
        now = time.monotonic()
        cached = self._cached
        if cached is not None and now < self._expires:
            return cached
        with self._lock:
            if self._cached is not None and now < self._expires:
                return self._cached
            credential = self._fetch()
            self._cached = credential
            self._expires = now + self._ttl
            return credential

    async def aget(self) -> Credential:
        """Like :meth:`get`, but a refresh uses the object's ``get_credential_async`` if it has one.

        A RAM-role refresh does network I/O; the event loop must not wait on it.
        """
        cached = self._cached
        if cached is not None and time.monotonic() < self._expires:
            return cached
        getter = getattr(self._obj, "get_credential_async", None)
        if getter is None:
            return self.get()
        try:
            model = await getter()
        except CredentialsError:
            raise
        except Exception as exc:
            raise CredentialsError(
                f"the credentials object failed to give a credential: {type(exc).__name__}",
                code="CredentialsProviderFailed",
            ) from None
        credential = self._from_model(model)
        with self._lock:
            self._cached = credential
            self._expires = time.monotonic() + self._ttl
        return credential

    @staticmethod
    def _from_model(model: Any) -> Credential:
        ak = getattr(model, "access_key_id", None)
        secret = getattr(model, "access_key_secret", None)
        token = getattr(model, "security_token", None)
        if not ak or not secret:
            raise CredentialsError(
                "the credentials object gave no access key ID or secret", code="CredentialsProviderFailed"
            )
        return Credential(str(ak), str(secret), str(token) if token else None)

    def _fetch(self) -> Credential:
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


def _read_cli_profile(path: Path, profile: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """Return ``(profile dict, profile name)`` from the aliyun CLI config, or ``(None, name)``."""
    try:
        with path.open("r", encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None, profile
    except (OSError, ValueError) as exc:
        raise CredentialsError(
            f"cannot read the aliyun CLI config {path}: {type(exc).__name__}", code="InvalidCredentialsFile"
        ) from None
    if not isinstance(data, dict):
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
        An official ``alibabacloud_credentials`` client.
    env : mapping, optional
        The environment (default ``os.environ``).

    Returns
    -------
    CredentialsProvider
        With ``source`` naming where the key came from.

    Raises
    ------
    CredentialsError
        Nothing usable was found; the message names everything looked at.
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
    if credentials is not None:
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

    profile_name = profile or env.get(ENV_PROFILE) or None
    cli_path = _cli_config_path(env)
    found, cli_name = _read_cli_profile(cli_path, profile_name)
    if found is not None:
        mode = str(found.get("mode") or "AK")
        ak = found.get("access_key_id")
        secret = found.get("access_key_secret")
        if mode in ("AK", "StsToken") and ak and secret:
            token = found.get("sts_token") if mode == "StsToken" else None
            return StaticCredentialsProvider(
                Credential(str(ak), str(secret), str(token) if token else None),
                f"aliyun CLI profile {cli_name!r} in {cli_path}",
            )
        if mode not in ("AK", "StsToken"):
            raise CredentialsError(
                f"the aliyun CLI profile {cli_name!r} in {cli_path} uses mode {mode!r}; ice_widgets reads "
                "modes AK and StsToken directly: pass an alibabacloud_credentials client as credentials= "
                "for other modes",
                code="UnsupportedCredentialsMode",
            )

    ini_path = _ini_path(env)
    section = profile_name or "default"
    ini_found = _read_ini(ini_path, section)
    if ini_found is not None:
        return ini_found

    looked = [
        "the access_key_id/access_key_secret arguments",
        "credentials=",
        f"the environment variables {ENV_ACCESS_KEY_ID}, {ENV_ACCESS_KEY_SECRET} and {ENV_SECURITY_TOKEN}",
        f"the aliyun CLI config {cli_path} (profile {cli_name or 'current'})",
        f"{ini_path} (section [{section}]; set {ENV_CREDENTIALS_FILE} to use another file)",
    ]
    raise CredentialsError(
        "no Alibaba Cloud credentials found; looked at "
        + "; ".join(looked)
        + ". To try ice_widgets without an account, run `ice-widgets demo` (or `make demo` in a "
        "checkout): a local ICE emulator and JupyterLab with demo credentials",
        code="NoCredentials",
    )


def _read_ini(path: Path, section: str) -> StaticCredentialsProvider | None:
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
    items = parser[section]
    kind = (items.get("type") or "access_key").strip()
    ak = (items.get("access_key_id") or "").strip()
    secret = (items.get("access_key_secret") or "").strip()
    if kind != "access_key":
        raise CredentialsError(
            f"section [{section}] of {path} has type = {kind}; ice_widgets reads type = access_key directly: "
            "pass an alibabacloud_credentials client as credentials= for other types",
            code="UnsupportedCredentialsMode",
        )
    if not (ak and secret):
        raise CredentialsError(
            f"section [{section}] of {path} lacks access_key_id or access_key_secret",
            code="IncompleteCredentials",
        )
    return StaticCredentialsProvider(Credential(ak, secret), f"credentials file {path} [{section}]")
