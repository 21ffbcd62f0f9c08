"""The emulator's job store: a deterministic seeded data set, paging and submitted jobs.

Everything here is synchronous and runs on the server's event loop thread.
Each job keeps its API dict and two pre-serialised JSON forms (the full object for
GetPackageJob and the list item without ``OutputUrl`` for ListPackageJobs), so that
answering a request costs a dictionary lookup and a byte join.
"""

from __future__ import annotations

import base64
import bisect
import copy
import dataclasses
import hashlib
import heapq
import hmac
import itertools
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ice_widgets.emulator._constants import BUCKETS as _BUCKETS
from ice_widgets.emulator._constants import REGIONS as _REGIONS
from ice_widgets.emulator._constants import SHOWS as _SHOWS
from ice_widgets.emulator._constants import TRIGGERS as _TRIGGERS
from ice_widgets.emulator._constants import draw_duration, format_time, running_plan
from ice_widgets.emulator._constants import hex32 as _hex32
from ice_widgets.emulator._kinds import (
    CANCELLED,
    FAIL,
    KIND_SPECS,
    KINDS,
    PARTIAL,
    RUNNING_SHARE,
    SUCCESS,
    Facts,
    build_job,
    draw_outcome,
    iter_kind_jobs,
    list_item,
)
from ice_widgets.emulator.corpus import HOSTILE_T0, HOSTILE_T1, hostile_jobs, hostile_kind_jobs

__all__ = ["ApiError", "JobStore", "Listing", "format_time", "generate_jobs", "parse_api_time"]

_UTC = UTC

#: Error codes and messages that failed packaging jobs carry (real-looking, from ICE/MPS docs).
FAIL_REASONS: tuple[tuple[str, str], ...] = (
    ("InvalidParameter", "Resource content bad."),
    ("PackageFailed", "Packaging failed: the segment durations of the inputs do not match."),
    ("InvalidParameter.Input", "The input media has no video stream."),
    ("InputFile.NotFound", "The specified input file does not exist in OSS."),
    ("Output.AccessDenied", "Access to the output bucket was denied by its policy."),
    ("InternalError", "The request processing has failed due to some unknown error."),
    ("PackageFailed", "Packaging failed: the input bitrates are not aligned across renditions."),
)

_PROFILES = ("hls-1080p", "hls-720p", "dash-4k", "dash-1080p", "hls-abr", "dash-abr", "cmaf-abr")
_PRIORITIES = tuple(p for p, n in zip(range(1, 11), (1, 1, 2, 3, 4, 8, 3, 2, 1, 1)) for _ in range(n))
_RENDITIONS = ("1080p", "720p", "480p", "audio-en", "audio-zh")


