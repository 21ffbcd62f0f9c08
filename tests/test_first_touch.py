"""Errors at the first touch (issue 12, points 4-6): the message says what failed and what to
do, nothing else is printed, and the traceback stops at the public call.

The kernel tests run cells one by one in a real ipykernel against the emulator, so the
request counter can be read between cells and every output of a cell is seen (stderr, the
"Exception ignored in ... __del__" lines, displays).
"""

from __future__ import annotations

import asyncio
import re
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from _nbharness import kernel_env
from nbclient import NotebookClient

from ice_widgets import AsyncClient, Client, CredentialsError, NotFoundError, watch
from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator

pytestmark = pytest.mark.notebook

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TYPO_MESSAGE = (
    "name 'some_variable_with_a_typo' is not defined: no request was sent. Give a job ID or a "
    "variable that holds one (check the spelling, or run the cell that defines it)."
)
WATCH_NONE = (
    "watch() takes job IDs (a list, a Series, a DataFrame with a job_id column, or a string), not None"
)
NOT_FOUND_HINT = (
    "Check the job ID, and that the client's endpoint and region are the ones the job was "
    "submitted to (jobs are regional)."
)
DEMO_LINE = (
    "To try ice_widgets without an account, run `ice-widgets demo` (or `make demo` in a checkout): "
    "a local ICE emulator and JupyterLab with demo credentials"
)


class Kernel:
    """One real python3 kernel; ``run(source)`` executes a cell and returns its outputs."""

    def __init__(self, client: NotebookClient, nb: nbformat.NotebookNode) -> None:
        self._client = client
        self._nb = nb

    def run(self, source: str) -> list[dict[str, Any]]:
        cell = nbformat.v4.new_code_cell(source)
        self._nb.cells.append(cell)
        self._client.execute_cell(cell, len(self._nb.cells) - 1)
        return [dict(output) for output in cell.outputs]


@pytest.fixture(scope="module")
def kernel(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    home = tmp_path_factory.mktemp("first-touch-home")
    env = kernel_env(emulator.endpoint, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, home)
    nb = nbformat.v4.new_notebook()
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True, startup_timeout=120)
    with client.setup_kernel(env=env, cwd=str(home)):
        kernel = Kernel(client, nb)
        assert kernel.run("%load_ext ice_widgets\nimport gc\nimport ice_widgets as iw") == []
        yield kernel


