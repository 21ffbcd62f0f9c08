"""Every example notebook runs top to bottom in a real kernel against the emulator.

The emulator runs in this process, so each test checks the notebook's outputs against
what the server really holds (``Emulator.expected``), not against numbers written here.
The notebooks run from a temporary copy, so nothing they write touches the repository.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from _nbharness import (
    DEMO_HOSTILE,
    DEMO_JOBS,
    DEMO_SEED,
    NOTEBOOK_NAMES,
    NOTEBOOKS,
    all_output_text,
    cell_with,
    code_cells,
    copy_notebooks,
    execute,
    has_mime,
    html_of,
    kernel_env,
    strip_tags,
    text_of,
)

from ice_widgets._frames import COLUMNS
from ice_widgets.emulator import Emulator

pytestmark = [pytest.mark.notebook, pytest.mark.slow, pytest.mark.timeout(420)]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(jobs=DEMO_JOBS, seed=DEMO_SEED, hostile=DEMO_HOSTILE, progress_seconds=2.0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_notebooks(tmp_path_factory.mktemp("notebooks"))


@pytest.fixture(scope="module")
def env(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return kernel_env(emu.endpoint, emu.access_key_id, emu.access_key_secret, tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def quickstart_nb(workdir: Path, env: dict[str, str]) -> Any:
    return _run(workdir, "quickstart.ipynb", env)


def _run(workdir: Path, name: str, env: dict[str, str]) -> Any:
    # Saved as JupyterLab saves by default: outputs, no widget state.
    nb = execute(workdir / name, env, store_widget_state=False)
    # Nothing secret ever reaches an output.
    assert env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] not in all_output_text(nb)
    # No cell raised (execute raises on errors; this also catches displayed tracebacks).
    assert "Traceback" not in all_output_text(nb)
    return nb


# ----------------------------------------------------------------------- committed state


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in code_cells(nb):
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs not cleared"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb.metadata  # no stale widget state


# ---------------------------------------------------------------------------- quickstart


def test_quickstart(quickstart_nb: Any, emu: Emulator) -> None:
    nb = quickstart_nb

    client_text = text_of(cell_with(nb, "client = Client()"))
    assert emu.endpoint in client_text
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in client_text  # where the key came from

    picked = text_of(cell_with(nb, "job_id = next("))
    job_id = re.search(r"[0-9a-f]{32}", picked).group(0)
    truth = emu.expected(job_id)
    assert truth["Status"] == "Success"

    magic = cell_with(nb, "%ice_job job_id")
    card = cell_with(nb, "card = JobCard(")
    bare = cell_with(nb, "client.get_package_job(job_id)")
    for cell in (magic, card, bare):
        assert has_mime(cell, WIDGET_MIME)  # a live widget in JupyterLab ...
        html = html_of(cell)  # ... and the static card for saved notebooks
        assert job_id in html
        assert 'class="ice-badge ice-status-success"' in html
        assert truth["OutputUrl"] in html
        assert truth["Name"] in strip_tags(html)

    fields = text_of(cell_with(nb, "job = card.job"))
    assert re.search(r"status:\s+Success", fields)
    assert f"output URL:  {truth['OutputUrl']}" in fields
    submit = pd.Timestamp(truth["SubmitTime"].strip())
    finish = pd.Timestamp(truth["FinishTime"].strip())
    assert f"duration:    {(finish - submit).to_pytimedelta()}" in fields

    failed = cell_with(nb, 'status="Fail"')
    failed_id = re.search(r"[0-9a-f]{32}", html_of(failed)).group(0)
    failed_truth = emu.expected(failed_id)
    assert failed_truth["Status"] == "Fail"
    assert f"{failed_truth['Code']} - {failed_truth['Message']}" in text_of(failed)
    assert "ice-status-fail" in html_of(failed)


# ------------------------------------------------------------------------ batch analysis


def test_batch_analysis(workdir: Path, env: dict[str, str], emu: Emulator) -> None:
    nb = _run(workdir, "batch_analysis.ipynb", env)
    ids = pd.read_csv(workdir / "job_ids.csv", dtype=str)["job_id"].tolist()
    truth = {job_id: emu.expected(job_id) for job_id in ids}
    statuses = Counter(job["Status"] for job in truth.values())

    assert "2,000 job IDs, 2,000 distinct" in text_of(cell_with(nb, "JOBS_CSV = Path"))
    # the CSV the notebook wrote: the 2,000 most recent jobs, the hostile ones among them
    newest = sorted(
        emu.job_ids + emu.hostile_ids, key=lambda i: emu.expected(i)["CreateTime"].strip(), reverse=True
    )
    assert set(ids) == set(newest[:2000])
    assert set(emu.hostile_ids) <= set(ids)
    assert f"(2000, {len(COLUMNS)})" in text_of(cell_with(nb, "df = fetch_jobs(job_ids)"))

    summary = text_of(cell_with(nb, "df.ice.summary()"))
    for status in ("Success", "Fail", "Init"):
        assert re.search(rf"^{status}\s+{statuses[status]}$", summary, re.M), (status, summary)
    assert re.search(r"^total\s+2000$", summary, re.M)
    assert re.search(r"^errors\s+0$", summary, re.M)

    by_code = text_of(cell_with(nb, '"code"].value_counts()'))
    codes = Counter(job["Code"] for job in truth.values() if job["Status"] == "Fail")
    for code, count in codes.most_common(3):
        assert re.search(rf"^{re.escape(code)}\s+{count}$", by_code, re.M), (code, by_code)

    slowest = text_of(cell_with(nb, 'nlargest(10, "duration")'))
    longest = max(
        (pd.Timestamp(j["FinishTime"].strip()) - pd.Timestamp(j["SubmitTime"].strip()), job_id)
        for job_id, j in truth.items()
        if j.get("FinishTime")
    )
    assert longest[1] in slowest

    charts = cell_with(nb, "plt.subplots")
    assert has_mime(charts, "image/png")

    assert has_mime(cell_with(nb, "view = JobsView(df)"), WIDGET_MIME)

    hostile = cell_with(nb, "hostile = df[")
    assert f"{DEMO_HOSTILE} jobs with markup in their name" in text_of(hostile)
    hostile_html = html_of(hostile)
    for job_id in emu.hostile_ids:
        assert job_id in hostile_html
    assert "<script" not in hostile_html.lower()
    assert "&lt;script&gt;" in hostile_html

    exported = pd.read_parquet(workdir / "exports" / "jobs.parquet")
    assert len(exported) == 2000 and set(exported["job_id"]) == set(ids)
    failed_csv = pd.read_csv(workdir / "exports" / "failed_jobs.csv")
    assert len(failed_csv) == statuses["Fail"]


# ---------------------------------------------------------------------------- live watch


def test_live_watch(workdir: Path, env: dict[str, str], emu: Emulator) -> None:
    before = set(emu.all_job_ids())
    nb = _run(workdir, "live_watch.ipynb", env)
    submitted = sorted(set(emu.all_job_ids()) - before)
    assert len(submitted) == 6
    listed = text_of(cell_with(nb, "client.submit_package_job("))
    assert all(job_id in listed for job_id in submitted)

    assert has_mime(cell_with(nb, "w = watch("), WIDGET_MIME)
    assert "all finished: True" in text_of(cell_with(nb, "await w.task"))

    final = text_of(cell_with(nb, "done = w.frame"))
    outcomes = {job_id: emu.expected(job_id)["Status"] for job_id in submitted}
    assert set(outcomes.values()) <= {"Success", "Fail"}
    assert "Fail" in outcomes.values()  # the clip set up to fail
    for job_id, status in outcomes.items():
        assert re.search(rf"{job_id}\s.*\b{status}\b", final), (job_id, status, final)
    assert "Init" not in final


# ------------------------------------------------------------------- static HTML export


def test_static_html_keeps_cards(quickstart_nb: Any, emu: Emulator, tmp_path: Path) -> None:
    """Saved with outputs and rendered by nbconvert with no kernel: the card is still there."""
    from nbconvert import HTMLExporter

    nb = quickstart_nb
    saved = tmp_path / "quickstart.ipynb"
    nbformat.write(nb, saved)
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(saved, as_version=4))
    job_id = re.search(r"[0-9a-f]{32}", text_of(cell_with(nb, "job_id = next("))).group(0)
    assert body.count('class="ice-root ice-card') >= 3
    assert job_id in body
    assert emu.expected(job_id)["OutputUrl"] in body
    assert 'class="ice-badge ice-status-success"' in body


# ------------------------------------------------------- job kinds (issue 9): transcode


def _yesterday() -> tuple[pd.Timestamp, pd.Timestamp]:
    end = pd.Timestamp.now(tz="UTC").normalize()
    return end - pd.Timedelta(days=1), end


def test_transcode_analysis(workdir: Path, env: dict[str, str], emu: Emulator) -> None:
    from ice_widgets._models import TranscodeJob

    nb = _run(workdir, "transcode_analysis.ipynb", env)
    start, end = _yesterday()
    everyone = emu.ids("transcode") + emu.hostile_ids_of("transcode")
    day = [TranscodeJob.from_api(emu.expected(i, "transcode")) for i in everyone]
    day = [j for j in day if j.create_time is not None and start <= j.create_time < end]
    assert len(day) > 50  # a real day of jobs
    subs = [s for j in day for s in j.sub_jobs]
    counts = text_of(cell_with(nb, "df = fetch_jobs("))
    assert f"{len(day):,} transcode jobs, {len(subs):,} sub-jobs" in counts

    hidden = [j for j in day if j.state == "succeeded" and j.sub_jobs_failed]
    assert hidden  # the emulator's day has parents hiding a failed sub-job
    assert f"{len(hidden):,} jobs report success" in text_of(cell_with(nb, "hidden = df["))

    failed = [s for s in subs if s.state == "failed"]
    triage_text = text_of(cell_with(nb, "triage = ("))
    assert f"{len(failed):,} failed sub-jobs of {len(subs):,}" in triage_text
    by_code = Counter(s.code or "(no code)" for s in failed)
    code, n = by_code.most_common(1)[0]
    parents = len({j.job_id for j in day for s in j.sub_jobs if s.state == "failed" and s.code == code})
    # (pandas wraps the wide table: sub_jobs first, then parents, then an example)
    assert re.search(rf"^{re.escape(code)}\s.*\s{n}\s", triage_text, re.M), triage_text
    assert re.search(rf"^{re.escape(code)}\s.*\s{parents}\s", triage_text.split("parents", 1)[1], re.M)

    templates = text_of(cell_with(nb, "by_template = "))
    finished = [s for s in subs if s.state in ("succeeded", "failed")]
    for template, count in Counter(s.template_id for s in finished if s.template_id).items():
        n_failed = sum(1 for s in finished if s.template_id == template and s.state == "failed")
        assert re.search(rf"^{re.escape(str(template))}\s+{count}\s+{n_failed}\s", templates, re.M), template

    slowest = max((j for j in day if j.duration is not None), key=lambda j: j.duration)
    card = cell_with(nb, "JobCard(slowest")
    assert has_mime(card, WIDGET_MIME)
    card_html = html_of(card)
    assert slowest.job_id in card_html and "ice-kind-transcode" in card_html
    for sub in slowest.sub_jobs:
        assert sub.job_id in card_html
    bare = cell_with(nb, "client.get_job(worst")
    assert has_mime(bare, WIDGET_MIME)
    shown = set(re.findall(r"[0-9a-f]{32}", html_of(bare)))
    assert shown & {j.job_id for j in hidden}  # a parent that hides a failed sub-job ...
    assert 'class="ice-warn"' in html_of(bare)  # ... and the card says so

    kinds_table = text_of(cell_with(nb, "everything = fetch_jobs("))
    for kind in ("transcode", "media_producing", "snapshot", "media_convert", "package"):
        assert re.search(rf"^{kind}\s", kinds_table, re.M), kinds_table
    view = cell_with(nb, "view = JobsView(everything")
    assert has_mime(view, WIDGET_MIME) and "<th>Kind</th>" in html_of(view)


# -------------------------------------------------- job kinds (issue 9): media producing


def test_media_producing_live(workdir: Path, env: dict[str, str], emu: Emulator) -> None:
    seeded = set(emu.ids("media_producing"))
    nb = _run(workdir, "media_producing_live.ipynb", env)
    submitted = re.findall(r"[0-9a-f]{32}", text_of(cell_with(nb, "client.submit_media_producing_job(")))
    assert len(set(submitted)) == 5 and not set(submitted) & seeded
    assert {emu.kind_of(i) for i in submitted} == {"media_producing"}

    assert has_mime(cell_with(nb, "w = watch("), WIDGET_MIME)
    assert "all finished: True" in text_of(cell_with(nb, "await w.task"))
    final = text_of(cell_with(nb, "done = w.frame"))
    outcomes = {i: emu.expected(i, "media_producing")["Status"] for i in submitted}
    assert set(outcomes.values()) <= {"Success", "Failed"}
    assert "Failed" in outcomes.values()  # the job set up to fail
    for job_id, status in outcomes.items():
        assert re.search(rf"{job_id}\s+{status}\s", final), (job_id, status, final)
    assert "Processing" not in final and "Queuing" not in final

    card = cell_with(nb, "client.get_job(failed")
    failed_id = next(i for i, s in outcomes.items() if s == "Failed")
    assert has_mime(card, WIDGET_MIME)
    assert failed_id in html_of(card) and "ice-kind-media_producing" in html_of(card)
