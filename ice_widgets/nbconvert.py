"""nbconvert support: HTML exports whose job cards and views read without a kernel or network.

A notebook saved with its widget state (``jupyter nbconvert --execute`` always stores it, as
JupyterLab's "Save Widget State Automatically" does) carries, for every ice_widgets output,
both the live widget view and a static ``text/html`` copy of it. nbconvert's HTML template
prefers the widget view whenever its state is stored, and a widget view is drawn by a
renderer it loads from a CDN: offline the card is blank. The exporter here keeps the static
copy instead, for ice_widgets outputs only::

    jupyter nbconvert --execute --to ice_widgets.nbconvert.HTMLExporter quickstart.ipynb

(installed from a wheel, ``--to ice_html`` is the same exporter). The result is
``quickstart.html`` beside the notebook: the cards, the dashboards' summary and first page
and the charts are plain HTML and inline images. Other libraries' widgets keep their views,
and the widget state is kept only while such a view remains.

:class:`StaticWidgets` is the preprocessor alone, for use in other exporters::

    jupyter nbconvert --to html --HTMLExporter.preprocessors=ice_widgets.nbconvert.StaticWidgets x.ipynb
"""

from __future__ import annotations

import re
from typing import Any

from nbconvert.exporters import HTMLExporter as _HTMLExporter
from nbconvert.preprocessors import Preprocessor

__all__ = ["HTMLExporter", "StaticWidgets", "is_ice_output"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: Every static form the renderers make opens with the shared stylesheet and an ice-root element.
_MARK = 'class="ice-root'


#: The descriptions of the progress bars fetch_jobs and list_jobs show (tqdm's notebook bar).
_BAR = re.compile(r"^\s*(?:Get|List)[A-Za-z]*Jobs?\b")


def _is_ice_bar(data: dict[str, Any], state: dict[str, Any]) -> bool:
    """True for the progress bar of a fetch_jobs/list_jobs call: its text copy reads offline."""
    model = state.get(str(data[WIDGET_VIEW].get("model_id")), {})
    if model.get("model_name") != "HBoxModel" or "text/plain" not in data:
        return False
    children = model.get("state", {}).get("children") or []
    first = state.get(str(children[0]).removeprefix("IPY_MODEL_"), {}) if children else {}
    return bool(_BAR.match(str(first.get("state", {}).get("value", ""))))


def is_ice_output(data: dict[str, Any]) -> bool:
    """True for an output bundle made by an ice_widgets widget (a view plus its static HTML)."""
    html = data.get("text/html")
    if isinstance(html, list):  # nbformat may keep multi-line strings as lists
        html = "".join(html)
    return WIDGET_VIEW in data and isinstance(html, str) and _MARK in html


class StaticWidgets(Preprocessor):
    """Drop the widget view of ice_widgets outputs so their static HTML is what renders.

    The outputs are the job cards and views, and the progress bars of ``fetch_jobs`` /
    ``list_jobs`` (whose text copy, e.g. ``GetPackageJob: 100%|###| 2000/2000``, then shows).

    Drops the notebook's stored widget state too when no other widget view is left (so the
    page does not try to fetch the widget renderer from a CDN for nothing).
    """

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        """Rewrite the outputs in place; returns ``(nb, resources)``."""
        others = False
        widgets = nb.metadata.get("widgets") or {}
        state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = output.get("data")
                if not data or WIDGET_VIEW not in data:
                    continue
                if is_ice_output(data) or _is_ice_bar(data, state):
                    del data[WIDGET_VIEW]
                else:
                    others = True
        if not others and "widgets" in nb.metadata:
            del nb.metadata["widgets"]
        return nb, resources


class HTMLExporter(_HTMLExporter):
    """nbconvert's HTML exporter (lab template) with :class:`StaticWidgets` run last.

    Last means after ``--execute``: the outputs it rewrites are the fresh ones.
    """

    export_from_notebook = "HTML (ice_widgets static)"

    def _init_preprocessors(self) -> None:
        # nbconvert builds its list here (at start and on config changes): ours goes last.
        # (nbconvert's exporter and preprocessor methods have no annotations.)
        super()._init_preprocessors()  # type: ignore[no-untyped-call]
        self.register_preprocessor(StaticWidgets(parent=self), enabled=True)  # type: ignore[no-untyped-call]
