"""The exception tree of ice_widgets.

::

    IceError                      every error this package raises on purpose
    ├── CredentialsError          no usable credentials were found (names where it looked)
    ├── ApiError                  the service answered with an error body (has .code)
    │   ├── ThrottlingError       Throttling, Throttling.User, ...: retried with backoff
    │   ├── AuthenticationError   bad key, bad signature, bad STS token: never retried,
    │   │   └── ClockSkewError    InvalidTimeStamp.Expired: the local clock is off
    │   ├── PermissionDeniedError Forbidden.RAM, NoPermission: this job or action only
    │   ├── NotFoundError         the job does not exist
    │   ├── InvalidParameterError InvalidParameter*: the request itself is wrong
    │   └── ServerError           5xx, ServiceUnavailable, InternalError: retried
    └── TransportError            no usable answer: connection failed, timeout, bad body
        ├── RequestTimeoutError
        └── InvalidResponseError  a body that is not the JSON the API sends

Every error carries ``code``, ``message``, ``request_id``, ``http_status`` and
``recommend`` (``None`` where not known). ``str(error)`` is one readable line.
No error ever holds a secret: requests are not attached, only the action name.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ClockSkewError",
    "CredentialsError",
    "IceError",
    "InvalidParameterError",
    "InvalidResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RequestTimeoutError",
    "ServerError",
    "ThrottlingError",
    "TransportError",
]


class IceError(Exception):
    """Base class of every error raised by ice_widgets.

    Parameters
    ----------
    message : str
        What went wrong, in words.
    code : str, optional
        The API's error code (``Throttling.User``) or a local one (``ConnectionError``).
    request_id : str, optional
        The ``RequestId`` of the failed answer, for Alibaba Cloud support.
    http_status : int, optional
        The HTTP status of the answer.
    recommend : str, optional
        The diagnosis URL the API sends in ``Recommend``.
    action : str, optional
        The API action that failed (``GetPackageJob``).
    retry_after : float, optional
        Seconds the server asked to wait (``x-acs-retry-after``).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        recommend: str | None = None,
        action: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.http_status = http_status
        self.recommend = recommend
        self.action = action
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = []
        if self.code:
            parts.append(f"{self.code}:")
        message = " ".join(str(self.message).split())
        if self.code and message.startswith(f"{self.code}: "):
            message = message[len(self.code) + 2 :]  # "ConnectError: ConnectError: ..." reads badly
        parts.append(message or "(no message)")
        details = []
        if self.http_status is not None:
            details.append(f"HTTP {self.http_status}")
        if self.action:
            details.append(self.action)
        if self.request_id:
            details.append(f"RequestId {self.request_id}")
        if details:
            parts.append(f"({', '.join(details)})")
        return " ".join(parts)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, message={self.message!r}, request_id={self.request_id!r})"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keep keyword attributes across pickling (multiprocessing, caches).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[IceError], message: str, state: dict[str, object]) -> IceError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class CredentialsError(IceError):
    """No usable credentials: names every variable and file that was looked at."""


class ApiError(IceError):
    """The service answered with an error body."""


class ThrottlingError(ApiError):
    """The account or API is over its request rate; retried with backoff."""


class AuthenticationError(ApiError):
    """The request was not authenticated (key, signature, token); never retried.

    Every other request of the same client would fail the same way, so batch
    operations stop at the first one.
    """


class ClockSkewError(AuthenticationError):
    """``InvalidTimeStamp.Expired``: the local clock differs from the server's by over 15 min."""


class PermissionDeniedError(ApiError):
    """The caller may not perform this action on this resource (Forbidden.RAM, NoPermission)."""


class NotFoundError(ApiError):
    """The job does not exist (or is not visible to this account)."""


class InvalidParameterError(ApiError):
    """The request's parameters were refused (InvalidParameter*)."""


class ServerError(ApiError):
    """A server-side failure (5xx, ServiceUnavailable, InternalError); retried."""


class TransportError(IceError):
    """No usable answer: the connection failed or the body was not the API's JSON."""


class RequestTimeoutError(TransportError):
    """Connecting or reading took longer than the client's timeout."""


class InvalidResponseError(TransportError):
    """The body was empty, truncated, not JSON, or not the shape the API sends."""
