"""The ICE emulator as a server: signatures, nonces, dates, paging, filters, submit, faults, QPS, CLI.

Requests here are built and signed by hand (``_emu_http``) so that the tests see the
wire, independent of the ice_widgets client.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _emu_http import (
    error_code,
    raw_exchange,
    raw_request,
    split_responses,
    utc_stamp,
    v1,
    v1_params,
    v3,
    v3_request,
)

from ice_widgets import _signing
from ice_widgets.emulator import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    Emulator,
    start_subprocess,
)
from ice_widgets.emulator._data import parse_api_time
from ice_widgets.emulator.corpus import INJECTION_PAYLOADS

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def list_all(emu: Emulator, **params: str) -> tuple[list[dict[str, object]], int]:
    """Every item of ListPackageJobs with these filters, following NextPageToken; and the page count."""
    items: list[dict[str, object]] = []
    token = None
    pages = 0
    while True:
        query = dict(params)
        if token:
            query["NextPageToken"] = token
        response = v3(emu, "ListPackageJobs", query)
        assert response.status_code == 200, response.text
        body = response.json()["PackageJobList"]
        items += body["PackageJobs"]
        pages += 1
        token = body.get("NextPageToken")
        if not token:
            return items, pages
        assert pages < 10_000


# ---------------------------------------------------------------------------------- signatures


def test_v3_get_returns_the_truth(emulator: Emulator) -> None:
    for job_id in emulator.job_ids[:25]:
        response = v3(emulator, "GetPackageJob", {"JobId": job_id})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["RequestId"] and response.headers["x-acs-request-id"] == body["RequestId"]
        assert body["PackageJob"] == emulator.expected(job_id)


def test_v1_get_returns_the_truth_with_post_and_get(emulator: Emulator) -> None:
    job_id = emulator.job_ids[3]
    for method in ("POST", "GET"):
        response = v1(emulator, "GetPackageJob", {"JobId": job_id}, method=method)
        assert response.status_code == 200, response.text
        assert response.json()["PackageJob"] == emulator.expected(job_id)


def test_v3_get_method_is_accepted(emulator: Emulator) -> None:
    response = v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[4]}, method="GET")
    assert response.status_code == 200


def test_v3_form_body_is_signed_and_read(emulator: Emulator) -> None:
    body = f"JobId={emulator.job_ids[5]}".encode()
    digest = __import__("hashlib").sha256(body).hexdigest()
    url, headers = v3_request(
        emulator,
        "GetPackageJob",
        extra_headers={"content-type": "application/x-www-form-urlencoded", "x-acs-content-sha256": digest},
    )
    # re-sign with the body's hash (v3_request signs the headers it is given)
    del headers["Authorization"]
    headers["Authorization"] = _signing.authorization_v3(
        emulator.access_key_id, emulator.access_key_secret, "POST", "/", {}, headers, digest
    )
    response = httpx.post(url, headers=headers, content=body)
    assert response.status_code == 200, response.text
    assert response.json()["PackageJob"]["JobId"] == emulator.job_ids[5]
    # the same body with a hash that does not match it
    headers["x-acs-content-sha256"] = _signing.EMPTY_SHA256
    response = httpx.post(url, headers=headers, content=body)
    assert error_code(response) == "SignatureDoesNotMatch"


@pytest.mark.parametrize("send", [v3, v1], ids=["V3", "V1"])
def test_wrong_secret_is_signature_does_not_match(emulator: Emulator, send: object) -> None:
    response = send(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, secret="wrong")  # type: ignore[operator]
    assert response.status_code == 400
    assert error_code(response) == "SignatureDoesNotMatch"
    body = response.json()
    assert body["HostId"] and body["Recommend"].startswith(
        "https://api.aliyun.com/troubleshoot?q=SignatureDoesNotMatch"
    )


def test_tampered_query_is_signature_does_not_match(emulator: Emulator) -> None:
    url, headers = v3_request(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]})
    tampered = url.replace(emulator.job_ids[0], emulator.job_ids[1])
    assert error_code(httpx.post(tampered, headers=headers)) == "SignatureDoesNotMatch"


def test_tampered_signed_header_is_signature_does_not_match(emulator: Emulator) -> None:
    url, headers = v3_request(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]})
    headers["x-acs-signature-nonce"] = uuid.uuid4().hex
    assert error_code(httpx.post(url, headers=headers)) == "SignatureDoesNotMatch"


def test_unsigned_nonce_header_is_incomplete_signature(emulator: Emulator) -> None:
    params = {"JobId": emulator.job_ids[0]}
    headers = {
        "host": emulator.endpoint.split("://")[1],
        "x-acs-action": "GetPackageJob",
        "x-acs-version": "2020-11-09",
        "x-acs-date": utc_stamp(),
    }
    auth = _signing.authorization_v3(
        emulator.access_key_id, emulator.access_key_secret, "POST", "/", params, headers
    )
    headers["x-acs-signature-nonce"] = uuid.uuid4().hex  # sent, but not signed
    response = httpx.post(
        f"{emulator.endpoint}/?{_signing.canonical_query(params)}", headers={**headers, "Authorization": auth}
    )
    assert error_code(response) == "IncompleteSignature"


@pytest.mark.parametrize("send", [v3, v1], ids=["V3", "V1"])
def test_unknown_access_key(emulator: Emulator, send: object) -> None:
    if send is v3:
        response = v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, access_key_id="LTAIunknown")
    else:
        query = v1_params(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]})
        query["AccessKeyId"] = "LTAIunknown"
        query["Signature"] = _signing.sign_v1(emulator.access_key_secret, "POST", query)
        response = httpx.post(f"{emulator.endpoint}/?{_signing.canonical_query(query)}")
    assert response.status_code == 404
    assert error_code(response) == "InvalidAccessKeyId.NotFound"


def test_reused_nonce_is_refused_v3_and_v1(emulator: Emulator) -> None:
    nonce = uuid.uuid4().hex
    first = v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, nonce=nonce)
    assert first.status_code == 200
    again = v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, nonce=nonce)
    assert again.status_code == 400 and error_code(again) == "SignatureNonceUsed"
    # a V1 request with the same nonce, too
    assert error_code(v1(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, nonce=nonce)) == (
        "SignatureNonceUsed"
    )
    # a fresh nonce works again
    assert v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}).status_code == 200


def test_a_refused_signature_does_not_burn_the_nonce(emulator: Emulator) -> None:
    nonce = uuid.uuid4().hex
    bad = v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, nonce=nonce, secret="wrong")
    assert error_code(bad) == "SignatureDoesNotMatch"
    assert v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, nonce=nonce).status_code == 200


@pytest.mark.parametrize("offset", [-20 * 60, 20 * 60, -86400], ids=["20min-behind", "20min-ahead", "1day"])
def test_stale_date_is_expired(emulator: Emulator, offset: int) -> None:
    response = v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, date=utc_stamp(offset))
    assert response.status_code == 400 and error_code(response) == "InvalidTimeStamp.Expired"
    response = v1(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, timestamp=utc_stamp(offset))
    assert error_code(response) == "InvalidTimeStamp.Expired"


def test_date_within_fifteen_minutes_is_accepted(emulator: Emulator) -> None:
    for offset in (-10 * 60, 10 * 60):
        response = v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, date=utc_stamp(offset))
        assert response.status_code == 200


@pytest.mark.parametrize("date", ["yesterday", "2024-01-01 00:00:00", "x", "2024-13-01T00:00:00Z"])
def test_unparseable_date(emulator: Emulator, date: str) -> None:
    url, headers = v3_request(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, date=date)
    code = error_code(httpx.post(url, headers=headers))
    assert code == "InvalidTimeStamp.Format"


def test_missing_signature_is_missing_parameter(emulator: Emulator) -> None:
    response = httpx.post(f"{emulator.endpoint}/?Action=GetPackageJob&Version=2020-11-09&JobId=x")
    assert response.status_code == 400 and error_code(response) == "MissingParameter"
    assert "Signature" in response.json()["Message"]


@pytest.fixture(scope="module")
def sts() -> Iterator[Emulator]:
    with Emulator(
        jobs=10,
        seed=5,
        access_key_id="STS.NT1",
        security_token="good-token",
        expired_security_tokens=["old-token"],
    ) as emu:
        yield emu


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "MissingSecurityToken"),
        ("forged", "InvalidSecurityToken.Malformed"),
        ("old-token", "InvalidSecurityToken.Expired"),
    ],
)
@pytest.mark.parametrize("send", [v3, v1], ids=["V3", "V1"])
def test_sts_token_errors(sts: Emulator, token: str | None, code: str, send: object) -> None:
    response = send(sts, "GetPackageJob", {"JobId": sts.job_ids[0]}, token=token)  # type: ignore[operator]
    assert response.status_code == 400
    assert error_code(response) == code


@pytest.mark.parametrize("send", [v3, v1], ids=["V3", "V1"])
def test_sts_token_accepted(sts: Emulator, send: object) -> None:
    response = send(sts, "GetPackageJob", {"JobId": sts.job_ids[0]}, token="good-token")  # type: ignore[operator]
    assert response.status_code == 200


def test_token_with_a_long_term_key_is_a_mismatch(emulator: Emulator) -> None:
    response = v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, token="some-token")
    assert error_code(response) == "InvalidSecurityToken.MismatchWithAccessKey"


# --------------------------------------------------------------------------------- actions


def test_unknown_action_and_version(emulator: Emulator) -> None:
    response = v3(emulator, "DeletePackageJob", {"JobId": emulator.job_ids[0]})
    assert response.status_code == 404 and error_code(response) == "InvalidAction.NotFound"
    response = v3(emulator, "GetPackageJob", {"JobId": emulator.job_ids[0]}, version="2017-01-01")
    assert error_code(response) == "InvalidVersion"


def test_missing_and_unknown_job(emulator: Emulator) -> None:
    response = v3(emulator, "GetPackageJob", {})
    assert response.status_code == 400 and error_code(response) == "MissingParameter"
    assert "JobId" in response.json()["Message"]
    for job_id in ("0" * 32, "not-a-job", emulator.job_ids[0].upper(), " " + emulator.job_ids[0]):
        response = v3(emulator, "GetPackageJob", {"JobId": job_id})
        assert response.status_code == 404
        assert error_code(response) == "InvalidParameter.ResourceNotFound"


def test_seeded_data_set_is_realistic(emulator: Emulator) -> None:
    jobs = [emulator.expected(job_id) for job_id in emulator.job_ids]
    assert len(jobs) == 300
    statuses = Counter(job["Status"] for job in jobs)
    assert set(statuses) == {"Success", "Fail", "Init"}
    assert statuses["Success"] > statuses["Fail"] and statuses["Success"] > statuses["Init"]
    assert 0.65 < statuses["Success"] / 300 < 0.95
    assert {job["TriggerSource"] for job in jobs} == {"API", "WorkFlow", "Console"}
    assert len({job["PipelineId"] for job in jobs}) > 1
    for job in jobs:
        assert HEX32.match(str(job["JobId"]))
        assert 1 <= len(job["Inputs"]) <= 3
        assert all(i["Input"]["Type"] in ("OSS", "Media") for i in job["Inputs"])
        assert str(job["Output"]["Media"]).endswith((".m3u8", ".mpd"))
        assert 1 <= int(job["Priority"]) <= 10
        created = parse_api_time(str(job["CreateTime"]))
        assert created is not None
        if job["Status"] == "Success":
            assert str(job["OutputUrl"]).startswith(("http://", "https://"))
        if job["Status"] == "Fail":
            assert job["Code"] and job["Message"] and "OutputUrl" not in job
        if job["Status"] == "Init":
            assert "FinishTime" not in job
        else:
            finish = parse_api_time(str(job["FinishTime"]))
            submit = parse_api_time(str(job["SubmitTime"]))
            assert finish is not None and submit is not None and 1 <= finish - submit <= 3601
    assert any("UserData" in job for job in jobs)
    # creation order
    created_times = [parse_api_time(str(job["CreateTime"])) for job in jobs]
    assert created_times == sorted(created_times)  # type: ignore[type-var]


def test_same_seed_same_data_other_seed_other_data() -> None:
    anchor = 1_790_000_000.0
    with Emulator(jobs=50, seed=3, anchor=anchor) as a, Emulator(jobs=50, seed=3, anchor=anchor) as b:
        assert a.job_ids == b.job_ids
        assert [a.expected(j) for j in a.job_ids] == [b.expected(j) for j in b.job_ids]
        assert (
            v3(a, "GetPackageJob", {"JobId": a.job_ids[7]}).json()["PackageJob"]
            == (v3(b, "GetPackageJob", {"JobId": b.job_ids[7]}).json()["PackageJob"])
        )
    with Emulator(jobs=50, seed=4, anchor=anchor) as c:
        assert set(c.job_ids).isdisjoint(a.job_ids)


# ---------------------------------------------------------------------------------- paging


@pytest.mark.parametrize("page_size", ["1", "7", "", "0", "100"])
@pytest.mark.parametrize("order", ["CreateTimeDesc", "CreateTimeAsc", ""])
def test_paging_covers_every_job_exactly_once(emulator: Emulator, page_size: str, order: str) -> None:
    params = {}
    if page_size:
        params["PageSize"] = page_size
    if order:
        params["OrderBy"] = order
    truth = emulator.all_job_ids()
    items, pages = list_all(emulator, **params)
    ids = [str(item["JobId"]) for item in items]
    assert len(ids) == len(set(ids)) == len(truth)
    expected_order = truth if order == "CreateTimeAsc" else list(reversed(truth))
    assert ids == expected_order
    size = int(page_size) if page_size not in ("", "0") else 20
    assert pages == -(-len(truth) // size)


def test_list_items_have_no_output_url_but_get_does(emulator: Emulator) -> None:
    response = v3(emulator, "ListPackageJobs", {"PageSize": "100", "Status": "Success"})
    items = response.json()["PackageJobList"]["PackageJobs"]
    assert items and all("OutputUrl" not in item for item in items)
    for item in items[:5]:
        full = emulator.expected(str(item["JobId"]))
        assert "OutputUrl" in full
        assert {k: v for k, v in full.items() if k != "OutputUrl"} == item
    body = response.json()
    assert "TotalCount" not in body["PackageJobList"] and "TotalCount" not in body


@pytest.mark.parametrize("status", ["Success", "Fail", "Init", "Unknown"])
def test_status_filter(emulator: Emulator, status: str) -> None:
    items, _ = list_all(emulator, Status=status, PageSize="50")
    truth = [j for j in emulator.all_job_ids() if emulator.expected(j)["Status"] == status]
    assert sorted(str(i["JobId"]) for i in items) == sorted(truth)
    assert all(i["Status"] == status for i in items)


def test_job_id_filter(emulator: Emulator) -> None:
    target = emulator.job_ids[123]
    items, pages = list_all(emulator, JobId=target)
    assert [i["JobId"] for i in items] == [target] and pages == 1
    status = emulator.expected(target)["Status"]
    other = next(s for s in ("Success", "Fail", "Init") if s != status)
    assert list_all(emulator, JobId=target, Status=other)[0] == []
    assert list_all(emulator, JobId="0" * 32)[0] == []


def test_create_time_window_with_paging(emulator: Emulator) -> None:
    ids = emulator.job_ids
    start = str(emulator.expected(ids[60])["CreateTime"]).strip()
    end = str(emulator.expected(ids[200])["CreateTime"]).strip()
    lo, hi = parse_api_time(start), parse_api_time(end)
    assert lo is not None and hi is not None
    truth = [
        j
        for j in emulator.all_job_ids()
        if lo <= (parse_api_time(str(emulator.expected(j)["CreateTime"])) or 0) <= hi
    ]
    for order in ("CreateTimeAsc", "CreateTimeDesc"):
        items, pages = list_all(
            emulator, StartOfCreateTime=start, EndOfCreateTime=end, PageSize="30", OrderBy=order
        )
        got = [str(i["JobId"]) for i in items]
        assert got == (truth if order == "CreateTimeAsc" else list(reversed(truth)))
        assert pages > 1
    failed_in_window = [j for j in truth if emulator.expected(j)["Status"] == "Fail"]
    items, _ = list_all(emulator, StartOfCreateTime=start, EndOfCreateTime=end, Status="Fail", PageSize="3")
    assert sorted(str(i["JobId"]) for i in items) == sorted(failed_in_window)


@pytest.mark.parametrize(
    "params",
    [
        {"PageSize": "101"},
        {"PageSize": "-1"},
        {"PageSize": "ten"},
        {"PageSize": "1.5"},
        {"OrderBy": "NameAsc"},
        {"StartOfCreateTime": "2024-01-01"},
        {"EndOfCreateTime": "yesterday"},
        {"NextPageToken": "forged"},
        {"NextPageToken": "QzoxLjA6Mi4AAAAAAAAAAAAA"},
    ],
)
def test_invalid_list_parameters(emulator: Emulator, params: dict[str, str]) -> None:
    response = v3(emulator, "ListPackageJobs", params)
    assert response.status_code == 400
    assert error_code(response) == "InvalidParameter"


def test_page_token_of_one_order_is_refused_in_the_other(emulator: Emulator) -> None:
    page = v3(emulator, "ListPackageJobs", {"PageSize": "5", "OrderBy": "CreateTimeAsc"}).json()
    token = page["PackageJobList"]["NextPageToken"]
    response = v3(emulator, "ListPackageJobs", {"NextPageToken": token, "OrderBy": "CreateTimeDesc"})
    assert error_code(response) == "InvalidParameter"


# ---------------------------------------------------------------------------------- submit


@pytest.fixture(scope="module")
def quick() -> Iterator[Emulator]:
    """An emulator whose submitted jobs finish in about half a second."""
    with Emulator(jobs=20, seed=9, progress_seconds=0.5) as emu:
        yield emu


def submit_params(name: str, **extra: str) -> dict[str, str]:
    params = {
        "Inputs": json.dumps([{"Input": {"Type": "OSS", "Media": "oss://bucket/in/video.mp4"}}]),
        "Output": json.dumps({"Type": "OSS", "Media": "oss://bucket/out/master.m3u8"}),
        "Name": name,
    }
    params.update(extra)
    return params


def wait_finished(emu: Emulator, job_id: str, limit: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + limit
    while True:
        job = v3(emu, "GetPackageJob", {"JobId": job_id}).json()["PackageJob"]
        if job["Status"] != "Init" or time.monotonic() > deadline:
            return job  # type: ignore[no-any-return]
        time.sleep(0.1)


def test_submitted_job_progresses_from_init_to_success(quick: Emulator) -> None:
    response = v3(
        quick,
        "SubmitPackageJob",
        submit_params(
            "my job force-success",
            UserData='{"k":"v"}',
            ScheduleConfig=json.dumps({"PipelineId": "abc", "Priority": 3}),
        ),
    )
    assert response.status_code == 200, response.text
    job_id = response.json()["JobId"]
    assert HEX32.match(job_id)
    first = v3(quick, "GetPackageJob", {"JobId": job_id}).json()["PackageJob"]
    assert first["Status"] in ("Init", "Success")
    assert first["Name"] == "my job force-success" and first["UserData"] == '{"k":"v"}'
    assert first["PipelineId"] == "abc" and first["Priority"] == 3 and first["TriggerSource"] == "API"
    job = wait_finished(quick, job_id)
    assert job["Status"] == "Success"
    assert str(job["OutputUrl"]).startswith("https://") and job["FinishTime"]
    assert job == quick.expected(job_id)
    # the newest job comes first in the default order
    newest = v3(quick, "ListPackageJobs", {"PageSize": "1"}).json()["PackageJobList"]["PackageJobs"][0]
    assert newest["JobId"] == job_id


def test_submitted_job_can_fail(quick: Emulator) -> None:
    job_id = v3(quick, "SubmitPackageJob", submit_params("force-fail please")).json()["JobId"]
    job = wait_finished(quick, job_id)
    assert job["Status"] == "Fail" and job["Code"] and job["Message"] and "OutputUrl" not in job


def test_submitted_jobs_mix_outcomes_from_the_seed(quick: Emulator) -> None:
    ids = [quick.submit(name=f"batch-{i}") for i in range(40)]
    outcomes = Counter(str(wait_finished(quick, job_id)["Status"]) for job_id in ids)
    assert set(outcomes) == {"Success", "Fail"}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"Output": json.dumps({"Type": "OSS", "Media": "oss://b/o.m3u8"})}, "MissingParameter"),
        (
            {"Inputs": "[]", "Output": json.dumps({"Type": "OSS", "Media": "oss://b/o.m3u8"})},
            "InvalidParameter",
        ),
        ({"Inputs": "not json", "Output": "{}"}, "InvalidParameter"),
        ({"Inputs": json.dumps([{"Input": {"Type": "OSS", "Media": "oss://b/i.mp4"}}])}, "MissingParameter"),
        (submit_params("x", ScheduleConfig='{"Priority": 11}'), "InvalidParameter"),
        (submit_params("x", ScheduleConfig="[1]"), "InvalidParameter"),
    ],
)
def test_submit_validation(quick: Emulator, params: dict[str, str], code: str) -> None:
    response = v3(quick, "SubmitPackageJob", params)
    assert response.status_code == 400
    assert error_code(response) == code


def test_seeded_init_jobs_stay_init_unless_asked_to_progress() -> None:
    still = Emulator(jobs=80, seed=2)  # not started: expected() reads the store directly
    init = [j for j in still.job_ids if still.expected(j)["Status"] == "Init"]
    assert init
    with Emulator(jobs=80, seed=2, progress_seconds=0.05, progress_seeded=True) as moving:
        deadline = time.monotonic() + 30
        statuses: list[object] = []
        while time.monotonic() < deadline:
            statuses = [wait_finished(moving, j, limit=0)["Status"] for j in init]
            if "Init" not in statuses:
                break
            time.sleep(0.1)
        assert set(statuses) <= {"Success", "Fail"}
    time.sleep(0.1)
    assert [still.expected(j)["Status"] for j in init] == ["Init"] * len(init)


def test_hostile_jobs_round_trip_byte_for_byte() -> None:
    count = len(INJECTION_PAYLOADS)
    with Emulator(jobs=5, seed=1, hostile=count) as emu:
        assert len(emu.hostile_ids) == count
        served = set()
        for index, job_id in enumerate(emu.hostile_ids):
            job = v3(emu, "GetPackageJob", {"JobId": job_id}).json()["PackageJob"]
            assert job == emu.expected(job_id)
            assert job["Name"] == INJECTION_PAYLOADS[index]
            served.add(job["Message"])
        assert served == set(INJECTION_PAYLOADS)
        items, _ = list_all(emu, PageSize="100")
        assert {i["JobId"] for i in items} >= set(emu.hostile_ids)


def test_add_job_serves_it_as_given(emulator: Emulator) -> None:
    job = {"JobId": "f" * 32, "Status": "Strange", "CreateTime": "2020-01-01T00:00:00Z", "Priority": "7"}
    emulator.add_job(job)
    assert v3(emulator, "GetPackageJob", {"JobId": "f" * 32}).json()["PackageJob"] == job
    with pytest.raises(ValueError):
        emulator.add_job(job)
    with pytest.raises(KeyError):
        emulator.expected("e" * 32)


def test_fixtures_bind_the_client_to_the_emulator(ice_env: Emulator, client: object) -> None:
    from ice_widgets import Client

    job_id = ice_env.job_ids[9]
    with Client() as from_environment:  # ALIBABA_CLOUD_* point at the emulator
        assert from_environment.get_package_job(job_id).status == ice_env.expected(job_id)["Status"]
    assert client.get_package_job(job_id).job_id == job_id  # type: ignore[attr-defined]
    assert "pytest" in os.environ["HOME"]  # a temporary HOME: no real credentials file is read


# ---------------------------------------------------------------------------------- faults


def test_throttle_fault(restore_emulator: Emulator) -> None:
    restore_emulator.configure(fault_rate=1.0, faults=["throttle"])
    response = v3(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[0]})
    assert response.status_code == 400 and error_code(response) == "Throttling.User"
    assert int(response.headers["x-acs-retry-after"]) > 0


@pytest.mark.parametrize(
    ("kind", "status", "code"), [("503", 503, "ServiceUnavailable"), ("500", 500, "InternalError")]
)
def test_server_error_faults(restore_emulator: Emulator, kind: str, status: int, code: str) -> None:
    restore_emulator.configure(fault_rate=1.0, faults=[kind])
    before = restore_emulator.stats.faults[kind]
    response = v3(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[0]})
    assert response.status_code == status and error_code(response) == code
    assert restore_emulator.stats.faults[kind] == before + 1


def test_drop_fault_closes_without_answer(restore_emulator: Emulator) -> None:
    restore_emulator.configure(fault_rate=1.0, faults=["drop"])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        v3(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[0]})
    assert (
        raw_exchange(restore_emulator, raw_request(restore_emulator, "GetPackageJob", {"JobId": "x"})) == b""
    )


def test_truncate_fault_sends_a_short_body(restore_emulator: Emulator) -> None:
    restore_emulator.configure(fault_rate=1.0, faults=["truncate"])
    with pytest.raises(httpx.RemoteProtocolError):
        v3(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[0]})
    data = raw_exchange(
        restore_emulator,
        raw_request(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[0]}),
    )
    head, _, body = data.partition(b"\r\n\r\n")
    declared = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    assert 0 < len(body) < declared


def test_slow_fault_outlasts_the_read_timeout(restore_emulator: Emulator) -> None:
    restore_emulator.configure(fault_rate=1.0, faults=["slow"], slow_ms=3000)
    url, headers = v3_request(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[0]})
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, headers=headers, timeout=httpx.Timeout(5.0, read=0.3))
    restore_emulator.configure(fault_rate=0.0)
    # the server itself stays available to other connections meanwhile
    assert v3(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[0]}).status_code == 200


def test_latency_delays_but_answers(restore_emulator: Emulator) -> None:
    restore_emulator.configure(latency_ms=300)
    url, headers = v3_request(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[0]})
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, headers=headers, timeout=httpx.Timeout(5.0, read=0.01))
    assert v3(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[1]}).status_code == 200


def test_mixed_faults_at_a_rate(restore_emulator: Emulator) -> None:
    restore_emulator.configure(fault_rate=0.3, faults=["throttle", "503", "500", "drop", "truncate"])
    before = restore_emulator.stats.faults_injected
    outcomes: Counter[str] = Counter()
    for job_id in restore_emulator.job_ids[:200]:
        try:
            response = v3(restore_emulator, "GetPackageJob", {"JobId": job_id})
        except (httpx.RemoteProtocolError, httpx.ReadError):
            outcomes["transport"] += 1
            continue
        if response.status_code == 200:
            assert response.json()["PackageJob"]["JobId"] == job_id
            outcomes["ok"] += 1
        else:
            outcomes[error_code(response)] += 1
    injected = restore_emulator.stats.faults_injected - before
    assert sum(outcomes.values()) == 200
    assert outcomes["ok"] == 200 - injected
    assert 20 < injected < 110  # a 0.3 rate from a seeded generator
    assert {"transport", "Throttling.User", "ServiceUnavailable", "InternalError"} <= set(outcomes)


def test_faults_are_deterministic_per_seed() -> None:
    def sequence(seed: int) -> list[int]:
        with Emulator(jobs=5, seed=seed, fault_rate=0.5, faults=["throttle", "503", "500"]) as emu:
            return [v3(emu, "GetPackageJob", {"JobId": emu.job_ids[0]}).status_code for _ in range(40)]

    first = sequence(11)
    assert set(first) == {200, 400, 500, 503}
    assert sequence(11) == first
    assert sequence(12) != first


def test_configure_refuses_unknown_faults(restore_emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        restore_emulator.configure(faults=["meteor"])
    with pytest.raises(ValueError):
        restore_emulator.configure(fault_rate=2.0)


# --------------------------------------------------------------------------------------- QPS


def test_qps_limit_throttles_with_retry_after(restore_emulator: Emulator) -> None:
    restore_emulator.configure(qps=1)
    before = restore_emulator.stats.throttled
    throttled = []
    for _ in range(15):
        response = v3(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[0]})
        if response.status_code != 200:
            assert error_code(response) == "Throttling.User"
            throttled.append(int(response.headers["x-acs-retry-after"]))
    assert throttled and all(ms > 0 for ms in throttled)
    assert restore_emulator.stats.throttled - before == len(throttled)
    time.sleep(max(throttled) / 1000 + 0.05)
    assert v3(restore_emulator, "GetPackageJob", {"JobId": restore_emulator.job_ids[0]}).status_code == 200
    restore_emulator.configure(qps=None)
    assert all(
        v3(restore_emulator, "GetPackageJob", {"JobId": j}).status_code == 200
        for j in restore_emulator.job_ids[:20]
    )


# --------------------------------------------------------------------------------- HTTP/1.1


def test_keep_alive_and_pipelining_answer_in_order(emulator: Emulator) -> None:
    ids = emulator.job_ids[10:15]
    data = b"".join(raw_request(emulator, "GetPackageJob", {"JobId": j}) for j in ids)
    data += raw_request(emulator, "GetPackageJob", {"JobId": ids[0]}, extra_headers={}).replace(
        b"Content-Length: 0", b"Connection: close\r\nContent-Length: 0"
    )
    responses = split_responses(raw_exchange(emulator, data, responses=None))
    assert [status for status, _, _ in responses] == [200] * 6
    assert [json.loads(body)["PackageJob"]["JobId"] for _, _, body in responses] == [*ids, ids[0]]
    assert responses[0][1]["connection"] == "keep-alive" and responses[-1][1]["connection"] == "close"


def test_httpx_client_reuses_one_connection(emulator: Emulator) -> None:
    before = emulator.stats.connections
    with httpx.Client() as http:
        for job_id in emulator.job_ids[:20]:
            url, headers = v3_request(emulator, "GetPackageJob", {"JobId": job_id})
            assert http.post(url, headers=headers).status_code == 200
    assert emulator.stats.connections - before == 1


def test_secret_never_in_repr(emulator: Emulator) -> None:
    assert emulator.access_key_secret not in repr(emulator)
    assert emulator.access_key_secret not in repr(emulator.settings)
    with Emulator(jobs=1, security_token="tok-secret-value") as emu:
        assert "tok-secret-value" not in repr(emu.settings)


# ------------------------------------------------------------------------------------- CLI


def _read_line(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    import threading

    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline() if proc.stdout else ""))
    reader.start()
    reader.join(timeout)
    return box[0] if box else ""


def _get_via(endpoint: str, job_id: str) -> httpx.Response:
    class _At:
        pass

    target = _At()
    target.endpoint = endpoint  # type: ignore[attr-defined]
    target.access_key_id = DEFAULT_ACCESS_KEY_ID  # type: ignore[attr-defined]
    target.access_key_secret = DEFAULT_ACCESS_KEY_SECRET  # type: ignore[attr-defined]
    return v3(target, "GetPackageJob", {"JobId": job_id})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("command", "sig"),
    [
        ([sys.executable, "-m", "ice_widgets.emulator"], signal.SIGTERM),
        ([str(Path(sys.executable).with_name("ice-widgets")), "emulator"], signal.SIGINT),
    ],
    ids=["python-m-SIGTERM", "console-script-SIGINT"],
)
def test_cli_prints_one_endpoint_line_and_stops_on_signal(command: list[str], sig: signal.Signals) -> None:
    if not os.path.exists(command[0]):
        pytest.skip("console script not installed")
    proc = subprocess.Popen(
        [*command, "--port", "0", "--jobs", "40", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(proc)
        match = re.fullmatch(r"ICE emulator listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        with Emulator(jobs=40, seed=3) as twin:  # same seed: same IDs
            job_id = twin.job_ids[0]
        response = _get_via(match.group(1), job_id)
        assert response.status_code == 200 and response.json()["PackageJob"]["JobId"] == job_id
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out == ""  # nothing but the one line on stdout
    assert DEFAULT_ACCESS_KEY_SECRET not in err


def test_cli_help_and_missing_command(capsys: pytest.CaptureFixture[str]) -> None:
    from ice_widgets.cli import main

    for argv in (["--help"], ["emulator", "--help"], ["demo", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--fault-rate" in out and "--qps" in out and "emulator" in out and "demo" in out
    assert DEFAULT_ACCESS_KEY_SECRET not in out
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2


def test_cli_refuses_a_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ice_widgets.emulator", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "non-loopback" in result.stderr and result.stdout == ""


def test_start_subprocess_helper() -> None:
    with start_subprocess(jobs=30, seed=2, latency_ms=0) as child:
        assert child.endpoint.startswith("http://127.0.0.1:")
        with Emulator(jobs=30, seed=2) as twin:
            job_id = twin.job_ids[-1]
        assert _get_via(child.endpoint, job_id).status_code == 200
    assert child.process.returncode == 0
