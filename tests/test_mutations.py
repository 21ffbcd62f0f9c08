"""The mended tests fail on a deliberately broken build (``tests/_mutations.py``).

Each mutation changes one line of ``ice_widgets``; its tests run in a pytest subprocess
with the mutation in force (in that process and every process it starts) and must FAIL,
each of them, with the expected text in the failure. The same tests pass on the real code
in the rest of the suite, so each of them has been seen to fail and to pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _mutations import ENV, MUTATIONS, Mutation, mutated_source

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(__file__).resolve().parent / "_mutation_site"


def run_under(mutation: Mutation, *args: str, timeout: float = 840) -> subprocess.CompletedProcess[str]:
    """``pytest args`` in a subprocess with ``mutation`` applied in every Python process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env[ENV] = mutation.name
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SITE), str(ROOT), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_every_mutation_still_applies(mutation: Mutation) -> None:
    """The mutated line is still in the code (once) and the mutated function compiles."""
    source, _file, _line = mutated_source(mutation)
    compile(source, "<mutation>", "exec")
    assert mutation.new in source and mutation.tests


@pytest.mark.mutation
@pytest.mark.slow
@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_the_mended_tests_fail_under_the_mutation(mutation: Mutation) -> None:
    if mutation.expensive and os.environ.get("ICE_WIDGETS_ALL_MUTATIONS") != "1":
        pytest.skip(
            f"{mutation.name} takes minutes (JupyterLab and Chromium, or 25 killed child processes):"
            " run with ICE_WIDGETS_ALL_MUTATIONS=1"
        )
    done = run_under(mutation, *mutation.tests)
    output = done.stdout + done.stderr
    assert f"mutation in force: {mutation.name}" in output, output[-3000:]
    assert done.returncode == 1, f"exit {done.returncode}, expected 1 (tests failed):\n{output[-3000:]}"
    if mutation.session_fails:  # every test passes; the session's secret scan fails it
        assert "secret scan failed" in done.stdout and " failed" not in done.stdout.splitlines()[-1]
        assert mutation.expect in output, output[-3000:]
        return
    for node in mutation.tests:
        assert f"FAILED {node}" in done.stdout, f"{node} passed under {mutation.name}:\n{output[-3000:]}"
    assert mutation.expect in output, output[-3000:]
