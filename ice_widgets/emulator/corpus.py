"""Hostile strings for testing that nothing from the API is ever trusted.

``INJECTION_PAYLOADS`` is a corpus of strings that try to break out of HTML text,
attributes, URLs, CSS, JSON and terminal output. Every renderer must show each one as
inert text. ``hostile_jobs()`` builds PackageJob dicts that carry payloads in every
field the API returns, for the emulator (``--hostile N``) and for renderer tests.

Nothing here is executed; the strings are data.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = [
    "BIG_PAYLOAD",
    "INJECTION_PAYLOADS",
    "hostile_job",
    "hostile_jobs",
    "hostile_kind_job",
    "hostile_kind_jobs",
]

#: A 100 KB string: markup repeated, to check that renderers truncate or page and stay fast.
BIG_PAYLOAD: str = ("<b>big</b>&amp;\"'" * 6000)[: 100 * 1024]

#: Strings that try to run code or break markup if they are not escaped.
INJECTION_PAYLOADS: list[str] = [
    # script elements
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "</script><script>alert(document.domain)</script>",
    "<script>window.__ice_pwned = 1</script>",
    # event handlers
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<a href="#" onclick="alert(1)">click</a>',
    "<input autofocus onfocus=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    # URLs that must never become links
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "  javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/path",
    'http://evil.example/"><script>alert(1)</script>',
    "https://example.com/a?b=<script>alert(1)</script>&c='\"",
    # quote breaking in attributes
    '" onmouseover="alert(1)',
    "' onmouseover='alert(1)",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "`onmouseover=alert(1)",
    # broken and nested markup
    "<<script>alert(1)//<</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<!--<img src="--><img src=x onerror=alert(1)//">',
    "<![CDATA[<script>alert(1)</script>]]>",
    '<div style="',
    "</td></tr></table><h1>broken table</h1>",
    "<textarea></textarea><script>alert(1)</script>",
    "<title></title><script>alert(1)</script>",
    "<template><script>alert(1)</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<base href="//evil.example/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<link rel=stylesheet href="//evil.example/x.css">',
    # CSS
    "<style>*{background:url(javascript:alert(1))}</style>",
    '<div style="width:expression(alert(1))">css</div>',
    "x{}</style><script>alert(1)</script>",
    "background-image:url('javascript:alert(1)')",
    # templating, JSON and Jupyter-specific
    "{{constructor.constructor('alert(1)')()}}",
    "${alert(1)}",
    "$$\\unicode{x3c}script\\unicode{x3e}$$",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    '"}]}, {"Status": "Success"',
    "</script><!--",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    # unicode tricks
    "\u202eexe.4pm\u202c.mp4",  # right-to-left override
    "\ufeff<script>alert(1)</script>",  # BOM before markup
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",  # full-width angle brackets
    "ja\u200bvascript:alert(1)",  # zero-width space
    "\u0000<script>alert(1)</script>",  # NUL
    "line1\r\nline2\rline3\nline4",
    "\x1b[31mred\x1b[0m\x07",  # terminal escapes and BEL
    "\U0001f600 emoji and \u4e2d\u6587 and \u00e9\u0301",
    "\u0430dmin",  # Cyrillic a
    "\U0001f4a9" * 50,
    # size and shape
    "",
    " ",
    "A" * 10_000,
    BIG_PAYLOAD,
]


def _job_id(index: int, seed: int) -> str:
    return hashlib.md5(f"hostile-{seed}-{index}".encode()).hexdigest()


def hostile_job(index: int, payload: str, *, seed: int = 0, status: str = "Fail") -> dict[str, Any]:
    """A PackageJob dict with ``payload`` in every string field the API returns.

    The job ID is a valid 32-hex ID (so the job can be fetched); every other text
    field, including the URLs, the media paths, the error code and message, and the
    user data, carries the payload.
    """
    return {
        "JobId": _job_id(index, seed),
        "TriggerSource": payload,
        "Name": payload,
        "Inputs": [
            {"Input": {"Type": payload, "Media": payload}},
            {"Input": {"Type": "OSS", "Media": f"oss://bucket/{payload}"}},
        ],
        "Output": {"Type": payload, "Media": payload},
        "OutputUrl": payload,
        "PipelineId": payload,
        "Priority": 5,
        "Status": status,
        "Code": payload,
        "Message": payload,
        "SubmitTime": "2026-01-01T00:00:00Z",
        "FinishTime": "2026-01-01T00:05:00Z",
        "UserData": json.dumps({"note": payload}, ensure_ascii=False),
        "CreateTime": "2026-01-01T00:00:00Z",
        "ModifiedTime": "2026-01-01T00:05:00Z",
    }


def hostile_jobs(count: int | None = None, *, seed: int = 0) -> list[dict[str, Any]]:
    """PackageJob dicts with payloads in every field, one per payload (cycled to ``count``).

    Statuses rotate through Success, Fail, Init and an unknown status, so renderers meet
    payloads on every code path.
    """
    n = len(INJECTION_PAYLOADS) if count is None else count
    statuses = ("Success", "Fail", "Init", "<b>Weird</b>")
    return [
        hostile_job(i, INJECTION_PAYLOADS[i % len(INJECTION_PAYLOADS)], seed=seed, status=statuses[i % 4])
        for i in range(n)
    ]


#: Statuses the hostile jobs of each kind rotate through: the documented running, succeeded
#: and failed values, and one undocumented value carrying markup.
HOSTILE_STATUSES: dict[str, tuple[str, ...]] = {
    "transcode": ("Success", "Fail", "Init", "<b>Weird</b>"),
    "media_producing": ("Success", "Failed", "Processing", "<b>Weird</b>"),
    "snapshot": ("Success", "Fail", "Init", "<b>Weird</b>"),
    "media_convert": ("Complete", "Error", "Running", "<b>Weird</b>"),
}


_FILE_INFO_KEYS = (
    "FileName",
    "FileUrl",
    "FileStatus",
    "FileType",
    "FileSize",
    "Duration",
    "Bitrate",
    "Width",
    "Height",
    "FormatName",
    "MediaId",
    "Region",
)
_VIDEO_STREAM_KEYS = (
    "Index",
    "Codec_name",
    "Codec_long_name",
    "Width",
    "Height",
    "Fps",
    "Bit_rate",
    "Duration",
)
_AUDIO_STREAM_KEYS = ("Index", "CodecName", "Channels", "SampleRate", "Bitrate", "Duration", "Lang")


def _file_meta(payload: str) -> dict[str, Any]:
    """An ``OutFileMeta`` with ``payload`` in every text field."""
    return {
        "FileBasicInfo": dict.fromkeys(_FILE_INFO_KEYS, payload),
        "VideoStreamInfoList": [dict.fromkeys(_VIDEO_STREAM_KEYS, payload)],
        "AudioStreamInfoList": [dict.fromkeys(_AUDIO_STREAM_KEYS, payload)],
    }


#: The times every hostile job of the other kinds carries (created, finished); the emulator
#: moves them to where it files the job.
HOSTILE_T0, HOSTILE_T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


def _kind_job_id(kind: str, index: int, seed: int) -> str:
    return hashlib.md5(f"hostile-{kind}-{seed}-{index}".encode()).hexdigest()


def hostile_kind_job(
    kind: str, index: int, payload: str, *, seed: int = 0, status: str = "Fail"
) -> dict[str, Any]:
    """A job of ``kind`` (``"transcode"``, ``"media_producing"``, ``"snapshot"``,
    ``"media_convert"``; ``"package"`` gives :func:`hostile_job`) with ``payload`` in every
    text field its Get response has, as the official SDK's models shape it.

    The job ID (and a transcode sub-job's ID) is a valid 32-hex ID; everything else that
    is text (names, statuses of sub-parts, URLs, media, codes, messages, user data, JSON
    strings) carries the payload. Times are valid; ``status`` is the job's own status.
    """
    if kind == "package":
        return hostile_job(index, payload, seed=seed, status=status)
    job_id = _kind_job_id(kind, index, seed)
    p = payload
    t0, t1 = HOSTILE_T0, HOSTILE_T1
    media = {"Type": p, "Media": p}
    user_data = json.dumps({"note": p}, ensure_ascii=False)
    if kind == "transcode":
        sub_id = hashlib.md5(f"hostile-sub-{seed}-{index}".encode()).hexdigest()
        return {
            "ParentJobId": job_id,
            "Name": p,
            "Status": status,
            "Percent": 100,
            "JobCount": 2,
            "TriggerSource": p,
            "RequestId": p,
            "InputGroup": [dict(media), {"Type": p, "Media": f"oss://bucket/{p}"}],
            "OutputGroup": [
                {
                    "Output": {"Type": p, "Media": p, "OutputUrl": p},
                    "ProcessConfig": {"Transcode": {"TemplateId": p}},
                }
            ],
            "ScheduleConfig": {"PipelineId": p, "Priority": 5},
            "CreateTime": t0,
            "SubmitTime": t0,
            "FinishTime": t1,
            "UserData": user_data,
            "TranscodeJobList": [
                {
                    "JobId": sub_id,
                    "ParentJobId": job_id,
                    "JobIndex": 0,
                    "Name": p,
                    "Status": p,
                    "InputGroup": [{"Type": p, "Media": p, "InputUrl": p}],
                    "Output": {"Type": p, "Media": p, "OutputUrl": p},
                    "OutFileMeta": _file_meta(p),
                    "ProcessConfig": {"Transcode": {"TemplateId": p}},
                    "ScheduleConfig": {"PipelineId": p, "Priority": 5},
                    "RequestId": p,
                    "SubmitResultJson": {"Code": p, "Message": p},
                    "CreateTime": t0,
                    "SubmitTime": t0,
                    "FinishTime": t1,
                    "UserData": user_data,
                },
                {
                    "JobId": hashlib.md5(f"hostile-sub2-{seed}-{index}".encode()).hexdigest(),
                    "ParentJobId": job_id,
                    "JobIndex": 1,
                    "Name": p,
                    "Status": "Fail",
                    "Output": {"Type": p, "Media": p},
                    "SubmitResultJson": {"Code": p, "Message": p},
                    "CreateTime": t0,
                    "FinishTime": t1,
                },
            ],
        }
    if kind == "media_producing":
        return {
            "JobId": job_id,
            "ProjectId": p,
            "TemplateId": p,
            "ClipsParam": p,
            "Timeline": p,
            "Status": status,
            "Progress": 50,
            "MediaId": p,
            "MediaURL": p,
            "Duration": 12.5,
            "VodMediaId": p,
            "SubJobMaterials": p,
            "Code": p,
            "Message": p,
            "UserData": user_data,
            "CreateTime": t0,
            "ModifiedTime": t1,
            "CompleteTime": t1,
        }
    if kind == "snapshot":
        oss = {"Bucket": p, "Location": p, "Object": p}
        return {
            "JobId": job_id,
            "Name": p,
            "Status": status,
            "Type": p,
            "Async": True,
            "Count": 3,
            "TriggerSource": p,
            "PipelineId": p,
            "TemplateId": p,
            "TemplateConfig": p,
            "Input": {"Type": p, "Media": p, "OssFile": dict(oss)},
            "Output": {"Type": p, "Media": p, "OssFile": dict(oss)},
            "Code": p,
            "Message": p,
            "UserData": user_data,
            "CreateTime": t0,
            "SubmitTime": t0,
            "FinishTime": t1,
            "ModifiedTime": t1,
        }
    if kind == "media_convert":
        detail = {
            "Name": p,
            "TaskId": p,
            "Status": p,
            "Code": p,
            "Message": p,
            "CreateTime": t0,
            "FinishTime": t1,
            "Result": {
                "OutputFile": {"Type": p, "Media": p, "Url": p},
                "OutFileMeta": _file_meta(p),
            },
        }
        return {
            "JobId": job_id,
            "ClientToken": p,
            "RequestId": p,
            "PipelineId": p,
            "Config": {
                "JobName": p,
                "Inputs": [{"Name": p, "InputFile": dict(media)}],
                "Outputs": [
                    {
                        "Name": p,
                        "OutputFile": dict(media),
                        "TemplateId": p,
                        "OverrideParams": p,
                        "Features": p,
                    }
                ],
                "OutputGroups": [
                    {
                        "Name": p,
                        "GroupConfig": {"Type": p, "ManifestName": p, "OutputFileBase": dict(media)},
                        "Outputs": [{"Name": p, "OutputFileName": p, "TemplateId": p}],
                    }
                ],
            },
            "State": status,
            "Percent": 40,
            "Code": p,
            "Message": p,
            "OutputDetails": [detail],
            "OutputGroupDetails": [
                {"Name": p, "TaskId": p, "Status": p, "Code": p, "Message": p, "Outputs": [dict(detail)]}
            ],
            "UserData": user_data,
            "CreateTime": t0,
            "FinishTime": t1,
        }
    raise ValueError(f"unknown job kind {kind!r}")


def hostile_kind_jobs(kind: str, count: int | None = None, *, seed: int = 0) -> list[dict[str, Any]]:
    """Jobs of ``kind`` with payloads in every text field, one per payload (cycled to ``count``).

    Statuses rotate through :data:`HOSTILE_STATUSES` (a running, a succeeded, a failed and
    an undocumented value), so renderers meet payloads on every code path.
    """
    if kind == "package":
        return hostile_jobs(count, seed=seed)
    n = len(INJECTION_PAYLOADS) if count is None else count
    statuses = HOSTILE_STATUSES[kind]
    return [
        hostile_kind_job(
            kind, i, INJECTION_PAYLOADS[i % len(INJECTION_PAYLOADS)], seed=seed, status=statuses[i % 4]
        )
        for i in range(n)
    ]
