"""The suite-wide secret scan: a pytest plugin, loaded by ``tests/conftest.py``.

At the end of every pytest session (``pytest_sessionfinish``, after the JUnit XML is
written) it searches everything the run printed and wrote for every secret the test suite
uses, in every form it could take (plain, URL-quoted, base64, hex, a long middle part):

- printed: every test ID; every report of every phase (the failure text and the captured
  stdout, stderr and log sections, which is what pytest prints with ``-rA`` or on failure,
  and what subprocesses wrote to the inherited file descriptors); collection errors;
  warnings;
- written: every file under the session's temporary directory (all ``tmp_path`` folders),
  the JUnit XML, the files and folders created in the system temporary directory during
  the session (other pytest sessions' ``pytest-of-*`` folders excepted), and the files of
  the repository created or changed during the session (``.git`` and ``.venv`` excepted);
  file names as well as contents.

Files are skipped by *path*, never by content: only the credential files that tests write on
purpose as input (``.aliyun/config.json``, anything in ``.alibabacloud/``, ``cred*.ini``).

The secrets are read from the test sources (:func:`suite_secrets`): every string of 10 or
more characters given as an access key secret or a security token (assigned to a name such
as ``SECRET``/``TOKEN``, passed as ``access_key_secret=``/``security_token=``/``secret=``/
``token=``, under such a key in a dict or an ini text, or set as
``ALIBABA_CLOUD_ACCESS_KEY_SECRET``/``..._SECURITY_TOKEN``), and the emulator's default secret.
Shorter ones (``"b"``, ``"wrong"``) cannot be told apart from ordinary text and are not
searched for.

A secret found fails the session (exit status 1) with a report that names where it was and
which form, never the secret itself.
"""

from __future__ import annotations

import ast
import base64
import binascii
import os
import re
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
MIN_LENGTH = 10
MAX_FILE_BYTES = 200_000_000
_SECRET_NAMES = re.compile(r"SECRET|TOKEN|secret|security_token|sts_token")
_SECRET_KEYWORDS = {"access_key_secret", "security_token", "secret", "token", "sts_token"}
_SECRET_KEYS = {
    "access_key_secret",
    "AccessKeySecret",
    "security_token",
    "SecurityToken",
    "sts_token",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
}
_IN_TEXT = re.compile(r"(?m)^\s*(?:access_key_secret|sts_token|security_token)\s*=\s*([\w][\w./+=#-]*)\s*$")
_SKIPPED_DIRS = {".git", ".venv", "node_modules"}


def named_forms(secret: str) -> dict[str, str]:
    """``{form: its name}``: plain, URL-quoted, base64, hex and (when long) a middle part."""
    raw = secret.encode()
    found: dict[str, str] = {}
    for form, name in (
        (secret, "plain"),
        (urllib.parse.quote(secret, safe=""), "URL-quoted"),
        (base64.b64encode(raw).decode(), "base64"),
        (base64.urlsafe_b64encode(raw).decode(), "base64url"),
        (binascii.hexlify(raw).decode(), "hex"),
        (secret[4:-4] if len(secret) >= 20 else "", "middle part"),  # truncated or wrapped copies
    ):
        if form:
            found.setdefault(form, name)
    return found


def forms(secret: str) -> list[str]:
    """The secret as it could appear (see :func:`named_forms`)."""
    return list(named_forms(secret))


