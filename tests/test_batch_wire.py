"""The batch sender writes requests itself: the same bytes as h11, refused as h11 refuses.

``_batch._plain_request`` writes the requests h11 would write (``tests/test_http_corpus.py``
covers the answers). Each case here goes through it and through h11 (``_h11_request`` on a
fresh ``h11.Connection``): the bytes must be equal, or both must raise the same exception
class, or the plain writer must step aside (None) for h11 to write the request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ice_widgets._batch import RawSender, _h11_request, _plain_request
from ice_widgets._core import RequestBuilder
from ice_widgets._credentials import Credential
from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator

BUILDER = RequestBuilder("http://127.0.0.1:8080")
KEY = Credential("AKID-example", "secret-example")
STS = Credential("STS.example", "secret-example", "token/with+base64==")


def _signed(
    action: str, params: dict[str, str], credential: Credential
) -> tuple[str, list[tuple[str, str]], bytes]:
    prepared = BUILDER.build(action, params, credential, now=1_780_000_000.0, nonce="n" * 32)
    target = prepared.url[len("http://127.0.0.1:8080") :]
    return target, prepared.headers, prepared.body


SIGNED = {
    "get": _signed("GetTranscodeJob", {"ParentJobId": "a" * 32}, KEY),
    "get-sts": _signed("GetPackageJob", {"JobId": "b" * 32}, STS),
    "list-unicode-param": _signed("ListTranscodeJobs", {"Status": "Success", "Name": "周报 & co"}, KEY),
    "form-body": _signed(
        "SubmitMediaProducingJob", {"Timeline": '{"VideoTracks": []}', "UserData": "x"}, KEY
    ),
}

HOST = ("host", "127.0.0.1:8080")
ODD: dict[str, tuple[str, list[tuple[str, str]], bytes]] = {
    "empty-value": ("/?a=1", [HOST, ("x-empty", "")], b""),
    "inner-spaces": ("/?a=1", [HOST, ("x-a", "a \t b")], b""),
    "upper-case-names": ("/?a=1", [("Host", "h"), ("X-Acs-Action", "GetPackageJob")], b""),
    "host-not-first": ("/", [("x-a", "1"), HOST], b""),
    "two-hosts": ("/", [HOST, ("x-a", "1"), ("HOST", "other")], b""),
    "own-content-length": ("/", [HOST, ("content-length", "0")], b""),
    "connection-close": ("/", [HOST, ("connection", "close")], b""),
    "crlf-in-value": ("/", [HOST, ("x-a", "1\r\nx-injected: 2")], b""),
    "lf-in-value": ("/", [HOST, ("x-a", "1\nx-injected: 2")], b""),
    "cr-in-value": ("/", [HOST, ("x-a", "1\rx")], b""),
    "nul-in-value": ("/", [HOST, ("x-a", "1\x00")], b""),
    "leading-space": ("/", [HOST, ("x-a", " 1")], b""),
    "trailing-tab": ("/", [HOST, ("x-a", "1\t")], b""),
    "colon-in-name": ("/", [HOST, ("x-a: b", "1")], b""),
    "space-in-name": ("/", [HOST, ("x a", "1")], b""),
    "empty-name": ("/", [HOST, ("", "1")], b""),
    "non-ascii-value": ("/", [HOST, ("x-a", "é")], b""),
    "non-ascii-name": ("/", [HOST, ("x-é", "1")], b""),
    "space-in-target": ("/?a=1 2", [HOST], b""),
    "non-ascii-target": ("/?a=é", [HOST], b""),
    "no-host": ("/", [("x-a", "1")], b""),
    "body": ("/", [HOST, ("content-type", "application/x-www-form-urlencoded")], b"Timeline=%7B%7D"),
}


def _outcome(write: Any, target: str, headers: list[tuple[str, str]], body: bytes) -> Any:
    try:
        return ("bytes", write(target, headers, body))
    except Exception as exc:  # the class is the outcome
        return ("error", type(exc).__name__)


def _h11(target: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    return _h11_request(h11.Connection(h11.CLIENT), target, headers, body)


@pytest.mark.parametrize("name", sorted(SIGNED))
def test_signed_requests_are_written_here_byte_for_byte_as_h11_writes_them(name: str) -> None:
    target, headers, body = SIGNED[name]
    mine = _plain_request(target, headers, body)
    assert mine is not None, "a signed request must not need h11"
    assert mine == _h11(target, headers, body)
    assert mine.endswith(b"\r\n\r\n" + body) and mine.startswith(b"POST /?")


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_requests_are_refused_or_left_to_h11(name: str) -> None:
    target, headers, body = ODD[name]
    mine = _outcome(_plain_request, target, headers, body)
    theirs = _outcome(_h11, target, headers, body)
    if mine == ("bytes", None):  # stepped aside: h11 writes it (the sender then does so)
        assert name in {
            "host-not-first",
            "two-hosts",
            "own-content-length",
            "connection-close",
            "no-host",
            "empty-value",
        }
        return
    assert mine == theirs, f"{name}: {mine!r:.200} != h11 {theirs!r:.200}"


def test_the_odd_cases_are_not_all_alike() -> None:
    outcomes = {name: _outcome(_plain_request, *case)[0] for name, case in ODD.items()}
    assert outcomes["crlf-in-value"] == "error" and outcomes["colon-in-name"] == "error"
    assert outcomes["empty-value"] == "bytes" and outcomes["body"] == "bytes"


def test_a_request_that_needs_h11_goes_through_it_to_the_emulator() -> None:
    """A request with its own framing header is written by h11, on the same keep-alive path."""

    async def run(endpoint: str) -> list[int]:
        sender = RawSender(endpoint, timeout=5)
        statuses = []
        try:
            for extra in ([], [("connection", "keep-alive")], []):
                prepared = RequestBuilder(endpoint).build(
                    "GetPackageJob",
                    {"JobId": "0" * 32},
                    Credential(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
                )
                headers = prepared.headers + extra
                status, _, _ = await sender.send(type(prepared)(prepared.action, prepared.url, headers))
                statuses.append(status)
        finally:
            await sender.aclose()
        # the first answer is llhttp's; from the h11-written request on, the connection is h11's
        assert sender.handed_to_h11 == 2 and sender.connections == 1
        return statuses

    with Emulator(jobs=5, seed=7, port=0) as emu:
        statuses = asyncio.run(run(emu.endpoint))
    assert statuses == [404, 404, 404]  # signed and answered (the job does not exist)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.text(alphabet=st.sampled_from("a:\t \x00\x01\x0b\x0c\r\n\x7fé"), max_size=8),
    name=st.text(alphabet=st.sampled_from("x-:é \t\r\n"), min_size=0, max_size=4),
    target=st.text(alphabet=st.sampled_from("/?a= \té\x7f"), min_size=0, max_size=5),
)
def test_any_header_is_written_or_refused_as_h11_would(value: str, name: str, target: str) -> None:
    headers = [HOST, ("x-a", value), (name or "x-b", "1")]
    mine = _outcome(_plain_request, target, headers, b"")
    theirs = _outcome(_h11, target, headers, b"")
    if mine == ("bytes", None):
        assert theirs[0] == "bytes"  # left to h11, which writes it
    else:
        assert mine == theirs
