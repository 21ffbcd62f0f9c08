"""``ice-widgets demo`` end to end: started as a user starts it, used, then stopped with Ctrl-C.

The demo runs as a subprocess of this test (its own session, as in a terminal), with an
empty HOME and no ALIBABA_CLOUD_* variables: the state of a fresh clone. The test reads
the URL the demo prints, checks JupyterLab answers on it, runs the quickstart notebook
in a kernel against the demo's own emulator, sends SIGINT and checks that every process
the demo started is gone.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from _nbharness import NOTEBOOK_NAMES, NOTEBOOKS, REPO, copy_notebooks, execute, html_of, kernel_env

from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

URL = re.compile(r"http://127\.0\.0\.1:(\d+)/lab/tree/quickstart\.ipynb\?token=([0-9a-f]+)")
EMULATOR = re.compile(r"ICE emulator:\s+(http://127\.0\.0\.1:\d+)")


class Output:
    """The demo's stdout, read on a thread (so a full pipe never blocks it)."""

    def __init__(self, stream: object) -> None:
        self.text = ""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._lock:
                self.text += line

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                match = pattern.search(self.text)
            if match:
                return match
            time.sleep(0.1)
        raise AssertionError(f"no {pattern.pattern!r} in the demo's output:\n{self.text}")


def _fresh_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "JUPYTER"))}
    env["HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_serves_runs_and_stops(tmp_path: Path, stop_signal: signal.Signals) -> None:
    home = tmp_path / "home"
    home.mkdir()
    folder = copy_notebooks(tmp_path / "notebooks")
    command = [sys.executable, "-m", "ice_widgets.cli", "demo", "--notebook-dir", str(folder)]
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_fresh_env(home),
        cwd=tmp_path,
        start_new_session=True,  # like a terminal: SIGINT goes to the demo alone
    )
    out = Output(proc.stdout)
    descendants: set[int] = set()
    try:
        match = out.wait_for(URL, timeout=120)
        url, port, token = match.group(0), int(match.group(1)), match.group(2)
        endpoint = out.wait_for(EMULATOR, timeout=5).group(1)
        descendants.update(p.pid for p in psutil.Process(proc.pid).children(recursive=True))
        assert len(descendants) >= 2  # the emulator and JupyterLab (and the warm kernel)

        # JupyterLab answers on the printed URL, with the token, and only on loopback.
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
            assert b"JupyterLab" in response.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=30) as r:
            assert "quickstart.ipynb" in r.read().decode()
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=wrong", timeout=30)
        assert denied.value.code in (401, 403)
        listening = {
            (c.laddr.ip, c.laddr.port)
            for pid in descendants
            if psutil.pid_exists(pid)
            for c in psutil.Process(pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN
        }
        assert ("127.0.0.1", port) in listening
        assert all(ip == "127.0.0.1" for ip, p in listening if p in {port, int(endpoint.rsplit(":", 1)[1])})

        # The quickstart notebook runs without error against the demo's emulator.
        env = kernel_env(endpoint, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, tmp_path / "kernel-home")
        nb = execute(folder / "quickstart.ipynb", env, store_widget_state=False)
        cards = [c for c in nb.cells if c.cell_type == "code" and "ice-card" in html_of(c)]
        assert len(cards) >= 3
        assert DEFAULT_ACCESS_KEY_SECRET not in out.text  # the demo never prints the secret
        descendants.update(p.pid for p in psutil.Process(proc.pid).children(recursive=True))
    finally:
        if proc.poll() is None:
            proc.send_signal(stop_signal)  # Ctrl-C in the terminal, or a service manager's stop
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise
    assert code == 0, out.text
    assert "stopped." in out.text
    deadline = time.monotonic() + 10
    alive = [pid for pid in descendants if psutil.pid_exists(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [
            pid
            for pid in alive
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        ]
    assert alive == [], f"left behind: {alive}"
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=5)


def test_demo_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ice_widgets.cli", "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--notebook-dir" in result.stdout and "--jobs" in result.stdout


def test_example_notebooks_found() -> None:
    from ice_widgets._demo import NOTEBOOKS as NAMES
    from ice_widgets._demo import example_notebooks

    assert example_notebooks() == NOTEBOOKS
    assert all((NOTEBOOKS / name).is_file() for name in NAMES)


# ------------------------------------------------------------- a fresh clone stays clean

NOTEBOOKS_LINE = re.compile(r"notebooks:\s+(\S+)")


def _fresh_clone(target: Path) -> Path:
    """This checkout as a fresh clone: its tracked (and new, not ignored) files, committed."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    target.mkdir()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / name)
    git = ["git", "-C", str(target), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "clone"], check=True)
    return target


def _api(port: int, token: str, path: str, *, method: str = "GET", body: Any = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read()
    return json.loads(text) if text else None


def _run_in_server_kernel(port: int, token: str, kernel_id: str, code: str) -> str:
    """Execute ``code`` in a kernel the demo's JupyterLab started (as the page does, over its
    websocket); returns the stdout, raises on an error reply."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def run() -> str:
        url = f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels"
        ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "username": "test",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
            "date": "",
        }
        content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}}
        message = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
        await ws.write_message(json.dumps({**message, "channel": "shell", "buffers": []}))
        out, error = [], None
        while True:
            raw = await asyncio.wait_for(ws.read_message(), timeout=120)
            assert raw is not None, "the kernel's websocket closed"
            if isinstance(raw, bytes):  # messages with binary buffers (widget comms)
                continue
            reply = json.loads(raw)
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = reply["header"]["msg_type"]
            if kind == "stream":
                out.append(reply["content"]["text"])
            elif kind == "error":
                error = "\n".join(reply["content"]["traceback"])
            elif kind == "status" and reply["content"]["execution_state"] == "idle":
                break
        ws.close()
        if error:
            raise AssertionError(error)
        return "".join(out)

    return asyncio.run(run())


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Iterator[Path]:
    """A fresh clone, removed afterwards: its copies of the test sources hold the suite's
    test secrets, which the session's secret scan must not find in a temporary folder."""
    clone = _fresh_clone(tmp_path / "clone")
    try:
        yield clone
    finally:
        shutil.rmtree(clone, ignore_errors=True)


