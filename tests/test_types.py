"""The public entry points are typed (not ``Any``), and the hints resolve at run time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing
from pathlib import Path

from ice_widgets._fetch import afetch_jobs, fetch_jobs, list_jobs
from ice_widgets._types import AnyClient, CacheArg, JobIds


def test_fetch_entry_points_carry_the_aliases() -> None:
    for function in (fetch_jobs, afetch_jobs):
        hints = typing.get_type_hints(function)
        assert hints["job_ids"] == JobIds and hints["client"] == AnyClient and hints["cache"] == CacheArg
        assert typing.Any not in (hints["job_ids"], hints["client"], hints["cache"])
    assert typing.get_type_hints(list_jobs)["client"] == AnyClient


def test_the_aliases_name_what_the_parser_takes() -> None:
    import pandas as pd

    from ice_widgets import AsyncClient, Client, JobCache, PackageJob

    assert {str, PackageJob, pd.Series, pd.DataFrame, pd.Index} <= set(typing.get_args(JobIds))
    assert set(typing.get_args(AnyClient)) == {Client, AsyncClient, type(None)}
    assert JobCache in typing.get_args(CacheArg)


# --------------------------------------------------------------------------- mypy --strict on user code

#: User code typed against the public API: mypy --strict must accept it as written.
TYPED_USER_CODE = """
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pandas as pd

import ice_widgets
from ice_widgets import (
    KINDS,
    AsyncClient,
    Client,
    JobCard,
    JobsView,
    MediaConvertJob,
    MediaProducingJob,
    PackageJob,
    SnapshotJob,
    TranscodeJob,
    TranscodeSubJob,
    afetch_jobs,
    fetch_jobs,
    list_jobs,
    watch,
)
from ice_widgets.emulator import Emulator

AnyJob = PackageJob | TranscodeJob | MediaProducingJob | SnapshotJob | MediaConvertJob


def with_a_client(endpoint: str) -> list[str]:
    with Client(endpoint=endpoint, max_rate=50.0) as client:
        package: PackageJob = client.get_package_job("j1")
        transcode: TranscodeJob = client.get_transcode_job("j2")
        producing: MediaProducingJob = client.get_media_producing_job("j3")
        snapshot: SnapshotJob = client.get_snapshot_job("j4")
        converted: MediaConvertJob = client.get_media_convert_job("j5")
        some: AnyJob = client.get_job("j6", kind=KINDS[3])
        shot: SnapshotJob = client.get_job("j6", kind="snapshot")
        plain: PackageJob = client.get_job("j7")
        listed: Iterator[AnyJob] = client.list_jobs(kind="media_convert", status="Complete")
        snapshots: Iterator[SnapshotJob] = client.list_snapshot_jobs(status="Success")
        submitted: str = client.submit_package_job("oss://bucket/in.mp4", "oss://bucket/out/")
        subs: tuple[TranscodeSubJob, ...] = transcode.sub_jobs
        took: timedelta | None = package.duration
        url: str | None = producing.output_url
        frame: pd.DataFrame = fetch_jobs(["j1", package], client=client, cache="jobs.sqlite")
        both: pd.DataFrame = list_jobs(kind=["package", "transcode"], client=client, limit=10)
        card: JobCard = JobCard(snapshot, client=client)
        view: JobsView = JobsView(frame, client=client)
        same: Client = client.copy()
        twin: AsyncClient = client.copy(asynchronous=True)
        watched: JobsView = watch(["j1", "j2"], kind="snapshot", client=twin, interval=2.0)
        del same, watched
        del listed, snapshots, subs, took, url, both, card, view, some, converted, shot, plain
        return [submitted, *frame["job_id"].astype(str)]


async def with_an_async_client(emulator: Emulator) -> float:
    async with AsyncClient(endpoint=emulator.endpoint) as client:
        job: TranscodeJob = await client.get_transcode_job("j2")
        other: MediaConvertJob = await client.get_job("j5", kind="media_convert")
        jobs: AsyncIterator[MediaProducingJob] = client.list_media_producing_jobs()
        async for produced in jobs:
            seconds: float | None = produced.media_duration
            del seconds
        frame: pd.DataFrame = await afetch_jobs(pd.Series(["a", "b"]), kind="transcode", client=client)
        del job, other
        return float(len(frame)) + len(ice_widgets.KINDS)
"""

#: Mistakes mypy --strict must report, each on its own line with its error code after ``# E:``.
#: A public name typed ``Any`` (or a lazy facade that answers any name) would let them through.
WRONG_USER_CODE = """
from __future__ import annotations

from collections.abc import Iterator

import ice_widgets
from ice_widgets import (
    AsyncClient,
    Client,
    PackageJob,
    SnapshotJob,
    TranscodeJob,
    fetch_jobs,
    list_jobs,
    watch,
)


