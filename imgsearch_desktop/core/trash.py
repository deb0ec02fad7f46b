"""Moving duplicates to the system trash — the only way this app ever removes a photo.

Right before each file goes, every rule is checked again on disk, on real paths (symlinks resolved):
  * the keeper still exists, with the content that was indexed (re-hashed), is a file of the library (not a
    symbolic link to one elsewhere) and is not the same file (``(st_dev, st_ino)``) as the one to trash — never the
    last copy;
  * the file is not in a reference folder (compared by real path, so a symlinked way in is still the reference);
  * the file's content, re-hashed now, is the indexed content (an edit that kept size and mtime is caught), and
    for an identical file it is the keeper's content.
Never a permanent delete: without a working trash nothing is removed. A refusal keeps that one file and says why;
the other files go on. Every outcome goes to a JSON Lines journal; ``TrashReport`` lists what went and what stayed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from send2trash import send2trash
from send2trash.exceptions import TrashPermissionError

from imgsearch_desktop.core import private
from imgsearch_desktop.core.dupes import Group, KeepPolicy, Member, Photo, Tier, megabytes, plural
from imgsearch_desktop.core.paths import identity, inside, path_bytes, readable_path
from imgsearch_desktop.core.store import Store, path_from_source

Plan = Sequence[tuple[Group, Sequence[str]]]  # per group, the paths of the members to trash
JOURNAL = "trash-journal.jsonl"  # in the data dir: every trash action appended, one JSON object a line
LAST_COPY = "the last copy of this photo (no other copy of it is indexed outside the selection)"
NOT_INDEXED = "not in the index (re-scan first)"


@dataclass
class TrashOutcome:
    path: str  # the member's name as listed
    trashed: bool
    reason: str = ""  # why it was kept; for a trashed file, a note (e.g. the index could not be updated)
    size: int = 0  # bytes freed (0 when another hard link keeps the content)
    keeper: str = ""
    group: Group | None = field(default=None, repr=False)


@dataclass
class TrashReport:
    """Exactly what was trashed and what was kept (with why), across every group of one action."""

    outcomes: list[TrashOutcome] = field(default_factory=list)

    @property
    def trashed(self) -> list[TrashOutcome]:
        return [o for o in self.outcomes if o.trashed]

    @property
    def refused(self) -> list[TrashOutcome]:
        return [o for o in self.outcomes if not o.trashed]

    @property
    def freed_bytes(self) -> int:
        return sum(o.size for o in self.trashed)

    def summary(self) -> str:
        """``moved 2 files (3.1 MB) to the trash; kept 1 file`` — never "nothing" when something went."""
        moved = f"moved {plural(len(self.trashed), 'file')} ({megabytes(self.freed_bytes)}) to the trash"
        return moved + (f"; kept {plural(len(self.refused), 'file')}" if self.refused else "")

    def __iter__(self) -> Iterator[TrashOutcome]:
        return iter(self.outcomes)

    def __len__(self) -> int:
        return len(self.outcomes)


def default_plan(groups: Iterable[Group]) -> list[tuple[Group, list[str]]]:
    """The one-click plan: each group's pre-ticked members."""
    plan = [(g, [m.photo.path for m in g.ticked]) for g in groups]
    return [(g, paths) for g, paths in plan if paths]


def dry_run(plan: Plan) -> str:
    """``keeps 4, moves 6 files (12.3 MB) to the trash`` — one file (inode) counted once."""
    moved, kept, size = set(), set(), 0
    for group, paths in plan:
        chosen = set(paths)
        for m in group.members:
            key = m.photo.inode or m.photo.doc_id
            if m.photo.path in chosen and m.photo is not group.keep and not m.protected and key not in moved:
                moved.add(key)
                size += m.photo.size
            else:
                kept.add(key)
    kept -= moved
    return f"keeps {len(kept):,}, moves {plural(len(moved), 'file')} ({megabytes(size)}) to the trash"


_PHOTO_FIELDS = ["path", "path_b64", "sha256", "size", "width", "height", "mtime_ns", "format"]


