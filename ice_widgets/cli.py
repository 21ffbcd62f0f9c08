"""The ``ice-widgets`` command: ``ice-widgets emulator`` and ``ice-widgets demo``.

Everything is imported lazily, so ``ice-widgets emulator`` starts without pandas,
ipywidgets or Jupyter.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def _emulator(args: argparse.Namespace) -> int:
    from ice_widgets.emulator._server import serve

    try:
        return serve(args)
    except KeyboardInterrupt:  # Ctrl-C before the server listened (while building the data set)
        return 130


def _demo(args: argparse.Namespace) -> int:
    from ice_widgets import _demo as demo

    result = demo.main(args)
    return int(result or 0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ice-widgets``."""
    from ice_widgets.emulator._server import add_arguments

    parser = argparse.ArgumentParser(
        prog="ice-widgets",
        description="Inspect Alibaba Cloud ICE packaging jobs in Jupyter; run a local ICE emulator.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    emulator = commands.add_parser(
        "emulator",
        help="run a local ICE (2020-11-09) emulator in the foreground",
        description="Run a local ICE (2020-11-09) emulator; it prints its endpoint URL once it listens.",
    )
    add_arguments(emulator)
    emulator.set_defaults(func=_emulator)
    demo = commands.add_parser(
        "demo",
        help="start the emulator and JupyterLab on the example notebooks",
        description="Start the emulator and JupyterLab on the example notebooks.",
    )
    from ice_widgets._demo import add_arguments as add_demo_arguments

    add_demo_arguments(demo)
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ice-widgets`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
