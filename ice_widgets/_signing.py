"""Alibaba Cloud request signatures: ACS3-HMAC-SHA256 (V3) and RPC HMAC-SHA1 (V1).

Pure functions, no I/O. The client signs with V3; the emulator verifies both.
See ICE_API_NOTES.md for the algorithms and their test vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

__all__ = [
    "EMPTY_SHA256",
    "V3_ALGORITHM",
    "authorization_v3",
    "canonical_query",
    "canonical_request_v3",
    "percent_encode",
    "sign_v1",
    "signature_v3",
    "string_to_sign_v1",
]

V3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Alibaba Cloud uses it: only ``A-Za-z0-9-_.~`` stay as they are."""
    if value.isascii() and value.isalnum():  # job IDs, names of parameters: nothing to encode
        return value
    return quote(value, safe="~")


def canonical_query(query: Mapping[str, str]) -> str:
    """The query string exactly as it is signed and sent: keys sorted, both sides encoded."""
    return "&".join(f"{percent_encode(k)}={percent_encode(query[k])}" for k in sorted(query))


def canonical_request_v3(
    method: str,
    pathname: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str,
) -> tuple[str, str]:
    """Return ``(canonical_request, signed_headers)`` for V3.

    Every header given is signed (the caller passes host and the ``x-acs-*`` headers
    and, where present, ``content-type``).
    """
    lowered = {name.lower(): str(value).strip() for name, value in headers.items()}
    names = sorted(lowered)
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in names)
    signed_headers = ";".join(names)
    request = "\n".join(
        [method.upper(), pathname, canonical_query(query), canonical_headers, signed_headers, payload_hash]
    )
    return request, signed_headers


def signature_v3(
    secret: str,
    method: str,
    pathname: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str = EMPTY_SHA256,
) -> tuple[str, str]:
    """Return ``(signature_hex, signed_headers)`` for an ACS3-HMAC-SHA256 request."""
    request, signed_headers = canonical_request_v3(method, pathname, query, headers, payload_hash)
    string_to_sign = f"{V3_ALGORITHM}\n{hashlib.sha256(request.encode('utf-8')).hexdigest()}"
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest, signed_headers


def authorization_v3(
    access_key_id: str,
    secret: str,
    method: str,
    pathname: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str = EMPTY_SHA256,
) -> str:
    """The ``Authorization`` header value for an ACS3-HMAC-SHA256 request."""
    signature, signed_headers = signature_v3(secret, method, pathname, query, headers, payload_hash)
    return f"{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"


def string_to_sign_v1(method: str, params: Mapping[str, str]) -> str:
    """The V1 (RPC, HMAC-SHA1) string to sign; ``Signature`` itself is left out."""
    pairs = "&".join(
        f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params) if k != "Signature"
    )
    return f"{method.upper()}&%2F&{percent_encode(pairs)}"


def sign_v1(secret: str, method: str, params: Mapping[str, str]) -> str:
    """The V1 ``Signature`` parameter: base64(hmac_sha1(secret + '&', string to sign))."""
    digest = hmac.new(
        f"{secret}&".encode(), string_to_sign_v1(method, params).encode("utf-8"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")