def selection_plan(paths: Sequence[str], store: Store, policy: KeepPolicy) -> list[tuple[Group, list[str]]]:
    """Photos a person picked in a grid, as trash groups of identical files: each picked file with every indexed
    copy of its content, the keeper an unpicked copy (a distinct file, chosen by the keep rules). When all copies
    are picked one of them is the keeper, so the last copy of a photo never goes; the trash loop then re-checks
    every file on disk as it does for the duplicates review."""
    picked = {path_bytes(p): p for p in paths}
    indexed = store.files_at(list(paths))
    copies: dict[str, list[Photo]] = {}
    for doc, source in store.with_contents([f.sha256 for f in indexed.values() if f.sha256], _PHOTO_FIELDS):
        copies.setdefault(source["sha256"], []).append(_photo(doc, source))
    plan = [_selection_group(photos, picked, policy) for photos in copies.values()]
    known = {path_bytes(p.path) for photos in copies.values() for p in photos}
    for key, path in picked.items():
        if key not in known:  # gone from the index meanwhile: listed and kept, never trashed blind
            stub = Photo("", path, "", 0, 0, 0, 0, "", None, np.zeros(0, np.float32))
            plan.append((Group(stub, [Member(stub, 1.0)], Tier.EXACT, keep_why=NOT_INDEXED), [path]))
    return [(group, chosen) for group, chosen in plan if chosen]


def _photo(doc: str, s: dict) -> Photo:
    return Photo(doc, path_from_source(s), s.get("sha256", ""), s.get("size") or 0, s.get("width") or 0,
                 s.get("height") or 0, s.get("mtime_ns") or 0, s.get("format") or "", None, np.zeros(0, np.float32))


def _selection_group(photos: list[Photo], picked: dict[bytes, str], policy: KeepPolicy) -> tuple[Group, list[str]]:
    for p in photos:
        if (found := identity(p.path)) is not None:
            p.real, p.inode = found
    mine = [p for p in photos if path_bytes(p.path) in picked]
    mine_inodes = {p.inode for p in mine}
    others = [p for p in photos if p not in mine and p.inode is not None and p.inode not in mine_inodes]
    keep = policy.pick(others) if others else policy.pick(mine)
    keep_why = "not picked" if others else LAST_COPY
    references = [os.path.realpath(r) for r in policy.references]
    members = [Member(keep, 1.0, why=f"keep: {keep_why}")] + [
        Member(p, 1.0, Tier.EXACT, ticked=True, why="identical content",
               protected="in a reference folder" if any(inside(p.real, r) for r in references) else "")
        for p in mine if p is not keep]
    return Group(keep, members, Tier.EXACT, keep_why=keep_why), [p.path for p in mine]


def last_copies(plan: Plan) -> int:
    """How many of the picked files stay because no other copy of them is indexed."""
    return sum(1 for group, _ in plan if group.keep_why == LAST_COPY)


def trash_plan(plan: Plan, store: Store, journal: Path, references: Sequence[str] = (),
               lock: contextlib.AbstractContextManager | None = None) -> tuple[TrashReport, Exception | None]:
    """The one trash action: the chosen members of each group, each file re-checked on disk right before it goes,
    under ``lock`` (the per-index write lock: one writer at a time), into one report. A failure part-way is
    returned beside what was already done, never hiding it (the caller words it)."""
    report, error = TrashReport(), None
    try:
        refs = [os.path.realpath(r) for r in references]
        with lock or contextlib.nullcontext():
            for group, chosen in plan:
                report.outcomes += _trash_group(group, chosen, store, journal, refs)
            if report.trashed:
                store.refresh()
    except Exception as exc:
        error = exc
    return report, error


def _trash_group(group: Group, to_trash: Sequence[str], store: Store, journal: Path,
                 refs: list[str]) -> list[TrashOutcome]:
    """``to_trash`` (paths of members of ``group``, never its keeper), each re-checked on disk first."""
    outcomes = []
    keeper, problem = (None, f"kept: {NOT_INDEXED}") if group.keep_why == NOT_INDEXED else _check_keeper(group)
    trashed_inodes: set[tuple[int, int]] = set()
    for path in to_trash:
        if problem:
            outcome = TrashOutcome(path, False, problem)
        else:
            try:
                outcome = _trash_one(group, path, keeper, refs, trashed_inodes, store, journal)
            except Exception as exc:  # one file's surprise must not hide what happened to the others
                outcome = TrashOutcome(path, False, f"kept: unexpected error: {exc}")
        outcome.keeper, outcome.group = readable_path(group.keep.path), group
        if not outcome.trashed:
            _quietly(_journal, journal, action="refused", path=readable_path(path), keeper=outcome.keeper,
                     reason=outcome.reason)
        outcomes.append(outcome)
    return outcomes


@dataclass(frozen=True)
class _Keeper:
    real: str
    stat: tuple[int, int, int, int]  # st_dev, st_ino, size, mtime_ns when re-hashed


