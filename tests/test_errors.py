"""The exception tree's text and pickling: one readable line, attributes kept."""

from __future__ import annotations

import pickle

import pytest

from ice_widgets import (
    ClockSkewError,
    IceError,
    NotFoundError,
    ThrottlingError,
    TransportError,
)


def test_str_is_one_line_with_code_message_status_action_and_request_id() -> None:
    error = NotFoundError(
        "The job\n  does not exist.",
        code="InvalidParameter.ResourceNotFound",
        request_id="31E30781-9495",
        http_status=404,
        action="GetPackageJob",
    )
    assert str(error) == (
        "InvalidParameter.ResourceNotFound: The job does not exist. "
        "(HTTP 404, GetPackageJob, RequestId 31E30781-9495)"
    )


def test_a_message_that_starts_with_its_code_does_not_repeat_it() -> None:
    error = TransportError("ConnectError: [Errno 111] Connection refused", code="ConnectError")
    assert str(error) == "ConnectError: [Errno 111] Connection refused"
    other = TransportError("ConnectTimeout: timed out", code="Timeout")
    assert str(other) == "Timeout: ConnectTimeout: timed out"


def test_empty_message_still_reads() -> None:
    assert str(IceError("", code="X")) == "X: (no message)"


@pytest.mark.parametrize("cls", [ThrottlingError, ClockSkewError, TransportError])
def test_pickling_keeps_class_and_attributes(cls: type[IceError]) -> None:
    error = cls("msg", code="C", request_id="R", http_status=400, recommend="https://r", retry_after=1.5)
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls
    assert (back.code, back.message, back.request_id, back.http_status, back.recommend, back.retry_after) == (
        "C",
        "msg",
        "R",
        400,
        "https://r",
        1.5,
    )
    assert str(back) == str(error)
