"""fetch_jobs, afetch_jobs, list_jobs, the cache and df.ice for every job kind, against the emulator.

The truth is the emulator's own data (``emu.expected(job_id)``, the dict its Get sends):
a fetched frame must equal the frame built from those dicts, row for row, whatever faults
the server injected on the way. Every fault cell checks that faults were injected, so it
cannot pass without them.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ice_widgets
from ice_widgets import Client
from ice_widgets._cache import JobCache
from ice_widgets._frames import build_frame, columns_for
from ice_widgets._models import KINDS, parse_job
from ice_widgets.emulator import Emulator

SEED = 33
#: Seeded jobs of every kind in the fault tests (so 2,000+ IDs per kind).
FAULT_JOBS = 2000
#: Mixed faults at 0.2 (``slow`` is left out: each costs a client timeout, see test_faults.py).
FAULTS = ["throttle", "503", "500", "drop", "truncate"]
RETRIES = 10


def client_for(emu: Emulator, **options: Any) -> Client:
    return Client(
        endpoint=emu.endpoint,
        access_key_id=emu.access_key_id,
        access_key_secret=emu.access_key_secret,
        **options,
    )


def missing_id(i: int) -> str:
    return f"{0xDEAD0000 + i:032x}"


def truth_frame(emu: Emulator, ids: list[str], kinds: list[str]) -> pd.DataFrame:
    """The frame the service's own data gives: each ID's dict as Get sends it, parsed."""
    records: list[Any] = [parse_job(kind, emu.expected(job_id, kind)) for job_id, kind in zip(ids, kinds)]
    return build_frame(records, kind=sorted(set(kinds), key=KINDS.index))


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["elapsed"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def faulty() -> Iterator[Emulator]:
    with Emulator(jobs=FAULT_JOBS, kind_jobs=FAULT_JOBS, seed=SEED) as emu:
        yield emu


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_thousands_of_ids_under_faults_give_one_correct_row_per_distinct_id(
    faulty: Emulator, kind: str
) -> None:
    emu = faulty
    ids = emu.ids(kind)
    assert len(ids) == FAULT_JOBS
    missing = [missing_id(i) for i in range(25)]
    rng = random.Random(kind)
    given = ids + missing + rng.sample(ids, 300) + missing[:5]  # repeats are fetched once
    rng.shuffle(given)
    distinct = list(dict.fromkeys(given))
    faults_before = sum(emu.stats.faults.values())
    emu.configure(fault_rate=0.2, faults=FAULTS)
    try:
        with client_for(emu, max_retries=RETRIES, timeout=5.0) as client:
            frame = ice_widgets.fetch_jobs(given, kind=kind, client=client, progress=False)
    finally:
        emu.configure(fault_rate=0.0)
    injected = sum(emu.stats.faults.values()) - faults_before
    assert injected > 0.1 * len(distinct), f"only {injected} faults injected: the test proves little"
    assert client.stats.retries > 0

    assert frame["job_id"].tolist() == distinct  # one row per distinct ID, first-seen order
    assert list(frame.columns) == list(columns_for(kind))
    errors = frame[frame["error_code"].notna()]
    assert sorted(errors["job_id"]) == sorted(missing), errors[
        ["job_id", "error_code", "error_message"]
    ].head()
    assert set(errors["error_code"]) == {"InvalidParameter.ResourceNotFound"}
    assert (errors["kind"] == kind).all()
    # every other row is the service's job, exactly
    found = frame[frame["error_code"].isna()]
    truth = truth_frame(emu, found["job_id"].tolist(), [kind] * len(found))
    pd.testing.assert_frame_equal(comparable(found), comparable(truth))
    assert found["state"].notna().all()


def mixed_request(emu: Emulator, per_kind: int, rng: random.Random) -> pd.DataFrame:
    rows = [(job_id, kind) for kind in KINDS for job_id in emu.ids(kind)[:per_kind]]
    rng.shuffle(rows)
    return pd.DataFrame(rows, columns=["job_id", "kind"])


@pytest.mark.slow
def test_a_mixed_batch_under_faults_is_one_frame_of_every_kind(faulty: Emulator) -> None:
    emu = faulty
    rng = random.Random(5)
    request = mixed_request(emu, 400, rng)
    # a person's spelling of a kind, a missing kind (-> kind=), an unknown kind, a missing job
    extra = pd.DataFrame(
        {
            "job_id": [
                emu.ids("snapshot")[500],
                emu.ids("package")[600],
                emu.ids("transcode")[700],
                missing_id(1),
            ],
            "kind": [" Snapshot", None, "transcoding", "media-convert"],
        }
    )
    request = pd.concat([request, extra, request.head(50)], ignore_index=True)
    faults_before = sum(emu.stats.faults.values())
    emu.configure(fault_rate=0.2, faults=FAULTS)
    try:
        with client_for(emu, max_retries=RETRIES, timeout=5.0) as client:
            frame = ice_widgets.fetch_jobs(request, client=client, progress=False)
    finally:
        emu.configure(fault_rate=0.0)
    assert sum(emu.stats.faults.values()) - faults_before > 200

    assert list(frame.columns) == list(columns_for(KINDS))
    assert frame["job_id"].tolist() == list(dict.fromkeys(request["job_id"]))
    by_id = frame.set_index(frame["job_id"].astype(object))
    bad = by_id.loc[emu.ids("transcode")[700]]
    assert (bad["error_code"], pd.isna(bad["kind"])) == ("InvalidKind", True)
    assert "transcoding" in bad["error_message"] and "media_producing" in bad["error_message"]
    gone = by_id.loc[missing_id(1)]
    assert (gone["error_code"], gone["kind"]) == ("InvalidParameter.ResourceNotFound", "media_convert")
    assert frame["error_code"].notna().sum() == 2
    assert by_id.loc[emu.ids("snapshot")[500], "kind"] == "snapshot"
    assert by_id.loc[emu.ids("package")[600], "kind"] == "package"  # no kind given: kind="package"

    found = frame[frame["error_code"].isna()]
    kinds = found["kind"].astype(str).tolist()
    for kind in KINDS:  # each kind's rows equal the truth in that kind's own columns
        rows = found[(found["kind"] == kind).to_numpy()]
        assert len(rows) >= 400
        truth = truth_frame(emu, rows["job_id"].tolist(), [kind] * len(rows))
        mine = comparable(rows)[list(truth.columns.drop("elapsed"))]
        theirs = comparable(truth)
        for name in ("status",):  # categories differ (a mixed frame has every kind's)
            mine[name] = mine[name].astype(object)
            theirs[name] = theirs[name].astype(object)
        pd.testing.assert_frame_equal(mine, theirs)
    assert sorted(set(kinds), key=KINDS.index) == list(KINDS)


def test_mixed_batch_from_models_and_afetch_jobs(faulty: Emulator) -> None:
    emu = faulty
    with client_for(emu) as client:
        models = [client.get_job(emu.ids(kind)[3], kind=kind) for kind in KINDS]
        frame = ice_widgets.fetch_jobs(models, client=client, progress=False)  # models carry their kind
        assert frame["kind"].tolist() == list(KINDS)
        assert frame["job_id"].tolist() == [m.job_id for m in models]
        assert frame["error_code"].isna().all()
        one = ice_widgets.fetch_jobs(models[1], client=client, progress=False)  # one model: its kind
        assert (one["kind"].tolist(), one["job_id"].tolist()) == (["transcode"], [models[1].job_id])
        assert one["error_code"].isna().all()
        request = mixed_request(emu, 20, random.Random(1))
        sync = ice_widgets.fetch_jobs(request, client=client, progress=False)

    async def run() -> pd.DataFrame:
        async with ice_widgets.AsyncClient(
            endpoint=emu.endpoint, access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret
        ) as aclient:
            return await ice_widgets.afetch_jobs(request, client=aclient, progress=False)

    pd.testing.assert_frame_equal(comparable(asyncio.run(run())), comparable(sync))
    # an empty batch of a kind has that kind's columns
    empty = ice_widgets.fetch_jobs([], kind="media_producing", client=client_for(emu), progress=False)
    assert list(empty.columns) == list(columns_for("media_producing")) and len(empty) == 0
    with pytest.raises(ValueError, match="unknown job kind 'transcoding'"):
        ice_widgets.fetch_jobs(["x"], kind="transcoding", progress=False)


@pytest.mark.parametrize("kind", KINDS)
def test_list_jobs_of_every_kind_under_faults_lists_every_job_once(faulty: Emulator, kind: str) -> None:
    emu = faulty
    faults_before = sum(emu.stats.faults.values())
    emu.configure(fault_rate=0.2, faults=FAULTS)
    try:
        with client_for(emu, max_retries=RETRIES, timeout=5.0) as client:
            frame = ice_widgets.list_jobs(kind=kind, client=client, progress=False)
    finally:
        emu.configure(fault_rate=0.0)
    assert sum(emu.stats.faults.values()) > faults_before
    ids = frame["job_id"].tolist()
    assert len(ids) == len(set(ids))
    assert set(ids) == set(emu.all_job_ids(kind))
    assert list(frame.columns) == list(columns_for(kind))
    assert (frame["kind"] == kind).all()
    status_key = "State" if kind == "media_convert" else "Status"
    for row in frame.head(100).itertuples():
        truth = emu.expected(row.job_id, kind)
        assert row.status == truth[status_key].strip()
    if kind == "transcode":  # list items carry no sub-jobs: unknown, not zero
        assert frame["sub_jobs"].map(lambda v: v is None).all()
        assert frame["sub_jobs_failed"].isna().all()


def test_list_jobs_of_several_kinds_and_its_arguments(faulty: Emulator) -> None:
    emu = faulty
    with client_for(emu) as client:
        frame = ice_widgets.list_jobs(
            kind=["snapshot", "media_producing"], client=client, progress=False, limit=2100
        )
        assert len(frame) == 2100
        assert frame["kind"].astype(str).tolist() == ["snapshot"] * len(emu.all_job_ids("snapshot")) + [
            "media_producing"
        ] * (2100 - len(emu.all_job_ids("snapshot")))
        assert list(frame.columns) == list(columns_for(["snapshot", "media_producing"]))
        failed = ice_widgets.list_jobs(kind="media_producing", status="Failed", client=client, progress=False)
        truth = {i for i in emu.all_job_ids("media_producing") if emu.expected(i)["Status"] == "Failed"}
        assert set(failed["job_id"]) == truth and len(truth) > 0
        with pytest.raises(ValueError, match="unknown job kind"):
            ice_widgets.list_jobs(kind="render", client=client)


# --------------------------------------------------------------------------- the cache


def test_the_cache_keeps_finished_jobs_of_every_kind(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with Emulator(jobs=120, kind_jobs=120, seed=12) as emu, client_for(emu) as client:
        request = mixed_request(emu, 120, random.Random(2))
        first = ice_widgets.fetch_jobs(request, client=client, progress=False, cache=path)
        finished = first["state"].isin(["succeeded", "failed"])
        assert 0 < int((~finished).sum()) < len(first)
        before = client.stats.requests
        second = ice_widgets.fetch_jobs(request, client=client, progress=False, cache=path)
        assert client.stats.requests - before == int((~finished).sum())  # only the unfinished
        pd.testing.assert_frame_equal(comparable(second), comparable(first))
        with JobCache(path) as cache:
            for kind in KINDS:
                rows = first[(first["kind"] == kind).to_numpy() & finished.to_numpy()]
                assert sorted(cache.job_ids(emu.endpoint, kind=kind)) == sorted(rows["job_id"])
            # keyed by kind: a transcode ID is not a cached snapshot job
            some = first.loc[finished.to_numpy() & (first["kind"] == "transcode").to_numpy(), "job_id"].iloc[
                0
            ]
            assert cache.get_many([some], emu.endpoint, "snapshot") == {}
            assert cache.get_many([some], emu.endpoint, "transcode")[some].sub_jobs


def test_a_version_1_cache_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(  # the schema of ice_widgets before the job kinds
        "CREATE TABLE jobs (endpoint TEXT NOT NULL, job_id TEXT NOT NULL, status TEXT NOT NULL,"
        " data TEXT NOT NULL, stored_at REAL NOT NULL, PRIMARY KEY (endpoint, job_id)) WITHOUT ROWID"
    )
    conn.execute(
        "INSERT INTO jobs VALUES ('http://e', 'old1', 'Success', ?, 1.0)",
        ('{"JobId":"old1","Status":"Success","Name":"kept"}',),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with JobCache(path) as cache:
        assert cache._conn.execute("PRAGMA user_version").fetchone()[0] == 2
        found = cache.get_many(["old1"], "http://e", "package")
        assert found["old1"].name == "kept" and found["old1"].kind == "package"
        assert cache.get_many(["old1"], "http://e", "transcode") == {}
        assert cache.integrity_check() == "ok"
    with JobCache(path) as again:  # opening it again changes nothing
        assert len(again) == 1


# --------------------------------------------------------------------------- df.ice on mixed frames


def test_accessor_on_a_mixed_frame(faulty: Emulator) -> None:
    emu = faulty
    with client_for(emu) as client:
        request = mixed_request(emu, 300, random.Random(3))
        frame = ice_widgets.fetch_jobs(
            pd.concat([request, pd.DataFrame({"job_id": [missing_id(9)], "kind": ["snapshot"]})]),
            client=client,
            progress=False,
        )
    truth = {i: emu.expected(i) for i in request["job_id"]}
    kind_of = dict(zip(request["job_id"], request["kind"]))

    def state_of(job_id: str) -> str:
        job = parse_job(kind_of[job_id], truth[job_id])
        return job.state

    states = [state_of(i) for i in request["job_id"]]
    summary = frame.ice.summary()
    assert summary["total"] == len(request) + 1
    assert summary["errors"] == 1
    for name in ("running", "succeeded", "failed", "unknown"):
        assert summary[name] == states.count(name)
    assert summary["success_rate"] == pytest.approx(
        states.count("succeeded") / (states.count("succeeded") + states.count("failed"))
    )
    per_kind = frame.ice.summary(by="kind")
    assert list(per_kind.index) == list(KINDS)
    assert per_kind["total"].sum() == len(request) + 1  # the error row is a snapshot row
    assert per_kind.loc["snapshot", "errors"] == 1
    assert per_kind.loc["transcode", "errors"] == 0

    failures = frame.ice.failures()
    jobs = failures[failures["source"] == "job"]
    assert jobs["count"].sum() == states.count("failed")
    assert set(jobs["kind"]) <= set(KINDS)
    subs = failures[failures["source"] == "sub_job"]
    failed_subs = sum(
        1
        for i in request["job_id"]
        if kind_of[i] == "transcode"
        for sub in truth[i].get("TranscodeJobList", [])
        if sub.get("Status") == "Fail"
    )
    assert subs["count"].sum() == failed_subs > 0
    assert failures[failures["source"] == "fetch"]["count"].tolist() == [1]

    exploded = frame.ice.sub_jobs()
    parents = [i for i in request["job_id"] if kind_of[i] == "transcode"]
    expected_rows = [
        (p, s["JobId"], s["Status"]) for p in parents for s in truth[p].get("TranscodeJobList", [])
    ]
    assert (
        list(zip(exploded["parent_job_id"], exploded["job_id"], exploded["status"].astype(str)))
        == expected_rows
    )
    assert list(exploded.columns[:7]) == [
        "parent_job_id", "job_id", "index", "name", "status", "state", "output_url"
    ]  # fmt: skip
    assert exploded["finish_time"].dtype == pd.DatetimeTZDtype("ns", "UTC")
    done = exploded[exploded["state"] == "succeeded"]
    assert (done["duration"] == done["finish_time"] - done["submit_time"]).all()

    assert list(exploded.columns) == [
        "parent_job_id", "job_id", "index", "name", "status", "state", "output_url", "template_id",
        "code", "message", "media_duration", "submit_time", "finish_time", "duration",
    ]  # fmt: skip

    details = frame.ice.output_details()
    wanted = []
    for parent in (i for i in request["job_id"] if kind_of[i] == "media_convert"):
        job = truth[parent]
        for item in job.get("OutputDetails", []):
            wanted.append((parent, item.get("Name"), item.get("Status"), False))
        for group in job.get("OutputGroupDetails", []):
            wanted.append((parent, group.get("Name"), group.get("Status"), True))
            for item in group.get("Outputs", []):
                wanted.append((parent, item.get("Name"), item.get("Status"), False))
    assert len(wanted) >= 300
    got = [
        (p, n if isinstance(n, str) else None, s if isinstance(s, str) else None, bool(g))
        for p, n, s, g in zip(
            details["parent_job_id"],
            details["name"].astype(object),
            details["status"].astype(object),
            details["is_group"],
        )
    ]
    assert got == wanted
    assert list(details.columns) == [
        "parent_job_id", "name", "group", "is_group", "status", "state", "output_url", "code",
        "message", "create_time", "finish_time", "duration",
    ]  # fmt: skip
    assert details["state"].notna().all()

    mask = frame.ice.unfinished()
    assert frame.loc[mask, "job_id"].tolist() == [
        i for i, s in zip(request["job_id"], states) if s in ("running", "unknown")
    ] + [missing_id(9)]


def test_refresh_of_a_mixed_frame_fetches_each_row_with_its_kind() -> None:
    with (
        Emulator(jobs=40, kind_jobs=40, seed=8, progress_seconds=0.2, progress_seeded=True) as emu,
        client_for(emu) as client,
    ):
        request = mixed_request(emu, 40, random.Random(4))
        frame = ice_widgets.fetch_jobs(request, client=client, progress=False)
        frame.index = pd.RangeIndex(500, 500 + len(frame))  # the index is kept
        unfinished = frame.ice.unfinished()
        running = frame.loc[unfinished, "job_id"].tolist()
        assert running, "the seeded data has running jobs of some kinds"
        kinds_running = set(frame.loc[unfinished, "kind"].astype(str))
        assert len(kinds_running) >= 2
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = [parse_job(emu.kind_of(i) or "package", emu.expected(i)).state for i in running]
            if all(s in ("succeeded", "failed") for s in now):
                break
            time.sleep(0.2)
        before = client.stats.requests
        fresh = frame.ice.refresh(client=client)
        assert client.stats.requests - before == len(running)
        assert list(fresh.index) == list(frame.index)
        assert fresh["job_id"].tolist() == frame["job_id"].tolist()
        assert list(fresh.columns) == list(frame.columns)
        assert (fresh.dtypes.astype(str) == frame.dtypes.astype(str)).all()
        by_id = fresh.set_index(fresh["job_id"].astype(object))
        for job_id in running:
            assert by_id.loc[job_id, "state"] in ("succeeded", "failed")
            assert by_id.loc[job_id, "kind"] == emu.kind_of(job_id)
        kept = ~unfinished
        cols = [c for c in frame.columns if c not in ("elapsed", "status")]
        pd.testing.assert_frame_equal(fresh.loc[kept, cols], frame.loc[kept, cols])
        assert fresh.attrs["counts"]["total"] == len(frame)
