"""What is at a path that is no photo and no folder, in words: "a FIFO", "a device" (for one-line messages)."""

from __future__ import annotations

import os
import stat


def file_kind(mode: int) -> str:
    """What a path that is no regular file is, from its ``st_mode``."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "a special file"


def special_kind(path: str | os.PathLike[str]) -> str | None:
    """What is at ``path`` when it is there but neither a folder nor a regular file; None otherwise."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISDIR(mode) or stat.S_ISREG(mode) else file_kind(mode)
