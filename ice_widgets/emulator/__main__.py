"""``python -m ice_widgets.emulator``: run the ICE emulator in the foreground."""

from ice_widgets.emulator._server import main

if __name__ == "__main__":
    raise SystemExit(main())
