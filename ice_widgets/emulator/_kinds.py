"""The job kinds beside packaging: wire shapes, seeded data sets and how jobs progress.

Every shape here was read from the official SDK's response models
(``alibabacloud_ice20201109/models/_get_*_job_response_body.py`` and
``_list_*_jobs_response_body.py``, 6.20.2); ``tests/test_official_sdk_kinds.py`` checks
that the SDK parses every key this module produces.

A job of any kind is built by one function per kind from a handful of drawn facts (ID,
index, creation time, duration, outcome) and a *progress*: ``None`` for the finished job,
or a fraction 0..1 for the same job while it runs. All other randomness comes from a
generator seeded by the job ID and is drawn before the function looks at the progress,
so the running and the finished forms of one job agree on everything else (names,
inputs, outputs, sub-jobs). That is how seeded running jobs and submitted jobs move on:
the store replaces the served dict by the same job at a later progress.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ice_widgets.emulator._constants import (
    BUCKETS,
    REGIONS,
    SHOWS,
    TRIGGERS,
    draw_duration,
    format_time,
    hex32,
)

__all__ = [
    "KINDS",
    "KIND_SPECS",
    "OTHER_KINDS",
    "KindSpec",
    "build_job",
    "iter_kind_jobs",
    "list_item",
]

KINDS: tuple[str, ...] = ("package", "transcode", "media_producing", "snapshot", "media_convert")
OTHER_KINDS: tuple[str, ...] = KINDS[1:]

#: Outcomes a job is drawn with (what it ends as, whatever it shows now).
SUCCESS, FAIL, PARTIAL, CANCELLED = "success", "fail", "partial", "cancelled"


@dataclass(frozen=True)
class KindSpec:
    """How one kind looks on the wire: action names, keys, paging and filter parameters."""

    kind: str
    get_action: str
    list_action: str
    submit_action: str
    #: the Get request's ID parameter and the job's ID key (``ParentJobId`` for transcode)
    id_key: str
    #: the key of the job object in the Get response
    get_key: str
    #: the key of the list of jobs in the List response
    list_key: str
    #: the job's status key (``State`` for media convert)
    status_key: str
    #: ``"page"``: NextPageToken/PageSize (default 20, 1..100); ``"token"``: NextToken/MaxResults
    paging: str
    #: the List request's time-filter parameters (start, end)
    time_params: tuple[str, str]
    #: the documented statuses, in the order the job moves through them
    statuses: tuple[str, ...]


KIND_SPECS: dict[str, KindSpec] = {
    "transcode": KindSpec(
        "transcode",
        "GetTranscodeJob",
        "ListTranscodeJobs",
        "SubmitTranscodeJob",
        id_key="ParentJobId",
        get_key="TranscodeParentJob",
        list_key="Jobs",
        status_key="Status",
        paging="page",
        time_params=("StartOfCreateTime", "EndOfCreateTime"),
        statuses=("Init", "Processing", "Success", "Fail"),
    ),
    "media_producing": KindSpec(
        "media_producing",
        "GetMediaProducingJob",
        "ListMediaProducingJobs",
        "SubmitMediaProducingJob",
        id_key="JobId",
        get_key="MediaProducingJob",
        list_key="MediaProducingJobList",
        status_key="Status",
        paging="token",
        time_params=("StartTime", "EndTime"),
        statuses=("Init", "Queuing", "Processing", "Success", "Failed"),
    ),
    "snapshot": KindSpec(
        "snapshot",
        "GetSnapshotJob",
        "ListSnapshotJobs",
        "SubmitSnapshotJob",
        id_key="JobId",
        get_key="SnapshotJob",
        list_key="Jobs",
        status_key="Status",
        paging="page",
        time_params=("StartOfCreateTime", "EndOfCreateTime"),
        statuses=("Init", "Success", "Fail"),
    ),
    "media_convert": KindSpec(
        "media_convert",
        "GetMediaConvertJob",
        "ListMediaConvertJobs",
        "SubmitMediaConvertJob",
        id_key="JobId",
        get_key="Job",
        list_key="Jobs",
        status_key="State",
        paging="page",
        time_params=("StartOfCreateTime", "EndOfCreateTime"),
        statuses=("Inited", "Running", "Complete", "Error", "Cancelled"),
    ),
}

#: How much longer (or shorter) than the shared duration distribution each kind runs.
DURATION_SCALE: dict[str, float] = {
    "package": 1.0,
    "transcode": 1.6,
    "media_producing": 1.3,
    "snapshot": 0.25,
    "media_convert": 1.6,
}

# -- vocabularies ------------------------------------------------------------------------------

_TEMPLATES = (
    ("S00000001-200010", "mp4-ld", 640, 360, 600),
    ("S00000001-200020", "mp4-sd", 854, 480, 1000),
    ("S00000001-200030", "mp4-hd", 1280, 720, 2000),
    ("S00000001-200040", "mp4-fhd", 1920, 1080, 4000),
    ("S00000001-100040", "m3u8-fhd", 1920, 1080, 3500),
    ("S00000001-100020", "m3u8-sd", 854, 480, 900),
    ("S00000002-200050", "mp4-4k-h265", 3840, 2160, 12000),
)
_TRANSCODE_FAILS: tuple[tuple[str, str], ...] = (
    ("InvalidParameter.Input", "The input file has no video stream."),
    ("InputFile.NotFound", "The specified input file does not exist in OSS."),
    ("Output.AccessDenied", "Access to the output bucket was denied by its policy."),
    ("TranscodeFailed", "Transcoding failed: the input frame rate could not be detected."),
    ("InvalidParameter.Template", "The specified TemplateId does not exist."),
    ("InternalError", "The request processing has failed due to some unknown error."),
)
_PRODUCING_FAILS: tuple[tuple[str, str], ...] = (
    (
        "InvalidParameter.Timeline",
        "The Timeline is not valid: the clip In point is beyond its media duration.",
    ),
    ("InvalidMaterial.NotFound", "A material referenced by the timeline does not exist."),
    ("ProduceFailed", "Rendering failed: the font of a subtitle track could not be loaded."),
    ("InvalidParameter.OutputMediaConfig", "The OutputMediaConfig MediaURL is not a valid OSS address."),
    ("InternalError", "The request processing has failed due to some unknown error."),
)
_SNAPSHOT_FAILS: tuple[tuple[str, str], ...] = (
    ("InvalidParameter.Time", "The snapshot time is beyond the duration of the input."),
    ("InputFile.NotFound", "The specified input file does not exist in OSS."),
    ("Output.AccessDenied", "Access to the output bucket was denied by its policy."),
)
_CONVERT_FAILS: tuple[tuple[str, str], ...] = (
    ("InvalidParameter.Config", "The Config is not valid: an output references an unknown input."),
    ("InputFile.NotFound", "The specified input file does not exist in OSS."),
    ("TranscodeFailed", "Transcoding failed: the audio stream could not be decoded."),
    ("Output.AccessDenied", "Access to the output bucket was denied by its policy."),
)
_SNAPSHOT_TYPES = ("Normal",) * 5 + ("Sprite",) * 2 + ("WebVtt",)
_PRODUCING_TEMPLATES = (
    "IceSys_VETemplate_s100241",
    "IceSys_VETemplate_s100280",
    "b8a9c7f3e2d14c5b8a7f6e5d4c3b2a19",
)


def _out_url(bucket: str, region: str, key: str) -> str:
    return f"https://{bucket}.oss-{region}.aliyuncs.com/{key}"


def _request_id(rng: random.Random) -> str:
    h = hex32(rng).upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _user_data(rng: random.Random, show: str) -> str | None:
    if rng.random() >= 0.35:
        return None
    data = {
        "project": show,
        "ticket": rng.randint(1000, 99999),
        "owner": rng.choice(("ops", "vod", "growth")),
    }
    if rng.random() < 0.3:
        data["NotifyAddress"] = "https://hooks.example.com/ice/callback"
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Facts:
    """What is drawn for a job before its shape: the same for its running and finished forms."""

    job_id: str
    index: int
    created: float
    submit: float
    duration: float
    outcome: str
    #: ``None``: finished; a fraction 0..1: running, that far along
    progress: float | None = None


# -- transcode ---------------------------------------------------------------------------------


def _transcode(f: Facts) -> dict[str, Any]:
    rng = random.Random(f"transcode-{f.job_id}")
    show = rng.choice(SHOWS)
    bucket = rng.choice(BUCKETS)
    region = rng.choice(REGIONS)
    day = format_time(f.created)[:10].replace("-", "/")
    n_sub = rng.choice((1, 1, 2, 2, 3, 3, 3, 4))
    templates = rng.sample(_TEMPLATES, n_sub)
    source = f"oss://{bucket}/source/{day}/{show}-{f.index:05d}.mp4"
    input_group: list[dict[str, Any]] = [{"Type": "OSS", "Media": source}]
    if rng.random() < 0.08:  # an audio-video merge: two inputs
        input_group.append(
            {"Type": "OSS", "Media": f"oss://{bucket}/source/{day}/{show}-{f.index:05d}-audio.m4a"}
        )
    pipeline = f"{random.Random(f'pipe-{bucket}').getrandbits(128):032x}"
    priority = rng.choice((6, 6, 6, 5, 7, 8, 10, 3))
    name = f"{show}-{f.index:05d}"
    trigger = rng.choice(TRIGGERS)
    user_data = _user_data(rng, show)
    request_id = _request_id(rng)
    media_seconds = round(rng.uniform(20, 3600), 3)
    watermark = rng.random() < 0.2
    sub_ids = [hex32(rng) for _ in range(n_sub)]
    # which sub-job fails when the outcome says so, and one 'Deleted' now and then
    bad_index = rng.randrange(n_sub)
    deleted = n_sub > 1 and rng.random() < 0.03
    fail_reason = rng.choice(_TRANSCODE_FAILS)
    # when each sub-job finishes, as a fraction of the parent's duration
    ends = sorted(rng.uniform(0.55, 1.0) for _ in range(n_sub))
    ends[-1] = 1.0
    rng.shuffle(ends)
    starts = [rng.uniform(0.0, 0.1) for _ in range(n_sub)]
    sizes = [rng.uniform(0.6, 1.4) for _ in range(n_sub)]

    outputs: list[dict[str, Any]] = []
    for template_id, label, width, height, kbps in templates:
        ext = "m3u8" if label.startswith("m3u8") else "mp4"
        key = f"transcoded/{day}/{show}-{f.index:05d}/{label}.{ext}"
        process: dict[str, Any] = {"Transcode": {"TemplateId": template_id}}
        if watermark:
            process["ImageWatermarks"] = [{"TemplateId": "W00000001-000010"}]
        outputs.append(
            {
                "key": key,
                "label": label,
                "ext": ext,
                "width": width,
                "height": height,
                "kbps": kbps,
                "Output": {"Type": "OSS", "Media": f"oss://{bucket}/{key}"},
                "ProcessConfig": process,
            }
        )

    running = f.progress is not None
    elapsed = f.duration * (f.progress if running else 1.0)  # type: ignore[operator]
    finish = f.submit + f.duration
    sub_jobs: list[dict[str, Any]] = []
    succeeded = 0
    for i, out in enumerate(outputs):
        sub_done_at = ends[i] * f.duration
        if f.outcome == FAIL or (f.outcome == PARTIAL and i == bad_index):
            status = "Fail"
        elif deleted and i == (bad_index + 1) % n_sub and f.outcome != FAIL:
            status = "Deleted"
        else:
            status = "Success"
        if running and elapsed < sub_done_at:
            status = "Processing" if elapsed >= starts[i] * f.duration and f.progress else "Init"
        sub: dict[str, Any] = {
            "JobId": sub_ids[i],
            "ParentJobId": f.job_id,
            "JobIndex": i,
            "Name": name,
            "Status": status,
            "InputGroup": [dict(item) for item in input_group],
            "Output": dict(out["Output"]),
            "ProcessConfig": out["ProcessConfig"],
            "ScheduleConfig": {"PipelineId": pipeline, "Priority": priority},
            "RequestId": request_id,
            "CreateTime": format_time(f.created),
            "SubmitTime": format_time(f.submit),
        }
        if user_data is not None:
            sub["UserData"] = user_data
        if status in ("Success", "Fail", "Deleted"):
            sub["FinishTime"] = format_time(f.submit + sub_done_at)
        if status == "Success":
            succeeded += 1
            bitrate = int(out["kbps"] * sizes[i])
            size = int(media_seconds * bitrate * 125)
            sub["OutFileMeta"] = {
                "FileBasicInfo": {
                    "FileName": out["key"].rsplit("/", 1)[-1],
                    "FileUrl": _out_url(bucket, region, out["key"]),
                    "FileStatus": "Normal",
                    "FileType": "transcode_file",
                    "FileSize": str(size),
                    "Duration": f"{media_seconds:.3f}",
                    "Bitrate": str(bitrate),
                    "Width": str(out["width"]),
                    "Height": str(out["height"]),
                    "FormatName": "hls" if out["ext"] == "m3u8" else "mov,mp4,m4a,3gp,3g2,mj2",
                    "Region": region,
                },
                "VideoStreamInfoList": [
                    {
                        "Index": "0",
                        "Codec_name": "h265" if "h265" in out["label"] else "h264",
                        "Width": str(out["width"]),
                        "Height": str(out["height"]),
                        "Fps": "25",
                        "Avg_fps": "25.0",
                        "Bit_rate": str(bitrate - 128),
                        "Duration": f"{media_seconds:.3f}",
                        "PixFmt": "yuv420p",
                    }
                ],
                "AudioStreamInfoList": [
                    {
                        "Index": "1",
                        "CodecName": "aac",
                        "Channels": "2",
                        "SampleRate": "44100",
                        "Bitrate": "128",
                        "Duration": f"{media_seconds:.3f}",
                    }
                ],
            }
        elif status == "Fail":
            code, message = fail_reason
            sub["SubmitResultJson"] = {"Code": code, "Message": message, "RequestId": request_id}
        sub_jobs.append(sub)

    done = sum(1 for s in sub_jobs if s["Status"] in ("Success", "Fail", "Deleted"))
    if running:
        parent_status = "Processing" if f.progress else "Init"
        percent = min(99, int(100 * (done + f.progress * (n_sub - done)) / n_sub))  # type: ignore[operator]
    else:
        parent_status = "Success" if succeeded else "Fail"
        percent = 100
    parent: dict[str, Any] = {
        "ParentJobId": f.job_id,
        "Name": name,
        "Status": parent_status,
        "Percent": percent,
        "JobCount": n_sub,
        "TriggerSource": trigger,
        "RequestId": request_id,
        "InputGroup": input_group,
        "OutputGroup": [{"Output": out["Output"], "ProcessConfig": out["ProcessConfig"]} for out in outputs],
        "ScheduleConfig": {"PipelineId": pipeline, "Priority": priority},
        "CreateTime": format_time(f.created),
        "SubmitTime": format_time(f.submit),
    }
    if not running:
        parent["FinishTime"] = format_time(finish)
    if user_data is not None:
        parent["UserData"] = user_data
    parent["TranscodeJobList"] = sub_jobs
    return parent


# -- media producing ---------------------------------------------------------------------------


def _media_producing(f: Facts) -> dict[str, Any]:
    rng = random.Random(f"producing-{f.job_id}")
    show = rng.choice(SHOWS)
    bucket = rng.choice(BUCKETS)
    region = rng.choice(REGIONS)
    day = format_time(f.created)[:10].replace("-", "/")
    project_id = hex32(rng)
    media_id = hex32(rng)
    use_template = rng.random() < 0.45
    template_id = rng.choice(_PRODUCING_TEMPLATES)
    media_seconds = round(rng.uniform(8, 600), 3)
    vod = rng.random() < 0.15
    vod_media_id = hex32(rng)
    user_data = _user_data(rng, show)
    fail = rng.choice(_PRODUCING_FAILS)
    batch_sub = rng.random() < 0.1
    clip_a, clip_b = hex32(rng), hex32(rng)
    queue_until = rng.uniform(0.05, 0.2)
    key = f"produced/{day}/{show}-{f.index:05d}.mp4"
    timeline = {
        "VideoTracks": [
            {
                "VideoTrackClips": [
                    {"MediaId": clip_a, "In": 0, "Out": round(media_seconds / 2, 3)},
                    {"MediaId": clip_b, "In": 0, "Out": round(media_seconds / 2, 3)},
                ]
            }
        ],
        "AudioTracks": [{"AudioTrackClips": [{"MediaId": clip_b}]}],
    }
    job: dict[str, Any] = {"JobId": f.job_id, "ProjectId": project_id}
    if use_template:
        job["TemplateId"] = template_id
        job["ClipsParam"] = json.dumps(
            {"Title": f"{show} #{f.index}", "Video1": clip_a, "Video2": clip_b}, separators=(",", ":")
        )
    job["Timeline"] = json.dumps(timeline, separators=(",", ":"))
    running = f.progress is not None
    if running:
        p = float(f.progress or 0.0)
        if p <= 0.0:
            job["Status"] = "Init"
        elif p < queue_until:
            job["Status"] = "Queuing"
        else:
            job["Status"] = "Processing"
        job["Progress"] = 0 if p < queue_until else int(100 * (p - queue_until) / (1 - queue_until))
    else:
        job["Status"] = "Success" if f.outcome == SUCCESS else "Failed"
        job["Progress"] = 100 if f.outcome == SUCCESS else int(rng.uniform(0, 90))
    job["MediaId"] = media_id
    if not running and f.outcome == SUCCESS:
        job["MediaURL"] = _out_url(bucket, region, key)
        job["Duration"] = media_seconds
        if vod:
            job["VodMediaId"] = vod_media_id
    elif not running:
        job["Code"], job["Message"] = fail
    if batch_sub:
        job["SubJobMaterials"] = json.dumps(
            {"Title": f"{show} #{f.index}", "SpeechText": "Today on the show..."}, separators=(",", ":")
        )
    if user_data is not None:
        job["UserData"] = user_data
    job["CreateTime"] = format_time(f.created)
    finish = f.submit + f.duration
    if running:
        job["ModifiedTime"] = format_time(f.submit + f.duration * float(f.progress or 0.0))
    else:
        job["CompleteTime"] = format_time(finish)
        job["ModifiedTime"] = format_time(finish)
    return job


# -- snapshot ----------------------------------------------------------------------------------


def _oss(bucket: str, region: str, key: str) -> dict[str, str]:
    return {"Bucket": bucket, "Location": f"oss-{region}", "Object": key}


def _snapshot(f: Facts) -> dict[str, Any]:
    rng = random.Random(f"snapshot-{f.job_id}")
    show = rng.choice(SHOWS)
    bucket = rng.choice(BUCKETS)
    region = rng.choice(REGIONS)
    day = format_time(f.created)[:10].replace("-", "/")
    kind = rng.choice(_SNAPSHOT_TYPES)
    count = 1 if kind == "Normal" and rng.random() < 0.6 else rng.choice((5, 10, 20, 50, 100))
    template_id = rng.choice(("S00000001-000010", "S00000001-000020", "S00000002-000030"))
    pipeline = f"{random.Random(f'pipe-{bucket}').getrandbits(128):032x}"
    user_data = _user_data(rng, show)
    fail = rng.choice(_SNAPSHOT_FAILS)
    trigger = rng.choice(TRIGGERS)
    in_key = f"source/{day}/{show}-{f.index:05d}.mp4"
    if kind == "Sprite":
        out_key = f"snapshots/{day}/{show}-{f.index:05d}/sprite-{{TileCount}}.jpg"
    elif kind == "WebVtt":
        out_key = f"snapshots/{day}/{show}-{f.index:05d}/thumbs.vtt"
    elif count == 1:
        out_key = f"snapshots/{day}/{show}-{f.index:05d}/cover.jpg"
    else:
        out_key = f"snapshots/{day}/{show}-{f.index:05d}/frame-{{Count}}.jpg"
    config = {"Type": kind, "Count": count, "Interval": rng.choice((1, 5, 10)), "Width": 640, "Height": 360}
    running = f.progress is not None
    job: dict[str, Any] = {
        "JobId": f.job_id,
        "Name": f"{show}-{f.index:05d}-{kind.lower()}",
        "Status": "Init" if running else ("Success" if f.outcome == SUCCESS else "Fail"),
        "Type": kind,
        "Async": True,
        "Count": count,
        "TriggerSource": trigger,
        "PipelineId": pipeline,
        "TemplateId": template_id,
        "TemplateConfig": json.dumps(
            {"TemplateId": template_id, "OverwriteParams": config}, separators=(",", ":")
        ),
        "Input": {
            "Type": "OSS",
            "Media": f"oss://{bucket}/{in_key}",
            "OssFile": _oss(bucket, region, in_key),
        },
        "Output": {
            "Type": "OSS",
            "Media": f"oss://{bucket}/{out_key}",
            "OssFile": _oss(bucket, region, out_key),
        },
    }
    if not running and f.outcome != SUCCESS:
        job["Code"], job["Message"] = fail
    if user_data is not None:
        job["UserData"] = user_data
    job["CreateTime"] = format_time(f.created)
    job["SubmitTime"] = format_time(f.submit)
    if running:
        job["ModifiedTime"] = format_time(f.submit)
    else:
        job["FinishTime"] = format_time(f.submit + f.duration)
        job["ModifiedTime"] = format_time(f.submit + f.duration)
    return job


# -- media convert -----------------------------------------------------------------------------


def _file_meta(
    name: str, url: str, seconds: float, width: int, height: int, kbps: int, region: str
) -> dict[str, Any]:
    return {
        "FileBasicInfo": {
            "FileName": name,
            "FileUrl": url,
            "FileStatus": "Normal",
            "FileType": "transcode_file",
            "FileSize": str(int(seconds * kbps * 125)),
            "Duration": f"{seconds:.3f}",
            "Bitrate": str(kbps),
            "Width": str(width),
            "Height": str(height),
            "FormatName": "mov,mp4,m4a,3gp,3g2,mj2",
            "Region": region,
        }
    }


def _media_convert(f: Facts) -> dict[str, Any]:
    rng = random.Random(f"convert-{f.job_id}")
    show = rng.choice(SHOWS)
    bucket = rng.choice(BUCKETS)
    region = rng.choice(REGIONS)
    day = format_time(f.created)[:10].replace("-", "/")
    n_out = rng.choice((1, 2, 2, 3))
    templates = rng.sample(_TEMPLATES[:4], n_out)
    with_group = rng.random() < 0.35
    pipeline = f"{random.Random(f'pipe-{bucket}').getrandbits(128):032x}"
    client_token = hex32(rng)
    request_id = _request_id(rng)
    user_data = _user_data(rng, show)
    task_ids = [hex32(rng) for _ in range(n_out + 3)]
    bad = rng.randrange(n_out)
    fail = rng.choice(_CONVERT_FAILS)
    seconds = round(rng.uniform(20, 3600), 3)
    ends = [rng.uniform(0.5, 1.0) for _ in range(n_out)]
    ends[rng.randrange(n_out)] = 1.0
    base = f"converted/{day}/{show}-{f.index:05d}"
    source = f"oss://{bucket}/source/{day}/{show}-{f.index:05d}.mov"
    outputs = [
        {
            "Name": label,
            "OutputFile": {"Type": "OSS", "Media": f"oss://{bucket}/{base}/{label}.mp4"},
            "TemplateId": template_id,
            "Priority": 6,
        }
        for template_id, label, _w, _h, _k in templates
    ]
    config: dict[str, Any] = {
        "JobName": f"{show}-{f.index:05d}",
        "Inputs": [{"Name": "main", "InputFile": {"Type": "OSS", "Media": source}}],
        "Outputs": outputs,
    }
    if with_group:
        config["OutputGroups"] = [
            {
                "Name": "hls",
                "GroupConfig": {
                    "Type": "Hls",
                    "ManifestName": "master",
                    "OutputFileBase": {"Type": "OSS", "Media": f"oss://{bucket}/{base}/hls/"},
                },
                "Outputs": [
                    {"Name": "hls-720p", "OutputFileName": "720p", "TemplateId": "S00000001-100030"},
                    {"Name": "hls-480p", "OutputFileName": "480p", "TemplateId": "S00000001-100020"},
                ],
            }
        ]
    running = f.progress is not None
    p = float(f.progress or 0.0) if running else 1.0
    outcome = f.outcome

    def detail(i: int, name: str, media: str, dims: tuple[int, int, int], task: str) -> dict[str, Any]:
        end = ends[i % n_out]
        d: dict[str, Any] = {"Name": name, "TaskId": task}
        if running:
            if p <= 0:
                status = "Init"
            elif p < end:
                status = "Scheduled"
            else:
                status = "Success"
        elif outcome == SUCCESS:
            status = "Success"
        elif outcome == CANCELLED:
            status = "Skipped" if p * end < 1 and i % 2 else "Success"
        elif i == bad:
            status = "Failed"
        else:
            status = "Skipped" if i > bad else "Success"
        d["Status"] = status
        d["CreateTime"] = format_time(f.submit)
        if status in ("Success", "Failed", "Skipped"):
            d["FinishTime"] = format_time(f.submit + min(end, 1.0) * f.duration)
        if status == "Success":
            key = media.split("/", 3)[-1]
            url = _out_url(bucket, region, key)
            d["Result"] = {
                "OutputFile": {"Type": "OSS", "Media": media, "Url": url},
                "OutFileMeta": _file_meta(key.rsplit("/", 1)[-1], url, seconds, *dims, region),
            }
        elif status == "Failed":
            d["Code"], d["Message"] = fail
        return d

    details = [
        detail(i, label, f"oss://{bucket}/{base}/{label}.mp4", (width, height, kbps), task_ids[i])
        for i, (_template, label, width, height, kbps) in enumerate(templates)
    ]
    job: dict[str, Any] = {
        "JobId": f.job_id,
        "ClientToken": client_token,
        "RequestId": request_id,
        "PipelineId": pipeline,
        "Config": config,
    }
    if running:
        job["State"] = "Running" if p > 0 else "Inited"
        job["Percent"] = int(100 * p)
    elif outcome == SUCCESS:
        job["State"] = "Complete"
        job["Percent"] = 100
    elif outcome == CANCELLED:
        job["State"] = "Cancelled"
        job["Percent"] = int(rng.uniform(10, 80))
    else:
        job["State"] = "Error"
        job["Percent"] = int(rng.uniform(10, 95))
        job["Code"], job["Message"] = fail
    job["OutputDetails"] = details
    if with_group:
        group_status = {"Complete": "Success", "Error": "Failed", "Cancelled": "Skipped"}.get(
            job["State"], "Running"
        )
        if job["State"] == "Inited":
            group_status = "Init"
        group: dict[str, Any] = {"Name": "hls", "TaskId": task_ids[-1], "Status": group_status}
        group["CreateTime"] = format_time(f.submit)
        if not running:
            group["FinishTime"] = format_time(f.submit + f.duration)
        group["Outputs"] = [
            detail(j, name, f"oss://{bucket}/{base}/hls/{name[4:]}.m3u8", dims, task_ids[n_out + j])
            for j, (name, dims) in enumerate((("hls-720p", (1280, 720, 2000)), ("hls-480p", (854, 480, 900))))
        ]
        if job["State"] == "Error":
            group["Code"], group["Message"] = fail
        job["OutputGroupDetails"] = [group]
    if user_data is not None:
        job["UserData"] = user_data
    job["CreateTime"] = format_time(f.created)
    if not running:
        job["FinishTime"] = format_time(f.submit + f.duration)
    return job


_BUILDERS: dict[str, Callable[[Facts], dict[str, Any]]] = {
    "transcode": _transcode,
    "media_producing": _media_producing,
    "snapshot": _snapshot,
    "media_convert": _media_convert,
}


def build_job(kind: str, facts: Facts) -> dict[str, Any]:
    """The job of ``kind`` for ``facts``, as Get returns it (inside the response key)."""
    return _BUILDERS[kind](facts)


# -- list items: the Get object minus what the List model does not have -------------------------

_LIST_DROP: dict[str, frozenset[str]] = {
    "transcode": frozenset({"TranscodeJobList"}),
    "media_producing": frozenset({"Progress", "Timeline", "SubJobMaterials", "VodMediaId"}),
    "snapshot": frozenset({"Code", "Message", "UserData", "TemplateConfig"}),
    "media_convert": frozenset({"Percent", "OutputDetails", "OutputGroupDetails"}),
}


def list_item(kind: str, job: Mapping[str, Any]) -> dict[str, Any]:
    """The List item of a Get object: fewer keys, as each List model has."""
    drop = _LIST_DROP[kind]
    item = {key: value for key, value in job.items() if key not in drop}
    if kind == "snapshot":  # the List model's Input/Output have no OssFile
        for key in ("Input", "Output"):
            value = item.get(key)
            if isinstance(value, dict):
                item[key] = {k: v for k, v in value.items() if k != "OssFile"}
    return item


# -- seeded data sets --------------------------------------------------------------------------

#: Share of each outcome among finished jobs, per kind (the rest succeed).
_MIX: dict[str, tuple[tuple[str, float], ...]] = {
    "transcode": ((FAIL, 0.06), (PARTIAL, 0.08)),
    "media_producing": ((FAIL, 0.09),),
    "snapshot": ((FAIL, 0.05),),
    "media_convert": ((FAIL, 0.07), (CANCELLED, 0.02)),
}
#: Share of seeded jobs still running at the anchor.
RUNNING_SHARE = 0.03


def draw_outcome(kind: str, rng: random.Random) -> str:
    """Draw how a job of ``kind`` ends."""
    roll = rng.random()
    for outcome, share in _MIX[kind]:
        if roll < share:
            return outcome
        roll -= share
    return SUCCESS


def seeded_facts(kind: str, count: int, seed: int, *, anchor: float, days: float = 7.0) -> Iterator[Facts]:
    """The facts of the seeded jobs of ``kind``, in generation order.

    Finished jobs were created over the ``days`` before ``anchor`` and finished before
    it. A few (:data:`RUNNING_SHARE`) were submitted in the four minutes before the
    anchor and are still running: their ``progress`` is how far along they are.
    Durations come from :func:`~ice_widgets.emulator._constants.draw_duration` for every
    kind, scaled by :data:`DURATION_SCALE`.
    """
    rng = random.Random(f"{kind}-{seed}")
    span = days * 86400.0
    scale = DURATION_SCALE[kind]
    for index in range(count):
        job_id = hex32(rng)
        running = rng.random() < RUNNING_SHARE
        outcome = draw_outcome(kind, rng)
        duration = draw_duration(rng, scale)
        queued = rng.choice((0.0, 0.0, 0.0, 1.0, 2.0))
        if running:
            age = rng.uniform(5.0, 240.0)
            duration = min(max(duration, age + 10.0), max(age + 10.0, 300.0 * scale))
            created = anchor - age - queued
            yield Facts(job_id, index, created, created + queued, duration, outcome, age / duration)
            continue
        created = anchor - rng.uniform(0.0, span)
        if created + queued + duration > anchor - 1.0:  # would still run: it started earlier
            created = anchor - 1.0 - queued - duration - rng.uniform(0.0, 3600.0)
        yield Facts(job_id, index, created, created + queued, duration, outcome)


def iter_kind_jobs(
    kind: str, count: int, seed: int, *, anchor: float, days: float = 7.0
) -> Iterator[tuple[Facts, dict[str, Any]]]:
    """``(facts, job)`` for the seeded jobs of ``kind``, in generation order."""
    for facts in seeded_facts(kind, count, seed, anchor=anchor, days=days):
        yield facts, build_job(kind, facts)