def _only_error(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The cell's one output, which must be an error (nothing printed beside it)."""
    assert [output["output_type"] for output in outputs] == ["error"], outputs
    return outputs[0]


def _frames(error: dict[str, Any]) -> list[str]:
    """The 'File ...' / 'Cell In[...]' headers of an IPython traceback."""
    lines = ANSI.sub("", "\n".join(error["traceback"])).splitlines()
    return [line for line in lines if line.startswith(("File ", "Cell In["))]


@pytest.mark.parametrize(
    "line",
    [
        "%ice_job some_variable_with_a_typo",
        "%ice_jobs some_variable_with_a_typo",
        "%ice_watch some_variable_with_a_typo",
    ],
)
def test_magic_with_an_undefined_name_says_so_and_sends_nothing(
    kernel: Kernel, emulator: Emulator, line: str
) -> None:
    before = emulator.stats.requests
    outputs = kernel.run(line)
    assert emulator.stats.requests == before  # no request for a job named after the typo
    # IPython prints a UsageError as one line on stderr, without a traceback; nothing else.
    assert outputs == [{"output_type": "stream", "name": "stderr", "text": f"UsageError: {TYPO_MESSAGE}\n"}]


def test_magic_still_takes_an_inline_id_and_a_variable(kernel: Kernel, emulator: Emulator) -> None:
    job_id = emulator.job_ids[0]
    outputs = kernel.run(f"%ice_job {job_id}")
    assert [o["output_type"] for o in outputs] == ["display_data"]
    assert job_id in outputs[0]["data"]["text/plain"]
    outputs = kernel.run(f"picked = {job_id!r}\n%ice_job picked")
    assert [o["output_type"] for o in outputs] == ["display_data"]
    assert job_id in outputs[0]["data"]["text/plain"]


def test_watch_none_is_one_clear_line_and_no_destructor_raises(kernel: Kernel) -> None:
    error = _only_error(kernel.run("iw.watch(None)"))
    assert error["ename"] == "TypeError"
    assert error["evalue"] == WATCH_NONE
    assert len(_frames(error)) == 2  # the cell and watch(): nothing deeper
    # The failed view is collected: no "Exception ignored in Widget.__del__" anywhere.
    outputs = kernel.run("print(gc.collect() >= 0)")
    assert outputs == [{"output_type": "stream", "name": "stdout", "text": "True\n"}]
    error = _only_error(kernel.run("iw.watch(42)"))
    assert error["evalue"].endswith("not a int")
    assert kernel.run("print(gc.collect() >= 0)")[0]["text"] == "True\n"


def test_watch_of_nothing_says_there_is_nothing_to_watch(kernel: Kernel, emulator: Emulator) -> None:
    before = emulator.stats.requests
    outputs = kernel.run("w = iw.watch([])\nw")
    assert [o["output_type"] for o in outputs] == ["execute_result"]
    assert outputs[0]["data"]["text/plain"] == "nothing to watch: no job IDs were given"
    outputs = kernel.run("print(repr(iw.watch(['', None, '  '])))")
    assert outputs[0]["text"] == "WatchView(nothing to watch: the 3 values given hold no job ID)\n"
    assert emulator.stats.requests == before


def test_not_found_names_job_and_action_with_a_short_traceback(kernel: Kernel) -> None:
    error = _only_error(kernel.run("iw.Client().get_package_job('nosuchjob0')"))
    assert error["ename"] == "NotFoundError"
    assert error["evalue"].startswith(
        "InvalidParameter.ResourceNotFound: job 'nosuchjob0' not found (GetPackageJob): "
    )
    assert error["evalue"].endswith(NOT_FOUND_HINT)
    frames = _frames(error)
    assert len(frames) == 2, frames  # the cell, then Client.get_package_job
    assert "in Client.get_package_job" in frames[1]
    assert "[... skipping hidden 1 frame]" in ANSI.sub("", "\n".join(error["traceback"]))


def test_credentials_error_ends_with_how_to_try_the_demo(kernel: Kernel) -> None:
    source = (
        "import os\n"
        "saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith('ALIBABA_CLOUD_')}\n"
        "try:\n"
        "    iw.Client()\n"
        "finally:\n"
        "    os.environ.update(saved)"
    )
    error = _only_error(kernel.run(source))
    assert error["ename"] == "CredentialsError"
    assert error["evalue"].startswith("NoCredentials: no Alibaba Cloud credentials found; looked at ")
    assert error["evalue"].endswith(DEMO_LINE)


# ------------------------------------------------------------------ in-process, plain Python


def _tb_functions(exc: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(exc.__traceback__)]


def test_not_found_from_every_public_call_has_a_short_traceback(ice_env: Emulator) -> None:
    with Client() as client, pytest.raises(NotFoundError) as caught:
        client.get_package_job("nosuchjob1")
    assert caught.value.job_id == "nosuchjob1"
    assert caught.value.action == "GetPackageJob"
    assert "job 'nosuchjob1' not found (GetPackageJob)" in str(caught.value)
    # this test, the wrapper, the public method: no retry loop, parser or classifier frames
    assert _tb_functions(caught.value)[1:] == ["wrapper", "get_package_job"]

    async def fetch() -> BaseException:
        async with AsyncClient() as aclient:
            try:
                await aclient.get_package_job("nosuchjob2")
            except NotFoundError as exc:
                return exc
        raise AssertionError("no error")

    error = asyncio.run(fetch())
    assert "job 'nosuchjob2' not found (GetPackageJob)" in str(error)
    assert _tb_functions(error)[-2:] == ["async_wrapper", "get_package_job"]


def test_list_and_validation_errors_are_short_too(restore_emulator: Emulator, ice_env: Emulator) -> None:
    from ice_widgets import InvalidParameterError, ServerError

    with Client(max_retries=0) as client:
        with pytest.raises(InvalidParameterError) as caught:
            client.list_package_jobs(order_by="Sideways")
        assert _tb_functions(caught.value)[-2:] == ["wrapper", "list_package_jobs"]
        with pytest.raises(InvalidParameterError) as caught:
            client.get_package_job("   ")
        assert _tb_functions(caught.value)[-2:] == ["wrapper", "get_package_job"]
        restore_emulator.configure(fault_rate=1.0, faults=["500"])
        with pytest.raises(ServerError) as caught:
            list(client.list_package_jobs())
        # the pages are a generator: its wrapper and the page loop, nothing deeper
        assert _tb_functions(caught.value)[-2:] == ["gen_wrapper", "_pages"]


def test_full_traceback_on_request(ice_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICE_WIDGETS_FULL_TRACEBACK", "1")
    with Client() as client, pytest.raises(NotFoundError) as caught:
        client.get_package_job("nosuchjob3")
    assert "parse_response" in _tb_functions(caught.value)


def test_credentials_error_text_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in __import__("os").environ if k.startswith("ALIBABA_CLOUD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(CredentialsError) as caught:
        Client()
    assert str(caught.value).endswith(DEMO_LINE)
    assert _tb_functions(caught.value)[1:] == ["wrapper", "__init__"]


def test_watch_rejects_non_iterables_in_process() -> None:
    for value in (None, 3, 2.5, b"abc"):
        with pytest.raises(TypeError) as caught:
            watch(value)  # type: ignore[arg-type]
        assert str(caught.value).startswith("watch() takes job IDs")
        assert _tb_functions(caught.value)[1:] == ["watch"]


def test_fetch_jobs_fatal_error_has_a_short_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ice_widgets import fetch_jobs, list_jobs

    for name in [k for k in __import__("os").environ if k.startswith("ALIBABA_CLOUD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    for call in (lambda: fetch_jobs(["a" * 32], progress=False), lambda: list_jobs(limit=5, progress=False)):
        with pytest.raises(CredentialsError) as caught:
            call()
        assert str(caught.value).endswith(DEMO_LINE)
        assert _tb_functions(caught.value)[-3:-1] == ["<lambda>", "wrapper"]  # then the public function
        assert _tb_functions(caught.value)[-1] in {"fetch_jobs", "list_jobs"}
