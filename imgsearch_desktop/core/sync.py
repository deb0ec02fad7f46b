"""What the folder watcher hands the indexer: its change sets, with the user's excluded folders taken out.

The walk (scanner.scan) never enters an excluded folder; the watcher sees every event under a watched root, so
its change sets are filtered here with the same rule before anything is indexed — by the window and by `watch`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from imgsearch_desktop.core.store import under
from imgsearch_desktop.core.watcher import ChangeSet


def is_excluded(path: str, excluded: Iterable[str]) -> bool:
    """``path`` lies inside an excluded folder: a bare name matches a folder of that name at any depth (as in
    scanner.scan), an entry with a separator is a folder path."""
    excluded = list(excluded)
    names = {e for e in excluded if os.sep not in e}
    folders = path.split(os.sep)[:-1]
    return any(part in names for part in folders) or any(
        under(path, os.path.abspath(e)) for e in excluded if os.sep in e)


def without_excluded(change: ChangeSet, excluded: Iterable[str]) -> ChangeSet:
    """The change set minus files inside excluded folders. A file moved into one leaves the index; a file moved
    out of one is new to it. Deletions stay: removing an entry that is not there costs nothing."""
    excluded = list(excluded)
    if not excluded:
        return change
    out = ChangeSet(changed={p for p in change.changed if not is_excluded(p, excluded)},
                    deleted=set(change.deleted))
    for src, dest in change.moved:
        if is_excluded(dest, excluded):
            out.deleted.add(src)
        elif is_excluded(src, excluded):
            out.changed.add(dest)
        else:
            out.moved.append((src, dest))
    return out
