"""JobsView over 100,000 jobs: construction + first render time, and the state one page sends.

Prints figures; asserts nothing (the targets: construction + first render <= 1.5 s, the
state of every widget in the view < 1 MB). "First render" is what displaying the view in a
notebook computes: the widget state of the first page and ``_repr_mimebundle_`` (the
static text/html with summary, first page, triage and the two charts, and text/plain).

    .venv/bin/python bench/bench_view.py [--rows 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ice_widgets._frames import build_frame
from ice_widgets._models import Media, PackageJob


def synthetic_jobs(n: int, seed: int) -> list[PackageJob]:
    rnd = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    codes = [
        ("InvalidParameter.Input", "The input file does not exist."),
        ("Timeout", "Packaging timed out."),
    ]
    jobs = []
    for i in range(n):
        status = rnd.choices(["Success", "Fail", "Init"], [85, 8, 7])[0]
        submit = start + timedelta(seconds=rnd.random() * 7 * 86_400)
        finish = submit + timedelta(seconds=rnd.expovariate(1 / 300)) if status != "Init" else None
        code, message = rnd.choice(codes) if status == "Fail" else (None, None)
        jobs.append(
            PackageJob(
                job_id=f"{rnd.getrandbits(128):032x}",
                name=f"package-{i:06d}",
                status=status,
                trigger_source=rnd.choice(["API", "WorkFlow", "Console"]),
                priority=rnd.randint(1, 10),
                pipeline_id=f"{rnd.getrandbits(128):032x}",
                inputs=(Media("OSS", f"oss://bucket/in/{i}.mp4"),),
                output=Media("OSS", f"oss://bucket/out/{i}.m3u8"),
                output_url=f"https://bucket.oss-cn-shanghai.aliyuncs.com/out/{i}.m3u8"
                if status == "Success"
                else None,
                code=code,
                message=message,
                submit_time=submit,
                finish_time=finish,
                create_time=submit,
                modified_time=finish or submit,
            )
        )
    return jobs


def widget_tree(root: Any) -> list[Any]:
    found = [root]
    for child in getattr(root, "children", ()) or ():
        found.extend(widget_tree(child))
    return found


def state_bytes(root: Any) -> int:
    """Bytes of the JSON state (binary buffers counted by length) of every widget in the tree."""
    total = 0
    for widget in widget_tree(root):
        state = widget.get_state()
        for key, value in list(state.items()):
            if isinstance(value, (bytes, bytearray, memoryview)):
                total += len(value)
                state[key] = None
        total += len(json.dumps(state, default=str).encode())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    t0 = time.perf_counter()
    frame = build_frame(synthetic_jobs(args.rows, args.seed))
    print(f"frame: {len(frame):,} rows built in {time.perf_counter() - t0:.2f} s (not part of the figure)")

    t0 = time.perf_counter()
    from ice_widgets.widgets import JobsView

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    view = JobsView(frame)
    t_construct = time.perf_counter() - t0
    t0 = time.perf_counter()
    bundle = view._repr_mimebundle_()
    t_bundle = time.perf_counter() - t0
    size = state_bytes(view)
    print(f"import ice_widgets.widgets (ipywidgets, matplotlib lazily): {t_import:.3f} s")
    print(f"construction (summary, first page, controls): {t_construct:.3f} s")
    print(f"first render (_repr_mimebundle_: static HTML with charts, text): {t_bundle:.3f} s")
    print(f"construction + first render: {t_construct + t_bundle:.3f} s  (target <= 1.5 s)")
    print(
        f"widget state of the view, one page of {view._page_size} rows: {size / 1024:.1f} KiB  (target < 1 MiB)"
    )
    print(
        f"static text/html: {len(bundle['text/html']) / 1024:.1f} KiB; text/plain: {len(bundle['text/plain'])} chars"
    )

    for label, action in (
        ("text filter 'package-09'", lambda: view.set_filter(text="package-09")),
        ("status filter Fail", lambda: view.set_filter(status="Fail")),
        ("clear filters", lambda: view.set_filter(status=None, text="")),
        ("sort by duration desc", lambda: view.sort_by("duration", ascending=False)),
        ("next page", lambda: view.go_to_page(view.page + 1)),
        ("open charts tab (cached after)", lambda: setattr(view._tabs, "selected_index", 1)),
    ):
        t0 = time.perf_counter()
        action()
        print(f"{label}: {time.perf_counter() - t0:.3f} s")
    size = state_bytes(view)
    print(f"widget state with the charts tab open: {size / 1024:.1f} KiB")
    view.close()

    # What one round of watch() costs the kernel's loop for 1,000 jobs (besides the requests):
    # rebuild the frame from the records, then redraw (summary and the visible page only).
    jobs = synthetic_jobs(1_000, args.seed + 1)
    watched = JobsView(build_frame(jobs))
    rounds = 20
    t0 = time.perf_counter()
    for _ in range(rounds):
        watched.set_frame(build_frame(jobs))
    per_round = (time.perf_counter() - t0) / rounds
    print(f"watch redraw of 1,000 jobs (build_frame + set_frame): {per_round * 1000:.1f} ms per round")
    watched.close()


if __name__ == "__main__":
    main()
