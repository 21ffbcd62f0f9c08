"""Fail when a CI test run skipped a test that ``tests/allowed_skips.txt`` does not allow.

Usage: ``python .ci/check_skips.py JUNIT_XML [ALLOWED_LIST]`` (the JUnit XML of the pytest
run that ``make test`` made, with ``PYTEST_ARGS=--junitxml=...``). Prints every skip with
its reason; exits 1 when one is not on the list (or the list has an entry without a reason,
or the XML holds no test at all), else 0.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def matches(pattern: str, name: str) -> bool:
    """``*`` matches any text; every other character (brackets included) only itself."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), name) is not None


def allowed_patterns(path: Path) -> list[tuple[str, str]]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = (part.strip() for part in line.partition("|"))
        if not pattern or not reason:
            raise SystemExit(f"{path}:{number}: an entry needs `PATTERN | REASON`: {line!r}")
        entries.append((pattern, reason))
    return entries


def skipped_tests(junit: Path) -> tuple[int, list[tuple[str, str]]]:
    root = ET.parse(junit).getroot()
    cases = list(root.iter("testcase"))
    skipped = []
    for case in cases:
        skip = case.find("skipped")
        if skip is not None:
            name = f"{case.get('classname', '')}.{case.get('name', '')}".lstrip(".")
            skipped.append((name, skip.get("message") or (skip.text or "").strip() or "(no reason given)"))
    return len(cases), skipped


def main(argv: list[str]) -> int:
    junit = Path(argv[1])
    listed = Path(argv[2]) if len(argv) > 2 else Path(__file__).resolve().parent.parent / "tests" / "allowed_skips.txt"
    allowed = allowed_patterns(listed)
    total, skipped = skipped_tests(junit)
    if total == 0:
        print(f"check_skips: {junit} holds no test case", file=sys.stderr)
        return 1
    unexpected = []
    for name, reason in skipped:
        match = next((r for p, r in allowed if matches(p, name)), None)
        print(f"check_skips: skipped {name}: {reason}" + (f" (allowed: {match})" if match else " (NOT ALLOWED)"))
        if match is None:
            unexpected.append(name)
    print(f"check_skips: {total} tests, {len(skipped)} skipped, {len(unexpected)} not allowed by {listed.name}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
