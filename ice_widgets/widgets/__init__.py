"""Notebook widgets: :class:`JobCard`, :class:`JobsView` and :func:`watch`.

Built from ipywidgets' core widgets only (no front-end build), so they work in
JupyterLab 4, Notebook 7 and VS Code. Each also renders as static HTML and text.

The names load lazily so that ``ice_widgets.widgets._render`` (pure HTML functions)
can be imported without ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["JobCard", "JobsView", "watch"]

_LAZY = {
    "JobCard": "ice_widgets.widgets._card",
    "JobsView": "ice_widgets.widgets._view",
    "watch": "ice_widgets.widgets._watch",
}


if not TYPE_CHECKING:
    # Type checkers see the TYPE_CHECKING imports below, and no other name.

    def __getattr__(name: str) -> Any:
        module_name = _LAZY.get(name)
        if module_name is None:
            raise AttributeError(f"module 'ice_widgets.widgets' has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        from ice_widgets import _accessor  # noqa: F401  (registers df.ice: views show job frames)

        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from ice_widgets.widgets._card import JobCard
    from ice_widgets.widgets._view import JobsView
    from ice_widgets.widgets._watch import watch