def _strings(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value


def secrets_in_source(text: str) -> set[str]:
    """The secrets a Python source defines (see the module docstring)."""
    found: set[str] = set()
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and any(
                isinstance(t, ast.Name) and _SECRET_NAMES.search(t.id) for t in targets
            ):
                found.update(_strings(node.value))
        elif isinstance(node, ast.keyword) and node.arg in _SECRET_KEYWORDS:
            found.update(_strings(node.value))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value in _SECRET_KEYS:
                    found.update(_strings(value))
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            first = node.args[0]
            if isinstance(first, ast.Constant) and first.value in _SECRET_KEYS:
                found.update(_strings(node.args[1]))  # monkeypatch.setenv(NAME, value)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.update(_IN_TEXT.findall(node.value))
    return {s for s in found if len(s) >= MIN_LENGTH}


def suite_secrets(extra_files: Iterable[Path] = ()) -> set[str]:
    """Every secret the tests define (``tests/*.py`` and ``extra_files``), and the emulator's."""
    from ice_widgets.emulator import DEFAULT_ACCESS_KEY_SECRET

    secrets = {DEFAULT_ACCESS_KEY_SECRET}
    for path in {*TESTS.glob("*.py"), *extra_files}:
        try:
            secrets |= secrets_in_source(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return secrets


class Scanner:
    """Every form of every secret, searched in text and bytes in one pass each."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.kinds: dict[bytes, str] = {}
        for secret in sorted(set(secrets)):
            for form, name in named_forms(secret).items():
                self.kinds.setdefault(form.encode(), f"{name} form of {redact(secret)}")
        pattern = b"|".join(re.escape(f) for f in sorted(self.kinds, key=len, reverse=True))
        self.pattern = re.compile(pattern) if pattern else None

    def find(self, data: str | bytes) -> list[str]:
        if self.pattern is None:
            return []
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        return sorted({self.kinds[m.group(0)] for m in self.pattern.finditer(data)})


def redact(secret: str) -> str:
    """Names a secret without showing it: its first two characters and its length."""
    return f"the secret {secret[:2]}…({len(secret)} chars)"


def deliberate_credential_file(path: Path) -> bool:
    """A credential file a test writes on purpose as input: skipped by its path."""
    return (
        (path.name == "config.json" and path.parent.name == ".aliyun")
        or path.parent.name == ".alibabacloud"
        or (path.name.startswith("cred") and path.suffix == ".ini")
    )


def walk_files(folder: Path, since: float | None = None) -> Iterator[Path]:
    """Files under ``folder`` (changed at or after ``since``, when given), not following links."""
    for current, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        for name in files:
            path = Path(current, name)
            try:
                stat = path.lstat()
            except OSError:
                continue
            if not path.is_symlink() and (since is None or max(stat.st_mtime, stat.st_ctime) >= since):
                yield path


def scan_file(scanner: Scanner, path: Path) -> list[str]:
    """Where the secrets are in the name or contents of ``path`` (by path: see the module doc)."""
    found = [f"{kind} in the file name" for kind in scanner.find(str(path))]
    if deliberate_credential_file(path):
        return found
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return [*found, f"too big to scan ({path.stat().st_size:,} bytes)"]
        data = path.read_bytes()
    except OSError:
        return found
    return found + scanner.find(data)


class SecretScan:
    """The plugin: collects what the session printed, scans it and the files at the end."""

    def __init__(self) -> None:
        self.started = time.time() - 1.0  # file times have a coarse resolution
        self.texts: list[tuple[str, str]] = []
        self.module_files: set[Path] = set()
        self.temp_before = self._temp_entries()

    @staticmethod
    def _temp_entries() -> set[str]:
        try:
            return set(os.listdir(tempfile.gettempdir()))
        except OSError:
            return set()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.texts.append((f"collection of {report.nodeid}", report.longreprtext))
        for name, content in report.sections:
            self.texts.append((f"{report.nodeid}: {name}", content))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.texts.append(("test ID", item.nodeid))
            path = getattr(item, "path", None)
            if path is not None and path.suffix == ".py":
                self.module_files.add(Path(path))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        where = f"{report.nodeid} ({report.when})"
        if report.longrepr is not None:
            self.texts.append((f"{where}: failure text", report.longreprtext))
        for name, content in report.sections:
            self.texts.append((f"{where}: {name}", content))

    def pytest_warning_recorded(self, warning_message: Any, nodeid: str) -> None:
        self.texts.append((f"warning in {nodeid or 'the session'}", str(warning_message.message)))

    def files(self, config: pytest.Config) -> Iterator[Path]:
        factory = getattr(config, "_tmp_path_factory", None)
        basetemp = getattr(factory, "_basetemp", None)
        if basetemp is not None and Path(basetemp).is_dir():
            yield from walk_files(Path(basetemp))
        xmlpath = getattr(config.option, "xmlpath", None)
        if xmlpath and Path(xmlpath).is_file():
            yield Path(xmlpath)
        temp = Path(tempfile.gettempdir())
        for name in sorted(self._temp_entries() - self.temp_before):
            path = temp / name
            if name.startswith("pytest-of-") or (basetemp is not None and path == Path(basetemp)):
                continue
            if path.is_file() and not path.is_symlink():
                yield path
            elif path.is_dir() and not path.is_symlink():
                yield from walk_files(path)
        yield from walk_files(ROOT, since=self.started)

    @pytest.hookimpl(trylast=True)  # after the JUnit XML is written
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = session.config
        scanner = Scanner(suite_secrets(self.module_files))
        leaks = [(label, kind) for label, text in self.texts for kind in scanner.find(text)]
        files = 0
        size = 0
        for path in self.files(config):
            files += 1
            with_size = path.stat().st_size if path.exists() else 0
            size += with_size
            leaks.extend((f"file {path}", kind) for kind in scan_file(scanner, path))
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        summary = (
            f"secret scan: {len(scanner.kinds)} forms of the suite's secrets searched in "
            f"{len(self.texts):,} printed texts and {files:,} files ({size / 1e6:,.1f} MB)"
        )
        if not leaks:
            if reporter is not None:
                reporter.write_line(f"{summary}: none found")
            return
        lines = [f"{summary}: FOUND {len(leaks)}"]
        lines.extend(f"  {kind} in {label}" for label, kind in leaks[:50])
        if reporter is not None:
            reporter.write_sep("=", "secret scan failed", red=True)
            for line in lines:
                reporter.write_line(line)
        else:  # pragma: no cover - pytest without its terminal
            print("\n".join(lines))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    """Register the scan once per session (also when loaded with ``-p _secret_session``)."""
    if not config.pluginmanager.has_plugin("ice-widgets-secret-scan"):
        config.pluginmanager.register(SecretScan(), "ice-widgets-secret-scan")
