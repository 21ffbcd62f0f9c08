"""Constants and small helpers the emulator's data sets share across job kinds.

Vocabularies (shows, buckets, regions, trigger sources), the wire time format, 32-hex
IDs, the one duration distribution every kind's seeded jobs are drawn from, and the
default credentials. The emulator's modules import these from here, never from
:mod:`ice_widgets.emulator` (the facade), so the facade can re-export them without a cycle.
"""

from __future__ import annotations

import math
import random
import time

__all__ = [
    "BUCKETS",
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "MAX_DURATION",
    "MEDIAN_DURATION",
    "REGIONS",
    "SHOWS",
    "TRIGGERS",
    "draw_duration",
    "format_time",
    "hex32",
    "running_plan",
]

#: The access key ID the emulator accepts unless told otherwise.
DEFAULT_ACCESS_KEY_ID = "LTAIemulatorKeyId0001"
#: The matching secret. It is public and only good for the local emulator.
DEFAULT_ACCESS_KEY_SECRET = "emulator-secret-not-for-production"

SHOWS = (
    "evening-news",
    "cooking-live",
    "football-highlights",
    "product-launch",
    "webinar",
    "concert",
    "lecture",
    "esports-final",
    "travel-vlog",
    "kids-cartoon",
    "新闻联播",
    "直播回放",
)
BUCKETS = ("media-prod-sh", "vod-assets-bj", "live-archive-hz", "customer-uploads-sg")
REGIONS = ("cn-shanghai", "cn-beijing", "cn-hangzhou", "ap-southeast-1")
#: Trigger sources, repeated by how often they occur.
TRIGGERS = ("API",) * 6 + ("WorkFlow",) * 3 + ("Console",)

#: Median run time of a job (seconds) before a kind's scale is applied.
MEDIAN_DURATION = 150.0
#: Spread (sigma of the log) of the run-time distribution.
DURATION_SIGMA = 1.0
#: No seeded job runs longer than this (seconds).
MAX_DURATION = 4 * 3600.0


def format_time(ts: float) -> str:
    """``yyyy-MM-ddTHH:mm:ssZ`` in UTC, the form ICE returns."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


def hex32(rng: random.Random) -> str:
    """A 32-hex-digit ID (as ICE's job IDs) drawn from ``rng``."""
    return f"{rng.getrandbits(128):032x}"


def draw_duration(rng: random.Random, scale: float = 1.0) -> float:
    """A job's run time in seconds: log-normal, median ``150 * scale`` s, between 2 s and 4 h.

    With ``scale`` up to 1.6 (the longest-running kinds) about 0.03 % of jobs run over
    two hours: a long tail, as real accounts show, without a second hump.
    """
    value = rng.lognormvariate(math.log(MEDIAN_DURATION * scale), DURATION_SIGMA)
    return min(MAX_DURATION, max(2.0, value))


#: A job running at the anchor was submitted at most this long (seconds, times the kind's
#: scale) before it: "minutes ago".
MAX_RUNNING_AGE = 300.0


def running_plan(job_id: str, scale: float = 1.0) -> tuple[float, float]:
    """``(duration, done)`` of a seeded job still running at the anchor.

    Its duration comes from the same distribution as every other job's (capped at
    :data:`MAX_RUNNING_AGE` x ``scale``: a job submitted minutes ago), and ``done`` is
    the fraction of it already run. Drawn from the job ID alone, so the store can find
    both again when it lets the job finish.
    """
    rng = random.Random(f"run-{job_id}")
    duration = min(draw_duration(rng, scale), MAX_RUNNING_AGE * scale)
    return duration, rng.uniform(0.0, 0.9)
