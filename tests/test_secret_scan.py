"""The access key secret and the STS token never appear in any output.

Three scans, each with secrets that are distinctive enough to be found anywhere:

1. In this process, a representative run of everything a user does and everything that
   can go wrong (successes, every error class, tracebacks, pickled errors, reprs, DEBUG
   logging of every logger, warnings, progress bars, frames, widget HTML, text and widget
   state, the IPython extension), with the output of all of it collected and searched,
   also for the secret's URL-quoted, base64 and hex forms.
2. The example notebooks executed in a real kernel (nbclient) against an emulator that
   only accepts these secrets: every output, and the saved notebook, searched.
3. The test suite itself: the IDs of every collected test, and a run of a set of fast test
   modules with DEBUG logging and all captured output shown (``-rA``, JUnit XML with
   logs) and the files it wrote (skipped by path only: credential files written as input),
   searched for every secret the suite uses (the emulator's default secret included).

And every session of the whole suite is scanned at its end by ``tests/_secret_session.py``
(``pytest_sessionfinish``): everything it printed and wrote, every module, after all ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import pickle
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import _secret_session
import pytest
from _badserver import BadServer

import ice_widgets
from ice_widgets import AsyncClient, Client, IceError
from ice_widgets.emulator import DEFAULT_ACCESS_KEY_SECRET, Emulator

ROOT = Path(__file__).resolve().parent.parent
SECRET = "SCAN-secret-7Qz4-Kp9w-uniq-0f3e8a"
TOKEN = "SCAN-sts-token-Vb2x-Lm6r-uniq-91cd7e"
KEY_ID = "STS.scanKeyId0001"


forms = _secret_session.forms


def find_secrets(text: str, secrets: Iterable[str]) -> list[str]:
    """Which forms of which secrets are in ``text``, named without showing them."""
    return _secret_session.Scanner(secrets).find(text)


class Collector:
    """Everything that came out, as text."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, str]] = []

    def add(self, label: str, value: Any) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif not isinstance(value, str):
            try:
                value = json.dumps(value, default=repr, ensure_ascii=False)
            except (TypeError, ValueError):
                value = repr(value)
        self.parts.append((label, value))

    def error(self, label: str, error: BaseException) -> None:
        self.add(f"{label}: str", str(error))
        self.add(f"{label}: repr", repr(error))
        self.add(f"{label}: traceback", "".join(traceback.format_exception(error)))
        self.add(f"{label}: vars", repr(vars(error)))
        with contextlib.suppress(Exception):
            self.add(f"{label}: pickle", pickle.dumps(error))
            self.add(f"{label}: unpickled", repr(vars(pickle.loads(pickle.dumps(error)))))

    def check(self, secrets: Iterable[str]) -> None:
        secrets = list(secrets)
        leaks = [(label, find) for label, text in self.parts for find in find_secrets(text, secrets)]
        assert not leaks, f"secret found in: {leaks[:10]}"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(
        jobs=300,
        seed=61,
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        security_token=TOKEN,
        hostile=6,
    ) as emulator:
        yield emulator


def _client(emu: Emulator, **kw: Any) -> Client:
    kw.setdefault("access_key_id", KEY_ID)
    kw.setdefault("access_key_secret", SECRET)
    kw.setdefault("security_token", TOKEN)
    return Client(endpoint=emu.endpoint, **kw)


def _widget_states(widget: Any) -> Iterator[dict[str, Any]]:
    """The state of a widget and of every widget it holds (what the front end receives)."""
    seen: set[int] = set()
    stack = [widget]
    while stack:
        current = stack.pop()
        if id(current) in seen or not hasattr(current, "get_state"):
            continue
        seen.add(id(current))
        state = current.get_state()
        yield state
        for value in state.values():
            if isinstance(value, str) and value.startswith("IPY_MODEL_"):
                model = type(current).widgets.get(value[len("IPY_MODEL_") :])
                if model is not None:
                    stack.append(model)
        stack.extend(getattr(current, "children", ()) or ())