def test_demo_in_a_fresh_clone_leaves_it_clean(tmp_path: Path, fresh_clone: Path) -> None:
    """Issue 12: the demo works on copies; saving, autosave checkpoints and exports land in the
    git-ignored working folder; `git status` stays empty; the committed-notebook tests and a
    wheel built right after see no executed notebook."""
    clone = fresh_clone
    home = tmp_path / "home"
    home.mkdir()
    env = _fresh_env(home)
    env["PYTHONPATH"] = str(clone)  # the clone's package, as `pip install -e .` in it would give
    proc = subprocess.Popen(
        [sys.executable, "-m", "ice_widgets.cli", "demo", "--jobs", "300"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=clone,
        start_new_session=True,
    )
    out = Output(proc.stdout)
    try:
        match = out.wait_for(URL, timeout=120)
        port, token = int(match.group(1)), match.group(2)
        endpoint = out.wait_for(EMULATOR, timeout=5).group(1)
        work = Path(out.wait_for(NOTEBOOKS_LINE, timeout=5).group(1))
        assert work == (clone / "ice_widgets-notebooks").resolve()

        # The page opens quickstart.ipynb; run it and save it with its outputs through the
        # contents API, as JupyterLab's save and autosave do (and make a checkpoint).
        model = _api(port, token, "/api/contents/quickstart.ipynb")
        executed_at = tmp_path / "run"
        executed_at.mkdir()
        (executed_at / "quickstart.ipynb").write_text(json.dumps(model["content"]))
        kenv = kernel_env(endpoint, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, tmp_path / "khome")
        nb = execute(executed_at / "quickstart.ipynb", kenv, store_widget_state=True)
        _api(
            port,
            token,
            "/api/contents/quickstart.ipynb",
            method="PUT",
            body={"type": "notebook", "format": "json", "content": nb},
        )
        _api(port, token, "/api/contents/quickstart.ipynb/checkpoints", method="POST")
        saved = json.loads((work / "quickstart.ipynb").read_text())
        assert any(cell.get("outputs") for cell in saved["cells"])  # the outputs are saved...
        assert "widgets" in saved["metadata"]

        # ... and the view's Export CSV, from a kernel the demo's JupyterLab started.
        sessions = _api(port, token, "/api/sessions")
        kernel_id = next(s["kernel"]["id"] for s in sessions if s["path"] == "quickstart.ipynb")
        listing = _run_in_server_kernel(
            port,
            token,
            kernel_id,
            "import os, ice_widgets as iw\n"
            "view = iw.JobsView(iw.list_jobs(limit=30, progress=False))\n"
            "view._export_button.click()\n"
            "print(os.getcwd()); print(sorted(os.listdir()))",
        )
        cwd, names = listing.splitlines()[:2]
        assert Path(cwd).resolve() == work
        assert any(name.startswith("ice_jobs_") and name.endswith(".csv") for name in ast.literal_eval(names))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise

    # The clone is as it was: nothing modified, nothing untracked ...
    status = subprocess.run(
        ["git", "-C", str(clone), "status", "--porcelain"], capture_output=True, text=True, check=True
    )
    assert status.stdout == ""
    # ... and all the demo wrote is in its working folder (or Python's caches).
    ignored = subprocess.run(
        ["git", "-C", str(clone), "status", "--porcelain", "--ignored"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "!! ice_widgets-notebooks/" in ignored
    assert all(line == "!! ice_widgets-notebooks/" or "__pycache__/" in line for line in ignored), ignored
    assert (work / ".ipynb_checkpoints").is_dir()

    # Right after: the committed-notebook tests pass in the clone ...
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_notebooks.py",
            "-k",
            "committed_without_outputs",
        ],
        cwd=clone,
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # one committed-without-outputs check per example notebook
    assert f"{len(NOTEBOOK_NAMES)} passed" in check.stdout
    # ... and a wheel built from it carries the examples without outputs or widget state.
    wheel_dir = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(wheel_dir), str(clone)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheel_dir.glob("ice_widgets-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        notebooks = [name for name in archive.namelist() if name.endswith(".ipynb")]
        assert sorted(notebooks) == sorted(f"ice_widgets/_notebooks/{name}" for name in NOTEBOOK_NAMES)
        for name in notebooks:
            nb = json.loads(archive.read(name))
            for cell in nb["cells"]:
                assert not cell.get("outputs") and cell.get("execution_count") is None, name
            assert "widgets" not in nb["metadata"], name
        assert not [name for name in archive.namelist() if "ice_widgets-notebooks" in name or ".csv" in name]
    assert (
        subprocess.run(
            ["git", "-C", str(clone), "status", "--porcelain"], capture_output=True, text=True, check=True
        ).stdout
        == ""
    )


def _wheel_notebooks(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        return {
            name.rsplit("/", 1)[1]: json.loads(archive.read(name))
            for name in archive.namelist()
            if name.endswith(".ipynb")
        }


def test_wheel_never_ships_an_executed_notebook(tmp_path: Path, fresh_clone: Path) -> None:
    """Even built from a checkout whose notebooks were run and saved in place (not through
    the demo), the wheel's copies have no outputs, counts or widget state (hatch_build.py)."""
    path = fresh_clone / "notebooks" / "quickstart.ipynb"
    nb = json.loads(path.read_text())
    for number, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = number + 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ran\n"}]
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path.write_text(json.dumps(nb))
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), "."],
        cwd=fresh_clone,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (tmp_path / "dist").glob("ice_widgets-*.whl")
    notebooks = _wheel_notebooks(wheel)
    assert sorted(notebooks) == sorted(NOTEBOOK_NAMES)
    for name, shipped in notebooks.items():
        code = [c for c in shipped["cells"] if c["cell_type"] == "code"]
        assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code), name
        assert "widgets" not in shipped["metadata"], name
    # the sources are the same, cell for cell
    assert [c["source"] for c in notebooks["quickstart.ipynb"]["cells"]] == [c["source"] for c in nb["cells"]]


def test_demo_never_works_on_the_tracked_notebooks(tmp_path: Path) -> None:
    from ice_widgets._demo import DemoError, prepare_notebooks, work_folder

    assert work_folder() == REPO / "ice_widgets-notebooks"  # in this checkout, git-ignored
    with pytest.raises(DemoError, match="tracked example notebooks"):
        prepare_notebooks(NOTEBOOKS)
    target = prepare_notebooks(tmp_path / "work")
    assert sorted(p.name for p in target.iterdir()) == sorted(NOTEBOOK_NAMES)
    edited = target / "quickstart.ipynb"
    edited.write_text("{}")
    prepare_notebooks(target)  # an edited copy is kept ...
    assert edited.read_text() == "{}"
    prepare_notebooks(target, reset=True)  # ... unless --reset
    assert edited.read_bytes() == (NOTEBOOKS / "quickstart.ipynb").read_bytes()
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "-q", "ice_widgets-notebooks/quickstart.ipynb"],
        check=False,
    )
    assert ignored.returncode == 0


