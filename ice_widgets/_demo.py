"""``ice-widgets demo``: the emulator and JupyterLab on the example notebooks, one command.

The demo starts two child processes, each in its own session (process group):

1. the local ICE emulator (``python -m ice_widgets.emulator``) on a free loopback port,
   seeded with a few thousand jobs, some hostile ones (the injection corpus) and jobs
   that keep progressing;
2. JupyterLab bound to 127.0.0.1 on a free port, with a random token, no browser, no
   network calls (news, update checks and the PyPI extension manager are turned off),
   rooted at the example notebooks, and with ``ALIBABA_CLOUD_ICE_ENDPOINT`` and the
   emulator's demo credentials in its environment (kernels inherit them).

It prints the URL that opens ``quickstart.ipynb`` and waits. Ctrl-C (SIGINT) or SIGTERM
stops both servers; JupyterLab shuts its kernels down, and any descendant still alive
after a grace period is killed by PID. Nothing else is touched.

:class:`DemoServers` is the same launcher as a context manager, for the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

__all__ = ["DemoError", "DemoServers", "example_notebooks", "main"]

#: The notebooks the demo serves, in the order a newcomer should read them.
NOTEBOOKS: tuple[str, ...] = (
    "quickstart.ipynb",
    "batch_analysis.ipynb",
    "live_watch.ipynb",
    "transcode_analysis.ipynb",
    "media_producing_live.ipynb",
)

_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")

# Environment variables that could point a kernel at a real account: the demo drops them.
_CREDENTIAL_VARS: tuple[str, ...] = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABA_CLOUD_CREDENTIALS_FILE",
    "ALIBABA_CLOUD_ICE_ENDPOINT",
    "ALIBABA_CLOUD_REGION_ID",
)


class DemoError(RuntimeError):
    """A demo server did not start (the message carries the tail of its log)."""


def example_notebooks() -> Path:
    """The folder that holds the example notebooks.

    In a source checkout that is ``notebooks/`` beside the package; an installed wheel
    carries a copy in ``ice_widgets/_notebooks``.

    Returns
    -------
    pathlib.Path
    """
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "notebooks", here / "_notebooks"):
        if (candidate / NOTEBOOKS[0]).is_file():
            return candidate
    raise DemoError("the example notebooks are missing from this installation")


#: The demo's working folder: copies of the examples, and everything the demo writes
#: (autosaves, checkpoints, job_ids.csv, exports). Git-ignored in a checkout.
WORK_FOLDER = "ice_widgets-notebooks"


def _in_checkout(folder: Path) -> bool:
    return folder.name == "notebooks" and (folder.parent / "pyproject.toml").is_file()


def work_folder(cwd: Path | None = None) -> Path:
    """Where the demo's copies of the notebooks live.

    In a source checkout: ``ice_widgets-notebooks/`` at the checkout's root (git-ignored),
    never the tracked ``notebooks/``; else ``./ice_widgets-notebooks``.
    """
    source = example_notebooks()
    if _in_checkout(source):
        return source.parent / WORK_FOLDER
    return (cwd or Path.cwd()) / WORK_FOLDER


def prepare_notebooks(target: Path, source: Path | None = None, *, reset: bool = False) -> Path:
    """Copy the example notebooks into ``target``.

    A copy already there is kept (it may hold your edits) unless ``reset``.
    """
    source = source or example_notebooks()
    if target.resolve() == source.resolve():
        raise DemoError(
            f"{target} holds the tracked example notebooks: the demo works on copies "
            f"(omit --notebook-dir to use ./{WORK_FOLDER}, or give another folder)"
        )
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.suffix == ".ipynb" and (reset or not (target / path.name).exists()):
            shutil.copyfile(path, target / path.name)
    return target


def _edited(target: Path, source: Path) -> list[str]:
    """Names of the notebooks in ``target`` that differ from the examples."""
    return [
        name
        for name in NOTEBOOKS
        if (target / name).is_file()
        and (source / name).is_file()
        and (target / name).read_bytes() != (source / name).read_bytes()
    ]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _psutil() -> Any:
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        return None
    return psutil


def _descendants(pid: int) -> list[int]:
    """PIDs of every live descendant of ``pid``."""
    psutil = _psutil()
    if psutil is None:
        return []
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _alive(pid: int) -> bool:
    psutil = _psutil()
    if psutil is None:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class DemoServers:
    """The emulator and JupyterLab as child processes, for the demo and the tests.

    Parameters
    ----------
    notebook_dir : path
        JupyterLab's root directory.
    jobs, seed, hostile : int
        Seeded data set of the emulator.
    progress_seconds : float
        How long a submitted job runs on the emulator, on average; the seeded jobs that are
        still ``Init`` finish within about ten times that.
    emulator_args : sequence of str
        Extra command-line arguments for ``python -m ice_widgets.emulator``.
    endpoint : str, optional
        Use this running emulator (e.g. an in-process :class:`~ice_widgets.emulator.Emulator`)
        instead of starting one.
    extra_env : mapping, optional
        More environment variables for JupyterLab and its kernels.
    startup_timeout : float
        Seconds to wait for each server.

    Examples
    --------
    >>> with DemoServers(notebook_dir=folder) as demo:  # doctest: +SKIP
    ...     print(demo.notebook_url("quickstart.ipynb"))
    """

    def __init__(
        self,
        *,
        notebook_dir: str | os.PathLike[str],
        jobs: int = 2000,
        seed: int = 7,
        hostile: int = 4,
        progress_seconds: float = 10.0,
        emulator_args: Sequence[str] = (),
        endpoint: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        startup_timeout: float = 90.0,
    ) -> None:
        self.notebook_dir = Path(notebook_dir).resolve()
        self.jobs = jobs
        self.seed = seed
        self.hostile = hostile
        self.progress_seconds = progress_seconds
        self.emulator_args = list(emulator_args)
        self.endpoint: str | None = endpoint
        self.extra_env = dict(extra_env or {})
        self.startup_timeout = startup_timeout
        self.token = secrets.token_hex(24)
        self.port: int | None = None
        self.state_dir = Path(tempfile.mkdtemp(prefix="ice-widgets-demo-"))
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self._known: set[int] = set()

    # ------------------------------------------------------------------ URLs
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of JupyterLab."""
        if self.port is None:
            raise DemoError("JupyterLab is not running")
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str = NOTEBOOKS[0], *, workspace: str | None = None) -> str:
        """The URL that opens ``name`` in JupyterLab, token included.

        With ``workspace``, the page uses that (reset) JupyterLab workspace, so tabs opened
        in other pages do not come back.
        """
        if workspace is None:
            return f"{self.base_url}/lab/tree/{name}?token={self.token}"
        return f"{self.base_url}/lab/workspaces/{workspace}/tree/{name}?reset&token={self.token}"

    @property
    def pids(self) -> list[int]:
        """PIDs of the two servers' processes."""
        return [proc.pid for proc in self._procs]

    def environment(self) -> dict[str, str]:
        """The environment JupyterLab and its kernels run with."""
        from ice_widgets.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

        env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_VARS}
        env.update(
            ALIBABA_CLOUD_ICE_ENDPOINT=self.endpoint or "",
            ALIBABA_CLOUD_ACCESS_KEY_ID=DEFAULT_ACCESS_KEY_ID,
            ALIBABA_CLOUD_ACCESS_KEY_SECRET=DEFAULT_ACCESS_KEY_SECRET,
            ALIBABA_CLOUD_REGION_ID="cn-shanghai",
            # A private settings, workspace and runtime area: the demo starts the same every
            # time and leaves no kernel connection files behind.
            JUPYTERLAB_SETTINGS_DIR=str(self.state_dir / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.state_dir / "workspaces"),
            JUPYTER_RUNTIME_DIR=str(self.state_dir / "runtime"),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------- lifecycle
    def __enter__(self) -> DemoServers:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the emulator (unless ``endpoint`` was given) and JupyterLab; wait for both."""
        try:
            if self.endpoint is None:
                self.endpoint = self._start_emulator()
            self._start_lab()
        except BaseException:
            self.stop()
            raise

    def _spawn(
        self, name: str, argv: list[str], env: Mapping[str, str]
    ) -> tuple[subprocess.Popen[bytes], Path]:
        log_path = self.state_dir / f"{name}.log"
        log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=str(self.notebook_dir),
            start_new_session=True,  # its own process group: Ctrl-C reaches only us
        )
        self._procs.append(proc)
        return proc, log_path

    def _start_emulator(self) -> str:
        argv = [
            sys.executable,
            "-m",
            "ice_widgets.emulator",
            "--port",
            "0",
            "--jobs",
            str(self.jobs),
            "--seed",
            str(self.seed),
            "--hostile",
            str(self.hostile),
            "--progress-seconds",
            str(self.progress_seconds),
            "--progress-seeded",
            *self.emulator_args,
        ]
        env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_VARS}
        env["PYTHONUNBUFFERED"] = "1"
        proc, log_path = self._spawn("emulator", argv, env)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(log_path.read_text(errors="replace"))
            if match:
                return match.group(1)
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise DemoError(f"the emulator did not start:\n{_tail(log_path)}")

    def _write_settings(self) -> None:
        # No "get Jupyter news?" prompt and no update check: there may be no internet, and a
        # newcomer should see the notebook, not a toast.
        # Start the notebook's kernel without asking (the "Select Kernel" dialog otherwise
        # appears when a notebook opens before the kernel specs have loaded).
        settings = {
            "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
            # Render every cell (no virtual scrolling): the examples are short, and outputs
            # stay laid out while one scrolls.
            "notebook-extension/tracker": {"autoStartDefaultKernel": True, "windowingMode": "none"},
        }
        for name, values in settings.items():
            path = self.state_dir / "settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def _start_lab(self) -> None:
        self._write_settings()
        for _attempt in range(3):  # the free port may be taken between probe and bind
            self.port = free_port()
            argv = [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={self.notebook_dir}",
                f"--IdentityProvider.token={self.token}",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly",
                # The language-server extension stays fully on: the page asks /lsp/status on
                # load, which answers 404 (a console error) when only the server half is off.
                "--ServerApp.log_level=WARN",
            ]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                argv.append("--allow-root")
            proc, log_path = self._spawn("jupyterlab", argv, self.environment())
            if self._wait_lab(proc):
                return
            if "already in use" not in _tail(log_path, 200) or proc.poll() is None:
                raise DemoError(f"JupyterLab did not start:\n{_tail(log_path)}")
        raise DemoError(f"JupyterLab did not start:\n{_tail(log_path)}")

    def _wait_lab(self, proc: subprocess.Popen[bytes]) -> bool:
        url = f"{self.base_url}/api/status?token={self.token}"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            self._remember_descendants()
            time.sleep(0.2)
        return False

    def start_kernel(self, path: str, kernel: str = "python3") -> str:
        """Start a kernel session for the notebook at ``path`` (relative to the root dir).

        JupyterLab then attaches the notebook to it when it opens, with no kernel dialog,
        and the kernel is warm by the time the page has loaded. Returns the session ID.
        """
        body = json.dumps({"path": path, "name": path, "type": "notebook", "kernel": {"name": kernel}})
        request = urllib.request.Request(
            f"{self.base_url}/api/sessions",
            data=body.encode(),
            method="POST",
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.startup_timeout) as response:
            session = json.loads(response.read())
        self._remember_descendants()
        return str(session["id"])

    def _remember_descendants(self) -> None:
        for proc in self._procs:
            self._known.update(_descendants(proc.pid))

    def stop(self, grace: float = 10.0) -> None:
        """Stop both servers and every process they started; idempotent."""
        self._remember_descendants()
        # JupyterLab first: on SIGTERM it shuts its kernels down cleanly.
        for proc in reversed(self._procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        # Kernels run in their own sessions: kill any that outlived the server, by PID.
        leftovers = [pid for pid in self._known if _alive(pid)]
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 5
        while leftovers and time.monotonic() < end:
            leftovers = [pid for pid in leftovers if _alive(pid)]
            time.sleep(0.1)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self._procs.clear()
        self._known.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def wait(self) -> int | None:
        """Block until one of the servers exits; returns its exit code."""
        while True:
            for proc in self._procs:
                code = proc.poll()
                if code is not None:
                    return code
            self._remember_descendants()
            time.sleep(0.5)


# ---------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``ice-widgets demo`` options (shared with ``cli.py``)."""
    parser.add_argument("--jobs", type=int, default=2000, help="seeded jobs in the emulator (default 2000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the emulator's data set (default 7)")
    parser.add_argument("--hostile", type=int, default=4, help="jobs carrying injection payloads (default 4)")
    parser.add_argument(
        "--notebook-dir",
        default=None,
        help="the working folder, filled with copies of the example notebooks; everything the "
        "demo writes lands there (default: ice_widgets-notebooks/ at the root of a source "
        "checkout, git-ignored, else ./ice_widgets-notebooks)",
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        default=None,
        help="replace the copies in the working folder with fresh ones (your edits are lost)",
    )


def _namespace(args: argparse.Namespace | Sequence[str] | None) -> argparse.Namespace:
    if isinstance(args, argparse.Namespace):
        defaults = argparse.ArgumentParser(add_help=False)
        add_arguments(defaults)
        merged = vars(defaults.parse_args([]))
        merged.update({k: v for k, v in vars(args).items() if v is not None or k not in merged})
        return argparse.Namespace(**merged)
    parser = argparse.ArgumentParser(prog="ice-widgets demo", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return parser.parse_args(list(args) if args is not None else None)


def _notebook_dir(option: str | None, reset: bool = False) -> Path:
    """The working folder, filled with copies of the examples (never the tracked ones)."""
    target = Path(option) if option else work_folder()
    return prepare_notebooks(target, reset=reset).resolve()


def main(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """Run the demo until Ctrl-C or SIGTERM; returns the exit code."""
    options = _namespace(args)
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            "ice-widgets demo needs JupyterLab: pip install 'ice_widgets[demo]' (or run `make demo`)",
            file=sys.stderr,
        )
        return 2
    try:
        folder = _notebook_dir(options.notebook_dir, bool(options.reset))
    except (DemoError, OSError) as exc:
        print(f"ice-widgets demo: {exc}", file=sys.stderr)
        return 2
    edited = _edited(folder, example_notebooks())

    def _terminate(signum: int, frame: FrameType | None) -> Any:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    print("ice-widgets demo: starting the ICE emulator and JupyterLab ...", flush=True)
    demo = DemoServers(notebook_dir=folder, jobs=options.jobs, seed=options.seed, hostile=options.hostile)
    try:
        try:
            demo.start()
        except DemoError as exc:
            print(f"ice-widgets demo: {exc}", file=sys.stderr, flush=True)
            return 1
        with contextlib.suppress(OSError, ValueError, KeyError):
            demo.start_kernel(NOTEBOOKS[0])  # warm, and no kernel dialog on first open
        print(
            f"\n  ICE emulator:  {demo.endpoint}  ({options.jobs} jobs, seed {options.seed})"
            f"\n  notebooks:     {folder}  (copies: what you save, export or write lands here)"
            + (
                f"\n                 kept your edited {', '.join(edited)}; --reset replaces them"
                if edited
                else ""
            )
            + f"\n\n  Open JupyterLab:\n\n    {demo.notebook_url(NOTEBOOKS[0])}\n"
            f"\n  Then try {' and '.join(NOTEBOOKS[1:])} from the file browser."
            "\n  Press Ctrl-C to stop both servers.\n",
            flush=True,
        )
        code = demo.wait()
        print(f"ice-widgets demo: a server exited (code {code}); stopping", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nice-widgets demo: stopping ...", flush=True)
        return 0
    finally:
        demo.stop()
        signal.signal(signal.SIGTERM, previous)
        print("ice-widgets demo: stopped.", flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
