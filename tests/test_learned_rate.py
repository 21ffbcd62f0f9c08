"""The adaptive rate is the account's, kept for the kernel's life (issue 10).

ICE limits requests per account, not per client object. A notebook calls ``fetch_jobs``
again and again, each call making its own client from the environment: the rate the first
batch learned must pace the second from its first request, instead of bursting into the
limit again. Everything runs against the emulator's token-bucket limit (a real HTTP server).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ice_widgets
from ice_widgets import AsyncClient, Client
from ice_widgets.emulator import Emulator

KEY_ID, SECRET = "LTAI5tLearnedRateKey", "learned-rate-secret"
QPS = 80


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[Emulator]:
    """An emulator limited to QPS requests/s, and the environment pointing at it."""
    with Emulator(jobs=1200, seed=21, qps=QPS, access_key_id=KEY_ID, access_key_secret=SECRET) as emu:
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
        monkeypatch.delenv("ALIBABA_CLOUD_PROFILE", raising=False)
        monkeypatch.setenv("ALIBABA_CLOUD_ICE_ENDPOINT", emu.endpoint)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        yield emu


def batch(emu: Emulator, ids: list[str]) -> tuple[int, int]:
    """``fetch_jobs`` with no client (one made from the environment, as in a notebook):
    (requests, throttled answers) the emulator counted; every row must be right."""
    before = emu.stats.requests, emu.stats.throttled
    frame = ice_widgets.fetch_jobs(ids, progress=False)
    assert frame["error_code"].isna().all(), frame["error_code"].value_counts()
    assert list(frame["job_id"]) == ids
    return emu.stats.requests - before[0], emu.stats.throttled - before[1]


def test_clients_of_one_account_share_one_rate(limited: Emulator) -> None:
    options = {"endpoint": limited.endpoint, "access_key_id": KEY_ID, "access_key_secret": SECRET}
    with Client() as from_env, Client(**options) as c:
        assert c.rate is from_env.rate
        assert AsyncClient().rate is c.rate
        other_key = Client(**{**options, "access_key_id": "LTAI5tAnotherKey"})
        other_endpoint = Client(**{**options, "endpoint": "http://127.0.0.1:9"})
        assert other_key.rate is not c.rate and other_endpoint.rate is not c.rate
        other_key.close()
        other_endpoint.close()


def test_a_second_batch_starts_at_the_rate_the_first_learned(limited: Emulator) -> None:
    ids = limited.job_ids
    requests, throttled = batch(limited, ids[:480])  # unlimited at first: it bursts, then adapts
    assert throttled > 0, "the first batch never met the limit: the test proves nothing"
    with Client() as probe:
        learned = probe.rate.rate
        assert learned is not None and learned < 4 * QPS, probe.rate
    first_share = throttled / requests

    requests, throttled = batch(limited, ids[480:960])  # a new client: the account's rate
    second_share = throttled / requests
    assert second_share < 0.05, (throttled, requests, first_share)
    assert second_share < first_share

    # The contrast, as in a new kernel: nothing learned, the same batch bursts again.
    ice_widgets.forget_learned_rates()
    requests, throttled = batch(limited, ids[960:1200])
    assert throttled > 0 and throttled / requests > second_share, (throttled, requests, second_share)