def test_demo_extra_is_what_the_demo_needs_and_no_more() -> None:
    """`make demo` installs `.[demo]`: JupyterLab, a kernel and what the example notebooks
    import beyond the core dependencies (pyarrow, for the Parquet export), no test toolchain."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {
        re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in project["optional-dependencies"]["demo"]
    }
    assert {"jupyterlab", "ipykernel", "pyarrow"} <= names
    assert not names & {"pytest", "playwright", "mypy", "ruff", "alibabacloud-ice20201109", "hypothesis"}
    core = {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in project["dependencies"]}
    # every third-party module the example notebooks import comes with core or demo
    imported = set()
    for name in NOTEBOOK_NAMES:
        for cell in json.loads((NOTEBOOKS / name).read_text())["cells"]:
            source = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
            imported |= set(re.findall(r"^\s*(?:from|import)\s+(\w+)", source, re.M))
            if "to_parquet" in source:
                imported.add("pyarrow")
    third_party = imported - set(sys.stdlib_module_names) - {"ice_widgets"}
    assert third_party <= core | names | {"matplotlib", "pandas"}, third_party
    make = (REPO / "Makefile").read_text()
    assert "pip install --quiet -e '.[demo]'" in make
    assert re.search(r"^demo: \$\(VENV\)/\.installed-demo$", make, re.M)
