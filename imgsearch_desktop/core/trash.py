"""Moving duplicates to the system trash — the only way this app ever removes a photo.

Right before acting, every rule is checked again on disk: the keeper still exists with the content the user
reviewed; a file to trash is not the keeper itself (same ``(st_dev, st_ino)`` through a link or a nested folder),
is not in a reference folder, and has not changed since it was indexed. Never a permanent delete: without a
working trash nothing is removed. Every action goes to a JSON Lines journal.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from send2trash import send2trash
from send2trash.exceptions import TrashPermissionError

from imgsearch_desktop.core.dupes import Group, under
from imgsearch_desktop.core.errors import UserError
from imgsearch_desktop.core.store import Store, display


@dataclass
class TrashOutcome:
    path: str
    trashed: bool
    reason: str = ""


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _journal(journal: Path, **entry) -> None:
    journal.parent.mkdir(parents=True, exist_ok=True)
    entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **entry}
    with journal.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


def trash_group(group: Group, to_trash: list[str], store: Store, journal: Path,
                references: list[str] = ()) -> list[TrashOutcome]:
    """Send ``to_trash`` (paths of group members other than the keeper) to the trash, after re-checking."""
    keep = group.keep
    try:
        keep_stat = os.stat(keep.path)
        if _sha256(keep.path) != keep.sha256:
            raise UserError(f"the photo to keep changed since it was indexed: {display(keep.path)}; re-scan first")
    except FileNotFoundError:
        raise UserError(f"the photo to keep is gone: {display(keep.path)}; nothing was trashed") from None
    members = {m.photo.path: m.photo for m in group.members}
    if keep.path in to_trash or set(members) <= set(to_trash):
        raise UserError("refusing to trash every copy: the keeper must stay")
    outcomes = []
    for path in to_trash:
        photo = members.get(path)
        if photo is None:
            outcomes.append(TrashOutcome(path, False, "not a member of this group"))
            continue
        try:
            st = os.stat(path)
        except FileNotFoundError:
            outcomes.append(TrashOutcome(path, False, "already gone"))
            continue
        if (st.st_dev, st.st_ino) == (keep_stat.st_dev, keep_stat.st_ino):
            outcomes.append(TrashOutcome(path, False, "the same file as the keeper (a link): kept"))
            continue
        if under(os.path.abspath(path), [os.path.abspath(r) for r in references]):
            outcomes.append(TrashOutcome(path, False, "in a reference folder: kept"))
            continue
        if st.st_size != photo.size or st.st_mtime_ns != photo.mtime_ns:
            outcomes.append(TrashOutcome(path, False, "changed since it was indexed: kept; re-scan first"))
            continue
        try:
            send2trash(path)
        except (TrashPermissionError, OSError) as exc:
            # No trash on this volume (or no permission): we never fall back to a permanent delete.
            outcomes.append(TrashOutcome(path, False, f"no usable trash ({exc}); nothing deleted"))
            _journal(journal, action="refused", path=display(path), reason=str(exc))
            continue
        store.write([], [photo.doc_id])
        _journal(journal, action="trashed", path=display(path), keeper=display(keep.path), sha256=photo.sha256,
                 level=group.level)
        outcomes.append(TrashOutcome(path, True))
    store.refresh()
    return outcomes