def test_everything_a_session_does_never_shows_the_secret(
    emu: Emulator, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    out = Collector()
    caplog.set_level(logging.DEBUG)  # every logger: ice_widgets, httpx, httpcore, asyncio
    ice_logger = logging.getLogger("ice_widgets")
    ice_logger.setLevel(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        # Clients, from arguments and from the environment.
        with _client(emu) as client:
            out.add("client repr", repr(client))
            out.add("client str", str(client))
            out.add("client vars", repr(vars(client)))
            out.add("credentials_source", client.credentials_source)
            out.add("stats", client.stats.as_dict())
            # Pickled: the bytes when it pickles, the error when it refuses. Seen failing
            # under the mutation ``credential_picklable`` (tests/_mutations.py), which the
            # old test (the pickled bytes thrown away) let pass.
            for label, value in (
                ("client", client),
                ("credentials provider", client._credentials),
                ("credential", client._credentials.get()),
            ):
                try:
                    out.add(f"pickled {label}", pickle.dumps(value))
                except Exception as exc:
                    out.error(f"pickle {label}", exc)
            job = client.get_package_job(emu.job_ids[0])
            out.add("job repr", repr(job))
            out.add("job raw", dict(job.raw))
            out.add("list", [repr(j) for j, _ in zip(client.list_package_jobs(page_size=20), range(50))])
            new_id = client.submit_package_job("oss://bucket/in.mp4", "oss://bucket/out/", name="scan")
            out.add("submit", new_id)

            # Per-job errors.
            for bad_id in ("0" * 32, "x" * 300):
                try:
                    client.get_package_job(bad_id)
                except IceError as exc:
                    out.error(f"get {bad_id[:8]}", exc)

            # fetch_jobs with a progress bar (text on stderr here), list_jobs, the accessor.
            frame = ice_widgets.fetch_jobs(
                [*emu.job_ids[:120], "0" * 32, "", None], client=client, progress=True
            )
            out.add("frame repr", repr(frame))
            out.add("frame html", frame.to_html())
            out.add("frame json", frame.to_json(default_handler=str))
            out.add("frame attrs", repr(frame.attrs))
            with contextlib.suppress(Exception):
                out.add("summary", repr(frame.ice.summary()))
                out.add("failures", repr(frame.ice.failures()))
            listed = ice_widgets.list_jobs(client=client, limit=150, progress=True)
            out.add("list_jobs repr", repr(listed))

            # Widgets: static HTML, text, mime bundles and the state sent to the front end.
            from ice_widgets import JobCard, JobsView

            card = JobCard(job, client=client)
            view = JobsView(frame, client=client)
            try:
                for name, widget in (("card", card), ("view", view)):
                    out.add(f"{name} html", widget.to_html())
                    out.add(f"{name} text", widget.to_text())
                    out.add(f"{name} repr", repr(widget))
                    out.add(f"{name} bundle", widget._repr_mimebundle_())
                    for state in _widget_states(widget):
                        out.add(f"{name} state", state)
                card.refresh()
                out.add("card after refresh", card.to_html())
            finally:
                card.close()
                view.close()

        # Clients from the environment; errors that name their source.
        env = {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
            "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN,
        }
        with _patched_env(env), Client(endpoint=emu.endpoint) as env_client:
            out.add("env client repr", repr(env_client))
            out.add("env client source", env_client.credentials_source)
            emu.configure(expired_security_tokens=[TOKEN])
            try:
                env_client.get_package_job(emu.job_ids[0])
            except IceError as exc:
                out.error("expired token", exc)
            finally:
                emu.configure(expired_security_tokens=[])

        # Wrong secret (the server's answer echoes nothing secret), clock skew, batch stop.
        with _client(emu, access_key_secret=SECRET + "-wrong") as wrong:
            try:
                wrong.get_package_job(emu.job_ids[0])
            except IceError as exc:
                out.error("wrong secret", exc)
            try:
                ice_widgets.fetch_jobs(emu.job_ids[:50], client=wrong, progress=True)
            except IceError as exc:
                out.error("batch with wrong secret", exc)
        with _client(emu) as skewed:
            skewed._builder.clock = lambda: __import__("time").time() - 1200
            try:
                skewed.get_package_job(emu.job_ids[0])
            except IceError as exc:
                out.error("clock skew", exc)

        # Retries exhausted on throttling, transport failures of every kind.
        emu.configure(fault_rate=1.0, faults=["throttle", "503", "500", "drop", "truncate"])
        try:
            with _client(emu, max_retries=2) as flaky:
                flaky._sleep = lambda seconds: None
                for _ in range(5):
                    try:
                        flaky.get_package_job(emu.job_ids[1])
                    except IceError as exc:
                        out.error("faults", exc)
        finally:
            emu.configure(fault_rate=0.0)
        for mode in ("html", "empty", "wrong_id", "redirect", "silent", "trickle"):
            with BadServer(mode, max_stall=5) as server:
                with Client(
                    endpoint=server.endpoint,
                    access_key_id=KEY_ID,
                    access_key_secret=SECRET,
                    security_token=TOKEN,
                    timeout=0.3,
                    max_retries=1,
                ) as bad:
                    try:
                        bad.get_package_job("0" * 32)
                    except IceError as exc:
                        out.error(f"bad server {mode}", exc)
                # The token did go to the server (it must, to authenticate), in the header only.
                assert server.requests[0].headers.get("x-acs-security-token") == TOKEN
                assert TOKEN not in server.requests[0].target

        # The async client, and a watch stepped by hand.
        async def run_async() -> None:
            async with AsyncClient(
                endpoint=emu.endpoint, access_key_id=KEY_ID, access_key_secret=SECRET, security_token=TOKEN
            ) as aclient:
                out.add("async repr", repr(aclient))
                out.add("async job", repr(await aclient.get_package_job(emu.job_ids[2])))
                try:
                    await aclient.get_package_job("0" * 32)
                except IceError as exc:
                    out.error("async not found", exc)
                from ice_widgets import watch

                view = watch(emu.job_ids[:30], client=aclient, interval=0.1)
                try:
                    await asyncio.wait_for(view.poll_once(), 30)
                    out.add("watch html", view.to_html())
                    for state in _widget_states(view):
                        out.add("watch state", state)
                finally:
                    view.close()

        asyncio.run(run_async())

        # The IPython extension on a test shell.
        _run_magics(out, emu)

    for warning in caught:
        out.add("warning", f"{warning.category.__name__}: {warning.message}")
    captured = capsys.readouterr()
    out.add("stdout", captured.out)
    out.add("stderr", captured.err)
    out.add("log text", caplog.text)
    for record in caplog.records:
        out.add("log record", f"{record.getMessage()} {record.args!r} {record.exc_text or ''}")
    assert caplog.records, "DEBUG logging captured nothing: the scan would prove little"
    out.check([SECRET, TOKEN])


@contextlib.contextmanager
def _patched_env(values: dict[str, str]) -> Iterator[None]:
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_magics(out: Collector, emu: Emulator) -> None:
    try:
        from IPython.testing.globalipapp import get_ipython
        from IPython.utils.capture import capture_output
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    env = {
        "ALIBABA_CLOUD_ICE_ENDPOINT": emu.endpoint,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN,
    }
    with _patched_env(env), capture_output() as io_out:
        shell.run_line_magic("load_ext", "ice_widgets")
        try:
            for line in (
                f"ice_job {emu.job_ids[0]}",
                f"ice_job {'0' * 32}",
                f"ice_jobs {' '.join(emu.job_ids[:5])}",
            ):
                try:
                    shell.run_line_magic(line.split()[0], line.split(" ", 1)[1])
                except Exception as exc:
                    out.error(f"magic {line[:12]}", exc)
        finally:
            shell.run_line_magic("unload_ext", "ice_widgets")
    out.add("magics stdout", io_out.stdout)
    out.add("magics stderr", io_out.stderr)
    for output in io_out.outputs:
        out.add("magics display", output.data)


# --------------------------------------------------------------------------- notebooks


@pytest.mark.notebook
@pytest.mark.slow
def test_executed_notebooks_never_show_the_secret(tmp_path: Path) -> None:
    import _nbharness as harness
    import nbformat
    from nbclient import NotebookClient

    folder = harness.copy_notebooks(tmp_path / "notebooks")
    with Emulator(
        jobs=harness.DEMO_JOBS,
        seed=harness.DEMO_SEED,
        hostile=harness.DEMO_HOSTILE,
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        progress_seconds=1.0,
    ) as emu:
        env = harness.kernel_env(emu.endpoint, KEY_ID, SECRET, tmp_path / "home")
        env["ALIBABA_CLOUD_LOG_LEVEL"] = "DEBUG"
        out = Collector()
        for name in harness.NOTEBOOK_NAMES:
            # Errors are allowed here: a failing cell's traceback is output to scan too.
            path = folder / name
            nb = nbformat.read(path, as_version=4)
            client = NotebookClient(
                nb,
                timeout=240,
                kernel_name="python3",
                allow_errors=True,
                resources={"metadata": {"path": str(folder)}},
                startup_timeout=120,
            )
            client.execute(env=dict(env), cwd=str(folder))
            out.add(name, nbformat.writes(nb))
            assert any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
        for path in folder.rglob("*"):
            if path.is_file():
                out.add(str(path), path.read_bytes())
    out.check([SECRET])


# --------------------------------------------------------------------------- the test suite


def suite_secrets() -> set[str]:
    """Every secret the test files define (constants and inside tests), and the emulator's."""
    secrets = _secret_session.suite_secrets()
    assert {DEFAULT_ACCESS_KEY_SECRET, SECRET, TOKEN} <= secrets
    return secrets


def test_secrets_defined_inside_tests_are_searched_for() -> None:
    """Not only module constants: keyword arguments, dict keys, ini text, setenv calls."""
    source = (
        'SECRET = "constant-secret-0001"\n'
        "def test():\n"
        '    Client(access_key_secret="keyword-secret-0002", security_token="keyword-token-0003")\n'
        '    config = {"access_key_secret": "dict-secret-0004", "sts_token": "dict-token-0005"}\n'
        '    ini = "[default]\\naccess_key_secret = ini-secret-0006\\n"\n'
        '    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "env-token-0007")\n'
        '    Client(access_key_secret="short")\n'
    )
    assert _secret_session.secrets_in_source(source) == {
        "constant-secret-0001",
        "keyword-secret-0002",
        "keyword-token-0003",
        "dict-secret-0004",
        "dict-token-0005",
        "ini-secret-0006",
        "env-token-0007",
    }
    secrets = suite_secrets()
    assert "tok-secret-value" in secrets  # a keyword argument inside a test of test_emulator.py


#: Fast modules run again in a subprocess with every output shown (about 20 s in all).
SUITE_SUBSET = [
    "tests/test_client_mock.py",
    "tests/test_core.py",
    "tests/test_credentials.py",
    "tests/test_clock_credentials.py",
    "tests/test_client_emulator.py",
    "tests/test_render.py",
]


def _pytest(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


@pytest.mark.slow
def test_test_suite_output_never_shows_a_secret(
    tmp_path: Path,
) -> None:
    secrets = suite_secrets()
    assert len(secrets) >= 3
    out = Collector()

    collected = _pytest(["--collect-only", "-q", "tests"], tmp_path)
    out.add("collected test IDs", collected.stdout + collected.stderr)
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr[-2000:]
    assert "test_secret_scan.py" in collected.stdout

    modules = [m for m in SUITE_SUBSET if (ROOT / m).exists()]
    junit = tmp_path / "junit.xml"
    run = _pytest(
        [
            "-q",
            "-rA",
            "--log-level=DEBUG",
            f"--junitxml={junit}",
            "-o",
            "junit_logging=all",
            "--basetemp",
            str(tmp_path / "basetemp"),
            *modules,
        ],
        tmp_path,
    )
    out.add("subset stdout", run.stdout)
    out.add("subset stderr", run.stderr)
    assert junit.exists(), "the JUnit XML was not written"
    out.add("junit", junit.read_text(encoding="utf-8"))
    # Every module ran to the end (a test failing elsewhere for its own reasons still gives
    # output to scan, so it is not this test's failure), nothing was skipped or broke, and
    # the subset's own session scan (tests/_secret_session.py) found nothing.
    last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode in (0, 1) and " passed" in last, run.stdout[-3000:] + run.stderr[-2000:]
    assert "skipped" not in last and "error" not in last, last
    assert "secret scan:" in run.stdout and "none found" in run.stdout, run.stdout[-2000:]
    out.check(secrets)

    # The files the subset wrote, skipped by path only (credential files written as input).
    scanner = _secret_session.Scanner(secrets)
    files = list(_secret_session.walk_files(tmp_path / "basetemp"))
    assert files, "the subset wrote no files: the scan would prove little"
    leaks = [(str(path), kind) for path in files for kind in _secret_session.scan_file(scanner, path)]
    assert not leaks, leaks[:10]
    # The whole session's files are scanned at its end, after every module ran:
    # tests/_secret_session.py (pytest_sessionfinish).


def _plugin_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    path = os.environ.get("PYTHONPATH")
    tests = str(ROOT / "tests")
    monkeypatch.setenv("PYTHONPATH", f"{tests}{os.pathsep}{path}" if path else tests)


def test_the_session_scan_fails_a_session_that_leaks(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite-wide scan itself: a leak in printed output or in a written file fails the
    session, the deliberate credential file does not, and the report never shows the secret."""
    planted = "planted-SECRET-0f9e8d7c6b5a"
    pytester.makepyfile(
        test_leaky=f'''
        SECRET = "{planted}"

        def test_prints_it():
            print("debug:", SECRET[::-1][::-1])

        def test_writes_it(tmp_path):
            (tmp_path / "export.csv").write_text("a," + SECRET)

        def test_credential_file_on_purpose(tmp_path):
            (tmp_path / ".aliyun").mkdir()
            (tmp_path / ".aliyun" / "config.json").write_text(\'{{"access_key_secret": "\' + SECRET + \'"}}\')
        '''
    )
    _plugin_importable(monkeypatch)
    result = pytester.runpytest_subprocess("-p", "_secret_session", "-p", "no:cacheprovider")
    text = "\n".join(result.outlines + result.errlines)
    assert result.ret == 1, text[-3000:]
    result.assert_outcomes(passed=3)
    assert "secret scan failed" in text
    assert "test_leaky.py::test_prints_it (call): Captured stdout call" in text
    assert "export.csv" in text
    assert "config.json" not in text  # skipped by its path: a credential file on purpose
    assert planted not in text and planted[4:-4] not in text


def test_the_session_scan_passes_a_clean_session(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_clean="""
        SECRET = "clean-SECRET-1a2b3c4d5e6f"

        def test_quiet(tmp_path):
            (tmp_path / "out.txt").write_text("nothing secret")
            print("all good")
        """
    )
    _plugin_importable(monkeypatch)
    result = pytester.runpytest_subprocess("-p", "_secret_session", "-p", "no:cacheprovider")
    assert result.ret == 0
    assert any("secret scan:" in line and "none found" in line for line in result.outlines)


def test_the_scan_finds_a_planted_secret() -> None:
    """The scanner itself works: every form of a planted secret is found."""
    for form in forms(SECRET):
        out = Collector()
        out.add("planted", f"some text {form} more text")
        with pytest.raises(AssertionError):
            out.check([SECRET])
    buffer = io.StringIO()
    buffer.write("nothing here")
    out = Collector()
    out.add("clean", buffer.getvalue())
    out.check([SECRET])
