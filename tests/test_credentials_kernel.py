"""Expiring credentials in a real ipykernel: fetch_jobs (worker thread) and watch (kernel loop).

The kernel's environment holds only ``ALIBABA_CLOUD_CREDENTIALS_URI`` (no access key): the
notebook gets 3-second STS tokens from a credentials URI served by the emulator's
:class:`~ice_widgets.emulator._sts.CredentialSources`, renewed by one provider shared by the
batch engine's worker thread and the watch's poller on the kernel's loop.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from _nbharness import cell_with, execute, text_of

from ice_widgets.emulator import CredentialSources, Emulator

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

CELLS = [
    "import asyncio, json\n"
    "import ice_widgets\n"
    "client = ice_widgets.Client()\n"
    "print('SOURCE', client.credentials_source)",
    # the batch engine runs on its own loop in a worker thread, for at least 5 s (two lifetimes)
    "ids = json.load(open('ids.json'))\n"
    "df = ice_widgets.fetch_jobs(ids, client=client, concurrency=8)\n"
    "errors = int(df['error_code'].notna().sum())\n"
    "print('ROWS', len(df), 'ERRORS', errors, 'RENEWALS', client.credentials_renewals)",
    # the watch polls on the kernel's own loop while this cell awaits
    "view = ice_widgets.watch(json.load(open('init.json')), client=client, interval=0.3)\nview",
    "before = client.credentials_renewals\n"
    "await asyncio.sleep(1)\n"
    "print('SHARED', view._aclient._credentials is client._credentials)\n"
    "await asyncio.sleep(8)\n"
    "print('WATCH', view.running, view.rounds, repr(view._failure), len(view._stale),"
    " int(view.frame['error_code'].notna().sum()), client.credentials_renewals - before)\n"
    "print('STATS', json.dumps(client.stats.as_dict()))\n"
    "view.close()",
]


def line(nb: nbformat.NotebookNode, snippet: str, prefix: str) -> list[str]:
    """The words of the output line of the cell holding ``snippet`` that starts with ``prefix``."""
    for text in text_of(cell_with(nb, snippet)).splitlines():
        if text.startswith(prefix):
            return text.split()
    raise AssertionError(f"no {prefix} line in {text_of(cell_with(nb, snippet))!r}")


def test_expiring_credentials_in_a_real_kernel(tmp_path: Path) -> None:
    with (
        CredentialSources(ttl=3) as sources,
        Emulator(jobs=4000, seed=12, sts=sources.issuer, latency_ms=10) as emu,
    ):
        ids = emu.job_ids
        init = [i for i in ids if emu.expected(i)["Status"] == "Init"][:10]
        (tmp_path / "ids.json").write_text(json.dumps(ids))
        (tmp_path / "init.json").write_text(json.dumps(init))
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
        path = tmp_path / "credentials.ipynb"
        nbformat.write(nb, path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
        env.update(
            HOME=str(tmp_path),
            ALIBABA_CLOUD_ICE_ENDPOINT=emu.endpoint,
            ALIBABA_CLOUD_CREDENTIALS_URI=sources.uri,
            ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
            PYTHONUNBUFFERED="1",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        done = execute(path, env, timeout=240)

        assert f"SOURCE alibabacloud_credentials: credentials URI {sources.uri}" in text_of(
            cell_with(done, "credentials_source")
        )
        fetched = line(done, "fetch_jobs", "ROWS")
        rows, errors, renewals = int(fetched[1]), int(fetched[3]), int(fetched[5])
        assert (rows, errors) == (4000, 0)
        assert renewals >= 1, "the fetch outlived its first token"
        assert line(done, "await asyncio.sleep", "SHARED") == ["SHARED", "True"], "one provider"
        watched = line(done, "await asyncio.sleep", "WATCH")
        running, rounds, failure, stale, error_rows, watch_renewals = watched[1:7]
        assert running == "True" and int(rounds) >= 10
        assert failure == "None" and stale == "0" and error_rows == "0"
        assert int(watch_renewals) >= 2, "about one renewal per 3-second token in 9 s"
        stats = json.loads(" ".join(line(done, "await asyncio.sleep", "STATS")[1:]))
        assert stats["errors"] == 0
        print(f"\nkernel: fetch {renewals} renewals; watch {watch_renewals} in {rounds} rounds; {stats}")
        secrets = [k.access_key_secret for k in sources.issuer._keys.values()]
        secrets += [k.security_token for k in sources.issuer._keys.values()]
        saved = json.dumps(done)
        assert not any(secret in saved for secret in secrets)
