"""fetch_jobs / afetch_jobs / list_jobs inside a real ipykernel, whose event loop is running.

The notebook is built here with nbformat and executed with nbclient; the emulator's
endpoint and credentials reach the kernel through the environment only.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from _nbharness import cell_with, execute, kernel_env, text_of

from ice_widgets.emulator import Emulator

pytestmark = pytest.mark.notebook

CELLS = [
    # 1: a loop is running in the kernel
    "import asyncio, json, threading\n"
    "import ice_widgets\n"
    "print('LOOP', asyncio.get_event_loop().is_running())\n"
    "threads_before = threading.active_count()",
    # 2: the plain call, with a progress bar (a widget in a kernel)
    "ids = json.load(open('ids.json'))\n"
    "df = ice_widgets.fetch_jobs(ids + ['  ' + ids[0] + ' ', '', 'f' * 32])\n"
    "print('ROWS', len(df), 'ERRORS', int(df['error_code'].notna().sum()))\n"
    "print('FRAME', df[['job_id', 'status', 'name']].astype(object).where(df.notna(), None)"
    ".to_json(orient='records'))",
    # 3: top-level await on the kernel's own loop
    "adf = await ice_widgets.afetch_jobs(ids[:25], progress=False)\n"
    "print('ASYNC', adf['job_id'].tolist() == ids[:25], int(adf['error_code'].notna().sum()))",
    # 4: list_jobs and the accessor
    "ldf = ice_widgets.list_jobs(limit=30, progress=False)\n"
    "print('LIST', len(ldf), ldf['create_time'].is_monotonic_decreasing)\n"
    "print('SUMMARY', int(df.ice.summary()['total']))",
    # 5: nothing left running
    "import time; time.sleep(0.2)\n"
    "print('THREADS', threading.active_count() - threads_before, [t.name for t in threading.enumerate()])",
]


def test_fetch_jobs_in_a_real_kernel(tmp_path: Path) -> None:
    with Emulator(jobs=200, seed=4) as emu:
        ids = emu.job_ids[:120]
        (tmp_path / "ids.json").write_text(json.dumps(ids))
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
        path = tmp_path / "fetch.ipynb"
        nbformat.write(nb, path)
        env = kernel_env(emu.endpoint, emu.access_key_id, emu.access_key_secret, tmp_path / "home")
        done = execute(path, env, timeout=120)

        assert "LOOP True" in text_of(cell_with(done, "is_running"))
        out = text_of(cell_with(done, "df = ice_widgets.fetch_jobs"))
        assert "ROWS 122 ERRORS 2" in out
        rows = json.loads(out.split("FRAME ", 1)[1].strip().splitlines()[0])
        for row in rows[:120]:
            truth = emu.expected(row["job_id"])
            assert row["status"] == truth["Status"]
            assert row["name"] == truth.get("Name")
        assert [r["job_id"] for r in rows[:120]] == ids
        progress = cell_with(done, "df = ice_widgets.fetch_jobs")
        assert any(
            "application/vnd.jupyter.widget-view+json" in o.get("data", {})
            for o in progress.get("outputs", [])
        ), "tqdm.auto shows a widget in a kernel"
        assert "ASYNC True 0" in text_of(cell_with(done, "afetch_jobs"))
        assert "LIST 30 True" in text_of(cell_with(done, "list_jobs"))
        assert "SUMMARY 122" in text_of(cell_with(done, "list_jobs"))
        assert "THREADS 0" in text_of(cell_with(done, "THREADS"))
        assert emu.access_key_secret not in json.dumps(done)


def test_the_stop_button_interrupts_fetch_jobs_in_a_kernel(tmp_path: Path) -> None:
    """nbclient interrupts the kernel (SIGINT, as the stop button does) when a cell runs too long."""
    from nbclient import NotebookClient

    with Emulator(jobs=100, seed=4, latency_ms=5000) as emu:
        (tmp_path / "ids.json").write_text(json.dumps(emu.job_ids))
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(
                "import json, threading, time, ice_widgets\n"
                "ids = json.load(open('ids.json'))\n"
                "threads_before = threading.active_count()"
            ),
            # 100 jobs, 4 at a time, 5 s each: over 2 minutes unless interrupted
            nbformat.v4.new_code_cell("df = ice_widgets.fetch_jobs(ids, concurrency=4)"),
            nbformat.v4.new_code_cell(
                "time.sleep(0.2)\n"
                "names = [t.name for t in threading.enumerate()]\n"
                "print('THREADS', threading.active_count() - threads_before, names)\n"
                "print('DEFINED', 'df' in globals())"
            ),
        ]
        env = kernel_env(emu.endpoint, emu.access_key_id, emu.access_key_secret, tmp_path / "home")
        client = NotebookClient(
            nb,
            timeout=8,
            interrupt_on_timeout=True,
            allow_errors=True,
            kernel_name="python3",
            startup_timeout=120,
            resources={"metadata": {"path": str(tmp_path)}},
        )
        client.execute(env=env, cwd=str(tmp_path))
        requests_after = emu.stats.requests

        fetch_cell = nb.cells[1]
        errors = [o for o in fetch_cell.outputs if o.get("output_type") == "error"]
        assert errors and errors[0]["ename"] == "KeyboardInterrupt"
        last = text_of(nb.cells[2])
        assert "THREADS 0" in last, last
        assert "DEFINED False" in last
        assert requests_after < 100  # it did not run to the end
