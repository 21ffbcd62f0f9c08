"""Applies the mutation named by ``ICE_WIDGETS_MUTATION`` in every Python process of a test run.

``tests/test_mutations.py`` puts this folder first on ``PYTHONPATH`` of a pytest subprocess,
so the mutation is in force in that pytest and in everything it starts (child scripts,
kernels, JupyterLab): the whole build is broken, not only the test process.
"""

import os

if os.environ.get("ICE_WIDGETS_MUTATION"):
    import importlib.util
    import sys
    from pathlib import Path

    _path = Path(__file__).resolve().parent.parent / "_mutations.py"
    _spec = importlib.util.spec_from_file_location("_ice_widgets_mutations", _path)
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _module  # dataclasses look their module up there
    _spec.loader.exec_module(_module)
    _module.apply_from_env()
