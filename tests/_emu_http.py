"""Hand-built, hand-signed requests for the emulator tests (no ice_widgets client involved).

Requests are signed with ``ice_widgets._signing`` (itself checked against the official
SDK) and sent with httpx or a raw socket, so the tests see exactly what goes on the wire.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from ice_widgets import _signing
from ice_widgets.emulator import Emulator

VERSION = "2020-11-09"

#: One pooled HTTP client for all tests (keep-alive, like a real client; no proxies from the environment).
HTTP = httpx.Client(timeout=10, trust_env=False)


def utc_stamp(offset: float = 0.0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def host_of(emu: Emulator) -> str:
    return emu.endpoint.split("://", 1)[1]


def v3_request(
    emu: Emulator,
    action: str,
    params: Mapping[str, str] | None = None,
    *,
    method: str = "POST",
    secret: str | None = None,
    access_key_id: str | None = None,
    nonce: str | None = None,
    date: str | None = None,
    token: str | None = None,
    version: str = VERSION,
    extra_headers: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """``(url, headers)`` of an ACS3-HMAC-SHA256 request, signed over every header it sends."""
    params = dict(params or {})
    headers = {
        "host": host_of(emu),
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date or utc_stamp(),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": _signing.EMPTY_SHA256,
    }
    key = access_key_id or emu.access_key_id
    if token is not None:
        headers["x-acs-accesskey-id"] = key
        headers["x-acs-security-token"] = token
    headers.update(extra_headers or {})
    headers["Authorization"] = _signing.authorization_v3(
        key,
        emu.access_key_secret if secret is None else secret,
        method,
        "/",
        params,
        headers,
    )
    query = _signing.canonical_query(params)
    return f"{emu.endpoint}/?{query}" if query else f"{emu.endpoint}/", headers


def v3(emu: Emulator, action: str, params: Mapping[str, str] | None = None, **kw: Any) -> httpx.Response:
    """Send a V3-signed request and return the response."""
    method = kw.get("method", "POST")
    url, headers = v3_request(emu, action, params, **kw)
    return HTTP.request(method, url, headers=headers)


def v1_params(
    emu: Emulator,
    action: str,
    params: Mapping[str, str] | None = None,
    *,
    method: str = "POST",
    secret: str | None = None,
    nonce: str | None = None,
    timestamp: str | None = None,
    token: str | None = None,
) -> dict[str, str]:
    """The full query of a V1 (RPC HMAC-SHA1) request, ``Signature`` included."""
    query = {
        "Action": action,
        "Format": "json",
        "Version": VERSION,
        "Timestamp": timestamp or utc_stamp(),
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": emu.access_key_id,
        **dict(params or {}),
    }
    if token is not None:
        query["SecurityToken"] = token
    query["Signature"] = _signing.sign_v1(emu.access_key_secret if secret is None else secret, method, query)
    return query


def v1(emu: Emulator, action: str, params: Mapping[str, str] | None = None, **kw: Any) -> httpx.Response:
    """Send a V1-signed request and return the response."""
    method = kw.get("method", "POST")
    query = v1_params(emu, action, params, **kw)
    # V1 carries the STS token in the query string, and httpx logs request URLs at INFO:
    # keep the token out of the test run's logs (tests/_secret_session.py scans them).
    httpx_logger = logging.getLogger("httpx")
    level = httpx_logger.level
    httpx_logger.setLevel(logging.WARNING)
    try:
        return HTTP.request(method, f"{emu.endpoint}/?{_signing.canonical_query(query)}")
    finally:
        httpx_logger.setLevel(level)


def error_code(response: httpx.Response) -> str:
    """The ``Code`` of an error answer, after checking the error body has every field ICE sends."""
    body = response.json()
    assert set(body) >= {"RequestId", "HostId", "Code", "Message", "Recommend"}, body
    assert body["RequestId"] and body["Message"]
    return str(body["Code"])


def raw_exchange(
    emu: Emulator,
    data: bytes,
    *,
    timeout: float = 10.0,
    read_limit: int = 1 << 20,
    responses: int | None = 1,
) -> bytes:
    """Send raw bytes on a fresh connection; return what was read.

    Reading stops when ``responses`` complete responses have arrived (``None``: only when
    the server closes), when the server closes, or after ``timeout`` without data.
    """
    host, port = host_of(emu).rsplit(":", 1)
    received = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass
        try:
            while len(received) < read_limit:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
                if responses is not None and len(split_responses(received)) >= responses:
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def raw_request(emu: Emulator, action: str, params: Mapping[str, str] | None = None, **kw: Any) -> bytes:
    """A V3-signed request as raw HTTP/1.1 bytes (keep-alive)."""
    method = kw.pop("method", "POST")
    url, headers = v3_request(emu, action, params, method=method, **kw)
    target = url[len(emu.endpoint) :]
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def split_responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split raw bytes holding HTTP/1.1 responses with Content-Length into (status, headers, body).

    Only complete responses are returned.
    """
    out: list[tuple[int, dict[str, str], bytes]] = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(rest) < length:
            break  # incomplete
        out.append((status, headers, rest[:length]))
        data = rest[length:]
    return out
