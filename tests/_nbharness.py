"""Helpers shared by the notebook, browser and demo tests: run notebooks in a real kernel.

The example notebooks are copied to a temporary folder before they run, so nothing a
notebook writes (exports, a regenerated CSV, autosaves) touches the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
NOTEBOOK_NAMES = (
    "quickstart.ipynb",
    "batch_analysis.ipynb",
    "live_watch.ipynb",
    "transcode_analysis.ipynb",
    "media_producing_live.ipynb",
)

#: The demo's data set (batch_analysis.ipynb lists the 2,000 most recent jobs into a CSV).
DEMO_JOBS = 2000
DEMO_SEED = 7
DEMO_HOSTILE = 4

_CREDENTIAL_VARS = (
    "ALIBABA_CLOUD_ICE_ENDPOINT",
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABA_CLOUD_REGION_ID",
    "ALIBABA_CLOUD_CREDENTIALS_FILE",
)


def copy_notebooks(target: Path) -> Path:
    """Copy the example notebooks into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for path in NOTEBOOKS.iterdir():
        if path.suffix == ".ipynb":
            shutil.copy2(path, target / path.name)
    return target


def kernel_env(endpoint: str, access_key_id: str, access_key_secret: str, home: Path) -> dict[str, str]:
    """An environment for a kernel that talks to ``endpoint``, with an empty HOME."""
    env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_VARS}
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        ALIBABA_CLOUD_ICE_ENDPOINT=endpoint,
        ALIBABA_CLOUD_ACCESS_KEY_ID=access_key_id,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=access_key_secret,
        PYTHONUNBUFFERED="1",
    )
    # The kernel must import this checkout's ice_widgets.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def execute(
    path: Path, env: Mapping[str, str], *, timeout: int = 180, store_widget_state: bool = True
) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` in a fresh python3 kernel; returns it executed.

    Raises ``nbclient.exceptions.CellExecutionError`` on the first failing cell.
    ``store_widget_state=False`` saves it as JupyterLab does by default (no widget state
    in the metadata), so nbconvert renders the widgets' static HTML fallback.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        startup_timeout=120,
        store_widget_state=store_widget_state,
    )
    client.execute(env=dict(env), cwd=str(path.parent))
    return nb


def code_cells(nb: nbformat.NotebookNode) -> list[Any]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def cell_with(nb: nbformat.NotebookNode, snippet: str) -> Any:
    """The one code cell whose source contains ``snippet``."""
    found = [cell for cell in code_cells(nb) if snippet in cell.source]
    assert len(found) == 1, f"{len(found)} cells contain {snippet!r}"
    return found[0]


def _bundles(cell: Any) -> Iterable[Mapping[str, Any]]:
    for output in cell.get("outputs", []):
        if output.get("output_type") in {"execute_result", "display_data"}:
            yield output.get("data", {})


def html_of(cell: Any) -> str:
    """All ``text/html`` outputs of a cell, joined."""
    return "\n".join(str(data["text/html"]) for data in _bundles(cell) if "text/html" in data)


def text_of(cell: Any) -> str:
    """The stream output and ``text/plain`` results of a cell, joined."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(str(output.get("text", "")))  # pieces of one stream join as written
        elif output.get("output_type") in {"execute_result", "display_data"}:
            parts.append("\n" + str(output.get("data", {}).get("text/plain", "")) + "\n")
        elif output.get("output_type") == "error":
            parts.append("\n" + "\n".join(output.get("traceback", [])) + "\n")
    return "".join(parts)


def has_mime(cell: Any, mime: str) -> bool:
    return any(mime in data for data in _bundles(cell))


def all_output_text(nb: nbformat.NotebookNode) -> str:
    """Every output of every cell as one string (to look for things that must never appear)."""
    parts = []
    for cell in code_cells(nb):
        parts.append(text_of(cell))
        parts.append(html_of(cell))
        for output in cell.get("outputs", []):
            parts.extend(str(value) for value in output.get("data", {}).values())
    return "\n".join(parts)


def strip_tags(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)
