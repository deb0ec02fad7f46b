"""Path identity, in one place: how the app names a path, compares two, and tells one file under two names.

A path is made comparable in this order, and each step only where it is needed:
1. ``os.path.abspath`` where a path comes in (the command line, a dialog, a drop, the settings): "." and ".." fold,
   links are NOT followed — the index keeps the name the user walked.
2. Exact bytes (``under``, ``root_of``): the index, the scanner, the watcher and the skipped list compare names by
   their bytes, so two names whose display forms are equal (undecodable bytes shown as U+FFFD) stay two files.
3. Real paths (``os.path.realpath``, then ``inside``) only where the *file* matters — the trash, reference folders,
   the keeper: a reference folder reached through a symlinked folder is still the reference. One file under two
   names (a hard link, a linked folder) is told by ``identity``'s (st_dev, st_ino), never by its name.
4. Case is not folded, on any system. Linux names are case-sensitive; macOS (APFS, HFS+) and Windows (NTFS) are
   case-insensitive by default, yet ``os.path.normcase`` folds on Windows only (on macOS it is a no-op), and either
   can hold case-sensitive folders. So two spellings of one file are one file by step 3's inode, not by their
   names. Where a comparison must ever fold, fold last — abspath, realpath, then normcase: folded first, realpath
   would look up the other spelling, which on a case-sensitive folder is another file or none.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def path_bytes(path: str) -> bytes:
    return os.fsencode(path)


def readable_path(path: str) -> str:
    """A readable form of a path whose bytes may not be UTF-8."""
    return path_bytes(path).decode("utf-8", "replace")


def printable(path: str) -> str:
    """A path for one line of text output: readable (see ``readable_path``), with newlines, tabs and other control
    characters escaped, so a file named "a\\nb.jpg" cannot forge a second output line."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in readable_path(path))


_SEP = os.fsencode(os.sep)


def under(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or inside it, by exact bytes (display forms of two non-UTF-8 names can be equal)."""
    p, f = path_bytes(path), path_bytes(folder).rstrip(_SEP)
    return p == f or p.startswith(f + _SEP)


def inside(real: str, folder: str) -> bool:
    """``under`` for two real paths (step 3: links resolved by the caller, once per folder, not per photo)."""
    return under(real, folder)


def root_of(path: str, roots: Iterable[str]) -> str | None:
    """The deepest of ``roots`` that ``path`` is or lies under (nested library folders: the inner one), else None."""
    return max((r for r in roots if under(path, r)), key=len, default=None)


def identity(path: str) -> tuple[str, tuple[int, int]] | None:
    """(real path, (st_dev, st_ino)) of an existing file, else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return os.path.realpath(path), (st.st_dev, st.st_ino)
