"""Check that the code of this tree builds the same frames and models as a reference revision.

Run: ``.venv/bin/python bench/check_frames.py [--rev main] [--n 2000] [--fuzz 3000]``

The guard of the per-job speed-ups (parsing, frame rows, the batch transport): whatever is
made faster must give the same result. The reference is the package as it is at ``--rev``
(``git archive``, unpacked in a temporary directory and run in a subprocess); the tree is
this checkout. Both compute, from the same inputs:

- ``fetch_jobs(ids, kind=...)`` of every kind against an in-process emulator (fixed seed and
  anchor, so its data are the same on both sides), ``--n`` seeded jobs of each kind plus
  its hostile ones (injection payloads in every field), and one mixed batch of every kind
  with missing, malformed and unknown IDs: the whole path, HTTP included;
- for ``--fuzz`` job dicts per kind (each a seeded job with one to four values anywhere
  inside replaced by hostile values: wrong types, whitespace, odd times, JSON sent as a
  string, NaN, huge numbers, lone surrogates...): the model (every field, sub-jobs and
  output details included, and ``state``, ``duration``, ``elapsed``, ``output_urls``...)
  and ``build_frame`` of them with a fixed ``fetched_at``.

Frames are compared with ``pandas.testing.assert_frame_equal`` (the fetched ones without
``elapsed``, which runs with the clock) and ``attrs["counts"]``; models field by field.
Exit status 0 when everything is equal, 1 otherwise (the first differences are printed).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import os
import pickle
import random
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from typing import Any

ANCHOR = 1_780_000_000.0
SEED = 7
FETCHED_AT = datetime(2026, 6, 1, tzinfo=UTC)

#: Values put in place of a job's own (one to four per fuzzed job).
HOSTILE: list[Any] = [
    None,
    "",
    "   ",
    " Success ",
    "Fail",
    "Failed",
    "Complete",
    "Running",
    "success",
    0,
    -1,
    1.5,
    100,
    101,
    "50",
    " 42 ",
    "7.0",
    "nan",
    float("nan"),
    float("inf"),
    True,
    False,
    10**30,
    -(10**20),
    [],
    {},
    [None],
    ["a", {"JobId": "x"}],
    {"Code": "E", "Message": "m"},
    '{"Code": "Json.Code", "Message": "sent as a string"}',
    '{"Transcode": {"TemplateId": "T-json"}}',
    "{not json",
    "2026-05-01T10:00:00Z",
    "2026-05-01 10:00:00",
    " 2026-05-01T10:00:00.123456789z ",
    "2026-05-01T10:00:00+08:00",
    "2026-05-01T10:00:00.5",
    "2026-13-45T99:00:00Z",
    "1780000000",
    1780000000,
    1780000000123,
    "oss://bucket/a b/<script>.mp4",
    "https://example.com/x?a=1&b=<2>",
    "\ud800lone surrogate",
    "\u202etext\u0000nul",
    {"Type": "OSS", "Media": "oss://b/o.mp4"},
    {"Media": "  "},
    [{"Type": "OSS", "Media": "oss://b/i.mp4"}, 5, None],
    {"FileBasicInfo": {"FileUrl": "oss://b/f.mp4", "Duration": "12.5", "FileSize": "1024"}},
]


def _paths(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    if isinstance(node, dict):
        for key in node:
            out.append((node, key))
            _paths(node[key], out)
    elif isinstance(node, list):
        for position in range(len(node)):
            out.append((node, position))
            _paths(node[position], out)
    return out


def fuzzed(kind: str, jobs: list[dict[str, Any]], count: int, rng: random.Random) -> list[Any]:
    """``count`` inputs of ``kind``: seeded jobs with one to four values replaced (and a few
    that are not mappings at all)."""
    out: list[Any] = [None, [], "string", 5, {}]
    while len(out) < count:
        data = copy.deepcopy(rng.choice(jobs))
        for _ in range(rng.randint(1, 4)):
            paths = _paths(data, [])
            if not paths:
                break
            container, key = rng.choice(paths)
            container[key] = copy.deepcopy(rng.choice(HOSTILE))
        out.append(data)
    return out


def corpus(n: int, fuzz: int) -> dict[str, Any]:
    """The inputs both sides compute from (made once, by this tree's emulator data)."""
    from ice_widgets._models import KINDS
    from ice_widgets.emulator._data import generate_jobs
    from ice_widgets.emulator._kinds import iter_kind_jobs

    rng = random.Random(SEED)
    inputs: dict[str, list[Any]] = {}
    for kind in KINDS:
        if kind == "package":
            jobs = generate_jobs(min(n, 500), SEED, anchor=ANCHOR)
        else:
            jobs = [job for _, job in iter_kind_jobs(kind, min(n, 500), SEED, anchor=ANCHOR)]
        inputs[kind] = fuzzed(kind, jobs, fuzz, rng)
    return {"n": n, "inputs": inputs}


# --------------------------------------------------------------------------- one side


def _plain(value: Any) -> Any:
    """A model (or anything in it) as plain data, comparable across two copies of the package."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"__class__": type(value).__name__}
        for field in dataclasses.fields(value):
            if field.name != "raw":
                out[field.name] = _plain(getattr(value, field.name))
        for name in ("kind", "state", "is_finished", "is_failed", "duration", "progress", "output_url"):
            if hasattr(value, name):
                out["@" + name] = _plain(getattr(value, name))
        if hasattr(value, "output_urls"):
            out["@output_urls"] = list(value.output_urls)
        if hasattr(value, "sub_jobs_failed"):
            out["@sub_jobs_failed"] = value.sub_jobs_failed
        if hasattr(value, "elapsed"):
            out["@elapsed"] = value.elapsed(FETCHED_AT)
        return out
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def compute(data: dict[str, Any]) -> dict[str, Any]:
    """Everything compared, from the package importable here (this tree or the reference)."""
    import pandas as pd

    import ice_widgets
    from ice_widgets._frames import build_frame
    from ice_widgets._models import KINDS, parse_job
    from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator

    out: dict[str, Any] = {"models": {}, "frames": {}, "fetched": {}, "where": ice_widgets.__file__}
    for kind, inputs in data["inputs"].items():
        models = [parse_job(kind, item) for item in inputs]
        out["models"][kind] = [_plain(m) for m in models]
        out["frames"][kind] = build_frame(models, kind=kind, fetched_at=FETCHED_AT, endpoint="e")
    n = data["n"]
    with Emulator(jobs=n, kind_jobs=n, seed=SEED, anchor=ANCHOR, hostile=8) as emu:
        client = ice_widgets.Client(
            endpoint=emu.endpoint,
            access_key_id=DEFAULT_ACCESS_KEY_ID,
            access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
        )
        mixed_ids: list[Any] = []
        mixed_kinds: list[Any] = []
        for kind in KINDS:
            ids = emu.ids(kind) + emu.hostile_ids_of(kind)
            out["fetched"][kind] = ice_widgets.fetch_jobs(ids, kind=kind, client=client, progress=False)
            mixed_ids += ids[:40] + ids[-3:]
            mixed_kinds += [kind] * 43
        mixed_ids += [None, "", "  ", "a b", "x" * 300, "0" * 32, emu.ids("transcode")[0]]
        mixed_kinds += ["transcode", None, "snapshot", "package", "media_convert", "transcode", "Snapshot"]
        frame = pd.DataFrame({"job_id": mixed_ids, "kind": mixed_kinds})
        out["fetched"]["mixed"] = ice_widgets.fetch_jobs(frame, client=client, progress=False, concurrency=5)
        client.close()
    return out


# --------------------------------------------------------------------------- comparing


def compare(ref: dict[str, Any], new: dict[str, Any]) -> list[str]:
    import pandas as pd

    problems: list[str] = []
    for kind, models in ref["models"].items():
        for i, (a, b) in enumerate(zip(models, new["models"][kind], strict=True)):
            if repr(a) != repr(b):
                problems.append(f"model {kind} #{i}:\n  reference {a!r}\n  this tree {b!r}")
                break
    for group in ("frames", "fetched"):
        for name, a in ref[group].items():
            b = new[group][name]
            if group == "fetched":
                a, b = a.drop(columns="elapsed"), b.drop(columns="elapsed")
            try:
                pd.testing.assert_frame_equal(a, b)
            except AssertionError as exc:
                problems.append(f"{group} {name}: {exc}")
            if a.attrs.get("counts") != b.attrs.get("counts"):
                problems.append(f"{group} {name}: counts {a.attrs.get('counts')} != {b.attrs.get('counts')}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="main", help="the reference revision (default main)")
    parser.add_argument("--n", type=int, default=2000, help="seeded jobs of each kind fetched (default 2000)")
    parser.add_argument("--fuzz", type=int, default=3000, help="fuzzed job dicts per kind (default 3000)")
    parser.add_argument("--compute", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compute:  # one side, in a subprocess
        with open(args.compute[0], "rb") as handle:
            data = pickle.load(handle)
        with open(args.compute[1], "wb") as handle:
            pickle.dump(compute(data), handle)
        return 0

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory(prefix="check-frames-") as tmp:
        reference = os.path.join(tmp, "reference")
        os.mkdir(reference)
        archive = subprocess.run(
            ["git", "-C", root, "archive", args.rev, "ice_widgets"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", reference], input=archive, check=True)
        inputs = os.path.join(tmp, "inputs.pkl")
        with open(inputs, "wb") as handle:
            pickle.dump(corpus(args.n, args.fuzz), handle)
        results = {}
        for side, path in (("reference", reference), ("tree", root)):
            out = os.path.join(tmp, f"{side}.pkl")
            env = {**os.environ, "PYTHONPATH": path}
            subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--compute", inputs, out],
                check=True,
                env=env,
                cwd=path,
            )
            with open(out, "rb") as handle:
                results[side] = pickle.load(handle)
    for side, result in results.items():
        print(f"{side}: {result['where']}")
    problems = compare(results["reference"], results["tree"])
    total_models = sum(len(m) for m in results["tree"]["models"].values())
    total_rows = sum(len(f) for f in results["tree"]["fetched"].values())
    if problems:
        print(f"DIFFERENT from {args.rev}: {len(problems)} problem(s)")
        for problem in problems[:10]:
            print(problem[:3000])
        return 1
    print(
        f"same as {args.rev}: {total_models} fuzzed models and their frames, "
        f"{total_rows} fetched rows of {len(results['tree']['fetched'])} batches"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
