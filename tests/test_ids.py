"""One job-ID rule and one error-to-row function, seen through every entry point.

The rule (``ice_widgets._ids``): a string holds one or more IDs separated by commas and/or
whitespace; inside a list/Series/column each item is one ID, and an item with whitespace
inside is an ``InvalidJobId`` row, never a request. fetch_jobs, watch and the magics'
argument parser must read the same input to the same IDs, and a job that fails gives the
same ``error_code``/``error_message`` in a fetch_jobs frame and in a watch.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import pytest

import ice_widgets
from ice_widgets import AsyncClient, Client
from ice_widgets._ids import check_id, code_message, error_row, parse_ids, split_ids
from ice_widgets._models import JobError, PackageJob
from ice_widgets.emulator import Emulator
from ice_widgets.extension import ids_from_value
from ice_widgets.widgets._watch import WatchView


def _codes(entries: list[Any]) -> list[Any]:
    return [e if isinstance(e, str) else (e.job_id, e.code) for e in entries]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("a", ["a"]),
        ("  a  ", ["a"]),
        ("a b", ["a", "b"]),
        ("a,b", ["a", "b"]),
        (" a, b\n\tc ,, a", ["a", "b", "c"]),
        (["a b"], [("a b", "InvalidJobId")]),
        (["a", " a ", "b"], ["a", "b"]),
        (["a,b"], [("a,b", "InvalidJobId")]),  # a comma is no separator inside an item
        (
            pd.Series(["a", None, "", "b c"]),
            ["a", (None, "MissingJobId"), ("", "EmptyJobId"), ("b c", "InvalidJobId")],
        ),
        (pd.DataFrame({"job_id": ["x", "y"], "other": [1, 2]}), ["x", "y"]),
        (PackageJob.from_api({"JobId": "j1"}), ["j1"]),
        ([PackageJob.from_api({"JobId": "j1"}), "j2"], ["j1", "j2"]),
        ("", []),
    ],
)
def test_the_rule(given: Any, expected: list[Any]) -> None:
    assert _codes(parse_ids(given)) == expected


@pytest.mark.parametrize("given", [None, 5, {"a": 1}, b"ab"])
def test_what_is_no_set_of_ids_is_a_type_error(given: Any) -> None:
    with pytest.raises(TypeError, match="job_ids"):
        parse_ids(given)


def test_an_id_item_with_any_whitespace_or_control_character_inside_is_refused() -> None:
    """Every Unicode character, inside a list item: whitespace of any kind (no-break and
    ideographic spaces, line and paragraph separators...) and unprintable characters make
    the item an InvalidJobId row; every other character is kept in the ID."""
    for code in range(0x110000):
        char = chr(code)
        entry = check_id(f"ab{char}cd")
        if char.isspace() or not char.isprintable():
            assert isinstance(entry, JobError) and entry.code == "InvalidJobId", hex(code)
        elif char == ",":
            assert isinstance(entry, JobError), hex(code)
        else:
            assert entry == f"ab{char}cd", hex(code)


def test_split_ids() -> None:
    assert split_ids(" a,b  c\n") == ["a", "b", "c"]
    assert split_ids(" , ") == []


def test_error_row_is_one_line_with_the_code() -> None:
    from ice_widgets._errors import NotFoundError

    exc = NotFoundError("gone\n  for good", code="InvalidParameter.ResourceNotFound")
    assert code_message(exc) == ("InvalidParameter.ResourceNotFound", "gone for good")
    assert error_row("j", exc) == JobError("j", "InvalidParameter.ResourceNotFound", "gone for good")
    assert error_row("j", ValueError("")) == JobError("j", "ValueError", "ValueError")


# --------------------------------------------------------------------------- every entry point

INPUTS = ["{0} {1}", "{0},{1}", " {0} ,\n{1} {0}"]


@pytest.fixture(scope="module")
def emu() -> Any:
    with Emulator(jobs=10, seed=31) as server:
        yield server


def _sync(emu: Emulator) -> Client:
    return Client(
        endpoint=emu.endpoint, access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret
    )


def _async(emu: Emulator) -> AsyncClient:
    return AsyncClient(
        endpoint=emu.endpoint, access_key_id=emu.access_key_id, access_key_secret=emu.access_key_secret
    )


@pytest.mark.parametrize("template", INPUTS)
def test_a_string_of_ids_is_read_alike_by_fetch_jobs_watch_and_the_magics(
    emu: Emulator, template: str
) -> None:
    a, b = emu.job_ids[0], emu.job_ids[1]
    text = template.format(a, b)
    with _sync(emu) as client:
        frame = ice_widgets.fetch_jobs(text, client=client, progress=False)
    assert frame["job_id"].tolist() == [a, b]
    assert frame["error_code"].isna().all()
    assert frame["name"].tolist() == [emu.expected(a).get("Name"), emu.expected(b).get("Name")]
    view = ice_widgets.watch(text, client=_sync(emu))  # no loop here: not started
    try:
        assert view._ids == [a, b]
    finally:
        view.close()
    assert ids_from_value(text) == [a, b]


def test_an_item_with_whitespace_is_one_error_row_everywhere_and_never_requested(emu: Emulator) -> None:
    a, b = emu.job_ids[2], emu.job_ids[3]
    bad = f"{a} {b}"
    requests_before = emu.stats["requests"] if isinstance(emu.stats, dict) else None
    with _sync(emu) as client:
        frame = ice_widgets.fetch_jobs([bad], client=client, progress=False)
        assert client.stats.requests == 0
    assert frame["job_id"].tolist() == [bad] and frame["error_code"].tolist() == ["InvalidJobId"]

    async def main() -> tuple[Any, int]:
        async with _async(emu) as aclient:
            view = WatchView([bad, a], client=aclient)
            await view.poll_once()
            sent = aclient.stats.requests
            out = view.frame.set_index("job_id")
            view.close()
            return out, sent

    watched, sent = asyncio.run(main())
    assert sent == 1  # only the good ID was asked for
    assert watched.loc[bad, "error_code"] == "InvalidJobId"
    assert watched.loc[bad, "error_message"] == frame["error_message"].iloc[0]
    assert pd.isna(watched.loc[a, "error_code"])
    with pytest.raises(Exception, match="not a job ID"):
        ids_from_value([bad])
    if requests_before is not None:
        assert emu.stats["requests"] >= requests_before


def test_a_failing_job_gives_the_same_row_in_fetch_jobs_and_in_watch(emu: Emulator) -> None:
    missing = "0" * 32
    with _sync(emu) as client:
        frame = ice_widgets.fetch_jobs([missing], client=client, progress=False)

    async def main() -> Any:
        async with _async(emu) as aclient:
            view = WatchView([missing], client=aclient)
            await view.poll_once()
            out = view.frame
            view.close()
            return out

    watched = asyncio.run(main())
    columns = ["job_id", "error_code", "error_message"]
    assert frame[columns].iloc[0].tolist() == watched[columns].iloc[0].tolist()
    assert frame["error_code"].iloc[0] == "InvalidParameter.ResourceNotFound"
