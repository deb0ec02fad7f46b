"""What the folder watcher hands the indexer: its change sets, with the user's excluded folders taken out.

The walk (scanner.scan) never enters an excluded folder; the watcher sees every event under a watched root, so
its change sets are filtered here with the same rule before anything is indexed — by the window and by `watch`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from imgsearch_desktop.core.store import under
from imgsearch_desktop.core.watcher import ChangeSet


def is_excluded(path: str, excluded: Iterable[str], roots: Sequence[str] = ()) -> bool:
    """``path`` lies inside an excluded folder: a bare name matches a folder of that name at any depth *below the
    watched root* (as in scanner.scan, which never looks above it: a root /mnt/backup/Pictures with "backup"
    excluded is not excluded itself), an entry with a separator is a folder path."""
    excluded = list(excluded)
    names = {e for e in excluded if os.sep not in e}
    root = max((r for r in roots if under(path, r)), key=len, default="")
    below = os.path.relpath(os.path.dirname(path), root) if root else os.path.dirname(path)
    folders = [] if below == os.curdir else below.split(os.sep)
    return any(part in names for part in folders) or any(
        under(path, os.path.abspath(e)) for e in excluded if os.sep in e)


def without_excluded(change: ChangeSet, excluded: Iterable[str], roots: Sequence[str] = ()) -> ChangeSet:
    """The change set minus files inside excluded folders. A file moved into one leaves the index; a file moved
    out of one is new to it. Deletions stay: removing an entry that is not there costs nothing."""
    excluded = list(excluded)
    if not excluded:
        return change
    out = ChangeSet(changed={p for p in change.changed if not is_excluded(p, excluded, roots)},
                    deleted=set(change.deleted))
    for src, dest in change.moved:
        if is_excluded(dest, excluded, roots):
            out.deleted.add(src)
        elif is_excluded(src, excluded, roots):
            out.changed.add(dest)
        else:
            out.moved.append((src, dest))
    return out
