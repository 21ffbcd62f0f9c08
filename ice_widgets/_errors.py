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

Every error carries ``code``, ``message``, ``request_id``, ``http_status``,
``recommend`` and ``job_id`` (``None`` where not known). ``str(error)`` is one readable line.
No error ever holds a secret: requests are not attached, only the action name.

Short tracebacks: the public calls are wrapped by :func:`public_call`, which cuts an
error's traceback to the public frame. A ``NotFoundError`` then shows as the notebook
cell, the public call's line and the one-line message, not six frames of retry and
parsing code (set ``ICE_WIDGETS_FULL_TRACEBACK=1`` to keep every frame).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import AsyncIterator, Callable, Generator
from types import TracebackType
from typing import Any, TypeVar, cast

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
    "public_call",
]

F = TypeVar("F", bound=Callable[..., Any])


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
    job_id : str, optional
        The job the failed request was about.
    """

    #: What to do about it, appended to ``str(error)`` (subclasses set it).
    hint: str | None = None

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
        job_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.http_status = http_status
        self.recommend = recommend
        self.action = action
        self.retry_after = retry_after
        self.job_id = job_id

    def __str__(self) -> str:
        parts = []
        if self.code:
            parts.append(f"{self.code}:")
        message = " ".join(str(self.message).split())
        if self.code and message.startswith(f"{self.code}: "):
            message = message[len(self.code) + 2 :]  # "ConnectError: ConnectError: ..." reads badly
        lead = self._lead()
        if lead:
            parts.append(f"{lead}:")
        parts.append(message or "(no message)")
        details = []
        if self.http_status is not None:
            details.append(f"HTTP {self.http_status}")
        if self.action and not lead:
            details.append(self.action)
        if self.request_id:
            details.append(f"RequestId {self.request_id}")
        if details:
            parts.append(f"({', '.join(details)})")
        if self.hint and lead:
            parts.append(self.hint)
        return " ".join(parts)

    def _lead(self) -> str | None:
        """Words before the message naming what failed (subclasses), or None."""
        return None

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, message={self.message!r}, request_id={self.request_id!r})"

    def __reduce__(self) -> tuple[Callable[..., IceError], tuple[Any, ...]]:
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
    """The job does not exist (or is not visible to this account).

    ``str(error)`` names the job ID and the action, then what to check.
    """

    hint = (
        "Check the job ID, and that the client's endpoint and region are the ones the job "
        "was submitted to (jobs are regional)."
    )

    def _lead(self) -> str | None:
        if self.job_id is None:
            return None
        action = f" ({self.action})" if self.action else ""
        return f"job {self.job_id!r} not found{action}"


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


# ------------------------------------------------------------------ short tracebacks


def _cut(error: IceError) -> IceError:
    """``error`` with its traceback cut after the public call's own frame.

    The wrapper's frame (hidden in IPython by ``__tracebackhide__``) is followed by the
    public function's frame, and nothing deeper: the line a user wrote, the public line it
    ran, and the message. Python >= 3.7 allows setting ``tb_next``.
    """
    if os.environ.get("ICE_WIDGETS_FULL_TRACEBACK"):
        return error
    tb: TracebackType | None = error.__traceback__
    public = tb.tb_next if tb is not None else None  # tb is the wrapper's frame
    if public is not None:
        public.tb_next = None
    return error.with_traceback(public)


def public_call(func: F) -> F:
    """Give the :class:`IceError` raised by a public function a short traceback.

    Works on functions, coroutine functions, generators and async generators. pandas and
    IPython hide their internals this way (``__tracebackhide__``); that alone does not
    shorten a plain Python traceback, so the frames below the public call are cut too.
    """
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            __tracebackhide__ = True
            try:
                async for item in func(*args, **kwargs):
                    yield item
            except IceError as error:
                raise _cut(error) from error.__cause__

        return cast(F, agen_wrapper)
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            try:
                return await func(*args, **kwargs)
            except IceError as error:
                raise _cut(error) from error.__cause__

        return cast(F, async_wrapper)
    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            __tracebackhide__ = True
            try:
                return (yield from func(*args, **kwargs))
            except IceError as error:
                raise _cut(error) from error.__cause__

        return cast(F, gen_wrapper)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        try:
            return func(*args, **kwargs)
        except IceError as error:
            raise _cut(error) from error.__cause__

    return cast(F, wrapper)


# --------------------------------------------------------------------------- transport codes
# The one vocabulary of TransportError codes: both transports (httpx for single calls, the
# batch sender) map their exceptions through ice_widgets._wire.transport_error, and the
# retry rules of ice_widgets._core refer to these names.

#: The connection could not be opened (refused, unreachable, reset during the handshake):
#: nothing was sent, so even a non-idempotent request may be sent again.
CONNECT_ERROR = "ConnectError"
#: Opening the connection (TLS handshake included) took too long: nothing was sent.
CONNECT_TIMEOUT = "ConnectTimeout"
#: The answer did not arrive in full in time (the request may have been processed).
TIMEOUT = "Timeout"
#: The connection broke after the request was written (reset, broken pipe).
CONNECTION_ERROR = "ConnectionError"
#: The answer broke HTTP/1.1 framing: a truncated body, a bad status line or header, bad
#: chunk sizes or Content-Length, a body that does not decompress, a server that closed
#: without answering.
INCOMPLETE_RESPONSE = "IncompleteResponse"
#: The answer is larger than ``MAX_BODY_BYTES`` (before or after decompression).
RESPONSE_TOO_LARGE = "ResponseTooLarge"
#: The server's TLS certificate cannot be verified: never retried, fatal for a batch.
SSL_ERROR = "SSLError"
#: The request itself cannot be written (a control character in a header...): never retried.
INVALID_REQUEST = "InvalidRequest"
#: The client or its sender was closed before the request: never retried.
CLIENT_CLOSED = "ClientClosed"

TRANSPORT_CODES: frozenset[str] = frozenset(
    {
        CONNECT_ERROR,
        CONNECT_TIMEOUT,
        TIMEOUT,
        CONNECTION_ERROR,
        INCOMPLETE_RESPONSE,
        RESPONSE_TOO_LARGE,
        SSL_ERROR,
        INVALID_REQUEST,
        CLIENT_CLOSED,
    }
)
