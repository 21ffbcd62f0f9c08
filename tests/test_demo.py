"""``ice-widgets demo`` end to end: started as a user starts it, used, then stopped with Ctrl-C.

The demo runs as a subprocess of this test (its own session, as in a terminal), with an
empty HOME and no ALIBABA_CLOUD_* variables: the state of a fresh clone. The test reads
the URL the demo prints, checks JupyterLab answers on it, runs the quickstart notebook
in a kernel against the demo's own emulator, sends SIGINT and checks that every process
the demo started is gone.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from _nbharness import NOTEBOOKS, copy_notebooks, execute, html_of, kernel_env

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
