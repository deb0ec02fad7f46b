"""The user's "not a duplicate" marks: a file taken out of a group is never grouped again with the photos it was
in, by content, across scans and restarts (a JSON file in the state directory)."""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from imgsearch_desktop.config import read_memory
from imgsearch_desktop.core import private
from imgsearch_desktop.core.dupes.groups import Group, Member
from imgsearch_desktop.core.paths import readable_path

log = logging.getLogger(__package__)  # the package's logger: the name the log showed before the split

@dataclass
class NotDuplicate:
    """A file the user took out of a group: never grouped again with the photos it was in (all by content)."""

    sha256: str
    path: str  # its name when marked (for the list; the mark follows the content)
    others: dict[str, str] = field(default_factory=dict)  # sha256 → name of each photo of that group
    time: str = ""


class NotDuplicates:
    """The user's "not a duplicate" marks, in a JSON file; a file that cannot be read is set aside, not fatal."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.warning: str | None = None  # set when the file was unreadable and set aside
        self._marks: dict[str, NotDuplicate] = {}
        self._pairs: set[frozenset[str]] = set()
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        marks, self.warning = read_memory(self.path, "'not a duplicate' choices", _parse_marks)
        for mark in marks or []:
            self._merge(mark)
        self._reindex()

    def mark(self, group: Group, member: Member) -> NotDuplicate:
        """``member`` is not a duplicate of any photo of ``group``: remember it against all of them."""
        others = {m.photo.sha256: readable_path(m.photo.path) for m in group.members if m is not member}
        return self.add(member.photo.sha256, others, readable_path(member.photo.path))

    def add(self, sha256: str, others: str | Mapping[str, str] | Iterable[str], path: str = "") -> NotDuplicate:
        """Remember ``sha256`` as not a duplicate of ``others`` (one sha256, several, or sha256 → name)."""
        if isinstance(others, str):
            others = [others]
        named = dict(others) if isinstance(others, Mapping) else dict.fromkeys(others, "")
        named.pop(sha256, None)  # an identical copy of itself is not something to remember
        mark = self._merge(NotDuplicate(sha256, path, named, datetime.now(UTC).isoformat(timespec="seconds")))
        self._reindex()
        self._save()
        return mark

    def list(self) -> builtins.list[NotDuplicate]:
        """Every mark, newest first."""
        return sorted(self._marks.values(), key=lambda m: m.time, reverse=True)

    def forget(self, sha256: str) -> bool:
        """Undo: the file may be grouped again. Returns whether there was a mark."""
        if self._marks.pop(sha256, None) is None:
            return False
        self._reindex()
        self._save()
        return True

    def vetoes(self, sha_a: str, sha_b: str) -> bool:
        return frozenset((sha_a, sha_b)) in self._pairs

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return self.vetoes(*pair)

    def __len__(self) -> int:
        return len(self._marks)

    def _merge(self, mark: NotDuplicate) -> NotDuplicate:
        old = self._marks.get(mark.sha256)
        if old:
            old.others.update(mark.others)
            old.path, old.time = mark.path or old.path, mark.time or old.time
            return old
        self._marks[mark.sha256] = mark
        return mark

    def _reindex(self) -> None:
        self._pairs = {frozenset((m.sha256, o)) for m in self._marks.values() for o in m.others if o != m.sha256}

    def _save(self) -> None:
        data = {"version": 2, "marks": [{"sha256": m.sha256, "path": m.path, "others": m.others, "time": m.time}
                                        for m in self.list()]}
        private.write_text(self.path, json.dumps(data, ensure_ascii=False, indent=1))


def _parse_marks(data) -> builtins.list[NotDuplicate]:
    if isinstance(data, builtins.list):  # version 1: a list of [sha, sha] pairs
        return [NotDuplicate(a, "", {b: ""}) for a, b in data]
    return [NotDuplicate(str(m["sha256"]), str(m.get("path", "")), {str(k): str(v) for k, v in m["others"].items()},
                         str(m.get("time", ""))) for m in data["marks"]]
