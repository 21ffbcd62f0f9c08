"""The IPython extension on an IPython test shell, against the emulator."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

from ice_widgets._models import PackageJob
from ice_widgets.emulator import Emulator

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def ip(ice_env: Emulator) -> Iterator[Any]:
    """The test shell with the extension loaded (and unloaded after the test)."""
    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "ice_widgets")
    try:
        yield shell
    finally:
        if "ice_widgets" in shell.extension_manager.loaded:
            shell.run_line_magic("unload_ext", "ice_widgets")
        for name in ("_ice_jobs", "_ice_watch", "ids", "job"):
            shell.user_ns.pop(name, None)


def _displayed(cap: Any) -> list[dict[str, Any]]:
    return [output.data for output in cap.outputs]


def test_import_does_not_import_ipython() -> None:
    code = (
        "import sys, ice_widgets; ice_widgets.PackageJob; "
        "print(sorted(m for m in ('IPython', 'ipywidgets', 'matplotlib', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_load_registers_magics_and_formatter(ip: Any) -> None:
    line = ip.magics_manager.magics["line"]
    assert {"ice_job", "ice_jobs", "ice_watch"} <= set(line)
    assert PackageJob in ip.display_formatter.mimebundle_formatter.type_printers


def test_ice_job_shows_a_card(ip: Any, emulator: Emulator) -> None:
    job_id = emulator.job_ids[0]
    with capture_output() as cap:
        ip.run_line_magic("ice_job", job_id)
    (data,) = _displayed(cap)
    assert WIDGET_MIME in data
    status = emulator.expected(job_id)["Status"]
    assert (
        f"ice-status-{ {'Success': 'success', 'Fail': 'fail', 'Init': 'running'}[status] }"
        in data["text/html"]
    )
    assert job_id in data["text/plain"]
    ip.user_ns["job"] = job_id  # a variable holding the ID
    with capture_output() as cap:
        ip.run_line_magic("ice_job", "job")
    assert job_id in _displayed(cap)[0]["text/plain"]
    ip.user_ns["ids"] = [job_id]
    with capture_output() as cap:
        ip.run_line_magic("ice_job", "ids[0]")  # an expression
    assert job_id in _displayed(cap)[0]["text/plain"]
    with pytest.raises(UsageError):
        ip.run_line_magic("ice_job", "")


def test_ice_jobs_expression_inline_and_options(
    ip: Any, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = emulator.job_ids[:5]
    ip.user_ns["ids"] = ids
    with capture_output() as cap:
        ip.run_line_magic("ice_jobs", "ids[:3]")
    (data,) = _displayed(cap)
    frame = ip.user_ns["_ice_jobs"]
    assert list(frame["job_id"]) == ids[:3]
    assert data["text/plain"].startswith("JobsView: 3 jobs") and WIDGET_MIME in data

    with capture_output() as cap:
        ip.run_line_magic("ice_jobs", f"{ids[0]}, {ids[1]}  {ids[2]}")  # inline, commas and spaces
    assert list(ip.user_ns["_ice_jobs"]["job_id"]) == ids[:3]

    monkeypatch.setenv("ALIBABA_CLOUD_ICE_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with capture_output():
        ip.run_line_magic("ice_jobs", f"--endpoint {emulator.endpoint} ids")
    frame = ip.user_ns["_ice_jobs"]
    assert list(frame["job_id"]) == ids and frame["error_code"].isna().all()  # --endpoint won

    with pytest.raises(UsageError):
        ip.run_line_magic("ice_jobs", "")
    with pytest.raises(NameError):  # an expression that fails is reported, not taken as IDs
        ip.run_line_magic("ice_jobs", "undefined_name[0]")


def test_frame_and_series_expressions(ip: Any, emulator: Emulator) -> None:
    import pandas as pd

    ip.user_ns["ids"] = pd.DataFrame({"job_id": emulator.job_ids[:2]})
    with capture_output():
        ip.run_line_magic("ice_jobs", "ids")
    assert len(ip.user_ns["_ice_jobs"]) == 2
    ip.user_ns["ids"] = pd.DataFrame({"other": [1]})
    with pytest.raises(UsageError):
        ip.run_line_magic("ice_jobs", "ids")


def test_bare_package_job_renders_as_card(ip: Any) -> None:
    job = PackageJob.from_api({"JobId": "j1", "Name": "<b>x</b>", "Status": "Fail", "Code": "E1"})
    data, _ = ip.display_formatter.format(job)
    assert WIDGET_MIME in data
    assert "ice-badge ice-status-fail" in data["text/html"] and "&lt;b&gt;x&lt;/b&gt;" in data["text/html"]
    assert data["text/plain"].startswith("✗ Fail")


def test_ice_watch_without_a_loop(ip: Any, emulator: Emulator) -> None:
    with capture_output() as cap:
        ip.run_line_magic("ice_watch", f"--interval 0.5 {emulator.job_ids[0]}")
    view = ip.user_ns["_ice_watch"]
    assert not view.running and view._interval == 0.5
    assert "not polling" in _displayed(cap)[0]["text/plain"]
    with pytest.raises(UsageError):
        ip.run_line_magic("ice_watch", "--interval soon x")


def test_unload_removes_everything_and_stops_pollers(ip: Any, emulator: Emulator) -> None:
    from ice_widgets.widgets._watch import live_pollers

    init_ids = [j for j in emulator.job_ids if emulator.expected(j)["Status"] == "Init"][:2]
    ip.user_ns["ids"] = init_ids

    async def main() -> Any:
        with capture_output():
            ip.run_line_magic("ice_watch", "--interval 0.1 ids")
        view = ip.user_ns["_ice_watch"]
        await asyncio.sleep(0.2)
        assert view.running and view in live_pollers()
        ip.run_line_magic("unload_ext", "ice_widgets")
        await asyncio.sleep(0.05)
        assert not view.running and live_pollers() == []
        return view

    asyncio.run(main()).close()
    line = ip.magics_manager.magics["line"]
    assert not {"ice_job", "ice_jobs", "ice_watch"} & set(line)
    assert "IceMagics" not in ip.magics_manager.registry
    assert PackageJob not in ip.display_formatter.mimebundle_formatter.type_printers
    data, _ = ip.display_formatter.format(PackageJob(job_id="j1"))
    assert WIDGET_MIME not in data and "text/html" not in data
    # loading again works (and unloading twice is harmless through the fixture)
    ip.run_line_magic("load_ext", "ice_widgets")
    assert "ice_job" in ip.magics_manager.magics["line"]
