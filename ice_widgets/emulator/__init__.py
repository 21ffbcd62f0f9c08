"""A local ICE (2020-11-09) server for tests, benchmarks and demos.

See :class:`Emulator` (in-process, for tests) and ``python -m ice_widgets.emulator``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ice_widgets.emulator._server import Emulator, EmulatorProcess, main, serve, start_subprocess

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "Emulator",
    "EmulatorProcess",
    "main",
    "serve",
    "start_subprocess",
]

#: The access key ID the emulator accepts unless told otherwise.
DEFAULT_ACCESS_KEY_ID = "LTAIemulatorKeyId0001"
#: The matching secret. It is public and only good for the local emulator.
DEFAULT_ACCESS_KEY_SECRET = "emulator-secret-not-for-production"


def __getattr__(name: str) -> Any:
    if name in {"Emulator", "EmulatorProcess", "serve", "main", "start_subprocess"}:
        from ice_widgets.emulator import _server

        return getattr(_server, name)
    raise AttributeError(name)
