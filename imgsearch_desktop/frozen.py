"""The packaged (PyInstaller) app's process set-up."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def resource_dir() -> Path:
    """``resources/``: beside the package in a checkout, inside the bundle in the packaged app."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) / "resources" if bundle else Path(__file__).resolve().parent.parent / "resources"


def restore_child_environment() -> None:
    """Give programs we start (java, xdg-open, file managers) the user's own LD_LIBRARY_PATH.

    PyInstaller's bootloader points LD_LIBRARY_PATH at the bundle and keeps the original in LD_LIBRARY_PATH_ORIG;
    the bundle's libraries would break a system Java or xdg-open. Our own process is unaffected: the dynamic
    loader read the variable when it started.
    """
    if not is_frozen() or sys.platform != "linux":
        return
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = original
