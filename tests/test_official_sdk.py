"""The official Alibaba Cloud ICE SDK (alibabacloud_ice20201109) as a client of the emulator.

If the SDK, which Alibaba Cloud ships and uses against the real service, can call the
emulator and parse its answers into its own models, the emulator speaks the real wire
protocol: RPC over ``POST /`` with the parameters in the query string, ACS3-HMAC-SHA256
(the SDK's default) and HMAC-SHA1 (V1, ``signature_algorithm="v2"`` in the SDK's
config) signatures, STS tokens, JSON bodies and JSON errors.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import alibabacloud_ice20201109.client as ice_client  # declared test dependencies: no skip
import alibabacloud_ice20201109.models as ice_models
import alibabacloud_tea_openapi.exceptions as sdk_exceptions
import alibabacloud_tea_openapi.models as open_api_models
import alibabacloud_tea_openapi.utils as utils
import pytest

from ice_widgets import _signing
from ice_widgets.emulator import Emulator

#: The SDK's name for the V1 (RPC HMAC-SHA1) signature in ``Config.signature_algorithm``.
SDK_V1 = "v2"


def sdk(emu: Emulator, *, secret: str | None = None, algorithm: str | None = None, **extra: Any) -> Any:
    """An official ICE SDK client pointed at the emulator (plain HTTP, no SDK retries)."""
    config = open_api_models.Config(
        access_key_id=extra.pop("access_key_id", emu.access_key_id),
        access_key_secret=secret if secret is not None else emu.access_key_secret,
        endpoint=emu.endpoint.split("://", 1)[1],
        protocol="http",
        region_id="cn-shanghai",
        read_timeout=10000,
        connect_timeout=5000,
        **extra,
    )
    if algorithm is not None:
        config.signature_algorithm = algorithm
    return ice_client.Client(config)


def expect_sdk_error(call: Any) -> Any:
    with pytest.raises(sdk_exceptions.AlibabaCloudException) as caught:
        call()
    return caught.value


@pytest.fixture(params=[None, SDK_V1], ids=["V3", "V1"])
def algorithm(request: pytest.FixtureRequest) -> str | None:
    return request.param  # type: ignore[no-any-return]


def test_sdk_default_signature_is_v3(emulator: Emulator) -> None:
    before = emulator.stats.signatures["ACS3-HMAC-SHA256"]
    sdk(emulator).get_package_job(ice_models.GetPackageJobRequest(job_id=emulator.job_ids[0]))
    assert emulator.stats.signatures["ACS3-HMAC-SHA256"] == before + 1


def test_sdk_v1_configuration_sends_hmac_sha1(emulator: Emulator) -> None:
    before = emulator.stats.signatures["HMAC-SHA1"]
    sdk(emulator, algorithm=SDK_V1).get_package_job(
        ice_models.GetPackageJobRequest(job_id=emulator.job_ids[0])
    )
    assert emulator.stats.signatures["HMAC-SHA1"] == before + 1


@pytest.mark.parametrize("index", [0, 1, 57, 150, 299])
def test_get_package_job_parses_into_sdk_models(
    emulator: Emulator, algorithm: str | None, index: int
) -> None:
    job_id = emulator.job_ids[index]
    truth = emulator.expected(job_id)
    response = sdk(emulator, algorithm=algorithm).get_package_job(
        ice_models.GetPackageJobRequest(job_id=job_id)
    )
    assert response.status_code == 200
    body = response.body
    assert isinstance(body, ice_models.GetPackageJobResponseBody)
    assert body.request_id
    job = body.package_job
    assert job.job_id == job_id
    assert job.status == truth["Status"]
    assert job.name == truth["Name"]
    assert job.trigger_source == truth["TriggerSource"]
    assert job.pipeline_id == truth["PipelineId"]
    assert str(job.priority) == str(truth["Priority"])
    assert job.create_time == truth["CreateTime"]
    assert job.submit_time == truth["SubmitTime"]
    assert job.output_url == truth.get("OutputUrl")
    assert job.code == truth.get("Code")
    assert job.message == truth.get("Message")
    assert job.user_data == truth.get("UserData")
    assert job.output.media == truth["Output"]["Media"]
    assert [(i.input.type, i.input.media) for i in job.inputs] == [
        (i["Input"]["Type"], i["Input"]["Media"]) for i in truth["Inputs"]
    ]


def test_every_status_parses(emulator: Emulator) -> None:
    client = sdk(emulator)
    seen: dict[str, str] = {}
    for job_id in emulator.job_ids:
        seen.setdefault(emulator.expected(job_id)["Status"], job_id)
    assert set(seen) == {"Init", "Success", "Fail"}
    for status, job_id in seen.items():
        job = client.get_package_job(ice_models.GetPackageJobRequest(job_id=job_id)).body.package_job
        assert job.status == status
        if status == "Fail":
            assert job.code and job.message and job.output_url is None
        if status == "Success":
            assert job.output_url.startswith(("http://", "https://"))
        if status == "Init":
            assert job.finish_time is None


def test_list_package_jobs_pages_through_every_job_once(emulator: Emulator, algorithm: str | None) -> None:
    client = sdk(emulator, algorithm=algorithm)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        request = ice_models.ListPackageJobsRequest(page_size=40, next_page_token=token)
        body = client.list_package_jobs(request).body
        assert isinstance(body, ice_models.ListPackageJobsResponseBody)
        page = body.package_job_list
        assert len(page.package_jobs) <= 40
        for item in page.package_jobs:
            assert item.status in ("Init", "Success", "Fail")
            seen.append(item.job_id)
        pages += 1
        token = page.next_page_token
        if not token:
            break
        assert pages < 50
    assert pages == 8  # 300 jobs, 40 a page
    assert len(seen) == len(set(seen))
    # CreateTimeDesc is the default: newest first
    assert seen == list(reversed(emulator.all_job_ids()))


def test_list_filters_through_the_sdk(emulator: Emulator) -> None:
    client = sdk(emulator)
    failed = {j for j in emulator.job_ids if emulator.expected(j)["Status"] == "Fail"}
    got: set[str] = set()
    token = None
    while True:
        body = client.list_package_jobs(
            ice_models.ListPackageJobsRequest(
                status="Fail", page_size=100, order_by="CreateTimeAsc", next_page_token=token
            )
        ).body
        got |= {item.job_id for item in body.package_job_list.package_jobs}
        assert all(item.status == "Fail" for item in body.package_job_list.package_jobs)
        token = body.package_job_list.next_page_token
        if not token:
            break
    assert got == failed

    target = emulator.job_ids[42]
    body = client.list_package_jobs(ice_models.ListPackageJobsRequest(job_id=target)).body
    assert [item.job_id for item in body.package_job_list.package_jobs] == [target]


def test_time_window_through_the_sdk(emulator: Emulator) -> None:
    ids = emulator.job_ids
    start = str(emulator.expected(ids[100])["CreateTime"]).strip()
    end = str(emulator.expected(ids[150])["CreateTime"]).strip()
    body = (
        sdk(emulator)
        .list_package_jobs(
            ice_models.ListPackageJobsRequest(
                start_of_create_time=start, end_of_create_time=end, order_by="CreateTimeAsc", page_size=100
            )
        )
        .body
    )
    got = [item.job_id for item in body.package_job_list.package_jobs]
    assert got[0] == ids[100] and got[-1] == ids[150] and len(got) == 51
    assert not body.package_job_list.next_page_token


def test_sdk_async_calls(emulator: Emulator) -> None:
    import asyncio

    client = sdk(emulator)

    async def main() -> list[str]:
        requests = [ice_models.GetPackageJobRequest(job_id=j) for j in emulator.job_ids[:20]]
        responses = await asyncio.gather(*(client.get_package_job_async(r) for r in requests))
        return [r.body.package_job.job_id for r in responses]

    assert asyncio.run(main()) == emulator.job_ids[:20]


def test_submit_package_job_through_the_sdk(emulator: Emulator, algorithm: str | None) -> None:
    client = sdk(emulator, algorithm=algorithm)
    request = ice_models.SubmitPackageJobRequest(
        name="sdk-submitted 中文 force-success",
        inputs=[
            ice_models.SubmitPackageJobRequestInputs(
                input=ice_models.SubmitPackageJobRequestInputsInput(
                    type="OSS", media="oss://bucket/in/a b.mp4"
                )
            ),
            ice_models.SubmitPackageJobRequestInputs(
                input=ice_models.SubmitPackageJobRequestInputsInput(
                    type="OSS", media="oss://bucket/in/audio.mp4"
                )
            ),
        ],
        output=ice_models.SubmitPackageJobRequestOutput(type="OSS", media="oss://bucket/out/master.m3u8"),
        schedule_config=ice_models.SubmitPackageJobRequestScheduleConfig(pipeline_id="p" * 32, priority=7),
        user_data='{"ticket": 42, "note": "*~ +&="}',
    )
    response = client.submit_package_job(request)
    assert response.status_code == 200
    job_id = response.body.job_id
    assert len(job_id) == 32 and response.body.request_id
    truth = emulator.expected(job_id)
    assert truth["Name"] == "sdk-submitted 中文 force-success"
    assert truth["UserData"] == '{"ticket": 42, "note": "*~ +&="}'
    assert truth["PipelineId"] == "p" * 32 and truth["Priority"] == 7
    assert [i["Input"]["Media"] for i in truth["Inputs"]] == [
        "oss://bucket/in/a b.mp4",
        "oss://bucket/in/audio.mp4",
    ]

    job = client.get_package_job(ice_models.GetPackageJobRequest(job_id=job_id)).body.package_job
    assert job.status in ("Init", "Success")
    deadline = time.monotonic() + 30
    while job.status == "Init" and time.monotonic() < deadline:
        time.sleep(0.5)
        job = client.get_package_job(ice_models.GetPackageJobRequest(job_id=job_id)).body.package_job
    assert job.status == "Success"
    assert job.output_url == "https://bucket.oss-cn-shanghai.aliyuncs.com/out/master.m3u8"
    assert job.finish_time is not None


def test_wrong_secret_is_refused(emulator: Emulator, algorithm: str | None) -> None:
    client = sdk(emulator, secret="not-the-secret", algorithm=algorithm)
    error = expect_sdk_error(
        lambda: client.get_package_job(ice_models.GetPackageJobRequest(job_id=emulator.job_ids[0]))
    )
    assert error.code == "SignatureDoesNotMatch"
    assert error.status_code == 400
    assert error.request_id


def test_unknown_access_key_is_refused(emulator: Emulator, algorithm: str | None) -> None:
    client = sdk(emulator, algorithm=algorithm, access_key_id="LTAInobody")
    error = expect_sdk_error(
        lambda: client.get_package_job(ice_models.GetPackageJobRequest(job_id=emulator.job_ids[0]))
    )
    assert error.code == "InvalidAccessKeyId.NotFound"
    assert error.status_code == 404


def test_missing_job_is_a_not_found_error(emulator: Emulator) -> None:
    error = expect_sdk_error(
        lambda: sdk(emulator).get_package_job(ice_models.GetPackageJobRequest(job_id="0" * 32))
    )
    assert error.code == "InvalidParameter.ResourceNotFound"
    assert error.status_code == 404


def test_bad_page_size_is_invalid_parameter(emulator: Emulator) -> None:
    error = expect_sdk_error(
        lambda: sdk(emulator).list_package_jobs(ice_models.ListPackageJobsRequest(page_size=101))
    )
    assert error.code == "InvalidParameter"


def test_throttling_reaches_the_sdk_with_retry_after(restore_emulator: Emulator) -> None:
    restore_emulator.configure(qps=1)
    client = sdk(restore_emulator)
    request = ice_models.GetPackageJobRequest(job_id=restore_emulator.job_ids[0])
    errors = []
    for _ in range(8):
        try:
            client.get_package_job(request)
        except sdk_exceptions.ThrottlingException as exc:
            errors.append(exc)
    assert errors, "eight calls at once must exceed 1 QPS"
    assert all(e.code == "Throttling.User" and e.retry_after and e.retry_after > 0 for e in errors)


@pytest.fixture
def sts_emulator() -> Iterator[Emulator]:
    with Emulator(
        jobs=20,
        seed=3,
        access_key_id="STS.emulator",
        security_token="sts-token-ok",
        expired_security_tokens=["old"],
    ) as emu:
        yield emu


@pytest.mark.parametrize("algo", [None, SDK_V1], ids=["V3", "V1"])
def test_sts_token_through_the_sdk(sts_emulator: Emulator, algo: str | None) -> None:
    request = ice_models.GetPackageJobRequest(job_id=sts_emulator.job_ids[0])
    ok = sdk(sts_emulator, algorithm=algo, security_token="sts-token-ok").get_package_job(request)
    assert ok.body.package_job.job_id == sts_emulator.job_ids[0]
    for token, code in [
        ("old", "InvalidSecurityToken.Expired"),
        ("forged", "InvalidSecurityToken.Malformed"),
        (None, "MissingSecurityToken"),
    ]:
        client = sdk(sts_emulator, algorithm=algo, security_token=token)
        assert expect_sdk_error(lambda c=client: c.get_package_job(request)).code == code


def test_sdk_v1_signature_matches_ours() -> None:
    """The emulator verifies V1 with ``_signing.sign_v1``; it agrees with the SDK's own."""
    params = {
        "Action": "GetPackageJob",
        "Format": "json",
        "Version": "2020-11-09",
        "Timestamp": "2024-01-01T00:00:00Z",
        "SignatureNonce": "00000000000000000000000000000001",
        "JobId": "ab4802364a2e49208c99efab82df****",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": "testid",
        "Name": "名 with spaces ~*+&=",
    }
    assert _signing.sign_v1("testsecret", "POST", params) == utils.Utils.get_rpcsignature(
        params, "POST", "testsecret"
    )
