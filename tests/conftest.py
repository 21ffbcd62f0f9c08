"""Shared pytest fixtures: a seeded ICE emulator and clients bound to it.

- ``emulator``: a module-scoped :class:`~ice_widgets.emulator.Emulator` (300 jobs, seed 7)
  on 127.0.0.1, any free port, no faults. Tests that change its settings with
  ``emulator.configure(...)`` must restore them (the ``restore_emulator`` fixture does).
- ``ice_env``: the ``ALIBABA_CLOUD_*`` environment pointing at that emulator, with an
  empty temporary HOME (so no real credentials file is ever read).
- ``client`` / ``async_client``: an ``ice_widgets.Client`` / ``AsyncClient`` bound to the
  emulator. The async one is created unopened; use it as ``async with async_client:``
  inside ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _secret_session import pytest_configure  # noqa: F401  (the suite-wide secret scan)

from ice_widgets.emulator import Emulator

# With no credentials configured, the official chain asks the ECS metadata service
# (100.100.100.200): tests never leave loopback. Tests of that path unset it.
os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")

EMULATOR_JOBS = 300
EMULATOR_SEED = 7

_ENV_VARS = (
    "ALIBABA_CLOUD_ICE_ENDPOINT",
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABA_CLOUD_REGION_ID",
    "ALIBABA_CLOUD_CREDENTIALS_FILE",
)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say so when a deliberately broken build was under test (``tests/_mutations.py``)."""
    name = os.environ.get("ICE_WIDGETS_MUTATION")
    if name:
        module = sys.modules.get("_ice_widgets_mutations")  # loaded by tests/_mutation_site
        applied = name in getattr(module, "APPLIED", ())
        state = "in force" if applied else "NOT applied"
        terminalreporter.write_line(f"mutation {state}: {name}")


@pytest.fixture(autouse=True)
def _fresh_learned_rates() -> Iterator[None]:
    """Each test starts as a new kernel would: no account's rate learned by an earlier test
    (the module-scoped emulator keeps its endpoint, and clients share a rate per account)."""
    from ice_widgets._core import forget_learned_rates

    forget_learned_rates()
    yield


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """A running emulator with a deterministic data set (300 jobs, seed 7), shared by a module."""
    with Emulator(jobs=EMULATOR_JOBS, seed=EMULATOR_SEED, port=0) as emu:
        yield emu


@pytest.fixture
def restore_emulator(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator; whatever the test changes with ``configure`` is put back after it."""
    settings = emulator.settings
    try:
        yield emulator
    finally:
        emulator.configure(
            latency_ms=settings.latency_ms,
            fault_rate=settings.fault_rate,
            faults=settings.faults,
            slow_ms=settings.slow_ms,
            qps=settings.qps,
            access_key_id=settings.access_key_id,
            access_key_secret=settings.access_key_secret,
            security_token=settings.security_token,
            expired_security_tokens=settings.expired_security_tokens,
            check_nonce=settings.check_nonce,
            check_time=settings.check_time,
        )


@pytest.fixture
def ice_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Emulator:
    """Point the ``ALIBABA_CLOUD_*`` variables at the emulator, with an empty temporary HOME."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ALIBABA_CLOUD_ICE_ENDPOINT", emulator.endpoint)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    return emulator


def _client_options(emulator: Emulator) -> dict[str, Any]:
    return {
        "endpoint": emulator.endpoint,
        "access_key_id": emulator.access_key_id,
        "access_key_secret": emulator.access_key_secret,
    }


@pytest.fixture
def client(emulator: Emulator) -> Iterator[Any]:
    """An ``ice_widgets.Client`` bound to the emulator."""
    from ice_widgets import Client

    with Client(**_client_options(emulator)) as bound:
        yield bound


@pytest.fixture
def async_client(emulator: Emulator) -> Iterator[Any]:
    """An unopened ``ice_widgets.AsyncClient`` bound to the emulator (``async with`` it)."""
    from ice_widgets import AsyncClient

    bound = AsyncClient(**_client_options(emulator))
    yield bound
    with contextlib.suppress(Exception):
        asyncio.run(bound.aclose())
