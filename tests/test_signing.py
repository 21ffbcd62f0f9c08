"""Signatures: the ICE_API_NOTES.md test vectors and the official SDK over random inputs."""

from __future__ import annotations

from types import SimpleNamespace

from alibabacloud_tea_openapi.utils import Utils
from hypothesis import given, settings
from hypothesis import strategies as st

from ice_widgets._signing import (
    EMPTY_SHA256,
    authorization_v3,
    canonical_query,
    percent_encode,
    sign_v1,
    signature_v3,
)

JOB = "ab4802364a2e49208c99efab82df****"
HEADERS = {
    "host": "ice.cn-shanghai.aliyuncs.com",
    "x-acs-action": "GetPackageJob",
    "x-acs-version": "2020-11-09",
    "x-acs-date": "2024-01-01T00:00:00Z",
    "x-acs-signature-nonce": "00000000000000000000000000000001",
    "x-acs-content-sha256": EMPTY_SHA256,
}


def test_v3_vector() -> None:
    signature, signed = signature_v3("testsecret", "POST", "/", {"JobId": JOB}, HEADERS)
    assert signature == "64fb14cba850c6ff4beb492990395ad9c52a6ee6ae2f3f00fb5550db95f266fa"
    assert signed == "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"


def test_v3_vector_with_sts_token() -> None:
    headers = {**HEADERS, "x-acs-accesskey-id": "testid", "x-acs-security-token": "tok"}
    auth = authorization_v3("testid", "testsecret", "POST", "/", {"JobId": JOB}, headers)
    assert auth == (
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-accesskey-id;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,"
        "Signature=cfe7d8293486b83e6b3b22a9a5c9848dbb1725d64288a2d9227f237bde7e91a9"
    )


def test_v1_vector() -> None:
    params = {
        "Action": "GetPackageJob",
        "Format": "json",
        "Version": "2020-11-09",
        "Timestamp": "2024-01-01T00:00:00Z",
        "SignatureNonce": "00000000000000000000000000000001",
        "JobId": JOB,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": "testid",
    }
    assert sign_v1("testsecret", "POST", params) == "5BOW7fh24UkQ2kbf5DO/LB1BIcU="
    assert Utils.get_rpcsignature(params, "POST", "testsecret") == "5BOW7fh24UkQ2kbf5DO/LB1BIcU="
    # the Signature parameter itself is never part of what is signed
    assert sign_v1("testsecret", "POST", {**params, "Signature": "x"}) == "5BOW7fh24UkQ2kbf5DO/LB1BIcU="


def test_percent_encoding_rules() -> None:
    assert percent_encode("a b*~+/é") == "a%20b%2A~%2B%2F%C3%A9"
    assert canonical_query({"b": "2", "a": "x y", "c": ""}) == "a=x%20y&b=2&c="


# Any text a user might put in a job name or ID: non-ASCII, reserved characters, spaces, emoji
# (but no lone surrogates, which cannot be UTF-8 encoded at all).
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
RESERVED = st.sampled_from(list(" !\"#$%&'()*+,/:;=?@[]{}|\\^`<>~-._é中😀\t"))
VALUES = st.one_of(TEXT, st.lists(RESERVED, max_size=12).map("".join))
# Parameter names are API identifiers; the official V3 code does not encode keys, so keys
# with reserved characters would be ambiguous there. Keep them to identifier characters.
KEYS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=16
)
HEADER_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40
).filter(lambda v: v.strip() != "")
SECRETS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=400, deadline=None)
@given(
    query=st.dictionaries(KEYS, VALUES, max_size=6),
    extra=st.dictionaries(KEYS.map(lambda k: "x-acs-" + k.lower()), HEADER_VALUES, max_size=3),
    secret=SECRETS,
    ak=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.", min_size=1, max_size=24),
    method=st.sampled_from(["POST", "GET"]),
    payload=st.sampled_from([EMPTY_SHA256, "0" * 64]),
)
def test_v3_matches_official(
    query: dict[str, str], extra: dict[str, str], secret: str, ak: str, method: str, payload: str
) -> None:
    headers = {**HEADERS, **extra}
    ours = authorization_v3(ak, secret, method, "/", query, headers, payload)
    request = SimpleNamespace(method=method, pathname="/", query=dict(query), headers=dict(headers))
    assert ours == Utils.get_authorization(request, "ACS3-HMAC-SHA256", payload, ak, secret)


@settings(max_examples=400, deadline=None)
@given(
    params=st.dictionaries(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
            lambda k: k != "Signature"
        ),
        VALUES,
        max_size=8,
    ),
    secret=SECRETS,
    method=st.sampled_from(["POST", "GET"]),
)
def test_v1_matches_official(params: dict[str, str], secret: str, method: str) -> None:
    assert sign_v1(secret, method, params) == Utils.get_rpcsignature(dict(params), method, secret)