def mistakes(client: Client, aclient: AsyncClient, kind: str) -> None:
    a: PackageJob = client.get_transcode_job("j")  # E: assignment
    b: SnapshotJob = client.get_job("j", kind="transcode")  # E: assignment
    b2: TranscodeJob = client.get_job("j", kind=kind)  # E: assignment
    c: Iterator[PackageJob] = client.list_snapshot_jobs()  # E: assignment
    d: int = client.submit_package_job("oss://b/in.mp4", "oss://b/out/")  # E: assignment
    e: int = fetch_jobs(["j"], client=client)  # E: assignment
    f: str = list_jobs(kind="snapshot")  # E: assignment
    g: TranscodeJob = aclient.get_transcode_job("j")  # E: assignment
    h: AsyncClient = client.copy()  # E: assignment
    i: Client = aclient.copy(sender=None)  # E: assignment
    client.get_package_job(42)  # E: arg-type
    fetch_jobs(["j"], cache=3.5)  # E: arg-type
    Client(timeout="slow")  # E: arg-type
    ice_widgets.fetch_jobz(["j"])  # E: attr-defined
    watch(["j"], client="http://127.0.0.1:8765")  # E: arg-type
    del a, b, b2, c, d, e, f, g, h, i
"""

_ERROR_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")


def _expected_errors(source: str) -> set[tuple[int, str]]:
    return {
        (number, line.rsplit("# E: ", 1)[1].strip())
        for number, line in enumerate(source.splitlines(), start=1)
        if "# E: " in line
    }


def _mypy_strict(package_root: Path, workdir: Path) -> tuple[dict[str, set[tuple[int, str]]], str]:
    """mypy --strict on the two snippets against the package under ``package_root``:
    ``({file: {(line, code)}}, output)``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "typed_use.py").write_text(TYPED_USER_CODE, encoding="utf-8")
    (workdir / "wrong_use.py").write_text(WRONG_USER_CODE, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file=",  # the user's settings, not the project's
            "--follow-imports=silent",  # the package is checked by `make typecheck`; here its API
            "--no-error-summary",
            "--show-error-codes",
            "--cache-dir",
            str(workdir / ".mypy_cache"),
            "typed_use.py",
            "wrong_use.py",
        ],
        cwd=workdir,
        env={**os.environ, "MYPYPATH": str(package_root)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode in (0, 1), output  # 2: mypy itself failed
    errors: dict[str, set[tuple[int, str]]] = {"typed_use.py": set(), "wrong_use.py": set()}
    for line in result.stdout.splitlines():
        match = _ERROR_LINE.match(line)
        if match:
            errors.setdefault(match["file"], set()).add((int(match["line"]), match["code"]))
    return errors, output


def _package_root() -> Path:
    import ice_widgets

    return Path(ice_widgets.__file__).resolve().parents[1]  # the code under test


def test_user_code_is_checked_by_mypy_strict_against_the_public_api(tmp_path: Path) -> None:
    """The package's types as a user's mypy sees them: precise code passes, each mistake is caught."""
    errors, output = _mypy_strict(_package_root(), tmp_path)
    assert not errors["typed_use.py"], output
    assert errors["wrong_use.py"] == _expected_errors(WRONG_USER_CODE), output


def test_a_public_type_weakened_to_any_lets_its_mistake_through(tmp_path: Path) -> None:
    """The check above depends on the package's annotations: on a copy whose
    ``Client.get_transcode_job`` returns ``Any`` and whose facade answers any name (its lazy
    ``__getattr__`` seen by mypy), exactly those two mistakes go unreported."""
    # A copy made of links to the package's files (the suite's secret scan skips links: the
    # emulator's test key is in them), but for the two files weakened here.
    source = _package_root() / "ice_widgets"
    copy = tmp_path / "weakened"
    for path in [*sorted(source.rglob("*.py")), source / "py.typed"]:
        link = copy / "ice_widgets" / path.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)
    for name, old, new in (
        (
            "_client.py",
            "    def get_transcode_job(self, parent_job_id: str) -> TranscodeJob:",
            "    def get_transcode_job(self, parent_job_id: str) -> Any:",
        ),
        ("__init__.py", "if not TYPE_CHECKING:\n", "if True:\n"),
    ):
        path = copy / "ice_widgets" / name
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{name}: {old!r} not found once: update this test"
        path.unlink()
        path.write_text(text.replace(old, new), encoding="utf-8")
    errors, output = _mypy_strict(copy, tmp_path / "run")
    assert not errors["typed_use.py"], output
    lines = WRONG_USER_CODE.splitlines()
    let_through = {
        number
        for number, line in enumerate(lines, start=1)
        if "client.get_transcode_job(" in line.replace("aclient", "") or "fetch_jobz" in line
    }
    assert len(let_through) == 2
    expected = {
        (number, code) for number, code in _expected_errors(WRONG_USER_CODE) if number not in let_through
    }
    assert errors["wrong_use.py"] == expected, output