def parse_api_time(value: str) -> float | None:
    """Parse ``yyyy-MM-ddTHH:mm:ssZ`` (as the API takes it) to a POSIX timestamp, or None."""
    try:
        parsed = datetime.strptime(value.strip(), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return parsed.replace(tzinfo=_UTC).timestamp()


def default_anchor(now: float | None = None) -> float:
    """The default anchor of the seeded data set: now (whole seconds).

    Seeded times lead up to the anchor, so the data set looks like a real account at the
    moment the emulator starts: jobs finished over the past days, a few submitted in the
    last minutes still running. Pass an explicit anchor for data that is the same on
    every run (same seed, same anchor: same jobs, byte for byte).
    """
    now = time.time() if now is None else now
    return float(int(now))


def generate_jobs(count: int, seed: int, *, anchor: float, days: float = 7.0) -> list[dict[str, Any]]:
    """Generate ``count`` realistic PackageJob dicts, deterministically from ``seed``.

    The jobs come back in creation order (ascending ``CreateTime``). About 87 % succeed,
    10 % fail with a real-looking ``Code``/``Message`` and 3 % are still ``Init``:
    submitted in the four minutes before ``anchor``. Run times come from
    :func:`~ice_widgets.emulator._constants.draw_duration`, as for every kind.
    A few jobs reproduce documented quirks: a timestamp ending in ``"\\n"`` (as in the
    API reference's own example) and a ``Priority`` sent as a string.
    """
    rows = list(iter_jobs(count, seed, anchor=anchor, days=days))
    rows.sort(key=lambda row: row[0])
    return [job for _, job in rows]


def iter_jobs(
    count: int, seed: int, *, anchor: float, days: float = 7.0
) -> Iterator[tuple[float, dict[str, Any]]]:
    """``(created, job)`` pairs in generation order (not sorted); see :func:`generate_jobs`."""
    rng = random.Random(seed)
    pipelines = [_hex32(rng) for _ in range(4)]
    span = days * 86400.0
    for index in range(count):
        job_id = _hex32(rng)
        roll = rng.random()
        status = "Init" if roll < RUNNING_SHARE else ("Fail" if roll < RUNNING_SHARE + 0.1 else "Success")
        duration = draw_duration(rng)
        if status == "Init":  # submitted minutes ago, still running
            planned, done = running_plan(job_id)
            created = anchor - done * planned
        else:
            created = anchor - rng.uniform(0.0, span)
            if created + 2 + duration > anchor - 1.0:  # would still run: it started earlier
                created = anchor - 3.0 - duration - rng.uniform(0.0, 3600.0)
        show = rng.choice(_SHOWS)
        profile = rng.choice(_PROFILES)
        name = f"{show}-{index:05d}-{profile}"
        bucket = rng.choice(_BUCKETS)
        region = rng.choice(_REGIONS)
        day = format_time(created)[:10].replace("-", "/")
        inputs = []
        for rendition in rng.sample(_RENDITIONS, rng.randint(1, 3)):
            if rng.random() < 0.9:
                media = f"oss://{bucket}/source/{day}/{show}-{index:05d}/{rendition}.mp4"
                inputs.append({"Input": {"Type": "OSS", "Media": media}})
            else:
                inputs.append({"Input": {"Type": "Media", "Media": _hex32(rng)}})
        manifest = "master.mpd" if "dash" in profile else "master.m3u8"
        out_path = f"packaged/{day}/{show}-{index:05d}/{profile}/{manifest}"
        job: dict[str, Any] = {
            "JobId": job_id,
            "TriggerSource": rng.choice(_TRIGGERS),
            "Name": name,
            "Inputs": inputs,
            "Output": {"Type": "OSS", "Media": f"oss://{bucket}/{out_path}"},
            "PipelineId": rng.choice(pipelines),
            "Priority": rng.choice(_PRIORITIES),
            "Status": status,
        }
        submit = created + rng.choice((0, 0, 0, 1, 2))
        create_s = format_time(created)
        job["SubmitTime"] = format_time(submit)
        if status == "Init":
            modified = created
        else:
            finish = submit + duration
            modified = finish
            job["FinishTime"] = format_time(finish)
            if status == "Success":
                scheme = "https" if rng.random() < 0.8 else "http"
                job["OutputUrl"] = f"{scheme}://{bucket}.oss-{region}.aliyuncs.com/{out_path}"
            else:
                code, message = rng.choice(FAIL_REASONS)
                job["Code"] = code
                job["Message"] = message
        if rng.random() < 0.3:
            job["UserData"] = json.dumps(
                {"project": show, "ticket": rng.randint(1000, 99999), "owner": rng.choice(("ops", "vod"))},
                separators=(",", ":"),
                ensure_ascii=False,
            )
        job["CreateTime"] = create_s
        job["ModifiedTime"] = format_time(modified)
        quirk = rng.random()
        if quirk < 0.03:
            job["CreateTime"] += "\n"
            job["ModifiedTime"] += "\n"
        elif quirk < 0.05:
            job["Priority"] = str(job["Priority"])
        yield created, job


def _retimed(value: Any, times: Mapping[str, str]) -> Any:
    """``value`` with every string found in ``times`` replaced by its value (recursively)."""
    if isinstance(value, dict):
        return {key: _retimed(item, times) for key, item in value.items()}
    if isinstance(value, list):
        return [_retimed(item, times) for item in value]
    if isinstance(value, str):
        return times.get(value, value)
    return value


class ApiError(Exception):
    """An error answer: HTTP status, ICE error code and message."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def _order_tag(order: str) -> str:
    return "D" if order == "CreateTimeDesc" else "A"


def _dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (the hostile corpus has some): \u escapes
        return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")


_URL_KEY = b'"OutputUrl":'


class _Job:
    """One job, kept only as its serialised JSON (plus what listing needs), to stay small.

    ``full`` is the GetPackageJob object; the list item is ``full`` without the
    ``OutputUrl`` member, cut out by offsets (or kept whole when there is no URL).
    """

    __slots__ = ("created", "cut", "full", "item_bytes", "job_id", "key", "seq", "status")

    def __init__(self, seq: int, created: float, data: Mapping[str, Any], kind: str = "package") -> None:
        self.seq = seq
        self.job_id = str(data[KIND_SPECS[kind].id_key if kind != "package" else "JobId"])
        self.created = created
        self.key = (created, seq)
        self.full = b""
        self.cut: tuple[int, int] | None = None
        self.item_bytes: bytes | None = None
        self.status: Any = None
        self.serialise(data, kind)

    def serialise(self, data: Mapping[str, Any], kind: str = "package") -> None:
        full = _dumps(data)
        self.full = full
        self.cut = None
        if kind != "package":  # other kinds: the List item is its own, smaller object
            self.status = data.get(KIND_SPECS[kind].status_key)
            self.item_bytes = _dumps(list_item(kind, data))
            return
        self.status = data.get("Status")
        self.item_bytes = None
        if "OutputUrl" not in data:
            return
        segment = b"," + _URL_KEY + _dumps(data["OutputUrl"])
        start = full.find(segment)
        if start > 0 and full.count(_URL_KEY) == 1:
            self.cut = (start, start + len(segment))
        else:  # OutputUrl first, or nested keys of the same name: serialise the item itself
            self.item_bytes = _dumps({k: v for k, v in data.items() if k != "OutputUrl"})

    @property
    def data(self) -> dict[str, Any]:
        """A fresh dict decoded from the served JSON."""
        value: dict[str, Any] = json.loads(self.full)
        return value

    @property
    def item(self) -> bytes:
        """The ListPackageJobs item: the job without ``OutputUrl``."""
        if self.cut is not None:
            start, end = self.cut
            return self.full[:start] + self.full[end:]
        return self.item_bytes if self.item_bytes is not None else self.full


@dataclass
class Listing:
    """One page of ListPackageJobs: the serialised items and the token for the next page."""

    items: list[bytes]
    next_token: str | None


class JobStore:
    """Jobs of one kind by ID, in creation order, with paging tokens and job progress.

    Parameters
    ----------
    jobs, seed
        Size and seed of the generated data set.
    hostile
        How many jobs carrying injection payloads (``corpus.hostile_jobs``) to add.
    anchor
        POSIX time the seeded times lead up to (default: now).
    progress_seconds
        How long a submitted job stays ``Init`` on average before it finishes.
    progress_seeded
        Also let the seeded running jobs finish, at random times within about
        ``10 * progress_seconds`` of the anchor (default: they keep running).
    kind
        The job kind (``"package"`` by default; see ``_kinds.KINDS``).
    """

    def __init__(
        self,
        jobs: int = 1000,
        seed: int = 1,
        *,
        hostile: int = 0,
        anchor: float | None = None,
        progress_seconds: float = 3.0,
        progress_seeded: bool = False,
        kind: str = "package",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}; choose from {', '.join(KINDS)}")
        self.kind = kind
        self.id_key = "JobId" if kind == "package" else KIND_SPECS[kind].id_key
        self.seed = seed
        self.anchor = default_anchor() if anchor is None else anchor
        self.progress_seconds = progress_seconds
        self._jobs: dict[str, _Job] = {}
        self._keys: list[tuple[float, int]] = []
        self._by_key: dict[tuple[float, int], _Job] = {}
        self._seq = 0
        self._pending: list[tuple[float, int, str, Any]] = []
        self._ticks = itertools.count()
        self._client_tokens: dict[str, str] = {}
        self._submit_rng = random.Random(f"submit-{seed}" if kind == "package" else f"submit-{kind}-{seed}")
        token_seed = (
            f"ice-emulator-token-{seed}" if kind == "package" else f"ice-emulator-token-{kind}-{seed}"
        )
        self._token_key = hashlib.sha256(token_seed.encode()).digest()
        self.seeded_ids: list[str] = []
        self.hostile_ids: list[str] = []
        seeded: list[_Job] = []
        running: list[Facts] = []
        if kind == "package":
            for created, data in iter_jobs(jobs, seed, anchor=self.anchor):
                job_id = data["JobId"]
                if job_id in self._jobs:  # 128 random bits: never in practice
                    continue
                job = _Job(0, created, data)
                self._jobs[job_id] = job
                seeded.append(job)
        else:
            for facts, data in iter_kind_jobs(kind, jobs, seed, anchor=self.anchor):
                if facts.job_id in self._jobs:
                    continue
                if facts.progress is not None and progress_seeded:
                    facts = self._seeded_finish(facts)
                    data = build_job(kind, facts)
                    running.append(facts)
                job = _Job(0, facts.created, data, kind)
                self._jobs[facts.job_id] = job
                seeded.append(job)
        seeded.sort(key=lambda job: job.created)
        for seq, job in enumerate(seeded):
            # the served times have whole seconds; filters compare against those
            job.created = float(int(job.created))
            job.seq = seq
            job.key = (job.created, seq)
            self._keys.append(job.key)
            self._by_key[job.key] = job
        self._seq = len(seeded)
        self.seeded_ids = [job.job_id for job in seeded]
        if hostile:
            rng = random.Random(f"hostile-{seed}" if kind == "package" else f"hostile-{kind}-{seed}")
            if kind == "package":
                for data in hostile_jobs(hostile, seed=seed):
                    created = self.anchor - rng.uniform(3600, 6 * 86400)
                    data["CreateTime"] = data["SubmitTime"] = format_time(created)
                    data["FinishTime"] = data["ModifiedTime"] = format_time(created + 300)
                    if data["Status"] == "Init":
                        del data["FinishTime"]
                    self._insert(data)
                    self.hostile_ids.append(data["JobId"])
            else:
                for data in hostile_kind_jobs(kind, hostile, seed=seed):
                    created = float(int(self.anchor - rng.uniform(3600, 6 * 86400)))
                    data = _retimed(
                        data, {HOSTILE_T0: format_time(created), HOSTILE_T1: format_time(created + 300)}
                    )
                    self._insert(data, created=created)
                    self.hostile_ids.append(str(data[self.id_key]))
        if progress_seeded and kind == "package":
            # the seeded running jobs finish 0.5..10 x progress_seconds after the anchor
            rng = random.Random(f"progress-{seed}")
            for job_id in self.seeded_ids:
                job = self._jobs[job_id]
                if job.status == "Init":
                    planned, done = running_plan(job_id)
                    remaining = min((1.0 - done) * planned, rng.uniform(0.5, 10.0) * progress_seconds)
                    due = max(self.anchor + remaining, job.created + 1.0)
                    outcome = "Success" if rng.random() < 0.85 else "Fail"
                    heapq.heappush(self._pending, (due, job.seq, job_id, outcome))
        for facts in running:
            self._schedule(facts, self.anchor)

    def _seeded_finish(self, facts: Facts) -> Facts:
        """A seeded running job, re-timed to finish within ``0.5..10 x progress_seconds`` of the
        anchor (sooner if its own duration says so)."""
        rng = random.Random(f"progress-{self.kind}-{facts.job_id}")
        age = self.anchor - facts.submit
        natural = facts.duration - age
        remaining = min(natural, rng.uniform(0.5, 10.0) * self.progress_seconds)
        total = max(age + remaining, 1e-3)
        return dataclasses.replace(facts, duration=total, progress=max(0.0, age) / total)

    def _schedule(self, facts: Facts, now: float) -> None:
        """Queue the later states of a running job: half-way (if not yet) and finished."""
        assert facts.progress is not None
        finish = facts.submit + facts.duration
        steps: list[tuple[float, float | None]] = []
        for fraction in (0.25, 0.5, 0.75):
            if fraction > facts.progress:
                steps.append((facts.submit + fraction * facts.duration, fraction))
        steps.append((finish, None))
        for due, progress in steps:
            state = dataclasses.replace(facts, progress=progress)
            heapq.heappush(self._pending, (max(due, now), next(self._ticks), facts.job_id, state))

    # -- storage -----------------------------------------------------------------------------

    def _insert(self, data: dict[str, Any], created: float | None = None) -> _Job:
        job_id = str(data[self.id_key])
        if job_id in self._jobs:
            raise ValueError(f"duplicate {self.id_key} {job_id}")
        if created is None:
            created = parse_api_time(str(data.get("CreateTime", ""))) or time.time()
        job = _Job(self._seq, created, data, self.kind)
        self._seq += 1
        self._jobs[job_id] = job
        bisect.insort(self._keys, job.key)
        self._by_key[job.key] = job
        return job

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def ids(self) -> list[str]:
        """All job IDs in creation order."""
        return [self._by_key[key].job_id for key in self._keys]

    def add(self, data: Mapping[str, Any]) -> str:
        """Add a job dict as it is (it must carry its ID key, e.g. ``JobId``); returns the ID."""
        if self.id_key not in data:
            raise ValueError(f"a job needs a {self.id_key}")
        job_id = str(data[self.id_key])
        self._insert(copy.deepcopy(dict(data)))
        return job_id

    def get(self, job_id: str, now: float | None = None) -> dict[str, Any] | None:
        """A deep copy of the job's dict as it is served at ``now`` (default: now), or None."""
        self.advance(now)
        job = self._jobs.get(job_id)
        return None if job is None else job.data

    def get_bytes(self, job_id: str) -> bytes | None:
        """The serialised PackageJob for GetPackageJob, or None when there is no such job."""
        if self._pending:
            self.advance()
        job = self._jobs.get(job_id)
        return None if job is None else job.full

    # -- submitted jobs ------------------------------------------------------------------------

    def submit(
        self,
        inputs: list[Any],
        output: Mapping[str, Any],
        *,
        name: str | None = None,
        user_data: str | None = None,
        pipeline_id: str | None = None,
        priority: int | None = None,
        now: float | None = None,
    ) -> str:
        """Create an ``Init`` job that finishes (Success or Fail) after a few seconds.

        The outcome is drawn from the seed; a name or input containing ``force-fail``
        always fails and one containing ``force-success`` always succeeds.
        """
        now = time.time() if now is None else now
        rng = self._submit_rng
        job_id = _hex32(rng)
        while job_id in self._jobs:
            job_id = _hex32(rng)
        text = json.dumps([name, inputs], ensure_ascii=False)
        if "force-fail" in text:
            outcome = "Fail"
        elif "force-success" in text:
            outcome = "Success"
        else:
            outcome = "Success" if rng.random() < 0.85 else "Fail"
        stamp = format_time(now)
        data: dict[str, Any] = {
            "JobId": job_id,
            "TriggerSource": "API",
            "Name": name if name is not None else "",
            "Inputs": inputs,
            "Output": dict(output),
            "PipelineId": pipeline_id or "",
            "Priority": priority if priority is not None else 6,
            "Status": "Init",
            "SubmitTime": stamp,
        }
        if user_data is not None:
            data["UserData"] = user_data
        data["CreateTime"] = stamp
        data["ModifiedTime"] = stamp
        job = self._insert(data, created=float(int(now)))  # the sequence orders jobs within a second
        delay = self.progress_seconds * rng.uniform(0.5, 1.5)
        heapq.heappush(self._pending, (now + delay, job.seq, job_id, outcome))
        return job_id

    def submit_kind(self, given: Mapping[str, Any], *, now: float | None = None) -> dict[str, Any]:
        """Create a running job of this store's kind (not packaging) from a Submit request.

        ``given`` holds the request's parameters, JSON ones decoded; the job shows them.
        It moves through its kind's running states and finishes after about
        ``progress_seconds``. The outcome is drawn from the seed; ``force-fail``,
        ``force-success``, ``force-partial`` (transcode: the parent succeeds, one sub-job
        fails) or ``force-cancel`` (media convert) anywhere in the request decides it.
        A ``ClientToken`` seen before returns that job again (idempotent submission).
        Returns the job dict as Get serves it now.
        """
        if self.kind == "package":
            raise ValueError("use submit() for packaging jobs")
        now = time.time() if now is None else now
        token = given.get("ClientToken")
        if token and token in self._client_tokens:
            existing = self.get(self._client_tokens[token])
            if existing is not None:
                return existing
        rng = self._submit_rng
        job_id = _hex32(rng)
        while job_id in self._jobs:
            job_id = _hex32(rng)
        text = json.dumps(given, ensure_ascii=False, default=str)
        for marker, forced in (
            ("force-fail", FAIL),
            ("force-partial", PARTIAL),
            ("force-cancel", CANCELLED),
            ("force-success", SUCCESS),
        ):
            if marker in text:
                outcome = forced
                break
        else:
            outcome = draw_outcome(self.kind, rng)
        duration = self.progress_seconds * rng.uniform(0.5, 1.5)
        facts = Facts(job_id, self._seq, now, now, duration, outcome, 0.0, dict(given))
        data = build_job(self.kind, facts)
        self._insert(data, created=float(int(now)))
        self._schedule(facts, now)
        if token:
            self._client_tokens[str(token)] = job_id
        return data

    def advance(self, now: float | None = None) -> None:
        """Finish the submitted jobs whose time has come."""
        if not self._pending:
            return
        now = time.time() if now is None else now
        while self._pending and self._pending[0][0] <= now:
            due, _, job_id, outcome = heapq.heappop(self._pending)
            job = self._jobs[job_id]
            if isinstance(outcome, Facts):  # other kinds: the job at a later progress
                job.serialise(build_job(self.kind, outcome), self.kind)
                continue
            data = job.data
            data["Status"] = outcome
            data["FinishTime"] = format_time(due)
            data["ModifiedTime"] = format_time(due)
            if outcome == "Success":
                media = str((data.get("Output") or {}).get("Media", ""))
                path = media.split("://", 1)[-1]
                bucket, _, key = path.partition("/")
                data["OutputUrl"] = f"https://{bucket}.oss-cn-shanghai.aliyuncs.com/{key}"
            else:
                code, message = FAIL_REASONS[job.seq % len(FAIL_REASONS)]
                data["Code"] = code
                data["Message"] = message
            # keep the documented key order: move the times to the end
            for key in ("UserData", "CreateTime", "ModifiedTime"):
                if key in data:
                    data[key] = data.pop(key)
            job.serialise(data)

    @property
    def pending(self) -> int:
        """How many jobs are still to change (submitted, or seeded and progressing)."""
        return len({entry[2] for entry in self._pending})

    # -- listing -------------------------------------------------------------------------------

    def _token(self, order: str, key: tuple[float, int]) -> str:
        payload = f"{_order_tag(order)}:{key[0]!r}:{key[1]}".encode()
        mac = hmac.new(self._token_key, payload, hashlib.sha256).digest()[:9]
        return base64.urlsafe_b64encode(payload + b"." + mac).decode("ascii")

    def _untoken(self, token: str, order: str, name: str = "NextPageToken") -> tuple[float, int]:
        bad = ApiError(400, "InvalidParameter", f"The specified parameter {name} is not valid.")
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
            payload, mac = raw[:-10], raw[-9:]
            if raw[-10:-9] != b"." or not hmac.compare_digest(
                mac, hmac.new(self._token_key, payload, hashlib.sha256).digest()[:9]
            ):
                raise bad
            kind, created, seq = payload.decode("ascii").split(":")
            if kind != _order_tag(order):
                raise bad
            return (float(created), int(seq))
        except (ValueError, UnicodeError) as exc:
            raise bad from exc

    def list(
        self,
        *,
        status: str | None = None,
        job_id: str | None = None,
        start: float | None = None,
        end: float | None = None,
        order: str = "CreateTimeDesc",
        page_size: int = 20,
        token: str | None = None,
        token_name: str = "NextPageToken",
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Listing:
        """One page of jobs matching the filters, in ``order``; see ListPackageJobs.

        ``match``, when given, is a further filter on the job's dict (slow: decodes each job).
        """
        if self._pending:
            self.advance()
        descending = order == "CreateTimeDesc"
        keys = self._keys
        lo = 0 if start is None else bisect.bisect_left(keys, (start, -1))
        hi = len(keys) if end is None else bisect.bisect_right(keys, (end, float("inf")))
        if token:
            cursor = self._untoken(token, order, token_name)
            if descending:
                hi = min(hi, bisect.bisect_left(keys, cursor))
            else:
                lo = max(lo, bisect.bisect_right(keys, cursor))
        items: list[_Job] = []
        more = False
        if job_id is not None:
            job = self._jobs.get(job_id)
            if job is not None and (status is None or job.status == status):
                index = bisect.bisect_left(keys, job.key)
                if lo <= index < hi:
                    items.append(job)
        else:
            by_key = self._by_key
            indices = range(hi - 1, lo - 1, -1) if descending else range(lo, hi)
            for index in indices:
                job = by_key[keys[index]]
                if status is not None and job.status != status:
                    continue
                if match is not None and not match(job.data):
                    continue
                if len(items) == page_size:
                    more = True
                    break
                items.append(job)
        next_token = self._token(order, items[-1].key) if more and items else None
        return Listing([job.item for job in items], next_token)
