"""No silent skips: declared test dependencies are imported plainly, every skip names why,
and ``.ci/check_skips.py`` (run by ``.ci/run``) fails CI on a skip not in tests/allowed_skips.txt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CHECK = ROOT / ".ci" / "check_skips.py"
ALLOWED = TESTS / "allowed_skips.txt"


def _calls(name: str) -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
                found.append((f"{path.name}:{node.lineno}", node))
    return found


def test_no_importorskip_anywhere() -> None:
    """A missing declared dependency must fail, not skip a whole module silently."""
    assert [where for where, _ in _calls("importorskip")] == []


def test_every_skip_names_why() -> None:
    for where, call in _calls("skip"):
        reason = (
            call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "reason"), None)
        )
        assert reason is not None, f"{where}: pytest.skip() without a reason"
        if isinstance(reason, ast.Constant):
            assert isinstance(reason.value, str) and len(reason.value) >= 10, f"{where}: {reason.value!r}"


def test_the_allowed_list_has_a_reason_for_each_entry() -> None:
    for line in ALLOWED.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern, _, reason = line.partition("|")
            assert pattern.strip() and len(reason.strip()) >= 10, line


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3" skipped="{skipped}">
<testcase classname="tests.test_a" name="test_runs" time="0.1"/>
<testcase classname="tests.test_a" name="test_other" time="0.1"/>
{case}
</testsuite></testsuites>
"""
SKIPPED_CASE = (
    '<testcase classname="tests.test_b" name="test_needs_x[1]" time="0.0">'
    '<skipped type="pytest.skip" message="x is not installed">tests/test_b.py:9: x</skipped></testcase>'
)


def _check(tmp_path: Path, junit: str, allowed: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "junit.xml").write_text(junit)
    (tmp_path / "allowed.txt").write_text(allowed)
    return subprocess.run(
        [sys.executable, str(CHECK), str(tmp_path / "junit.xml"), str(tmp_path / "allowed.txt")],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("case", "allowed", "status", "says"),
    [
        ("", "# nothing allowed\n", 0, "2 tests, 0 skipped"),
        (
            SKIPPED_CASE,
            "# nothing allowed\n",
            1,
            "skipped tests.test_b.test_needs_x[1]: x is not installed (NOT ALLOWED)",
        ),
        (
            SKIPPED_CASE,
            "tests.test_b.test_needs_x* | x exists only on the release runners\n",
            0,
            "(allowed: x exists",
        ),
        (SKIPPED_CASE, "tests.test_c.* | another module entirely, allowed\n", 1, "NOT ALLOWED"),
        (SKIPPED_CASE, "tests.test_b.test_needs_x[1] | brackets are plain characters here\n", 0, "(allowed:"),
        (SKIPPED_CASE, "tests.test_b.test_needs_x[2] | another parameter, allowed\n", 1, "NOT ALLOWED"),
    ],
    ids=["no-skip", "unlisted-skip", "listed-skip", "other-entry", "brackets", "other-parameter"],
)
def test_check_skips(tmp_path: Path, case: str, allowed: str, status: int, says: str) -> None:
    done = _check(tmp_path, JUNIT.format(skipped=int(bool(case)), case=case), allowed)
    assert done.returncode == status, done.stdout + done.stderr
    assert says in done.stdout, done.stdout


def test_check_skips_refuses_an_entry_without_reason_and_an_empty_run(tmp_path: Path) -> None:
    assert _check(tmp_path, JUNIT.format(skipped=0, case=""), "tests.test_b.*\n").returncode != 0
    empty = '<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="0"/></testsuites>'
    assert _check(tmp_path, empty, "").returncode == 1


def test_the_allowed_list_names_tests_that_exist() -> None:
    """Each entry of tests/allowed_skips.txt matches a mutation proof that is really gated."""
    import re

    from _mutations import MUTATIONS

    names = [
        f"tests.test_mutations.test_the_mended_tests_fail_under_the_mutation[{m.name}]" for m in MUTATIONS
    ]
    expensive = {n for n, m in zip(names, MUTATIONS) if m.expensive}
    for line in ALLOWED.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern = line.partition("|")[0].strip()
            regex = ".*".join(re.escape(part) for part in pattern.split("*"))
            hits = {n for n in names if re.fullmatch(regex, n)}
            assert hits and hits <= expensive, (pattern, hits)


def test_ci_run_checks_the_skips_of_make_test() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    assert 'make test PYTEST_ARGS="--junitxml=' in text
    assert ".ci/check_skips.py" in text and "tests/allowed_skips.txt" in text
    assert text.count("make test") == 1  # the README's test command, and only it
