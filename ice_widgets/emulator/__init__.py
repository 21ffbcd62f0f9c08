"""A local ICE (2020-11-09) server for tests, benchmarks and demos.

It speaks the real wire protocol (RPC, ``POST /`` or ``GET /``, parameters in the query
string, JSON answers and JSON errors with ``RequestId``/``HostId``/``Code``/``Message``/
``Recommend``) for Get, List and Submit of every job kind (packaging, transcode, media
producing, snapshot, media convert: ``GetPackageJob``, ``ListTranscodeJobs``,
``SubmitMediaConvertJob``...), and verifies ACS3-HMAC-SHA256 (V3) and HMAC-SHA1 (V1)
signatures, STS tokens, nonces and dates. The official Alibaba Cloud SDK works against it
unchanged and parses every key it sends (``tests/test_official_sdk.py``,
``tests/test_official_sdk_kinds.py``).

In a test or a notebook::

    from ice_widgets.emulator import Emulator
    with Emulator(jobs=1000, seed=1, fault_rate=0.1, qps=200) as emu:
        emu.endpoint, emu.job_ids, emu.expected(emu.job_ids[0]), emu.stats
        emu.ids("transcode"), emu.kind_of(job_id), emu.expected(job_id)  # every kind
        emu.configure(fault_rate=0.0, latency_ms=50)

In a shell (prints one line, ``ICE emulator listening on http://127.0.0.1:PORT``, and
stops on Ctrl-C or SIGTERM)::

    ice-widgets emulator --port 8765 --jobs 2000 --seed 7 --fault-rate 0.1 --qps 100
    python -m ice_widgets.emulator --help

Credentials it accepts unless told otherwise: :data:`DEFAULT_ACCESS_KEY_ID` and
:data:`DEFAULT_ACCESS_KEY_SECRET` (public, good for this emulator only). Error codes and
HTTP statuses are listed in ``ice_widgets/emulator/_server.py``; a job that does not
exist answers HTTP 404 ``InvalidParameter.ResourceNotFound``; throttling answers HTTP 400
``Throttling.User`` with ``x-acs-retry-after`` in milliseconds (as the official SDK reads it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ice_widgets.emulator._constants import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

if TYPE_CHECKING:
    from ice_widgets.emulator._server import Emulator, EmulatorProcess, main, serve, start_subprocess
    from ice_widgets.emulator._sts import CredentialSources, StsIssuer

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "CredentialSources",
    "Emulator",
    "EmulatorProcess",
    "StsIssuer",
    "main",
    "serve",
    "start_subprocess",
]


if not TYPE_CHECKING:
    # Type checkers see the TYPE_CHECKING imports above, and no other name.

    def __getattr__(name: str) -> Any:
        if name in {"Emulator", "EmulatorProcess", "serve", "main", "start_subprocess"}:
            from ice_widgets.emulator import _server

            return getattr(_server, name)
        if name in {"CredentialSources", "StsIssuer"}:  # short-lived STS keys and who hands them out
            from ice_widgets.emulator import _sts

            return getattr(_sts, name)
        raise AttributeError(name)
