"""watch(): one poller on the running event loop, against the emulator (a real HTTP server)."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import pytest

from ice_widgets import AsyncClient
from ice_widgets.emulator import Emulator
from ice_widgets.widgets import watch
from ice_widgets.widgets._watch import WatchView, live_pollers, stop_all


def _async(emulator: Emulator, **kwargs: Any) -> AsyncClient:
    return AsyncClient(
        endpoint=emulator.endpoint,
        access_key_id=emulator.access_key_id,
        access_key_secret=emulator.access_key_secret,
        **kwargs,
    )


def _submit(client: Any, n: int, tag: str = "force-success") -> list[str]:
    return [
        client.submit_package_job("oss://bucket/in.mp4", "oss://bucket/out.m3u8", name=f"{tag} watch {i}")
        for i in range(n)
    ]


def _tree(root: Any) -> list[Any]:
    found = [root]
    for child in getattr(root, "children", ()) or ():
        found.extend(_tree(child))
    return found


def _seeded_init(emulator: Emulator, n: int) -> list[str]:
    ids = [j for j in emulator.job_ids if emulator.expected(j)["Status"] == "Init"][:n]
    assert len(ids) == n
    return ids


def test_poller_runs_on_the_loop_until_all_jobs_finish(emulator: Emulator, client: Any) -> None:
    ids = _submit(client, 3) + _submit(client, 1, tag="force-fail")

    async def main() -> WatchView:
        aclient = _async(emulator)
        view = watch(ids, client=aclient, interval=0.2)
        assert view.running
        assert view.task is not None and view.task.get_loop() is asyncio.get_running_loop()
        assert view in live_pollers()
        await asyncio.wait_for(asyncio.shield(view.task), timeout=60)
        assert not view.running and view.finished
        await aclient.aclose()
        return view

    view = asyncio.run(main())
    assert view.rounds >= 2  # it saw the jobs Init first, then polled again
    statuses = dict(zip(view.frame["job_id"], view.frame["status"].astype(str)))
    assert statuses == {i: emulator.expected(i)["Status"] for i in ids}
    assert sorted(statuses.values()) == ["Fail", "Success", "Success", "Success"]
    assert view.summary.counts == {"Success": 3, "Fail": 1}
    assert "all jobs finished" in view._notice_html.value and "updated" in view._notice_html.value
    assert view not in live_pollers()
    view.close()


def test_poller_stops_on_close(emulator: Emulator) -> None:
    ids = _seeded_init(emulator, 5)  # seeded Init jobs never finish

    async def main() -> None:
        aclient = _async(emulator)
        view = watch(ids, client=aclient, interval=0.1)
        task = view.task
        assert task is not None
        while view.rounds < 2:
            await asyncio.sleep(0.05)
        assert view.running
        view.close()
        await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled() and not view.running
        assert view not in live_pollers()
        rounds = view.rounds
        await asyncio.sleep(0.3)
        assert view.rounds == rounds
        await aclient.aclose()

    asyncio.run(main())


def test_stop_all_stops_every_poller(emulator: Emulator) -> None:
    """After stop_all() no watch polls again: counted at the server and in each view's rounds.

    (``running`` alone proves little: stop() forgets the task, so it is False at once.)
    """
    ids = _seeded_init(emulator, 2)

    async def main() -> None:
        aclient = _async(emulator)
        views = [watch(ids, client=aclient, interval=0.1) for _ in range(3)]
        while min(v.rounds for v in views) < 2:  # every poller has polled, and is polling
            await asyncio.sleep(0.02)
        assert all(v.running for v in views)
        stop_all()
        await asyncio.sleep(0.05)  # a round already in flight may end
        assert not any(v.running for v in views) and live_pollers() == []
        requests, rounds = emulator.stats.requests, [v.rounds for v in views]
        await asyncio.sleep(0.5)  # five intervals
        assert emulator.stats.requests == requests, "polled after stop_all(): requests reached the server"
        assert [v.rounds for v in views] == rounds, "polled after stop_all(): rounds went on"
        assert all(v.task is None for v in views)
        assert "stopped" in views[0]._notice_html.value
        await aclient.aclose()

    asyncio.run(main())


def test_without_a_loop_it_is_stepped_by_hand(emulator: Emulator, ice_env: Emulator) -> None:
    ids = [*_seeded_init(emulator, 2), emulator.job_ids[0], "0" * 32]
    view = watch(ids)  # no running loop here: nothing is scheduled
    assert not view.running and view.task is None
    assert "not polling" in view._notice_html.value
    assert view.summary.counts == {"unknown": 4}  # not fetched yet, and not shown as current

    fetched = asyncio.run(view.poll_once())
    assert fetched == 4
    frame = view.frame.set_index("job_id")
    assert frame.loc[ids[0], "status"] == "Init"
    assert frame.loc[ids[2], "status"] == emulator.expected(ids[2])["Status"]
    assert frame.loc["0" * 32, "error_code"]  # per-row fetch error, shown
    assert "0" * 32 in view._done  # a job that does not exist is never polled again
    assert not view.finished
    assert asyncio.run(view.poll_once()) == 2  # only the unfinished ones
    secret = emulator.access_key_secret
    states = [repr(w.get_state()) for w in _tree(view)]
    assert not any(secret in s for s in states)
    assert secret not in repr(view._repr_mimebundle_()) and secret not in repr(view)
    view.close()


def test_failed_refresh_marks_jobs_stale_and_throttling_backs_off(
    emulator: Emulator, restore_emulator: Emulator
) -> None:
    ids = _seeded_init(emulator, 3)

    async def main() -> WatchView:
        aclient = _async(emulator, max_retries=0)
        view = WatchView(ids, client=aclient, interval=1.0)
        await view.poll_once()
        assert view.stale == {}
        emulator.configure(fault_rate=1.0, faults=["503"])
        await view.poll_once()
        assert set(view.stale) == set(ids)
        assert view.frame["status"].astype(str).tolist() == ["Init"] * 3  # last known, kept
        assert view._table.value.count('class="ice-stale"') == 3
        assert "3 stale" in view._notice_html.value
        assert view.delay == 1.0
        emulator.configure(fault_rate=1.0, faults=["throttle"])
        await view.poll_once()
        assert view.delay >= 2.0
        await view.poll_once()
        assert view.delay >= 4.0 and "throttled" in view._notice_html.value
        emulator.configure(fault_rate=0.0)
        await view.poll_once()
        assert view.stale == {} and view.delay == 1.0
        assert "ice-stale" not in view._table.value
        await aclient.aclose()
        return view

    asyncio.run(main()).close()


def test_cards_opened_from_a_watch_show_stale(emulator: Emulator, restore_emulator: Emulator) -> None:
    ids = _seeded_init(emulator, 1)

    async def main() -> WatchView:
        aclient = _async(emulator, max_retries=0)
        view = WatchView(ids, client=aclient)
        await view.poll_once()
        emulator.configure(fault_rate=1.0, faults=["503"])
        await view.poll_once()
        await aclient.aclose()
        return view

    view = asyncio.run(main())
    card = view.open_job(ids[0])
    # The card itself says it is stale, and why, in HTML and in text (not the notice's count).
    # Seen failing under the mutation ``card_text_hides_stale`` (tests/_mutations.py), which
    # the old check (``"stale" in view.to_text()``, matching the notice "1 stale") let pass.
    assert card.stale is not None and card.stale.startswith("ServiceUnavailable")
    assert card.to_html().count('class="ice-stale"') == 1
    card_text = card._repr_mimebundle_()["text/plain"]
    assert "[stale: ServiceUnavailable" in card_text, card_text
    assert view._table.value.count('class="ice-stale"') == 1  # its row in the table
    frame = view.frame.copy()
    frame["name"] = pd.array(["renamed"] * len(frame), dtype="string")
    view.set_frame(frame, stale={})  # a newer state reaches the open card
    assert card.stale is None and card.job.name == "renamed" and "renamed" in card._html.value
    assert "[stale:" not in card._repr_mimebundle_()["text/plain"]
    assert 'class="ice-stale"' not in card.to_html() and 'class="ice-stale"' not in view._table.value
    view.close()


@pytest.mark.notebook
def test_in_a_real_kernel_the_poller_runs_on_the_kernel_loop(tmp_path: Any) -> None:
    """ipykernel: %ice_watch starts a Task on the kernel's loop; cells still run; unload stops it."""
    from pathlib import Path

    import nbformat
    from _nbharness import execute, kernel_env

    with Emulator(jobs=50, seed=3, port=0) as emu:
        init = [j for j in emu.job_ids if emu.expected(j)["Status"] == "Init"][:3]
        cells = [
            "%load_ext ice_widgets\nimport asyncio\nfrom ice_widgets import Client\nc = Client()\n"
            "ids = [c.submit_package_job('oss://b/in.mp4', 'oss://b/out.m3u8', name=f'force-success {i}')"
            " for i in range(3)]",
            "%ice_watch --interval 0.2 ids",
            "v = _ice_watch\nprint('running', v.running, v.task.get_loop() is asyncio.get_running_loop())",
            "print('cell ran while watching')",
            "for _ in range(300):\n    if not v.running: break\n    await asyncio.sleep(0.1)\n"
            "print('finished', v.finished, v.rounds > 1, v.summary.counts)",
            f"import ice_widgets\nw = ice_widgets.watch({init!r}, interval=0.1)\nawait asyncio.sleep(0.5)\n"
            "print('w running', w.running)",
            "%unload_ext ice_widgets",
            "await asyncio.sleep(0.3)\nr = w.rounds\nawait asyncio.sleep(0.5)\n"
            "print('after unload', w.running, w.rounds == r)",
        ]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        path = Path(tmp_path) / "watch.ipynb"
        nbformat.write(nb, path)
        env = kernel_env(emu.endpoint, emu.access_key_id, emu.access_key_secret, Path(tmp_path) / "home")
        done = execute(path, env, timeout=120)
    texts = [
        "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout").strip()
        for cell in done.cells
    ]
    errors = [o for cell in done.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    assert texts[2] == "running True True"
    assert texts[3] == "cell ran while watching"
    assert texts[4] == "finished True True {'Success': 3}"
    assert texts[5] == "w running True"
    assert texts[7] == "after unload False True"
    (display,) = done.cells[1]["outputs"]
    assert {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"} <= set(display["data"])


def test_cards_of_a_watch_refresh_against_the_same_endpoint(emulator: Emulator, client: Any) -> None:
    """An AsyncClient given to watch() lends its endpoint and key to the cards' sync client."""
    ids = emulator.job_ids[:2]

    async def main() -> WatchView:
        aclient = _async(emulator)
        view = WatchView(ids, client=aclient)
        await view.poll_once()
        await aclient.aclose()
        return view

    view = asyncio.run(main())
    card = view.open_job(ids[0])
    assert card.refresh().status == emulator.expected(ids[0])["Status"] and card.stale is None
    assert emulator.access_key_secret not in repr(card._client)
    view.close()
    # and a sync Client given to watch() gets an async twin for the poller
    view = WatchView(ids, client=client)
    asyncio.run(view.poll_once())
    assert view.frame["error_code"].isna().all()
    view.close()


def test_watch_ids_are_cleaned() -> None:
    from ice_widgets._models import PackageJob

    frame = pd.DataFrame({"job_id": ["a", " b ", None, "a", float("nan"), ""]})
    view = WatchView(frame)
    assert view._ids == ["a", "b"]
    view.close()
    view = watch("a, b  c")  # no loop: not started
    assert view._ids == ["a", "b", "c"] and not view.running
    view.close()
    view = WatchView([PackageJob(job_id="x"), "y"])
    assert view._ids == ["x", "y"]
    view.close()
    empty = WatchView([])
    assert empty.finished and "nothing to watch: no job IDs were given" in empty._notice_html.value
    empty.close()
