"""Hatch build hook: the example notebooks go into the wheel without outputs.

The wheel carries ``notebooks/*.ipynb`` as ``ice_widgets/_notebooks/`` (for ``ice-widgets
demo`` without a checkout). Each is copied with its outputs, execution counts and stored
widget state removed, so a wheel never ships an executed notebook, even one built from a
checkout whose notebooks someone ran and saved in place. Standard library only (the build
runs in an isolated environment with hatchling alone).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NOTEBOOKS = (
    "quickstart.ipynb",
    "batch_analysis.ipynb",
    "live_watch.ipynb",
    "transcode_analysis.ipynb",
    "media_producing_live.ipynb",
)


def cleared(nb: dict[str, Any]) -> dict[str, Any]:
    """The notebook as committed: no outputs, no execution counts, no widget state."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    nb.get("metadata", {}).pop("widgets", None)
    return nb


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc]
    """Adds the cleared example notebooks to the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        self._folder = tempfile.TemporaryDirectory(prefix="ice-widgets-notebooks-")
        for name in NOTEBOOKS:
            source = Path(self.root, "notebooks", name)
            nb = cleared(json.loads(source.read_text(encoding="utf-8")))
            target = Path(self._folder.name, name)
            target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            build_data["force_include"][str(target)] = f"ice_widgets/_notebooks/{name}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        folder = getattr(self, "_folder", None)
        if folder is not None:
            folder.cleanup()