def _check_keeper(group: Group) -> tuple[_Keeper | None, str]:
    """The keeper as it is now, or why nothing of this group may go."""
    keep = group.keep
    found = identity(keep.path)
    if found is None:
        return None, f"kept: the photo to keep is gone ({readable_path(keep.path)}); re-scan first"
    real, _ = found
    if os.path.islink(keep.path):  # its file lies elsewhere: trashing the library's own copies for it loses them
        return None, (f"kept: the photo to keep is a symbolic link to {readable_path(real)}, not a file of the "
                      "library; keep a real copy instead")
    before = _stat_key(real)
    if _sha256(real) != keep.sha256 or _stat_key(real) != before:
        return None, f"kept: the photo to keep changed since it was indexed ({readable_path(keep.path)}); re-scan first"
    return _Keeper(real, before), ""


def _trash_one(group: Group, path: str, keeper: _Keeper, refs: list[str], trashed_inodes: set[tuple[int, int]],
               store: Store, journal: Path) -> TrashOutcome:
    member = _member(group, path)
    if member is None:
        return TrashOutcome(path, False, "kept: not a member of this group")
    if member.photo is group.keep:
        why = LAST_COPY if group.keep_why == LAST_COPY else "it is the photo to keep"
        return TrashOutcome(path, False, f"kept: {why}")
    found = identity(path)
    if found is None:
        return TrashOutcome(path, False, "already gone")
    real, inode = found
    refusal = _refusal(group, member, real, inode, keeper, refs, trashed_inodes)
    if not refusal and os.path.islink(path):
        # The file is a link: its target may lie outside every library folder, on another drive; moving it would
        # empty a place the user never pointed us at. (A linked folder inside a library is part of the library.)
        refusal = ("kept: it is a symbolic link to a file elsewhere "
                   f"({readable_path(real)}); remove the link yourself if it is not wanted")
    if refusal:
        return TrashOutcome(path, False, refusal)
    nlink = os.stat(real).st_nlink
    try:
        send2trash(real)
    except (TrashPermissionError, OSError) as exc:
        # No trash on this volume (or no permission): we never fall back to a permanent delete.
        return TrashOutcome(path, False, f"kept: no usable trash ({exc}); nothing deleted")
    trashed_inodes.add(inode)
    note = _forget_in_index(store, member)
    tier = (member.tier or group.tier).value
    failed = _quietly(_journal, journal, action="trashed", path=readable_path(path), real=readable_path(real),
                      keeper=readable_path(group.keep.path), sha256=member.photo.sha256, tier=tier)
    if failed:
        note = "; ".join(filter(None, [note, f"not written to the journal ({failed})"]))
    return TrashOutcome(path, True, note, member.photo.size if nlink == 1 else 0)


def _refusal(group: Group, member: Member, real: str, inode: tuple[int, int], keeper: _Keeper, refs: list[str],
             trashed_inodes: set[tuple[int, int]]) -> str:
    """Why this file must stay, checked on the file as it is now; "" when it may go."""
    if inode in trashed_inodes:
        return "already trashed under another name"
    if member.protected or any(inside(real, r) for r in refs):
        return "kept: in a reference folder"
    if _stat_key(keeper.real) != keeper.stat:
        return "kept: the photo to keep changed or went away during this action"
    if inode == keeper.stat[:2]:
        return "kept: the same file as the photo to keep (a link)"
    digest = _sha256(real)
    if digest != member.photo.sha256:
        return "kept: changed since it was indexed; re-scan first"
    if member.tier is Tier.EXACT and digest != group.keep.sha256:
        return "kept: no longer identical to the photo to keep"
    return ""


def _member(group: Group, path: str) -> Member | None:
    return next((m for m in group.members if path == m.photo.path or path in m.photo.aliases), None)


def _forget_in_index(store: Store, member: Member) -> str:
    """Drop the trashed file's documents (its names that no longer exist); a failure is a note, not a refusal."""
    p = member.photo
    gone = [doc for doc, name in zip([p.doc_id, *p.alias_ids], [p.path, *p.aliases], strict=True)
            if identity(name) is None]  # a hard link elsewhere still holds the content: its document stays
    try:
        errors = store.write([], gone)
    except Exception as exc:
        return f"the index was not updated ({exc}); the next index run will"
    return f"the index was not updated ({errors[0][1]})" if errors else ""


def _stat_key(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def _journal(journal: Path, **entry) -> None:
    entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **entry}
    private.append_text(journal, json.dumps(entry, ensure_ascii=False) + "\n")


def _quietly(fn, /, *args, **kwargs) -> Exception | None:
    """Book-keeping after the fact (the journal): its failure must not turn a done trash into an error."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        return exc
    return None
