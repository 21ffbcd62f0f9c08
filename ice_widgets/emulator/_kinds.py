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
    running_plan,
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

#: Below this progress a running job has not started yet (Init, Inited).
STARTED = 0.05

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
    #: what a Submit request gave (decoded JSON parameters), which the job shows as given
    given: Mapping[str, Any] | None = None


def _split_oss(media: str, bucket: str) -> tuple[str, str]:
    """``oss://bucket/key`` -> (bucket, key); anything else: (``bucket``, its last path part)."""
    if media.startswith("oss://"):
        found, _, key = media[6:].partition("/")
        return found or bucket, key
    return bucket, media.rstrip("/").rsplit("/", 1)[-1] or "output"


def _obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _priority(value: Any, default: int = 6) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# -- transcode ---------------------------------------------------------------------------------


def _transcode(f: Facts) -> dict[str, Any]:
    rng = random.Random(f"transcode-{f.job_id}")
    show = rng.choice(SHOWS)
    bucket = rng.choice(BUCKETS)
    region = rng.choice(REGIONS)
    day = format_time(f.created)[:10].replace("-", "/")
    g = f.given or {}
    given_outputs = [item for item in g.get("OutputGroup") or () if isinstance(item, dict)]
    n_sub = len(given_outputs) if given_outputs else rng.choice((1, 1, 2, 2, 3, 3, 3, 4))
    templates = (
        [rng.choice(_TEMPLATES) for _ in range(n_sub)] if given_outputs else rng.sample(_TEMPLATES, n_sub)
    )
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

    if g:  # a submitted job shows what the request gave
        trigger = "API"
        name = str(g.get("Name") or name)
        user_data = g.get("UserData")
        given_inputs = [item for item in g.get("InputGroup") or () if isinstance(item, dict)]
        if given_inputs:
            input_group = [dict(item) for item in given_inputs]
        schedule = _obj(g.get("ScheduleConfig"))
        pipeline = str(schedule.get("PipelineId") or pipeline)
        priority = _priority(schedule.get("Priority"), 6)
        for out, item in zip(outputs, given_outputs, strict=True):
            given_out = _obj(item.get("Output"))
            media = str(given_out.get("Media") or out["Output"]["Media"])
            out_bucket, out["key"] = _split_oss(media, bucket)
            out["bucket"] = out_bucket
            out["ext"] = out["key"].rsplit(".", 1)[-1] if "." in out["key"] else "mp4"
            out["Output"] = {"Type": str(given_out.get("Type") or "OSS"), "Media": media}
            if isinstance(item.get("ProcessConfig"), dict):
                out["ProcessConfig"] = item["ProcessConfig"]
                template = (item["ProcessConfig"].get("Transcode") or {}).get("TemplateId")
                for template_id, _label, width, height, kbps in _TEMPLATES:
                    if template == template_id:
                        out["width"], out["height"], out["kbps"] = width, height, kbps

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
            started = elapsed >= starts[i] * f.duration and (f.progress or 0.0) >= STARTED
            status = "Processing" if started else "Init"
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
                    "FileUrl": _out_url(out.get("bucket", bucket), region, out["key"]),
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
        parent_status = "Processing" if (f.progress or 0.0) >= STARTED else "Init"
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
    clips = json.dumps(
        {"Title": f"{show} #{f.index}", "Video1": clip_a, "Video2": clip_b}, separators=(",", ":")
    )
    timeline_text = json.dumps(timeline, separators=(",", ":"))
    media_url = _out_url(bucket, region, key)
    g = f.given or {}
    if g:  # a submitted job shows what the request gave
        project_id = str(g.get("ProjectId") or project_id)
        use_template = bool(g.get("TemplateId"))
        template_id = str(g.get("TemplateId") or "")
        clips = str(g.get("ClipsParam") or "")
        timeline_text = str(g.get("Timeline") or timeline_text)
        user_data = g.get("UserData")
        vod = g.get("OutputMediaTarget") == "vod-media"
        batch_sub = False
        config = _obj(g.get("OutputMediaConfig"))
        given_url = str(config.get("MediaURL") or "")
        if given_url.startswith("oss://"):
            out_bucket, out_key = _split_oss(given_url, bucket)
            media_url = _out_url(out_bucket, region, out_key)
        elif given_url:
            media_url = given_url
    job: dict[str, Any] = {"JobId": f.job_id, "ProjectId": project_id}
    if use_template:
        job["TemplateId"] = template_id
        job["ClipsParam"] = clips
    job["Timeline"] = timeline_text
    running = f.progress is not None
    if running:
        p = float(f.progress or 0.0)
        if p < STARTED / 2:
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
        job["MediaURL"] = media_url
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
    config: dict[str, Any] = {
        "Type": kind,
        "Count": count,
        "Interval": rng.choice((1, 5, 10)),
        "Width": 640,
        "Height": 360,
    }
    name = f"{show}-{f.index:05d}-{kind.lower()}"
    input_media, output_media = f"oss://{bucket}/{in_key}", f"oss://{bucket}/{out_key}"
    input_type = output_type = "OSS"
    g = f.given or {}
    if g:  # a submitted job shows what the request gave
        trigger = "API"
        name = str(g.get("Name") or "")
        user_data = g.get("UserData")
        given_in = _obj(g.get("Input"))
        given_out = _obj(g.get("Output"))
        input_media = str(given_in.get("Media") or input_media)
        input_type = str(given_in.get("Type") or "OSS")
        output_media = str(given_out.get("Media") or output_media)
        output_type = str(given_out.get("Type") or "OSS")
        bucket, in_key = _split_oss(input_media, bucket)
        out_bucket, out_key = _split_oss(output_media, bucket)
        template = _obj(g.get("TemplateConfig"))
        template_id = str(template.get("TemplateId") or template_id)
        overwrite = template.get("OverwriteParams")
        if isinstance(overwrite, dict):
            config = dict(overwrite)
            kind = str(config.get("Type") or kind)
            count = _priority(config.get("Count"), count)
        else:
            config = {}
        schedule = _obj(g.get("ScheduleConfig"))
        pipeline = str(schedule.get("PipelineId") or pipeline)
    else:
        out_bucket = bucket
    running = f.progress is not None
    template_config: dict[str, Any] = {"TemplateId": template_id}
    if config:
        template_config["OverwriteParams"] = config
    job: dict[str, Any] = {
        "JobId": f.job_id,
        "Name": name,
        "Status": "Init" if running else ("Success" if f.outcome == SUCCESS else "Fail"),
        "Type": kind,
        "Async": True,
        "Count": count,
        "TriggerSource": trigger,
        "PipelineId": pipeline,
        "TemplateId": template_id,
        "TemplateConfig": json.dumps(template_config, separators=(",", ":"), ensure_ascii=False),
        "Input": {"Type": input_type, "Media": input_media, "OssFile": _oss(bucket, region, in_key)},
        "Output": {"Type": output_type, "Media": output_media, "OssFile": _oss(out_bucket, region, out_key)},
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


def _dims(template_id: Any) -> tuple[int, int, int]:
    """Width, height and kbps of a known template (720p for any other)."""
    for known, _label, width, height, kbps in _TEMPLATES:
        if template_id == known:
            return width, height, kbps
    return 1280, 720, 2000


def _convert_output(item: Mapping[str, Any], bucket: str) -> tuple[str, str, tuple[int, int, int]]:
    output_file = _obj(item.get("OutputFile"))
    name = str(item.get("Name") or "output")
    media = str(output_file.get("Media") or f"oss://{bucket}/converted/{name}.mp4")
    return name, media, _dims(item.get("TemplateId"))


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
    g = f.given or {}
    if g:  # a submitted job shows what the request gave
        config = dict(g["Config"]) if isinstance(g.get("Config"), dict) else {}
        pipeline = str(g.get("PipelineId") or pipeline)
        user_data = g.get("UserData")
        client_token = str(g.get("ClientToken") or client_token)
    # (name, media, dims) of every output and every output group's outputs, from the config
    file_outputs = [
        _convert_output(item, bucket) for item in config.get("Outputs") or () if isinstance(item, dict)
    ]
    groups: list[tuple[str, list[tuple[str, str, tuple[int, int, int]]]]] = []
    for item in config.get("OutputGroups") or ():
        if isinstance(item, dict):
            group_config = _obj(item.get("GroupConfig"))
            file_base = _obj(group_config.get("OutputFileBase"))
            base_media = str(file_base.get("Media") or f"oss://{bucket}/{base}/group/").rstrip("/")
            members = []
            for output in item.get("Outputs") or ():
                if isinstance(output, dict):
                    out_name = str(output.get("Name") or output.get("OutputFileName") or "output")
                    media = f"{base_media}/{output.get('OutputFileName') or out_name}.m3u8"
                    members.append((out_name, media, _dims(output.get("TemplateId"))))
            groups.append((str(item.get("Name") or "group"), members))
    with_group = bool(groups)
    n_out = max(1, len(file_outputs))
    bad %= n_out
    running = f.progress is not None
    p = float(f.progress or 0.0) if running else 1.0
    outcome = f.outcome

    def detail(i: int, name: str, media: str, dims: tuple[int, int, int], task: str) -> dict[str, Any]:
        end = ends[i % len(ends)]
        d: dict[str, Any] = {"Name": name, "TaskId": task}
        if running:
            if p < STARTED:
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
            out_bucket, key = _split_oss(media, bucket)
            url = _out_url(out_bucket, region, key) if media.startswith("oss://") else media
            d["Result"] = {
                "OutputFile": {"Type": "OSS", "Media": media, "Url": url},
                "OutFileMeta": _file_meta(key.rsplit("/", 1)[-1], url, seconds, *dims, region),
            }
        elif status == "Failed":
            d["Code"], d["Message"] = fail
        return d

    tasks = random.Random(f"tasks-{f.job_id}")
    details = [
        detail(i, name, media, dims, hex32(tasks)) for i, (name, media, dims) in enumerate(file_outputs)
    ]
    job: dict[str, Any] = {
        "JobId": f.job_id,
        "ClientToken": client_token,
        "RequestId": request_id,
        "PipelineId": pipeline,
        "Config": config,
    }
    if running:
        job["State"] = "Running" if p >= STARTED else "Inited"
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
        group_details = []
        for group_name, members in groups:
            group: dict[str, Any] = {"Name": group_name, "TaskId": hex32(tasks), "Status": group_status}
            group["CreateTime"] = format_time(f.submit)
            if not running:
                group["FinishTime"] = format_time(f.submit + f.duration)
            # a group's outputs succeed or are skipped with it (index n_out: never the failing one)
            group["Outputs"] = [
                detail(n_out + j, name, media, dims, hex32(tasks))
                for j, (name, media, dims) in enumerate(members)
            ]
            if job["State"] == "Error":
                group["Code"], group["Message"] = fail
            group_details.append(group)
        job["OutputGroupDetails"] = group_details
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
    it. A few (:data:`RUNNING_SHARE`) were submitted minutes before the anchor and are
    still running (see :func:`~ice_widgets.emulator._constants.running_plan`): their
    ``progress`` is how far along they are.
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
            duration, done = running_plan(job_id, scale)
            created = anchor - done * duration - queued
            yield Facts(job_id, index, created, created + queued, duration, outcome, done)
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
